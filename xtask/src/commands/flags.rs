//! `cargo xtask flags [--json]`: how C is compiled and linked for the core, for code built
//! outside the build (out-of-tree caps, Rust guests linking libpython). Everything comes
//! from what the build itself used: the toolchain (`helpers::cc::CoreToolchain`), the native
//! libraries' stages, and the variables the WASI tree's make ran with (its sysconfig data,
//! read back by the native build python), so the two cannot drift.

use anyhow::{Context, Result, ensure};
use std::path::Path;

use crate::commands::build::{self, BuildArgs, Built};
use crate::helpers::layout::Layout;
use crate::stages::cpython::SYSCONFIGDATA;

/// The flags of one build, as `--json` prints them.
#[derive(Debug)]
pub struct Flags {
    pub profile: String,
    /// The compiler command (the xtask's zig wrapper); `cc_wraps` is what it runs.
    pub cc: String,
    pub cc_wraps: String,
    /// The flags of the core's built-in modules, without their `-I` and `-D` (below).
    pub cflags: Vec<String>,
    pub include_dirs: Vec<String>,
    pub defines: Vec<String>,
    pub ar: String,
    pub ldflags: Vec<String>,
    /// Static archives the core links, in link order: libpython, CPython's bundled
    /// libraries, the native libraries, pylon's wasi-libc additions.
    pub archives: Vec<String>,
    pub env: Vec<(String, String)>,
    pub native_libraries: Vec<NativeRow>,
    /// How a Rust guest links against the libpython bundle: the environment of its
    /// `cargo build --target wasm32-wasip1` (linker, RUSTFLAGS, PYO3_CONFIG_FILE, ...).
    pub rust_guest_env: Vec<(String, String)>,
    /// The libpython bundle in the cache and its stage key (`build/<profile>/libpy` is a copy).
    pub libpy_bundle: (String, String),
}

#[derive(Debug)]
pub struct NativeRow {
    pub module: String,
    pub library: String,
    pub archive: String,
    pub include_dir: String,
    pub source: String,
    pub cflags: Vec<String>,
}

impl Flags {
    pub fn to_json(&self) -> serde_json::Value {
        let libraries: Vec<serde_json::Value> = self
            .native_libraries
            .iter()
            .map(|l| {
                serde_json::json!({
                    "module": l.module, "library": l.library, "archive": l.archive,
                    "include_dir": l.include_dir, "source": l.source, "cflags": l.cflags,
                })
            })
            .collect();
        let env: serde_json::Map<String, serde_json::Value> =
            self.env.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect();
        let guest_env: serde_json::Map<String, serde_json::Value> =
            self.rust_guest_env.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect();
        serde_json::json!({
            "profile": self.profile, "cc": self.cc, "cc_wraps": self.cc_wraps, "cflags": self.cflags,
            "include_dirs": self.include_dirs, "defines": self.defines,
            "ar": self.ar, "ldflags": self.ldflags, "archives": self.archives, "env": env,
            "native_libraries": libraries,
            "rust_guest": { "target": crate::stages::guests::TARGET, "env": guest_env },
            "libpy": { "dir": self.libpy_bundle.0, "key": self.libpy_bundle.1 },
        })
    }
}

/// Reads the flags off a finished build.
pub fn collect(built: &Built) -> Result<Flags> {
    let tree = &built.wasi.dir;
    let vars = sysconfig_vars(&built.native_python, &built.wasi.platlib.join(SYSCONFIGDATA))?;
    let var = |name: &str| -> Vec<String> {
        vars.get(name).and_then(|v| v.as_str()).map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
    };
    let in_tree = |word: &str| -> String {
        let word = word.trim_start_matches("$(srcdir)/").trim_start_matches("./");
        match word {
            "." | "" => tree.display().to_string(),
            _ if Path::new(word).is_absolute() => word.to_owned(),
            _ => tree.join(word).display().to_string(),
        }
    };
    // What the build compiles the core's built-in modules with (an out-of-tree cap's
    // extension is one): flags, then its include dirs and defines apart, each once.
    let (mut cflags, mut include_dirs, mut defines) = (Vec::<String>::new(), Vec::<String>::new(), Vec::<String>::new());
    for word in var("PY_BUILTIN_MODULE_CFLAGS") {
        let (list, item) = if let Some(dir) = word.strip_prefix("-I") {
            (&mut include_dirs, in_tree(dir))
        } else if let Some(define) = word.strip_prefix("-D") {
            (&mut defines, define.to_owned())
        } else {
            (&mut cflags, word)
        };
        if !list.contains(&item) {
            list.push(item);
        }
    }
    for library in &built.libraries {
        include_dirs.push(library.include.display().to_string());
    }
    let mut ldflags = var("PY_CORE_LDFLAGS");
    ldflags.extend(var("LINKFORSHARED"));
    // libpython first, then every archive make linked python.wasm with (MODLIBS: the native
    // libraries and CPython's bundled mpdecimal, expat, HACL; LIBS: wasi-posix).
    let mut archives = vec![tree.join(vars.get("LIBRARY").and_then(|v| v.as_str()).unwrap_or("libpython3.13.a")).display().to_string()];
    for name in ["MODLIBS", "LIBS", "SYSLIBS"] {
        for word in var(name).iter().filter(|w| w.ends_with(".a")) {
            let path = in_tree(word);
            if !archives.contains(&path) {
                archives.push(path);
            }
        }
    }
    for path in &archives {
        ensure!(Path::new(path).is_file(), "the build links {path}, which is not there (was the cache pruned? run `cargo xtask build`)");
    }
    let tc = &built.toolchain;
    Ok(Flags {
        profile: built.manifest.profile.clone(),
        cc: tc.cc.join(" "),
        cc_wraps: tc.wrapped.join(" "),
        cflags,
        include_dirs,
        defines,
        ar: tc.ar.join(" "),
        ldflags,
        archives,
        env: tc.env.clone(),
        native_libraries: built
            .libraries
            .iter()
            .map(|l| NativeRow {
                module: l.module.clone(),
                library: l.name.clone(),
                archive: l.archive.display().to_string(),
                include_dir: l.include.display().to_string(),
                source: l.source_label.clone(),
                cflags: l.cflags.clone(),
            })
            .collect(),
        rust_guest_env: built.guest_env.clone(),
        libpy_bundle: (built.libpy.dir.display().to_string(), built.libpy.key.clone()),
    })
}

/// The `build_time_vars` of the WASI build's sysconfig data, as JSON, read by the native
/// build python (the file is Python source).
fn sysconfig_vars(python: &Path, data: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    let code = "import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])['build_time_vars']))";
    let text = duct::cmd!(python, "-c", code, data)
        .read()
        .with_context(|| format!("cannot read the build's sysconfig data {}", data.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).context("the sysconfig data is not a dict")?;
    value.as_object().cloned().context("the sysconfig data is not a dict")
}

/// Compiles a C file that uses Python.h and every native library's header with exactly
/// what `collect` reports, into an archive with the reported `ar`: flags that miss a
/// directory, a define or the compiler's environment fail here, not in someone's build.
pub fn self_check(built: &Built, scratch: &Path) -> Result<()> {
    let flags = collect(built)?;
    std::fs::create_dir_all(scratch)?;
    let mut source = String::from("#include <Python.h>\n");
    let mut uses = vec!["PY_VERSION_HEX".to_owned()];
    for (library, header, symbol) in [("sqlite3", "sqlite3.h", "SQLITE_VERSION_NUMBER"), ("bz2", "bzlib.h", "BZ_OK + 1"), ("lzma", "lzma.h", "LZMA_VERSION")] {
        if flags.native_libraries.iter().any(|l| l.library == library) {
            source.push_str(&format!("#include <{header}>\n"));
            uses.push(format!("({symbol})"));
        }
    }
    source.push_str(&format!("int pylon_flags_check(void) {{ return Py_IsInitialized() + (int)({}); }}\n", uses.join(" + ")));
    std::fs::write(scratch.join("check.c"), source)?;
    let cc: Vec<&str> = flags.cc.split(' ').collect();
    let mut args: Vec<String> = cc[1..].iter().map(|s| s.to_string()).collect();
    args.extend(flags.cflags.iter().cloned());
    args.extend(flags.include_dirs.iter().map(|d| format!("-I{d}")));
    args.extend(flags.defines.iter().map(|d| format!("-D{d}")));
    args.extend(["-c".into(), "check.c".into(), "-o".into(), "check.o".into()]);
    let mut compile = duct::cmd(cc[0], &args).dir(scratch).stderr_to_stdout().stdout_capture().unchecked();
    for (k, v) in &flags.env {
        compile = compile.env(k, v);
    }
    let out = compile.run()?;
    ensure!(out.status.success(), "a C file built with `cargo xtask flags` does not compile:\n{}", String::from_utf8_lossy(&out.stdout));
    let ar: Vec<&str> = flags.ar.split(' ').collect();
    let mut ar_args: Vec<&str> = ar[1..].to_vec();
    ar_args.extend(["rcs", "libcheck.a", "check.o"]);
    duct::cmd(ar[0], &ar_args).dir(scratch).stdout_null().run().context("the reported `ar` failed")?;
    Ok(())
}

fn shell_words(words: &[String]) -> String {
    words.iter().map(|w| if w.contains([' ', '"', '\'']) { format!("'{w}'") } else { w.clone() }).collect::<Vec<_>>().join(" ")
}

/// `cargo xtask flags`.
pub fn command(args: &BuildArgs, json: bool, check: bool) -> Result<()> {
    let layout = Layout::from_env()?;
    let built = build::build(&layout, args)?;
    if check {
        let scratch = layout.cache.join("flags-check");
        self_check(&built, &scratch)?;
        eprintln!("flags: compiled {} against Python.h and the native libraries' headers, archived it with AR", scratch.join("check.c").display());
    }
    let flags = collect(&built)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&flags.to_json())?);
        return Ok(());
    }
    println!("# The C toolchain of the {} core, as `cargo xtask build` used it.", flags.profile);
    println!("CC={}", flags.cc);
    println!("# CC runs: {}", flags.cc_wraps);
    println!("CFLAGS={}", shell_words(&flags.cflags));
    println!("INCLUDE_DIRS={}", shell_words(&flags.include_dirs));
    println!("DEFINES={}", shell_words(&flags.defines));
    println!("AR={}", flags.ar);
    println!("LDFLAGS={}", shell_words(&flags.ldflags));
    println!("ARCHIVES={}", shell_words(&flags.archives));
    for (k, v) in &flags.env {
        println!("{k}={v}");
    }
    for l in &flags.native_libraries {
        println!("# {} over lib{}.a ({}): {}", l.module, l.library, l.source, l.archive);
    }
    println!("# A Rust guest (pyo3) against the libpython bundle: `cargo build --target {}` with", crate::stages::guests::TARGET);
    for (k, v) in &flags.rust_guest_env {
        println!("{k}={v}");
    }
    println!("# libpython bundle {} (stage key {})", flags.libpy_bundle.0, flags.libpy_bundle.1);
    Ok(())
}
