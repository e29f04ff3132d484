//! `splitlink-bench --test-loop`: the edit→test loop (issue #12). For each workspace (a generated
//! one whose edited library has 12 integration tests, and ripgrep in its repository layout), three
//! identical copies: `splitlink test`, `splitlink test --changed` and plain `cargo test`, the same
//! selection on all three (every package's lib, bins and integration tests; no doctests). Each
//! edit is applied to the three copies, the three commands alternate, and the report gives the
//! medians, the ratios to `cargo test`, splitlink's link time and test-run time separately, how
//! many test binaries it relinked and re-ran, and whether the passed-test counts agree with cargo's.

use crate::edits::{Scenario, Targets};
use crate::measure;
use crate::report::{self, median, Finished};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The edits of the test loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edit {
    LibEol,
    LibBody,
    TestBody,
}

const EDITS: [Edit; 3] = [Edit::LibEol, Edit::LibBody, Edit::TestBody];

impl Edit {
    fn name(self) -> &'static str {
        match self {
            Edit::LibEol => "lib-eol",
            Edit::LibBody => "lib-body",
            Edit::TestBody => "test-body",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Edit::LibEol => "end-of-line comment in the library",
            Edit::LibBody => "function-body edit in the library",
            Edit::TestBody => "a test added to one integration-test file (one test binary changes)",
        }
    }

    fn apply(self, root: &Path, w: &Ws, i: usize) -> Result<()> {
        match self {
            Edit::LibEol => Scenario::LibEol.apply(root, &w.targets, i),
            Edit::LibBody => Scenario::LibBody.apply(root, &w.targets, i),
            Edit::TestBody => {
                let p = root.join(&w.test_file);
                let mut text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
                let _ = write!(text, "\n#[test]\nfn splitlink_bench_added_{i}() {{\n    assert_eq!(std::hint::black_box({i}), {i});\n}}\n");
                std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
            }
        }
    }
}

/// A workspace of the test loop.
struct Ws {
    name: String,
    title: String,
    description: String,
    template: PathBuf,
    targets: Targets,
    test_file: String,
    /// The selection, the same for cargo and splitlink.
    selection: Vec<String>,
}

/// One `splitlink test --message-format json` run, read back.
#[derive(Clone, Debug, Default)]
struct SlRun {
    wall_ms: f64,
    ok: bool,
    finished: Option<Finished>,
    /// Test binaries relinked (test units among `linked`).
    relinked: usize,
    /// Test binaries run, and skipped as unchanged.
    ran: usize,
    unchanged: usize,
    /// Summed `duration_ms` of the binaries run.
    test_ms: f64,
    passed: u64,
}

impl SlRun {
    fn read(s: &measure::Sample) -> SlRun {
        let mut r = SlRun { wall_ms: s.wall_ms, ok: s.success, finished: Finished::from_output(&s.stdout), ..Default::default() };
        for l in s.stdout.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else { continue };
            match v["reason"].as_str() {
                Some("build-finished") => {
                    r.relinked = v["splitlink"]["linked"].as_array().map_or(0, |a| a.iter().filter(|u| u["test"] == true).count());
                }
                Some("splitlink-test-run") if v["unchanged"] == true => r.unchanged += 1,
                Some("splitlink-test-run") => {
                    r.ran += 1;
                    r.test_ms += v["duration_ms"].as_f64().unwrap_or(0.0);
                    r.passed += v["passed"].as_u64().unwrap_or(0);
                }
                _ => {}
            }
        }
        r
    }
}

/// One `cargo test` run: wall time and libtest's passed count.
#[derive(Clone, Debug, Default)]
struct CargoRun {
    wall_ms: f64,
    ok: bool,
    passed: u64,
}

fn passed(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
        .flat_map(|l| l.split(';'))
        .filter_map(|part| {
            part.trim().rsplit_once(' ').filter(|(_, w)| *w == "passed").and_then(|(n, _)| n.rsplit(' ').next()?.parse::<u64>().ok())
        })
        .sum()
}

struct Row {
    edit: Edit,
    plain: Vec<SlRun>,
    changed: Vec<SlRun>,
    cargo: Vec<CargoRun>,
}

fn sl_args(splitlink: &Path, ws: &Ws, changed: bool, fast: bool) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![splitlink.into(), "test".into(), "--message-format".into(), "json".into()];
    if changed {
        a.push("--changed".into());
    }
    if fast {
        a.push("--fast".into());
    }
    a.extend(ws.selection.iter().map(OsString::from));
    a
}

fn cargo_args(ws: &Ws) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["cargo".into(), "test".into()];
    a.extend(ws.selection.iter().map(OsString::from));
    a
}

fn bench(splitlink: &Path, dir: &Path, ws: &Ws, repeats: usize, fast: bool) -> Result<Vec<Row>> {
    let sides = [dir.join("splitlink"), dir.join("changed"), dir.join("cargo")];
    for d in &sides {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("cannot remove {}", d.display()))?;
        }
        crate::real::copy_dir(&ws.template, d, &["target"])?;
    }
    let logs = dir.join("logs");
    let run_side = |k: usize| -> Result<measure::Sample> {
        let argv = match k {
            0 => sl_args(splitlink, ws, false, fast),
            1 => sl_args(splitlink, ws, true, fast),
            _ => cargo_args(ws),
        };
        measure::run(&argv, &sides[k], &logs.join(["splitlink", "changed", "cargo"][k]))
    };
    eprintln!("== {}: first builds and test runs (cargo test, splitlink test twice)", ws.title);
    for k in [2, 0, 1] {
        // Twice: the second settles each side (warm caches, the last passing runs recorded).
        for _ in 0..2 {
            let s = run_side(k)?;
            if !s.success {
                bail!("the first test run of {} failed:\n{}", ws.name, crate::tail(&s.stderr, 20));
            }
        }
    }
    let mut rows = Vec::new();
    for edit in EDITS {
        let mut row = Row { edit, plain: vec![], changed: vec![], cargo: vec![] };
        for i in 1..=repeats {
            let order: [usize; 3] = match i % 3 {
                1 => [0, 1, 2],
                2 => [2, 0, 1],
                _ => [1, 2, 0],
            };
            for k in order {
                edit.apply(&sides[k], ws, i)?;
                let s = run_side(k)?;
                match k {
                    0 => row.plain.push(SlRun::read(&s)),
                    1 => row.changed.push(SlRun::read(&s)),
                    _ => row.cargo.push(CargoRun { wall_ms: s.wall_ms, ok: s.success, passed: passed(&s.stdout) }),
                }
            }
            let (p, c, g) = (row.plain.last().unwrap(), row.changed.last().unwrap(), row.cargo.last().unwrap());
            eprintln!(
                "   {:<10} {i}/{repeats}: splitlink test {:>8.0} ms (relinked {}, ran {}), --changed {:>8.0} ms (ran {}), cargo test {:>8.0} ms",
                edit.name(),
                p.wall_ms,
                p.relinked,
                p.ran,
                c.wall_ms,
                c.ran,
                g.wall_ms
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

fn generated_ws(bench_dir: &Path) -> Result<Ws> {
    let plan = crate::gen::plan(50);
    let template = bench_dir.join("test-loop-gen/template");
    if template.exists() {
        std::fs::remove_dir_all(&template)?;
    }
    let mut files = plan.files();
    let lib = plan.edited_lib.clone();
    for t in 0..12 {
        files.push((
            format!("crates/{lib}/tests/t{t}.rs"),
            format!(
                "#[test]\nfn process_{t}() {{\n    let s = {lib}::process(\"{t} alpha 3\\n{t} beta 4\\n\");\n    assert_eq!(s, {lib}::process(\"{t} alpha 3\\n{t} beta 4\\n\"));\n}}\n"
            ),
        ));
    }
    for (rel, text) in files {
        let p = template.join(rel);
        std::fs::create_dir_all(p.parent().expect("file in a directory"))?;
        std::fs::write(&p, text)?;
    }
    Ok(Ws {
        name: "test-loop-gen".into(),
        title: "Generated, 50 crates, 12 integration tests".into(),
        description: format!(
            "{}; the edited library has 12 integration-test files (`tests/t0.rs`…`t11.rs`); every crate's lib and bins are built as unit-test binaries too",
            plan.describe()
        ),
        targets: plan.targets(),
        test_file: format!("crates/{lib}/tests/t0.rs"),
        template,
        selection: vec!["--workspace".into(), "--lib".into(), "--bins".into(), "--tests".into()],
    })
}

fn ripgrep_ws(bench_dir: &Path, version: &str) -> Result<Ws> {
    let r = crate::real::assemble_ripgrep(&bench_dir.join("real"), version)?;
    let t = crate::real::ripgrep_targets();
    Ok(Ws {
        name: "test-loop-ripgrep".into(),
        title: format!("ripgrep {version} in its repository layout"),
        description: format!(
            "{} ; edited library file `{}`, test added to `tests/regression.rs` (a module of the `integration` test binary)",
            r.versions.join(", "),
            t.lib_file
        ),
        template: r.template,
        targets: t,
        test_file: "tests/regression.rs".into(),
        selection: vec!["--workspace".into(), "--lib".into(), "--bins".into(), "--tests".into()],
    })
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "n/m".into()
    }
}

fn render_rows(ws: &Ws, rows: &[Row], out: &mut String, targets: &mut Vec<String>) {
    let _ = writeln!(out, "### {}\n\n{}\n", ws.title, ws.description);
    let _ = writeln!(
        out,
        "| edit | `splitlink test` ms | link ms | test run ms | test binaries relinked / run | `--changed` ms | run with `--changed` | `cargo test` ms | ratio | ratio `--changed` | passed (splitlink / cargo) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let m = |v: Vec<f64>| median(&v);
        let plain = m(r.plain.iter().map(|x| x.wall_ms).collect());
        let changed = m(r.changed.iter().map(|x| x.wall_ms).collect());
        let cargo = m(r.cargo.iter().map(|x| x.wall_ms).collect());
        let link = m(r.plain.iter().map(|x| x.finished.as_ref().map_or(0.0, |f| f.link_ms)).collect());
        let test = m(r.plain.iter().map(|x| x.test_ms).collect());
        let relinked = m(r.plain.iter().map(|x| x.relinked as f64).collect());
        let ran = m(r.plain.iter().map(|x| x.ran as f64).collect());
        let ran_changed = m(r.changed.iter().map(|x| x.ran as f64).collect());
        let sl_passed: Vec<u64> = r.plain.iter().map(|x| x.passed).collect();
        let cargo_passed: Vec<u64> = r.cargo.iter().map(|x| x.passed).collect();
        let failed = r.plain.iter().any(|x| !x.ok) || r.changed.iter().any(|x| !x.ok) || r.cargo.iter().any(|x| !x.ok);
        let agree = if sl_passed == cargo_passed {
            format!("{} / {} ✓", sl_passed[0], cargo_passed[0])
        } else {
            format!("{sl_passed:?} / {cargo_passed:?} ✗")
        };
        let _ = writeln!(
            out,
            "| {}{} | {plain:.0} | {link:.0} | {test:.0} | {relinked:.0} / {ran:.0} | {changed:.0} | {ran_changed:.0} | {cargo:.0} | {} | {} | {agree} |",
            r.edit.name(),
            if failed { " (a run failed)" } else { "" },
            ratio(plain, cargo),
            ratio(changed, cargo),
        );
        match r.edit {
            Edit::LibEol => {
                let relinks: usize = r.plain.iter().map(|x| x.relinked).sum();
                let reruns: usize = r.changed.iter().map(|x| x.ran).sum();
                let ok = relinks == 0 && reruns == 0;
                targets.push(format!(
                    "| {} | lib-eol: no test binary relinked, none re-run with `--changed` | {relinks} relinked, {reruns} re-run over {} runs | {} |",
                    ws.title,
                    r.plain.len(),
                    if ok { "PASS" } else { "**MISS**" }
                ));
            }
            Edit::LibBody => targets.push(format!(
                "| {} | lib-body ≤ 0.6 × `cargo test` | {} (`--changed`: {}) | {} |",
                ws.title,
                ratio(plain, cargo),
                ratio(changed, cargo),
                if plain <= 0.6 * cargo { "PASS" } else { "**MISS**" }
            )),
            Edit::TestBody => {}
        }
    }
    let _ = writeln!(out);
}

/// Runs the test-loop benchmark; returns the Markdown report.
pub fn run(
    splitlink: &Path,
    bench_dir: &Path,
    repeats: usize,
    real: bool,
    ripgrep_version: &str,
    env: &report::Environment,
    fast: bool,
) -> Result<String> {
    let t0 = std::time::Instant::now();
    let mut workspaces = vec![generated_ws(bench_dir)?];
    let mut skipped = Vec::new();
    if real {
        match ripgrep_ws(bench_dir, ripgrep_version) {
            Ok(w) => workspaces.push(w),
            Err(e) => skipped.push(format!("ripgrep {ripgrep_version}: could not assemble it: {e:#}")),
        }
    }
    let mut body = String::new();
    let mut targets = Vec::new();
    for ws in &workspaces {
        match bench(splitlink, &bench_dir.join(&ws.name), ws, repeats, fast) {
            Ok(rows) => render_rows(ws, &rows, &mut body, &mut targets),
            Err(e) => skipped.push(format!("{}: {e:#}", ws.title)),
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark: the edit→test loop (`splitlink test` vs `cargo test`)\n");
    let _ = writeln!(
        out,
        "Produced by `cargo run --release -p splitlink-bench -- --test-loop{} --write-docs` in {:.1} min, {repeats} runs per edit and command (medians).{} Three identical copies of each workspace: `splitlink test`, `splitlink test --changed` and `cargo test`, with the same selection (`--workspace --lib --bins --tests`: every test binary, no doctests), the same edit applied to each copy before its run, the order rotated between runs. Times are wall-clock for the whole command: build, links and test runs. *link ms* and *test run ms* are splitlink's own `link_ms` (summed over links) and the summed durations of the test binaries it ran; cargo gives no such split. *relinked / run*: test binaries splitlink linked again / ran.\n",
        if fast { " --fast" } else { "" },
        t0.elapsed().as_secs_f64() / 60.0,
        if fast { " **Fast mode**: both `splitlink test` columns run with `--fast` (split links with the wild linker); cargo links as always." } else { "" },
    );
    let _ = writeln!(out, "{}", report::environment_lines(env));
    for e in EDITS {
        let _ = writeln!(out, "- `{}`: {}", e.name(), e.describe());
    }
    let _ = writeln!(out, "\n{body}");
    let _ = writeln!(out, "### Targets of issue #12\n\n| workspace | target | measured | |\n|---|---|---|---|");
    for t in &targets {
        let _ = writeln!(out, "{t}");
    }
    for s in &skipped {
        let _ = writeln!(out, "\nSKIPPED: {s}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passed_counts_from_libtest_lines() {
        let out = "running 2 tests\ntest result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\ntest result: FAILED. 5 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(super::passed(out), 7);
    }
}
