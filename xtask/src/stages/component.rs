//! Stage 4: the core component. `python.wasm` (a WASI preview 1 command module) becomes a
//! component in-process with wit-component and the preview1 *command* adapter.

use anyhow::{Context, Result, ensure};
use std::path::Path;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};

use crate::helpers::layout::Profile;

/// Part of every key that depends on this stage: the adapter's bytes are pinned by the
/// crate version in Cargo.lock.
pub const RECIPE: &str = "component v2: strip, wit-component 0.258.3, preview1 command adapter 50.0.1 with exit codes";

/// The snapshot entries of cpython-ext/_pylon_snapshot: the cold core drops them (the
/// command adapter would not know them), the snapshot stage consumes them.
pub const SNAPSHOT_EXPORTS: &[&str] = &["wizer-initialize", "pylon_resume_start"];

/// Returns the component bytes for the core module at `python_wasm`, without the exports
/// named in `drop_exports`. `embed` adds the component-type metadata of the caps the module
/// imports.
pub fn core_component(
    python_wasm: &Path,
    profile: Profile,
    drop_exports: &[&str],
    embed: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>> {
    let module = std::fs::read(python_wasm).with_context(|| format!("cannot read {}", python_wasm.display()))?;
    let module = crate::helpers::wasm::strip_custom_sections(&module, profile == Profile::Debug)
        .with_context(|| format!("cannot parse {}", python_wasm.display()))?;
    let mut module = drop_named_exports(&module, drop_exports).with_context(|| format!("cannot parse {}", python_wasm.display()))?;
    embed(&mut module)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)?
        .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, &exit_code_adapter()?)?
        .encode()
        .with_context(|| format!("cannot make a component of {}", python_wasm.display()))
}

/// The module without the exports named in `names` (the functions stay).
pub fn drop_named_exports(module: &[u8], names: &[&str]) -> Result<Vec<u8>> {
    if names.is_empty() {
        return Ok(module.to_vec());
    }
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload?;
        if let wasmparser::Payload::ExportSection(reader) = &payload {
            let mut exports = wasm_encoder::ExportSection::new();
            for export in reader.clone() {
                let export = export?;
                if names.contains(&export.name) {
                    continue;
                }
                let kind = match export.kind {
                    wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => wasm_encoder::ExportKind::Func,
                    wasmparser::ExternalKind::Table => wasm_encoder::ExportKind::Table,
                    wasmparser::ExternalKind::Memory => wasm_encoder::ExportKind::Memory,
                    wasmparser::ExternalKind::Global => wasm_encoder::ExportKind::Global,
                    wasmparser::ExternalKind::Tag => wasm_encoder::ExportKind::Tag,
                };
                exports.export(export.name, kind, export.index);
            }
            out.section(&exports);
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            let range = range.start as usize..range.end as usize;
            out.section(&wasm_encoder::RawSection { id, data: &module[range] });
        }
    }
    Ok(out.finish())
}

/// The preview1 command adapter with exit codes kept. As shipped, its `proc_exit(code)`
/// calls `wasi:cli/exit.exit(code != 0)`, so `sys.exit(3)` ends the process with 1. Its
/// world also has `exit-with-code` (stable since WASI 0.2.12, same core signature): call
/// that with the code itself. Two checked edits: the import's name, and the `i32.const 0;
/// i32.ne` before the call in `proc_exit`, turned into nops so the code keeps its size.
pub fn exit_code_adapter() -> Result<Vec<u8>> {
    const EXIT_MODULE: &str = "wasi:cli/exit@0.2.12";
    let adapter = WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER;
    let mut imported_funcs = 0u32;
    let mut exit_func = None;
    let mut proc_exit = None;
    let mut bodies = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(adapter) {
        match payload? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    if let wasmparser::TypeRef::Func(_) = import.ty {
                        if import.module == EXIT_MODULE && import.name == "exit" {
                            exit_func = Some(imported_funcs);
                        }
                        imported_funcs += 1;
                    }
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.name == "proc_exit" && export.kind == wasmparser::ExternalKind::Func {
                        proc_exit = Some(export.index);
                    }
                }
            }
            wasmparser::Payload::CodeSectionEntry(body) => {
                let range = body.range();
                bodies.push(range.start as usize..range.end as usize);
            }
            _ => {}
        }
    }
    exit_func.context("the preview1 adapter does not import wasi:cli/exit#exit")?;
    let proc_exit = proc_exit.context("the preview1 adapter does not export proc_exit")?;
    ensure!(
        bodies.get((proc_exit - imported_funcs) as usize).is_some(),
        "proc_exit has no body in the preview1 adapter"
    );
    // local.get 0; i32.const 0; i32.ne; call $exit-wrapper (a padded LEB128 index): the
    // wrapper lowers its i32 straight into the import, which now takes the code itself.
    // The smoke test `exit_code.py` checks the result end to end.
    let prefix = [0x20, 0x00, 0x41, 0x00, 0x47, 0x10];
    // The call may sit in a helper that proc_exit calls; it must be the only such call.
    let code_start = bodies.first().map_or(0, |b| b.start);
    let code_end = bodies.last().map_or(0, |b| b.end);
    let code = &adapter[code_start..code_end];
    let hits: Vec<usize> = code
        .windows(prefix.len())
        .enumerate()
        .filter(|(i, w)| *w == prefix && read_leb_u32(&code[i + prefix.len()..]).is_some())
        .map(|(i, _)| i)
        .collect();
    let [at] = hits[..] else {
        anyhow::bail!("proc_exit in the preview1 adapter no longer has the expected shape ({} matches); review component::exit_code_adapter", hits.len())
    };
    let mut patched = adapter.to_vec();
    patched[code_start + at + 2..code_start + at + 5].copy_from_slice(&[0x01, 0x01, 0x01]);

    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(&patched) {
        let payload = payload?;
        if let wasmparser::Payload::ImportSection(reader) = &payload {
            let mut imports = wasm_encoder::ImportSection::new();
            for import in reader.clone().into_imports() {
                let import = import?;
                let name = if import.module == EXIT_MODULE && import.name == "exit" { "exit-with-code" } else { import.name };
                imports.import(import.module, name, wasm_encoder::EntityType::try_from(import.ty)?);
            }
            out.section(&imports);
        } else if let Some((id, range)) = payload.as_section() {
            out.section(&wasm_encoder::RawSection { id, data: &patched[range.start as usize..range.end as usize] });
        }
    }
    Ok(out.finish())
}

fn read_leb_u32(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn adapter_calls_exit_with_code() {
        let adapter = super::exit_code_adapter().unwrap();
        let mut names = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&adapter) {
            if let wasmparser::Payload::ImportSection(reader) = payload.unwrap() {
                for import in reader.into_imports() {
                    let import = import.unwrap();
                    if import.module.starts_with("wasi:cli/exit") {
                        names.push(import.name.to_owned());
                    }
                }
            }
        }
        assert_eq!(names, ["exit-with-code"]);
        wasmparser::Validator::new().validate_all(&adapter).unwrap();
    }
}
