//! Stage 6: `caps-manifest.toml`, the record of what a build produced from which pins.
//! It is committed, so every change to the artifacts is reviewed; `verify` checks the disk
//! against it.

use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};

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
    pub pylon_sha256: String,
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

    pub fn parse(text: &str) -> Result<Manifest> {
        let doc: DocumentMut = text.parse().context("not valid TOML")?;
        let schema = doc.get("schema").and_then(Item::as_integer);
        if schema != Some(SCHEMA) {
            bail!("schema {schema:?} is not the supported schema {SCHEMA}");
        }
        let pins = doc.get("pins").and_then(Item::as_table).ok_or_else(|| anyhow!("no [pins] table"))?;
        let tables = |name: &str| -> Vec<Table> {
            doc.get(name).and_then(Item::as_array_of_tables).map(|a| a.iter().cloned().collect()).unwrap_or_default()
        };
        let artifacts = tables("artifact").iter().map(parse_artifact).collect::<Result<_>>()?;
        let caps = tables("cap")
            .iter()
            .map(|t| {
                Ok(CapRow {
                    name: str_field(t, "name")?,
                    kind: str_field(t, "kind")?,
                    version: str_field(t, "version")?,
                    interfaces: strings(t, "interfaces"),
                    schemes: strings(t, "schemes"),
                    serves: strings(t, "serves"),
                    artifact: parse_artifact(t)?,
                })
            })
            .collect::<Result<_>>()?;
        let dynlink = match doc.get("dynlink").and_then(Item::as_table) {
            None => None,
            Some(t) => Some(DynlinkRow {
                plan: str_field(t, "plan")?,
                plan_sha256: str_field(t, "plan_sha256")?,
                serve: t
                    .get("serve")
                    .and_then(Item::as_table)
                    .ok_or_else(|| anyhow!("[dynlink] needs a `serve` table"))?
                    .iter()
                    .map(|(id, p)| Ok((id.to_owned(), p.as_str().ok_or_else(|| anyhow!("[dynlink.serve] {id} is not a string"))?.to_owned())))
                    .collect::<Result<_>>()?,
            }),
        };
        Ok(Manifest {
            dynlink,
            profile: str_field(doc.as_table(), "profile")?,
            pylon_sha256: str_field(doc.as_table(), "pylon_sha256")?,
            pins: Pins {
                rust: str_field(pins, "rust")?,
                zig: str_field(pins, "zig")?,
                zig_sha256: str_field(pins, "zig_sha256")?,
                cpython: str_field(pins, "cpython")?,
                cpython_sha256: str_field(pins, "cpython_sha256")?,
                source_date_epoch: pins.get("source_date_epoch").and_then(Item::as_integer).unwrap_or(0) as u64,
                adapter: str_field(pins, "adapter")?,
            },
            artifacts,
            caps,
        })
    }

    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {} (run `cargo xtask build`)", path.display()))?;
        Manifest::parse(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
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

fn parse_artifact(t: &Table) -> Result<Artifact> {
    Ok(Artifact {
        name: str_field(t, "name")?,
        path: str_field(t, "path")?,
        sha256: str_field(t, "sha256")?,
        size: t.get("size").and_then(Item::as_integer).ok_or_else(|| anyhow!("`size` missing"))? as u64,
    })
}

fn strings(t: &Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn str_field(t: &Table, key: &str) -> Result<String> {
    t.get(key).and_then(Item::as_str).map(str::to_owned).ok_or_else(|| anyhow!("`{key}` missing or not a string"))
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
        let manifest = Manifest::parse(&text).unwrap();
        assert_eq!(manifest.render(), text);
        assert_eq!(Some(&manifest.pylon_sha256), manifest.pylon().map(|a| &a.sha256));
    }

    #[test]
    fn caps_render_and_parse() {
        let artifact = |name: &str| Artifact { name: name.into(), path: format!("build/{name}"), sha256: "ab".repeat(32), size: 7 };
        let manifest = Manifest {
            profile: "release".into(),
            pins: Pins {
                rust: "1".into(),
                zig: "2".into(),
                zig_sha256: "cd".repeat(32),
                cpython: "3".into(),
                cpython_sha256: "ef".repeat(32),
                source_date_epoch: 5,
                adapter: "a".into(),
            },
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
                name: "crc".into(),
                kind: "dynlink".into(),
                version: "0.1.0".into(),
                interfaces: vec!["pylon:dynlink/endpoint@0.1.0".into()],
                schemes: vec![],
                serves: vec!["crc32c".into()],
                artifact: artifact("crc"),
            }],
            dynlink: Some(DynlinkRow { plan: "caps/dynlink/plan.toml".into(), plan_sha256: "12".repeat(32), serve: vec![("crc32c".into(), "crc".into())] }),
            pylon_sha256: "ab".repeat(32),
        };
        assert_eq!(Manifest::parse(&manifest.render()).unwrap(), manifest);
    }
}
