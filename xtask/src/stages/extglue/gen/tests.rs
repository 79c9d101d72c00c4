use super::{ExtSpec, Generated, generate, import_world};
use std::path::{Path, PathBuf};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/stages/extglue/gen/testdata").join(name)
}

fn alltypes_spec(dir: PathBuf) -> ExtSpec {
    ExtSpec {
        module: "_alltypes".into(),
        wit_dirs: vec![dir],
        interfaces: vec!["pylon:alltypes/alltypes@0.1.0".into()],
        host: vec![],
    }
}

fn file<'g>(g: &'g Generated, name: &str) -> &'g str {
    &g.files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
}

#[test]
fn alltypes_module_c() {
    let g = generate(&alltypes_spec(testdata("alltypes"))).unwrap();
    assert_eq!(g.world, "alltypes-ext");
    let names: Vec<_> = g.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["_alltypes.c", "alltypes_ext.c", "alltypes_ext.h"]);
    assert_eq!(g.c_sources, ["_alltypes.c", "alltypes_ext.c"]);
    insta::with_settings!({ prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("alltypes_module_c", file(&g, "_alltypes.c"));
    });
}

#[test]
fn output_is_deterministic() {
    let a = generate(&alltypes_spec(testdata("alltypes"))).unwrap();
    assert_eq!(a, generate(&alltypes_spec(testdata("alltypes"))).unwrap());
    // Nor does it depend on where the WIT is.
    let copy = std::env::temp_dir().join(format!("pylon-gen-determinism-{}", std::process::id()));
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(testdata("alltypes/alltypes.wit"), copy.join("alltypes.wit")).unwrap();
    let b = generate(&alltypes_spec(copy.clone()));
    std::fs::remove_dir_all(&copy).unwrap();
    assert_eq!(a, b.unwrap());
}

#[test]
fn synthesized_world() {
    let (resolve, world) = import_world(&alltypes_spec(testdata("alltypes"))).unwrap();
    let w = &resolve.worlds[world];
    assert_eq!(w.name, "alltypes-ext");
    let imports: Vec<_> = w.imports.keys().map(|k| resolve.name_world_key(k)).collect();
    // The dependency comes first, implicitly.
    assert_eq!(imports, ["pylon:alltypes/shared@0.1.0", "pylon:alltypes/alltypes@0.1.0"]);
    assert!(w.exports.is_empty());
    let pkg = &resolve.packages[w.package.unwrap()];
    assert_eq!(pkg.name.to_string(), "pylon-ext:alltypes");
}

#[test]
fn listing_a_dependency_too() {
    let mut spec = alltypes_spec(testdata("alltypes"));
    spec.interfaces.insert(0, "pylon:alltypes/shared@0.1.0".into());
    let g = generate(&spec).unwrap();
    let c = file(&g, "_alltypes.c");
    // One Python type per resource and record, whichever interface names them.
    assert_eq!(c.matches("PyType_FromSpec(&pylon_Counter_spec)").count(), 1);
    assert_eq!(c.matches("PyStructSequence_NewType(&pylon_Point_desc)").count(), 1);
}

#[test]
fn zlib_cap() {
    let spec = ExtSpec {
        module: "_zlib_cap".into(),
        wit_dirs: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../caps/zlib/wit")],
        interfaces: vec!["pylon:zlib/zlib@0.1.0".into()],
        host: vec![],
    };
    let g = generate(&spec).unwrap();
    assert_eq!(g.world, "zlib-cap-ext");
    let names: Vec<_> = g.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["_zlib_cap.c", "zlib_cap_ext.c", "zlib_cap_ext.h"]);
    let c = file(&g, "_zlib_cap.c");
    assert!(c.contains("PyInit__zlib_cap(void)"));
    assert!(c.contains("\"unconsumed_tail\""));
}

fn err(spec: &ExtSpec) -> String {
    format!("{:#}", generate(spec).unwrap_err())
}

#[test]
fn python_name_clash_names_both_interfaces() {
    let spec = ExtSpec {
        module: "_collide".into(),
        wit_dirs: vec![testdata("collide")],
        interfaces: vec!["pylon:collide/one".into(), "pylon:collide/two".into()],
        host: vec![],
    };
    let e = err(&spec);
    assert!(e.contains("`ping`") && e.contains("pylon:collide/one") && e.contains("pylon:collide/two"), "{e}");
}

#[test]
fn resource_method_named_close_is_rejected() {
    let spec = ExtSpec {
        module: "_collide".into(),
        wit_dirs: vec![testdata("collide")],
        interfaces: vec!["pylon:collide/methods".into()],
        host: vec![],
    };
    let e = err(&spec);
    assert!(e.contains("`close`") && e.contains("File"), "{e}");
}

#[test]
fn bad_specs() {
    let mut spec = alltypes_spec(testdata("alltypes"));
    spec.interfaces = vec!["pylon:alltypes/nope@0.1.0".into()];
    assert!(err(&spec).contains("has no interface `nope`"), "{}", err(&spec));
    spec.interfaces = vec!["pylon:other/x".into()];
    assert!(err(&spec).contains("no WIT package `pylon:other`"), "{}", err(&spec));
    spec.interfaces = vec!["alltypes".into()];
    assert!(err(&spec).contains("not a fully qualified interface"), "{}", err(&spec));
    let mut spec = alltypes_spec(testdata("alltypes"));
    spec.module = "_Bad-Name".into();
    assert!(err(&spec).contains("module name"), "{}", err(&spec));
}

/// Writes the generated files under `$PYLON_GEN_DUMP/<module>/` (for compiling them by hand).
#[test]
fn dump() {
    let Some(out) = std::env::var_os("PYLON_GEN_DUMP") else { return };
    let zlib = ExtSpec {
        module: "_zlib_cap".into(),
        wit_dirs: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../caps/zlib/wit")],
        interfaces: vec!["pylon:zlib/zlib@0.1.0".into()],
        host: vec![],
    };
    for spec in [alltypes_spec(testdata("alltypes")), zlib] {
        let dir = Path::new(&out).join(&spec.module);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in generate(&spec).unwrap().files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
}

/// Two extensions importing one interface (as every `links` extension imports the dynlink
/// linker) link into one python.wasm: their bindings must define disjoint symbols.
#[test]
fn two_extensions_of_one_interface_share_no_symbol() {
    let defined = |module: &str| -> std::collections::BTreeSet<String> {
        let spec = ExtSpec {
            module: module.into(),
            wit_dirs: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../caps/dynlink/wit")],
            interfaces: vec!["pylon:dynlink/linker@0.1.0".into()],
            host: vec![],
        };
        let g = generate(&spec).unwrap();
        g.files
            .iter()
            .filter(|(name, _)| name.ends_with(".c"))
            // Join each attribute line to the definition it qualifies.
            .flat_map(|(_, text)| text.replace(")))\n", "))) ").lines().map(str::to_owned).collect::<Vec<_>>())
            // wit-bindgen-c's definitions, `type name(args) {`, that are neither static nor weak
            // (the module file's own functions are all static but PyInit_<module>).
            .filter(|line| {
                !line.starts_with("static") && !line.starts_with(' ') && !line.contains("__weak__") && line.contains('(') && line.trim_end().ends_with('{')
            })
            .filter_map(|line| line.split('(').next().and_then(|head| head.split_whitespace().last()).map(|s| s.trim_start_matches('*').to_owned()))
            .collect()
    };
    let (a, b) = (defined("_crc32c"), defined("_other"));
    assert!(a.iter().any(|s| s.ends_with("_linker_resolve")), "{a:?}");
    let shared: Vec<_> = a.intersection(&b).collect();
    assert!(shared.is_empty(), "both define {shared:?}");
}

/// `__wit__` is valid JSON describing every function, resource and member, with types.
#[test]
fn wit_table_describes_the_api() {
    let g = generate(&alltypes_spec(testdata("alltypes"))).unwrap();
    let c = file(&g, "_alltypes.c");
    let start = c.find("\"__wit__\",").unwrap() + "\"__wit__\",".len();
    let end = start + c[start..].find(") < 0)").unwrap();
    // The C literal, one piece per line, unescaped (all of it is ASCII).
    let literal: String = c[start..end].lines().map(|l| l.trim()).filter(|l| !l.is_empty()).map(|l| &l[1..l.len() - 1]).collect();
    let text = literal.replace("\\n", "\n").replace("\\\"", "\"").replace("\\\\", "\\").replace("\\?", "?");
    let api: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(api["module"], "_alltypes");
    let names: Vec<&str> = api["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"echo_bool") && names.contains(&"keyword_args"), "{names:?}");
    let counter = api["resources"].as_array().unwrap().iter().find(|r| r["name"] == "Counter").unwrap();
    assert_eq!(counter["constructor"]["params"], serde_json::json!([["start", "s64"]]));
    let merge = counter["methods"].as_array().unwrap().iter().find(|m| m["name"] == "merge").unwrap();
    assert_eq!(merge["params"], serde_json::json!([["other", {"own": "Counter"}]]), "methods leave out self");
    let kw = api["functions"].as_array().unwrap().iter().find(|f| f["name"] == "keyword_args").unwrap();
    assert_eq!(kw["params"][0][0], "from_", "Python's parameter names");
}
