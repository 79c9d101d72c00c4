//! End-to-end checks of the runner's own protections, run by `cargo xtask test` on the built
//! component through the real `pylon` binary, as a user would meet them: a guest trying to
//! plant native code through the compiled-code cache, a damaged cache entry, the guest's
//! `/dev/null` (a sink that grows nothing and changes nothing of the host's device), start-up
//! data that cannot fit the preview1 adapter, and a closed stdout pipe.

use anyhow::{Context, Result, bail, ensure};
use duct::cmd;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::helpers::digest::sha256_file;
use crate::helpers::progress::Step;

/// Runs every check; `scratch` is a directory of their own (emptied first).
pub fn check(runner: &Path, wasm: &Path, scratch: &Path) -> Result<()> {
    let step = Step::start("sandbox checks: cache guard, damaged cache entry, /dev/null, start-up limits, broken pipe");
    crate::stages::deps::remove_dir_if_exists(scratch)?;
    fs::create_dir_all(scratch)?;
    let scratch = scratch.canonicalize()?;
    cache_guard(runner, wasm, &scratch).context("cache guard")?;
    devnull_sink(runner, wasm, &scratch).context("/dev/null")?;
    startup_limits(runner, wasm).context("start-up limits")?;
    broken_pipe(runner, wasm).context("broken pipe")?;
    step.done();
    Ok(())
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn describe(&self) -> String {
        format!("exit {}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr)
    }
}

/// `pylon --wasm WASM ARGS` with `HOME=home` and no other cache setting, in `cwd`.
fn pylon(runner: &Path, wasm: &Path, home: &Path, cwd: &Path, args: &[&str]) -> Result<Out> {
    let mut full = vec!["--wasm".to_owned(), wasm.display().to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    let out = cmd(runner, &full)
        .dir(cwd)
        .env("HOME", home)
        .env_remove("PYLON_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env("PYLON_DEBUG_CACHE", "1")
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .with_context(|| format!("cannot run {}", runner.display()))?;
    Ok(Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn the_cwasm(cache: &Path) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(cache)
        .with_context(|| format!("the run did not create the cache {}", cache.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    ensure!(found.len() == 1, "expected one .cwasm in {}, found {found:?}", cache.display());
    Ok(found.remove(0))
}

/// The repro: with the cache under `$HOME`, `--dir .` from `$HOME` let the guest
/// overwrite the compiled code that later runs execute natively.
fn cache_guard(runner: &Path, wasm: &Path, scratch: &Path) -> Result<()> {
    let home = scratch.join("home");
    fs::create_dir_all(&home)?;
    let cache = home.join(".cache/pylon");
    let first = pylon(runner, wasm, &home, &home, &["-c", "pass"])?;
    ensure!(first.code == 0, "filling the cache failed: {}", first.describe());
    let cwasm = the_cwasm(&cache)?;
    let before = sha256_file(&cwasm)?;
    let name = cwasm.file_name().unwrap().to_string_lossy().into_owned();
    let overwrite = format!(
        "import sys\ntry:\n    open('.cache/pylon/{name}', 'r+b').write(b'\\xcc' * 4096)\nexcept OSError as e:\n    print('denied', type(e).__name__)\n    sys.exit(0)\nprint('WROTE')\n"
    );

    // Read-write mounts that reach the cache are refused before anything runs.
    let link_dir = scratch.join("links");
    fs::create_dir_all(&link_dir)?;
    let link = link_dir.join("to-home");
    std::os::unix::fs::symlink(&home, &link)?;
    let home_s = home.display().to_string();
    let link_s = link.display().to_string();
    let cache_sub = cache.join("index").display().to_string();
    for mount in [".", home_s.as_str(), &format!("{home_s}::/h"), link_s.as_str(), cache_sub.as_str()] {
        let out = pylon(runner, wasm, &home, &home, &["--dir", mount, "-c", &overwrite])?;
        ensure!(out.code == 2, "--dir {mount} was not refused: {}", out.describe());
        for needle in ["refusing --dir", &home_s, &cache.display().to_string(), "--dir-ro"] {
            ensure!(out.stderr.contains(needle), "--dir {mount}: the refusal does not name `{needle}`: {}", out.describe());
        }
    }
    // The component and its stdlib are protected the same way.
    let build_dir = wasm.parent().context("component has no directory")?.display().to_string();
    let out = pylon(runner, wasm, &home, &home, &["--dir", &build_dir, "-c", "pass"])?;
    ensure!(out.code == 2 && out.stderr.contains("the Python component"), "--dir {build_dir} was not refused: {}", out.describe());

    // Read-only is fine, and the guest cannot write through it.
    let out = pylon(runner, wasm, &home, &home, &["--dir-ro", ".", "-c", &overwrite])?;
    ensure!(out.code == 0 && out.stdout.starts_with("denied"), "--dir-ro .: {}", out.describe());
    ensure!(sha256_file(&cwasm)? == before, "the compiled code changed although every write was refused");

    // Damage in the middle of the code (same size, written in place) costs one compile.
    let len = fs::metadata(&cwasm)?.len();
    {
        let mut f = fs::OpenOptions::new().read(true).write(true).open(&cwasm)?;
        let mut chunk = vec![0u8; 4096];
        f.seek(SeekFrom::Start(len / 2))?;
        f.read_exact(&mut chunk)?;
        for b in &mut chunk {
            *b ^= 0x5a;
        }
        f.seek(SeekFrom::Start(len / 2))?;
        f.write_all(&chunk)?;
    }
    let out = pylon(runner, wasm, &home, &home, &["-c", "print(6 * 7)"])?;
    ensure!(
        out.code == 0 && out.stdout.trim() == "42" && out.stderr.contains("recompiling"),
        "a damaged cache entry was not recompiled: {}",
        out.describe()
    );
    ensure!(sha256_file(&cwasm)? == before, "the recompiled entry differs from the first compile");
    let out = pylon(runner, wasm, &home, &home, &["-c", "print(6 * 7)"])?;
    ensure!(out.code == 0 && out.stderr.contains("cache hit"), "no cache hit after the recompile: {}", out.describe());
    println!("cache guard: 6 read-write mounts refused, --dir-ro write denied, damaged entry recompiled once");
    Ok(())
}

/// Every file under `dir` (symlinks not followed) with its size.
fn sizes(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let entry = entry?;
            let meta = fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                todo.push(entry.path());
            } else {
                out.push((entry.path(), meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The guest's `/dev/null` is the host's null device: 100 MB written to it grow no file
/// (neither in the cache, where the guest's root directory and its `dev/null` placeholder
/// live, nor anywhere in the guest's mount), and setting its times, which the host's device
/// would take from a runner running as root, is refused and leaves the device unchanged.
fn devnull_sink(runner: &Path, wasm: &Path, scratch: &Path) -> Result<()> {
    // The cache guard's home: its cache is filled, so this run compiles nothing.
    let home = scratch.join("home");
    let mount = scratch.join("devnull-mount");
    fs::create_dir_all(&mount)?;
    let before = (sizes(&home)?, sizes(&mount)?);
    let device_times = || -> Result<_> {
        let m = fs::metadata("/dev/null")?;
        Ok((m.modified()?, m.accessed()?))
    };
    let times = device_times()?;
    let code = "import errno, os, time
chunk = bytes(1 << 20)
t = time.monotonic()
with open(os.devnull, 'wb') as f:
    for _ in range(100):
        assert f.write(chunk) == len(chunk)
    try:
        os.utime(f.fileno(), (0, 0))
    except OSError as e:
        assert e.errno == errno.EPERM, e
    else:
        raise AssertionError('futimens on /dev/null succeeded')
try:
    os.utime(os.devnull, (0, 0))
except OSError as e:
    assert e.errno == errno.EPERM, e
else:
    raise AssertionError('utime of /dev/null succeeded')
assert open('/dev/null', 'rb').read() == b''
print(f'{time.monotonic() - t:.2f}')
";
    let mount_arg = format!("{}::/m", mount.display());
    let out = pylon(runner, wasm, &home, &home, &["--dir", &mount_arg, "--cwd", "/m", "-c", code])?;
    ensure!(out.code == 0, "writing 100 MB to /dev/null: {}", out.describe());
    let after = (sizes(&home)?, sizes(&mount)?);
    ensure!(before == after, "files changed while the guest wrote to /dev/null:
before {before:?}
after {after:?}");
    ensure!(device_times()? == times, "the host's /dev/null changed its times");
    println!(
        "/dev/null: 100 MB written in {} s, no file grew ({} files checked), utime refused",
        out.stdout.trim(),
        after.0.len() + after.1.len()
    );
    Ok(())
}

/// Start-up data beyond what the preview1 adapter holds is refused with exit 2 and the
/// limit named, never a trap; data just inside the limit runs.
fn startup_limits(runner: &Path, wasm: &Path) -> Result<()> {
    let limits = pylon_limits(runner)?;
    let tmp = std::env::temp_dir();
    let run = |args: Vec<String>| -> Result<Out> {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        pylon(runner, wasm, &tmp, &tmp, &refs)
    };
    // One long argument: the whole budget, less what the rest of argv takes (the runner's
    // message reports the footprint, so read it back), runs; one byte more is refused.
    let code = "import sys; print(len(sys.argv[1]))";
    let over = run(vec!["-c".into(), code.into(), "x".repeat(limits.startup_bytes)])?;
    ensure!(over.code == 2 && over.stderr.contains("start-up data"), "oversized argv: {}", over.describe());
    let used: usize = over
        .stderr
        .split("start-up data is ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no footprint in the message: {}", over.stderr))?;
    let fits = limits.startup_bytes.saturating_sub(used - limits.startup_bytes);
    let ok = run(vec!["-c".into(), code.into(), "x".repeat(fits)])?;
    ensure!(ok.code == 0 && ok.stdout.trim() == fits.to_string(), "argv at the limit ({fits} bytes): {}", ok.describe());
    let one_more = run(vec!["-c".into(), code.into(), "x".repeat(fits + 1)])?;
    ensure!(one_more.code == 2, "argv one byte past the limit: {}", one_more.describe());
    let env = run(vec!["--env".into(), format!("BIG={}", "y".repeat(limits.startup_bytes)), "-c".into(), "pass".into()])?;
    ensure!(env.code == 2 && env.stderr.contains("start-up data"), "oversized environment: {}", env.describe());

    // Mounts: the adapter's descriptor table. The runner takes two of them here: the stdlib
    // and the guest's `/` (nothing is mounted at `/`).
    let mount_args = |n: usize| -> Vec<String> {
        let mut args = Vec::new();
        for _ in 0..n {
            args.extend(["--dir-ro".to_owned(), tmp.display().to_string()]);
        }
        args.extend(["-c".into(), "pass".into()]);
        args
    };
    let over = run(mount_args(limits.mounts - 1))?;
    ensure!(over.code == 2 && over.stderr.contains("mounts"), "{} --dir-ro: {}", limits.mounts - 1, over.describe());
    let ok = run(mount_args(limits.mounts - 2))?;
    ensure!(ok.code == 0, "{} --dir-ro: {}", limits.mounts - 2, ok.describe());
    println!(
        "start-up limits: {} bytes of argv and environment, {} mounts; beyond them exit 2, at them the guest runs",
        limits.startup_bytes, limits.mounts
    );
    Ok(())
}

struct Limits {
    startup_bytes: usize,
    mounts: usize,
}

/// The limits as the runner states them in `pylon --help`.
fn pylon_limits(runner: &Path) -> Result<Limits> {
    let help = cmd!(runner, "--help").read()?;
    let number_after = |label: &str| -> Result<usize> {
        help.split(label)
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.trim_end_matches([',', '.', ';']).parse().ok())
            .with_context(|| format!("`pylon --help` does not state `{label}`"))
    };
    Ok(Limits { startup_bytes: number_after("start-up data of at most")?, mounts: number_after("mounts at most")? })
}

/// Writing into a pipe whose reader has gone raises BrokenPipeError, as natively.
fn broken_pipe(runner: &Path, wasm: &Path) -> Result<()> {
    use std::process::{Command, Stdio};
    let code = "import sys\ntry:\n    for i in range(10**7):\n        print(i)\nexcept BrokenPipeError:\n    sys.stderr.write('BrokenPipeError raised\\n')\n    sys.stdout = None\n    sys.exit(3)\n";
    let mut child = Command::new(runner)
        .args(["--wasm", &wasm.display().to_string(), "-c", code])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first)?;
    drop(stdout);
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(3) || !stderr.contains("BrokenPipeError raised") {
        bail!("closed stdout: exit {:?}, stderr:\n{stderr}", out.status.code());
    }
    println!("broken pipe: BrokenPipeError raised in the guest");
    Ok(())
}

/// The snapshot, resumed: each run sees its own argv, environment, mounts, working
/// directory and randomness, a process clock that starts with it, and `sys.path[0]` as a
/// cold start sets it; what it cannot start exactly goes to the cold core.
pub fn snapshot_check(runner: &Path, wasm: &Path, scratch: &Path) -> Result<()> {
    let step = Step::start("snapshot checks: each run's own argv, environment, mounts and randomness; the cold path");
    crate::stages::deps::remove_dir_if_exists(scratch)?;
    let probe = "import _pylon_snapshot, os, random, sys, tempfile, time, uuid\n\
        print(_pylon_snapshot.resumed(), sys.argv[1:], os.environ.get('PYLON_PROBE'), os.getenv('PYLON_PROBE'), sorted(os.listdir('/m')), os.getcwd())\n\
        print(random.random(), next(tempfile._get_candidate_names()), uuid.uuid4(), os.urandom(8).hex(), time.process_time() < 5)\n";
    let mut seen = Vec::new();
    for run in ["one", "two"] {
        let dir = scratch.join(run);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("{run}.txt")), run)?;
        let mount = format!("{}::/m", dir.display());
        let env = format!("PYLON_PROBE={run}");
        let args = ["--dir-ro", &mount, "--cwd", "/m", "--env", &env, "-c", probe, run, "--flag"];
        let out = output(runner, wasm, &args)?;
        let lines: Vec<&str> = out.stdout.lines().collect();
        let want = format!("True ['{run}', '--flag'] {run} {run} ['{run}.txt'] /m");
        ensure!(out.code == 0 && lines.first() == Some(&want.as_str()), "run `{run}`: expected `{want}`, got {}", out.describe());
        ensure!(lines.get(1).is_some_and(|l| l.ends_with(" True")), "run `{run}`: process_time() does not start with the run: {}", out.describe());
        seen.push(lines[1].to_owned());
    }
    let (a, b) = (seen[0].split(' ').collect::<Vec<_>>(), seen[1].split(' ').collect::<Vec<_>>());
    for (i, what) in ["random.random()", "a tempfile name", "uuid4()", "os.urandom()"].iter().enumerate() {
        ensure!(a[i] != b[i], "two resumed runs drew the same {what}: {}", a[i]);
    }

    // sys.path[0]: the script's directory, the working directory for -m, '' for -c.
    let dir = scratch.join("script");
    fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let script = dir.join("where.py");
    fs::write(&script, "import sys, _pylon_snapshot\nprint(_pylon_snapshot.resumed(), sys.path[0], sys.argv)\n")?;
    // A script is a host path; the runner mounts its directory at the same path.
    let out = output(runner, wasm, &[script.to_str().context("scratch path is not UTF-8")?, "x"])?;
    let want = format!("True {} ['{}', 'x']", dir.display(), script.display());
    ensure!(out.stdout.trim() == want, "a script: expected `{want}`, got {}", out.describe());
    let mount = format!("{}::/s", dir.display());
    let out = output(runner, wasm, &["--dir-ro", &mount, "--cwd", "/s", "-m", "where", "y"])?;
    ensure!(out.stdout.trim() == "True /s ['/s/where.py', 'y']", "-m: {}", out.describe());

    // What changes initialization starts cold, and gets what it asked for.
    let out = output(runner, wasm, &["-I", "-c", "import _pylon_snapshot, sys; print(_pylon_snapshot.resumed(), sys.flags.isolated)"])?;
    ensure!(out.stdout.trim() == "False 1", "-I: {}", out.describe());
    let out = output(runner, wasm, &["--env", "PYTHONHASHSEED=0", "-c", "import _pylon_snapshot, sys; print(_pylon_snapshot.resumed(), sys.flags.hash_randomization)"])?;
    ensure!(out.stdout.trim() == "False 0", "PYTHONHASHSEED=0: {}", out.describe());
    step.done();
    Ok(())
}

/// `pylon --wasm WASM ARGS` with the caller's environment and a closed stdin.
fn output(runner: &Path, wasm: &Path, args: &[&str]) -> Result<Out> {
    let mut full = vec!["--wasm".to_owned(), wasm.display().to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    let out = cmd(runner, &full).stdin_null().stdout_capture().stderr_capture().unchecked().run().with_context(|| format!("cannot run {}", runner.display()))?;
    Ok(Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
