//! Snapshot tests over every case of the real linker-failure corpus
//! (`shared/linker-corpus/<setup>/<case>/`, captured with rustc 1.95 and
//! rust-lld, ld.bfd, ld, gold and mold).
//!
//! For each case, the link error is parsed from both `json.txt` (cargo
//! JSON) and `linkonly_json.txt` (the separate `-Zlink-only` step, rustc
//! JSON) and summarized as text (kind, demangled symbol, primary
//! file:line:col, related locations, more_references) which must match
//! `tests/snapshots/<setup>/<case>.txt`. Run with `UPDATE_EXPECT=1` to
//! rewrite the snapshots — and then check them by hand against the case's
//! sources.
//!
//! The corpus is found at `$SPLITLINK_LINKER_CORPUS`, else at
//! `../shared/linker-corpus` beside the repository checkout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use splitlink_diag::linker::{from_failure, from_link_error, is_link_error, LinkContext, LinkFailure, LinkStatus};
use splitlink_diag::model::{Diagnostic, Location, Phase};
use splitlink_diag::render;

/// Cases in the corpus: 5 setups × 11 cases, plus mold's
/// `c9g_fuse_ld_not_installed`. If the corpus grows, add snapshots and bump.
const EXPECTED_CASES: usize = 56;

fn corpus_dir() -> PathBuf {
    if let Ok(p) = std::env::var("SPLITLINK_LINKER_CORPUS") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/linker-corpus")
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

struct Case {
    setup: String,
    name: String,
    dir: PathBuf,
}

fn cases() -> Vec<Case> {
    let root = corpus_dir();
    let root = root.canonicalize().unwrap_or_else(|e| panic!("linker corpus not found at {}: {e}", root.display()));
    let mut out = Vec::new();
    let mut setups: Vec<_> = std::fs::read_dir(&root).unwrap().filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    setups.sort();
    for s in setups {
        let mut cs: Vec<_> =
            std::fs::read_dir(&s).unwrap().filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join("meta.txt").is_file()).collect();
        cs.sort();
        for c in cs {
            out.push(Case {
                setup: s.file_name().unwrap().to_string_lossy().into_owned(),
                name: c.file_name().unwrap().to_string_lossy().into_owned(),
                dir: c,
            });
        }
    }
    out
}

/// The workspace root at capture time, from `meta.txt`.
fn capture_root(case: &Case) -> String {
    let meta = std::fs::read_to_string(case.dir.join("meta.txt")).unwrap();
    meta.lines()
        .find_map(|l| l.strip_prefix("workspace root at capture time: "))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| format!("/home/dev/{}", case.name))
}

/// The link-error diagnostics of one captured file, with the capture-time
/// workspace root mapped to the corpus folder.
fn link_diagnostics(case: &Case, file: &str, ctx: &LinkContext) -> Option<Vec<Diagnostic>> {
    let text = std::fs::read_to_string(case.dir.join(file)).ok()?;
    let text = text.replace(&capture_root(case), &case.dir.to_string_lossy());
    let mut out = Vec::new();
    let mut found = false;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap();
        if is_link_error(&v) {
            found = true;
            out.extend(from_link_error(&v, ctx));
        }
    }
    Some(if found { out } else { Vec::new() })
}

fn rel(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}

fn loc(l: &Location, root: &Path) -> String {
    format!("{}:{}:{}", rel(&l.file, root), l.line_start, l.col_start)
}

fn summarize(diags: &[Diagnostic], root: &Path) -> String {
    let mut s = String::new();
    if diags.is_empty() {
        s.push_str("  (no link error reported)\n");
    }
    for d in diags {
        let link = d.link.as_ref().expect("link info");
        writeln!(
            s,
            "  {} {} symbol={} more={}",
            d.severity.as_str(),
            link.kind.short_name(),
            link.symbol.as_deref().map(|x| format!("`{x}`")).unwrap_or_else(|| "-".into()),
            link.more_references
        )
        .unwrap();
        writeln!(s, "    message: {}", d.message).unwrap();
        match &d.primary {
            Some(p) => writeln!(s, "    primary: {}", loc(p, root)).unwrap(),
            None => writeln!(s, "    primary: -").unwrap(),
        }
        for r in &d.related {
            writeln!(s, "    related: {} ({})", loc(&r.location, root), r.message).unwrap();
        }
    }
    s
}

/// Properties every link diagnostic must have.
fn check_invariants(d: &Diagnostic, case: &Case, file: &str) {
    let what = format!("{}/{} {file}: {}", case.setup, case.name, d.message);
    assert_eq!(d.phase, Phase::Link, "{what}");
    let link = d.link.as_ref().unwrap_or_else(|| panic!("no link info: {what}"));
    assert_eq!(d.code.as_deref(), Some(link.kind.code()), "{what}");
    assert!(!d.raw.trim().is_empty(), "raw text lost: {what}");
    let p = d.primary.as_ref().unwrap_or_else(|| panic!("no primary location: {what}"));
    assert!(p.file.is_file(), "primary file does not exist: {} ({what})", p.file.display());
    for r in &d.related {
        assert!(r.location.file.is_file(), "related file does not exist: {} ({what})", r.location.file.display());
    }
    // Rendering never panics and keeps the location.
    let human = render::human(d, true, &case.dir);
    assert!(human.contains(&format!("{}:{}:", rel(&p.file, &case.dir), p.line_start)), "{human}");
    let json = render::to_rustc_json(d, &case.dir);
    assert_eq!(json["spans"][0]["line_start"], p.line_start, "{what}");
    assert_eq!(json["spans"][0]["is_primary"], true, "{what}");
}

#[test]
fn corpus_snapshots() {
    let cases = cases();
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let mut link_errors_seen = 0;
    let mut expected_files = Vec::new();
    for case in &cases {
        let ctx = LinkContext::discover(&case.dir, &case.dir.join("src/main.rs"));
        let mut actual = format!("# {}/{}\n", case.setup, case.name);
        for file in ["json.txt", "linkonly_json.txt"] {
            let diags = link_diagnostics(case, file, &ctx).unwrap_or_else(|| panic!("{}/{} has no {file}", case.setup, case.name));
            link_errors_seen += usize::from(!diags.is_empty());
            for d in &diags {
                check_invariants(d, case, file);
            }
            writeln!(actual, "{file}:").unwrap();
            actual.push_str(&summarize(&diags, &case.dir));
        }
        // Snapshots must not depend on where the corpus is checked out.
        let actual = actual.replace(&*case.dir.to_string_lossy(), "$CASE");
        let snap = snapshot_dir().join(&case.setup).join(format!("{}.txt", case.name));
        expected_files.push(snap.clone());
        if update {
            std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
            std::fs::write(&snap, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&snap).unwrap_or_default();
        if expected != actual {
            failures.push(format!("--- {} (expected)\n{expected}\n+++ actual\n{actual}", snap.display()));
        }
    }
    // No snapshot may be left without its case (a shrinking corpus must be noticed).
    let mut stale = Vec::new();
    for setup in std::fs::read_dir(snapshot_dir()).unwrap().filter_map(Result::ok) {
        if !setup.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(setup.path()).unwrap().filter_map(Result::ok) {
            if !expected_files.contains(&f.path()) {
                stale.push(f.path().display().to_string());
            }
        }
    }
    assert!(stale.is_empty(), "snapshots without a corpus case: {stale:?}");
    assert_eq!(cases.len(), EXPECTED_CASES, "number of corpus cases changed");
    // Every capture but mold's accepted c3 build (json.txt) holds a link error.
    assert_eq!(link_errors_seen, 2 * EXPECTED_CASES - 1, "link errors found");
    assert!(failures.is_empty(), "{} snapshot(s) differ (UPDATE_EXPECT=1 to rewrite):\n{}", failures.len(), failures.join("\n"));
}

/// The same linker error must map to the same place whether it came through
/// cargo (`json.txt`) or the separate `-Zlink-only` step, even when the
/// latter names v0-mangled functions.
#[test]
fn cargo_and_link_only_agree() {
    for case in cases() {
        let ctx = LinkContext::discover(&case.dir, &case.dir.join("src/main.rs"));
        let a = link_diagnostics(&case, "json.txt", &ctx).unwrap();
        let b = link_diagnostics(&case, "linkonly_json.txt", &ctx).unwrap();
        if a.is_empty() || b.is_empty() || (case.setup == "mold" && case.name.starts_with("c3")) {
            continue; // mold accepted c3 under cargo; its link-only run lost an object
        }
        let key = |d: &Diagnostic| {
            (
                d.link.as_ref().map(|l| (l.kind.code(), l.symbol.clone())),
                d.primary.as_ref().map(|p| (p.file.clone(), p.line_start, p.col_start)),
            )
        };
        let mut ka: Vec<_> = a.iter().map(key).collect();
        let mut kb: Vec<_> = b.iter().map(key).collect();
        ka.sort();
        kb.sort();
        assert_eq!(ka, kb, "{}/{}", case.setup, case.name);
    }
}

/// Any text given as linker output — every file of the corpus, whole and
/// line by line — yields diagnostics without panicking, and none of its
/// error lines is lost.
#[test]
fn arbitrary_text_never_panics_or_gets_lost() {
    for case in cases() {
        let ctx = LinkContext::discover(&case.dir, &case.dir.join("src/main.rs"));
        for entry in std::fs::read_dir(&case.dir).unwrap().filter_map(Result::ok) {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let mut inputs = vec![text.clone()];
            inputs.extend(text.lines().map(str::to_string));
            for output in inputs {
                let failure = LinkFailure {
                    linker: Some("cc".into()),
                    status: LinkStatus::Exit(1),
                    command: None,
                    output: output.clone(),
                    rustc_notes: Vec::new(),
                    message: "linking with `cc` failed: exit status: 1".into(),
                    rendered: String::new(),
                };
                let ds = from_failure(&failure, &ctx);
                assert!(!ds.is_empty());
                // (Lines are compared without newlines: mold's dropped newlines are re-inserted.)
                let raw: String = ds.iter().map(|d| d.raw.replace('\n', "")).collect();
                for line in output.lines().filter(|l| l.contains("error")) {
                    assert!(raw.contains(line), "line lost: {line:?}");
                }
            }
        }
    }
}
