//! Stage 1: the pinned outside inputs (`deps/pins.toml`), fetched with their ordinary
//! clients, verified by sha256 before use, and the project's patches applied to them.

use anyhow::{Context, Result, anyhow, bail, ensure};
use duct::cmd;
use std::fs;
use std::path::{Path, PathBuf};

use crate::helpers::digest::{StageKey, pending_path, sha256_file};
use crate::helpers::layout::Layout;
use crate::helpers::progress::{self, Step};

/// One pinned input, as written in `deps/pins.toml`.
#[derive(Clone, Debug)]
pub struct Pin {
    /// The table name (`zig`, `cpython`).
    pub name: String,
    pub client: String,
    pub package: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub suite: Option<String>,
    pub local_env: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Pins {
    pub source_date_epoch: u64,
    pub zig: Pin,
    pub cpython: Pin,
    /// Every other table: the sources of native C libraries, which extensions name by
    /// table (`[native] source = { pin = "bzip2" }` in their ext.toml).
    pub libraries: Vec<Pin>,
}

impl Pins {
    /// Every pin, in the file's order of importance: zig, CPython, then the libraries.
    pub fn all(&self) -> impl Iterator<Item = &Pin> {
        [&self.zig, &self.cpython].into_iter().chain(&self.libraries)
    }
}

/// The verified inputs, ready for the next stages.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub pins: Pins,
    pub zig: Zig,
    pub cpython_tarball: PathBuf,
    /// The `input = "cpython"` entries of `deps/patches.toml`, applied by the WASI build to
    /// its copy of the source (whose `Lib/` becomes the stdlib tree). The native build
    /// python is the tarball as it is.
    pub cpython_patches: Vec<Patch>,
    /// The verified file of each library pin (`Pins::libraries`), by table name.
    pub library_files: Vec<(String, PathBuf)>,
}

impl Inputs {
    /// The verified file of library pin `name`.
    pub fn library_file(&self, name: &str) -> Option<&Path> {
        self.library_files.iter().find(|(n, _)| n == name).map(|(_, p)| p.as_path())
    }
}

/// The zig toolchain, unpacked and patched, with its caches inside its own directory so a
/// patched wasi-libc never mixes with an unpatched cache.
#[derive(Clone, Debug)]
pub struct Zig {
    pub exe: PathBuf,
    pub key: String,
    pub global_cache: PathBuf,
    pub local_cache: PathBuf,
}

impl Zig {
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("ZIG_GLOBAL_CACHE_DIR", self.global_cache.clone()),
            ("ZIG_LOCAL_CACHE_DIR", self.local_cache.clone()),
        ]
    }
}

pub fn load_pins(layout: &Layout) -> Result<Pins> {
    let path = layout.deps_dir().join("pins.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml_edit::DocumentMut =
        text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    let pin = |name: &str| -> Result<Pin> {
        let table = doc
            .get(name)
            .and_then(|t| t.as_table())
            .ok_or_else(|| anyhow!("{}: no [{name}] table", path.display()))?;
        let get = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let req = |key: &str| get(key).ok_or_else(|| anyhow!("{}: [{name}] has no `{key}`", path.display()));
        let sha256 = req("sha256")?;
        ensure!(
            sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}: [{name}] sha256 is not 64 hex digits",
            path.display()
        );
        Ok(Pin {
            name: name.to_owned(),
            client: req("client")?,
            package: req("package")?,
            version: req("version")?,
            file: req("file")?,
            sha256,
            suite: get("suite"),
            local_env: get("local_env"),
        })
    };
    let source_date_epoch = doc
        .get("source_date_epoch")
        .and_then(|v| v.as_integer())
        .ok_or_else(|| anyhow!("{}: no integer `source_date_epoch`", path.display()))?;
    let mut libraries = Vec::new();
    for (name, item) in doc.iter() {
        if item.is_table() && name != "zig" && name != "cpython" {
            libraries.push(pin(name)?);
        }
    }
    Ok(Pins { source_date_epoch: source_date_epoch as u64, zig: pin("zig")?, cpython: pin("cpython")?, libraries })
}

/// Fetches (unless `check_only`) and verifies every pin, then unpacks the toolchain.
pub fn prepare(layout: &Layout, check_only: bool) -> Result<Inputs> {
    let pins = load_pins(layout)?;
    let zig_wheel = ensure_pin(layout, &pins.zig, check_only)?;
    let cpython_tarball = ensure_pin(layout, &pins.cpython, check_only)?;
    let zig = unpack_zig(layout, &pins.zig, &zig_wheel, check_only)?;
    let cpython_patches = load_patches(layout)?.into_iter().filter(|p| p.input == "cpython").collect();
    let mut library_files = Vec::new();
    for pin in &pins.libraries {
        library_files.push((pin.name.clone(), ensure_pin(layout, pin, check_only)?));
    }
    Ok(Inputs { pins, zig, cpython_tarball, cpython_patches, library_files })
}

/// The verified CPython tarball alone, fetched first if it is not cached: for what reads
/// only the pinned source (add-cap's stdlib module names), without unpacking zig.
pub fn cpython_tarball(layout: &Layout) -> Result<PathBuf> {
    let pins = load_pins(layout)?;
    ensure_pin(layout, &pins.cpython, false)
}

/// Returns the cached, verified file of `pin`, fetching it first if needed.
pub fn ensure_pin(layout: &Layout, pin: &Pin, check_only: bool) -> Result<PathBuf> {
    let dest = layout.downloads().join(&pin.file);
    if dest.exists() {
        let actual = sha256_file(&dest)?;
        if actual != pin.sha256 {
            // Refuse it and take it out of the cache, so that nothing uses it by accident.
            fs::remove_file(&dest).ok();
            bail!(
                "pin `{}`: cached {} has sha256 {actual}, expected {}; removed it from the cache \
                 (run `cargo xtask deps` to fetch it again)",
                pin.name,
                dest.display(),
                pin.sha256
            );
        }
        return Ok(dest);
    }
    if check_only {
        bail!("pin `{}`: {} is not in the cache {}; run `cargo xtask deps`", pin.name, pin.file, layout.downloads().display());
    }
    let step = Step::start(format!("fetch {} {} ({})", pin.package, pin.version, pin.file));
    let scratch = layout.cache.join(format!("fetch-{}.pending", pin.name));
    remove_dir_if_exists(&scratch)?;
    fs::create_dir_all(&scratch)?;
    let result = fetch_into(pin, &scratch).and_then(|fetched| {
        let actual = sha256_file(&fetched)?;
        ensure!(
            actual == pin.sha256,
            "pin `{}`: fetched {} has sha256 {actual}, expected {}; not cached",
            pin.name,
            fetched.display(),
            pin.sha256
        );
        fs::create_dir_all(layout.downloads())?;
        fs::rename(&fetched, &dest).with_context(|| format!("cannot move into {}", dest.display()))
    });
    remove_dir_if_exists(&scratch)?;
    result?;
    step.done();
    Ok(dest)
}

/// Fetches `pin` into the scratch dir `dir` and returns the path of its file there.
fn fetch_into(pin: &Pin, dir: &Path) -> Result<PathBuf> {
    if let Some(var) = &pin.local_env
        && let Some(local) = std::env::var_os(var).filter(|v| !v.is_empty())
    {
        let local = PathBuf::from(local);
        eprintln!("    using {} from ${var}", local.display());
        let to = dir.join(&pin.file);
        fs::copy(&local, &to).with_context(|| format!("${var}: cannot copy {}", local.display()))?;
        return Ok(to);
    }
    match pin.client.as_str() {
        "pip" => fetch_with_pip(pin, dir, "--only-binary=:all:"),
        "pip-sdist" => fetch_with_pip(pin, dir, "--no-binary=:all:"),
        "apt-source" => fetch_with_apt_source(pin, dir),
        other => bail!("pin `{}`: unknown client `{other}` (expected pip, pip-sdist or apt-source)", pin.name),
    }
}

fn fetch_with_pip(pin: &Pin, dir: &Path, kind: &str) -> Result<PathBuf> {
    let spec = format!("{}=={}", pin.package, pin.version);
    cmd!("python3", "-m", "pip", "download", "--no-deps", kind, "--dest", dir, &spec)
        .stdout_to_stderr()
        .run()
        .with_context(|| format!("pin `{}`: `pip download {spec}` failed", pin.name))?;
    let file = dir.join(&pin.file);
    ensure!(
        file.exists(),
        "pin `{}`: pip did not fetch {} (found: {})",
        pin.name,
        pin.file,
        list_dir(dir).join(", ")
    );
    Ok(file)
}

/// `apt-get source --download-only` with a private source list and private apt state, so
/// the system's apt configuration stays untouched. The mirror is the machine's own.
fn fetch_with_apt_source(pin: &Pin, dir: &Path) -> Result<PathBuf> {
    let suite = pin.suite.as_deref().ok_or_else(|| anyhow!("pin `{}`: apt-source needs `suite`", pin.name))?;
    let mirror = debian_mirror_from_system(Path::new("/etc/apt"))?;
    let state = dir.join("apt-state");
    for sub in ["lists/partial", "cache/archives/partial"] {
        fs::create_dir_all(state.join(sub))?;
    }
    let list = state.join("sources.list");
    let signed_by = mirror
        .signed_by
        .as_deref()
        .map(|key| format!("[signed-by={key}] "))
        .unwrap_or_default();
    fs::write(&list, format!("deb-src {signed_by}{} {suite} main\n", mirror.uri))?;
    let empty_status = state.join("status");
    fs::write(&empty_status, "")?;
    let opts = [
        format!("-oDir::Etc::SourceList={}", list.display()),
        "-oDir::Etc::SourceParts=/dev/null".to_owned(),
        format!("-oDir::State::Lists={}", state.join("lists").display()),
        format!("-oDir::Cache={}", state.join("cache").display()),
        "-oAPT::Sandbox::User=root".to_owned(),
        // An empty package status: otherwise apt asks for the version of the source package
        // that the installed binary came from (bookworm's bzip2, say), not the suite's.
        format!("-oDir::State::status={}", empty_status.display()),
        "-qq".to_owned(),
    ];
    let mut update = opts.to_vec();
    update.push("update".into());
    cmd("apt-get", &update)
        .stdout_to_stderr()
        .run()
        .with_context(|| format!("pin `{}`: `apt-get update` for {suite} from {} failed", pin.name, mirror.uri))?;
    let mut source = opts.to_vec();
    source.extend(["source".into(), "--download-only".into(), pin.package.clone()]);
    let src_dir = dir.join("src");
    fs::create_dir_all(&src_dir)?;
    // Only the pinned file counts: apt may fail on a file of the source package the pin
    // does not need (a point release's .dsc gone from the pool while the .orig stays).
    let out = cmd("apt-get", &source)
        .dir(&src_dir)
        .stdout_to_stderr()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("pin `{}`: cannot run `apt-get source`", pin.name))?;
    let file = src_dir.join(&pin.file);
    ensure!(
        file.exists(),
        "pin `{}`: apt-get source did not fetch {} (found: {}; apt said: {}); has {suite} moved to another version?",
        pin.name,
        pin.file,
        list_dir(&src_dir).join(", "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(file)
}

#[derive(Debug, PartialEq)]
pub struct Mirror {
    pub uri: String,
    pub signed_by: Option<String>,
}

/// The Debian archive mirror this machine's apt uses (deb822 `.sources` or one-line
/// `.list` files): the first `deb` entry for the main archive, not `-security`.
pub fn debian_mirror_from_system(etc_apt: &Path) -> Result<Mirror> {
    let mut files = vec![etc_apt.join("sources.list")];
    if let Ok(entries) = fs::read_dir(etc_apt.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else { continue };
        let name = file.to_string_lossy();
        let found = if name.ends_with(".sources") {
            mirror_from_deb822(&text)
        } else if name.ends_with(".list") {
            mirror_from_one_line(&text)
        } else {
            None
        };
        if let Some(mirror) = found {
            return Ok(mirror);
        }
    }
    bail!("no Debian archive mirror found in {} (looked at sources.list and sources.list.d/*.sources|*.list)", etc_apt.display())
}

fn is_debian_archive(uri: &str, suites: &[&str]) -> bool {
    let uri = uri.trim_end_matches('/');
    uri.ends_with("/debian") && suites.iter().any(|s| !s.contains('/') && !s.ends_with("-security"))
}

fn mirror_from_deb822(text: &str) -> Option<Mirror> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .map(str::trim)
        };
        let types = field("Types").unwrap_or("");
        let uris = field("URIs").unwrap_or("");
        let suites: Vec<&str> = field("Suites").unwrap_or("").split_whitespace().collect();
        if !types.split_whitespace().any(|t| t == "deb") {
            continue;
        }
        if field("Enabled").is_some_and(|v| v == "no") {
            continue;
        }
        if let Some(uri) = uris.split_whitespace().find(|u| is_debian_archive(u, &suites)) {
            return Some(Mirror { uri: uri.to_owned(), signed_by: field("Signed-By").map(str::to_owned) });
        }
    }
    None
}

fn mirror_from_one_line(text: &str) -> Option<Mirror> {
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        let mut signed_by = None;
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            while let Some(opt) = (!rest.is_empty()).then(|| rest.remove(0)) {
                if let Some(v) = opt.trim_start_matches('[').strip_prefix("signed-by=") {
                    signed_by = Some(v.trim_end_matches(']').to_owned());
                }
                if opt.ends_with(']') {
                    break;
                }
            }
        }
        if let [uri, suite, ..] = rest[..]
            && is_debian_archive(uri, &[suite])
        {
            return Some(Mirror { uri: uri.to_owned(), signed_by });
        }
    }
    None
}

/// Unpacks the zig wheel and applies `deps/patches.toml`; keyed by both.
fn unpack_zig(layout: &Layout, pin: &Pin, wheel: &Path, check_only: bool) -> Result<Zig> {
    let patches = load_patches(layout)?;
    let mut key = StageKey::new("zig");
    key.add_str("wheel", &pin.sha256);
    for p in patches.iter().filter(|p| p.input == "zig") {
        key.add_str("patch", &p.key_text());
    }
    let key = key.finish();
    let dir = layout.cache.join(format!("zig-{}", &key[..16]));
    let zig = Zig {
        exe: dir.join("ziglang/zig"),
        key: key.clone(),
        global_cache: dir.join("cache/global"),
        local_cache: dir.join("cache/local"),
    };
    if dir.join("ziglang/zig").exists() {
        progress::cached("zig toolchain", &key);
        return Ok(zig);
    }
    if check_only {
        bail!("the zig toolchain is not unpacked in {}; run `cargo xtask deps`", dir.display());
    }
    let step = Step::start(format!("unpack zig {} and apply deps/patches.toml", pin.version));
    let pending = pending_path(&dir);
    remove_dir_if_exists(&pending)?;
    let result = (|| -> Result<()> {
        extract_zip(wheel, &pending)?;
        for p in patches.iter().filter(|p| p.input == "zig") {
            p.apply(&pending)?;
        }
        fs::rename(&pending, &dir).with_context(|| format!("cannot move into {}", dir.display()))
    })();
    if result.is_err() {
        remove_dir_if_exists(&pending)?;
    }
    result?;
    step.done();
    Ok(zig)
}

fn extract_zip(archive: &Path, to: &Path) -> Result<()> {
    let file = fs::File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{} is not a zip archive", archive.display()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let Some(rel) = entry.enclosed_name() else { bail!("{}: unsafe entry #{i} name", archive.display()) };
        let out = to.join(rel);
        if entry.is_dir() {
            fs::create_dir_all(&out)?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut dest = fs::File::create(&out)?;
        std::io::copy(&mut entry, &mut dest).with_context(|| format!("cannot extract {}", out.display()))?;
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    Ok(())
}

/// One entry of `deps/patches.toml`: replace an exact snippet of one file of an input.
#[derive(Clone, Debug)]
pub struct Patch {
    pub input: String,
    pub file: String,
    pub find: String,
    pub replace: String,
    /// How often `find` occurs (`count`, default 1); every occurrence is replaced. A generated
    /// file repeats the same line in each function, and the exact count still fails the
    /// build when the input changes under the patch.
    pub count: usize,
}

impl Patch {
    /// Everything about the patch that changes its result, for the key of the stage applying it.
    pub fn key_text(&self) -> String {
        format!("{}\0{}\0{}\0{}", self.file, self.find, self.replace, self.count)
    }

    pub fn apply(&self, root: &Path) -> Result<()> {
        let path = root.join(&self.file);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("patch for `{}`: cannot read {}", self.input, path.display()))?;
        let count = text.matches(&self.find).count();
        ensure!(
            count == self.count,
            "patch for `{}`: `{}` occurs {count} times in {} (expected {}); does the pin still match deps/patches.toml?",
            self.input,
            self.find,
            self.file,
            self.count
        );
        fs::write(&path, text.replace(&self.find, &self.replace))?;
        Ok(())
    }
}

/// The inputs a patch may name: the zig toolchain (its wasi-libc) and the CPython source.
const PATCHABLE: &[&str] = &["zig", "cpython"];

pub fn load_patches(layout: &Layout) -> Result<Vec<Patch>> {
    let path = layout.deps_dir().join("patches.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_patches(&text, &path)
}

/// The `[[patch]]` entries of `text` (read from `path`, named in errors).
fn parse_patches(text: &str, path: &Path) -> Result<Vec<Patch>> {
    let doc: toml_edit::DocumentMut = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    let Some(patches) = doc.get("patch").and_then(|p| p.as_array_of_tables()) else { return Ok(vec![]) };
    patches
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let get = |k: &str| {
                t.get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("{}: patch #{} has no `{k}`", path.display(), i + 1))
            };
            let input = get("input")?;
            ensure!(
                PATCHABLE.contains(&input.as_str()),
                "{}: patch #{} is for `{input}`; patches apply to {}",
                path.display(),
                i + 1,
                PATCHABLE.join(" or ")
            );
            let count = match t.get("count") {
                None => 1,
                Some(v) => v
                    .as_integer()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| anyhow!("{}: patch #{}: `count` must be a positive integer", path.display(), i + 1))?,
            };
            Ok(Patch { input, file: get("file")?, find: get("find")?, replace: get("replace")?, count })
        })
        .collect()
}

pub fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_from_deb822_skips_security() {
        let text = "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
                    Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k.gpg\n";
        assert_eq!(
            mirror_from_deb822(text),
            Some(Mirror { uri: "http://mirror.example/debian".into(), signed_by: Some("/k.gpg".into()) })
        );
    }

    #[test]
    fn mirror_from_one_line_list() {
        let text = "# c\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n";
        assert_eq!(
            mirror_from_one_line(text),
            Some(Mirror { uri: "http://m.example/debian".into(), signed_by: Some("/k.gpg".into()) })
        );
        assert_eq!(mirror_from_one_line("deb http://m.example/debian-security bookworm-security main"), None);
    }

    #[test]
    fn patches_name_a_known_input() {
        let entry = |input: &str| format!("[[patch]]\ninput = \"{input}\"\nfile = \"f\"\nwhy = \"w\"\nfind = \"a\"\nreplace = \"b\"\n");
        let path = Path::new("patches.toml");
        let ok = parse_patches(&(entry("zig") + &entry("cpython")), path).unwrap();
        assert_eq!(ok.iter().map(|p| p.input.as_str()).collect::<Vec<_>>(), ["zig", "cpython"]);
        let err = parse_patches(&entry("cpyhton"), path).unwrap_err().to_string();
        assert!(err.contains("patch #1 is for `cpyhton`"), "{err}");
    }

    #[test]
    fn committed_patches_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let path = root.join("deps/patches.toml");
        let patches = parse_patches(&fs::read_to_string(&path).unwrap(), &path).unwrap();
        assert!(patches.iter().any(|p| p.input == "zig"));
        assert!(patches.iter().any(|p| p.input == "cpython" && p.file == "Lib/asyncio/unix_events.py"));
    }

    #[test]
    fn patch_must_match_its_count() {
        let dir = std::env::temp_dir().join(format!("pylon-patch-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("f.c"), "a; b; a;").unwrap();
        let patch =
            |find: &str, count| Patch { input: "t".into(), file: "f.c".into(), find: find.into(), replace: "z".into(), count };
        assert!(patch("a;", 1).apply(&dir).is_err());
        assert!(patch("b;", 2).apply(&dir).is_err());
        patch("b;", 1).apply(&dir).unwrap();
        assert_eq!(fs::read_to_string(dir.join("f.c")).unwrap(), "a; z a;");
        patch("a;", 2).apply(&dir).unwrap();
        assert_eq!(fs::read_to_string(dir.join("f.c")).unwrap(), "z z z");
        fs::remove_dir_all(&dir).unwrap();
    }
}
