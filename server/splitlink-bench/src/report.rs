//! Results, statistics and the Markdown report (printed, and written into docs/benchmarks.md).

use crate::edits::{Expect, Scenario};
use crate::measure::Sample;
use std::fmt::Write as _;
use std::path::Path;

/// splitlink's final JSON line.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    pub success: bool,
    pub compiled: Vec<String>,
    pub linked: Vec<String>,
    pub link_skipped: Vec<String>,
    pub cargo_invoked: bool,
    pub duration_ms: f64,
    pub rustc_ms: f64,
    pub link_ms: f64,
}

impl Finished {
    pub fn from_output(stdout: &str) -> Option<Finished> {
        let line = stdout.lines().rev().find(|l| l.contains("\"build-finished\""))?;
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let s = &v["splitlink"];
        let units = |k: &str| -> Vec<String> {
            s[k].as_array()
                .map(|a| {
                    a.iter().map(|u| format!("{}({})", u["target"].as_str().unwrap_or("?"), u["kind"].as_str().unwrap_or("?"))).collect()
                })
                .unwrap_or_default()
        };
        Some(Finished {
            success: v["success"].as_bool().unwrap_or(false),
            compiled: units("compiled"),
            linked: units("linked"),
            link_skipped: units("link_skipped"),
            cargo_invoked: s["cargo_invoked"].as_bool().unwrap_or(false),
            duration_ms: s["duration_ms"].as_f64().unwrap_or(0.0),
            rustc_ms: s["rustc_ms"].as_f64().unwrap_or(0.0),
            link_ms: s["link_ms"].as_f64().unwrap_or(0.0),
        })
    }

    pub fn brief(&self) -> String {
        let mut s = format!("compiled {}", self.compiled.len());
        if !self.linked.is_empty() {
            let _ = write!(s, ", linked {}", self.linked.join(" "));
        }
        if !self.link_skipped.is_empty() {
            let _ = write!(s, ", link skipped {}", self.link_skipped.join(" "));
        }
        if self.cargo_invoked {
            s.push_str(", through cargo");
        }
        if !self.success {
            s.push_str(", FAILED");
        }
        s
    }

    fn link(&self) -> LinkState {
        if !self.linked.is_empty() {
            LinkState::Ran
        } else if !self.link_skipped.is_empty() {
            LinkState::Skipped
        } else {
            LinkState::None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkState {
    None,
    Skipped,
    Ran,
}

impl LinkState {
    fn word(self) -> &'static str {
        match self {
            LinkState::None => "none",
            LinkState::Skipped => "skipped",
            LinkState::Ran => "ran",
        }
    }
}

pub struct Run {
    pub sl: Sample,
    pub sl_info: Option<Finished>,
    pub cargo: Sample,
}

pub struct ScenarioResult {
    pub scenario: Scenario,
    pub runs: Vec<Run>,
}

#[derive(Default)]
pub struct WsResult {
    pub name: String,
    pub title: String,
    pub description: String,
    pub first: Option<Run>,
    pub scenarios: Vec<ScenarioResult>,
    pub notes: Vec<String>,
    pub checks: Vec<String>,
    pub wall_s: f64,
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn med_range(v: &[f64]) -> String {
    let (lo, hi) = min_max(v);
    format!("{} ({}–{})", ms(median(v)), ms(lo), ms(hi))
}

/// Per-scenario figures the table and the targets use.
pub struct Stats {
    pub sl_wall: Vec<f64>,
    pub cargo_wall: Vec<f64>,
    pub sl_med: f64,
    pub ratio: f64,
    pub rustc_med: f64,
    pub link_med: f64,
    pub duration_med: f64,
    /// Median over runs of (wall − rustc − link) / wall, in %.
    pub overhead_pct: f64,
    /// Median over runs of wall − rustc − link, in ms.
    pub overhead_ms: f64,
    pub compiled: (usize, usize),
    pub cargo_invoked: usize,
    /// Runs whose link state matched the scenario's expectation.
    pub link_as_expected: usize,
    pub link_states: Vec<&'static str>,
    pub failed: usize,
    pub sl_rss_mb: f64,
    pub cargo_rss_mb: f64,
    pub n: usize,
}

/// Whether wall − rustc − link tells splitlink's own time.
pub enum Overhead {
    Measured,
    /// Compiles or links ran in parallel: the summed times exceed the wall time.
    Overlap,
    /// The build went through cargo, which reports no rustc or link times.
    ThroughCargo,
}

impl Stats {
    pub fn overhead(&self) -> Overhead {
        if self.cargo_invoked > 0 {
            Overhead::ThroughCargo
        } else if self.overhead_pct < 0.0 {
            Overhead::Overlap
        } else {
            Overhead::Measured
        }
    }
}

impl ScenarioResult {
    pub fn stats(&self) -> Stats {
        let sl_wall: Vec<f64> = self.runs.iter().map(|r| r.sl.wall_ms).collect();
        let cargo_wall: Vec<f64> = self.runs.iter().map(|r| r.cargo.wall_ms).collect();
        let info: Vec<Finished> = self.runs.iter().map(|r| r.sl_info.clone().unwrap_or_default()).collect();
        let rustc: Vec<f64> = info.iter().map(|f| f.rustc_ms).collect();
        let link: Vec<f64> = info.iter().map(|f| f.link_ms).collect();
        let dur: Vec<f64> = info.iter().map(|f| f.duration_ms).collect();
        let overhead: Vec<f64> =
            self.runs.iter().zip(&info).map(|(r, f)| 100.0 * (r.sl.wall_ms - f.rustc_ms - f.link_ms) / r.sl.wall_ms).collect();
        let compiled: Vec<usize> = info.iter().map(|f| f.compiled.len()).collect();
        let expect = self.scenario.expect();
        let ok = |f: &Finished| match expect {
            Expect::Nothing => f.compiled.is_empty() && f.link() == LinkState::None && !f.cargo_invoked,
            // Compiled, and no link: skipped, or not even considered (objects known unchanged).
            Expect::LinkSkipped => f.link() != LinkState::Ran && !f.compiled.is_empty(),
            Expect::Relink => f.link() == LinkState::Ran,
        };
        let mut link_states: Vec<&'static str> = info.iter().map(|f| f.link().word()).collect();
        link_states.sort();
        link_states.dedup();
        let sl_med = median(&sl_wall);
        let cargo_med = median(&cargo_wall);
        Stats {
            sl_med,

            ratio: sl_med / cargo_med,
            rustc_med: median(&rustc),
            link_med: median(&link),
            duration_med: median(&dur),
            overhead_pct: median(&overhead),
            overhead_ms: median(&self.runs.iter().zip(&info).map(|(r, f)| r.sl.wall_ms - f.rustc_ms - f.link_ms).collect::<Vec<_>>()),
            compiled: (compiled.iter().copied().min().unwrap_or(0), compiled.iter().copied().max().unwrap_or(0)),
            cargo_invoked: info.iter().filter(|f| f.cargo_invoked).count(),
            link_as_expected: info.iter().filter(|f| ok(f)).count(),
            link_states,
            failed: self.runs.iter().zip(&info).filter(|(r, f)| !r.sl.success || !f.success || !r.cargo.success).count(),
            sl_rss_mb: self.runs.iter().map(|r| r.sl.max_rss_kb).max().unwrap_or(0) as f64 / 1024.0,
            cargo_rss_mb: self.runs.iter().map(|r| r.cargo.max_rss_kb).max().unwrap_or(0) as f64 / 1024.0,
            n: self.runs.len(),
            sl_wall,
            cargo_wall,
        }
    }
}

/// Machine, toolchain and commit.
pub struct Environment {
    pub nproc: usize,
    pub mem_gib: f64,
    pub cpu: String,
    pub os: String,
    pub load_start: String,
    pub rustc: String,
    pub cargo: String,
    pub commit: String,
    pub date: String,
    pub splitlink: String,
    pub splitlink_version: String,
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

impl Environment {
    pub fn collect(repo: &Path, splitlink: &Path) -> Environment {
        let out = |cmd: &str, args: &[&str]| crate::output(cmd, args, repo);
        let mem_kb: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
            .unwrap_or_else(|| "?".into());
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            .unwrap_or_else(|| "?".into());
        let dirty = !out("git", &["status", "--porcelain"]).is_empty();
        let commit = format!("{}{}", out("git", &["rev-parse", "--short", "HEAD"]), if dirty { " (dirty)" } else { "" });
        Environment {
            nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            mem_gib: mem_kb / 1024.0 / 1024.0,
            cpu,
            os,
            load_start: load(),
            rustc: out("rustc", &["-V"]),
            cargo: out("cargo", &["-V"]),
            commit,
            date: out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            splitlink: splitlink.display().to_string(),
            splitlink_version: out(&splitlink.display().to_string(), &["--version"]),
        }
    }
}

fn load() -> String {
    read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The machine/toolchain/commit table (shared by the build and the watch reports).
pub fn environment_lines(env: &Environment) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| machine | {} cores (nproc), {:.1} GiB, {}, {} |", env.nproc, env.mem_gib, env.cpu, env.os);
    let _ = writeln!(o, "| load average | {} at the start, {} at the end (other builds may share the machine) |", env.load_start, load());
    let _ = writeln!(o, "| toolchain | {} · {} |", env.rustc, env.cargo);
    let _ = writeln!(o, "| commit | {} |", env.commit);
    let _ = writeln!(o, "| splitlink | `{}` ({}) |", env.splitlink, env.splitlink_version);
    let _ = writeln!(o);
    o
}

pub fn render(
    env: &Environment,
    results: &[WsResult],
    skipped: &[String],
    scenarios: &[Scenario],
    (total_s, build_s): (f64, f64),
    cmdline: &[String],
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## Results\n");
    let _ = writeln!(
        o,
        "Run: `splitlink-bench {}` on {}: {:.1} min in all, of which {:.1} min building splitlink and {:.1} min measuring.\n",
        cmdline.join(" "),
        env.date,
        total_s / 60.0,
        build_s / 60.0,
        (total_s - build_s) / 60.0
    );
    o.push_str(&environment_lines(env));
    for s in skipped {
        let _ = writeln!(o, "> **Skipped**: {s}\n");
    }
    let _ = writeln!(o, "Scenarios:\n");
    for s in scenarios {
        let _ = writeln!(o, "- `{}`: {}", s.name(), s.describe());
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Columns: wall times in ms, median (min–max) over the runs; *rustc* and *link*: splitlink's `rustc_ms` and `link_ms` (summed over jobs, so they can exceed the wall time when two compiles overlap); *overhead*: median of (wall − rustc − link) / wall, *overlap* when jobs ran in parallel and the sums exceed the wall time (then it cannot be told this way), *cargo* when splitlink went through cargo (no rustc or link times then); *compiled*: units splitlink compiled; *cargo?*: runs in which splitlink went through cargo; *link*: what splitlink did with the binaries — ran, skipped (objects unchanged), none (nothing a binary links changed, no decision needed) — and ✓ when that is what the scenario expects; *ratio*: splitlink median / cargo median; *peak MB*: largest resident set of any process of the build (splitlink / cargo), max over the runs.\n"
    );
    for r in results {
        let _ = writeln!(o, "### {}\n", r.title);
        let _ = writeln!(o, "{}. Measured in {:.1} min.\n", r.description, r.wall_s / 60.0);
        if let Some(f) = &r.first {
            let info = f.sl_info.clone().unwrap_or_default();
            let _ = writeln!(
                o,
                "First build: splitlink {:.1} s ({}), peak {:.0} MB; cargo {:.1} s, peak {:.0} MB.\n",
                f.sl.wall_ms / 1000.0,
                if info.cargo_invoked { "through cargo, capturing" } else { "without cargo?" },
                f.sl.max_rss_kb as f64 / 1024.0,
                f.cargo.wall_ms / 1000.0,
                f.cargo.max_rss_kb as f64 / 1024.0
            );
        }
        let _ = writeln!(
            o,
            "| scenario | splitlink wall | rustc | link | overhead | compiled | cargo? | link | cargo wall | ratio | peak MB |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|");
        for sr in &r.scenarios {
            let st = sr.stats();
            let compiled =
                if st.compiled.0 == st.compiled.1 { st.compiled.0.to_string() } else { format!("{}–{}", st.compiled.0, st.compiled.1) };
            let cargo_inv = if st.cargo_invoked == 0 { "no".to_string() } else { format!("yes {}/{}", st.cargo_invoked, st.n) };
            let link = format!(
                "{} {}",
                st.link_states.join("/"),
                if st.link_as_expected == st.n { "✓".to_string() } else { format!("✗ ({}/{} as expected)", st.link_as_expected, st.n) }
            );
            let failed = if st.failed > 0 { format!(" **{} failed**", st.failed) } else { String::new() };
            let _ = writeln!(
                o,
                "| {}{failed} | {} | {} | {} | {} | {compiled} | {cargo_inv} | {link} | {} | {:.2} | {:.0} / {:.0} |",
                sr.scenario.name(),
                med_range(&st.sl_wall),
                ms(st.rustc_med),
                ms(st.link_med),
                match st.overhead() {
                    Overhead::Measured => format!("{:.0}%", st.overhead_pct),
                    Overhead::Overlap => "overlap".to_string(),
                    Overhead::ThroughCargo => "cargo".to_string(),
                },
                med_range(&st.cargo_wall),
                st.ratio,
                st.sl_rss_mb,
                st.cargo_rss_mb
            );
        }
        let _ = writeln!(o);
        for c in &r.checks {
            let _ = writeln!(o, "- check: {c}");
        }
        for n in &r.notes {
            let _ = writeln!(o, "- **problem**: {n}");
        }
        if !r.checks.is_empty() || !r.notes.is_empty() {
            let _ = writeln!(o);
        }
    }
    let _ = writeln!(o, "### Targets of issue #7\n");
    let _ = writeln!(o, "| target | workspace | scenario | measured | result |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    let mut pass = 0;
    let mut miss = 0;
    let mut unmeasured = 0;
    let mut row = |o: &mut String, target: &str, ws: &str, sc: &str, measured: String, ok: Option<bool>| {
        let word = match ok {
            Some(true) => {
                pass += 1;
                "PASS"
            }
            Some(false) => {
                miss += 1;
                "**MISS**"
            }
            None => {
                unmeasured += 1;
                "n/m"
            }
        };
        let _ = writeln!(o, "| {target} | {ws} | {sc} | {measured} | {word} |");
    };
    // No-change scenarios: judged on the 300-crate workspace (or the largest generated one).
    let largest = results
        .iter()
        .filter_map(|r| r.name.strip_prefix("gen-").and_then(|n| n.parse::<usize>().ok()).map(|n| (n, r)))
        .max_by_key(|(n, _)| *n);
    if let Some((n, r)) = largest {
        let label = if n == 300 {
            "no rustc, decision ≤ 20 ms (300 crates)".to_string()
        } else {
            format!("no rustc, decision ≤ 20 ms (300 crates; only {n} measured)")
        };
        for sr in r.scenarios.iter().filter(|s| s.scenario.expect() == Expect::Nothing) {
            let st = sr.stats();
            // Defined for 300 crates: on a smaller workspace it is reported, not judged.
            let ok = (n >= 300).then_some(st.link_as_expected == st.n && st.failed == 0 && st.sl_med <= 20.0);
            let measured = format!(
                "wall {} ms (splitlink's own `duration_ms` {}); no rustc and no cargo in {}/{} runs",
                ms(st.sl_med),
                ms(st.duration_med),
                st.link_as_expected,
                st.n
            );
            row(&mut o, &label, &r.name, sr.scenario.name(), measured, ok);
        }
    }
    for r in results {
        for sr in &r.scenarios {
            let st = sr.stats();
            match sr.scenario.expect() {
                Expect::Nothing => {}
                Expect::LinkSkipped => {
                    let ok = st.ratio <= 0.75 && st.link_as_expected == st.n && st.failed == 0;
                    let measured = format!("{:.2}× cargo, no link in {}/{} runs", st.ratio, st.link_as_expected, st.n);
                    row(&mut o, "link-skipping edit ≤ 0.75 × cargo", &r.name, sr.scenario.name(), measured, Some(ok));
                }
                Expect::Relink => {
                    let ok = st.ratio <= 0.9 && st.link_as_expected == st.n && st.failed == 0;
                    let measured = format!("{:.2}× cargo, linked in {}/{} runs", st.ratio, st.link_as_expected, st.n);
                    row(&mut o, "relink edit ≤ 0.9 × cargo", &r.name, sr.scenario.name(), measured, Some(ok));
                    // wall − rustc − link is splitlink's own time only when its jobs ran one at a
                    // time; when they overlapped, the sums exceed the wall time and the
                    // difference says nothing: not measurable this way.
                    let (measured, ok) = match st.overhead() {
                        Overhead::Measured => (
                            format!("{:.1}% ({} ms of {} ms)", st.overhead_pct, ms(st.overhead_ms), ms(st.sl_med)),
                            Some(st.overhead_pct <= 5.0),
                        ),
                        Overhead::Overlap => (
                            format!(
                                "not measurable: jobs overlapped (rustc + link sums {} ms > wall {} ms)",
                                ms(st.rustc_med + st.link_med),
                                ms(st.sl_med)
                            ),
                            None,
                        ),
                        Overhead::ThroughCargo => ("not measurable: went through cargo (no rustc/link times)".to_string(), None),
                    };
                    row(&mut o, "relink edit: overhead ≤ 5%", &r.name, sr.scenario.name(), measured, ok);
                }
            }
        }
    }
    let _ = writeln!(o, "\n{pass} PASS, {miss} MISS, {unmeasured} not measurable (n/m).");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn reads_build_finished() {
        let out = "{\"reason\":\"compiler-artifact\"}\n{\"reason\":\"build-finished\",\"success\":true,\"splitlink\":{\"compiled\":[{\"package\":\"a\",\"target\":\"a\",\"kind\":\"bin\"}],\"linked\":[],\"link_skipped\":[{\"package\":\"a\",\"target\":\"a\",\"kind\":\"bin\"}],\"cargo_invoked\":false,\"duration_ms\":41,\"rustc_ms\":30,\"link_ms\":0}}\n";
        let f = Finished::from_output(out).unwrap();
        assert!(f.success && !f.cargo_invoked);
        assert_eq!(f.compiled, vec!["a(bin)"]);
        assert_eq!(f.link(), LinkState::Skipped);
        assert_eq!(f.rustc_ms, 30.0);
    }
}
