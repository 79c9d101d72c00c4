//! The `cargo xtask` commands: each runs the stages (`crate::stages`) it needs, in order,
//! and reports. Stages never call back into this layer.

pub mod add_cap;
pub mod bench;
pub mod build;
pub mod conformance;
pub mod flags;
pub mod fuzz;
pub mod repro;
pub mod sandbox;
pub mod smoke;
pub mod test;
pub mod thirdparty;
pub mod verify;

use anyhow::Result;
use std::ffi::OsString;
use std::process::ExitCode;

use crate::commands::build::BuildArgs;
use crate::helpers::layout::Layout;
use crate::helpers::runner;
use crate::stages::{caps, deps, extglue};

/// `cargo xtask deps`.
pub fn deps(check_only: bool) -> Result<()> {
    let layout = Layout::from_env()?;
    let inputs = deps::prepare(&layout, check_only)?;
    for pin in inputs.pins.all() {
        println!("{}: {} {} sha256 {} OK", pin.name, pin.package, pin.version, pin.sha256);
    }
    Ok(())
}

/// `cargo xtask gen`.
pub fn generate(check_only: bool) -> Result<()> {
    let layout = Layout::from_env()?;
    let (caps, exts) = caps::discover(&layout.root)?;
    if check_only {
        extglue::check_fresh(&layout.root, &exts, &caps)?;
        println!("gen/ is fresh for {} extension(s)", exts.len());
        return Ok(());
    }
    for path in extglue::write_all(&layout.root, &exts, &caps)? {
        println!("wrote {}", path.strip_prefix(&layout.root).unwrap_or(&path).display());
    }
    Ok(())
}

/// `cargo xtask run`.
pub fn run(args: &BuildArgs, pylon_args: &[OsString]) -> Result<ExitCode> {
    let layout = Layout::from_env()?;
    build::build(&layout, args)?;
    let runner = runner::build(&layout)?;
    let wasm = layout.profile_dir(args.profile).join("pylon.wasm");
    runner::precompile(&runner, &wasm)?;
    let status = runner::run(&runner, &wasm, pylon_args)?;
    Ok(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
}
