//! Stage: seeded random calls into every cap's raw extension module inside pylon, failing on
//! a trap (the runner's exit 134). No input from Python may trap the runtime: every call
//! must give a result or a Python exception.
//!
//! What is fuzzed is derived, never listed: each static or mux cap through its `ext`; each
//! dynlink provider through every extension that links an id it serves, in the pylon.wasm
//! whose plan has it serve that id (the default build, or the swap plan of
//! `dynlink::write_swaps`). The fuzzer (`pylon/tests/fuzz/capfuzz.py`) knows no cap either:
//! it reads the module's `__wit__` table. Hints come from the ext.toml `[fuzz]` table, plus
//! the schemes of a mux cap and the linked ids.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::commands::build::BuildArgs;
use crate::commands::build;
use crate::helpers::layout::{Layout, Profile};
use crate::helpers::runner;
use crate::stages::caps::{self, Cap, Ext, Kind};
use crate::stages::dynlink::{self, Plan};

/// The fuzzer, run inside pylon.
pub const SCRIPT: &str = "pylon/tests/fuzz/capfuzz.py";
/// `cargo xtask test`: calls per cap and the seed, fixed so that CI is reproducible.
pub const CI_CALLS: u32 = 3000;
pub const CI_SEED: u64 = 1;
/// The runner's exit status for a trap (`pylon/src/run.rs`).
const TRAP_EXIT: i32 = 134;

/// One run of the fuzzer: a cap, the module that reaches it, the build that serves it.
#[derive(Debug, PartialEq)]
pub struct Unit {
    pub cap: String,
    pub module: String,
    /// None: the default build; else the dynlink plan (a swap) that has this provider
    /// serve what `module` links.
    pub plan: Option<PathBuf>,
    /// `hints.json` for the fuzzer: `strings`, `ints`, `params` (by parameter name).
    pub hints: Value,
}

impl Unit {
    fn label(&self) -> String {
        format!("{} ({})", self.cap, self.module)
    }
}

/// The units of `caps` (all when `only` is empty).
pub fn units(root: &Path, caps: &[Cap], exts: &[Ext], plan: &Plan, only: &[String]) -> Result<Vec<Unit>> {
    for name in only {
        if !caps.iter().any(|c| &c.name == name) {
            bail!("no cap named `{name}` (caps: {})", caps.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "));
        }
    }
    let mut units: Vec<Unit> = Vec::new();
    for cap in caps.iter().filter(|c| only.is_empty() || only.contains(&c.name)) {
        match cap.kind {
            Kind::Static | Kind::Mux => {
                let module = cap.ext.clone().unwrap_or_default();
                let ext = exts.iter().find(|e| e.module == module).with_context(|| format!("cap `{}`: no extension `{module}`", cap.name))?;
                units.push(Unit { cap: cap.name.clone(), module, plan: None, hints: hints(ext, &cap.schemes)? });
            }
            // Implemented by the embedding application: the CLI the fuzzer drives has none.
            Kind::Host => {}
            Kind::Dynlink => {
                for ext in exts {
                    for id in ext.links.iter().filter(|id| cap.serves.contains(id)) {
                        let by_default = plan.serve.iter().any(|(i, p)| i == id && p == &cap.name);
                        let plan = if by_default {
                            None
                        } else {
                            let swap = dynlink::write_swaps(root, plan, caps)?
                                .into_iter()
                                .find(|s| &s.id == id && s.to == cap.name)
                                .ok_or_else(|| anyhow!("no plan serves `{id}` by `{}`", cap.name))?;
                            Some(swap.plan)
                        };
                        let unit = Unit { cap: cap.name.clone(), module: ext.module.clone(), plan, hints: hints(ext, std::slice::from_ref(id))? };
                        if !units.contains(&unit) {
                            units.push(unit);
                        }
                    }
                }
            }
        }
    }
    Ok(units)
}

/// The fuzzer's hints for `ext`: its `[fuzz]` table (`strings`, `ints`, `params`, `setup`)
/// and the `derived` strings (a mux cap's schemes, a linked id).
fn hints(ext: &Ext, derived: &[String]) -> Result<Value> {
    let mut strings: Vec<Value> = derived.iter().map(|s| json!(s)).collect();
    let mut ints = Vec::new();
    let mut params = serde_json::Map::new();
    let mut setup = serde_json::Map::new();
    let file = ext.dir.join("ext.toml");
    let list = |item: &toml_edit::Item, what: &str| -> Result<Vec<Value>> {
        let array = item.as_array().ok_or_else(|| anyhow!("{}: [fuzz] {what} must be an array", file.display()))?;
        array.iter().map(|v| value(v).with_context(|| format!("{}: [fuzz] {what}", file.display()))).collect()
    };
    for (key, item) in ext.fuzz.iter() {
        match key {
            "strings" => strings.extend(list(item, key)?),
            "ints" => ints.extend(list(item, key)?),
            "params" => {
                let table = item.as_table_like().ok_or_else(|| anyhow!("{}: [fuzz.params] must be a table", file.display()))?;
                for (name, values) in table.iter() {
                    params.insert(name.to_owned(), Value::Array(list(values, &format!("params.{name}"))?));
                }
            }
            "setup" => {
                let table = item.as_table_like().ok_or_else(|| anyhow!("{}: [fuzz.setup] must be a table", file.display()))?;
                for (resource, calls) in table.iter() {
                    setup.insert(resource.to_owned(), Value::Array(list(calls, &format!("setup.{resource}"))?));
                }
            }
            other => bail!("{}: [fuzz] takes `strings`, `ints`, `params` and `setup`, not `{other}`", file.display()),
        }
    }
    Ok(json!({"strings": strings, "ints": ints, "params": params, "setup": setup}))
}

fn value(v: &toml_edit::Value) -> Result<Value> {
    Ok(match v {
        toml_edit::Value::String(s) => json!(s.value()),
        toml_edit::Value::Integer(i) => json!(i.value()),
        toml_edit::Value::Float(f) => json!(f.value()),
        toml_edit::Value::Boolean(b) => json!(b.value()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(value).collect::<Result<_>>()?),
        _ => bail!("only strings, integers, floats, booleans and arrays of them"),
    })
}

/// How long one run may take before it counts as a hang (a call that never returns).
fn deadline(calls: u32) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(20) * calls
}

/// Builds what the units need, runs the fuzzer once per unit and fails when any run
/// trapped, hung or did not finish.
pub fn run_all(layout: &Layout, runner: &Path, calls: u32, seed: u64, only: &[String]) -> Result<()> {
    let (caps, exts) = caps::discover(&layout.root)?;
    let plan = Plan::load(&layout.root, &dynlink::default_plan_path())?.for_exts(&caps, &exts)?;
    let units = units(&layout.root, &caps, &exts, &plan, only)?;
    let started = Instant::now();
    let mut failed = Vec::new();
    for unit in &units {
        let args = BuildArgs { plan: unit.plan.clone(), ..BuildArgs::default() };
        let wasm = match &unit.plan {
            None => layout.profile_dir(Profile::Release).join("pylon.wasm"),
            Some(_) => {
                build::build(layout, &args)?;
                build::output_dir(layout, &args).join("pylon.wasm")
            }
        };
        if let Err(e) = run_one(layout, runner, &wasm, unit, calls, seed) {
            println!("fuzz {} ... FAILED\n    {}", unit.label(), format!("{e:#}").replace('\n', "\n    "));
            failed.push(unit.label());
        }
    }
    println!(
        "fuzz: {} cap run(s), {calls} calls each, seed {seed}, {:.1} s; {} failed",
        units.len(),
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("fuzzing trapped or failed: {}", failed.join(", "));
    }
    Ok(())
}

fn run_one(layout: &Layout, runner: &Path, wasm: &Path, unit: &Unit, calls: u32, seed: u64) -> Result<()> {
    let dir = layout.root.join("target/capfuzz").join(format!("{}-{}", unit.cap, unit.module.trim_start_matches('_')));
    crate::stages::deps::remove_dir_if_exists(&dir)?;
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("hints.json"), serde_json::to_string_pretty(&unit.hints)?)?;
    let script = layout.root.join(SCRIPT);
    let args: Vec<String> = vec![
        "--wasm".into(),
        wasm.display().to_string(),
        "--dir".into(),
        format!("{}::/fuzz", dir.display()),
        script.display().to_string(),
        unit.module.clone(),
        calls.to_string(),
        seed.to_string(),
        "/fuzz".into(),
    ];
    let started = Instant::now();
    let handle = duct::cmd(runner, &args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("cannot run {}", runner.display()))?;
    let limit = deadline(calls);
    let out = match handle.wait_deadline(started + limit)? {
        Some(out) => out.clone(),
        None => {
            handle.kill()?;
            bail!(
                "no answer within {} s: a call hangs\n{}",
                limit.as_secs(),
                reproduce(&dir, unit, calls, seed)
            );
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    if code == TRAP_EXIT {
        bail!("TRAP (pylon exit {code}) after {secs:.1} s\n{}\n{}", reproduce(&dir, unit, calls, seed), tail(&stderr, 24));
    }
    let report: Option<Value> = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok());
    let Some(report) = report.filter(|_| code == 0) else {
        bail!("the fuzzer ended with exit {code}\n{}\n{}", reproduce(&dir, unit, calls, seed), tail(&stderr, 24));
    };
    let outcomes: Vec<String> = report["outcomes"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| format!("{k} {v}")).collect())
        .unwrap_or_default();
    println!(
        "fuzz {} ... ok: {calls} calls in {secs:.1} s ({} s of them calls; seed {seed}): {}",
        unit.label(),
        report["seconds"],
        outcomes.join(", ")
    );
    let list = |key: &str| report[key].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    println!("    {} targets; never called: [{}]; never ok: [{}]", report["targets"], list("never_called"), list("never_ok"));
    if let Some(slow) = report["slowest"].as_array() {
        let slow: Vec<String> = slow.iter().map(|s| format!("{} {} s", s[0].as_str().unwrap_or("?"), s[1])).collect();
        println!("    slowest: {}", slow.join("; "));
    }
    Ok(())
}

/// The last call logged and how to run it again.
fn reproduce(dir: &Path, unit: &Unit, calls: u32, seed: u64) -> String {
    let log = dir.join("calls.log");
    let last = fs::read_to_string(&log).ok().and_then(|t| t.lines().last().map(str::to_owned)).unwrap_or_else(|| "(none)".into());
    format!(
        "seed {seed}; last call logged: {last}\nreproduce: cargo xtask fuzz-caps --calls {calls} --seed {seed} {}\ncall log: {}",
        unit.cap,
        log.display()
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A seed for runs that do not give one.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() % 1_000_000).unwrap_or(0)
}

/// `cargo xtask fuzz-caps`.
pub fn command(calls: u32, seed: Option<u64>, caps: &[String]) -> Result<()> {
    let layout = Layout::from_env()?;
    build::build(&layout, &BuildArgs::default())?;
    let runner = runner::build(&layout)?;
    run_all(&layout, &runner, calls, seed.unwrap_or_else(clock_seed), caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    /// Every cap is fuzzed, through the module that reaches it: derived from the
    /// declarations, so a new cap is covered without an edit here.
    #[test]
    fn every_cap_has_a_unit() {
        let (caps, exts) = caps::discover(&root()).unwrap();
        let plan = Plan::load(&root(), &dynlink::default_plan_path()).unwrap().for_exts(&caps, &exts).unwrap();
        let all = units(&root(), &caps, &exts, &plan, &[]).unwrap();
        for cap in &caps {
            let mine: Vec<&Unit> = all.iter().filter(|u| u.cap == cap.name).collect();
            // The embedding application implements a host cap; the CLI the fuzzer drives has none.
            if cap.kind == Kind::Host {
                assert!(mine.is_empty(), "host cap `{}` is fuzzed through the CLI", cap.name);
                continue;
            }
            assert!(!mine.is_empty(), "cap `{}` is not fuzzed", cap.name);
            for unit in mine {
                match &cap.ext {
                    Some(ext) => assert_eq!(&unit.module, ext),
                    None => assert!(exts.iter().any(|e| e.module == unit.module && e.links.iter().any(|id| cap.serves.contains(id)))),
                }
                let served = plan.serve.iter().any(|(_, p)| p == &cap.name);
                assert_eq!(unit.plan.is_none(), cap.kind != Kind::Dynlink || served, "{unit:?}");
            }
        }
        assert!(units(&root(), &caps, &exts, &plan, &["no_such_cap".into()]).is_err());
    }

    #[test]
    fn hints_come_from_ext_toml_and_declarations() {
        let (caps, exts) = caps::discover(&root()).unwrap();
        let plan = Plan::load(&root(), &dynlink::default_plan_path()).unwrap().for_exts(&caps, &exts).unwrap();
        for unit in units(&root(), &caps, &exts, &plan, &[]).unwrap() {
            let cap = caps.iter().find(|c| c.name == unit.cap).unwrap();
            let strings = unit.hints["strings"].as_array().unwrap();
            for derived in cap.schemes.iter().chain(cap.serves.iter()) {
                assert!(strings.contains(&json!(derived)), "{unit:?} lacks `{derived}`");
            }
            assert!(unit.hints["params"].is_object() && unit.hints["ints"].is_array());
        }
        let mut ext = exts[0].clone();
        ext.fuzz = "bogus = 1".parse::<toml_edit::DocumentMut>().unwrap().as_table().clone();
        assert!(hints(&ext, &[]).unwrap_err().to_string().contains("not `bogus`"));
    }
}
