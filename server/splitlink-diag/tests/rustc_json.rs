//! rustc JSON → model, on real rustc output produced by the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use splitlink_diag::model::{Applicability, Diagnostic, Phase, Severity, Tag};
use splitlink_diag::{render, rustc};

fn rustc_bin() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string())
}

/// Runs `rustc --error-format=json` on `file` in `cwd`; returns the parsed
/// diagnostics.
fn compile(cwd: &Path, file: &str, out: &Path) -> (Vec<Diagnostic>, String) {
    let output = Command::new(rustc_bin())
        .current_dir(cwd)
        .args(["--error-format=json", "--edition=2021", "--crate-type=bin", file, "-o"])
        .arg(out)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run rustc");
    let stderr = String::from_utf8(output.stderr).unwrap();
    (rustc::from_json_lines(&stderr, cwd), stderr)
}

struct Ws {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
}

fn workspace() -> Ws {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(tmp.path().join("ext")).unwrap();
    // A macro defined outside the workspace (like one from a registry crate).
    std::fs::write(
        tmp.path().join("ext/m.rs"),
        "macro_rules! make_bad {\n    ($e:expr) => {\n        let _v: i32 = $e + \"x\";\n    };\n}\npub(crate) use make_bad;\n",
    )
    .unwrap();
    Ws { _tmp: tmp, ws }
}

const ERRORS: &str = r#"#[path = "../ext/m.rs"]
mod m;

fn main() {
    let x: u64 = 5i32;
    println!("{} {}", 1);
    m::make_bad!(1);
    let _ = x;
}
"#;

const WARNINGS: &str = r#"#[deprecated(note = "use new")]
fn old() {}

fn main() {
    let unused = 3;
    old();
}
"#;

fn find<'a>(ds: &'a [Diagnostic], needle: &str, raw: &str) -> &'a Diagnostic {
    ds.iter().find(|d| d.message.contains(needle)).unwrap_or_else(|| panic!("no diagnostic with {needle:?} in:\n{raw}"))
}

#[test]
fn type_error_with_suggestion() {
    let w = workspace();
    std::fs::write(w.ws.join("main.rs"), ERRORS).unwrap();
    let (ds, raw) = compile(&w.ws, "main.rs", &w.ws.join("out"));
    let d = find(&ds, "mismatched types", &raw);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.phase, Phase::Compile);
    assert_eq!(d.code.as_deref(), Some("E0308"));
    assert_eq!(d.code_url.as_deref(), Some("https://doc.rust-lang.org/error_codes/E0308.html"));
    let p = d.primary.as_ref().unwrap();
    assert_eq!(p.file, w.ws.join("main.rs"));
    // `    let x: u64 = 5i32;` — `5i32` is columns 18..22.
    assert_eq!((p.line_start, p.col_start, p.line_end, p.col_end), (5, 18, 5, 22));
    assert_eq!(p.label.as_deref(), Some("expected `u64`, found `i32`"));
    // The secondary `u64` span ("expected due to this") is related.
    assert!(
        d.related.iter().any(|r| r.message == "expected due to this" && r.location.line_start == 5 && r.location.col_start == 12),
        "{:#?}",
        d.related
    );
    // The help child carries a machine-applicable replacement of `i32` by `u64`.
    let s = d.suggestions.first().expect("suggestion");
    assert_eq!(s.replacement, "u64");
    assert_eq!(s.applicability, Applicability::MachineApplicable);
    assert_eq!((s.location.line_start, s.location.col_start, s.location.col_end), (5, 19, 22));
    assert!(s.message.contains("change the type of the numeric literal"));
    assert!(d.related.iter().any(|r| r.message.ends_with(": `u64`")), "{:#?}", d.related);
    assert!(d.raw.contains("mismatched types"));
    assert!(!d.is_summary());

    // Summaries are kept but recognisable.
    let summaries: Vec<_> = ds.iter().filter(|d| d.is_summary()).map(|d| d.message.as_str()).collect();
    assert!(summaries.iter().any(|m| m.starts_with("aborting due to 3 previous errors")), "{summaries:?}");
    assert!(summaries.iter().any(|m| m.starts_with("Some errors have detailed explanations")), "{summaries:?}");
    assert_eq!(ds.iter().filter(|d| !d.is_summary()).count(), 3, "{raw}");
}

#[test]
fn format_macro_error_points_into_user_code() {
    let w = workspace();
    std::fs::write(w.ws.join("main.rs"), ERRORS).unwrap();
    let (ds, raw) = compile(&w.ws, "main.rs", &w.ws.join("out"));
    let d = find(&ds, "positional arguments in format string", &raw);
    let p = d.primary.as_ref().unwrap();
    // `    println!("{} {}", 1);` — the first `{}` is columns 15..17.
    assert_eq!((p.file.clone(), p.line_start, p.col_start, p.col_end), (w.ws.join("main.rs"), 6, 15, 17));
    // The second `{}` (another primary span) is related.
    assert!(d.related.iter().any(|r| r.location.line_start == 6 && r.location.col_start == 18), "{:#?}", d.related);
}

#[test]
fn macro_from_outside_the_workspace_maps_to_the_call_site() {
    let w = workspace();
    std::fs::write(w.ws.join("main.rs"), ERRORS).unwrap();
    let (ds, raw) = compile(&w.ws, "main.rs", &w.ws.join("out"));
    let d = find(&ds, "cannot add", &raw);
    assert_eq!(d.code.as_deref(), Some("E0277"));
    let p = d.primary.as_ref().unwrap();
    // rustc's primary span is inside `../ext/m.rs`; the call `m::make_bad!(1)` is line 7.
    assert_eq!((p.file.clone(), p.line_start, p.col_start), (w.ws.join("main.rs"), 7, 5));
    let inner = d.related.iter().find(|r| r.message == "actual error occurred here").expect("macro-internal span kept");
    assert!(inner.location.file.ends_with("ext/m.rs"), "{:?}", inner.location.file);
    assert_eq!(inner.location.line_start, 3);
    // Span-less children become notes with their level.
    assert!(d.notes.iter().any(|n| n.starts_with("help: the trait `Add<&str>` is not implemented")), "{:#?}", d.notes);
}

#[test]
fn lint_warnings_are_tagged() {
    let w = workspace();
    std::fs::write(w.ws.join("warn.rs"), WARNINGS).unwrap();
    let (ds, raw) = compile(&w.ws, "warn.rs", &w.ws.join("out"));
    let unused = find(&ds, "unused variable", &raw);
    assert_eq!(unused.severity, Severity::Warning);
    assert_eq!(unused.code.as_deref(), Some("unused_variables"));
    assert_eq!(unused.code_url, None);
    assert_eq!(unused.tags, vec![Tag::Unnecessary]);
    let p = unused.primary.as_ref().unwrap();
    assert_eq!((p.line_start, p.col_start, p.col_end), (5, 9, 15));
    let s = &unused.suggestions[0];
    assert_eq!((s.replacement.as_str(), s.applicability), ("_unused", Applicability::MachineApplicable));
    assert!(unused.notes.iter().any(|n| n.starts_with("note: `#[warn(unused_variables)]`")), "{:#?}", unused.notes);

    let dep = find(&ds, "use of deprecated function", &raw);
    assert_eq!(dep.tags, vec![Tag::Deprecated]);
    assert!(ds.iter().any(|d| d.is_summary() && d.message == "2 warnings emitted"));
}

/// A diagnostic rendered as rustc JSON reads back to the same locations.
#[test]
fn rustc_json_round_trip() {
    let w = workspace();
    std::fs::write(w.ws.join("main.rs"), ERRORS).unwrap();
    let (ds, _) = compile(&w.ws, "main.rs", &w.ws.join("out"));
    for d in ds.iter().filter(|d| !d.is_summary()) {
        let v = render::to_rustc_json(d, &w.ws);
        let back = rustc::from_json(&v, &w.ws).unwrap();
        assert_eq!(
            back.primary.as_ref().map(|p| (&p.file, p.line_start, p.col_start)),
            d.primary.as_ref().map(|p| (&p.file, p.line_start, p.col_start))
        );
        assert_eq!(back.suggestions.len(), d.suggestions.len());
        assert_eq!(back.code, d.code);
        // Byte offsets are computed from the file.
        let span = &v["spans"][0];
        let text = std::fs::read_to_string(w.ws.join(span["file_name"].as_str().unwrap())).unwrap();
        let (bs, be) = (span["byte_start"].as_u64().unwrap() as usize, span["byte_end"].as_u64().unwrap() as usize);
        assert!(be > bs && be <= text.len());
    }
    let d = find(&ds, "mismatched types", "");
    let v = render::to_rustc_json(d, &w.ws);
    let span = &v["spans"][0];
    assert_eq!(span["file_name"], "main.rs");
    let text = std::fs::read_to_string(w.ws.join("main.rs")).unwrap();
    assert_eq!(&text[span["byte_start"].as_u64().unwrap() as usize..span["byte_end"].as_u64().unwrap() as usize], "5i32");
}

/// The cargo `compiler-message` wrapper is accepted too.
#[test]
fn cargo_wrapper() {
    let inner = serde_json::json!({
        "$message_type": "diagnostic", "message": "unused import: `std::fmt`",
        "code": {"code": "unused_imports", "explanation": null}, "level": "warning",
        "spans": [{"file_name": "src/lib.rs", "byte_start": 4, "byte_end": 12, "line_start": 1, "line_end": 1,
                   "column_start": 5, "column_end": 13, "is_primary": true, "text": [], "label": null,
                   "suggested_replacement": null, "suggestion_applicability": null, "expansion": null}],
        "children": [], "rendered": "warning: unused import: `std::fmt`\n"
    });
    let wrapped = serde_json::json!({"reason": "compiler-message", "package_id": "x", "message": inner});
    let d = rustc::from_json(&wrapped, Path::new("/w")).unwrap();
    assert_eq!(d.primary.unwrap().file, Path::new("/w/src/lib.rs"));
    assert_eq!(d.tags, vec![Tag::Unnecessary]);
}
