//! splitlink's build engine.
//!
//! Layers (each with the invariant it keeps):
//! - [`unit`]: what a unit is ([`unit::UnitKey`], cargo's unit identity), used everywhere.
//! - [`digest`], [`depinfo`], [`invocation`], [`objects`]: pure helpers over bytes and argv.
//! - [`fingerprint`]: the one definition of a link's inputs and of the link rule.
//! - [`discover`]: what cargo infers from the file system (targets, a package's files).
//! - [`db`]: the salsa database. **No I/O**: inputs are set by the replay loop only.
//! - [`exec`] and [`wrapper`]: the only code that runs rustc (replays, `-Zno-link`,
//!   `-Zlink-only`), shared by the capture (under cargo) and the replay.
//! - [`capture`]: the only code that runs cargo; [`script`] reruns workspace build scripts.
//! - [`replay`]: the replay loop, sole writer of the database's inputs.
//! - [`decide`]: the capture decision (replay, rerun build scripts, or cargo), over a `System`.
//! - [`build`]: [`Engine`]: the lock, build-script reruns, the state on disk.
//! - [`events`]: what a build reports; rendering is the caller's job.
//! - [`testplan`]: what `splitlink test` runs (test binaries, doctests), in cargo's order.

pub mod build;
pub mod capture;
pub mod db;
pub mod decide;
pub mod depinfo;
pub mod digest;
pub mod discover;
pub mod events;
pub mod exec;
pub mod fast;
pub mod fingerprint;
pub mod invocation;
pub mod jobs;
pub mod measure;
pub mod objects;
pub mod replay;
pub mod script;
pub mod state;
pub mod testplan;
pub mod unit;
pub mod workspace;
pub mod wrapper;

pub use build::{build, explain, BuildError, BuildOptions, Engine};
pub use decide::Watched;
pub use events::{BuildEvent, BuildSummary, MessageCounts, Sink, UnitInfo};
pub use exec::Cancel;
pub use testplan::{DoctestRun, TestBinary, TestPlan};
pub use unit::UnitKey;
pub use workspace::{CargoCommand, Selection, Targets};

/// Set for cargo's child processes during a capture: where the wrapper writes its records.
/// Its presence is what puts the `splitlink` binary in wrapper mode.
pub const CAPTURE_DIR_ENV: &str = "SPLITLINK_CAPTURE_DIR";

/// Everything needed to map a failed link to source lines: the sources of the linked crate and
/// its workspace dependencies (from dep-info), package dirs, cargo config files, the root file.
pub type LinkFailure = splitlink_diag::linker::LinkContext;

/// Remove ANSI escape sequences (CSI `ESC [ … letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `SPLITLINK_TIMINGS=1`: where a build's time went, on stderr.
pub(crate) fn timing(what: &str, t0: std::time::Instant) {
    if std::env::var_os("SPLITLINK_TIMINGS").is_some() {
        eprintln!("splitlink timing: {what}: {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0);
    }
}
