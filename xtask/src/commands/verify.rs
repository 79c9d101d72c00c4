//! Stage 7: verify. Never builds: recomputes the sha256 and size of every artifact on disk
//! and compares with the manifest, and checks that `build/pylon.wasm` (what the runner
//! runs) is the manifest's `pylon`. Whatever a manifest says, it reads only regular files
//! under `build/`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::helpers::digest::sha256_reader;
use crate::helpers::layout::{Layout, Profile};
use crate::stages::manifest::{Artifact, Manifest, PLACEHOLDER};
use std::process::ExitCode;

/// The link the build points at the default build's `pylon.wasm` and the runner resolves.
pub const DEFAULT_LINK: &str = "build/pylon.wasm";

#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Ok,
    Missing,
    /// Other bytes. `actual` is empty for a `pylon_sha256` that names no pylon artifact.
    Drifted { actual: String, actual_size: u64 },
    /// The bytes hash as recorded but the length is not the manifest's `size`.
    SizeMismatch { actual: u64 },
    /// The path leads out of `build/` (after `..` and symlinks): never read.
    Outside { resolved: String },
    /// A directory, FIFO or device: never read, since reading it may block or never end.
    NotAFile,
    Unreadable { error: String },
    /// A cap row for a cap that this build left out.
    Placeholder,
}

impl Status {
    fn word(&self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Missing => "MISSING",
            Status::Drifted { .. } => "DRIFTED",
            Status::SizeMismatch { .. } => "SIZE_MISMATCH",
            Status::Outside { .. } => "OUTSIDE",
            Status::NotAFile => "NOT_A_FILE",
            Status::Unreadable { .. } => "UNREADABLE",
            Status::Placeholder => "PLACEHOLDER",
        }
    }

    fn is_failure(&self) -> bool {
        !matches!(self, Status::Ok | Status::Placeholder)
    }

    /// Failures other than missing or drifted files: the manifest or `build/` is broken.
    fn is_invalid(&self) -> bool {
        matches!(self, Status::SizeMismatch { .. } | Status::Outside { .. } | Status::NotAFile | Status::Unreadable { .. })
    }

    fn actual_size(&self, a: &Artifact) -> Option<u64> {
        match self {
            Status::Ok => Some(a.size),
            Status::Drifted { actual_size, .. } => Some(*actual_size),
            Status::SizeMismatch { actual } => Some(*actual),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LinkStatus {
    Ok,
    Missing,
    /// Resolves to another file than the manifest's `pylon` artifact (or to nothing).
    Mispointed,
}

/// Where `build/pylon.wasm` leads.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub path: String,
    /// What the symlink says; `None` when it is no symlink.
    pub target: Option<String>,
    pub status: LinkStatus,
}

impl Link {
    fn word(&self) -> &'static str {
        match self.status {
            LinkStatus::Ok => "OK",
            LinkStatus::Missing => "MISSING",
            LinkStatus::Mispointed => "MISPOINTED",
        }
    }

    fn pointing(&self) -> String {
        match (&self.status, &self.target) {
            (LinkStatus::Missing, _) => "does not exist".to_owned(),
            (_, Some(target)) => format!("-> {target}"),
            (_, None) => "not a symlink".to_owned(),
        }
    }
}

pub struct Report {
    pub artifacts: Vec<(Artifact, Status)>,
    pub caps: Vec<(Artifact, Status)>,
    pub pylon: Status,
    /// Checked for the default release build only: other builds do not own the link.
    pub link: Option<Link>,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.artifacts.iter().chain(&self.caps).any(|(_, s)| s.is_failure())
            && !self.pylon.is_failure()
            && self.link.as_ref().is_none_or(|l| l.status == LinkStatus::Ok)
    }

    pub fn count_caps(&self, want: fn(&Status) -> bool) -> usize {
        self.caps.iter().filter(|(_, s)| want(s)).count()
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let rows = self.artifacts.iter().map(|r| ("artifact", r)).chain(self.caps.iter().map(|r| ("cap", r)));
        for (what, (a, status)) in rows {
            out += &format!("{what} {}: {} ({})\n", a.name, status.word(), a.path);
            out += &explain(a, status);
        }
        out += &format!("caps OK: {}\n", self.count_caps(|s| *s == Status::Ok));
        out += &format!("caps placeholder: {}\n", self.count_caps(|s| *s == Status::Placeholder));
        out += &format!("caps missing: {}\n", self.count_caps(|s| *s == Status::Missing));
        out += &format!("caps drifted: {}\n", self.count_caps(|s| matches!(s, Status::Drifted { .. })));
        out += &format!("caps invalid: {}\n", self.count_caps(Status::is_invalid));
        let pylon = if self.pylon == Status::Ok { "OK" } else { "MISMATCH" };
        out += &format!("pylon_sha256 status: {pylon}\n");
        if let Some(link) = &self.link {
            out += &format!("link {}: {} ({})\n", link.path, link.word(), link.pointing());
        }
        out
    }

    /// The text report on stdout.
    pub fn print(&self) -> io::Result<()> {
        emit(&self.text())
    }

    pub fn json(&self) -> serde_json::Value {
        let rows = |rows: &[(Artifact, Status)]| -> Vec<serde_json::Value> {
            rows.iter()
                .map(|(a, s)| {
                    let mut row = serde_json::json!({
                        "name": a.name, "path": a.path, "status": s.word(), "expected_sha256": a.sha256,
                        "actual_sha256": match s { Status::Drifted { actual, .. } => Some(actual.as_str()), Status::Ok | Status::SizeMismatch { .. } => Some(a.sha256.as_str()), _ => None },
                        "expected_size": a.size, "actual_size": s.actual_size(a),
                    });
                    match s {
                        Status::Outside { resolved } => row["resolved"] = resolved.as_str().into(),
                        Status::Unreadable { error } => row["error"] = error.as_str().into(),
                        _ => {}
                    }
                    row
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
            "caps_invalid": self.count_caps(Status::is_invalid),
            "pylon_sha256_status": if self.pylon == Status::Ok { "OK" } else { "MISMATCH" },
            "link": self.link.as_ref().map(|l| serde_json::json!({ "path": l.path, "status": l.word(), "target": l.target })),
        })
    }
}

fn explain(a: &Artifact, status: &Status) -> String {
    match status {
        Status::Drifted { actual, actual_size } => {
            let mut s = format!("    expected sha256 {}\n    actual   sha256 {actual}\n", a.sha256);
            if *actual_size != a.size {
                s += &format!("    expected size {}\n    actual   size {actual_size}\n", a.size);
            }
            s
        }
        Status::SizeMismatch { actual } => format!("    expected size {}\n    actual   size {actual}\n", a.size),
        Status::Missing => format!("    {} does not exist (run `cargo xtask build`)\n", a.path),
        Status::Outside { resolved } if *resolved == a.path => format!("    {} is outside build/: not read\n", a.path),
        Status::Outside { resolved } => format!("    {} is outside build/ (it leads to {resolved}): not read\n", a.path),
        Status::NotAFile => format!("    {} is not a regular file: not read\n", a.path),
        Status::Unreadable { error } => format!("    {error}\n"),
        _ => String::new(),
    }
}

/// Writes `text` to stdout. A reader that went away (`verify | head`) is no error: the
/// report's status still decides the exit code.
pub fn emit(text: &str) -> io::Result<()> {
    write_quietly(&mut io::stdout().lock(), text)
}

/// `write_all` and flush, with a broken pipe taken as the end of the output.
pub fn write_quietly(out: &mut impl Write, text: &str) -> io::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

/// `link`: the link to check against the manifest's `pylon` (`Some(DEFAULT_LINK)` for the
/// default release build, whose link the runner follows).
pub fn check(root: &Path, manifest: &Manifest, link: Option<&str>) -> Report {
    let build = root.join("build");
    let status = |a: &Artifact| -> Status {
        if a.sha256 == PLACEHOLDER {
            return Status::Placeholder;
        }
        if a.path.ends_with('/') {
            return check_tree(&build, a, &root.join(&a.path));
        }
        match open_in_build(&build, &root.join(&a.path)) {
            Ok((file, size)) => compare(a, &file, size),
            Err(status) => status,
        }
    };
    let artifacts: Vec<_> = manifest.artifacts.iter().map(|a| (a.clone(), status(a))).collect();
    let caps = manifest.caps.iter().map(|c| (c.artifact.clone(), status(&c.artifact))).collect();
    let pylon = match manifest.pylon() {
        Some(a) if a.sha256 == manifest.pylon_sha256 => artifacts
            .iter()
            .find(|(x, _)| x.name == "pylon")
            .map(|(_, s)| s.clone())
            .unwrap_or(Status::Missing),
        _ => Status::Drifted { actual: String::new(), actual_size: 0 },
    };
    let link = link.map(|path| check_link(root, path, manifest.pylon()));
    Report { artifacts, caps, pylon, link }
}

/// Opens `path` for reading, with its length, if it is a regular file under `build` once
/// `..` and symlinks are resolved. Opened non-blocking and checked on the open file, so
/// that a FIFO, even one swapped in after the path check, cannot stall verify.
fn open_in_build(build: &Path, path: &Path) -> Result<(File, u64), Status> {
    let resolved = resolve_in_build(build, path)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&resolved)
        .map_err(|e| Status::Unreadable { error: format!("cannot open {}: {e}", resolved.display()) })?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok((file, m.len())),
        Ok(_) => Err(Status::NotAFile),
        Err(e) => Err(Status::Unreadable { error: format!("cannot stat {}: {e}", resolved.display()) }),
    }
}

/// A directory artifact (its path ends in `/`): the digest of its tree, which reads only
/// regular files and fails on anything else inside.
fn check_tree(build: &Path, a: &Artifact, path: &Path) -> Status {
    let resolved = match resolve_in_build(build, path) {
        Ok(resolved) => resolved,
        Err(status) => return status,
    };
    if !resolved.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Status::NotAFile;
    }
    match crate::helpers::digest::sha256_tree(&resolved) {
        Ok((actual, size)) if actual != a.sha256 => Status::Drifted { actual, actual_size: size },
        Ok((_, size)) if size != a.size => Status::SizeMismatch { actual: size },
        Ok(_) => Status::Ok,
        Err(e) => Status::Unreadable { error: format!("{e:#}") },
    }
}

/// `path` with `..` and symlinks resolved, if that is under `build`.
fn resolve_in_build(build: &Path, path: &Path) -> Result<PathBuf, Status> {
    let resolved = match path.canonicalize() {
        Ok(resolved) => resolved,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Not there; but only a path that would be inside is merely missing.
            let lexical = normalize(path);
            return Err(if lexical.starts_with(normalize(build)) {
                Status::Missing
            } else {
                Status::Outside { resolved: lexical.display().to_string() }
            });
        }
        Err(e) => return Err(Status::Unreadable { error: format!("cannot resolve {}: {e}", path.display()) }),
    };
    // `build/` itself may be a symlink (a shared build directory): compare resolved paths.
    if !build.canonicalize().is_ok_and(|build| resolved.starts_with(build)) {
        return Err(Status::Outside { resolved: resolved.display().to_string() });
    }
    Ok(resolved)
}

fn compare(a: &Artifact, file: &File, size: u64) -> Status {
    match sha256_reader(file) {
        Ok(actual) if actual != a.sha256 => Status::Drifted { actual, actual_size: size },
        Ok(_) if size != a.size => Status::SizeMismatch { actual: size },
        Ok(_) => Status::Ok,
        Err(e) => Status::Unreadable { error: format!("cannot read {}: {e}", a.path) },
    }
}

/// `path` with `.` and `..` resolved by name, for paths that do not exist.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The link must resolve to the very file of the `pylon` artifact: the runner follows it.
fn check_link(root: &Path, path: &str, pylon: Option<&Artifact>) -> Link {
    let full = root.join(path);
    let target = std::fs::read_link(&full).ok().map(|t| t.display().to_string());
    let status = if full.symlink_metadata().is_err() {
        LinkStatus::Missing
    } else {
        let resolved = full.canonicalize().ok();
        let expected = pylon.and_then(|a| root.join(&a.path).canonicalize().ok());
        if resolved.is_some() && resolved == expected { LinkStatus::Ok } else { LinkStatus::Mispointed }
    };
    Link { path: path.to_owned(), target, status }
}

/// `cargo xtask verify`.
pub fn command(profile: Profile, json: bool) -> anyhow::Result<ExitCode> {
    let layout = Layout::from_env()?;
    let manifest = Manifest::load(&layout.manifest_path(profile))?;
    // The default build's manifest owns `build/pylon.wasm`, the link the runner follows.
    let link = (profile == Profile::Release).then_some(DEFAULT_LINK);
    let report = check(&layout.root, &manifest, link);
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report.json())?))?;
    } else {
        report.print()?;
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helpers::digest::sha256_bytes;
    use crate::stages::manifest::{CapRow, Pins};
    use std::time::Duration;

    /// A repo root of its own under the temp dir, removed when dropped.
    struct Scratch {
        root: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("pylon-verify-{name}-{}", std::process::id()));
            std::fs::remove_dir_all(&dir).ok();
            let root = dir.join("repo");
            std::fs::create_dir_all(root.join("build/release/caps")).unwrap();
            Scratch { root: root.canonicalize().unwrap() }
        }

        /// Writes `bytes` at `rel` and returns the row that describes it.
        fn file(&self, name: &str, rel: &str, bytes: &[u8]) -> Artifact {
            let path = self.root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            Artifact { name: name.into(), path: rel.into(), sha256: sha256_bytes(bytes), size: bytes.len() as u64 }
        }

        /// A build with `core` and `pylon`, and `build/pylon.wasm` pointing at `pylon`.
        fn build(&self, caps: Vec<Artifact>) -> Manifest {
            let core = self.file("core", "build/release/core.wasm", b"core bytes");
            let pylon = self.file("pylon", "build/release/pylon.wasm", b"pylon bytes");
            self.link("release/pylon.wasm");
            manifest(vec![core, pylon], caps)
        }

        fn link(&self, target: &str) {
            let link = self.root.join(DEFAULT_LINK);
            std::fs::remove_file(&link).ok();
            std::os::unix::fs::symlink(target, link).unwrap();
        }

        /// `check` on a thread: a verify that blocks fails the test instead of hanging it.
        fn check(&self, manifest: &Manifest, link: Option<&'static str>) -> Report {
            let (root, manifest) = (self.root.clone(), manifest.clone());
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(check(&root, &manifest, link)).ok());
            rx.recv_timeout(Duration::from_secs(20)).expect("verify blocked for 20 s")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            std::fs::remove_dir_all(self.root.parent().unwrap()).ok();
        }
    }

    fn manifest(artifacts: Vec<Artifact>, caps: Vec<Artifact>) -> Manifest {
        let pylon_sha256 = artifacts.iter().find(|a| a.name == "pylon").map(|a| a.sha256.clone()).unwrap_or_default();
        Manifest {
            profile: "release".into(),
            pins: Pins::sample(),
            artifacts,
            caps: caps
                .into_iter()
                .map(|artifact| CapRow {
                    name: artifact.name.clone(),
                    kind: "static".into(),
                    version: "0.1.0".into(),
                    interfaces: vec![],
                    schemes: vec![],
                    serves: vec![],
                    artifact,
                })
                .collect(),
            dynlink: None,
            snapshot: None,
            pylon_sha256,
        }
    }

    fn cap_status<'r>(report: &'r Report, name: &str) -> &'r Status {
        &report.caps.iter().find(|(a, _)| a.name == name).unwrap().1
    }

    #[test]
    fn a_directory_is_checked_by_its_tree() {
        let s = Scratch::new("tree");
        s.file("x", "build/release/lib/python3.13/json/__init__.py", b"def dumps(): pass\n");
        s.file("x", "build/release/lib/python3.13/os.py", b"sep = '/'\n");
        let dir = s.root.join("build/release/lib/python3.13");
        let (sha256, size) = crate::helpers::digest::sha256_tree(&dir).unwrap();
        assert_eq!(size, 28);
        let row = Artifact { name: "stdlib-sources".into(), path: "build/release/lib/python3.13/".into(), sha256, size };
        let mut m = s.build(vec![]);
        m.artifacts.push(row);
        let report = s.check(&m, None);
        assert!(report.ok(), "{}", report.text());
        std::fs::write(dir.join("os.py"), b"sep = '\\'\n").unwrap();
        let report = s.check(&m, None);
        assert!(report.text().contains("stdlib-sources: DRIFTED"), "{}", report.text());
        std::fs::write(dir.join("os.py"), b"sep = '/'\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd.py")).unwrap();
        let report = s.check(&m, None);
        assert!(report.text().contains("stdlib-sources: UNREADABLE"), "{}", report.text());
        assert!(report.text().contains("passwd.py is not a regular file or directory"), "{}", report.text());
    }

    #[test]
    fn a_good_build_passes() {
        let s = Scratch::new("good");
        let zlib = s.file("zlib", "build/release/caps/zlib.wasm", b"zlib bytes");
        let report = s.check(&s.build(vec![zlib]), Some(DEFAULT_LINK));
        assert!(report.ok(), "{}", report.text());
        let text = report.text();
        assert!(text.contains("cap zlib: OK (build/release/caps/zlib.wasm)\n"), "{text}");
        assert!(text.contains("caps OK: 1\ncaps placeholder: 0\ncaps missing: 0\ncaps drifted: 0\ncaps invalid: 0\n"), "{text}");
        assert!(text.ends_with("pylon_sha256 status: OK\nlink build/pylon.wasm: OK (-> release/pylon.wasm)\n"), "{text}");
        let json = report.json();
        assert_eq!(json["ok"], true);
        assert_eq!(json["link"], serde_json::json!({ "path": "build/pylon.wasm", "status": "OK", "target": "release/pylon.wasm" }));
        assert_eq!(json["caps"][0]["actual_size"], 10);
    }

    /// Rows whose sha256 and size are right for a file outside build/: before, they read
    /// as OK (and `/dev/zero` hung).
    #[test]
    fn paths_outside_build_are_not_read() {
        let s = Scratch::new("outside");
        let outside = s.file("outside", "../outside.txt", b"not an artifact");
        let secret = s.file("secret", "secret.txt", b"a secret");
        let passwd = std::fs::read("/etc/passwd").unwrap();
        std::os::unix::fs::symlink("../../../outside.txt", s.root.join("build/release/escape.wasm")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", s.root.join("build/release/zero.wasm")).unwrap();
        let row = |name: &str, path: &str, like: &Artifact| Artifact { name: name.into(), path: path.into(), ..like.clone() };
        let passwd_row = Artifact { name: "passwd".into(), path: "/etc/passwd".into(), sha256: sha256_bytes(&passwd), size: passwd.len() as u64 };
        let caps = vec![
            passwd_row,
            row("dotdot", "../outside.txt", &outside),
            row("inside_out", "build/../secret.txt", &secret),
            row("escape", "build/release/escape.wasm", &outside),
            row("zero", "/dev/zero", &outside),
            row("zero_link", "build/release/zero.wasm", &outside),
            row("gone", "build/../../gone.txt", &outside),
        ];
        let names: Vec<String> = caps.iter().map(|a| a.name.clone()).collect();
        let report = s.check(&s.build(caps), Some(DEFAULT_LINK));
        for name in &names {
            assert!(matches!(cap_status(&report, name), Status::Outside { .. }), "{name}: {:?}", cap_status(&report, name));
        }
        assert_eq!(cap_status(&report, "escape"), &Status::Outside { resolved: s.root.parent().unwrap().join("outside.txt").display().to_string() });
        assert_eq!(cap_status(&report, "zero_link"), &Status::Outside { resolved: "/dev/zero".into() });
        assert!(!report.ok());
        let text = report.text();
        assert!(text.contains("cap passwd: OUTSIDE (/etc/passwd)\n    /etc/passwd is outside build/: not read\n"), "{text}");
        assert!(text.contains(&format!("caps invalid: {}\n", names.len())), "{text}");
        assert_eq!(report.json()["caps"][0]["status"], "OUTSIDE");
    }

    /// A FIFO blocks `open` until a writer comes and a directory is no artifact: neither is
    /// read. (Before, verify hung on the FIFO.)
    #[test]
    fn fifos_and_directories_are_not_read() {
        let s = Scratch::new("fifo");
        let fifo = s.root.join("build/release/caps/fifo.wasm");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let like = Artifact { name: String::new(), path: String::new(), sha256: "ab".repeat(32), size: 0 };
        let caps = vec![
            Artifact { name: "fifo".into(), path: "build/release/caps/fifo.wasm".into(), ..like.clone() },
            Artifact { name: "dir".into(), path: "build/release/caps".into(), ..like },
        ];
        let report = s.check(&s.build(caps), Some(DEFAULT_LINK));
        assert_eq!(cap_status(&report, "fifo"), &Status::NotAFile);
        assert_eq!(cap_status(&report, "dir"), &Status::NotAFile);
        assert!(!report.ok());
        assert!(report.text().contains("cap fifo: NOT_A_FILE (build/release/caps/fifo.wasm)\n    build/release/caps/fifo.wasm is not a regular file: not read\n"));
    }

    #[test]
    fn size_is_checked() {
        let s = Scratch::new("size");
        let mut zlib = s.file("zlib", "build/release/caps/zlib.wasm", b"zlib bytes");
        zlib.size += 1;
        let mut ids = s.file("ids", "build/release/caps/ids.wasm", b"ids bytes");
        std::fs::write(s.root.join(&ids.path), b"other ids bytes").unwrap();
        ids.size = 9;
        let report = s.check(&s.build(vec![zlib, ids]), Some(DEFAULT_LINK));
        assert_eq!(cap_status(&report, "zlib"), &Status::SizeMismatch { actual: 10 });
        assert!(matches!(cap_status(&report, "ids"), Status::Drifted { actual_size: 15, .. }));
        assert!(!report.ok());
        let text = report.text();
        assert!(text.contains("cap zlib: SIZE_MISMATCH (build/release/caps/zlib.wasm)\n    expected size 11\n    actual   size 10\n"), "{text}");
        assert!(text.contains("    expected size 9\n    actual   size 15\n"), "{text}");
        assert_eq!(report.json()["caps"][0]["expected_size"], 11);
        assert_eq!(report.json()["caps"][0]["actual_size"], 10);
    }

    /// `build/pylon.wasm` is what the runner runs: pointed elsewhere, verify fails even
    /// though every artifact is intact.
    #[test]
    fn the_link_must_point_at_pylon() {
        let s = Scratch::new("link");
        let manifest = s.build(vec![]);
        assert_eq!(s.check(&manifest, Some(DEFAULT_LINK)).link.unwrap().status, LinkStatus::Ok);

        s.file("other", "build/other.wasm", b"pylon bytes");
        s.link("other.wasm");
        let report = s.check(&manifest, Some(DEFAULT_LINK));
        assert!(report.artifacts.iter().all(|(_, s)| *s == Status::Ok));
        assert!(!report.ok());
        assert!(report.text().ends_with("link build/pylon.wasm: MISPOINTED (-> other.wasm)\n"), "{}", report.text());
        assert_eq!(report.json()["link"]["status"], "MISPOINTED");
        assert_eq!(report.json()["link"]["target"], "other.wasm");

        s.link("/elsewhere/pylon.wasm");
        let report = s.check(&manifest, Some(DEFAULT_LINK));
        assert!(report.text().ends_with("link build/pylon.wasm: MISPOINTED (-> /elsewhere/pylon.wasm)\n"), "{}", report.text());

        // The same file by another road is still the same file.
        s.link(s.root.join("build/release/pylon.wasm").to_str().unwrap());
        assert!(s.check(&manifest, Some(DEFAULT_LINK)).ok());

        std::fs::remove_file(s.root.join(DEFAULT_LINK)).unwrap();
        std::fs::write(s.root.join(DEFAULT_LINK), b"pylon bytes").unwrap();
        let report = s.check(&manifest, Some(DEFAULT_LINK));
        assert!(report.text().ends_with("link build/pylon.wasm: MISPOINTED (not a symlink)\n"), "{}", report.text());

        std::fs::remove_file(s.root.join(DEFAULT_LINK)).unwrap();
        let report = s.check(&manifest, Some(DEFAULT_LINK));
        assert_eq!(report.link.as_ref().unwrap().status, LinkStatus::Missing);
        assert!(!report.ok());

        // Builds other than the default do not own the link.
        let report = s.check(&manifest, None);
        assert!(report.ok());
        assert!(!report.text().contains("link "));
        assert_eq!(report.json()["link"], serde_json::Value::Null);
    }

    /// Writing into a pipe whose reader has exited (`verify | head`): a quiet end, not an
    /// error, where `println!` panics.
    #[test]
    fn a_broken_pipe_ends_the_output_quietly() {
        let mut reader = std::process::Command::new("true").stdin(std::process::Stdio::piped()).spawn().unwrap();
        let mut pipe = reader.stdin.take().unwrap();
        reader.wait().unwrap();
        let text = "caps OK: 1\n".repeat(100_000);
        assert_eq!(pipe.write_all(text.as_bytes()).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        write_quietly(&mut pipe, &text).unwrap();

        // Any other failure to write still is one.
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert_eq!(write_quietly(&mut Full, "x").unwrap_err().kind(), io::ErrorKind::StorageFull);
    }
}
