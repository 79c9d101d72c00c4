//! Stage: the dynlink linker. The plan (`caps/dynlink/plan.toml`) says which provider
//! serves which id; from it this stage generates the linker component — a WIT world with
//! one import per id and a small core module written as WAT — and composes the planned
//! providers into it. The result exports `pylon:dynlink/linker` and is plugged into the
//! core like a static cap, so switching providers never changes the core component.

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};
use wac_graph::{CompositionGraph, EncodeOptions, types::Package};

use crate::helpers::digest::sha256_bytes;
use crate::stages::caps::{Cap, DYNLINK_DIR, ENDPOINT_INTERFACE, Ext, Kind, LINKER_INTERFACE};


/// The plan's path relative to the repository root.
pub fn default_plan_path() -> PathBuf {
    Path::new(DYNLINK_DIR).join("plan.toml")
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// As given (relative to the root for the default plan), for messages and the manifest.
    pub path: PathBuf,
    pub sha256: String,
    /// (id, provider cap), sorted by id: the order of the linker's handles.
    pub serve: Vec<(String, String)>,
}

impl Plan {
    pub fn load(root: &Path, path: &Path) -> Result<Plan> {
        let full = root.join(path);
        let text = fs::read_to_string(&full).with_context(|| format!("cannot read the dynlink plan {}", full.display()))?;
        Plan::parse(path, &text).with_context(|| format!("dynlink plan {}", full.display()))
    }

    pub fn parse(path: &Path, text: &str) -> Result<Plan> {
        let doc: toml_edit::DocumentMut = text.parse().context("not valid TOML")?;
        let table = doc.get("serve").and_then(|s| s.as_table()).context("needs a [serve] table (id = \"provider cap\")")?;
        let mut serve = Vec::new();
        for (id, provider) in table.iter() {
            ensure!(is_kebab(id), "id `{id}` must be lower-case letters, digits and dashes (it names a WIT import)");
            let provider = provider.as_str().with_context(|| format!("[serve] {id}: the provider must be a cap name (a string)"))?;
            serve.push((id.to_owned(), provider.to_owned()));
        }
        serve.sort();
        Ok(Plan { path: path.to_path_buf(), sha256: sha256_bytes(text.as_bytes()), serve })
    }

    /// The plan for the ids `exts` link, checked: each is served, by a dynlink cap of this
    /// build that says it serves it. Ids nobody links (e.g. in a `--caps` subset) drop out.
    pub fn for_exts(&self, caps: &[Cap], exts: &[Ext]) -> Result<Plan> {
        let path = self.path.display();
        for ext in exts {
            for id in &ext.links {
                ensure!(
                    self.serve.iter().any(|(i, _)| i == id),
                    "{path}: extension `{}` links `{id}`, but the plan assigns it no provider",
                    ext.module
                );
            }
        }
        let linked = |id: &String| exts.iter().any(|e| e.links.contains(id));
        let serve: Vec<(String, String)> = self.serve.iter().filter(|(id, _)| linked(id)).cloned().collect();
        for (id, provider) in &serve {
            let Some(cap) = caps.iter().find(|c| &c.name == provider) else {
                bail!("{path}: `{id}` is served by `{provider}`, which is not a cap of this build")
            };
            ensure!(cap.kind == Kind::Dynlink, "{path}: `{id}` is served by `{provider}`, a {} cap, not a dynlink provider", cap.kind.name());
            ensure!(
                cap.serves.contains(id),
                "{path}: `{provider}` does not serve `{id}` (its Cargo.toml says it serves: {})",
                cap.serves.join(", ")
            );
        }
        Ok(Plan { serve, ..self.clone() })
    }

    /// The providers the plan uses, sorted and without repeats.
    pub fn providers(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.serve.iter().map(|(_, p)| p.as_str()).collect();
        names.sort();
        names.dedup();
        names
    }
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// A plan with one id served by another provider than in the default plan.
pub struct Swap {
    pub id: String,
    pub from: String,
    pub to: String,
    /// The plan file written for it, relative to the root (under `target/`).
    pub plan: PathBuf,
}

/// For every id of `plan` and every other provider that serves it, writes the plan that
/// swaps just that id to `target/dynlink-plans/<id>-<provider>.toml`.
pub fn write_swaps(root: &Path, plan: &Plan, caps: &[Cap]) -> Result<Vec<Swap>> {
    let text = fs::read_to_string(root.join(&plan.path)).with_context(|| format!("cannot read {}", plan.path.display()))?;
    let mut swaps = Vec::new();
    for (id, current) in &plan.serve {
        for other in caps.iter().filter(|c| c.kind == Kind::Dynlink && c.serves.contains(id) && &c.name != current) {
            let mut doc: toml_edit::DocumentMut = text.parse()?;
            doc["serve"][id.as_str()] = toml_edit::value(&other.name);
            let rel = PathBuf::from(format!("target/dynlink-plans/{id}-{}.toml", other.name));
            crate::helpers::digest::write_atomic(&root.join(&rel), doc.to_string().as_bytes())?;
            swaps.push(Swap { id: id.clone(), from: current.clone(), to: other.name.clone(), plan: rel });
        }
    }
    Ok(swaps)
}

/// The linker's world: one import per id, each shaped like `endpoint`.
pub fn linker_wit(plan: &Plan) -> String {
    let mut text = String::from("package pylon:generated-linker;\n\n");
    text.push_str(&format!("/// Generated by `cargo xtask build` from {}.\nworld linker {{\n", plan.path.display()));
    for (id, provider) in &plan.serve {
        text.push_str(&format!(
            "    /// Served by `{provider}`.\n    import {id}: interface {{\n        invoke: func(function: string, input: list<u8>) -> result<list<u8>, string>;\n    }}\n"
        ));
    }
    text.push_str(&format!("    export {LINKER_INTERFACE};\n}}\n"));
    text
}

// Linear memory of the linker: the return area, then constant strings, then a heap that
// every post-return empties (nothing outlives a call).
const RET_AREA: u32 = 16;
const DATA_START: u32 = 32;

/// The linker's core module, as WAT.
pub fn linker_wat(plan: &Plan) -> String {
    let mut data = Vec::<u8>::new();
    let mut place = |bytes: &[u8]| {
        let at = DATA_START + data.len() as u32;
        data.extend_from_slice(bytes);
        (at, bytes.len() as u32)
    };
    let ids: Vec<(u32, u32)> = plan.serve.iter().map(|(id, _)| place(id.as_bytes())).collect();
    let served = plan.serve.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ");
    let (pre, pre_len) = place(format!("the dynlink plan ({}) serves no id `", plan.path.display()).as_bytes());
    let (suf, suf_len) = place(format!("`; it serves: {served}").as_bytes());
    let (bad, bad_len) = place(b"unknown linker handle: resolve an id first");
    let heap = (DATA_START + data.len() as u32).next_multiple_of(16);
    let escaped: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    let iface = LINKER_INTERFACE;
    let r = RET_AREA;

    let mut wat = String::from("(module\n");
    for (id, _) in &plan.serve {
        wat.push_str(&format!("  (import \"{id}\" \"invoke\" (func $invoke_{id} (param i32 i32 i32 i32 i32)))\n"));
    }
    wat.push_str(&format!(
        r#"  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const {heap}))
  (data (i32.const {DATA_START}) "{escaped}")

  ;; A bump allocator: the canonical ABI allocates arguments and the providers' results here.
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32) (local $end i32) (local $pages i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.or (i32.lt_u (local.get $end) (local.get $ptr)) (i32.gt_u (local.get $end) (i32.const 0xffff0000)))
      (then unreachable))
    (local.set $pages (i32.shr_u (i32.add (local.get $end) (i32.const 0xffff)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
        (then unreachable))))
    (if (local.get $old)
      (then (memory.copy (local.get $ptr) (local.get $old)
        (select (local.get $old_size) (local.get $size) (i32.lt_u (local.get $old_size) (local.get $size))))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func $equal (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "{iface}#resolve") (param $ptr i32) (param $len i32) (result i32)
    (local $msg i32)
"#
    ));
    for (index, (at, len)) in ids.iter().enumerate() {
        let handle = index + 1;
        wat.push_str(&format!(
            "    (if (i32.eq (local.get $len) (i32.const {len}))\n      (then (if (call $equal (local.get $ptr) (i32.const {at}) (i32.const {len}))\n        (then (i32.store8 (i32.const {r}) (i32.const 0)) (i32.store (i32.const {}) (i32.const {handle})) (return (i32.const {r}))))))\n",
            r + 4
        ));
    }
    wat.push_str(&format!(
        r#"    (local.set $msg (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $len) (i32.const {total}))))
    (memory.copy (local.get $msg) (i32.const {pre}) (i32.const {pre_len}))
    (memory.copy (i32.add (local.get $msg) (i32.const {pre_len})) (local.get $ptr) (local.get $len))
    (memory.copy (i32.add (i32.add (local.get $msg) (i32.const {pre_len})) (local.get $len)) (i32.const {suf}) (i32.const {suf_len}))
    (i32.store8 (i32.const {r}) (i32.const 1))
    (i32.store (i32.const {r4}) (local.get $msg))
    (i32.store (i32.const {r8}) (i32.add (local.get $len) (i32.const {total})))
    (i32.const {r}))

  (func (export "{iface}#invoke") (param $handle i32) (param $fp i32) (param $fl i32) (param $ip i32) (param $il i32) (result i32)
    (block $bad
"#,
        total = pre_len + suf_len,
        r4 = r + 4,
        r8 = r + 8,
    ));
    let n = plan.serve.len();
    for index in (0..n).rev() {
        wat.push_str(&format!("{}(block $h{index}\n", "  ".repeat(3 + n - 1 - index)));
    }
    let targets: Vec<String> = (0..n).map(|i| format!("$h{i}")).collect();
    wat.push_str(&format!("{}(br_table $bad {} $bad (local.get $handle)))\n", "  ".repeat(3 + n), targets.join(" ")));
    for (index, (id, _)) in plan.serve.iter().enumerate() {
        wat.push_str(&format!(
            "{}(call $invoke_{id} (local.get $fp) (local.get $fl) (local.get $ip) (local.get $il) (i32.const {r}))\n{}(return (i32.const {r})))\n",
            "  ".repeat(3 + n - 1 - index),
            "  ".repeat(3 + n - 1 - index)
        ));
    }
    wat.push_str(&format!(
        r#"    (i32.store8 (i32.const {r}) (i32.const 1))
    (i32.store (i32.const {r4}) (i32.const {bad}))
    (i32.store (i32.const {r8}) (i32.const {bad_len}))
    (i32.const {r}))

  (func (export "cabi_post_{iface}#resolve") (param i32) (global.set $heap (i32.const {heap})))
  (func (export "cabi_post_{iface}#invoke") (param i32) (global.set $heap (i32.const {heap})))
)
"#,
        r4 = r + 4,
        r8 = r + 8,
    ));
    wat
}

/// The linker component alone (its imports not yet satisfied).
pub fn linker_component(root: &Path, plan: &Plan) -> Result<Vec<u8>> {
    ensure!(!plan.serve.is_empty(), "{}: the plan serves no id", plan.path.display());
    let wat = linker_wat(plan);
    let mut module = wat::parse_str(&wat).with_context(|| format!("the generated linker does not assemble:\n{wat}"))?;
    let mut resolve = wit_parser::Resolve::default();
    let dir = root.join(DYNLINK_DIR).join("wit");
    resolve.push_dir(&dir).with_context(|| format!("cannot load the dynlink WIT from {}", dir.display()))?;
    let wit = linker_wit(plan);
    let pkg = resolve.push_str("generated-linker.wit", &wit).with_context(|| format!("the generated linker world does not resolve:\n{wit}"))?;
    let world = resolve.select_world(&[pkg], Some("linker"))?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .encode()
        .context("cannot make a component of the generated linker")
}

/// The linker with every planned provider wired into its imports: a component that exports
/// `pylon:dynlink/linker` and imports only what the providers import (WASI).
pub fn bundle(linker: &[u8], plan: &Plan, providers: &[(&str, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let linker_pkg = Package::from_bytes("pylon:linker", None, linker.to_vec(), graph.types_mut()).context("cannot read the linker")?;
    let linker_pkg = graph.register_package(linker_pkg)?;
    let mut instances = Vec::new();
    for name in plan.providers() {
        let (_, bytes) = providers
            .iter()
            .find(|(n, _)| *n == name)
            .with_context(|| format!("provider `{name}` named by {} was not built", plan.path.display()))?;
        let package = Package::from_bytes(&format!("pylon-cap:{name}"), None, bytes.clone(), graph.types_mut())
            .with_context(|| format!("cannot read the component of provider `{name}`"))?;
        let package = graph.register_package(package)?;
        let instance = graph.instantiate(package);
        let export = graph
            .alias_instance_export(instance, ENDPOINT_INTERFACE)
            .with_context(|| format!("provider `{name}` does not export {ENDPOINT_INTERFACE}"))?;
        instances.push((name, export));
    }
    let linker_instance = graph.instantiate(linker_pkg);
    for (id, provider) in &plan.serve {
        let (_, export) = instances.iter().find(|(n, _)| n == provider).unwrap();
        graph
            .set_instantiation_argument(linker_instance, id, *export)
            .with_context(|| format!("cannot wire provider `{provider}` into the linker's import `{id}`"))?;
    }
    let linker_export = graph.alias_instance_export(linker_instance, LINKER_INTERFACE)?;
    graph.export(linker_export, LINKER_INTERFACE)?;
    graph.encode(EncodeOptions { processor: None, ..Default::default() }).context("cannot encode the linker bundle")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    fn plan(text: &str) -> Plan {
        Plan::parse(Path::new("plan.toml"), text).unwrap()
    }

    #[test]
    fn plan_rejects_bad_input() {
        let err = |text: &str| Plan::parse(Path::new("plan.toml"), text).unwrap_err().to_string();
        assert!(err("x = 1").contains("[serve]"));
        assert!(err("[serve]\nCRC = \"a\"").contains("lower-case"));
        assert!(err("[serve]\ncrc = 3").contains("must be a cap name"));
    }

    #[test]
    fn committed_plan_loads() {
        let plan = Plan::load(&root(), &default_plan_path()).unwrap();
        assert!(!plan.serve.is_empty());
    }

    /// The generated linker validates as a component for one and for several ids.
    #[test]
    fn linker_encodes() {
        for text in ["[serve]\ncrc32c = \"a\"", "[serve]\nb-two = \"p\"\na1 = \"q\"\nc = \"p\""] {
            let plan = plan(text);
            let component = linker_component(&root(), &plan).unwrap();
            let imports = crate::stages::compose::imports(&component).unwrap();
            let ids: Vec<&str> = plan.serve.iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(imports, ids);
            assert_eq!(crate::stages::compose::exports(&component).unwrap(), vec![LINKER_INTERFACE]);
        }
    }
}
