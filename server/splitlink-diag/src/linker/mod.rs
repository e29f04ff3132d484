//! Linker failures → source-located diagnostics.
//!
//! rustc reports a failed link as one diagnostic without a span; its notes
//! carry the linker command line and the linker's whole output. This module
//! splits that output into one [`Diagnostic`] per linker error (see
//! [`parse`] for the grammar of rust-lld, GNU ld.bfd, gold and mold) and maps
//! each to source, best evidence first:
//!
//! 1. the `file:line` the linker printed from DWARF line tables;
//! 2. the function the linker named as the referrer, found by its demangled
//!    path in the workspace sources, narrowed to the call inside it;
//! 3. for undefined foreign symbols, the `extern` block declaration (added
//!    as a related location);
//! 4. for duplicate symbols, every `#[no_mangle]`/`#[export_name]` definition;
//! 5. for a missing library, the `#[link(name = …)]` attribute or the build
//!    script's `cargo:rustc-link-lib` line;
//! 6. for a missing linker or a bad argument, the line of the Cargo config
//!    that names it;
//! 7. last resort: line 1 of the target's root source file.
//!
//! Locations are never invented: each comes from text the linker printed or
//! from a source line that names the symbol.

mod index;
mod map;
pub(crate) mod parse;
pub mod symbols;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::{Diagnostic, LinkKind, Severity};
use index::Index;
use map::Mapper;

/// Where to look for the source of a link error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkContext {
    /// The Cargo workspace root.
    pub workspace_root: PathBuf,
    /// rustc's working directory (cargo runs rustc in the workspace root);
    /// relative paths printed by the linker are resolved against it.
    pub cwd: PathBuf,
    /// Absolute `.rs` files of the linked crate and its workspace
    /// dependencies (from dep-info).
    pub sources: Vec<PathBuf>,
    /// Directories of the workspace's packages (to find `build.rs` and
    /// `Cargo.toml`).
    pub manifest_dirs: Vec<PathBuf>,
    /// `.cargo/config.toml` (or `.cargo/config`) files in effect.
    pub config_files: Vec<PathBuf>,
    /// The target's root file (`src/main.rs`), the location of last resort.
    pub root_source: PathBuf,
}

impl LinkContext {
    /// Builds a context by walking `workspace_root` (skipping `target/` and
    /// hidden directories): every `.rs` file is a source, every directory
    /// with a `Cargo.toml` a package, and `.cargo/config{,.toml}` in the root
    /// and its ancestors are the config files. Meant for tools and tests; the
    /// engine passes the exact lists from dep-info instead.
    pub fn discover(workspace_root: &Path, root_source: &Path) -> LinkContext {
        let mut ctx = LinkContext {
            workspace_root: workspace_root.to_path_buf(),
            cwd: workspace_root.to_path_buf(),
            root_source: root_source.to_path_buf(),
            ..LinkContext::default()
        };
        let mut stack = vec![workspace_root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            entries.sort();
            if entries.iter().any(|p| p.file_name().is_some_and(|n| n == "Cargo.toml")) {
                ctx.manifest_dirs.push(dir.clone());
            }
            for p in entries.into_iter().rev() {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if p.is_dir() {
                    if name != "target" && !name.starts_with('.') {
                        stack.push(p);
                    }
                } else if name.ends_with(".rs") {
                    ctx.sources.push(p);
                }
            }
        }
        ctx.sources.sort();
        ctx.manifest_dirs.sort();
        let mut dir = Some(workspace_root);
        while let Some(d) = dir {
            for name in ["config.toml", "config"] {
                let c = d.join(".cargo").join(name);
                if c.is_file() {
                    ctx.config_files.push(c);
                }
            }
            dir = d.parent();
        }
        ctx
    }
}

/// The pieces of rustc's link-failure diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFailure {
    /// The linker rustc ran (`cc`, `rust-lld`, `/nonexistent/cc`).
    pub linker: Option<String>,
    pub status: LinkStatus,
    /// The command-line note, if rustc printed one.
    pub command: Option<String>,
    /// The linker's output (stderr then stdout), verbatim.
    pub output: String,
    /// rustc's help notes (`use the `-l` flag …`), without level prefix.
    pub rustc_notes: Vec<String>,
    /// rustc's top-level message.
    pub message: String,
    /// rustc's rendered text.
    pub rendered: String,
}

/// How the linker ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStatus {
    /// `exit status: N` / `exit code: N`.
    Exit(i32),
    /// `signal: 11 (SIGSEGV) (core dumped)`, or any status without an exit code.
    Signal(String),
    /// `linker `X` not found`.
    NotFound,
    /// `could not exec the linker `X``.
    ExecFailed,
    /// `linker stderr: …` warnings (the `linker_messages` lint).
    Messages,
}

/// Unwraps cargo's `{"reason":"compiler-message","message":{…}}`.
pub(crate) fn unwrap_cargo(v: &Value) -> &Value {
    if v.get("reason").and_then(Value::as_str) == Some("compiler-message") {
        if let Some(m) = v.get("message") {
            return m;
        }
    }
    v
}

fn backticked(s: &str) -> Option<&str> {
    let a = s.find('`')?;
    let rest = &s[a + 1..];
    let b = rest.find('`')?;
    Some(&rest[..b])
}

const RUSTC_HELP_PREFIXES: &[&str] = &[
    "some `extern` functions couldn't be found",
    "use the `-l` flag",
    "use the `cargo:rustc-link-lib` directive",
    "use the `cargo::rustc-link-lib` directive",
    "the msvc targets depend on the msvc linker",
    "in the Visual Studio installer",
    "`link.exe` returned an unexpected error",
    "the Visual Studio build tools may need to be repaired",
    "some arguments are omitted",
];

impl LinkFailure {
    /// Recognizes rustc's link-failure diagnostics (JSON, or cargo's
    /// `compiler-message` around it).
    pub fn from_json(v: &Value) -> Option<LinkFailure> {
        let v = unwrap_cargo(v);
        let message = v.get("message")?.as_str()?.to_string();
        let rendered = v.get("rendered").and_then(Value::as_str).unwrap_or("").to_string();
        let children: Vec<(String, String)> = v
            .get("children")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| {
                        Some((
                            c.get("level").and_then(Value::as_str).unwrap_or("note").to_string(),
                            c.get("message")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();

        let (linker, status) = if let Some(rest) = message.strip_prefix("linking with ") {
            let linker = backticked(rest).map(str::to_string);
            let status_text = rest.split_once(" failed: ").map(|x| x.1.trim()).unwrap_or("");
            let code = status_text
                .strip_prefix("exit status: ")
                .or_else(|| status_text.strip_prefix("exit code: "))
                .and_then(|c| c.trim().parse::<i32>().ok());
            let status = match code {
                Some(c) => LinkStatus::Exit(c),
                None => LinkStatus::Signal(status_text.to_string()),
            };
            (linker, status)
        } else if message.starts_with("linker `") && message.ends_with("` not found") {
            (backticked(&message).map(str::to_string), LinkStatus::NotFound)
        } else if message.starts_with("could not exec the linker") {
            (backticked(&message).map(str::to_string), LinkStatus::ExecFailed)
        } else if let Some(text) = message.strip_prefix("linker stderr: ").or_else(|| message.strip_prefix("linker stdout: ")) {
            return Some(LinkFailure {
                linker: None,
                status: LinkStatus::Messages,
                command: None,
                output: text.to_string(),
                rustc_notes: children.into_iter().map(|c| c.1).collect(),
                message,
                rendered,
            });
        } else {
            return None;
        };

        let mut command = None;
        let mut output = Vec::new();
        let mut rustc_notes = Vec::new();
        for (i, (_level, m)) in children.into_iter().enumerate() {
            let looks_like_command = m.starts_with(" \"") || m.starts_with('"') || m.starts_with("LC_ALL=");
            let command_slot = match status {
                LinkStatus::Exit(_) | LinkStatus::Signal(_) => i == 0,
                LinkStatus::ExecFailed => command.is_none(),
                _ => false,
            };
            if command_slot && looks_like_command {
                command = Some(m);
            } else if RUSTC_HELP_PREFIXES.iter().any(|p| m.starts_with(p)) {
                if !m.starts_with("some arguments are omitted") {
                    rustc_notes.push(m);
                }
            } else if matches!(status, LinkStatus::NotFound | LinkStatus::ExecFailed) {
                rustc_notes.push(m);
            } else {
                output.push(m);
            }
        }
        Some(LinkFailure { linker, status, command, output: output.join("\n"), rustc_notes, message, rendered })
    }

    /// The value of the last `-fuse-ld=X` on the command line.
    pub fn fuse_ld(&self) -> Option<String> {
        let cmd = self.command.as_deref()?;
        let i = cmd.rfind("-fuse-ld=")?;
        let v: String = cmd[i + "-fuse-ld=".len()..].chars().take_while(|c| !matches!(c, '"' | ' ' | '\'')).collect();
        (!v.is_empty()).then_some(v)
    }
}

/// Whether a rustc diagnostic (or cargo message) is a link failure.
pub fn is_link_error(v: &Value) -> bool {
    LinkFailure::from_json(v).is_some()
}

/// Turns rustc's diagnostic for a failed link into one diagnostic per linker
/// error, each mapped to source. Returns an empty list for diagnostics that
/// are not link failures.
pub fn from_link_error(rustc_diag: &Value, ctx: &LinkContext) -> Vec<Diagnostic> {
    let Some(failure) = LinkFailure::from_json(rustc_diag) else {
        return Vec::new();
    };
    from_failure(&failure, ctx)
}

/// Like [`from_link_error`], from an already split [`LinkFailure`].
pub fn from_failure(failure: &LinkFailure, ctx: &LinkContext) -> Vec<Diagnostic> {
    let mut m = Mapper { ctx, idx: Index::new(ctx) };
    let linker = failure.linker.clone().unwrap_or_else(|| "cc".to_string());
    match &failure.status {
        LinkStatus::NotFound | LinkStatus::ExecFailed => {
            let mut d = m.linker_not_found(&linker, None);
            d.notes.extend(failure.rustc_notes.iter().map(|n| format!("note: {n}")));
            d.raw = if failure.rendered.is_empty() { failure.message.clone() } else { failure.rendered.clone() };
            if failure.status == LinkStatus::ExecFailed {
                d.message = format!("could not execute the linker `{linker}`");
            }
            return vec![d];
        }
        _ => {}
    }
    let parsed = parse::parse(&failure.output);
    let mut diags = Vec::new();
    for rec in parsed.records {
        let mut d = m.record(rec, failure);
        if failure.status == LinkStatus::Messages {
            // `linker stderr: …` is reported for links that succeeded.
            d.severity = Severity::Warning;
        }
        diags.push(d);
    }
    if let LinkStatus::Signal(sig) = &failure.status {
        if !diags.iter().any(|d| d.link_kind() == Some(LinkKind::LinkerCrashed)) {
            let mut d = m.base(LinkKind::LinkerCrashed, Severity::Error, format!("linker `{linker}` crashed: {sig}"));
            d.primary = m.root_fallback();
            d.raw = failure.rendered.clone();
            diags.push(d);
        }
    }
    if diags.is_empty() && failure.status != LinkStatus::Messages {
        let mut d = m.base(LinkKind::Other, Severity::Error, failure.message.clone());
        d.primary = m.root_fallback();
        d.raw = if failure.output.is_empty() { failure.rendered.clone() } else { failure.output.clone() };
        diags.push(d);
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::map::demangle_in_text;
    use super::*;

    #[test]
    fn demangles_in_text() {
        assert_eq!(
            demangle_in_text("relocation R_X86_64_32 against `_ZN3app3run17h0123456789abcdefE' can not be used"),
            "relocation R_X86_64_32 against `app::run' can not be used"
        );
    }

    #[test]
    fn splits_rustc_diag() {
        let v: Value = serde_json::json!({
            "$message_type": "diagnostic",
            "message": "linking with `cc` failed: signal: 11 (SIGSEGV) (core dumped)",
            "code": null, "level": "error", "spans": [],
            "children": [
                {"message": " \"cc\" \"-fuse-ld=lld\" \"-fuse-ld=mold\"", "level": "note", "spans": [], "children": [], "code": null, "rendered": null},
                {"message": "some arguments are omitted. use `--verbose` to show all linker arguments", "level": "note", "spans": [], "children": [], "code": null, "rendered": null},
                {"message": "", "level": "note", "spans": [], "children": [], "code": null, "rendered": null}
            ],
            "rendered": "error: linking with `cc` failed"
        });
        let f = LinkFailure::from_json(&v).unwrap();
        assert_eq!(f.status, LinkStatus::Signal("signal: 11 (SIGSEGV) (core dumped)".into()));
        assert_eq!(f.fuse_ld().as_deref(), Some("mold"));
        let ctx = LinkContext::default();
        let d = from_link_error(&v, &ctx);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].link_kind(), Some(LinkKind::LinkerCrashed));
    }
}
