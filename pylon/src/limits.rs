//! What the guest's start-up can hold.
//!
//! CPython runs on the WASI preview1 *command adapter* (wasmtime 50.0.1's), which keeps its
//! state in one 64 KiB page: the argument and environment lists are copied into a fixed arena
//! there, and file descriptors live in a fixed table of 128 slots, three of them stdio. Past
//! either the adapter executes `unreachable`, so the runner refuses such a start up front,
//! with exit status 2 and the limit named, instead of letting the guest trap.

use std::fmt;

/// Bytes of the adapter's arena that argv and the environment may fill, as counted by
/// [`startup_bytes`]. Measured against the adapter on 2026-12-01: one argument traps past
/// 59,053 counted bytes, one variable past 59,078; this keeps a margin below both, and every
/// mix of arguments and variables tried up to it ran. `cargo xtask test` starts the guest at
/// exactly this footprint and checks that one byte more is refused. Mount names do not count:
/// the adapter does not keep them (1000-character guest paths changed nothing).
pub const STARTUP_BYTES_MAX: usize = 58_880;

/// Preopened directories, the runner's own included: the stdlib's, the guest's `/` (or
/// `/dev`, see `root`) and a script's directory. Every one takes a descriptor
/// slot for the whole run (measured: with 124 preopens CPython cannot open its own stdlib,
/// past 125 the adapter traps); the limit keeps about half of the 125 non-stdio slots for the
/// files the program opens itself (61 with every mount used).
pub const PREOPENS_MAX: usize = 64;

/// How much of the adapter's arena `argv` and `env` take: each list entry is a pointer and a
/// length (8 bytes on wasm32; a variable is two of them), plus the string bytes, plus up to 3
/// bytes to align each list.
pub fn startup_bytes(argv: &[String], env: &[(String, String)]) -> usize {
    let args: usize = argv.iter().map(|a| 8 + a.len()).sum();
    let vars: usize = env.iter().map(|(k, v)| 16 + k.len() + v.len()).sum();
    args + 3 + vars + 3
}

/// A start the adapter could not hold.
#[derive(Debug, PartialEq, Eq)]
pub enum TooLarge {
    Startup { bytes: usize },
    Preopens { count: usize },
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TooLarge::Startup { bytes } => write!(
                f,
                "start-up data is {bytes} bytes (arguments and environment, 8 bytes per \
                 argument and 16 per variable included); the WASI preview1 adapter holds at \
                 most {STARTUP_BYTES_MAX}: pass large data in a file under a --dir mount"
            ),
            TooLarge::Preopens { count } => write!(
                f,
                "{count} mounts (the runner's own included: the stdlib's, the guest's / or \
                 /dev, a script's directory); at most \
                 {PREOPENS_MAX} mounts fit the WASI preview1 adapter's descriptor table \
                 beside the program's own open files: mount a common parent directory instead"
            ),
        }
    }
}

impl std::error::Error for TooLarge {}

/// Checks a start against both limits.
pub fn check(argv: &[String], env: &[(String, String)], preopens: usize) -> Result<(), TooLarge> {
    if preopens > PREOPENS_MAX {
        return Err(TooLarge::Preopens { count: preopens });
    }
    let bytes = startup_bytes(argv, env);
    if bytes > STARTUP_BYTES_MAX {
        return Err(TooLarge::Startup { bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprint_counts_entries_and_bytes() {
        let argv = vec!["python".to_owned(), "-c".to_owned()];
        let env = vec![("A".to_owned(), "xyz".to_owned())];
        assert_eq!(startup_bytes(&argv, &env), (8 + 6) + (8 + 2) + 3 + (16 + 4) + 3);
        assert_eq!(startup_bytes(&[], &[]), 6);
    }

    #[test]
    fn limits_are_enforced_at_the_boundary() {
        // One argument of exactly the remaining room, then one byte more.
        let exact = vec!["x".repeat(STARTUP_BYTES_MAX - 8 - 6)];
        assert_eq!(startup_bytes(&exact, &[]), STARTUP_BYTES_MAX);
        assert_eq!(check(&exact, &[], 1), Ok(()));
        let over = vec!["x".repeat(STARTUP_BYTES_MAX - 8 - 6 + 1)];
        assert_eq!(
            check(&over, &[], 1),
            Err(TooLarge::Startup {
                bytes: STARTUP_BYTES_MAX + 1
            })
        );
        assert_eq!(check(&[], &[], PREOPENS_MAX), Ok(()));
        let err = check(&[], &[], PREOPENS_MAX + 1).unwrap_err();
        assert!(err.to_string().contains(&format!("at most {PREOPENS_MAX} mounts")));
    }
}
