//! `splitlink watch`: keep the build (and, with `--run`, the running binary) current while
//! files are edited.
//!
//! One main loop over one closed [`Event`] enum. The loop owns the watcher, the change set, the
//! screen and the jobs; the build thread ([`builder`]) owns the engine. Invariants:
//! - one build at a time: a build is requested only when none is running (`building` is None);
//! - a change is pending until a build starts with it, so an edit made during a build triggers
//!   the next build (`--on-busy queue`) or cancels the running one first (`--on-busy restart`);
//! - identical-bytes saves, `touch` and reverted edits start nothing ([`changes`]);
//! - the `--run` binary is (re)started only after a successful build whose binary file is not
//!   the one already running (a relink); a skipped link or a failed build keeps it running;
//! - a job is stopped (its whole process group) and reaped before the next one starts, and
//!   before watch exits on SIGINT/SIGTERM/SIGHUP.

mod builder;
mod changes;
mod runner;
mod status;

use anyhow::Context;
use builder::{BuildDone, Builder};
use changes::Changes;
use clap::{Args, ValueEnum};
use runner::{Exited, Job};
use splitlink_engine::digest::Stamp;
use splitlink_engine::watch::{self as watcher, FsBatch, Plan, Relevance, Scan, Watcher};
use splitlink_engine::{BuildEvent, BuildOptions, Cancel};
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
    /// Output format: human, or cargo-compatible JSON messages on stdout (plus watch-trigger)
    #[arg(long, value_enum, default_value = "human")]
    message_format: crate::MessageFormat,
    /// Verbose output (full linker command lines, capture reasons)
    #[arg(short, long)]
    verbose: bool,
    /// No status output (errors and diagnostics are still shown)
    #[arg(short, long)]
    quiet: bool,
    /// Number of parallel rustc jobs
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Arguments for the binary run by --run
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
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
    /// The file system reported changes (debounced).
    Fs(FsBatch),
    /// The running build reported progress (rendered by the loop: one writer for the screen).
    Build(BuildEvent),
    /// The running build ended.
    BuildDone(BuildDone),
    /// A job (`--run`, `--exec`) ended.
    ChildExited(Exited),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
}

/// A build in progress.
struct Running {
    cancel: Cancel,
}

struct Watch {
    args: WatchArgs,
    tx: Sender<Event>,
    builder: Builder,
    watcher: Watcher,
    changes: Changes,
    screen: Screen,
    root: PathBuf,
    target_dir: PathBuf,
    cwd: PathBuf,
    scan: Scan,
    plan: Plan,
    /// The engine's last non-empty list of files that matter (kept while the graph is unknown,
    /// e.g. while Cargo.toml is broken).
    engine_files: Vec<PathBuf>,
    building: Option<Running>,
    run: Option<Job>,
    /// The binary file (identity and size) last started by `--run`.
    run_stamp: Option<Stamp>,
    exec: Option<Job>,
    next_job: u64,
    succeeded_once: bool,
    announced: bool,
}

pub fn run(args: WatchArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    let sel = args.selection.selection();
    let mut opts = BuildOptions { quiet: args.quiet, ..Default::default() };
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    if !args.run && !args.args.is_empty() {
        anyhow::bail!("arguments after `--` are for the binary: add --run");
    }
    let (tx, rx) = mpsc::channel::<Event>();
    spawn_signal_thread(tx.clone()).context("cannot install the signal handlers")?;
    let (builder, root, target_dir) = Builder::spawn(sel, opts, cwd, tx.clone())?;
    let watcher = Watcher::new({
        let tx = tx.clone();
        move |b| {
            let _ = tx.send(Event::Fs(b));
        }
    })
    .context("cannot start the file watcher")?;
    let json = args.message_format == crate::MessageFormat::Json;
    let screen = Screen::new(json, args.verbose, args.quiet, root.clone(), cwd.to_path_buf());
    let mut w = Watch {
        args,
        tx,
        builder,
        watcher,
        changes: Changes::default(),
        screen,
        root,
        target_dir,
        cwd: cwd.to_path_buf(),
        scan: Scan::default(),
        plan: Plan::default(),
        engine_files: Vec::new(),
        building: None,
        run: None,
        run_stamp: None,
        exec: None,
        next_job: 1,
        succeeded_once: false,
        announced: false,
    };
    w.rewatch(true, false);
    let files = w.files_to_baseline();
    w.changes.baseline(files.iter());
    w.start_build(Vec::new())?;
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
            let now = Instant::now();
            let mut timeout = Duration::from_secs(3600);
            if self.building.is_none() {
                if let Some(due) = self.changes.due() {
                    timeout = due.saturating_duration_since(now);
                }
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
                Some(Event::Fs(batch)) => {
                    self.on_fs(batch);
                    Ok(())
                }
                Some(Event::Build(e)) => {
                    self.screen.event(e);
                    Ok(())
                }
                Some(Event::BuildDone(d)) => self.on_build_done(d),
                Some(Event::ChildExited(x)) => {
                    self.on_child_exited(x);
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
            if self.building.is_none() && self.changes.due().is_some_and(|d| d <= Instant::now()) {
                let paths = self.changes.take();
                if !paths.is_empty() {
                    self.start_build(paths)?;
                }
            }
        }
    }

    fn start_build(&mut self, paths: Vec<PathBuf>) -> anyhow::Result<()> {
        let cancel = Cancel::new();
        self.screen.build_started(&paths, self.args.why, self.args.clear);
        if !self.builder.build(cancel.clone()) {
            anyhow::bail!("internal error: the build thread ended");
        }
        self.building = Some(Running { cancel });
        Ok(())
    }

    /// Derive the watch plan again and register its directories. With `rescan`, walk the
    /// workspace again (new packages, new `src/` directories). With `observe_new`, files in
    /// newly registered directories are checked for changes (they may have been written before
    /// the directory was watched).
    fn rewatch(&mut self, rescan: bool, observe_new: bool) {
        if rescan {
            self.scan = watcher::scan(&self.root, &self.target_dir);
        }
        let plan = Plan::new(self.engine_files.iter().cloned(), &self.scan, &self.target_dir);
        let new_dirs: Vec<PathBuf> = plan.dirs.iter().filter(|d| !self.watcher.is_registered(d)).cloned().collect();
        for problem in self.watcher.set(&plan.dirs) {
            self.screen.warn("Warning", &problem);
        }
        self.plan = plan;
        if observe_new {
            for d in new_dirs {
                let files: Vec<PathBuf> = self.plan.files.iter().filter(|f| f.parent() == Some(d.as_path())).cloned().collect();
                for f in files.iter().chain(self.rs_files_in(&d).iter()) {
                    self.changes.observe(f);
                }
            }
        }
    }

    fn rs_files_in(&self, dir: &Path) -> Vec<PathBuf> {
        if !self.plan.src_dirs.contains(dir) {
            return vec![];
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
        rd.flatten().map(|e| e.path()).filter(|p| self.plan.relevant(p) == Relevance::File).collect()
    }

    fn files_to_baseline(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.plan.files.iter().cloned().collect();
        for d in &self.plan.src_dirs {
            v.extend(self.rs_files_in(d));
        }
        v
    }

    fn on_fs(&mut self, batch: FsBatch) {
        for e in &batch.errors {
            self.screen.warn("Warning", &format!("file watcher: {e}"));
        }
        let mut dirs_changed = false;
        if batch.rescan {
            // Events were lost: check every file against its last known content.
            dirs_changed = true;
            for f in self.files_to_baseline() {
                self.changes.observe(&f);
            }
        }
        for p in &batch.paths {
            if watcher::excluded(p, &self.target_dir) {
                continue;
            }
            match self.plan.relevant(p) {
                Relevance::No => {}
                Relevance::File => {
                    self.changes.observe(p);
                }
                Relevance::Dir => {
                    dirs_changed = true;
                    if !p.is_dir() {
                        self.watcher.forget(p);
                        // Files that were in it are gone: their own events may not come.
                        let inside: Vec<PathBuf> = self.changes.known_files().into_iter().filter(|f| f.starts_with(p)).collect();
                        for f in inside {
                            self.changes.observe(&f);
                        }
                    }
                }
            }
        }
        if dirs_changed {
            self.rewatch(true, true);
        }
        if self.args.on_busy == OnBusy::Restart && self.changes.has_pending() {
            if let Some(b) = &self.building {
                if !b.cancel.is_cancelled() {
                    b.cancel.cancel();
                }
            }
        }
    }

    fn on_build_done(&mut self, d: BuildDone) -> anyhow::Result<()> {
        self.building = None;
        if !d.watched.is_empty() {
            self.engine_files = d.watched.clone();
        }
        let rescan = match &d.result {
            Err(_) => true,
            Ok(s) => s.cargo_invoked,
        };
        self.rewatch(rescan, false);
        let files = self.files_to_baseline();
        self.changes.baseline(files.iter());

        let ok = matches!(&d.result, Ok(s) if s.success && !s.cancelled);
        let first_success = ok && !self.succeeded_once;
        self.succeeded_once |= ok;
        let mut words = Vec::new();
        let mut start_run: Option<(String, PathBuf)> = None;
        if self.args.run {
            let bin = self.binary_to_run(&d)?;
            let alive = self.run.as_ref().filter(|j| j.exited().is_none());
            match (&bin, ok) {
                (Some((name, path)), true) => {
                    let now = Stamp::of(path);
                    let relinked = match (now, self.run_stamp) {
                        (Some(n), Some(s)) => !n.same_output(&s),
                        _ => true,
                    };
                    if relinked {
                        words.push(if alive.is_some() { format!("restarted {name}") } else { format!("started {name}") });
                        start_run = Some((name.clone(), path.clone()));
                    } else if alive.is_some() {
                        words.push(format!("{name} kept running"));
                    }
                }
                (Some((name, _)), false) if alive.is_some() && !matches!(&d.result, Ok(s) if s.cancelled) => {
                    words.push(format!("{name} still running (last good build)"));
                }
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
            self.run_stamp = Stamp::of(&path);
            self.run = self.start_job(name, cmd, &line, Some(&path));
        }
        if start_exec {
            let c = self.args.exec.clone().unwrap_or_default();
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(&c).current_dir(&self.cwd);
            self.exec = self.start_job("exec".into(), cmd, &c, None);
        }
        if !self.announced {
            self.announced = true;
            let n = self.watcher.count();
            self.screen.note("Watching", &format!("{} ({n} directories) · Ctrl-C to stop", self.root.display()));
        }
        Ok(())
    }

    /// The binary `--run` runs: the one named by `--bin`, or the selection's only binary.
    fn binary_to_run(&self, d: &BuildDone) -> anyhow::Result<Option<(String, PathBuf)>> {
        let bins = &d.binaries;
        let wanted = &self.args.selection.bins;
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
        match Job::spawn(id, name.clone(), cmd, self.tx.clone()) {
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
        job.stop(runner::GRACE);
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
        let what = runner::describe(x.status);
        if x.status.is_some_and(|s| s.success()) {
            self.screen.note("Exited", &format!("{} (pid {}) with {what}", job.name, job.pid()));
        } else {
            self.screen.warn("Exited", &format!("{} (pid {}) with {what}", job.name, job.pid()));
        }
    }

    /// Cancel the running build, stop the jobs, and wait (bounded) for the build to end.
    fn shutdown(&mut self, rx: &Receiver<Event>) {
        if let Some(b) = &self.building {
            b.cancel.cancel();
        }
        for job in [self.run.take(), self.exec.take()].into_iter().flatten() {
            self.stop_job(job);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.building.is_some() {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Event::BuildDone(_)) => self.building = None,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}
