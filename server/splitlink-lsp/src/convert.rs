//! splitlink's diagnostic model → LSP. Follows rust-analyzer's flycheck conversion: the
//! primary location is the diagnostic's range; related locations become `relatedInformation`
//! (or are folded into the message when the client does not support it); rustc's suggestions
//! become quick fixes.

use splitlink_diag::model::{Applicability, Diagnostic as Model, Location, Phase, Severity, Tag};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeDescription, Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag,
    NumberOrString, Position, Range, TextEdit, Uri, WorkspaceEdit,
};

pub fn uri(path: &Path) -> Option<Uri> {
    Uri::from_file_path(path)
}

fn range(l: &Location) -> Range {
    let line = |n: u32| n.saturating_sub(1);
    let col = |n: u32| n.saturating_sub(1);
    Range {
        start: Position { line: line(l.line_start), character: col(l.col_start) },
        end: Position { line: line(l.line_end.max(l.line_start)), character: col(l.col_end) },
    }
}

fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error | Severity::Ice => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Note => DiagnosticSeverity::INFORMATION,
        Severity::Help => DiagnosticSeverity::HINT,
    }
}

/// A diagnostic ready to publish, with the quick fixes that go with it.
#[derive(Clone, Debug)]
pub struct Published {
    pub diagnostic: Diagnostic,
    pub fixes: Vec<CodeAction>,
}

/// Convert one model diagnostic; `None` when it has no location in a file (summaries).
pub fn to_lsp(d: &Model, related_supported: bool, root: &Path) -> Option<(PathBuf, Published)> {
    let primary = d.primary.as_ref()?;
    let mut message = d.message.clone();
    for n in &d.notes {
        message.push('\n');
        message.push_str(n);
    }
    let mut related = Vec::new();
    for r in &d.related {
        let Some(u) = uri(&r.location.file) else { continue };
        if related_supported {
            related.push(DiagnosticRelatedInformation {
                location: tower_lsp_server::ls_types::Location { uri: u, range: range(&r.location) },
                message: if r.message.is_empty() { "related".into() } else { r.message.clone() },
            });
        } else {
            let p = r.location.file.strip_prefix(root).unwrap_or(&r.location.file);
            message.push_str(&format!(
                "\n{}: {}:{}:{}",
                if r.message.is_empty() { "related" } else { &r.message },
                p.display(),
                r.location.line_start,
                r.location.col_start
            ));
        }
    }
    let code = d.code.clone().or_else(|| d.link_kind().map(|k| k.code().to_string()));
    let code_description = d.code_url.as_ref().and_then(|u| u.parse::<Uri>().ok()).map(|href| CodeDescription { href });
    let tags: Vec<DiagnosticTag> = d
        .tags
        .iter()
        .map(|t| match t {
            Tag::Unnecessary => DiagnosticTag::UNNECESSARY,
            Tag::Deprecated => DiagnosticTag::DEPRECATED,
        })
        .collect();
    let diagnostic = Diagnostic {
        range: range(primary),
        severity: Some(severity(d.severity)),
        code: code.map(NumberOrString::String),
        code_description,
        source: Some("splitlink".into()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags: if tags.is_empty() { None } else { Some(tags) },
        data: Some(serde_json::json!({"phase": if d.phase == Phase::Link { "link" } else { "compile" }})),
    };
    let fixes = fixes(d, &diagnostic);
    Some((primary.file.clone(), Published { diagnostic, fixes }))
}

/// Quick fixes from rustc's suggestions: machine-applicable ones preferred, maybe-incorrect
/// ones offered but not preferred; suggestions with placeholders are left out.
fn fixes(d: &Model, diag: &Diagnostic) -> Vec<CodeAction> {
    let mut by_message: BTreeMap<(String, bool), Vec<(PathBuf, TextEdit)>> = BTreeMap::new();
    for s in &d.suggestions {
        let preferred = match s.applicability {
            Applicability::MachineApplicable => true,
            Applicability::MaybeIncorrect | Applicability::Unspecified => false,
            Applicability::HasPlaceholders => continue,
        };
        by_message
            .entry((if s.message.is_empty() { "apply suggestion".into() } else { s.message.clone() }, preferred))
            .or_default()
            .push((s.location.file.clone(), TextEdit { range: range(&s.location), new_text: s.replacement.clone() }));
    }
    by_message
        .into_iter()
        .filter_map(|((title, preferred), edits)| {
            let mut changes: std::collections::HashMap<Uri, Vec<TextEdit>> = std::collections::HashMap::new();
            for (f, e) in edits {
                changes.entry(uri(&f)?).or_default().push(e);
            }
            Some(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diag.clone()]),
                edit: Some(WorkspaceEdit { changes: Some(changes), ..Default::default() }),
                is_preferred: Some(preferred),
                ..Default::default()
            })
        })
        .collect()
}

/// A failed test as a diagnostic at its panic location (`panicked at src/lib.rs:10:5`).
pub fn test_failure(binary: &str, test: &str, line: u32, column: u32, message: &str) -> Published {
    let pos = Position { line: line.saturating_sub(1), character: column.saturating_sub(1) };
    let diagnostic = Diagnostic {
        range: Range { start: pos, end: Position { line: pos.line, character: pos.character + 1 } },
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String("test-failed".into())),
        source: Some("splitlink test".into()),
        message: format!("test {test} failed ({binary}): {message}"),
        data: Some(serde_json::json!({"phase": "test", "test": test})),
        ..Default::default()
    };
    Published { diagnostic, fixes: vec![] }
}

pub fn overlaps(a: &Range, b: &Range) -> bool {
    !(a.end < b.start || b.end < a.start)
}
