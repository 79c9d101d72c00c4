//! Stage 5: composition. Every cap is plugged into the core component with wac-graph, in
//! a fixed order (sorted by cap name), so the bytes are deterministic. Whatever the result,
//! it may import WASI and the host caps' interfaces only (the embedding application
//! provides those): anything else would fail at instantiation, far from its cause.

use anyhow::{Context, Result, bail};
use wac_graph::{CompositionGraph, EncodeOptions, types::Package};

/// A built cap, ready to plug.
pub struct Plug {
    pub name: String,
    /// The CPython extension(s) that import it, named in errors.
    pub ext: String,
    pub bytes: Vec<u8>,
}

/// Returns the bytes of `pylon.wasm`; `host` are the interfaces left for the embedder.
pub fn compose(core: &[u8], plugs: &[Plug], host: &[String]) -> Result<Vec<u8>> {
    let core_imports = imports(core)?;
    for plug in plugs {
        let exports = exports(&plug.bytes)?;
        if !exports.iter().any(|e| core_imports.iter().any(|i| same_interface(i, e))) {
            bail!(
                "cap `{}` exports {} but the core imports none of it: is extension `{}` compiled in and does it import the cap's WIT?",
                plug.name,
                exports.join(", "),
                plug.ext
            );
        }
    }
    let composed = if plugs.is_empty() {
        core.to_vec()
    } else {
        let mut graph = CompositionGraph::new();
        let socket = Package::from_bytes("pylon:core", None, core.to_vec(), graph.types_mut())
            .context("cannot read the core component")?;
        let socket = graph.register_package(socket)?;
        let mut ids = Vec::new();
        for plug in plugs {
            let package = Package::from_bytes(&format!("pylon-cap:{}", plug.name), None, plug.bytes.clone(), graph.types_mut())
                .with_context(|| format!("cannot read the component of cap `{}`", plug.name))?;
            ids.push(graph.register_package(package)?);
        }
        wac_graph::plug(&mut graph, ids, socket).context("wac plug failed")?;
        graph.encode(EncodeOptions { processor: None, ..Default::default() }).context("cannot encode the composition")?
    };
    let unsatisfied: Vec<String> = imports(&composed)?
        .into_iter()
        .filter(|name| !name.starts_with("wasi:") && !host.iter().any(|h| same_interface(h, name)))
        .collect();
    if !unsatisfied.is_empty() {
        bail!("the composed component still imports {}, which no cap provides", unsatisfied.join(", "));
    }
    Ok(composed)
}

/// `pylon:zlib/zlib@0.1.0` and `pylon:zlib/zlib@0.1.2` are the same interface for plugging.
fn same_interface(a: &str, b: &str) -> bool {
    let base = |s: &str| s.split('@').next().unwrap_or(s).to_owned();
    base(a) == base(b)
}

/// The names of a component's top-level imports.
pub fn imports(component: &[u8]) -> Result<Vec<String>> {
    top_level_names(component, true)
}

/// The names of a component's top-level exports.
pub fn exports(component: &[u8]) -> Result<Vec<String>> {
    top_level_names(component, false)
}

fn top_level_names(component: &[u8], want_imports: bool) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload? {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 && want_imports => {
                for import in reader {
                    names.push(import?.name.name.to_owned());
                }
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 && !want_imports => {
                for export in reader {
                    names.push(export?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
