//! rustc's `--error-format=json` diagnostics → [`Diagnostic`].
//!
//! The flattening follows rust-analyzer's flycheck-to-LSP conversion
//! (`crates/rust-analyzer/src/diagnostics/to_proto.rs`):
//!
//! * the primary span gives the primary location; when it lies inside a
//!   macro expansion outside the workspace (sysroot, registry, `<macro>`
//!   pseudo-files), the `expansion.span` chain is walked up to the first
//!   call site inside the workspace (else the outermost one);
//! * labelled secondary spans become related locations;
//! * children with spans become related locations, and their
//!   `suggested_replacement`s become suggestions;
//! * children without spans become notes (`note: …`, `help: …`);
//! * `unused_*`, `dead_code`, `unreachable_code`, `unknown_lints` lints are
//!   tagged unnecessary, `deprecated` deprecated.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::linker::is_link_error;
use crate::model::{Applicability, Diagnostic, Location, Phase, Related, Severity, Suggestion, Tag};

/// The documentation URL of a diagnostic code: rustc error codes
/// (`E0308`) and clippy lints (`clippy::needless_return`).
pub fn code_url(code: &str) -> Option<String> {
    if code.len() == 5 && code.starts_with('E') && code[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("https://doc.rust-lang.org/error_codes/{code}.html"));
    }
    if let Some(lint) = code.strip_prefix("clippy::") {
        return Some(format!("https://rust-lang.github.io/rust-clippy/master/index.html#{lint}"));
    }
    None
}

fn is_dummy_macro_file(file_name: &str) -> bool {
    file_name.starts_with('<') && file_name.ends_with('>')
}

fn resolve(cwd: &Path, file_name: &str) -> PathBuf {
    let p = Path::new(file_name);
    crate::source::normalize(&if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) })
}

fn num(v: &Value, key: &str) -> u32 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0) as u32
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A rustc span as a [`Location`] (label included).
pub fn span_location(span: &Value, cwd: &Path) -> Option<Location> {
    let file_name = str_of(span, "file_name")?;
    Some(Location {
        file: resolve(cwd, file_name),
        line_start: num(span, "line_start"),
        col_start: num(span, "column_start"),
        line_end: num(span, "line_end"),
        col_end: num(span, "column_end"),
        label: str_of(span, "label").map(str::to_string),
    })
}

/// The chain `span, span.expansion.span, …`.
fn span_stack(span: &Value) -> Vec<&Value> {
    let mut out = vec![span];
    let mut cur = span;
    while let Some(next) = cur.get("expansion").and_then(|e| e.get("span")).filter(|s| s.is_object()) {
        out.push(next);
        cur = next;
        if out.len() > 64 {
            break;
        }
    }
    out
}

/// The primary location of a primary span: the first span of the macro
/// stack that is a real file inside `cwd` (the workspace root), else the
/// outermost call site. Returns the location and the index in the stack.
fn primary_location(span: &Value, cwd: &Path) -> Option<(Location, usize)> {
    let stack = span_stack(span);
    for (i, s) in stack.iter().enumerate() {
        let Some(f) = str_of(s, "file_name") else {
            continue;
        };
        if !is_dummy_macro_file(f) && resolve(cwd, f).starts_with(crate::source::normalize(cwd)) {
            return Some((span_location(s, cwd)?, i));
        }
    }
    let last = stack.len() - 1;
    Some((span_location(stack[last], cwd)?, last))
}

fn unwrap_cargo(v: &Value) -> &Value {
    crate::linker::unwrap_cargo(v)
}

/// Converts one rustc JSON diagnostic (or cargo's `compiler-message`
/// wrapping one). Returns `None` for anything that is not a diagnostic
/// (artifact notifications, future-incompat reports, build-finished…).
///
/// Relative span paths are resolved against `cwd`, rustc's working
/// directory (the workspace root under cargo).
pub fn from_json(msg: &Value, cwd: &Path) -> Option<Diagnostic> {
    let v = unwrap_cargo(msg);
    if let Some(t) = str_of(v, "$message_type") {
        if t != "diagnostic" {
            return None;
        }
    }
    if v.get("reason").is_some() {
        return None;
    }
    let message = str_of(v, "message")?.to_string();
    let severity = Severity::from_rustc_level(str_of(v, "level")?)?;
    let spans = v.get("spans")?.as_array()?;

    let mut d = Diagnostic::new(severity, Phase::Compile, message);
    if is_link_error(v) {
        d.phase = Phase::Link;
    }
    d.raw = str_of(v, "rendered").map(str::to_string).unwrap_or_else(|| d.message.clone());
    let code = v.get("code").and_then(|c| c.get("code")).and_then(Value::as_str).map(str::to_string);
    if let Some(c) = &code {
        d.code_url = code_url(c);
        if matches!(
            c.as_str(),
            "dead_code"
                | "unknown_lints"
                | "unreachable_code"
                | "unused_attributes"
                | "unused_imports"
                | "unused_macros"
                | "unused_variables"
        ) || c.starts_with("unused_")
        {
            d.tags.push(Tag::Unnecessary);
        }
        if c == "deprecated" {
            d.tags.push(Tag::Deprecated);
        }
    }
    d.code = code;

    // Primary location (first primary span), macro stack walked.
    let primaries: Vec<&Value> = spans.iter().filter(|s| s.get("is_primary").and_then(Value::as_bool) == Some(true)).collect();
    if let Some(first) = primaries.first() {
        if let Some((loc, depth)) = primary_location(first, cwd) {
            // rust-analyzer: point at the error inside the macro and at the
            // macro call sites as related information.
            for (i, s) in span_stack(first).into_iter().enumerate() {
                if i == depth {
                    continue;
                }
                let Some(f) = str_of(s, "file_name") else {
                    continue;
                };
                if is_dummy_macro_file(f) {
                    continue;
                }
                if let Some(l) = span_location(s, cwd) {
                    if l.same_line(&loc) && l.col_start == loc.col_start {
                        continue;
                    }
                    let message = if i == 0 { "actual error occurred here" } else { "error originated from macro call here" };
                    d.related.push(Related { location: Location { label: None, ..l }, message: message.to_string() });
                }
            }
            d.primary = Some(loc);
        }
        // Further primary spans (multi-span errors) are related too.
        for s in primaries.iter().skip(1) {
            if let Some(l) = span_location(s, cwd) {
                let message = l.label.clone().unwrap_or_else(|| "also here".to_string());
                d.related.push(Related { location: l, message });
            }
        }
    }
    // Labelled secondary spans.
    for s in spans.iter().filter(|s| s.get("is_primary").and_then(Value::as_bool) != Some(true)) {
        if let (Some(l), Some(label)) = (span_location(s, cwd), str_of(s, "label").filter(|l| !l.is_empty())) {
            d.related.push(Related { location: l, message: label.to_string() });
        }
    }
    // Children.
    for child in v.get("children").and_then(Value::as_array).into_iter().flatten() {
        let cmsg = str_of(child, "message").unwrap_or("").to_string();
        let level = str_of(child, "level").unwrap_or("note");
        let level = if level == "failure-note" { "note" } else { level };
        let cspans: Vec<&Value> = child
            .get("spans")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|s| s.get("is_primary").and_then(Value::as_bool) == Some(true)).collect())
            .unwrap_or_default();
        if cspans.is_empty() {
            d.notes.push(format!("{level}: {cmsg}"));
            continue;
        }
        let mut replacements = Vec::new();
        for s in &cspans {
            if let Some(rep) = str_of(s, "suggested_replacement") {
                if let Some(l) = span_location(s, cwd) {
                    d.suggestions.push(Suggestion {
                        location: Location { label: None, ..l },
                        replacement: rep.to_string(),
                        applicability: Applicability::from_rustc(str_of(s, "suggestion_applicability")),
                        message: cmsg.clone(),
                    });
                }
                if !rep.is_empty() {
                    replacements.push(format!("`{rep}`"));
                }
            }
        }
        let mut message = cmsg.clone();
        if !replacements.is_empty() {
            message.push_str(": ");
            message.push_str(&replacements.join(", "));
        }
        if let Some(l) = span_location(cspans[0], cwd) {
            d.related.push(Related { location: Location { label: None, ..l }, message });
        }
    }
    Some(d)
}

/// Parses a stream of rustc JSON lines (rustc stderr with
/// `--error-format=json`, or cargo's `--message-format=json` stdout);
/// non-JSON lines and non-diagnostics are skipped.
pub fn from_json_lines(text: &str, cwd: &Path) -> Vec<Diagnostic> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| from_json(&v, cwd))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(code_url("E0308").as_deref(), Some("https://doc.rust-lang.org/error_codes/E0308.html"));
        assert!(code_url("unused_variables").is_none());
        assert!(code_url("clippy::needless_return").unwrap().ends_with("#needless_return"));
    }

    #[test]
    fn non_diagnostics_are_skipped() {
        let art = serde_json::json!({"$message_type":"artifact","artifact":"x.rmeta","emit":"metadata"});
        assert!(from_json(&art, Path::new("/w")).is_none());
        let fin = serde_json::json!({"reason":"build-finished","success":true});
        assert!(from_json(&fin, Path::new("/w")).is_none());
        let abort = serde_json::json!({"$message_type":"diagnostic","message":"aborting due to 1 previous error","code":null,"level":"error","spans":[],"children":[],"rendered":"error: aborting due to 1 previous error\n\n"});
        let d = from_json(&abort, Path::new("/w")).unwrap();
        assert!(d.is_summary());
    }
}
