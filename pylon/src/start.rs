//! Which core starts a run: the pre-initialized snapshot (`pylon.wasm`), or the cold core
//! beside it (`pylon-cold.wasm`).
//!
//! The snapshot's CPython initialized once, at build time, as a plain `python` starts
//! (cpython-ext/_pylon_snapshot/snapshot.c). A run that would initialize differently must
//! start cold, or it would not get what it asked for: interpreter options (`-I`, `-S`, `-E`,
//! `-X ...`, `-W ...`, `-u`, ...), `PYTHON*` variables other than `PYTHONPATH` (a
//! `PYTHONHASHSEED` included: the snapshot's hash seed is fixed), locale variables, and
//! the interactive prompt. `-c`, `-m`, a script and a piped stdin, with their arguments and
//! any other environment, mounts and working directory, resume the snapshot, which applies
//! them as a cold start would. The snapshot checks the same itself and refuses, naming the
//! setting, anything it cannot apply exactly.

/// Why this run needs the cold core, or `None` when the snapshot can start it.
pub fn cold_reason(python_args: &[String], env: &[(String, String)], stdin_is_tty: bool) -> Option<String> {
    match python_args.first().map(String::as_str) {
        None if stdin_is_tty => return Some("the interactive prompt".to_owned()),
        Some("-") if stdin_is_tty => return Some("the interactive prompt".to_owned()),
        None | Some("-c") | Some("-m") | Some("-") => {}
        Some(arg) if !arg.starts_with('-') => {}
        Some(arg) => return Some(format!("interpreter option {arg}")),
    }
    for (name, _) in env {
        let initializes = (name.starts_with("PYTHON") && name != "PYTHONPATH")
            || matches!(name.as_str(), "LC_ALL" | "LC_CTYPE" | "LANG");
        if initializes {
            return Some(format!("environment variable {name}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::cold_reason;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn programs_resume_the_snapshot() {
        for a in [&["-c", "pass", "-I"][..], &["-m", "json.tool"], &["script.py", "-X", "dev"], &["-"], &[]] {
            assert_eq!(cold_reason(&args(a), &[], false), None, "{a:?}");
        }
        let env = vec![("PYTHONPATH".to_owned(), "/w".to_owned()), ("HOME".to_owned(), "/h".to_owned())];
        assert_eq!(cold_reason(&args(&["-c", "pass"]), &env, false), None);
    }

    #[test]
    fn what_changes_initialization_starts_cold() {
        assert_eq!(cold_reason(&args(&["-I", "-c", "pass"]), &[], false).unwrap(), "interpreter option -I");
        assert_eq!(cold_reason(&args(&["-X", "dev", "x.py"]), &[], false).unwrap(), "interpreter option -X");
        assert_eq!(cold_reason(&args(&[]), &[], true).unwrap(), "the interactive prompt");
        let seed = vec![("PYTHONHASHSEED".to_owned(), "0".to_owned())];
        assert_eq!(cold_reason(&args(&["-c", "pass"]), &seed, false).unwrap(), "environment variable PYTHONHASHSEED");
        let locale = vec![("LC_ALL".to_owned(), "C".to_owned())];
        assert!(cold_reason(&args(&["-c", "pass"]), &locale, false).is_some());
    }
}
