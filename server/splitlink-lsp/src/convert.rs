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

/// Columns as the client counts them: rustc's are characters (1-based); LSP's default is UTF-16
/// code units, which differ after a character outside the BMP (an emoji) earlier on the line.
#[derive(Clone, Copy)]
struct Columns {
    utf32: bool,
}

impl Columns {
    fn range(&self, l: &Location) -> Range {
        let line = |n: u32| n.saturating_sub(1);
        let end_line = l.line_end.max(l.line_start);
        Range {
            start: Position { line: line(l.line_start), character: self.col(&l.file, l.line_start, l.col_start) },
            end: Position { line: line(end_line), character: self.col(&l.file, end_line, l.col_end) },
        }
    }

    fn col(&self, file: &Path, line: u32, col: u32) -> u32 {
        let chars = col.saturating_sub(1);
        if self.utf32 {
            return chars;
        }
        match std::fs::read_to_string(file).ok().and_then(|t| t.lines().nth(line.saturating_sub(1) as usize).map(str::to_string)) {
            Some(text) => utf16_column(&text, chars),
            None => chars,
        }
    }
}

/// The UTF-16 offset of the `chars`-th character of `line` (past its end: counted as ASCII).
fn utf16_column(line: &str, chars: u32) -> u32 {
    let n = line.chars().count() as u32;
    let inside: u32 = line.chars().take(chars as usize).map(|c| c.len_utf16() as u32).sum();
    inside + chars.saturating_sub(n)
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
/// `utf32`: the client takes positions in characters (else UTF-16 code units).
pub fn to_lsp(d: &Model, related_supported: bool, root: &Path, utf32: bool) -> Option<(PathBuf, Published)> {
    let cols = Columns { utf32 };
    let range = |l: &Location| cols.range(l);
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
    let fixes = fixes(d, &diagnostic, cols);
    Some((primary.file.clone(), Published { diagnostic, fixes }))
}

/// Quick fixes from rustc's suggestions: machine-applicable ones preferred, maybe-incorrect
/// ones offered but not preferred; suggestions with placeholders are left out.
fn fixes(d: &Model, diag: &Diagnostic, cols: Columns) -> Vec<CodeAction> {
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
            .push((s.location.file.clone(), TextEdit { range: cols.range(&s.location), new_text: s.replacement.clone() }));
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

#[cfg(test)]
mod tests {
    use super::utf16_column;

    #[test]
    fn utf16_columns_count_astral_characters_twice() {
        let line = "    let s = \"🦀\"; let x: u8 = s;";
        // rustc's column of `s` at the end (characters, 0-based here): 30; UTF-16: 31.
        let chars = line.chars().count() as u32 - 2;
        assert_eq!(line.chars().nth(chars as usize), Some('s'));
        assert_eq!(utf16_column(line, chars), chars + 1);
        assert_eq!(utf16_column(line, 4), 4, "before the crab");
        assert_eq!(utf16_column("é", 1), 1, "a BMP character is one unit");
        assert_eq!(utf16_column("ab", 5), 5, "past the end");
    }
}
