//! The scenarios and the edits they apply. Every edit of run `i` is a pure function of the file's
//! current content and `i`, applied identically to both copies, and each run changes the file
//! relative to the run before (the same work every run).

use anyhow::{bail, Context, Result};
use std::path::Path;

/// What the scenarios edit in a workspace. Anchors are whole lines (trimmed) that occur exactly
/// once in their file: an end-of-line comment or a statement is appended to that line, so no
/// line moves.
#[derive(Clone, Debug)]
pub struct Targets {
    pub bin_file: String,
    pub bin_eol_anchor: String,
    pub bin_body_anchor: String,
    pub lib_file: String,
    pub lib_eol_anchor: String,
    pub lib_body_anchor: String,
}

impl Targets {
    /// Checks the anchors against the pristine sources.
    pub fn check(&self, bin: &str, lib: &str) -> Result<()> {
        for (text, file, anchor) in [
            (bin, &self.bin_file, &self.bin_eol_anchor),
            (bin, &self.bin_file, &self.bin_body_anchor),
            (lib, &self.lib_file, &self.lib_eol_anchor),
            (lib, &self.lib_file, &self.lib_body_anchor),
        ] {
            let n = text.lines().filter(|l| l.trim() == anchor.as_str()).count();
            if n != 1 {
                bail!("{file}: the line `{anchor}` occurs {n} times (expected once)");
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No rustc, no link.
    Nothing,
    /// Compiles, the link is skipped.
    LinkSkipped,
    /// Compiles and relinks.
    Relink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    NoChange,
    Touch,
    SameBytes,
    BinEol,
    BinCfgTest,
    LibEol,
    BinBody,
    LibBody,
    LibShift,
}

pub const ALL: [Scenario; 9] = [
    Scenario::NoChange,
    Scenario::Touch,
    Scenario::SameBytes,
    Scenario::BinEol,
    Scenario::BinCfgTest,
    Scenario::LibEol,
    Scenario::BinBody,
    Scenario::LibBody,
    Scenario::LibShift,
];

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::NoChange => "no-change",
            Scenario::Touch => "touch",
            Scenario::SameBytes => "same-bytes",
            Scenario::BinEol => "bin-eol",
            Scenario::BinCfgTest => "bin-cfg-test",
            Scenario::LibEol => "lib-eol",
            Scenario::BinBody => "bin-body",
            Scenario::LibBody => "lib-body",
            Scenario::LibShift => "lib-shift",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        ALL.into_iter().find(|x| x.name() == s)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scenario::NoChange => "nothing changed",
            Scenario::Touch => "`touch` of the library file",
            Scenario::SameBytes => "the library file saved with identical bytes",
            Scenario::BinEol => "end-of-line comment in the binary crate",
            Scenario::BinCfgTest => "`#[cfg(test)]` module appended to the binary crate's main file",
            Scenario::LibEol => "end-of-line comment in the library",
            Scenario::BinBody => "function-body edit in the binary crate (a statement on the line of a `{`)",
            Scenario::LibBody => "function-body edit in the library (same kind)",
            Scenario::LibShift => "comment line added/removed at the top of the library file (shifts every line)",
        }
    }

    pub fn expect(self) -> Expect {
        match self {
            Scenario::NoChange | Scenario::Touch | Scenario::SameBytes => Expect::Nothing,
            Scenario::BinEol | Scenario::BinCfgTest | Scenario::LibEol => Expect::LinkSkipped,
            Scenario::BinBody | Scenario::LibBody | Scenario::LibShift => Expect::Relink,
        }
    }

    /// Applies run `i` (1-based) of this scenario to the workspace at `root`.
    pub fn apply(self, root: &Path, t: &Targets, i: usize) -> Result<()> {
        match self {
            Scenario::NoChange => Ok(()),
            Scenario::Touch => {
                let p = root.join(&t.lib_file);
                let f = std::fs::File::options().write(true).open(&p).with_context(|| format!("cannot open {}", p.display()))?;
                f.set_modified(std::time::SystemTime::now()).with_context(|| format!("cannot touch {}", p.display()))
            }
            Scenario::SameBytes => {
                let p = root.join(&t.lib_file);
                let bytes = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
                std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))
            }
            Scenario::BinEol => rewrite(root, &t.bin_file, |s| append_to_line(s, &t.bin_eol_anchor, &eol(i))),
            Scenario::BinCfgTest => rewrite(root, &t.bin_file, |s| Ok(with_cfg_test(s, i))),
            Scenario::LibEol => rewrite(root, &t.lib_file, |s| append_to_line(s, &t.lib_eol_anchor, &eol(i))),
            Scenario::BinBody => rewrite(root, &t.bin_file, |s| append_to_line(s, &t.bin_body_anchor, &body(i))),
            Scenario::LibBody => rewrite(root, &t.lib_file, |s| append_to_line(s, &t.lib_body_anchor, &body(i))),
            Scenario::LibShift => rewrite(root, &t.lib_file, |s| Ok(with_shift(s, i))),
        }
    }
}

// Each edit toggles between two variants of different lengths (odd and even runs): every run
// changes the file relative to the run before, and in the same way (a comment of another length
// moves the end of the line, which is in the crate's metadata, like a real comment does).

fn eol(i: usize) -> String {
    if i % 2 == 1 {
        " // splitlink-bench eol".into()
    } else {
        " // splitlink-bench eol, edited again".into()
    }
}

fn body(i: usize) -> String {
    if i % 2 == 1 {
        " let _ = std::hint::black_box(1u64);".into()
    } else {
        " let _ = std::hint::black_box(23456u64);".into()
    }
}

fn revision(i: usize) -> &'static str {
    if i % 2 == 1 {
        "revision one"
    } else {
        "revision two, edited again"
    }
}

fn rewrite(root: &Path, rel: &str, f: impl FnOnce(&str) -> Result<String>) -> Result<()> {
    let p = root.join(rel);
    let s = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    let new = f(&s).with_context(|| format!("editing {}", p.display()))?;
    std::fs::write(&p, new).with_context(|| format!("cannot write {}", p.display()))
}

/// Replaces whatever follows `anchor` on its line (a previous run's edit) by `suffix`.
pub fn append_to_line(text: &str, anchor: &str, suffix: &str) -> Result<String> {
    let mut found = 0;
    let mut out = String::with_capacity(text.len() + suffix.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let indent = &body[..body.len() - body.trim_start().len()];
        if body.trim_start().starts_with(anchor) {
            found += 1;
            out.push_str(indent);
            out.push_str(anchor);
            out.push_str(suffix);
            out.push_str(nl);
        } else {
            out.push_str(line);
        }
    }
    if found != 1 {
        bail!("the line `{anchor}` occurs {found} times (expected once)");
    }
    Ok(out)
}

const CFG_TEST_MARK: &str = "// splitlink-bench: cfg(test) edit";

/// The file with a `#[cfg(test)]` module of revision `i` at its end (replacing an earlier one).
pub fn with_cfg_test(text: &str, i: usize) -> String {
    let base = match text.find(CFG_TEST_MARK) {
        Some(p) => &text[..p],
        None => text,
    };
    let mut s = base.to_string();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&format!(
        "{CFG_TEST_MARK}\n#[cfg(test)]\nmod splitlink_bench_added {{\n    #[test]\n    fn added() {{\n        assert_eq!(2 + 2, 4, \"{}\");\n    }}\n}}\n",
        revision(i)
    ));
    s
}

const SHIFT_MARK: &str = "// splitlink-bench shift";

/// The file with one (odd `i`) or two (even `i`) comment lines at its top: every run moves every
/// line of the file by one.
pub fn with_shift(text: &str, i: usize) -> String {
    let mut rest = text;
    while let Some(r) = rest.strip_prefix(SHIFT_MARK) {
        rest = r.split_once('\n').map(|(_, r)| r).unwrap_or("");
    }
    let n = if i % 2 == 1 { 1 } else { 2 };
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(SHIFT_MARK);
        s.push('\n');
    }
    s.push_str(rest);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "//! doc\nfn a() {\n    x();\n}\n    fn b() -> u8 {\n    1\n}\n";

    #[test]
    fn eol_and_body_keep_lines_and_replace_previous_edit() {
        let a = append_to_line(SRC, "fn a() {", &eol(1)).unwrap();
        assert_eq!(a.lines().count(), SRC.lines().count());
        assert!(a.contains("fn a() { // splitlink-bench eol\n"));
        let b = append_to_line(&a, "fn a() {", &eol(2)).unwrap();
        assert!(b.contains("fn a() { // splitlink-bench eol, edited again\n"));
        assert_eq!(append_to_line(&b, "fn a() {", &eol(3)).unwrap(), a);
        let c = append_to_line(&b, "fn b() -> u8 {", &body(3)).unwrap();
        assert!(c.contains("    fn b() -> u8 { let _ = std::hint::black_box(1u64);\n"));
        assert!(append_to_line(SRC, "fn zz() {", "x").is_err());
    }

    #[test]
    fn cfg_test_module_is_replaced_not_stacked() {
        let a = with_cfg_test(SRC, 1);
        let b = with_cfg_test(&a, 2);
        assert!(b.starts_with(SRC));
        assert_eq!(b.matches("#[cfg(test)]").count(), 1);
        assert!(b.contains("revision two") && !b.contains("revision one"));
        assert_ne!(a.len(), b.len());
    }

    #[test]
    fn shift_alternates_one_and_two_lines() {
        let a = with_shift(SRC, 1);
        let b = with_shift(&a, 2);
        let c = with_shift(&b, 3);
        assert_eq!(a.lines().count(), SRC.lines().count() + 1);
        assert_eq!(b.lines().count(), SRC.lines().count() + 2);
        assert_eq!(c, a);
        assert!(c.ends_with(SRC));
    }
}
