//! Wrapper mode: splitlink as cargo's `RUSTC_WORKSPACE_WRAPPER` during a capture.
//!
//! For every workspace unit cargo compiles, record the exact invocation and run it: linkable
//! units split into `-Zno-link` + `-Zlink-only` (their objects fingerprinted in between, since a
//! successful link deletes them), everything else as is. Anything that is not a unit compile
//! (`rustc -vV`, target-info probes, build scripts probing the compiler) passes straight through.

use crate::exec::{self, CompiledObjects, Step};
use crate::fingerprint::{self, LinkDecision, LinkInputs, LinkReason};
use crate::invocation::Invocation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What happened to a unit under the wrapper.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SplitOutcome {
    /// Not a linkable crate type: run as cargo asked.
    NotLinkable,
    /// Compiled with `-Zno-link`, then linked (or the link failed: `linked == false`) from
    /// `link` (`None`: the linked files could not be determined), because of `decision`.
    Split { objects: CompiledObjects, linked: bool, link: Option<LinkInputs>, decision: LinkDecision },
    /// Compiled with `-Zno-link`; the objects (and everything else the link reads) are those of
    /// the binary on disk, so it was not linked again.
    LinkSkipped { objects: CompiledObjects, link: LinkInputs },
    /// The split did not work for reasons that are not the user's code; ran unsplit.
    Fallback { reason: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub invocation: Invocation,
    pub outcome: SplitOutcome,
    pub exit_code: i32,
    /// Digests of linked libraries this run computed (kind, measurement): the capture keeps
    /// them in the state's cache so that nothing is hashed twice.
    #[serde(default)]
    pub measured: Vec<(String, crate::digest::Derived)>,
}

impl Record {
    pub fn file_name(inv: &Invocation) -> String {
        format!("{}{}.json", inv.stem().unwrap_or_default(), if inv.is_test() { ".test" } else { "" })
    }
}

/// Entry point of wrapper mode. `args[0]` is the rustc cargo wanted to run.
pub fn run(args: Vec<String>, capture_dir: &Path) -> i32 {
    let Some((rustc, rest)) = args.split_first() else {
        eprintln!("splitlink: wrapper mode needs the rustc path as first argument");
        return 2;
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| !exec::ENV_DENYLIST.contains(&k.as_str())).collect();
    let inv = Invocation { rustc: PathBuf::from(rustc), args: rest.to_vec(), env, cwd };

    let is_unit = inv.crate_name().is_some() && std::env::var("CARGO_CRATE_NAME").ok().as_deref() == inv.crate_name();
    if !is_unit {
        return passthrough(&inv);
    }
    let build_script = inv.crate_name().is_some_and(|n| n.starts_with("build_script_"));
    let mut measured = Vec::new();
    let (outcome, code) = if inv.is_linkable() && !build_script {
        split(&inv, capture_dir, &mut measured)
    } else {
        (SplitOutcome::NotLinkable, passthrough_status(&inv))
    };
    // Recorded without the rendered form cargo asked for this time (short or not): replays ask
    // for their own, and a change of `--message-format` is not a change of the unit.
    let rec = Record { invocation: inv.without_short(), outcome, exit_code: code, measured };
    if let Err(e) = write_record(capture_dir, &rec) {
        eprintln!("splitlink: cannot record the invocation of {}: {e}", inv.crate_name().unwrap_or("?"));
        return if code == 0 { 1 } else { code };
    }
    code
}

fn write_record(dir: &Path, rec: &Record) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(Record::file_name(&rec.invocation));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(rec).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, path)
}

fn passthrough(inv: &Invocation) -> i32 {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&inv.rustc).args(&inv.args).exec();
    eprintln!("splitlink: cannot run {}: {err}", inv.rustc.display());
    127
}

fn passthrough_status(inv: &Invocation) -> i32 {
    // A `splitlink clippy` unit: clippy's driver compiles it (its environment carries the path).
    match exec::program(inv).args(&inv.args).status() {
        Ok(s) => s.code().unwrap_or(101),
        Err(e) => {
            eprintln!("splitlink: cannot run {}: {e}", inv.rustc.display());
            127
        }
    }
}

/// Under cargo, the split steps keep cargo's jobserver (which [`exec::command`] leaves out of
/// a replay: there it is the replay's own, [`crate::jobs`]).
fn with_cargos_jobserver(mut cmd: std::process::Command) -> std::process::Command {
    for k in ["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd
}

fn forward(out: &exec::RunOutput) {
    let _ = std::io::stdout().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
}

fn fallback(inv: &Invocation, reason: String) -> (SplitOutcome, i32) {
    eprintln!(
        "{}",
        serde_json::json!({"$message_type": "diagnostic", "message": format!("splitlink: {reason}; building `{}` without the split", inv.crate_name().unwrap_or("?")), "code": null, "level": "warning", "spans": [], "children": [], "rendered": format!("warning: splitlink: {reason}; building `{}` without the split\n", inv.crate_name().unwrap_or("?"))})
    );
    exec::remove_split_leftovers(inv);
    let code = passthrough_status(inv);
    (SplitOutcome::Fallback { reason }, code)
}

fn split(inv: &Invocation, capture_dir: &Path, measured: &mut Vec<(String, crate::digest::Derived)>) -> (SplitOutcome, i32) {
    exec::remove_split_leftovers(inv);
    let out = match exec::run_with(with_cargos_jobserver(exec::command(inv, Step::NoLink)), None) {
        Ok(o) => o,
        Err(e) => return fallback(inv, format!("cannot run rustc -Zno-link: {e}")),
    };
    if let Some(reason) = exec::split_problem(&out) {
        return fallback(inv, reason);
    }
    forward(&out);
    if !out.success() {
        return (SplitOutcome::NotLinkable, out.code.unwrap_or(101));
    }
    let objects = match exec::fingerprint_objects(inv) {
        Ok(o) => o,
        Err(e) => return fallback(inv, format!("cannot fingerprint the objects: {e}")),
    };
    let state = capture_dir.parent().and_then(Path::parent).map(crate::state::State::load);
    let mut cache = state.as_ref().map(|s| s.cache.clone()).unwrap_or_default();
    let extra = link_extra();
    let link = fingerprint::measure(inv, &objects.digests, objects.rlink, &mut cache, &extra);
    measured.append(&mut cache.computed);
    let decision = link_decision(inv, link.as_ref(), state.as_ref());
    if let (LinkDecision::UpToDate, Some(now)) = (&decision, &link) {
        exec::remove_split_leftovers(inv);
        return (SplitOutcome::LinkSkipped { objects, link: now.clone() }, 0);
    }
    let mut link_cmd = with_cargos_jobserver(exec::command(inv, Step::LinkOnly));
    link_cmd.args(&extra);
    let out = match exec::run_with(link_cmd, None) {
        Ok(o) => o,
        Err(e) => return fallback(inv, format!("cannot run rustc -Zlink-only: {e}")),
    };
    if let Some(reason) = exec::split_problem(&out) {
        return fallback(inv, reason);
    }
    forward(&out);
    if out.success() {
        if let Some(replaced) = exec::keep_binary(inv) {
            let _ = std::fs::remove_file(replaced);
        }
    }
    let code = out.code.unwrap_or(101);
    (SplitOutcome::Split { objects, linked: out.success(), link, decision }, code)
}

/// The link decision of the replay, made under cargo: whether the binary on disk was linked by
/// splitlink from exactly these objects, these workspace rlibs' objects (hashed now: cargo may
/// have rebuilt them in this capture), these arguments and this link metadata.
fn link_decision(inv: &Invocation, now: Option<&LinkInputs>, state: Option<&crate::state::State>) -> LinkDecision {
    let never = LinkDecision::Link(LinkReason::NeverLinked);
    let (Some(bin), Some(state)) = (inv.linked_output(), state) else { return never };
    let Some(u) = state.units.values().find(|u| u.spec.invocation.linked_output().as_ref() == Some(&bin)) else { return never };
    if u.spec.invocation.args != inv.without_short().args {
        return LinkDecision::Link(LinkReason::ObjectsChanged { own: false, files: vec![], args: true, rlink: false });
    }
    // The binary must be the one splitlink linked; cargo deletes it before recompiling the
    // unit, so it may have to come back from where splitlink kept it.
    if !u.built.outputs.iter().any(|(p, _)| *p == bin) {
        return never;
    }
    let bin_ok = fingerprint::is_our_binary(&bin, &bin, &u.built.outputs);
    let kept = exec::kept_binary(inv).filter(|k| fingerprint::is_our_binary(k, &bin, &u.built.outputs));
    let decision = fingerprint::decide(u.built.last_link.as_ref(), now, bin_ok || kept.is_some());
    if decision == LinkDecision::UpToDate && !bin_ok {
        let restored = kept.is_some_and(|kept| {
            let _ = std::fs::remove_file(&bin);
            std::fs::hard_link(&kept, &bin).is_ok()
        });
        if !restored {
            return LinkDecision::Link(LinkReason::BinaryMissingOrReplaced);
        }
    }
    decision
}

/// Set (with `RUSTDOC` pointing at splitlink) for `cargo test --doc` during a capture: where
/// splitlink, standing in for rustdoc, records each doctest invocation instead of running it.
pub const RUSTDOC_RECORD_ENV: &str = "SPLITLINK_RUSTDOC_RECORD";
/// Fast mode's linker arguments for the wrapper's `-Zlink-only` steps (one per line; empty or
/// unset in exact mode), set by the capture.
pub const LINK_EXTRA_ENV: &str = "SPLITLINK_LINK_EXTRA";

fn link_extra() -> Vec<String> {
    std::env::var(LINK_EXTRA_ENV).unwrap_or_default().lines().filter(|l| !l.is_empty()).map(String::from).collect()
}
/// The real rustdoc, for rustdoc calls during that capture that are not doctest runs.
pub const REAL_RUSTDOC_ENV: &str = "SPLITLINK_REAL_RUSTDOC";

/// A doctest run as cargo asked for it (`rustdoc --test …`), recorded during a capture.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RustdocRecord {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// Entry point of rustdoc-recorder mode: record a `--test` run (and report success, so cargo
/// goes on to the next package), run anything else with the real rustdoc.
pub fn rustdoc(args: Vec<String>, record_dir: &Path) -> i32 {
    if !args.iter().any(|a| a == "--test") {
        let real = std::env::var_os(REAL_RUSTDOC_ENV).unwrap_or_else(|| "rustdoc".into());
        return match std::process::Command::new(&real).args(&args).status() {
            Ok(s) => s.code().unwrap_or(101),
            Err(e) => {
                eprintln!("splitlink: cannot run {}: {e}", Path::new(&real).display());
                101
            }
        };
    }
    let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| !exec::ENV_DENYLIST.contains(&k.as_str())).collect();
    let rec = RustdocRecord { args, env, cwd: std::env::current_dir().unwrap_or_default() };
    let name = rec.args.iter().skip_while(|a| *a != "--crate-name").nth(1).cloned().unwrap_or_else(|| "doctest".into());
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(record_dir)?;
        let path = record_dir.join(format!("{name}-{}.json", std::process::id()));
        std::fs::write(&path, serde_json::to_vec(&rec)?)
    };
    match write() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("splitlink: cannot record the doctests of {name}: {e}");
            1
        }
    }
}
