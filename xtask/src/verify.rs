//! Stage 7: verify. Never builds: recomputes the sha256 of every artifact on disk and
//! compares with the manifest.

use anyhow::Result;
use std::path::Path;

use crate::digest::sha256_file;
use crate::manifest::{Artifact, Manifest, PLACEHOLDER};

#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Ok,
    Missing,
    Drifted { actual: String },
    /// A cap row for a cap that this build left out.
    Placeholder,
}

impl Status {
    fn word(&self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Missing => "MISSING",
            Status::Drifted { .. } => "DRIFTED",
            Status::Placeholder => "PLACEHOLDER",
        }
    }

    fn is_failure(&self) -> bool {
        matches!(self, Status::Missing | Status::Drifted { .. })
    }
}

pub struct Report {
    pub artifacts: Vec<(Artifact, Status)>,
    pub caps: Vec<(Artifact, Status)>,
    pub pylon: Status,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.artifacts.iter().chain(&self.caps).any(|(_, s)| s.is_failure()) && !self.pylon.is_failure()
    }

    pub fn count_caps(&self, want: fn(&Status) -> bool) -> usize {
        self.caps.iter().filter(|(_, s)| want(s)).count()
    }

    pub fn print(&self) {
        for (a, status) in &self.artifacts {
            println!("artifact {}: {} ({})", a.name, status.word(), a.path);
            explain(a, status);
        }
        for (a, status) in &self.caps {
            println!("cap {}: {} ({})", a.name, status.word(), a.path);
            explain(a, status);
        }
        println!("caps OK: {}", self.count_caps(|s| *s == Status::Ok));
        println!("caps placeholder: {}", self.count_caps(|s| *s == Status::Placeholder));
        println!("caps missing: {}", self.count_caps(|s| *s == Status::Missing));
        println!("caps drifted: {}", self.count_caps(|s| matches!(s, Status::Drifted { .. })));
        let pylon = if self.pylon == Status::Ok { "OK" } else { "MISMATCH" };
        println!("pylon_sha256 status: {pylon}");
    }

    pub fn json(&self) -> serde_json::Value {
        let rows = |rows: &[(Artifact, Status)]| -> Vec<serde_json::Value> {
            rows.iter()
                .map(|(a, s)| {
                    serde_json::json!({
                        "name": a.name, "path": a.path, "status": s.word(), "expected_sha256": a.sha256,
                        "actual_sha256": match s { Status::Drifted { actual } => Some(actual.as_str()), Status::Ok => Some(a.sha256.as_str()), _ => None },
                    })
                })
                .collect()
        };
        serde_json::json!({
            "ok": self.ok(),
            "artifacts": rows(&self.artifacts),
            "caps": rows(&self.caps),
            "caps_ok": self.count_caps(|s| *s == Status::Ok),
            "caps_placeholder": self.count_caps(|s| *s == Status::Placeholder),
            "caps_missing": self.count_caps(|s| *s == Status::Missing),
            "caps_drifted": self.count_caps(|s| matches!(s, Status::Drifted { .. })),
            "pylon_sha256_status": if self.pylon == Status::Ok { "OK" } else { "MISMATCH" },
        })
    }
}

fn explain(a: &Artifact, status: &Status) {
    match status {
        Status::Drifted { actual } => println!("    expected sha256 {}\n    actual   sha256 {actual}", a.sha256),
        Status::Missing => println!("    {} does not exist (run `cargo xtask build`)", a.path),
        _ => {}
    }
}

pub fn check(root: &Path, manifest: &Manifest) -> Result<Report> {
    let status = |a: &Artifact| -> Result<Status> {
        if a.sha256 == PLACEHOLDER {
            return Ok(Status::Placeholder);
        }
        let path = root.join(&a.path);
        if !path.exists() {
            return Ok(Status::Missing);
        }
        let actual = sha256_file(&path)?;
        Ok(if actual == a.sha256 { Status::Ok } else { Status::Drifted { actual } })
    };
    let artifacts = manifest.artifacts.iter().map(|a| Ok((a.clone(), status(a)?))).collect::<Result<Vec<_>>>()?;
    let caps = manifest.caps.iter().map(|c| Ok((c.artifact.clone(), status(&c.artifact)?))).collect::<Result<Vec<_>>>()?;
    let pylon = match manifest.pylon() {
        Some(a) if a.sha256 == manifest.pylon_sha256 => artifacts
            .iter()
            .find(|(x, _)| x.name == "pylon")
            .map(|(_, s)| s.clone())
            .unwrap_or(Status::Missing),
        _ => Status::Drifted { actual: String::new() },
    };
    Ok(Report { artifacts, caps, pylon })
}
