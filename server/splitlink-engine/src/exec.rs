//! Running rustc: plain replays, `-Zno-link` compiles and `-Zlink-only` links.
//!
//! Used by both the wrapper (during capture, under cargo) and the replay executor, so that a
//! unit is split, fingerprinted and linked the same way whichever path built it.

use crate::digest::Digest;
use crate::invocation::Invocation;
use crate::objects;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Cancels a build: stops new jobs from starting and kills the process groups of running ones
/// (rustc and the linker it started, or cargo and everything under it).
#[derive(Clone, Default, Debug)]
pub struct Cancel(Arc<CancelInner>);

#[derive(Default, Debug)]
struct CancelInner {
    cancelled: AtomicBool,
    groups: Mutex<Vec<u32>>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        for pid in self.0.groups.lock().unwrap().iter() {
            kill_group(*pid);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Track a child started in its own process group; killed at once if already cancelled.
    pub fn register(&self, pid: u32) {
        self.0.groups.lock().unwrap().push(pid);
        if self.is_cancelled() {
            kill_group(pid);
        }
    }

    pub fn unregister(&self, pid: u32) {
        self.0.groups.lock().unwrap().retain(|p| *p != pid);
    }
}

fn kill_group(pid: u32) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// Environment variables never replayed: they belong to the cargo process that ran the capture.
pub const ENV_DENYLIST: &[&str] = &[
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "RUST_RECURSION_COUNT",
    "RUSTDOC",
    crate::CAPTURE_DIR_ENV,
    crate::wrapper::RUSTDOC_RECORD_ENV,
    crate::wrapper::REAL_RUSTDOC_ENV,
    crate::wrapper::LINK_EXTRA_ENV,
];

#[derive(Debug)]
pub struct RunOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// How a step is run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The captured invocation as cargo ran it.
    Plain,
    /// `-Zno-link` with `RUSTC_BOOTSTRAP=1`.
    NoLink,
    /// `-Zlink-only <rlink>` with `RUSTC_BOOTSTRAP=1`.
    LinkOnly,
}

pub fn command(inv: &Invocation, step: Step) -> Command {
    let args = match step {
        Step::Plain => inv.args.clone(),
        Step::NoLink => inv.no_link_args(),
        Step::LinkOnly => inv.link_only_args(&inv.rlink_path().unwrap_or_default()),
    };
    let mut c = program(inv);
    c.args(args).current_dir(&inv.cwd);
    for k in ENV_DENYLIST {
        c.env_remove(k);
    }
    c.envs(&inv.env);
    match step {
        Step::Plain => {}
        Step::NoLink | Step::LinkOnly => {
            c.env("RUSTC_BOOTSTRAP", "1");
        }
    }
    c
}

/// Where clippy's driver is, in a unit recorded for `splitlink clippy`: the unit's compiles run
/// `clippy-driver <rustc> <args>` (as under `cargo clippy`, whose workspace wrapper it is).
pub const CLIPPY_DRIVER_ENV: &str = "SPLITLINK_CLIPPY_DRIVER";

/// The program that compiles `inv`: its rustc, or clippy's driver wrapping it.
pub fn program(inv: &Invocation) -> Command {
    match inv.env.get(CLIPPY_DRIVER_ENV) {
        Some(driver) => {
            let mut c = Command::new(driver);
            c.arg(&inv.rustc);
            c
        }
        None => Command::new(&inv.rustc),
    }
}

/// `clippy-driver` of the toolchain whose rustc is `rustc` (beside it in the sysroot's `bin`).
/// `cwd`: where rustup looks for a `rust-toolchain.toml`.
pub fn clippy_driver(rustc: &Path, cwd: &Path) -> Result<PathBuf, String> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rustc.display()))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let driver = sysroot.join("bin").join("clippy-driver");
    if driver.is_file() {
        Ok(driver)
    } else {
        Err(format!(
            "clippy is not installed for the toolchain in {} (no {}): install it with `rustup component add clippy`",
            sysroot.display(),
            driver.display()
        ))
    }
}

pub fn run(inv: &Invocation, step: Step) -> std::io::Result<RunOutput> {
    run_with(command(inv, step), None)
}

/// Run a command to completion, capturing its output; with a `Cancel`, in its own process
/// group so that cancelling kills it and its children.
pub fn run_with(cmd: Command, cancel: Option<&Cancel>) -> std::io::Result<RunOutput> {
    run_streaming(cmd, cancel, |_| {})
}

/// [`run_with`], showing each line of the process's stderr to `on_stderr_line` as it is
/// written (rustc's artifact notifications arrive that way, before the process ends).
pub fn run_streaming(mut cmd: Command, cancel: Option<&Cancel>, mut on_stderr_line: impl FnMut(&[u8])) -> std::io::Result<RunOutput> {
    use std::io::{BufRead, Read};
    use std::os::unix::process::CommandExt;
    if cancel.is_some() {
        cmd.process_group(0);
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id();
    if let Some(c) = cancel {
        c.register(pid);
    }
    let stdout = child.stdout.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
            v
        })
    });
    let mut stderr = Vec::new();
    if let Some(s) = child.stderr.take() {
        let mut r = std::io::BufReader::new(s);
        loop {
            let start = stderr.len();
            match r.read_until(b'\n', &mut stderr) {
                Ok(0) | Err(_) => break,
                Ok(_) => on_stderr_line(&stderr[start..]),
            }
        }
    }
    let status = child.wait();
    if let Some(c) = cancel {
        c.unregister(pid);
    }
    let stdout = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
    Ok(RunOutput { code: status?.code(), stdout, stderr })
}

/// Whether a line of rustc's stderr (`--json=artifacts`) says the crate's `.rmeta` is written.
pub fn is_metadata_artifact(line: &[u8]) -> bool {
    let s = String::from_utf8_lossy(line);
    s.starts_with('{') && s.contains("\"$message_type\":\"artifact\"") && s.contains("\"emit\":\"metadata\"")
}

/// Whether a failed split step failed for a reason that is not the user's code: a toolchain
/// that refuses `-Z`, an internal compiler error, a crate type the split does not handle.
pub fn split_problem(out: &RunOutput) -> Option<String> {
    if out.success() {
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if out.code == Some(101) || err.contains("internal compiler error") || err.contains("the compiler unexpectedly panicked") {
        return Some("rustc crashed (internal compiler error) in the split compile/link".into());
    }
    if out.code.is_none() {
        return Some("rustc was killed by a signal in the split compile/link".into());
    }
    for needle in [
        "is only accepted on the nightly compiler",
        "unknown unstable option",
        "-Z no-link",
        "-Z link-only",
        "unstable options are only",
        "rlink",
    ] {
        if err.contains(needle) && !err.contains("linking with") {
            return Some(format!("rustc refused the split ({})", first_error_line(&err)));
        }
    }
    None
}

fn first_error_line(stderr: &str) -> String {
    for line in stderr.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
                return m.to_string();
            }
        } else if line.starts_with("error") {
            return line.to_string();
        }
    }
    stderr.lines().next().unwrap_or("").to_string()
}

/// What a `-Zno-link` compile left behind, fingerprinted before anything deletes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompiledObjects {
    pub files: Vec<PathBuf>,
    pub digests: Vec<Digest>,
    pub rlink: Digest,
}

/// Remove the objects and `.rlink` of an earlier split compile of this unit, so what is found
/// after the next compile is exactly its output.
pub fn remove_split_leftovers(inv: &Invocation) {
    if let (Some(dir), Some(stem)) = (inv.out_dir(), inv.stem()) {
        for f in objects::own_object_files(&dir, &stem) {
            let _ = std::fs::remove_file(f);
        }
    }
    if let Some(r) = inv.rlink_path() {
        let _ = std::fs::remove_file(r);
    }
}

pub fn fingerprint_objects(inv: &Invocation) -> Result<CompiledObjects, objects::ObjectError> {
    let dir = inv.out_dir().unwrap_or_default();
    let stem = inv.stem().unwrap_or_default();
    let files = objects::own_object_files(&dir, &stem);
    let digests = objects::hash_files(&files)?;
    let session: Vec<PathBuf> = inv.incremental_dir().into_iter().collect();
    let rlink = objects::rlink_digest(&inv.rlink_path().unwrap_or_default(), &session)?;
    Ok(CompiledObjects { files, digests, rlink })
}

/// Whether the objects of the last split compile are still on disk (a link needs them).
pub fn objects_present(c: &CompiledObjects, inv: &Invocation) -> bool {
    !c.files.is_empty() && c.files.iter().all(|f| f.exists()) && inv.rlink_path().is_some_and(|r| r.exists())
}

/// Where the last binary splitlink linked for this unit is kept (a hard link, so no extra
/// space): cargo deletes a binary before recompiling it, and a link skipped under cargo puts
/// this one back.
pub fn kept_binary(inv: &Invocation) -> Option<PathBuf> {
    let out = inv.linked_output()?;
    let dir = inv.out_dir()?.parent()?.join(".splitlink-keep");
    Some(dir.join(out.file_name()?))
}

/// Keep a hard link to the binary just linked (see [`kept_binary`]). Returns the previous kept
/// binary, renamed aside, for the caller to remove ([`hard_link_replacing`]).
pub fn keep_binary(inv: &Invocation) -> Option<PathBuf> {
    let (Some(out), Some(keep)) = (inv.linked_output(), kept_binary(inv)) else { return None };
    if let Some(d) = keep.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    hard_link_replacing(&out, &keep)
}

/// Make `to` a hard link to `from` (a copy if linking fails). A file `to` replaces is renamed
/// aside (`.NAME.splitlink-replaced` beside it) and returned, not removed: removing the last link
/// of a 400 MB binary or rlib takes the disk a while, which the caller can spend elsewhere.
pub fn hard_link_replacing(from: &Path, to: &Path) -> Option<PathBuf> {
    let mut replaced = None;
    if std::fs::symlink_metadata(to).is_ok() {
        let aside = to.with_file_name(format!(".{}.splitlink-replaced", to.file_name().unwrap_or_default().to_string_lossy()));
        // A leftover of an interrupted build first (renaming over it would free it now).
        let _ = std::fs::remove_file(&aside);
        match std::fs::rename(to, &aside) {
            Ok(()) => replaced = Some(aside),
            Err(_) => {
                let _ = std::fs::remove_file(to);
            }
        }
    }
    if std::fs::hard_link(from, to).is_err() {
        let _ = std::fs::copy(from, to);
    }
    replaced
}
