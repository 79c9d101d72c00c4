//! sha256 of files and of stage inputs; atomic writes.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    sha256_reader(file).with_context(|| format!("cannot read {}", path.display()))
}

/// The sha256 of everything `reader` yields, for callers that open the file themselves.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The identity of a stage's inputs: every part is length-prefixed and labelled, so no
/// two different input sets hash alike. A stage's output directory is named by it.
///
/// `PYLON_STAGE_KEY_LOG=<file>` appends every part to that file (long values as their
/// sha256): diffing two checkouts' logs shows which input made their keys differ.
pub struct StageKey(Sha256, Option<std::fs::File>);

impl StageKey {
    pub fn new(stage: &str) -> StageKey {
        let log = std::env::var_os("PYLON_STAGE_KEY_LOG")
            .filter(|p| !p.is_empty())
            .and_then(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).ok());
        let mut key = StageKey(Sha256::new(), log);
        key.add("stage", stage.as_bytes());
        key
    }

    pub fn add(&mut self, label: &str, value: &[u8]) -> &mut Self {
        for part in [label.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
        if let Some(log) = &mut self.1 {
            use std::io::Write;
            let shown = match std::str::from_utf8(value) {
                Ok(text) if text.len() <= 400 => text.to_owned(),
                _ => format!("<{} bytes, sha256 {}>", value.len(), hex(&Sha256::digest(value))),
            };
            writeln!(log, "{label}: {shown}").ok();
        }
        self
    }

    pub fn add_str(&mut self, label: &str, value: &str) -> &mut Self {
        self.add(label, value.as_bytes())
    }

    pub fn finish(self) -> String {
        let key = hex(&self.0.finalize());
        if let Some(mut log) = self.1 {
            use std::io::Write;
            writeln!(log, "=> {key}\n").ok();
        }
        key
    }
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so a reader never
/// sees half a file. Leaves the file untouched (mtime included) when it already holds them.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = pending_path(path);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move into {}", path.display()))
}

/// Copies `from` to `to` atomically, unless `to` already has the same bytes.
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    write_atomic(to, &bytes)
}

/// Makes the directory `to` hold exactly the regular files and directories of `from` (sorted
/// walk; `skip` names left out of `from`, `keep` top-level names of `to` left alone), writing
/// only what differs: a no-op build reads the stdlib tree instead of rewriting its 20 MB, and
/// a damaged or planted output file (a symlink included) is still replaced. Each file is
/// replaced atomically; a first copy is built under a pending name and moved into place.
pub fn sync_tree(from: &Path, to: &Path, skip: &[&str], keep: &[&str]) -> Result<()> {
    use std::fs;
    let fresh = !fs::symlink_metadata(to).is_ok_and(|m| m.is_dir());
    let target = if fresh { pending_path(to) } else { to.to_path_buf() };
    if fresh {
        crate::stages::deps::remove_dir_if_exists(&target)?;
        if fs::symlink_metadata(to).is_ok() {
            fs::remove_file(to).with_context(|| format!("cannot remove {}", to.display()))?;
        }
    }
    let mut wanted = std::collections::BTreeSet::new();
    let walk = walkdir::WalkDir::new(from).sort_by_file_name().into_iter();
    for entry in walk.filter_entry(|e| !skip.iter().any(|s| e.file_name() == *s)) {
        let entry = entry.with_context(|| format!("cannot walk {}", from.display()))?;
        let rel = entry.path().strip_prefix(from)?.to_path_buf();
        let dest = target.join(&rel);
        wanted.insert(rel);
        let existing = fs::symlink_metadata(&dest).ok();
        if entry.file_type().is_dir() {
            if existing.as_ref().is_some_and(|m| !m.is_dir()) {
                fs::remove_file(&dest).with_context(|| format!("cannot remove {}", dest.display()))?;
            }
            fs::create_dir_all(&dest).with_context(|| format!("cannot create {}", dest.display()))?;
        } else {
            // A directory or a symlink in the way goes; write_atomic then compares with what
            // is there and replaces only a file that differs.
            match &existing {
                Some(m) if m.is_dir() => {
                    fs::remove_dir_all(&dest).with_context(|| format!("cannot remove {}", dest.display()))?
                }
                Some(m) if !m.is_file() => fs::remove_file(&dest).with_context(|| format!("cannot remove {}", dest.display()))?,
                _ => {}
            }
            copy_atomic(entry.path(), &dest)?;
        }
    }
    if !fresh {
        // Whatever the source does not have goes, deepest first.
        let mut extra = Vec::new();
        let walk = walkdir::WalkDir::new(&target).min_depth(1).sort_by_file_name().into_iter();
        for entry in walk.filter_entry(|e| e.depth() > 1 || !keep.iter().any(|k| e.file_name() == *k)) {
            let entry = entry.with_context(|| format!("cannot walk {}", target.display()))?;
            let rel = entry.path().strip_prefix(&target)?.to_path_buf();
            if !wanted.contains(&rel) {
                extra.push((entry.file_type().is_dir(), entry.into_path()));
            }
        }
        for (is_dir, path) in extra.into_iter().rev() {
            let gone = if is_dir { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            match gone {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
                _ => {}
            }
        }
    } else {
        fs::rename(&target, to).with_context(|| format!("cannot move {} into {}", target.display(), to.display()))?;
    }
    Ok(())
}

/// `file.ext` → `file.ext.pending`: the name a file or directory has while it is written.
pub fn pending_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".pending");
    path.with_file_name(name)
}


/// The digest of a directory tree: the sha256 of its listing, one line per entry in sorted
/// order (`<sha256>  <path>` for a file, `dir  <path>/` for a directory), with the total
/// size of its files. A symlink, FIFO or device in the tree is refused: none is ever built.
pub fn sha256_tree(dir: &Path) -> Result<(String, u64)> {
    let mut listing = String::new();
    let mut size = 0;
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().min_depth(1) {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        let rel = entry.path().strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
        let kind = entry.file_type();
        if kind.is_dir() {
            listing.push_str(&format!("dir  {rel}/\n"));
        } else if kind.is_file() {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
                .open(entry.path())
                .with_context(|| format!("cannot open {}", entry.path().display()))?;
            let meta = file.metadata()?;
            anyhow::ensure!(meta.is_file(), "{} is not a regular file", entry.path().display());
            size += meta.len();
            let sha = sha256_reader(file).with_context(|| format!("cannot read {}", entry.path().display()))?;
            listing.push_str(&format!("{sha}  {rel}\n"));
        } else {
            anyhow::bail!("{} is not a regular file or directory", entry.path().display());
        }
    }
    Ok((hex(&Sha256::digest(listing.as_bytes())), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tree_writes_only_what_differs_and_removes_the_rest() {
        use std::fs;
        let base = std::env::temp_dir().join(format!("pylon-sync-tree-{}", std::process::id()));
        let (from, to) = (base.join("from"), base.join("to"));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(from.join("pkg")).unwrap();
        fs::write(from.join("a.py"), "a").unwrap();
        fs::write(from.join("pkg/b.py"), "b").unwrap();
        fs::write(from.join(".stamp"), "k").unwrap();
        sync_tree(&from, &to, &[".stamp"], &["keep"]).unwrap();
        assert_eq!(fs::read_to_string(to.join("pkg/b.py")).unwrap(), "b");
        assert!(!to.join(".stamp").exists());
        // Unchanged files are not rewritten: their inode stays.
        use std::os::unix::fs::MetadataExt;
        let inode = fs::metadata(to.join("a.py")).unwrap().ino();
        fs::write(to.join("pkg/b.py"), "damaged").unwrap();
        fs::create_dir_all(to.join("stale/deep")).unwrap();
        fs::write(to.join("stale/deep/x"), "x").unwrap();
        fs::create_dir_all(to.join("keep")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", to.join("planted")).unwrap();
        fs::remove_file(from.join("a.py")).unwrap();
        fs::write(from.join("a.py"), "a").unwrap();
        fs::write(from.join("planted"), "p").unwrap();
        sync_tree(&from, &to, &[".stamp"], &["keep"]).unwrap();
        assert_eq!(fs::metadata(to.join("a.py")).unwrap().ino(), inode);
        assert_eq!(fs::read_to_string(to.join("pkg/b.py")).unwrap(), "b");
        assert!(!to.join("stale").exists() && to.join("keep").is_dir());
        assert!(fs::symlink_metadata(to.join("planted")).unwrap().is_file());
        assert_eq!(fs::read_to_string(to.join("planted")).unwrap(), "p");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn keys_are_unambiguous() {
        let key = |parts: &[(&str, &str)]| {
            let mut k = StageKey::new("t");
            for (l, v) in parts {
                k.add_str(l, v);
            }
            k.finish()
        };
        assert_ne!(key(&[("a", "bc")]), key(&[("ab", "c")]));
        assert_eq!(key(&[("a", "b")]), key(&[("a", "b")]));
    }
}
