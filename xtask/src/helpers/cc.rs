//! The C compiler the CPython build (and cc-rs, for C code in the caps) calls:
//! `xtask zig-cc ARGS` runs `zig cc` for wasm32-wasi with the few adjustments zig needs. Being the xtask binary itself, it needs
//! no script on disk and no wrapper to keep in sync.

use std::ffi::OsString;
use std::process::ExitCode;

/// Changing what the wrapper does must rebuild CPython: this is part of the stage key.
pub const WRAPPER_RECIPE: &str =
    "zig-cc v3: -target wasm32-wasi; drop -Wl,--stack-first and --target=*; DATE/TIME from SOURCE_DATE_EPOCH; zig's dir mapped to /zig";

/// Set by the cpython stage in the environment of configure and make, and by `caps::build`.
pub const ZIG_ENV: &str = "PYLON_ZIG";

/// How C is compiled for the core: the one description the CPython build, the native
/// libraries and `cargo xtask flags` all read, so that nothing built beside the build drifts.
#[derive(Clone, Debug)]
pub struct CoreToolchain {
    /// The compiler command: this xtask binary's `zig-cc` wrapper.
    pub cc: Vec<String>,
    /// What the wrapper runs: `zig cc -target wasm32-wasi`.
    pub wrapped: Vec<String>,
    pub ar: Vec<String>,
    pub ranlib: Vec<String>,
    /// CPython's `OPT` for the profile (optimisation, NDEBUG, warnings).
    pub opt: String,
    /// The environment the compiler needs (which zig, its caches, the fixed build time).
    pub env: Vec<(String, String)>,
    /// Names everything above that decides the bytes (zig's key, wrapper, flags, epoch).
    pub key: String,
}

impl CoreToolchain {
    pub fn new(zig: &crate::stages::deps::Zig, profile: crate::helpers::layout::Profile, source_date_epoch: u64) -> anyhow::Result<CoreToolchain> {
        use anyhow::Context;
        let xtask = std::env::current_exe().context("cannot find the xtask binary for the zig-cc wrapper")?;
        let zig_exe = zig.exe.display().to_string();
        let mut env = vec![(ZIG_ENV.to_owned(), zig_exe.clone()), ("SOURCE_DATE_EPOCH".to_owned(), source_date_epoch.to_string())];
        for (k, v) in zig.env() {
            env.push((k.to_owned(), v.display().to_string()));
        }
        let opt = profile.opt_flags().to_owned();
        Ok(CoreToolchain {
            cc: vec![xtask.display().to_string(), "zig-cc".to_owned()],
            wrapped: vec![zig_exe.clone(), "cc".to_owned(), "-target".to_owned(), "wasm32-wasi".to_owned()],
            ar: vec![zig_exe.clone(), "ar".to_owned()],
            ranlib: vec![zig_exe, "ranlib".to_owned()],
            key: format!("zig {}; {WRAPPER_RECIPE}; OPT {opt}; epoch {source_date_epoch}", zig.key),
            opt,
            env,
        })
    }
}

/// The file name the guest stage gives this binary (a link in the cache) as rustc's linker
/// for Rust guests: rustc infers the cc linker flavor from a name ending in `-clang` (a
/// flavor flag would be unstable), and `main` dispatches on it to [`guest_link`].
pub const GUEST_LINKER_NAME: &str = "pylon-wasm32-wasi-clang";

/// Changing what the guest linker does must relink the guests: part of their stage key.
pub const GUEST_LINKER_RECIPE: &str = "guest-link v1: zig cc -target wasm32-wasi; drop --target=*, -Wl,--no-demangle, -Wl,--stack-first";

/// rustc's link of a Rust guest against zig's wasi-libc (`-Clink-self-contained=no`), the
/// libc the core and its libpython were built with: `zig cc` without the flags rustc passes
/// to clang that zig rejects (`--target=wasm32-wasip1`, `-Wl,--no-demangle`).
pub fn guest_link(args: Vec<OsString>) -> ExitCode {
    let Some(zig) = std::env::var_os(ZIG_ENV) else {
        eprintln!("{GUEST_LINKER_NAME}: ${ZIG_ENV} is not set (this linker is run by rustc for `cargo xtask build`'s guests)");
        return ExitCode::from(2);
    };
    let mut full: Vec<OsString> = vec!["cc".into(), "-target".into(), "wasm32-wasi".into()];
    full.extend(args.into_iter().filter(|a| {
        let a = a.to_string_lossy();
        a != "-Wl,--no-demangle" && a != "-Wl,--stack-first" && !a.starts_with("--target=")
    }));
    run_zig(&zig, full)
}

fn run_zig(zig: &std::ffi::OsStr, args: Vec<OsString>) -> ExitCode {
    match duct::cmd(zig, args).unchecked().run() {
        Ok(out) => ExitCode::from(out.status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("xtask zig-cc: cannot run zig: {err}");
            ExitCode::from(2)
        }
    }
}

pub fn zig_cc(args: Vec<OsString>) -> ExitCode {
    let Some(zig) = std::env::var_os(ZIG_ENV) else {
        eprintln!("xtask zig-cc: ${ZIG_ENV} is not set (this wrapper is run by the CPython build)");
        return ExitCode::from(2);
    };
    let mut full: Vec<OsString> = vec!["cc".into(), "-target".into(), "wasm32-wasi".into()];
    // zig's linker driver rejects --stack-first; the stack size flags still apply. cc-rs
    // (C code of the caps, for wasm32-wasip2) adds `--target=wasm32-wasip2`, which zig does
    // not know: its objects for wasm32-wasi link into the Rust wasip2 component as they are.
    full.extend(args.iter().filter(|a| *a != "-Wl,--stack-first" && !a.to_string_lossy().starts_with("--target=")).cloned());
    if args.iter().any(|a| a == "-c") {
        // zig's own headers (wasi-libc's, clang's) are named in the debug info by where zig
        // was unpacked, a path of this checkout's cache: named /zig instead, before the
        // caller's own maps.
        if let Some(dir) = std::path::Path::new(&zig).parent() {
            full.insert(3, format!("-ffile-prefix-map={}=/zig", dir.display()).into());
        }
        // zig rejects __DATE__/__TIME__ (-Wdate-time); CPython takes DATE/TIME macros
        // instead, which also makes the build info reproducible.
        let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        let (date, time) = build_date_time(epoch);
        full.push(format!("-DDATE=\"{date}\"").into());
        full.push(format!("-DTIME=\"{time}\"").into());
    }
    run_zig(&zig, full)
}

/// `__DATE__`/`__TIME__`-style strings (`Jan  1 2025`, `00:00:00`) for a Unix time.
pub fn build_date_time(epoch: u64) -> (String, String) {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{} {:>2} {year}", MONTHS[(month - 1) as usize], day);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    (date, time)
}

#[cfg(test)]
mod tests {
    use super::build_date_time;

    #[test]
    fn dates_like_the_c_preprocessor() {
        assert_eq!(build_date_time(1_735_689_600), ("Jan  1 2025".into(), "00:00:00".into()));
        assert_eq!(build_date_time(951_782_400 + 3_723), ("Feb 29 2000".into(), "01:02:03".into()));
    }
}
