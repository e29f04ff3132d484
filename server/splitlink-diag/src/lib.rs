//! Diagnostics for splitlink: rustc's JSON diagnostics and linker failures,
//! turned into one source-located model and rendered back as rustc-style
//! text or rustc-format JSON.
//!
//! splitlink owns the link step (`rustc -Zlink-only`), so it sees the
//! linker's output, which rustc reports with no span at all. [`linker`]
//! splits that output into one diagnostic per linker error (rust-lld, GNU
//! ld.bfd, gold, mold), demangles every symbol, and maps each error to the
//! source line responsible: the call of an undefined `extern` function, the
//! two `#[no_mangle]` definitions of a duplicate symbol, the
//! `#[link(name = …)]` of a missing library, the config line naming a
//! missing linker.
//!
//! # Invariant
//!
//! Everything in this crate is a pure function over text and files: it
//! reads JSON values, linker text, source files, manifests and Cargo config
//! files, and returns data. It never spawns a process, never writes a file
//! and keeps no global state. (Only the tests run `rustc` and `cargo` to
//! capture real output.)
//!
//! # Modules
//!
//! * [`model`]: [`Diagnostic`](model::Diagnostic) and friends, serializable.
//! * [`rustc`]: rustc `--error-format=json` → model.
//! * [`linker`]: rustc's link-failure diagnostic → one model diagnostic per
//!   linker error, mapped to source.
//! * [`render`]: human (rustc style) and rustc-JSON rendering.

pub mod linker;
pub mod model;
pub mod render;
pub mod rustc;
mod source;

pub use model::{Applicability, Diagnostic, LinkInfo, LinkKind, Location, Phase, Related, Severity, Suggestion, Tag};

/// Errors of the text-level entry points.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The line is not valid JSON.
    #[error("invalid JSON diagnostic: {0}")]
    Json(#[from] serde_json::Error),
}

/// Parses one line of rustc or cargo JSON output into a [`serde_json::Value`].
pub fn parse_json_line(line: &str) -> Result<serde_json::Value, Error> {
    Ok(serde_json::from_str(line.trim())?)
}

/// A rustc diagnostic (JSON) as model diagnostics: a failed link, when `link` gives the context
/// to map it, becomes one diagnostic per linker error; anything else converts one to one.
/// `cwd` is rustc's working directory (relative span paths are resolved against it).
pub fn from_rustc_message(message: &serde_json::Value, link: Option<&linker::LinkContext>, cwd: &std::path::Path) -> Vec<Diagnostic> {
    match link {
        Some(ctx) if linker::is_link_error(message) => linker::from_link_error(message, ctx),
        _ => rustc::from_json(message, cwd).into_iter().collect(),
    }
}
