//! The module's `__wit__` string: its Python API as JSON — every function, resource type,
//! constructor, static and method with its parameters' WIT types — so that generic callers
//! (the random-call fuzzer, `xtask/src/commands/fuzz.rs`) need not parse docstrings or know any cap.
//!
//! Shape (WIT has no recursive types, so every type is written out in place):
//!
//! ```text
//! {"module": "_zlib_cap", "interfaces": [...],
//!  "functions": [FUNC, ...],
//!  "resources": [{"name": "Compressor", "constructor": FUNC | null, "statics": [FUNC, ...], "methods": [FUNC, ...]}]}
//! FUNC = {"name": "compress", "params": [["data", TYPE], ...], "result": TYPE | null}
//! TYPE = "bool" | "u8" .. "s64" | "f32" | "f64" | "char" | "string" | "bytes" (list<u8>)
//!      | {"list": TYPE} | {"option": TYPE} | {"result": [TYPE | null, TYPE | null]}
//!      | {"tuple": [TYPE, ...]} | {"record": "PyName", "fields": [["py_name", TYPE], ...]}
//!      | {"enum": "wit-name", "cases": N} | {"flags": "wit-name", "count": N}
//!      | {"variant": "wit-name", "cases": [["snake_name", TYPE | null], ...]}
//!      | {"own": "PyType"} | {"borrow": "PyType"}
//! ```
//!
//! Methods' params leave out `self`. One function per line, so that diffs stay readable.

use heck::ToSnakeCase;
use serde_json::{Value, json};
use wit_parser::Type;

use super::model::{Func, Kind, Module, py_ident};

/// The JSON text, one function per line.
pub fn table(m: &Module) -> String {
    let funcs = |fs: &[Func], method: bool| -> String {
        let lines: Vec<String> = fs.iter().map(|f| func(m, f, method).to_string()).collect();
        if lines.is_empty() { "[]".to_owned() } else { format!("[\n{}]", lines.join(",\n")) }
    };
    let resources: Vec<String> = m
        .resources
        .iter()
        .map(|r| {
            let ctor = r.constructor.as_ref().map_or(Value::Null, |c| func(m, c, false));
            format!(
                "{{\"name\": {}, \"constructor\": {ctor},\n\"statics\": {},\n\"methods\": {}}}",
                Value::from(r.py_name.as_str()),
                funcs(&r.statics, false),
                funcs(&r.methods, true)
            )
        })
        .collect();
    format!(
        "{{\"module\": {}, \"interfaces\": {},\n\"functions\": {},\n\"resources\": [{}]}}\n",
        Value::from(m.name.as_str()),
        json!(m.interfaces),
        funcs(&m.functions, false),
        resources.join(",\n")
    )
}

fn func(m: &Module, f: &Func, method: bool) -> Value {
    let params: Vec<Value> = f.func.params[usize::from(method)..]
        .iter()
        .map(|p| json!([py_ident(&p.name.to_snake_case()), ty(m, &p.ty)]))
        .collect();
    json!({"name": f.py_name, "params": params, "result": f.func.result.as_ref().map_or(Value::Null, |t| ty(m, t))})
}

fn opt(m: &Module, t: Option<&Type>) -> Value {
    t.map_or(Value::Null, |t| ty(m, t))
}

fn ty(m: &Module, t: &Type) -> Value {
    let name = |id| m.resolve.types[id].name.clone().unwrap_or_default();
    match m.kind(t) {
        Kind::Bool => "bool".into(),
        Kind::Int(i) => i.wit().into(),
        Kind::F32 => "f32".into(),
        Kind::F64 => "f64".into(),
        Kind::Char => "char".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::List(_, e) => json!({"list": ty(m, &e)}),
        Kind::Option(_, p) => json!({"option": ty(m, &p)}),
        Kind::Result(_, r) => json!({"result": [opt(m, r.ok.as_ref()), opt(m, r.err.as_ref())]}),
        Kind::Tuple(_, t) => json!({"tuple": t.types.iter().map(|t| ty(m, t)).collect::<Vec<_>>()}),
        Kind::Record(id, _) => {
            let rec = m.record(id);
            let fields: Vec<Value> = rec.fields.iter().map(|f| json!([f.py_name, ty(m, &f.ty)])).collect();
            json!({"record": rec.py_name, "fields": fields})
        }
        Kind::Enum(id, e) => json!({"enum": name(id), "cases": e.cases.len()}),
        Kind::Flags(id, f) => json!({"flags": name(id), "count": f.flags.len()}),
        Kind::Variant(id, v) => {
            let cases: Vec<Value> = v.cases.iter().map(|c| json!([c.name.to_snake_case(), opt(m, c.ty.as_ref())])).collect();
            json!({"variant": name(id), "cases": cases})
        }
        Kind::Own(_, res) => json!({"own": m.resource(res).py_name}),
        Kind::Borrow(_, res) => json!({"borrow": m.resource(res).py_name}),
    }
}
