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
pub struct StageKey(Sha256);

impl StageKey {
    pub fn new(stage: &str) -> StageKey {
        let mut key = StageKey(Sha256::new());
        key.add("stage", stage.as_bytes());
        key
    }

    pub fn add(&mut self, label: &str, value: &[u8]) -> &mut Self {
        for part in [label.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
        self
    }

    pub fn add_str(&mut self, label: &str, value: &str) -> &mut Self {
        self.add(label, value.as_bytes())
    }

    pub fn finish(self) -> String {
        hex(&self.0.finalize())
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

/// `file.ext` → `file.ext.pending`: the name a file or directory has while it is written.
pub fn pending_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".pending");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
