//! Stage 6: `caps-manifest.toml`, the record of what a build produced from which pins.
//! It is committed, so every change to the artifacts is reviewed; `verify` checks the disk
//! against it.

use anyhow::{Context, Result, anyhow};
use std::ops::Range;
use std::path::Path;
use toml_edit::{Array, ArrayOfTables, Document, DocumentMut, Item, Table, value};

use crate::stages::caps::Kind;

pub const SCHEMA: i64 = 1;

/// The sha256 a cap row carries when the cap was left out of a build (`--caps` subset).
pub const PLACEHOLDER: &str = "placeholder";

#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub profile: String,
    pub pins: Pins,
    pub artifacts: Vec<Artifact>,
    pub caps: Vec<CapRow>,
    /// The dynlink plan the linker was generated from, when an extension links ids.
    pub dynlink: Option<DynlinkRow>,
    /// How `pylon.wasm`'s snapshot was made (its module is the `snapshot` artifact).
    pub snapshot: Option<SnapshotRow>,
    pub pylon_sha256: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotRow {
    /// `per-build` (the seed below, derived from the stage key) or `private`.
    pub hash_seed_policy: String,
    /// The shared string-hash seed; absent when private.
    pub hash_seed: Option<u64>,
    /// The modules imported at build time, in order.
    pub prewarm: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DynlinkRow {
    pub plan: String,
    pub plan_sha256: String,
    /// (id, provider cap), sorted by id.
    pub serve: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pins {
    pub rust: String,
    pub zig: String,
    pub zig_sha256: String,
    pub cpython: String,
    pub cpython_sha256: String,
    pub source_date_epoch: u64,
    pub adapter: String,
}

/// One file of the build, by path relative to the repo root.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CapRow {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub interfaces: Vec<String>,
    /// Mux caps: the schemes of their one interface.
    pub schemes: Vec<String>,
    /// Dynlink caps: the ids they can serve (the plan picks who does).
    pub serves: Vec<String>,
    pub artifact: Artifact,
}

const HEADER: &str = "\
# Written by `cargo xtask build`, checked by `cargo xtask verify`: the sha256 of every
# artifact of the default build and the pins they came from. Do not edit by hand; its
# shape is snapshot-tested, so every change to it shows up in review.
";

impl Manifest {
    pub fn render(&self) -> String {
        let mut doc = DocumentMut::new();
        doc["schema"] = value(SCHEMA);
        doc["profile"] = value(&self.profile);
        doc["pylon_sha256"] = value(&self.pylon_sha256);

        let mut pins = Table::new();
        let p = &self.pins;
        pins["rust"] = value(&p.rust);
        pins["zig"] = value(&p.zig);
        pins["zig_sha256"] = value(&p.zig_sha256);
        pins["cpython"] = value(&p.cpython);
        pins["cpython_sha256"] = value(&p.cpython_sha256);
        pins["source_date_epoch"] = value(p.source_date_epoch as i64);
        pins["adapter"] = value(&p.adapter);
        doc["pins"] = Item::Table(pins);

        if let Some(d) = &self.dynlink {
            let mut t = Table::new();
            t["plan"] = value(&d.plan);
            t["plan_sha256"] = value(&d.plan_sha256);
            let mut serve = Table::new();
            for (id, provider) in &d.serve {
                serve[id.as_str()] = value(provider);
            }
            t["serve"] = Item::Table(serve);
            doc["dynlink"] = Item::Table(t);
        }

        if let Some(snap) = &self.snapshot {
            let mut t = Table::new();
            t["hash_seed_policy"] = value(&snap.hash_seed_policy);
            if let Some(seed) = snap.hash_seed {
                t["hash_seed"] = value(seed as i64);
            }
            t["prewarm"] = value(snap.prewarm.iter().collect::<Array>());
            doc["snapshot"] = Item::Table(t);
        }

        let mut artifacts = ArrayOfTables::new();
        for a in &self.artifacts {
            artifacts.push(artifact_table(a, Table::new()));
        }
        doc["artifact"] = Item::ArrayOfTables(artifacts);

        if !self.caps.is_empty() {
            let mut caps = ArrayOfTables::new();
            for cap in &self.caps {
                let mut t = Table::new();
                t["name"] = value(&cap.name);
                t["kind"] = value(&cap.kind);
                t["version"] = value(&cap.version);
                t["interfaces"] = value(cap.interfaces.iter().collect::<Array>());
                if !cap.schemes.is_empty() {
                    t["schemes"] = value(cap.schemes.iter().collect::<Array>());
                }
                if !cap.serves.is_empty() {
                    t["serves"] = value(cap.serves.iter().collect::<Array>());
                }
                caps.push(artifact_table(&cap.artifact, t));
            }
            doc["cap"] = Item::ArrayOfTables(caps);
        }
        format!("{HEADER}{doc}")
    }

    /// Reads a manifest strictly: every key known and of its type, no row twice. All the
    /// problems are reported, each as `origin:line: key: what is wrong`.
    pub fn parse(origin: &str, text: &str) -> Result<Manifest> {
        // `Document` keeps the spans that `DocumentMut` drops; they give the lines.
        let doc = Document::parse(text)
            .map_err(|e| anyhow!("{origin}:{}: not valid TOML: {}", line_at(text, e.span()), e.message()))?;
        let mut r = Reader { text, problems: Vec::new() };
        let root = doc.as_table();
        // A manifest of another schema has other keys: its version is all there is to say.
        if let Some(schema) = r.integer(root, "", "schema")
            && schema != SCHEMA
        {
            r.problem(root.get("schema").and_then(Item::span), "schema", format!("unsupported schema {schema} (this xtask reads schema {SCHEMA})"));
        }
        if !r.problems.is_empty() {
            return Err(r.into_error(origin));
        }
        r.known_keys(root, "", &["schema", "profile", "pylon_sha256", "pins", "dynlink", "snapshot", "artifact", "cap"]);
        let profile = r.string(root, "", "profile");
        let pylon_sha256 = r.sha256(root, "", "pylon_sha256", false);

        let pins = match r.table(root, "", "pins") {
            Some(t) => {
                r.known_keys(t, "pins", &["rust", "zig", "zig_sha256", "cpython", "cpython_sha256", "source_date_epoch", "adapter"]);
                Some(Pins {
                    rust: r.string(t, "pins", "rust"),
                    zig: r.string(t, "pins", "zig"),
                    zig_sha256: r.sha256(t, "pins", "zig_sha256", false),
                    cpython: r.string(t, "pins", "cpython"),
                    cpython_sha256: r.sha256(t, "pins", "cpython_sha256", false),
                    source_date_epoch: r.count(t, "pins", "source_date_epoch"),
                    adapter: r.string(t, "pins", "adapter"),
                })
            }
            None => None,
        };

        let dynlink = match root.get("dynlink") {
            None => None,
            Some(_) => r.table(root, "", "dynlink").map(|t| {
                r.known_keys(t, "dynlink", &["plan", "plan_sha256", "serve"]);
                let serve = match r.table(t, "dynlink", "serve") {
                    // Its keys are the ids: any name is one.
                    Some(serve) => serve
                        .iter()
                        .map(|(id, _)| (id.to_owned(), r.string(serve, "dynlink.serve", id)))
                        .collect(),
                    None => Vec::new(),
                };
                DynlinkRow { plan: r.string(t, "dynlink", "plan"), plan_sha256: r.sha256(t, "dynlink", "plan_sha256", false), serve }
            }),
        };

        let snapshot = match root.get("snapshot") {
            None => None,
            Some(_) => r.table(root, "", "snapshot").map(|t| {
                r.known_keys(t, "snapshot", &["hash_seed_policy", "hash_seed", "prewarm"]);
                SnapshotRow {
                    hash_seed_policy: r.string(t, "snapshot", "hash_seed_policy"),
                    hash_seed: t.get("hash_seed").map(|_| r.count(t, "snapshot", "hash_seed")),
                    prewarm: r.strings(t, "snapshot", "prewarm", true),
                }
            }),
        };

        let artifact_tables = r.rows(root, "artifact");
        r.unique_names(&artifact_tables, "artifact");
        let artifacts = artifact_tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = format!("artifact[{i}]");
                r.known_keys(t, &at, &["name", "path", "sha256", "size"]);
                r.artifact(t, &at, false)
            })
            .collect();

        let cap_tables = r.rows(root, "cap");
        r.unique_names(&cap_tables, "cap");
        let caps = cap_tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = format!("cap[{i}]");
                r.known_keys(t, &at, &["name", "kind", "version", "interfaces", "schemes", "serves", "path", "sha256", "size"]);
                let kind = r.string(t, &at, "kind");
                let parsed = Kind::parse(&kind);
                if parsed.is_none() && t.get("kind").is_some_and(Item::is_str) {
                    let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                    r.problem(t.get("kind").and_then(Item::span), &format!("{at}.kind"), format!("unknown kind `{kind}` (expected one of {})", known.join(", ")));
                }
                // The same rules as a cap's Cargo.toml (caps.rs): only mux caps have schemes,
                // only dynlink caps serve ids.
                for (key, only) in [("schemes", Kind::Mux), ("serves", Kind::Dynlink)] {
                    if let Some(item) = t.get(key)
                        && parsed.is_some_and(|k| k != only)
                    {
                        r.problem(item.span(), &format!("{at}.{key}"), format!("only {} caps take `{key}`", only.name()));
                    }
                }
                // A cap row is its artifact's row too, with the same `name`.
                let artifact = r.artifact(t, &at, true);
                CapRow {
                    name: artifact.name.clone(),
                    kind,
                    version: r.string(t, &at, "version"),
                    interfaces: r.strings(t, &at, "interfaces", true),
                    schemes: r.strings(t, &at, "schemes", false),
                    serves: r.strings(t, &at, "serves", false),
                    artifact,
                }
            })
            .collect();

        match pins {
            Some(pins) if r.problems.is_empty() => Ok(Manifest { profile, pins, artifacts, caps, dynlink, snapshot, pylon_sha256 }),
            _ => Err(r.into_error(origin)),
        }
    }

    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {} (run `cargo xtask build`)", path.display()))?;
        Manifest::parse(&path.display().to_string(), &text)
    }

    /// The `pylon.wasm` artifact, which `pylon_sha256` names.
    pub fn pylon(&self) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.name == "pylon")
    }
}

fn artifact_table(a: &Artifact, mut t: Table) -> Table {
    if t.is_empty() {
        t["name"] = value(&a.name);
    }
    t["path"] = value(&a.path);
    t["sha256"] = value(&a.sha256);
    t["size"] = value(a.size as i64);
    t
}

/// The 1-based line of a byte offset of `text` (line 1 when the span is unknown).
fn line_at(text: &str, span: Option<Range<usize>>) -> usize {
    span.map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1)
}

/// `a string`, `an integer`, ...: a type as a message names it.
fn a(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

fn key_path(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

/// Reads typed fields out of a parsed manifest and collects what is wrong, with the line
/// of the offending key or value. A wrong field reads as empty: `parse` fails anyway.
struct Reader<'a> {
    text: &'a str,
    /// (line, "key: message")
    problems: Vec<(usize, String)>,
}

impl Reader<'_> {
    fn problem(&mut self, span: Option<Range<usize>>, key: &str, message: String) {
        self.problems.push((line_at(self.text, span), format!("{key}: {message}")));
    }

    fn into_error(mut self, origin: &str) -> anyhow::Error {
        self.problems.sort_by_key(|(line, _)| *line);
        let lines: Vec<String> = self.problems.iter().map(|(line, p)| format!("{origin}:{line}: {p}")).collect();
        anyhow!("{origin} is not a valid manifest:\n{}", lines.join("\n"))
    }

    /// Every key of `t` must be one of `known`.
    fn known_keys(&mut self, t: &Table, at: &str, known: &[&str]) {
        for (key, item) in t.iter() {
            if !known.contains(&key) {
                let span = t.key(key).and_then(|k| k.span()).or_else(|| item.span());
                self.problem(span, &key_path(at, key), format!("unknown key (expected one of {})", known.join(", ")));
            }
        }
    }

    /// `t[key]`, or a problem on the line of `t`'s header.
    fn required<'t>(&mut self, t: &'t Table, at: &str, key: &str) -> Option<&'t Item> {
        let item = t.get(key);
        if item.is_none() {
            self.problem(t.span(), &key_path(at, key), "missing".to_owned());
        }
        item
    }

    fn expected(&mut self, item: &Item, at: &str, key: &str, what: &str) {
        self.problem(item.span(), &key_path(at, key), format!("expected {what}, found {}", a(item.type_name())));
    }

    fn string(&mut self, t: &Table, at: &str, key: &str) -> String {
        let item = self.required(t, at, key);
        match item.map(|i| (i, i.as_str())) {
            Some((_, Some(s))) => s.to_owned(),
            Some((item, None)) => {
                self.expected(item, at, key, "a string");
                String::new()
            }
            None => String::new(),
        }
    }

    fn integer(&mut self, t: &Table, at: &str, key: &str) -> Option<i64> {
        let item = self.required(t, at, key)?;
        let n = item.as_integer();
        if n.is_none() {
            self.expected(item, at, key, "an integer");
        }
        n
    }

    /// A size or a time: an integer that is not negative.
    fn count(&mut self, t: &Table, at: &str, key: &str) -> u64 {
        match self.integer(t, at, key).map(u64::try_from) {
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                let n = t[key].as_integer().unwrap_or_default();
                self.problem(t[key].span(), &key_path(at, key), format!("expected a non-negative integer, found {n}"));
                0
            }
            None => 0,
        }
    }

    /// 64 lowercase hex digits; cap rows of a `--caps` build may say `placeholder`.
    fn sha256(&mut self, t: &Table, at: &str, key: &str, placeholder_ok: bool) -> String {
        let s = self.string(t, at, key);
        let hex = s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex && !(placeholder_ok && s == PLACEHOLDER) && t.get(key).is_some_and(Item::is_str) {
            let also = if placeholder_ok { format!(" or `{PLACEHOLDER}`") } else { String::new() };
            self.problem(t[key].span(), &key_path(at, key), format!("expected 64 lowercase hex digits{also}, found `{s}`"));
        }
        s
    }

    fn strings(&mut self, t: &Table, at: &str, key: &str, required: bool) -> Vec<String> {
        let item = if required { self.required(t, at, key) } else { t.get(key) };
        let Some(item) = item else { return Vec::new() };
        let Some(array) = item.as_array() else {
            self.expected(item, at, key, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, v) in array.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.problem(v.span(), &format!("{}[{i}]", key_path(at, key)), format!("expected a string, found {}", a(v.type_name()))),
            }
        }
        out
    }

    fn table<'t>(&mut self, t: &'t Table, at: &str, key: &str) -> Option<&'t Table> {
        let item = self.required(t, at, key)?;
        let table = item.as_table();
        if table.is_none() {
            self.expected(item, at, key, &format!("a table ([{}])", key_path(at, key)));
        }
        table
    }

    /// The `[[key]]` rows of `t`, none when absent.
    fn rows<'t>(&mut self, t: &'t Table, key: &str) -> Vec<&'t Table> {
        match t.get(key) {
            None => Vec::new(),
            Some(Item::ArrayOfTables(rows)) => rows.iter().collect(),
            Some(item) => {
                self.expected(item, "", key, &format!("an array of tables ([[{key}]])"));
                Vec::new()
            }
        }
    }

    /// No two rows of one kind share a name: verify would count the second as a cap too.
    fn unique_names(&mut self, rows: &[&Table], what: &str) {
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, t) in rows.iter().enumerate() {
            let Some((name, span)) = t.get("name").and_then(|n| Some((n.as_str()?, n.span()))) else { continue };
            match seen.iter().find(|(n, _)| *n == name) {
                Some(&(_, first)) => self.problem(span, &format!("{what}[{i}].name"), format!("duplicate {what} `{name}` (first at line {first})")),
                None => seen.push((name, line_at(self.text, span))),
            }
        }
    }

    fn artifact(&mut self, t: &Table, at: &str, placeholder_ok: bool) -> Artifact {
        Artifact {
            name: self.string(t, at, "name"),
            path: self.string(t, at, "path"),
            sha256: self.sha256(t, at, "sha256", placeholder_ok),
            size: self.count(t, at, "size"),
        }
    }
}

#[cfg(test)]
impl Pins {
    /// Pins of the right shape for tests.
    pub fn sample() -> Pins {
        Pins {
            rust: "1".into(),
            zig: "2".into(),
            zig_sha256: "cd".repeat(32),
            cpython: "3".into(),
            cpython_sha256: "ef".repeat(32),
            source_date_epoch: 5,
            adapter: "a".into(),
        }
    }
}

/// The manifest with hashes and sizes blanked: what the shape snapshot looks at.
#[cfg(test)]
pub fn redacted(text: &str) -> String {
    text.lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if key.ends_with("sha256") && !key.starts_with('#') {
                format!("{key} = \"<sha256>\"")
            } else if key == "size" {
                "size = <size>".to_owned()
            } else if key == "hash_seed" {
                // Derived from the snapshot's stage key: it moves with every input.
                "hash_seed = <seed>".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    /// The committed manifest's shape: any change to its fields, artifacts or caps shows
    /// up here and has to be accepted in review (`cargo insta review`).
    #[test]
    fn committed_manifest_shape() {
        let text = std::fs::read_to_string(root().join("caps-manifest.toml")).unwrap();
        insta::assert_snapshot!(redacted(&text));
    }

    /// The committed manifest is exactly what `render` writes for its own contents.
    #[test]
    fn committed_manifest_round_trips() {
        let text = std::fs::read_to_string(root().join("caps-manifest.toml")).unwrap();
        let manifest = Manifest::parse("caps-manifest.toml", &text).unwrap();
        assert_eq!(manifest.render(), text);
        assert_eq!(Some(&manifest.pylon_sha256), manifest.pylon().map(|a| &a.sha256));
    }

    #[test]
    fn caps_render_and_parse() {
        let artifact = |name: &str| Artifact { name: name.into(), path: format!("build/{name}"), sha256: "ab".repeat(32), size: 7 };
        let manifest = Manifest {
            profile: "release".into(),
            pins: Pins::sample(),
            artifacts: vec![artifact("pylon")],
            caps: vec![CapRow {
                name: "zlib".into(),
                kind: "static".into(),
                version: "0.1.0".into(),
                interfaces: vec!["pylon:zlib/zlib".into()],
                schemes: vec![],
                serves: vec![],
                artifact: artifact("zlib"),
            },
            CapRow {
                name: "ids".into(),
                kind: "mux".into(),
                version: "0.1.0".into(),
                interfaces: vec!["pylon:ids/ids@0.1.0".into()],
                schemes: vec!["ulid".into(), "uuid7".into()],
                serves: vec![],
                artifact: Artifact { sha256: PLACEHOLDER.into(), size: 0, ..artifact("ids") },
            },
            CapRow {
                name: "crc".into(),
                kind: "dynlink".into(),
                version: "0.1.0".into(),
                interfaces: vec!["pylon:dynlink/endpoint@0.1.0".into()],
                schemes: vec![],
                serves: vec!["crc32c".into()],
                artifact: artifact("crc"),
            }],
            dynlink: Some(DynlinkRow { plan: "caps/dynlink/plan.toml".into(), plan_sha256: "12".repeat(32), serve: vec![("crc32c".into(), "crc".into())] }),
            snapshot: Some(SnapshotRow { hash_seed_policy: "per-build".into(), hash_seed: Some(1234567), prewarm: vec!["json".into(), "re".into()] }),
            pylon_sha256: "ab".repeat(32),
        };
        assert_eq!(Manifest::parse("rendered", &manifest.render()).unwrap(), manifest);
    }

    /// The committed manifest with the `nth` (0-based) `from` replaced by `to`.
    fn edited(nth: usize, from: &str, to: &str) -> String {
        let text = std::fs::read_to_string(root().join("caps-manifest.toml")).unwrap();
        let at = text.match_indices(from).nth(nth).unwrap_or_else(|| panic!("no {from:?} #{nth}")).0;
        format!("{}{to}{}", &text[..at], &text[at + from.len()..])
    }

    /// The 1-based line of the `nth` `needle` in `text`.
    fn line(text: &str, nth: usize, needle: &str) -> usize {
        let at = text.match_indices(needle).nth(nth).unwrap().0;
        text[..at].matches('\n').count() + 1
    }

    fn problems(text: &str) -> String {
        format!("{:#}", Manifest::parse("caps-manifest.toml", text).unwrap_err())
    }

    /// A type error says which key, on which line, and what it is instead: before,
    /// `schema = "1"` read as "schema None".
    #[test]
    fn type_errors_name_the_key_and_the_line() {
        let text = edited(0, "schema = 1", "schema = \"1\"");
        assert_eq!(
            problems(&text),
            format!("caps-manifest.toml is not a valid manifest:\ncaps-manifest.toml:{}: schema: expected an integer, found a string", line(&text, 0, "schema ="))
        );
        // The first cap's size comes after every artifact's.
        let artifacts = std::fs::read_to_string(root().join("caps-manifest.toml")).unwrap().matches("[[artifact]]").count();
        for (nth, from, to, key, what) in [
            (artifacts, "size = ", "size = \"7\" #", "cap[0].size", "expected an integer, found a string"),
            (0, "size = ", "size = 1.5 #", "artifact[0].size", "expected an integer, found a float"),
            (2, "interfaces = [", "interfaces = \"pylon:ids\" #", "cap[2].interfaces", "expected an array of strings, found a string"),
            (0, "source_date_epoch = ", "source_date_epoch = \"now\" #", "pins.source_date_epoch", "expected an integer, found a string"),
            (0, "profile = \"release\"", "profile = true", "profile", "expected a string, found a boolean"),
            (0, "crc32c = ", "crc32c = 1 #", "dynlink.serve.crc32c", "expected a string, found an integer"),
            (1, "name = ", "name = [\"stdlib\"] #", "artifact[1].name", "expected a string, found an array"),
            (0, "rust = ", "rust = {} #", "pins.rust", "expected a string, found an inline table"),
        ] {
            let text = edited(nth, from, to);
            let want = format!("caps-manifest.toml:{}: {key}: {what}", line(&text, 0, to));
            assert!(problems(&text).ends_with(&format!("\n{want}")), "{to}: {}", problems(&text));
        }
        let text = edited(0, "interfaces = [", "interfaces = [2, ");
        assert!(problems(&text).ends_with(&format!(":{}: cap[0].interfaces[0]: expected a string, found an integer", line(&text, 0, "[2, "))));
        let text = edited(4, "sha256 = \"", "sha256 = \"XYZ");
        assert!(problems(&text).contains(": artifact[0].sha256: expected 64 lowercase hex digits, found `XYZ"), "{}", problems(&text));
    }

    /// A size is never negative: before, `size = -1` passed verify.
    #[test]
    fn negative_sizes_are_schema_errors() {
        let text = edited(2, "size = ", "size = -1 #");
        assert!(problems(&text).ends_with(&format!(":{}: artifact[2].size: expected a non-negative integer, found -1", line(&text, 0, "size = -1"))), "{}", problems(&text));
    }

    /// Before, a second `[[cap]]` row of the same cap counted twice in "caps OK".
    #[test]
    fn duplicate_rows_are_errors() {
        let text = std::fs::read_to_string(root().join("caps-manifest.toml")).unwrap();
        let last_cap = &text[text.rfind("[[cap]]").unwrap()..];
        let doubled = format!("{text}\n{last_cap}");
        let name = last_cap.lines().nth(1).unwrap();
        let cap = name.trim_start_matches("name = ").trim_matches('"');
        let count = text.matches("[[cap]]").count();
        assert_eq!(
            problems(&doubled).lines().last().unwrap(),
            format!("caps-manifest.toml:{}: cap[{count}].name: duplicate cap `{cap}` (first at line {})", line(&doubled, 1, name), line(&doubled, 0, name))
        );

        let text = edited(0, "name = \"stdlib\"", "name = \"core\"");
        assert!(problems(&text).ends_with(&format!(":{}: artifact[1].name: duplicate artifact `core` (first at line {})", line(&text, 1, "name = \"core\""), line(&text, 0, "name = \"core\""))), "{}", problems(&text));
    }

    #[test]
    fn kinds_are_those_of_caps() {
        let text = edited(0, "kind = \"static\"", "kind = \"bogus\"");
        assert!(
            problems(&text).ends_with(&format!(":{}: cap[5].kind: unknown kind `bogus` (expected one of static, mux, dynlink, host)", line(&text, 0, "bogus"))),
            "{}",
            problems(&text)
        );
        // What a kind allows follows it, as in a cap's Cargo.toml.
        let text = edited(0, "serves = [", "schemes = [\"x\"]\nserves = [");
        assert!(problems(&text).ends_with(&format!(":{}: cap[0].schemes: only mux caps take `schemes`", line(&text, 0, "schemes = [\"x\"]"))), "{}", problems(&text));
    }

    /// Unknown keys anywhere are errors, all reported at once, in the order of the file.
    #[test]
    fn unknown_keys_are_errors() {
        let text = std::fs::read_to_string(root().join("caps-manifest.toml")).unwrap();
        let text = text
            .replacen("profile = ", "colour = \"red\"\nprofile = ", 1)
            .replacen("zig = ", "zag = 1\nzig = ", 1)
            .replacen("plan = ", "plan_name = \"x\"\nplan = ", 1)
            .replacen("path = \"build/release/core.wasm\"", "path = \"build/release/core.wasm\"\nmtime = 3", 1)
            .replacen("kind = \"mux\"", "kind = \"mux\"\nschema = 1", 1)
            .replacen("[[artifact]]", "[extra]\nx = 1\n\n[[artifact]]", 1);
        let want = [
            ("colour", "colour"),
            ("zag", "pins.zag"),
            ("plan_name", "dynlink.plan_name"),
            ("[extra]", "extra"),
            ("mtime", "artifact[0].mtime"),
            ("schema = 1\nversion", "cap[3].schema"),
        ];
        let got = problems(&text);
        let lines: Vec<&str> = got.lines().skip(1).collect();
        assert_eq!(lines.len(), want.len(), "{got}");
        for (got, (needle, key)) in lines.iter().zip(want) {
            assert!(got.starts_with(&format!("caps-manifest.toml:{}: {key}: unknown key (expected one of ", line(&text, 0, needle))), "{got}");
        }
    }

    /// A missing key points at the header of its table.
    #[test]
    fn missing_keys_point_at_their_table() {
        let text = edited(0, "path = \"build/release/lib/python3.13/\"\n", "");
        assert!(problems(&text).ends_with(&format!(":{}: artifact[1].path: missing", line(&text, 1, "[[artifact]]"))), "{}", problems(&text));
        let text = edited(0, "name = \"zlib\"\n", "");
        assert_eq!(problems(&text).lines().skip(1).collect::<Vec<_>>(), [format!("caps-manifest.toml:{}: cap[5].name: missing", line(&text, 5, "[[cap]]"))]);
        let text = edited(0, "adapter = ", "# adapter = ");
        assert!(problems(&text).ends_with(&format!(":{}: pins.adapter: missing", line(&text, 0, "[pins]"))), "{}", problems(&text));
    }

    #[test]
    fn other_schemas_and_broken_toml_are_reported_by_line() {
        let text = edited(0, "schema = 1", "schema = 2\nfuture = true");
        assert_eq!(problems(&text).lines().nth(1).unwrap(), format!("caps-manifest.toml:{}: schema: unsupported schema 2 (this xtask reads schema 1)", line(&text, 0, "schema")));
        let text = edited(0, "[pins]", "[pins");
        assert!(problems(&text).starts_with(&format!("caps-manifest.toml:{}: not valid TOML: ", line(&text, 0, "[pins"))), "{}", problems(&text));
    }
}
