//! Stage 4: the core component. `python.wasm` (a WASI preview 1 command module) becomes a
//! component in-process with wit-component and the preview1 *command* adapter.

use anyhow::{Context, Result};
use std::path::Path;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};

use crate::layout::Profile;

/// Part of every key that depends on this stage: the adapter's bytes are pinned by the
/// crate version in Cargo.lock.
pub const RECIPE: &str = "component v1: strip, wit-component 0.258.3, preview1 command adapter 50.0.1";

/// Returns the component bytes for the core module at `python_wasm`.
/// `embed` adds the component-type metadata of the caps the module imports.
pub fn core_component(
    python_wasm: &Path,
    profile: Profile,
    embed: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>> {
    let module = std::fs::read(python_wasm).with_context(|| format!("cannot read {}", python_wasm.display()))?;
    let mut module = strip_custom_sections(&module, profile == Profile::Debug)
        .with_context(|| format!("cannot parse {}", python_wasm.display()))?;
    embed(&mut module)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER)?
        .encode()
        .with_context(|| format!("cannot make a component of {}", python_wasm.display()))
}

/// Drops custom sections (DWARF, producers, names unless `keep_debug`) but keeps the
/// `component-type:*` sections, which say which cap interfaces the module imports.
pub fn strip_custom_sections(module: &[u8], keep_debug: bool) -> Result<Vec<u8>> {
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload?;
        if let wasmparser::Payload::CustomSection(custom) = &payload {
            let name = custom.name();
            let keep = name.starts_with("component-type") || (keep_debug && (name == "name" || name.starts_with(".debug")));
            if !keep {
                continue;
            }
        }
        if let Some((id, range)) = payload.as_section() {
            let range = range.start as usize..range.end as usize;
            out.section(&wasm_encoder::RawSection { id, data: &module[range] });
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_keeps_component_type_only() {
        let mut module = wasm_encoder::Module::new();
        module.section(&wasm_encoder::CustomSection { name: "producers".into(), data: b"x".as_slice().into() });
        module.section(&wasm_encoder::CustomSection { name: "component-type:w".into(), data: b"y".as_slice().into() });
        let stripped = strip_custom_sections(&module.finish(), false).unwrap();
        let names: Vec<String> = wasmparser::Parser::new(0)
            .parse_all(&stripped)
            .filter_map(|p| match p.unwrap() {
                wasmparser::Payload::CustomSection(c) => Some(c.name().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["component-type:w"]);
    }
}
