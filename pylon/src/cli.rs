//! Command-line parsing.
//!
//! The command line is `pylon [RUNNER-OPTIONS] [PYTHON-OPTIONS] [-c CMD | -m MOD | SCRIPT | -] [ARGS...]`.
//! Runner options are long options that must come first, so that everything from the first
//! non-runner argument on can be handed to CPython *unchanged*: CPython does its own option
//! parsing inside the sandbox. We still walk the Python options here, but only to find the
//! script path (which the runner has to mount) and to reject typos early.

use std::fmt;

use std::time::Duration;

/// `pylon --help`.
pub fn usage() -> String {
    format!(
        "{USAGE}
Limits (the WASI preview1 adapter's; beyond them pylon exits 2):
  start-up data of at most {} bytes: arguments and environment, counted
  with 8 bytes per argument and 16 per variable (PWD included with --cwd);
  mounts at most {}, the runner's own included: the stdlib's, the guest's /
  (or /dev when you mount /) and a SCRIPT's directory
",
        pylon::limits::STARTUP_BYTES_MAX,
        pylon::limits::PREOPENS_MAX
    )
}

const USAGE: &str = "\
usage: pylon [RUNNER-OPTIONS] [PYTHON-OPTIONS] [-c CMD | -m MOD | SCRIPT | -] [ARGS...]

Runs CPython 3.13 (a WebAssembly component) in a sandbox: no host files, no host
environment variables and no network unless granted below. stdin/stdout/stderr
are inherited. A SCRIPT given on the command line is mounted read-only (its
directory, at the same absolute path). The guest's / is a read-only directory of
the runner's unless you mount one there; /dev/null is the null device whatever
you mount, unless you mount a /dev of your own.

Runner options (must come before everything else):
  --wasm PATH           Python component to run (default: $PYLON_WASM, else
                        build/pylon.wasm searched upward from the current
                        directory, then from the pylon executable's directory)
  --dir HOST[::GUEST]   mount host directory HOST read-write at GUEST
                        (default GUEST: HOST as written; the guest's working
                        directory is /, so `--dir .` makes relative paths work)
  --dir-ro HOST[::GUEST]
                        same, read-only
  --cwd GUEST           start the guest in directory GUEST (absolute, inside a
                        mount; default /); the guest's PWD says where it is
  --env NAME=VALUE      set an environment variable in the guest (repeatable);
                        `--env NAME` copies NAME from the host if it is set
  --allow-net           allow network access and name lookups
  --timeout SECONDS     stop Python after SECONDS (decimals allowed), computing or
                        waiting alike; exit status 124
  --max-memory SIZE     cap the guest's memory (all its linear memories together)
                        at SIZE bytes, with a K, M or G suffix (128M, 2G): past it
                        allocations fail as Python's MemoryError
  --precompile          compile the component (and the cold core beside it; the
                        snapshot also with the epoch checks --timeout needs) into
                        the compiled-code cache and exit without running Python;
                        `cargo xtask build` and `run` do this after each build
  --no-snapshot         start the cold core (pylon-cold.wasm beside the component)
                        instead of resuming the pre-initialized snapshot; runs with
                        interpreter options, PYTHON* variables or the prompt start
                        cold anyway
  --                    end of runner options
  -h, --help            print this help and exit
  --version             print the runner version and exit

Python options (passed to Python unchanged):
  -c CMD  -m MOD  -  -I -S -E -s -u -B -q -i -O -OO -b -d -P -R -v -x -V
  -X OPT  -W ARG  --check-hash-based-pycs MODE  --help-env --help-xoptions --help-all

Environment:
  PYLON_WASM        component to run when --wasm is not given
  PYLON_CACHE_DIR   compiled-code cache (default $XDG_CACHE_HOME/pylon or ~/.cache/pylon)
  PYLON_DEBUG_CACHE=1  report which core starts, cache hit/miss, and where start-up
                    time goes (load, instantiate, run) on stderr

Exit status: Python's exit status; 2 for runner usage/setup errors; 124 when
--timeout stops it; 125 when --max-memory stops it where Python cannot raise
MemoryError; 134 if the WebAssembly code traps (e.g. a Python fatal error, which
aborts).
";

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    /// `--precompile`: fill the compiled-code cache for the component, run nothing.
    Precompile(Option<String>),
    Run(Options),
}

/// A host directory made visible in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: String,
    pub guest: String,
    pub read_only: bool,
}

/// `--env NAME=VALUE` (`value: Some`) or `--env NAME` (`value: None`: copy from the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub wasm: Option<String>,
    pub mounts: Vec<Mount>,
    pub env: Vec<EnvVar>,
    pub allow_net: bool,
    /// `--no-snapshot`: start the cold core even when the snapshot could start this run.
    pub no_snapshot: bool,
    /// `--cwd`: the guest's starting directory (absolute); `None` is `/`.
    pub cwd: Option<String>,
    /// `--timeout SECONDS`.
    pub timeout: Option<Duration>,
    /// `--max-memory SIZE`, in bytes.
    pub max_memory: Option<u64>,
    /// Python's arguments after `argv[0]`, exactly as given.
    pub python_args: Vec<String>,
    /// Index into `python_args` of the script path, if a script (not `-c`/`-m`/`-`) is run.
    pub script_index: Option<usize>,
}

/// A usage error; reported as `pylon: ...` with exit status 2, like CPython's own.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn err<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

const RUNNER_VALUE_OPTIONS: [&str; 7] = ["--wasm", "--dir", "--dir-ro", "--env", "--cwd", "--timeout", "--max-memory"];
const RUNNER_FLAG_OPTIONS: [&str; 5] = ["--allow-net", "--no-snapshot", "--precompile", "--help", "--version"];

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let mut opts = Options::default();
    let mut precompile = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if arg == "--" {
            i += 1;
            break;
        }
        // Accept both `--opt value` and `--opt=value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        if RUNNER_VALUE_OPTIONS.contains(&name) {
            let value = match inline {
                Some(v) => v.to_owned(),
                None => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => return err(format!("option {name} requires an argument")),
                    }
                }
            };
            match name {
                "--wasm" => {
                    if value.is_empty() {
                        return err("--wasm: empty path");
                    }
                    opts.wasm = Some(value);
                }
                "--dir" => opts.mounts.push(parse_mount(&value, false)?),
                "--dir-ro" => opts.mounts.push(parse_mount(&value, true)?),
                "--env" => opts.env.push(parse_env(&value)?),
                "--cwd" => {
                    // Relative to what? The guest has no working directory before this one.
                    if !value.starts_with('/') {
                        return err(format!("--cwd {value}: expected an absolute guest path"));
                    }
                    opts.cwd = Some(value);
                }
                "--timeout" => opts.timeout = Some(parse_timeout(&value)?),
                "--max-memory" => opts.max_memory = Some(parse_size(&value)?),
                _ => unreachable!(),
            }
        } else if RUNNER_FLAG_OPTIONS.contains(&name) || name == "-h" {
            if inline.is_some() {
                return err(format!("option {name} takes no argument"));
            }
            match name {
                "--help" | "-h" => return Ok(Command::Help),
                "--version" => return Ok(Command::Version),
                "--allow-net" => opts.allow_net = true,
                "--no-snapshot" => opts.no_snapshot = true,
                "--precompile" => precompile = true,
                _ => unreachable!(),
            }
        } else {
            break;
        }
        i += 1;
    }
    opts.python_args = args[i..].to_vec();
    if precompile {
        if !opts.python_args.is_empty() || !opts.mounts.is_empty() || !opts.env.is_empty() || opts.cwd.is_some() {
            return err("--precompile runs no Python: it takes only --wasm");
        }
        return Ok(Command::Precompile(opts.wasm));
    }
    opts.script_index = find_script(&opts.python_args)?;
    Ok(Command::Run(opts))
}

/// `--timeout SECONDS`: a positive number of seconds, decimals allowed.
fn parse_timeout(value: &str) -> Result<Duration, UsageError> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => err(format!("--timeout {value}: expected a positive number of seconds (e.g. 2 or 0.5)")),
    }
}

/// `--max-memory SIZE`: bytes, or with a `K`, `M` or `G` suffix (binary units; `MB`, `MiB`
/// accepted too).
fn parse_size(value: &str) -> Result<u64, UsageError> {
    let lower = value.trim().to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return err(format!("--max-memory {value}: unknown unit `{unit}` (use K, M or G, e.g. 128M)")),
    };
    match number.parse::<u64>().ok().and_then(|n| n.checked_shl(shift).filter(|b| b >> shift == n)) {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => err(format!("--max-memory {value}: expected a positive size such as 128M or 2G")),
    }
}

/// `HOST[::GUEST]`; without `::GUEST` the guest sees the directory under the path as written
/// (like `wasmtime run --dir`), which keeps relative paths meaningful because the guest's
/// working directory is `/` and wasi-libc resolves relative paths against it.
fn parse_mount(value: &str, read_only: bool) -> Result<Mount, UsageError> {
    let opt = if read_only { "--dir-ro" } else { "--dir" };
    let (host, guest) = match value.split_once("::") {
        Some((h, g)) => (h, g),
        None => (value, value),
    };
    if host.is_empty() {
        return err(format!("{opt} {value}: empty host directory"));
    }
    if guest.is_empty() {
        return err(format!("{opt} {value}: empty guest directory"));
    }
    Ok(Mount {
        host: host.to_owned(),
        guest: guest.to_owned(),
        read_only,
    })
}

fn parse_env(value: &str) -> Result<EnvVar, UsageError> {
    let (name, val) = match value.split_once('=') {
        Some((n, v)) => (n, Some(v.to_owned())),
        None => (value, None),
    };
    if name.is_empty() {
        return err(format!("--env {value}: expected NAME=VALUE"));
    }
    // The guest's libc starts in $PWD (deps/patches.toml): one way to say it, checked.
    if name == "PWD" {
        return err(format!(
            "--env {value}: the guest's PWD is its working directory; set it with --cwd"
        ));
    }
    Ok(EnvVar {
        name: name.to_owned(),
        value: val,
    })
}

/// CPython 3.13 short options that take no argument.
const PY_FLAGS: &str = "bBdEhiIOPqRsSuvVx?";

/// Walks CPython's own options (same grammar as CPython's getopt) to find where the program
/// starts. Returns the index of the script path, or `None` for `-c`, `-m`, `-` or no program.
fn find_script(args: &[String]) -> Result<Option<usize>, UsageError> {
    let mut j = 0;
    while j < args.len() {
        let arg = args[j].as_str();
        if arg == "-" {
            return Ok(None);
        }
        if arg == "--" {
            return Ok((j + 1 < args.len()).then_some(j + 1));
        }
        if let Some(long) = arg.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(n, _)| n);
            match name {
                "check-hash-based-pycs" => {
                    if !long.contains('=') {
                        if j + 1 >= args.len() {
                            return err("option --check-hash-based-pycs requires an argument");
                        }
                        j += 1;
                    }
                }
                "help" | "version" | "help-env" | "help-xoptions" | "help-all" => {}
                _ => {
                    let opt = format!("--{name}");
                    if RUNNER_VALUE_OPTIONS.contains(&opt.as_str())
                        || RUNNER_FLAG_OPTIONS.contains(&opt.as_str())
                    {
                        return err(format!(
                            "{opt}: runner options must come before Python options"
                        ));
                    }
                    return err(format!("unknown option {opt}"));
                }
            }
            j += 1;
            continue;
        }
        if let Some(cluster) = arg.strip_prefix('-') {
            for (k, ch) in cluster.char_indices() {
                if PY_FLAGS.contains(ch) {
                    continue;
                }
                let rest = &cluster[k + ch.len_utf8()..];
                match ch {
                    'c' | 'm' => {
                        if rest.is_empty() && j + 1 >= args.len() {
                            return err(format!("Argument expected for the -{ch} option"));
                        }
                        // Everything after the command/module belongs to it.
                        return Ok(None);
                    }
                    'X' | 'W' => {
                        if rest.is_empty() {
                            if j + 1 >= args.len() {
                                return err(format!("Argument expected for the -{ch} option"));
                            }
                            j += 1;
                        }
                        break;
                    }
                    _ => return err(format!("unknown option -{ch}")),
                }
            }
            j += 1;
            continue;
        }
        return Ok(Some(j));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn limits_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_size("128M"), Ok(128 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        for bad in ["", "0", "M", "12X", "-1G", "99999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timeout("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "x", "inf", "NaN"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
        let Ok(Command::Run(o)) = parse(&args(&["--timeout", "2", "--max-memory=128M", "-c", "pass"])) else { panic!() };
        assert_eq!((o.timeout, o.max_memory), (Some(Duration::from_secs(2)), Some(128 << 20)));
    }

    fn run(s: &[&str]) -> Options {
        match parse(&args(s)) {
            Ok(Command::Run(o)) => o,
            other => panic!("expected Run for {s:?}, got {other:?}"),
        }
    }

    fn usage_err(s: &[&str]) -> String {
        match parse(&args(s)) {
            Err(UsageError(m)) => m,
            other => panic!("expected an error for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn empty_is_repl_or_stdin() {
        let o = run(&[]);
        assert_eq!(o, Options::default());
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&args(&["--help"])), Ok(Command::Help));
        assert_eq!(parse(&args(&["-h"])), Ok(Command::Help));
        assert_eq!(parse(&args(&["--version"])), Ok(Command::Version));
        assert_eq!(
            parse(&args(&["--allow-net", "--help", "-c", "x"])),
            Ok(Command::Help)
        );
        // After the runner part these belong to Python.
        let o = run(&["-I", "--version"]);
        assert_eq!(o.python_args, args(&["-I", "--version"]));
        let o = run(&["-V"]);
        assert_eq!(o.python_args, args(&["-V"]));
        let o = run(&["--", "--help"]);
        assert_eq!(o.python_args, args(&["--help"]));
        assert_eq!(usage_err(&["--help=x"]), "option --help takes no argument");
    }

    #[test]
    fn precompile_takes_only_the_component() {
        assert_eq!(parse(&["--precompile".to_owned()]), Ok(Command::Precompile(None)));
        let args: Vec<String> = ["--wasm", "a.wasm", "--precompile"].map(String::from).to_vec();
        assert_eq!(parse(&args), Ok(Command::Precompile(Some("a.wasm".to_owned()))));
        let args: Vec<String> = ["--precompile", "-c", "pass"].map(String::from).to_vec();
        assert!(parse(&args).unwrap_err().0.contains("runs no Python"));
    }

    #[test]
    fn runner_options() {
        let o = run(&[
            "--wasm",
            "a.wasm",
            "--dir",
            "data",
            "--dir-ro=/srv/in::/in",
            "--env",
            "A=1",
            "--env=B=x=y",
            "--env",
            "HOME",
            "--allow-net",
            "--cwd=/srv",
            "-c",
            "print(1)",
            "--dir",
            "z",
        ]);
        assert_eq!(o.wasm.as_deref(), Some("a.wasm"));
        assert_eq!(
            o.mounts,
            vec![
                Mount {
                    host: "data".into(),
                    guest: "data".into(),
                    read_only: false
                },
                Mount {
                    host: "/srv/in".into(),
                    guest: "/in".into(),
                    read_only: true
                },
            ]
        );
        assert_eq!(
            o.env,
            vec![
                EnvVar {
                    name: "A".into(),
                    value: Some("1".into())
                },
                EnvVar {
                    name: "B".into(),
                    value: Some("x=y".into())
                },
                EnvVar {
                    name: "HOME".into(),
                    value: None
                },
            ]
        );
        assert!(o.allow_net);
        assert_eq!(o.cwd.as_deref(), Some("/srv"));
        // Everything after the command is the command's argv, even runner-looking options.
        assert_eq!(o.python_args, args(&["-c", "print(1)", "--dir", "z"]));
        assert_eq!(o.script_index, None);
    }

    #[test]
    fn dir_parsing() {
        let m = |s: &str| parse_mount(s, false);
        assert_eq!(
            m("/a/b::/g").unwrap(),
            Mount {
                host: "/a/b".into(),
                guest: "/g".into(),
                read_only: false
            }
        );
        assert_eq!(m(".").unwrap().guest, ".");
        // Only the first `::` separates; Windows-free paths rarely contain it anyway.
        assert_eq!(m("a::b::c").unwrap().guest, "b::c");
        assert_eq!(m("::/g").unwrap_err().0, "--dir ::/g: empty host directory");
        assert_eq!(
            m("/h::").unwrap_err().0,
            "--dir /h::: empty guest directory"
        );
        assert!(parse_mount("x", true).unwrap().read_only);
    }

    #[test]
    fn runner_option_errors() {
        assert_eq!(usage_err(&["--wasm"]), "option --wasm requires an argument");
        assert_eq!(usage_err(&["--dir"]), "option --dir requires an argument");
        assert_eq!(usage_err(&["--env", "=x"]), "--env =x: expected NAME=VALUE");
        assert_eq!(usage_err(&["--wasm="]), "--wasm: empty path");
        assert_eq!(usage_err(&["--cwd"]), "option --cwd requires an argument");
        assert_eq!(
            usage_err(&["--cwd", "proj"]),
            "--cwd proj: expected an absolute guest path"
        );
        assert!(usage_err(&["--env", "PWD=/x"]).contains("set it with --cwd"));
        assert!(usage_err(&["--env", "PWD"]).contains("set it with --cwd"));
        assert_eq!(
            usage_err(&["-I", "--dir", "x", "s.py"]),
            "--dir: runner options must come before Python options"
        );
        assert_eq!(usage_err(&["--bogus"]), "unknown option --bogus");
        assert_eq!(usage_err(&["-Z"]), "unknown option -Z");
        assert_eq!(usage_err(&["-c"]), "Argument expected for the -c option");
        assert_eq!(
            usage_err(&["-I", "-m"]),
            "Argument expected for the -m option"
        );
        assert_eq!(usage_err(&["-X"]), "Argument expected for the -X option");
    }

    #[test]
    fn script_detection() {
        let o = run(&["script.py", "-c", "x"]);
        assert_eq!(o.script_index, Some(0));
        assert_eq!(o.python_args, args(&["script.py", "-c", "x"]));

        let o = run(&[
            "--dir", "d", "-I", "-X", "utf8", "-Wignore", "-OO", "s.py", "a",
        ]);
        assert_eq!(o.script_index, Some(5));
        assert_eq!(o.python_args[5], "s.py");

        let o = run(&["-Xdev", "-W", "error", "s.py"]);
        assert_eq!(o.script_index, Some(3));

        let o = run(&["--check-hash-based-pycs", "never", "s.py"]);
        assert_eq!(o.script_index, Some(2));

        let o = run(&["-I", "--", "-weird.py"]);
        assert_eq!(o.script_index, Some(2));

        assert_eq!(run(&["-", "a"]).script_index, None);
        assert_eq!(run(&["-m", "http.server", "x.py"]).script_index, None);
        assert_eq!(run(&["-Im", "json.tool"]).script_index, None);
        assert_eq!(run(&["-Ic", "print(1)"]).script_index, None);
        assert_eq!(run(&["-cprint(1)", "x.py"]).script_index, None);
        assert_eq!(run(&["-i", "-q"]).script_index, None);
        // Clustered flags with a trailing -X value.
        assert_eq!(run(&["-IXutf8", "s.py"]).script_index, Some(1));
        assert_eq!(run(&["-IX", "utf8", "s.py"]).script_index, Some(2));
    }
}
