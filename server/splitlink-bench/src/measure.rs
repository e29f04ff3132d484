//! Timing and peak memory of one build. Each build runs under a fresh helper process
//! (`splitlink-bench __measure`, this same binary) that spawns the build, waits for it, and reads
//! `getrusage(RUSAGE_CHILDREN)`: its `ru_maxrss` is the largest resident set of any process of the
//! build's tree (cargo, splitlink, every rustc and linker they waited for). A fresh helper per
//! build, because that maximum only ever grows within one process.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

pub const HELPER: &str = "__measure";

/// Variables that would point the builds elsewhere or change them; removed for every build (both
/// sides alike). `cargo run` sets the `CARGO_PKG_*`-like ones for us, not for the workspaces.
pub fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        let drop = matches!(
            k,
            "CARGO_TARGET_DIR"
                | "CARGO_BUILD_TARGET_DIR"
                | "RUSTFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "CARGO_MAKEFLAGS"
                | "MAKEFLAGS"
                | "MFLAGS"
        ) || k.starts_with("CARGO_PKG_");
        if drop {
            cmd.env_remove(k);
        }
    }
}

/// One measured build.
#[derive(Clone, Debug)]
pub struct Sample {
    pub wall_ms: f64,
    pub max_rss_kb: u64,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `argv` in `cwd` under the helper; its stdout and stderr are kept in `log_dir`.
pub fn run(argv: &[OsString], cwd: &Path, log_dir: &Path) -> Result<Sample> {
    std::fs::create_dir_all(log_dir)?;
    let out = log_dir.join("stdout");
    let err = log_dir.join("stderr");
    let exe = std::env::current_exe().context("cannot find the benchmark's own executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg(HELPER).arg(&out).arg(&err).arg("--").args(argv).current_dir(cwd).stdin(Stdio::null()).stderr(Stdio::inherit());
    clean_env(&mut cmd);
    let o = cmd.output().context("cannot run the measuring helper")?;
    let line = String::from_utf8_lossy(&o.stdout);
    let f: Vec<&str> = line.split_whitespace().collect();
    if !o.status.success() || f.len() != 3 {
        bail!("the measuring helper failed for {:?}: {}", argv, line.trim());
    }
    let wall_us: u64 = f[0].parse()?;
    let rss: u64 = f[1].parse()?;
    let code: i32 = f[2].parse()?;
    Ok(Sample {
        wall_ms: wall_us as f64 / 1000.0,
        max_rss_kb: rss,
        success: code == 0,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    })
}

/// The helper: `__measure STDOUT_FILE STDERR_FILE -- PROGRAM ARGS…`. Prints
/// `WALL_US MAX_RSS_KB EXIT_CODE` on its stdout.
pub fn helper_main(args: Vec<OsString>) -> ExitCode {
    match helper(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("splitlink-bench {HELPER}: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn helper(args: Vec<OsString>) -> Result<()> {
    if args.len() < 4 || args[2] != "--" {
        bail!("usage: {HELPER} STDOUT_FILE STDERR_FILE -- PROGRAM ARGS…");
    }
    let out = std::fs::File::create(PathBuf::from(&args[0]))?;
    let err = std::fs::File::create(PathBuf::from(&args[1]))?;
    let mut cmd = Command::new(&args[3]);
    cmd.args(&args[4..]).stdin(Stdio::null()).stdout(out).stderr(err);
    let t = Instant::now();
    let status = cmd.status().with_context(|| format!("cannot run {:?}", args[3]))?;
    let wall = t.elapsed();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    // Linux reports ru_maxrss in KiB.
    println!("{} {} {}", wall.as_micros(), usage.max_rss(), status.code().unwrap_or(-1));
    Ok(())
}
