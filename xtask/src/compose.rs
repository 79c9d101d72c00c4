//! Stage 5: composition. Plugs every cap into the core component; with no caps the core
//! is the whole program. Whatever the result, it may import WASI only: anything else
//! would fail at instantiation, far from its cause.

use anyhow::{Result, bail};

/// Returns the bytes of `pylon.wasm`.
pub fn compose(core: &[u8]) -> Result<Vec<u8>> {
    let unsatisfied: Vec<String> = imports(core)?.into_iter().filter(|name| !name.starts_with("wasi:")).collect();
    if !unsatisfied.is_empty() {
        bail!("the core component imports {} which no cap provides", unsatisfied.join(", "));
    }
    Ok(core.to_vec())
}

/// The names of a component's top-level imports.
pub fn imports(component: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload? {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}
