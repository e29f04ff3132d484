//! Rendering: rustc-style human text and rustc-format JSON.

use std::path::Path;

use serde_json::{json, Value};

use crate::model::{Diagnostic, Location, Phase, Severity};
use crate::source::SourceFile;

/// `path` relative to `root` when inside it, else as is.
fn display_path(file: &Path, root: &Path) -> String {
    match file.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => file.display().to_string(),
    }
}

fn header(d: &Diagnostic) -> String {
    let code = match (&d.code, d.phase) {
        (Some(c), _) if c.starts_with("link:") => Some("link".to_string()),
        (Some(c), _) => Some(c.clone()),
        (None, Phase::Link) => Some("link".to_string()),
        (None, Phase::Compile) => None,
    };
    match code {
        Some(c) if d.severity != Severity::Ice => {
            format!("{}[{c}]: {}", d.severity.as_str(), d.message)
        }
        _ => format!("{}: {}", d.severity.as_str(), d.message),
    }
}

fn expand_tabs(s: &str) -> String {
    s.replace('\t', "    ")
}

/// The display width of the first `chars` characters of `line` (tabs = 4).
fn width_of(line: &str, chars: usize) -> usize {
    line.chars().take(chars).map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

/// ` --> path:line:col`, and the source line with carets when readable.
fn snippet(out: &mut Vec<String>, loc: &Location, gutter: usize, root: &Path) {
    let pad = " ".repeat(gutter);
    out.push(format!("{pad}--> {}:{}:{}", display_path(&loc.file, root), loc.line_start, loc.col_start));
    let Some(src) = SourceFile::read(&loc.file) else {
        return;
    };
    let Some(line) = src.line(loc.line_start) else {
        return;
    };
    out.push(format!("{pad} |"));
    out.push(format!("{:<gutter$} | {}", loc.line_start, expand_tabs(line).trim_end()));
    let nchars = line.chars().count();
    let start = (loc.col_start.max(1) as usize - 1).min(nchars);
    let end = if loc.line_end > loc.line_start { nchars } else { (loc.col_end.max(1) as usize - 1).min(nchars) };
    let lead = width_of(line, start);
    let len = width_of(line, end).saturating_sub(lead).max(1);
    let mut caret = format!("{pad} | {}{}", " ".repeat(lead), "^".repeat(len));
    if let Some(label) = &loc.label {
        caret.push(' ');
        caret.push_str(label);
    }
    out.push(caret);
}

/// One line, as rustc's short form (cargo's `--message-format short`):
/// `path:line:col: error[code]: message: label`.
pub fn short(d: &Diagnostic, root: &Path) -> String {
    match &d.primary {
        Some(p) => {
            let label = p.label.as_deref().map(|l| format!(": {l}")).unwrap_or_default();
            format!("{}:{}:{}: {}{label}\n", display_path(&p.file, root), p.line_start, p.col_start, header(d))
        }
        None => format!("{}\n", header(d)),
    }
}

/// Renders a diagnostic like rustc does: header, ` --> file:line:col`,
/// the source line with `^^^` under the span, `= note:` lines, related
/// locations as `note: …` with their own snippet. `verbose` appends the raw
/// linker text of link diagnostics. Paths are shown relative to `root`.
pub fn human(d: &Diagnostic, verbose: bool, root: &Path) -> String {
    let gutter = d.primary.iter().chain(d.related.iter().map(|r| &r.location)).map(|l| l.line_start.to_string().len()).max().unwrap_or(1);
    let pad = " ".repeat(gutter);
    let mut out = vec![header(d)];
    if let Some(p) = &d.primary {
        snippet(&mut out, p, gutter, root);
    }
    let show_raw = verbose && d.phase == Phase::Link && !d.raw.trim().is_empty();
    if !d.notes.is_empty() || show_raw {
        out.push(format!("{pad} |"));
    }
    for n in &d.notes {
        let mut lines = n.lines();
        if let Some(first) = lines.next() {
            out.push(format!("{pad} = {first}"));
        }
        for l in lines {
            out.push(format!("{pad}   {l}"));
        }
    }
    if show_raw {
        out.push(format!("{pad} = note: linker output:"));
        for l in d.raw.lines() {
            out.push(format!("{pad}         {l}"));
        }
    }
    for r in &d.related {
        out.push(String::new());
        out.push(format!("note: {}", r.message));
        let loc = Location { label: None, ..r.location.clone() };
        snippet(&mut out, &loc, gutter, root);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn span_json(loc: &Location, root: &Path, is_primary: bool, replacement: Option<(&str, &str)>) -> Value {
    let src = SourceFile::read(&loc.file);
    let (byte_start, byte_end, text) = match &src {
        Some(f) => {
            let bs = f.offset_of(loc.line_start, loc.col_start).unwrap_or(0);
            let be = f.offset_of(loc.line_end, loc.col_end).unwrap_or(bs).max(bs);
            let text: Vec<Value> = (loc.line_start..=loc.line_end)
                .filter_map(|n| {
                    let line = f.line(n)?;
                    let len = line.chars().count() as u32 + 1;
                    let hs = if n == loc.line_start { loc.col_start } else { 1 };
                    let he = if n == loc.line_end { loc.col_end } else { len };
                    Some(json!({ "text": line, "highlight_start": hs, "highlight_end": he }))
                })
                .collect();
            (bs, be, text)
        }
        None => (0, 0, Vec::new()),
    };
    json!({
        "file_name": display_path(&loc.file, root),
        "byte_start": byte_start,
        "byte_end": byte_end,
        "line_start": loc.line_start,
        "line_end": loc.line_end,
        "column_start": loc.col_start,
        "column_end": loc.col_end,
        "is_primary": is_primary,
        "text": text,
        "label": loc.label,
        "suggested_replacement": replacement.map(|r| r.0),
        "suggestion_applicability": replacement.map(|r| r.1),
        "expansion": null,
    })
}

fn child(level: &str, message: &str, spans: Vec<Value>) -> Value {
    json!({
        "message": message,
        "code": null,
        "level": level,
        "spans": spans,
        "children": [],
        "rendered": null,
    })
}

/// A rustc-format JSON diagnostic (`--error-format=json`), so cargo-JSON
/// consumers (rust-analyzer's `check.overrideCommand`, bacon) place link
/// errors at their source line. File names are relative to `root` when
/// inside it; byte offsets and `text` are computed from the file when it is
/// readable (else `0` and `[]`). Related locations become `note` children
/// with a primary span, notes span-less children, suggestions `help`
/// children with `suggested_replacement`.
pub fn to_rustc_json(d: &Diagnostic, root: &Path) -> Value {
    let level = match d.severity {
        Severity::Ice => "error: internal compiler error",
        s => s.as_str(),
    };
    let spans: Vec<Value> = d.primary.iter().map(|p| span_json(p, root, true, None)).collect();
    let mut children = Vec::new();
    for n in &d.notes {
        let (lvl, msg) = match n.split_once(": ") {
            Some((l, m)) if matches!(l, "note" | "help" | "warning" | "error") => (l, m),
            _ => ("note", n.as_str()),
        };
        children.push(child(lvl, msg, Vec::new()));
    }
    for r in &d.related {
        children.push(child("note", &r.message, vec![span_json(&r.location, root, true, None)]));
    }
    for s in &d.suggestions {
        children.push(child(
            "help",
            &s.message,
            vec![span_json(&s.location, root, true, Some((&s.replacement, s.applicability.as_str())))],
        ));
    }
    json!({
        "$message_type": "diagnostic",
        "message": d.message,
        "code": d.code.as_ref().map(|c| json!({ "code": c, "explanation": null })),
        "level": level,
        "spans": spans,
        "children": children,
        "rendered": human(d, false, root),
    })
}
