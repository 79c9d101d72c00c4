//! What the generated module exposes (Python names) and the C names it uses, taken from
//! the `Resolve` after wit-bindgen-c ran on it.

use anyhow::{Result, bail};
use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use wit_bindgen_c::{CTypeNameInfo, c_func_name, gen_type_name, owner_namespace};
use wit_bindgen_core::dealias;
use wit_parser::{
    Docs, Function, FunctionKind, Handle, InterfaceId, LiveTypes, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldId, WorldItem, WorldKey,
};

use super::ExtSpec;

/// The CPython module to write.
pub struct Module<'a> {
    pub resolve: &'a Resolve,
    /// The Python module name (`_zlib_cap`).
    pub name: String,
    /// The interfaces the module imports, as given.
    pub interfaces: Vec<String>,
    /// Those the embedding application provides (`ExtSpec::host`).
    pub host: Vec<String>,
    /// The synthesized world (kebab-case) and its C prefix.
    pub world_name: String,
    pub world_snake: String,
    /// Module-level functions, in WIT order.
    pub functions: Vec<Func<'a>>,
    /// Python types for records (`PyStructSequence`).
    pub records: Vec<RecordTy<'a>>,
    /// Python types for resources.
    pub resources: Vec<ResourceTy<'a>>,
    /// Module constants for enum cases and flags.
    pub constants: Vec<(String, u64)>,
    pub c: CNames,
}

/// A function as Python calls it.
pub struct Func<'a> {
    /// The Python name (`max_length`).
    pub py_name: String,
    /// The name in messages (`decompress`, `Decompressor.flush`).
    pub qualname: String,
    /// wit-bindgen-c's name for the import.
    pub c_name: String,
    pub func: &'a Function,
}

pub struct RecordTy<'a> {
    pub id: TypeId,
    pub py_name: String,
    pub fields: Vec<Field<'a>>,
    pub docs: &'a Docs,
}

pub struct Field<'a> {
    pub py_name: String,
    pub c_name: String,
    pub ty: Type,
    pub docs: &'a Docs,
}

pub struct ResourceTy<'a> {
    pub id: TypeId,
    pub py_name: String,
    pub docs: &'a Docs,
    /// wit-bindgen-c's `..._own_<r>_t`.
    pub own_t: String,
    /// wit-bindgen-c's `..._<r>_drop_own`.
    pub drop_own: String,
    /// wit-bindgen-c's `..._borrow_<r>` (own handle → borrow handle).
    pub borrow_fn: String,
    pub constructor: Option<Func<'a>>,
    pub statics: Vec<Func<'a>>,
    pub methods: Vec<Func<'a>>,
}

/// Python-side identifiers of resources' own methods: WIT methods may not take them.
pub const RESOURCE_BUILTINS: &[&str] = &["close", "__enter__", "__exit__"];

/// A WIT type as the converters see it: aliases resolved, `list<u8>` singled out.
#[derive(Clone, Copy)]
pub enum Kind<'a> {
    Bool,
    Int(IntTy),
    F32,
    F64,
    Char,
    String,
    /// `list<u8>` ↔ bytes-like.
    Bytes,
    List(TypeId, Type),
    Option(TypeId, Type),
    Result(TypeId, &'a wit_parser::Result_),
    Tuple(TypeId, &'a wit_parser::Tuple),
    Record(TypeId, &'a wit_parser::Record),
    Enum(TypeId, &'a wit_parser::Enum),
    Flags(TypeId, &'a wit_parser::Flags),
    Variant(TypeId, &'a wit_parser::Variant),
    /// Handle type id, resource id.
    Own(TypeId, TypeId),
    Borrow(TypeId, TypeId),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IntTy {
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
}

impl IntTy {
    pub fn wit(self) -> &'static str {
        match self {
            IntTy::U8 => "u8",
            IntTy::U16 => "u16",
            IntTy::U32 => "u32",
            IntTy::U64 => "u64",
            IntTy::S8 => "s8",
            IntTy::S16 => "s16",
            IntTy::S32 => "s32",
            IntTy::S64 => "s64",
        }
    }
}

impl<'a> Module<'a> {
    pub fn build(resolve: &'a Resolve, world: WorldId, spec: &ExtSpec, header: &str) -> Result<Module<'a>> {
        let world_name = resolve.worlds[world].name.clone();
        let keys = interface_keys(resolve, world);
        let renamed = renames(resolve, world);
        let c = CNames::new(resolve, world, header);
        let mut py = PyNames::new(&spec.module);
        py.claim("WitError", "the module's exception class".into())?;

        let mut listed = Vec::new();
        for (key, item) in resolve.worlds[world].imports.iter() {
            if let WorldItem::Interface { id, .. } = item
                && spec.interfaces.iter().any(|i| *i == resolve.name_world_key(key))
            {
                listed.push(*id);
            }
        }

        let func = |f: &'a Function, iface: InterfaceId, py_name: String, qualname: String| Func {
            py_name,
            qualname,
            c_name: c_func_name(true, resolve, &world_name, Some(&keys[&iface]), f, &renamed),
            func: f,
        };

        let mut functions = Vec::new();
        for &iface in &listed {
            let iname = resolve.id_of(iface).unwrap_or_default();
            for (name, f) in resolve.interfaces[iface].functions.iter() {
                if f.kind != FunctionKind::Freestanding {
                    continue;
                }
                let py_name = py_ident(&name.to_snake_case());
                py.claim(&py_name, format!("function `{name}` of `{iname}`"))?;
                functions.push(func(f, iface, py_name.clone(), py_name));
            }
        }

        // The types the listed interfaces define or use, including from other interfaces,
        // and those of the methods of the resources among them (which may live elsewhere).
        let mut live = LiveTypes::default();
        for &iface in &listed {
            live.add_interface(resolve, iface);
        }
        let mut seen_resources = HashSet::new();
        loop {
            let new: Vec<TypeId> = live
                .iter()
                .filter(|id| matches!(resolve.types[*id].kind, TypeDefKind::Resource) && !seen_resources.contains(id))
                .collect();
            if new.is_empty() {
                break;
            }
            for id in new {
                seen_resources.insert(id);
                if let TypeOwner::Interface(owner) = resolve.types[id].owner {
                    for f in resolve.interfaces[owner].functions.values() {
                        if f.kind.resource() == Some(id) {
                            live.add_func(resolve, f);
                        }
                    }
                }
            }
        }
        let mut records = Vec::new();
        let mut resources = Vec::new();
        let mut constants = Vec::new();
        for id in live.iter() {
            let def = &resolve.types[id];
            let Some(wit_name) = def.name.as_deref() else { continue };
            let origin = |what: &str| format!("{what} `{wit_name}` of `{}`", owner_name(resolve, def.owner));
            match &def.kind {
                TypeDefKind::Record(r) => {
                    let py_name = wit_name.to_upper_camel_case();
                    py.claim(&py_name, origin("record"))?;
                    let fields = r
                        .fields
                        .iter()
                        .map(|f| Field {
                            py_name: py_ident(&f.name.to_snake_case()),
                            c_name: wit_bindgen_c::to_c_ident(&f.name),
                            ty: f.ty,
                            docs: &f.docs,
                        })
                        .collect();
                    records.push(RecordTy { id, py_name, fields, docs: &def.docs });
                }
                TypeDefKind::Enum(e) => {
                    for (i, case) in e.cases.iter().enumerate() {
                        let name = format!("{}_{}", wit_name.to_shouty_snake_case(), case.name.to_shouty_snake_case());
                        py.claim(&name, origin("enum"))?;
                        constants.push((name, i as u64));
                    }
                }
                TypeDefKind::Flags(f) => {
                    for (i, flag) in f.flags.iter().enumerate() {
                        let name = format!("{}_{}", wit_name.to_shouty_snake_case(), flag.name.to_shouty_snake_case());
                        py.claim(&name, origin("flags"))?;
                        constants.push((name, 1u64 << i));
                    }
                }
                TypeDefKind::Resource => {
                    let py_name = wit_name.to_upper_camel_case();
                    py.claim(&py_name, origin("resource"))?;
                    let TypeOwner::Interface(owner) = def.owner else {
                        bail!("resource `{wit_name}` is not defined in an interface");
                    };
                    let ns = owner_namespace(
                        Some((owner, &keys[&owner])),
                        true,
                        world_name.clone(),
                        resolve,
                        id,
                        &renamed,
                    );
                    let snake = wit_name.to_snake_case();
                    let mut res = ResourceTy {
                        id,
                        py_name: py_name.clone(),
                        docs: &def.docs,
                        own_t: format!("{ns}_own_{snake}_t"),
                        drop_own: format!("{ns}_{snake}_drop_own"),
                        borrow_fn: format!("{ns}_borrow_{snake}"),
                        constructor: None,
                        statics: Vec::new(),
                        methods: Vec::new(),
                    };
                    let mut members = PyNames::new(&py_name);
                    for builtin in RESOURCE_BUILTINS {
                        members.claim(builtin, "the handle's lifetime management".into())?;
                    }
                    for f in resolve.interfaces[owner].functions.values() {
                        match f.kind {
                            FunctionKind::Constructor(r) if r == id => {
                                res.constructor = Some(func(f, owner, py_name.clone(), py_name.clone()));
                            }
                            FunctionKind::Static(r) | FunctionKind::Method(r) if r == id => {
                                let m = py_ident(&f.item_name().to_snake_case());
                                members.claim(&m, format!("`{}`", f.name))?;
                                let qual = format!("{py_name}.{m}");
                                if matches!(f.kind, FunctionKind::Static(_)) {
                                    res.statics.push(func(f, owner, m, qual));
                                } else {
                                    res.methods.push(func(f, owner, m, qual));
                                }
                            }
                            _ => {}
                        }
                    }
                    resources.push(res);
                }
                _ => {}
            }
        }

        Ok(Module {
            resolve,
            name: spec.module.clone(),
            interfaces: spec.interfaces.clone(),
            host: spec.host.clone(),
            world_snake: world_name.to_snake_case(),
            world_name,
            functions,
            records,
            resources,
            constants,
            c,
        })
    }

    /// The type with aliases resolved.
    pub fn kind(&self, ty: &Type) -> Kind<'a> {
        let resolve = self.resolve;
        match ty {
            Type::Bool => Kind::Bool,
            Type::U8 => Kind::Int(IntTy::U8),
            Type::U16 => Kind::Int(IntTy::U16),
            Type::U32 => Kind::Int(IntTy::U32),
            Type::U64 => Kind::Int(IntTy::U64),
            Type::S8 => Kind::Int(IntTy::S8),
            Type::S16 => Kind::Int(IntTy::S16),
            Type::S32 => Kind::Int(IntTy::S32),
            Type::S64 => Kind::Int(IntTy::S64),
            Type::F32 => Kind::F32,
            Type::F64 => Kind::F64,
            Type::Char => Kind::Char,
            Type::String => Kind::String,
            Type::ErrorContext => unreachable!("rejected by check_supported"),
            Type::Id(id) => {
                let id = *id;
                match &resolve.types[id].kind {
                    TypeDefKind::Type(t) => self.kind(t),
                    TypeDefKind::List(t) => match self.kind(t) {
                        Kind::Int(IntTy::U8) => Kind::Bytes,
                        _ => Kind::List(id, *t),
                    },
                    TypeDefKind::Option(t) => Kind::Option(id, *t),
                    TypeDefKind::Result(r) => Kind::Result(id, r),
                    TypeDefKind::Tuple(t) => Kind::Tuple(id, t),
                    TypeDefKind::Record(r) => Kind::Record(id, r),
                    TypeDefKind::Enum(e) => Kind::Enum(id, e),
                    TypeDefKind::Flags(f) => Kind::Flags(id, f),
                    TypeDefKind::Variant(v) => Kind::Variant(id, v),
                    TypeDefKind::Handle(Handle::Own(r)) => Kind::Own(id, dealias(resolve, *r)),
                    TypeDefKind::Handle(Handle::Borrow(r)) => Kind::Borrow(id, dealias(resolve, *r)),
                    _ => unreachable!("rejected by check_supported"),
                }
            }
        }
    }

    pub fn record(&self, id: TypeId) -> &RecordTy<'a> {
        self.records.iter().find(|r| r.id == id).expect("every live record has a Python type")
    }

    pub fn resource(&self, id: TypeId) -> &ResourceTy<'a> {
        self.resources.iter().find(|r| r.id == id).expect("every live resource has a Python type")
    }

    /// Whether values of `ty` hold `own` handles (which lifting must never leak).
    pub fn holds_own(&self, ty: &Type) -> bool {
        match self.kind(ty) {
            Kind::Own(..) => true,
            Kind::List(_, t) | Kind::Option(_, t) => self.holds_own(&t),
            Kind::Result(_, r) => r.ok.iter().chain(r.err.iter()).any(|t| self.holds_own(t)),
            Kind::Tuple(_, t) => t.types.iter().any(|t| self.holds_own(t)),
            Kind::Record(_, r) => r.fields.iter().any(|f| self.holds_own(&f.ty)),
            Kind::Variant(_, v) => v.cases.iter().filter_map(|c| c.ty.as_ref()).any(|t| self.holds_own(t)),
            _ => false,
        }
    }
}

/// Rejects what neither wit-bindgen-c's sync C bindings nor this generator handle, before
/// wit-bindgen-c (which would panic on some) runs.
pub fn check_supported(resolve: &Resolve, world: WorldId) -> Result<()> {
    let mut live = LiveTypes::default();
    for (key, item) in resolve.worlds[world].imports.iter() {
        let WorldItem::Interface { id, .. } = item else {
            bail!("the world imports `{}`, which is not an interface", resolve.name_world_key(key));
        };
        live.add_interface(resolve, *id);
        for f in resolve.interfaces[*id].functions.values() {
            if f.kind.is_async() {
                bail!("`{}` in `{}` is async: not supported", f.name, resolve.name_world_key(key));
            }
            for t in f.parameter_and_result_types() {
                if t == Type::ErrorContext {
                    bail!("`{}` in `{}` uses error-context: not supported", f.name, resolve.name_world_key(key));
                }
            }
        }
    }
    for id in live.iter() {
        let def = &resolve.types[id];
        let what = match &def.kind {
            TypeDefKind::Future(_) => "future",
            TypeDefKind::Stream(_) => "stream",
            TypeDefKind::Map(..) => "map",
            TypeDefKind::FixedLengthList(..) => "fixed-length list",
            TypeDefKind::Unknown => "unknown type",
            TypeDefKind::Flags(f) if f.flags.len() > 64 => "flags with more than 64 members",
            TypeDefKind::Type(Type::ErrorContext) => "error-context",
            TypeDefKind::List(Type::ErrorContext) | TypeDefKind::Option(Type::ErrorContext) => "error-context",
            _ => continue,
        };
        let name = def.name.as_deref().unwrap_or("<anonymous>");
        bail!("type `{name}` of `{}` is a {what}: not supported", owner_name(resolve, def.owner));
    }
    Ok(())
}

fn owner_name(resolve: &Resolve, owner: TypeOwner) -> String {
    match owner {
        TypeOwner::Interface(i) => resolve.id_of(i).unwrap_or_else(|| "<anonymous interface>".into()),
        TypeOwner::World(w) => resolve.worlds[w].name.clone(),
        TypeOwner::None => "<anonymous>".into(),
    }
}

/// wit-bindgen-c names its C symbols after the interface (`pylon_dynlink_linker_invoke`):
/// two extensions importing the same interface would define the same symbols in one
/// python.wasm. Each extension's bindings are renamed after its world instead
/// (`crc32c_ext_linker_invoke`), here and in wit-bindgen-c's options alike.
pub fn renames(resolve: &Resolve, world: WorldId) -> HashMap<WorldKey, String> {
    let world_snake = resolve.worlds[world].name.to_snake_case();
    let mut renames = HashMap::new();
    for (key, item) in resolve.worlds[world].imports.iter() {
        if let WorldItem::Interface { id, .. } = item {
            let name = resolve.interfaces[*id].name.clone().unwrap_or_else(|| resolve.name_world_key(key));
            renames.insert(key.clone(), format!("{world_snake}_{}", name.to_snake_case()));
        }
    }
    renames
}

fn interface_keys(resolve: &Resolve, world: WorldId) -> HashMap<InterfaceId, WorldKey> {
    let mut keys = HashMap::new();
    for (key, item) in resolve.worlds[world].imports.iter() {
        if let WorldItem::Interface { id, .. } = item {
            keys.insert(*id, key.clone());
        }
    }
    keys
}

/// Python identifiers must not be keywords: `from` → `from_`.
pub fn py_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
        "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass",
        "raise", "return", "try", "while", "with", "yield",
    ];
    if KEYWORDS.contains(&name) { format!("{name}_") } else { name.to_string() }
}

/// One Python namespace (the module, or a resource type): names must not clash.
struct PyNames {
    scope: String,
    seen: BTreeMap<String, String>,
}

impl PyNames {
    fn new(scope: &str) -> PyNames {
        PyNames { scope: scope.to_string(), seen: BTreeMap::new() }
    }

    fn claim(&mut self, name: &str, origin: String) -> Result<()> {
        if let Some(prev) = self.seen.get(name) {
            bail!("Python name `{name}` in `{}` would be defined twice: by {prev} and by {origin}", self.scope);
        }
        self.seen.insert(name.to_string(), origin);
        Ok(())
    }
}

/// wit-bindgen-c's C names. Type names follow its `define_live_types` (interfaces in world
/// import order; an anonymous type belongs to the first interface that uses it), using its
/// own public naming functions. Every name handed out is recorded and checked against the
/// header it wrote ([`CNames::check_used`]).
pub struct CNames {
    world_snake: String,
    types: HashMap<TypeId, String>,
    header: HashSet<String>,
    used: RefCell<BTreeSet<String>>,
}

impl CNames {
    fn new(resolve: &Resolve, world: WorldId, header: &str) -> CNames {
        let world_name = resolve.worlds[world].name.clone();
        let world_snake = world_name.to_snake_case();
        let mut types = HashMap::new();
        let renamed = renames(resolve, world);
        for (key, item) in resolve.worlds[world].imports.iter() {
            let WorldItem::Interface { id, .. } = item else { continue };
            let mut live = LiveTypes::default();
            live.add_interface(resolve, *id);
            for ty in live.iter() {
                if types.contains_key(&ty) {
                    continue;
                }
                let (info, encoded) = gen_type_name(resolve, ty);
                let ns = match info {
                    CTypeNameInfo::Anonymous { is_prim: true } => world_snake.clone(),
                    _ => owner_namespace(Some((*id, key)), true, world_name.clone(), resolve, ty, &renamed),
                };
                types.insert(ty, format!("{ns}_{encoded}_t"));
            }
        }
        let header = header
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        CNames { world_snake, types, header, used: RefCell::default() }
    }

    /// Records `name` as used from the bindings.
    pub fn name(&self, name: &str) -> String {
        self.used.borrow_mut().insert(name.to_string());
        name.to_string()
    }

    /// The C type of `ty` (as wit-bindgen-c's `push_type_name`).
    pub fn ty(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::Char => "uint32_t".into(),
            Type::U8 => "uint8_t".into(),
            Type::S8 => "int8_t".into(),
            Type::U16 => "uint16_t".into(),
            Type::S16 => "int16_t".into(),
            Type::U32 => "uint32_t".into(),
            Type::S32 => "int32_t".into(),
            Type::U64 => "uint64_t".into(),
            Type::S64 => "int64_t".into(),
            Type::F32 => "float".into(),
            Type::F64 => "double".into(),
            Type::String => self.name(&format!("{}_string_t", self.world_snake)),
            Type::ErrorContext => unreachable!("rejected by check_supported"),
            Type::Id(id) => self.name(&self.types[id]),
        }
    }

    /// The function that frees what a value of `ty` owns, if it owns memory: wit-bindgen-c
    /// only declares `<type>_free` for those.
    pub fn free_fn(&self, ty: &Type) -> Option<String> {
        let name = match ty {
            Type::String => format!("{}_string_free", self.world_snake),
            Type::Id(id) => format!("{}_free", self.types[id].strip_suffix("_t").unwrap()),
            _ => return None,
        };
        self.header.contains(&name).then(|| self.name(&name))
    }

    /// Fails if a name used is not declared by the bindings' header: a mismatch with
    /// wit-bindgen-c's naming must fail here, not in the C compiler.
    pub fn check_used(&self) -> Result<()> {
        let missing: Vec<_> = self.used.borrow().iter().filter(|n| !self.header.contains(*n)).cloned().collect();
        if !missing.is_empty() {
            bail!("internal error: the bindings header does not declare {}", missing.join(", "));
        }
        Ok(())
    }
}
