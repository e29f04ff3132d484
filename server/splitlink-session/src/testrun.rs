//! The test runner under `splitlink test`, `watch --test` and the LSP's test command: runs a
//! [`TestPlan`] as `cargo test` runs it (each binary from its package directory with cargo's
//! environment, one after the other, libtest's output passed on line by line; then the
//! doctests through rustdoc), parses libtest's results and failures (the panic location of each
//! failed test), and remembers which binaries passed with which arguments.
//!
//! Invariants: "unchanged" is decided on the binary file itself (same inode, size and mtime as
//! when it last passed with the same arguments — a skipped link leaves the file untouched, a
//! link always writes a new one) and for doctests on every library they link; nothing else
//! is assumed about a test's inputs, which is why skipping is opt-in (`--changed`) outside
//! watch. The record lives in `<target-dir>/splitlink/test-runs.json`.

use splitlink_engine::digest::Stamp;
use splitlink_engine::{DoctestRun, TestBinary, TestPlan};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Passed to every test binary: the TESTNAME filter and what follows `--`.
    pub args: Vec<String>,
    /// Go on after a failed binary (cargo's `--no-fail-fast`).
    pub no_fail_fast: bool,
    /// Skip binaries (and doctests) unchanged since they last passed with these arguments.
    pub changed_only: bool,
    /// Run the doctests.
    pub doctests: bool,
    /// Ask libtest for colour (`--color always`) unless the arguments choose.
    pub color: bool,
    /// Run each test process in its own process group (stopped with [`Stopper`]).
    pub own_group: bool,
    /// Kill a test process (its group, with `own_group`) that runs longer than this.
    pub timeout: Option<std::time::Duration>,
}

/// One failed test, where it panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub test: String,
    /// The panic location, absolute, when it is a file of the workspace.
    pub file: Option<PathBuf>,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// How a test process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    Code(i32),
    Signal(i32),
    /// It could not be started.
    NotStarted(String),
    /// Stopped by the front-end.
    Stopped,
    /// Not run: unchanged since it last passed.
    Unchanged,
    /// Killed after running longer than the timeout (seconds).
    TimedOut(u64),
}

impl Ended {
    pub fn success(&self) -> bool {
        matches!(self, Ended::Code(0) | Ended::Unchanged)
    }
}

/// What one test binary (or one package's doctests) did.
#[derive(Clone, Debug)]
pub struct BinaryReport {
    /// `app (lib test)`, `app::it (test)`, `util (doctests)`.
    pub name: String,
    /// cargo's `Running` label (`unittests src/lib.rs`, `tests/it.rs`, `Doc-tests util`).
    pub label: String,
    pub path: PathBuf,
    pub ended: Ended,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub measured: u64,
    pub filtered_out: u64,
    pub duration_ms: u64,
    pub failures: Vec<Failure>,
    /// cargo's flags to run just this one.
    pub rerun: String,
}

/// What the runner tells its front-end, in order.
#[derive(Clone, Debug)]
pub enum TestEvent {
    /// cargo's `Running <label> (<path>)`, or `Doc-tests <package>`.
    Started {
        label: String,
        path: PathBuf,
        doctest: bool,
    },
    /// Not run: the binary is the one that last passed with these arguments.
    Unchanged {
        label: String,
        path: PathBuf,
    },
    /// A line the test process wrote to its standard output.
    Output(String),
    Finished(BinaryReport),
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub binaries: Vec<BinaryReport>,
    /// The run stopped at a failed binary (no `--no-fail-fast`) or was stopped.
    pub stopped_early: bool,
}

impl Report {
    pub fn success(&self) -> bool {
        !self.stopped_early && self.binaries.iter().all(|b| b.ended.success())
    }

    pub fn failed(&self) -> Vec<&BinaryReport> {
        self.binaries.iter().filter(|b| !b.ended.success()).collect()
    }

    pub fn ran(&self) -> usize {
        self.binaries.iter().filter(|b| b.ended != Ended::Unchanged).count()
    }
}

/// Stops a running test process from another thread.
#[derive(Clone, Default)]
pub struct Stopper {
    inner: Arc<Mutex<(bool, Option<u32>)>>,
}

impl Stopper {
    pub fn stop(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = true;
        if let Some(pid) = g.1 {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn set(&self, pid: Option<u32>) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1 = pid;
    }
}

/// What passed last: per binary (or doctest package), the stamp of what ran and the arguments.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Record {
    passed: BTreeMap<String, (Vec<Option<Stamp>>, Vec<String>)>,
}

fn record_path(target_dir: &Path) -> PathBuf {
    target_dir.join("splitlink").join("test-runs.json")
}

fn load(target_dir: &Path) -> Record {
    std::fs::read(record_path(target_dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save(target_dir: &Path, r: &Record) {
    let path = record_path(target_dir);
    let tmp = path.with_extension("tmp");
    if let Ok(bytes) = serde_json::to_vec(r) {
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// Run the plan; `on` sees every event as it happens.
pub fn run(plan: &TestPlan, opts: &RunOptions, target_dir: &Path, stopper: &Stopper, on: &mut dyn FnMut(TestEvent)) -> Report {
    let mut record = load(target_dir);
    let mut report = Report::default();
    let mut args = opts.args.clone();
    if opts.color && !args.iter().any(|a| a == "--color" || a.starts_with("--color=")) {
        args.extend(["--color".to_string(), "always".to_string()]);
    }
    let mut jobs: Vec<Work> = plan.binaries.iter().map(Work::Binary).collect();
    if opts.doctests {
        jobs.extend(plan.doctests.iter().map(Work::Doc));
    }
    for w in jobs {
        if stopper.is_stopped() {
            report.stopped_early = true;
            break;
        }
        let id = w.id();
        let stamps = w.stamps();
        let known = record.passed.get(&id).is_some_and(|(s, a)| *s == stamps && *a == opts.args && stamps.iter().all(Option::is_some));
        if opts.changed_only && known {
            on(TestEvent::Unchanged { label: w.label(), path: w.path() });
            let b = w.report(Ended::Unchanged, Parsed::default(), 0);
            on(TestEvent::Finished(b.clone()));
            report.binaries.push(b);
            continue;
        }
        on(TestEvent::Started { label: w.label(), path: w.path(), doctest: matches!(w, Work::Doc(_)) });
        let t0 = Instant::now();
        let (ended, parsed) = run_one(&w, &args, opts, stopper, on);
        let b = w.report(ended, parsed, t0.elapsed().as_millis() as u64);
        if b.ended == Ended::Code(0) {
            record.passed.insert(id, (stamps, opts.args.clone()));
        } else {
            record.passed.remove(&id);
        }
        let failed = !b.ended.success();
        let stopped = b.ended == Ended::Stopped;
        on(TestEvent::Finished(b.clone()));
        report.binaries.push(b);
        if stopped || (failed && !opts.no_fail_fast) {
            report.stopped_early = true;
            break;
        }
    }
    save(target_dir, &record);
    report
}

enum Work<'a> {
    Binary(&'a TestBinary),
    Doc(&'a DoctestRun),
}

impl Work<'_> {
    fn id(&self) -> String {
        match self {
            Work::Binary(b) => format!("{} {}", b.unit, b.path.display()),
            Work::Doc(d) => format!("doctests {} {}", d.package, d.cwd.display()),
        }
    }

    fn label(&self) -> String {
        match self {
            Work::Binary(b) => b.label.clone(),
            Work::Doc(d) => d.package.clone(),
        }
    }

    fn path(&self) -> PathBuf {
        match self {
            Work::Binary(b) => b.path.clone(),
            Work::Doc(d) => d.program.clone(),
        }
    }

    /// What must be unchanged for a passing run to still count.
    fn stamps(&self) -> Vec<Option<Stamp>> {
        match self {
            Work::Binary(b) => vec![Stamp::of(&b.path)],
            // (rustdoc's own arguments change only with a capture, which names other libraries
            // or rebuilds them.)
            Work::Doc(d) => d.inputs.iter().map(|p| Stamp::of(p)).collect(),
        }
    }

    fn command(&self, args: &[String]) -> Command {
        match self {
            Work::Binary(b) => {
                let mut c = Command::new(&b.path);
                c.args(args).current_dir(&b.cwd).envs(b.env.iter().map(|(k, v)| (k, v)));
                c
            }
            Work::Doc(d) => {
                let mut c = Command::new(&d.program);
                c.args(&d.args).current_dir(&d.cwd).envs(d.env.iter().map(|(k, v)| (k, v)));
                for a in args {
                    c.arg("--test-args").arg(a);
                }
                c
            }
        }
    }

    /// Where relative panic locations are resolved (rustc's working directory: the
    /// workspace root for workspace members).
    fn source_root(&self) -> PathBuf {
        match self {
            Work::Binary(b) => b.source_root.clone(),
            Work::Doc(d) => d.cwd.clone(),
        }
    }

    fn report(&self, ended: Ended, p: Parsed, duration_ms: u64) -> BinaryReport {
        let (name, rerun) = match self {
            Work::Binary(b) => (b.unit.to_string(), b.rerun.clone()),
            Work::Doc(d) => (format!("{} (doctests)", d.package), d.rerun.clone()),
        };
        let root = self.source_root();
        let failures = p
            .failures
            .into_iter()
            .map(|mut f| {
                if let Some(file) = f.file.take() {
                    let abs = if file.is_absolute() { file } else { root.join(file) };
                    f.file = abs.is_file().then_some(abs);
                }
                f
            })
            .collect();
        BinaryReport {
            name,
            label: self.label(),
            path: self.path(),
            ended,
            passed: p.passed,
            failed: p.failed,
            ignored: p.ignored,
            measured: p.measured,
            filtered_out: p.filtered_out,
            duration_ms,
            failures,
            rerun,
        }
    }
}

fn run_one(w: &Work, args: &[String], opts: &RunOptions, stopper: &Stopper, on: &mut dyn FnMut(TestEvent)) -> (Ended, Parsed) {
    let own_group = opts.own_group;
    let mut cmd = w.command(args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    if own_group {
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Ended::NotStarted(format!("cannot run {}: {e}", w.path().display())), Parsed::default()),
    };
    if own_group {
        stopper.set(Some(child.id()));
    }
    // The watchdog: kills the process (its group when it has its own) at the timeout, unless
    // told first that it ended.
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ended_tx, ended_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = opts.timeout.map(|limit| {
        let (pid, flag) = (nix::unistd::Pid::from_raw(child.id() as i32), timed_out.clone());
        std::thread::spawn(move || {
            if ended_rx.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let kill = nix::sys::signal::Signal::SIGKILL;
                let _ = if own_group { nix::sys::signal::killpg(pid, kill) } else { nix::sys::signal::kill(pid, kill) };
            }
        })
    });
    let mut parser = Parser::default();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            parser.line(&splitlink_engine::strip_ansi(&line));
            on(TestEvent::Output(line));
        }
    }
    let status = child.wait();
    stopper.set(None);
    drop(ended_tx);
    if let Some(w) = watchdog {
        let _ = w.join();
    }
    let ended = match status {
        _ if stopper.is_stopped() => Ended::Stopped,
        _ if timed_out.load(std::sync::atomic::Ordering::SeqCst) => Ended::TimedOut(opts.timeout.map(|t| t.as_secs()).unwrap_or(0)),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Ended::Code(c),
            (None, Some(sig)) => Ended::Signal(sig),
            _ => Ended::Code(101),
        },
        Err(e) => Ended::NotStarted(e.to_string()),
    };
    (ended, parser.finish())
}

/// libtest's human output, parsed: the result line's counts and each failure's panic.
#[derive(Default)]
struct Parsed {
    passed: u64,
    failed: u64,
    ignored: u64,
    measured: u64,
    filtered_out: u64,
    failures: Vec<Failure>,
}

#[derive(Default)]
struct Parser {
    out: Parsed,
    /// The test whose captured output is being read (`---- name stdout ----`).
    current: Option<String>,
    /// The panic being read: its message lines follow the `panicked at` line.
    panic: Option<Failure>,
}

impl Parser {
    fn line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("test result: ") {
            self.close_panic();
            // `ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s`
            for part in rest.split(['.', ';']) {
                let mut it = part.split_whitespace();
                let (Some(n), Some(what)) = (it.next(), it.next()) else { continue };
                let Ok(n) = n.parse::<u64>() else { continue };
                match what {
                    "passed" => self.out.passed += n,
                    "failed" => self.out.failed += n,
                    "ignored" => self.out.ignored += n,
                    "measured" => self.out.measured += n,
                    "filtered" => self.out.filtered_out += n,
                    _ => {}
                }
            }
            return;
        }
        if let Some(name) =
            line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----").or_else(|| l.strip_suffix(" stderr ----")))
        {
            self.close_panic();
            self.current = Some(name.to_string());
            return;
        }
        if line == "failures:" || line.starts_with("successes:") {
            self.close_panic();
            self.current = None;
            return;
        }
        // `thread 'tests::adds' panicked at util/src/lib.rs:12:20:` (the message follows), or
        // the older one-line `… panicked at 'msg', src/lib.rs:1:2`.
        // (Since Rust 1.92 the thread id follows the name: `thread 'name' (1234) panicked at`.)
        if let Some((_, loc)) = line.split_once(" panicked at ").filter(|_| line.starts_with("thread '")) {
            self.close_panic();
            let Some(test) = self.current.clone() else { return };
            let loc = loc.strip_suffix(':').unwrap_or(loc);
            let mut parts = loc.rsplitn(3, ':');
            let col = parts.next().and_then(|c| c.parse().ok());
            let ln = parts.next().and_then(|l| l.parse().ok());
            let file = parts.next();
            if let (Some(column), Some(line), Some(file)) = (col, ln, file) {
                self.panic = Some(Failure { test, file: Some(PathBuf::from(file)), line, column, message: String::new() });
            } else {
                self.panic = Some(Failure { test, file: None, line: 0, column: 0, message: loc.to_string() });
            }
            return;
        }
        if let Some(p) = &mut self.panic {
            if line.is_empty() || line.starts_with("note: ") || line.starts_with("stack backtrace:") {
                self.close_panic();
            } else {
                if !p.message.is_empty() {
                    p.message.push('\n');
                }
                p.message.push_str(line);
            }
        }
    }

    fn close_panic(&mut self) {
        if let Some(p) = self.panic.take() {
            if !self.out.failures.iter().any(|f| f.test == p.test) {
                self.out.failures.push(p);
            }
        }
    }

    fn finish(mut self) -> Parsed {
        self.close_panic();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_output_is_parsed() {
        let text = "\nrunning 3 tests\ntest tests::slow ... ignored\ntest tests::adds ... FAILED\ntest tests::ok ... ok\n\nfailures:\n\n---- tests::adds stdout ----\n\nthread 'tests::adds' panicked at util/src/lib.rs:11:19:\nassertion `left == right` failed\n  left: 3\n right: 4\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\nfailures:\n    tests::adds\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 2 filtered out; finished in 0.00s\n";
        let mut p = Parser::default();
        for l in text.lines() {
            p.line(l);
        }
        let out = p.finish();
        assert_eq!((out.passed, out.failed, out.ignored, out.measured, out.filtered_out), (1, 1, 1, 0, 2));
        assert_eq!(
            out.failures,
            vec![Failure {
                test: "tests::adds".into(),
                file: Some("util/src/lib.rs".into()),
                line: 11,
                column: 19,
                message: "assertion `left == right` failed\n  left: 3\n right: 4".into()
            }]
        );
    }

    #[test]
    fn a_panic_with_a_backtrace_ends_at_the_backtrace() {
        let text = "---- t stdout ----\nthread 't' (4242) panicked at src/lib.rs:2:5:\nboom\nstack backtrace:\n   0: rust_begin_unwind\n";
        let mut p = Parser::default();
        for l in text.lines() {
            p.line(l);
        }
        let out = p.finish();
        assert_eq!(out.failures.len(), 1);
        assert_eq!(out.failures[0].message, "boom");
        assert_eq!(out.failures[0].line, 2);
    }
}
