//! `splitlink watch`: keep the build (and, with `--run`, the running binary) current while
//! files are edited.
//!
//! A thin front-end over the session layer (`splitlink-session`): one main loop over one closed
//! [`Event`] enum; the [`Session`] decides what changed and when to build (its build actor owns
//! the engine), this loop renders and runs the jobs. Invariants:
//! - the loop never waits for a build: builds report through [`SessionEvent`]s;
//! - a change is pending until a build starts with it, so an edit made during a build triggers
//!   the next build (`--on-busy queue`) or cancels the running one first (`--on-busy restart`);
//! - identical-bytes saves, `touch` and reverted edits start nothing (the session's vfs);
//! - the `--run` binary is (re)started only after a successful build whose binary file is not
//!   the one already running (a relink: [`RunPolicy`]); a skipped link or a failed build keeps it
//!   running;
//! - a job is stopped (its whole process group) and reaped before the next one starts, and
//!   before watch exits on SIGINT/SIGTERM/SIGHUP.

mod status;

use anyhow::Context;
use clap::{Args, ValueEnum};
use splitlink_session::job::{self, Exited, Job, Output};
use splitlink_session::testrun::{self, Report, RunOptions, Stopper, TestEvent};
use splitlink_session::{BuildDone, Config, RunAction, RunPolicy, Session, SessionEvent};
use status::Screen;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    selection: crate::SelectionArgs,
    /// Run the binary after the first successful build; restart it after each successful relink
    #[arg(long)]
    run: bool,
    /// Run a shell command (`sh -c`) after each successful build that linked something
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// What a change during a build does: wait for the build and build again, or cancel it
    #[arg(long, value_enum, default_value = "queue")]
    on_busy: OnBusy,
    /// Clear the screen before each build (on a terminal)
    #[arg(long)]
    clear: bool,
    /// Print the changed paths that triggered each build
    #[arg(long)]
    why: bool,
    /// Look for changes every 500 ms instead of waiting for the kernel's events: for file
    /// systems that send none (WSL's Windows drives, network mounts, some Docker bind mounts)
    #[arg(long)]
    poll: bool,
    /// Lint with clippy on each save instead of building (`splitlink clippy`'s check; no
    /// binary, so not with --run or --exec); lint flags after `--` (`-- -D warnings`)
    #[arg(long, conflicts_with_all = ["run", "exec"])]
    clippy: bool,
    #[command(flatten)]
    out: crate::OutputArgs,
    /// Arguments for the binary run by --run (with --clippy: clippy's lint flags)
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    /// `splitlink test --watch` (= `splitlink watch --test`): build what `cargo test` builds and
    /// run the test binaries relinked since they last passed.
    #[arg(skip)]
    pub tests: Option<TestMode>,
}

/// How `watch` runs tests after each successful build.
#[derive(Clone, Debug, Default)]
pub struct TestMode {
    /// TESTNAME and the arguments after `--`, for every test binary.
    pub args: Vec<String>,
    /// Only the doctests (`--doc`).
    pub doc: bool,
    /// `--test-timeout`.
    pub timeout: Option<Duration>,
}

impl WatchArgs {
    /// `splitlink test --watch`'s options as watch's.
    #[allow(clippy::too_many_arguments)]
    pub fn for_tests(
        selection: crate::SelectionArgs,
        tests: TestMode,
        exec: Option<String>,
        restart: bool,
        clear: bool,
        why: bool,
        poll: bool,
        out: crate::OutputArgs,
    ) -> WatchArgs {
        WatchArgs {
            selection,
            run: false,
            exec,
            on_busy: if restart { OnBusy::Restart } else { OnBusy::Queue },
            clear,
            why,
            poll,
            clippy: false,
            out,
            args: vec![],
            tests: Some(tests),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnBusy {
    /// Let the running build finish, then build again
    Queue,
    /// Cancel the running build (killing rustc/cargo) and start again
    Restart,
}

/// The single event type of the watch loop.
pub enum Event {
    /// The session's watcher or build actor reported something.
    Session(SessionEvent),
    /// A job (`--run`, `--exec`) ended.
    ChildExited(Exited),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// The test run (`--test`) reported something.
    Test(TestEvent),
    /// The test run ended.
    TestsDone(Report),
}

struct Watch {
    args: WatchArgs,
    tx: Sender<Event>,
    session: Session,
    screen: Screen,
    root: PathBuf,
    cwd: PathBuf,
    run: Option<Job>,
    policy: RunPolicy,
    exec: Option<Job>,
    next_job: u64,
    succeeded_once: bool,
    announced: bool,
    /// The test run in progress (`--test`): its stopper and thread.
    testing: Option<(Stopper, std::thread::JoinHandle<()>)>,
}

pub fn run(args: WatchArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    let format = args.out.format()?;
    let mut sel = args.selection.selection();
    if let Some(t) = &args.tests {
        sel.command = splitlink_engine::CargoCommand::Test;
        sel.targets.doc = t.doc;
    }
    if args.clippy {
        sel.command = splitlink_engine::CargoCommand::Clippy;
        sel.clippy_args = args.args.clone();
    }
    let opts = args.out.build_options();
    if !args.run && !args.clippy && !args.args.is_empty() {
        anyhow::bail!("arguments after `--` are for the binary: add --run");
    }
    let (tx, rx) = mpsc::channel::<Event>();
    spawn_signal_thread(tx.clone()).context("cannot install the signal handlers")?;
    let on_busy = match args.on_busy {
        OnBusy::Queue => splitlink_session::OnBusy::Queue,
        OnBusy::Restart => splitlink_session::OnBusy::Restart,
    };
    let post = {
        let tx = tx.clone();
        move |ev: SessionEvent| {
            let _ = tx.send(Event::Session(ev));
        }
    };
    let session = Session::open(sel, opts, cwd, Config { on_busy, watch_files: true, poll: args.poll }, post)?;
    let root = session.root().to_path_buf();
    let mut screen = Screen::new(format, args.out.verbose, args.out.quiet, root.clone(), cwd.to_path_buf());
    if args.clippy {
        screen.set_clippy(args.args.clone());
    }
    let mut w = Watch {
        args,
        tx,
        session,
        screen,
        root,
        cwd: cwd.to_path_buf(),
        run: None,
        policy: RunPolicy::default(),
        exec: None,
        next_job: 1,
        succeeded_once: false,
        announced: false,
        testing: None,
    };
    w.session.request_build();
    w.main_loop(&rx)
}

fn spawn_signal_thread(tx: Sender<Event>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for s in signals.forever() {
            if tx.send(Event::Signal(s)).is_err() {
                break;
            }
        }
    })?;
    Ok(())
}

impl Watch {
    fn main_loop(&mut self, rx: &Receiver<Event>) -> anyhow::Result<ExitCode> {
        loop {
            if let Some(paths) = self.session.poll() {
                // The tests of the previous build are stale now.
                self.stop_tests();
                self.screen.build_started(&paths, self.args.why, self.args.clear);
            }
            for w in self.session.take_warnings() {
                self.screen.warn("Warning", &w);
            }
            let now = Instant::now();
            let mut timeout = Duration::from_secs(3600);
            if let Some(due) = self.session.due() {
                timeout = due.saturating_duration_since(now);
            }
            if let Some(t) = self.screen.tick_every() {
                timeout = timeout.min(t);
            }
            let ev = match rx.recv_timeout(timeout) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => anyhow::bail!("internal error: the event channel closed"),
            };
            let step = match ev {
                Some(Event::Session(SessionEvent::Fs(batch))) => {
                    self.session.on_fs(batch);
                    Ok(())
                }
                Some(Event::Session(SessionEvent::Build(e))) => {
                    self.screen.event(*e);
                    Ok(())
                }
                Some(Event::Session(SessionEvent::BuildDone(d))) => self.on_build_done(*d),
                Some(Event::ChildExited(x)) => {
                    self.on_child_exited(x);
                    Ok(())
                }
                Some(Event::Test(ev)) => {
                    self.screen.test_event(ev);
                    Ok(())
                }
                Some(Event::TestsDone(report)) => {
                    self.screen.tests_done(&report);
                    Ok(())
                }
                Some(Event::Signal(sig)) => {
                    self.shutdown(rx);
                    let name = nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str()).unwrap_or("signal");
                    self.screen.note("Stopped", &format!("watch ended ({name})"));
                    return Ok(ExitCode::SUCCESS);
                }
                None => Ok(()),
            };
            if let Err(e) = step {
                self.shutdown(rx);
                return Err(e);
            }
            self.screen.tick();
        }
    }

    fn on_build_done(&mut self, d: BuildDone) -> anyhow::Result<()> {
        self.session.on_build_done(&d);
        let ok = d.ok();
        let first_success = ok && !self.succeeded_once;
        self.succeeded_once |= ok;
        let mut words = Vec::new();
        let mut start_run: Option<(String, PathBuf)> = None;
        if self.args.run {
            let bin = self.binary_to_run(&d)?;
            let alive = self.run.as_ref().is_some_and(|j| j.exited().is_none());
            match (self.policy.decide(&d, bin.as_ref().map(|(_, p)| p.as_path()), alive, true), &bin) {
                (RunAction::Start, Some((name, path))) => {
                    words.push(if alive { format!("restarted {name}") } else { format!("started {name}") });
                    start_run = Some((name.clone(), path.clone()));
                }
                (RunAction::KeepRunning, Some((name, _))) => words.push(format!("{name} kept running")),
                (RunAction::KeepLastGood, Some((name, _))) => words.push(format!("{name} still running (last good build)")),
                _ => {}
            }
        }
        let linked = matches!(&d.result, Ok(s) if !s.linked.is_empty());
        let start_exec = self.args.exec.is_some() && ok && (first_success || linked);
        if start_exec {
            words.push("exec".into());
        }
        // Stop before printing: the status line comes after the old process is gone.
        if start_run.is_some() {
            if let Some(job) = self.run.take() {
                self.stop_job(job);
            }
        }
        if start_exec {
            if let Some(job) = self.exec.take() {
                self.stop_job(job);
            }
        }
        self.screen.build_done(&d, &words);
        if let Some((name, path)) = start_run {
            let mut cmd = Command::new(&path);
            cmd.args(&self.args.args).current_dir(&self.cwd);
            let line = self.screen.command_line(&path, &self.args.args);
            self.policy.started(&path);
            self.run = self.start_job(name, cmd, &line, Some(&path));
        }
        if start_exec {
            let c = self.args.exec.clone().unwrap_or_default();
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(&c).current_dir(&self.cwd);
            self.exec = self.start_job("exec".into(), cmd, &c, None);
        }
        if self.args.tests.is_some() && ok {
            self.start_tests(&d);
        }
        if !self.announced {
            self.announced = true;
            let n = self.session.watched_dirs();
            self.screen.note("Watching", &format!("{} ({n} directories) · Ctrl-C to stop", self.root.display()));
        }
        Ok(())
    }

    /// Run the test binaries this build relinked (and the others that did not pass last time),
    /// on a thread; a new build stops them.
    fn start_tests(&mut self, d: &BuildDone) {
        self.stop_tests();
        let Some(mode) = &self.args.tests else { return };
        let opts = RunOptions {
            args: mode.args.clone(),
            no_fail_fast: true,
            changed_only: true,
            doctests: mode.doc || self.args.selection.selection().targets.is_default(),
            color: !self.args.out.json() && crate::color::stdout(),
            own_group: true,
            timeout: mode.timeout,
        };
        let plan = d.tests.clone();
        let target_dir = self.session.target_dir().to_path_buf();
        let stopper = Stopper::default();
        let tx = self.tx.clone();
        let st = stopper.clone();
        let spawned = std::thread::Builder::new().name("tests".into()).spawn(move || {
            let report = testrun::run(&plan, &opts, &target_dir, &st, &mut |ev| {
                let _ = tx.send(Event::Test(ev));
            });
            let _ = tx.send(Event::TestsDone(report));
        });
        match spawned {
            Ok(h) => self.testing = Some((stopper, h)),
            Err(e) => self.screen.error(&format!("cannot start the test run: {e}")),
        }
    }

    fn stop_tests(&mut self) {
        if let Some((stopper, h)) = self.testing.take() {
            stopper.stop();
            let _ = h.join();
        }
    }

    /// The binary `--run` runs: the one named by `--bin`, or the selection's only binary.
    fn binary_to_run(&self, d: &BuildDone) -> anyhow::Result<Option<(String, PathBuf)>> {
        let bins = &d.binaries;
        let wanted = &self.args.selection.targets.bin;
        if wanted.len() > 1 {
            anyhow::bail!("--run runs one binary: give a single --bin NAME");
        }
        if let Some(w) = wanted.first() {
            return Ok(bins.iter().find(|(n, _)| n == w).cloned());
        }
        match bins.len() {
            0 if matches!(&d.result, Ok(s) if s.success) => anyhow::bail!("--run: the selection has no binary to run"),
            0 => Ok(None),
            1 => Ok(bins.first().cloned()),
            _ => {
                let names: Vec<&str> = bins.iter().map(|(n, _)| n.as_str()).collect();
                anyhow::bail!("--run: several binaries ({}): choose one with --bin NAME", names.join(", "))
            }
        }
    }

    fn start_job(&mut self, name: String, cmd: Command, line: &str, path: Option<&Path>) -> Option<Job> {
        let id = self.next_job;
        self.next_job += 1;
        self.screen.note("Running", &format!("`{line}`"));
        let tx = self.tx.clone();
        match Job::spawn(id, name.clone(), cmd, Output::Inherit, move |x| {
            let _ = tx.send(Event::ChildExited(x));
        }) {
            Ok(job) => {
                self.screen.json(serde_json::json!({
                    "reason": "watch-run", "event": "started", "name": name, "pid": job.pid(), "path": path,
                }));
                Some(job)
            }
            Err(e) => {
                self.screen.error(&format!("cannot run `{line}`: {e}"));
                None
            }
        }
    }

    fn stop_job(&mut self, job: Job) {
        job.stop(job::GRACE);
        let status = job.exited().flatten();
        self.screen.json(serde_json::json!({
            "reason": "watch-run", "event": "stopped", "name": job.name, "pid": job.pid(),
            "code": status.and_then(|s| s.code()), "signal": status.and_then(|s| s.signal()),
        }));
    }

    fn on_child_exited(&mut self, x: Exited) {
        let job = if self.run.as_ref().is_some_and(|j| j.id == x.id) {
            self.run.take()
        } else if self.exec.as_ref().is_some_and(|j| j.id == x.id) {
            self.exec.take()
        } else {
            None // a job this loop stopped: already reported
        };
        let Some(job) = job else { return };
        // Whatever it left in its process group goes with it.
        job.stop(Duration::from_millis(200));
        self.screen.json(serde_json::json!({
            "reason": "watch-run", "event": "exited", "name": job.name, "pid": job.pid(),
            "code": x.status.and_then(|s| s.code()), "signal": x.status.and_then(|s| s.signal()),
        }));
        let what = job::describe(x.status);
        if x.status.is_some_and(|s| s.success()) {
            self.screen.note("Exited", &format!("{} (pid {}) with {what}", job.name, job.pid()));
        } else {
            self.screen.warn("Exited", &format!("{} (pid {}) with {what}", job.name, job.pid()));
        }
    }

    /// Cancel the running build, stop the jobs, and wait (bounded) for the build to end.
    fn shutdown(&mut self, rx: &Receiver<Event>) {
        self.session.cancel();
        self.stop_tests();
        for job in [self.run.take(), self.exec.take()].into_iter().flatten() {
            self.stop_job(job);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.session.is_building() {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Event::Session(SessionEvent::BuildDone(d))) => self.session.on_build_done(&d),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}
