//! `cargo xtask`: builds, composes, verifies and tests pylon.
//!
//! `stages/` holds the build pipeline, one module per stage in the order data flows
//! (`deps → cpython → stdlib → snapshot → caps → extglue → component → dynlink → compose →
//! manifest`); `commands/` the `cargo xtask` commands that run them (`verify`, `test`,
//! `fuzz-caps`, …); `helpers/` what both share.

mod commands;
mod helpers;
mod stages;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

use commands::build::BuildArgs;
use helpers::layout::Profile;
use stages::caps;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, verify and test pylon", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Fetch the pinned inputs (zig, CPython's source) and check their sha256.
    Deps {
        /// Only check what is already in the cache; fetch nothing.
        #[arg(long)]
        check: bool,
    },
    /// Build `build/<profile>/pylon.wasm`, its stdlib and the manifest.
    Build(BuildArgs),
    /// Write each extension's `gen/` (C glue) from the caps' WIT.
    Gen {
        /// Only check that the committed `gen/` is fresh.
        #[arg(long)]
        check: bool,
    },
    /// Recompute the sha256 and size of every artifact under build/ and compare with the
    /// manifest; check that build/pylon.wasm leads to its pylon.
    Verify {
        #[arg(long, value_enum, default_value_t = Profile::Release)]
        profile: Profile,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Build if stale, then run the `pylon` runner with ARGS.
    Run {
        #[command(flatten)]
        build: BuildArgs,
        /// Arguments for pylon (after `--`).
        #[arg(last = true)]
        args: Vec<OsString>,
    },
    /// Run cargo's tests, build, run the smoke tests, fuzz the caps and check reproducibility.
    Test {
        /// Skip the second build in another directory (the reproducibility check).
        #[arg(long)]
        no_repro: bool,
    },
    /// Build twice in two different directories and compare every artifact's sha256.
    Repro,
    /// Scaffold a new cap: crate, WIT, CPython extension with generated glue, smoke test.
    AddCap {
        /// The cap's name, e.g. `demo_echo`: lowercase letters, digits and single
        /// underscores, at most 60 characters, no Rust, Python or WIT keyword, and clashing
        /// with no cap, extension, facade or stdlib module. Checked before anything is written.
        name: String,
        /// How it is linked: `static` (its own interface), `mux` (one interface, a scheme
        /// parameter) or `dynlink` (a provider behind the linker, added to the plan).
        #[arg(long, default_value = "static", value_parser = parse_kind)]
        kind: caps::Kind,
        /// Also create a Python facade module named NAME installed into the stdlib.
        #[arg(long)]
        facade: bool,
    },
    /// Run CPython's own test modules inside pylon and natively; compare pass counts.
    Conformance {
        /// Test modules of CPython's `test` package. With none, the default sweep
        /// (`commands::conformance::DEFAULT_SWEEP`), which also rewrites `conformance.md`.
        suites: Vec<String>,
        /// Where to write the markdown report (default: `conformance.md` for the default
        /// sweep, none for named suites).
        #[arg(long)]
        report: Option<std::path::PathBuf>,
        /// Fail when a suite passes less than this share of its native passes.
        #[arg(long, default_value_t = 0.95)]
        min_share: f64,
    },
    /// Seeded random calls into each cap's raw extension module inside pylon; fails on a
    /// trap (exit 134) or a hang, with the seed and the last call (see xtask/src/commands/fuzz.rs).
    FuzzCaps {
        /// Calls per cap.
        #[arg(long, default_value_t = 20000)]
        calls: u32,
        /// Seed of the random calls (default: from the clock; printed, to reproduce a run).
        #[arg(long)]
        seed: Option<u64>,
        /// Caps to fuzz, by name (default: all). A dynlink provider is fuzzed through the
        /// extensions that link the ids it serves.
        caps: Vec<String>,
    },
    /// Compare pylon with the native build python on startup and small workloads.
    Bench {
        /// Repetitions per measurement (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Print how C is compiled and linked for the core (CC, CFLAGS, include dirs, defines,
    /// AR, LDFLAGS, archives), as the build used them; builds first if stale.
    Flags {
        #[command(flatten)]
        build: BuildArgs,
        /// Print JSON (keys include `cc`, `cflags`, `ldflags`, `archives`).
        #[arg(long)]
        json: bool,
        /// First compile a C file using Python.h and every native library's header with
        /// these flags, and archive it with AR (fails if the flags are not enough).
        #[arg(long)]
        check: bool,
    },
    /// The C compiler wrapper the CPython build calls (zig cc for wasm32-wasi).
    #[command(hide = true)]
    ZigCc {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}


fn parse_kind(s: &str) -> Result<caps::Kind, String> {
    caps::Kind::parse(s).ok_or_else(|| format!("expected one of {}", caps::Kind::ALL.map(|k| k.name()).join(", ")))
}

fn main() -> ExitCode {
    // Called by rustc as a Rust guest's linker, through a link named for the cc flavor.
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    if std::path::Path::new(&argv0).file_name().is_some_and(|f| f == helpers::cc::GUEST_LINKER_NAME) {
        return helpers::cc::guest_link(argv.collect());
    }
    let cli = Cli::parse();
    let result: Result<ExitCode> = match cli.task {
        Task::ZigCc { args } => return helpers::cc::zig_cc(args),
        Task::Deps { check } => commands::deps(check).map(|_| ExitCode::SUCCESS),
        Task::Gen { check } => commands::generate(check).map(|_| ExitCode::SUCCESS),
        Task::Build(args) => commands::build::command(&args).map(|_| ExitCode::SUCCESS),
        Task::Verify { profile, json } => commands::verify::command(profile, json),
        Task::Run { build, args } => commands::run(&build, &args),
        Task::Test { no_repro } => commands::test::command(!no_repro).map(|_| ExitCode::SUCCESS),
        Task::Repro => commands::repro::command().map(|_| ExitCode::SUCCESS),
        Task::AddCap { name, kind, facade } => commands::add_cap::command(&name, kind, facade).map(|_| ExitCode::SUCCESS),
        Task::Conformance { suites, report, min_share } => {
            commands::conformance::command(&suites, report.as_deref(), min_share).map(|_| ExitCode::SUCCESS)
        }
        Task::FuzzCaps { calls, seed, caps } => commands::fuzz::command(calls, seed, &caps).map(|_| ExitCode::SUCCESS),
        Task::Flags { build, json, check } => commands::flags::command(&build, json, check).map(|_| ExitCode::SUCCESS),
        Task::Bench { runs } => commands::bench::command(runs).map(|_| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
