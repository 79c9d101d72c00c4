//! Small rewrites of core wasm modules, section by section.

use anyhow::Result;

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
