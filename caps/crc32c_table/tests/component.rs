//! The built component exports the dynlink endpoint and validates. Ignored by default: it
//! reads the wasm32-wasip2 build, which `cargo test` does not make. Run it after
//! `cargo build --release --target wasm32-wasip2 -p cap-crc32c-table` with
//! `cargo test -p cap-crc32c-table --test component -- --ignored --nocapture`.

use wasmparser::{Parser, Payload, Validator, WasmFeatures};

#[test]
#[ignore = "needs the wasm32-wasip2 release build of this crate"]
fn component_exports_the_endpoint() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").into());
    let path = format!("{target}/wasm32-wasip2/release/cap_crc32c_table.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (build it first)"));
    Validator::new_with_features(WasmFeatures::all()).validate_all(&bytes).expect("the component validates");
    let (mut depth, mut imports, mut exports) = (0, Vec::new(), Vec::new());
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(s) if depth == 1 => {
                imports.extend(s.into_iter().map(|i| i.unwrap().name.name.to_owned()))
            }
            Payload::ComponentExportSection(s) if depth == 1 => {
                exports.extend(s.into_iter().map(|e| e.unwrap().name.name.to_owned()))
            }
            _ => {}
        }
    }
    println!("{path}: {} bytes\n  exports: {exports:?}\n  imports: {imports:?}", bytes.len());
    assert_eq!(exports, ["pylon:dynlink/endpoint@0.1.0"]);
}
