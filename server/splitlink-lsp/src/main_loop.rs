//! The main loop: one closed [`Msg`] enum in, LSP notifications out (through the `Client`, from
//! this thread, in order). Each Cargo workspace among the client's folders has a
//! [`Session`] (the session layer shared with `splitlink watch`): its build actor owns the
//! engine and reports through [`Msg::Session`], so this loop never waits for a build — a save
//! during a build is taken at once (and built after it), a cancel reaches the build.

use crate::convert::{self, Published};
use crate::ext::{self, Binary, BuildFinishedParams};
use crate::settings::{CompilerDiagnostics, Settings};
use serde_json::Value;
use splitlink_diag::model::{Phase, Severity};
use splitlink_engine::{BuildEvent, BuildOptions, Cancel};
use splitlink_session::job::{self, Exited, Job, Output};
use splitlink_session::testrun::{self, Ended, Report, RunOptions, Stopper, TestEvent};
use splitlink_session::{BuildDone, Config, OnBusy, Purpose, RunAction, RunPolicy, Session, SessionEvent};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Cancellable, Client, OngoingProgress, Unbounded};

/// What the client told us at `initialize`.
#[derive(Debug, Default, Clone)]
pub struct InitInfo {
    /// Positions in UTF-32 (characters, as rustc counts); else UTF-16 code units.
    pub utf32: bool,
    pub folders: Vec<PathBuf>,
    pub options: Value,
    pub related_information: bool,
    pub work_done_progress: bool,
    pub watched_files_dynamic: bool,
}

/// Everything the main loop receives: from the handlers, and from the sessions and jobs.
pub enum Msg {
    Initialize(Box<InitInfo>),
    Initialized,
    Changed(Vec<PathBuf>),
    Config(Value),
    Folders {
        added: Vec<PathBuf>,
        removed: Vec<PathBuf>,
    },
    Build,
    /// `splitlink.test`: build what `cargo test` builds, run the tests (only the binaries that
    /// changed since they last passed, with `changed`).
    Test {
        changed: bool,
    },
    Run(Option<String>),
    Stop,
    Explain(tokio::sync::oneshot::Sender<String>),
    Shutdown,
    /// A workspace's session (build actor, watcher) reported something.
    Session(u64, SessionEvent),
    /// The binary started by `splitlink.run` exited.
    RunExited(Exited),
    /// A workspace's test run (its id) reported progress.
    TestEvent(u64, TestEvent),
    /// A workspace's test run (workspace id, run id) ended.
    TestsDone(u64, u64, Report),
}

/// What handlers may read: the published diagnostics (for code actions) and the cancel handles
/// of the builds in progress (for `window/workDoneProgress/cancel`).
#[derive(Default)]
pub struct Shared {
    pub published: RwLock<HashMap<Uri, Vec<Published>>>,
    builds: Mutex<HashMap<String, Cancel>>,
}

fn token_key(t: &NumberOrString) -> String {
    match t {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.clone(),
    }
}

impl Shared {
    pub fn cancel_progress(&self, token: &NumberOrString) {
        if let Some(c) = self.builds.lock().unwrap().get(&token_key(token)) {
            c.cancel();
        }
    }

    pub fn cancel_all(&self) {
        for c in self.builds.lock().unwrap().values() {
            c.cancel();
        }
    }
}

pub fn spawn(client: Client, handle: tokio::runtime::Handle, shared: Arc<Shared>) -> Sender<Msg> {
    let (tx, rx) = std::sync::mpsc::channel();
    let self_tx = tx.clone();
    std::thread::Builder::new()
        .name("splitlink-main-loop".into())
        .spawn(move || {
            let mut ml = MainLoop {
                client,
                handle,
                shared,
                info: InitInfo::default(),
                settings: Settings::default(),
                workspaces: Vec::new(),
                next_ws: 1,
                initialized: false,
                run: None,
                policy: RunPolicy::default(),
                next_job: 1,
                builds: 0,
                self_tx,
            };
            ml.run(rx);
        })
        .expect("spawn the main loop thread");
    tx
}

/// The build in progress of a workspace: its progress report and diagnostics so far.
struct InProgress {
    token: String,
    progress: Option<OngoingProgress<Unbounded, Cancellable>>,
    diags: Vec<(PathBuf, Published)>,
}

struct Workspace {
    id: u64,
    root: PathBuf,
    session: Session,
    /// Files this workspace published diagnostics for.
    published: BTreeSet<PathBuf>,
    /// The last finished build's diagnostics, by file.
    build_diags: HashMap<PathBuf, Vec<Published>>,
    /// The last finished test run's failures, by file (published with the build's).
    test_diags: HashMap<PathBuf, Vec<Published>>,
    /// A test run asked for (`changed`: only changed binaries), waiting for its test build.
    test_wanted: Option<bool>,
    /// The test run in progress: its run id, stopper, and whether only changed binaries run.
    testing: Option<(u64, Stopper, bool)>,
    build: Option<InProgress>,
    /// The last build's `splitlink explain`.
    explanation: Option<String>,
    binaries: Vec<(String, PathBuf)>,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Some((_, st, _)) = self.testing.take() {
            st.stop();
        }
    }
}

struct Running {
    name: String,
    job: Job,
}

struct MainLoop {
    client: Client,
    handle: tokio::runtime::Handle,
    shared: Arc<Shared>,
    info: InitInfo,
    settings: Settings,
    workspaces: Vec<Workspace>,
    next_ws: u64,
    initialized: bool,
    run: Option<Running>,
    policy: RunPolicy,
    next_job: u64,
    builds: u64,
    /// The main loop's own inbox, for the sessions and jobs.
    self_tx: Sender<Msg>,
}

impl MainLoop {
    fn log(&self, typ: MessageType, msg: impl Into<String>) {
        let msg = msg.into();
        eprintln!("splitlink lsp: {msg}");
        let c = self.client.clone();
        self.handle.block_on(async move { c.log_message(typ, msg).await });
    }

    fn show(&self, typ: MessageType, msg: impl Into<String>) {
        let msg = msg.into();
        let c = self.client.clone();
        self.handle.block_on(async move { c.show_message(typ, msg).await });
    }

    fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            // After `shutdown` nothing starts any more.
            for i in 0..if self.initialized { self.workspaces.len() } else { 0 } {
                if self.workspaces[i].session.poll().is_some() {
                    self.build_started(i);
                }
                for w in self.workspaces[i].session.take_warnings() {
                    self.log(MessageType::WARNING, w);
                }
            }
            let now = Instant::now();
            let timeout = self
                .workspaces
                .iter()
                .filter(|_| self.initialized)
                .filter_map(|w| w.session.due())
                .min()
                .map(|d| d.saturating_duration_since(now))
                .unwrap_or(Duration::from_secs(3600));
            let m = match rx.recv_timeout(timeout) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle_msg(m)));
            if r.is_err() {
                self.show(MessageType::ERROR, "splitlink: internal error while handling a message (see the log); the server keeps running");
            }
        }
        self.stop_run();
    }

    fn handle_msg(&mut self, m: Msg) {
        match m {
            Msg::Initialize(info) => {
                self.info = *info;
                let (s, err) = Settings::from_json(&self.info.options);
                self.settings = s;
                if let Some(e) = err {
                    self.log(MessageType::WARNING, e);
                }
            }
            Msg::Initialized => {
                self.initialized = true;
                self.register_watchers();
                self.open_workspaces(self.info.folders.clone());
            }
            Msg::Changed(paths) => {
                for ws in &mut self.workspaces {
                    ws.session.on_changed(&paths);
                }
            }
            Msg::Config(v) => {
                let (s, err) = Settings::from_json(&v);
                if let Some(e) = err {
                    self.log(MessageType::WARNING, e);
                }
                if s != self.settings {
                    let reselect = s.selection() != self.settings.selection() || s.fast != self.settings.fast;
                    self.settings = s;
                    if reselect && self.initialized {
                        let folders: Vec<PathBuf> = self.workspaces.iter().map(|w| w.root.clone()).collect();
                        self.workspaces.clear();
                        self.open_workspaces(folders);
                    }
                    for ws in &mut self.workspaces {
                        ws.session.request_build();
                    }
                }
            }
            Msg::Folders { added, removed } => {
                for r in removed {
                    if let Some(i) = self.workspaces.iter().position(|w| w.root.starts_with(&r) || r.starts_with(&w.root)) {
                        let ws = self.workspaces.remove(i);
                        for f in &ws.published {
                            self.publish(f, vec![]);
                        }
                    }
                }
                self.open_workspaces(added);
            }
            Msg::Build => {
                for ws in &mut self.workspaces {
                    ws.session.request_build();
                }
            }
            Msg::Test { changed } => {
                for i in 0..self.workspaces.len() {
                    self.want_tests(i, changed);
                }
            }
            Msg::TestEvent(id, ev) => {
                let line = match ev {
                    TestEvent::Started { label, path, doctest: false } => format!("Running {label} ({})", path.display()),
                    TestEvent::Started { label, .. } => label,
                    TestEvent::Unchanged { label, .. } => format!("Unchanged {label} (binary identical, last run passed)"),
                    TestEvent::Output(l) => l,
                    TestEvent::Finished(_) => return,
                };
                if self.workspaces.iter().any(|w| w.id == id) {
                    self.log(MessageType::LOG, format!("[test] {line}"));
                }
            }
            Msg::TestsDone(id, run, report) => {
                let Some(i) = self.workspaces.iter().position(|w| w.id == id) else { return };
                if self.workspaces[i].testing.as_ref().is_some_and(|(r, _, _)| *r == run) {
                    self.workspaces[i].testing = None;
                    self.tests_done(i, report);
                }
            }
            Msg::Run(bin) => self.start_run(bin),
            Msg::Stop => self.stop_run(),
            Msg::Explain(reply) => {
                let mut text = String::new();
                for ws in &self.workspaces {
                    text.push_str(&format!("workspace {}\n", ws.root.display()));
                    text.push_str(ws.explanation.as_deref().unwrap_or("no build yet\n"));
                }
                let _ = reply.send(text);
            }
            Msg::Shutdown => {
                self.stop_run();
                for ws in &mut self.workspaces {
                    ws.session.cancel();
                    if let Some((_, st, _)) = ws.testing.take() {
                        st.stop();
                    }
                }
                self.initialized = false;
            }
            Msg::Session(id, ev) => {
                let Some(i) = self.workspaces.iter().position(|w| w.id == id) else { return };
                match ev {
                    SessionEvent::Fs(batch) => self.workspaces[i].session.on_fs(batch),
                    SessionEvent::Build(ev) => self.build_event(i, *ev),
                    SessionEvent::BuildDone(d) if d.purpose == Purpose::Tests => self.test_build_done(i, *d),
                    SessionEvent::BuildDone(d) => self.build_done(i, *d),
                }
            }
            Msg::RunExited(x) => {
                if self.run.as_ref().is_some_and(|r| r.job.id == x.id) {
                    let r = self.run.take().expect("checked");
                    // Whatever it left in its process group goes with it.
                    r.job.stop(Duration::from_millis(200));
                    self.run_status(r.name, false, None, x.status.and_then(|s| s.code()));
                }
            }
        }
    }

    fn register_watchers(&mut self) {
        if !self.info.watched_files_dynamic {
            self.log(MessageType::INFO, "the client does not watch files for us: splitlink watches the workspace itself");
            return;
        }
        let globs = ["**/*.rs", "**/Cargo.toml", "**/Cargo.lock", "**/build.rs", "**/.cargo/config", "**/.cargo/config.toml"];
        let watchers = globs.iter().map(|g| FileSystemWatcher { glob_pattern: GlobPattern::String(g.to_string()), kind: None }).collect();
        let reg = Registration {
            id: "splitlink-watched-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions { watchers }).ok(),
        };
        let c = self.client.clone();
        // Not awaited on this thread: the client answers through the same connection.
        self.handle.spawn(async move {
            if let Err(e) = c.register_capability(vec![reg]).await {
                c.log_message(MessageType::WARNING, format!("could not register file watchers: {e}")).await;
            }
        });
    }

    /// Open a session for each Cargo workspace among `folders` (each builds at once).
    fn open_workspaces(&mut self, folders: Vec<PathBuf>) {
        for f in folders {
            let opts = BuildOptions { quiet: true, fast: self.settings.fast, ..Default::default() };
            let id = self.next_ws;
            let tx = Mutex::new(self.self_tx.clone());
            let post = Arc::new(move |ev: SessionEvent| {
                let _ = tx.lock().unwrap().send(Msg::Session(id, ev));
            });
            let config = Config { on_busy: OnBusy::Queue, watch_files: !self.info.watched_files_dynamic, poll: false };
            match Session::open(self.settings.selection(), opts, &f, config, move |ev| post(ev)) {
                Ok(mut session) => {
                    let root = session.root().to_path_buf();
                    if self.workspaces.iter().any(|w| w.root == root) {
                        continue;
                    }
                    self.next_ws += 1;
                    self.log(MessageType::INFO, format!("building the Cargo workspace at {}", root.display()));
                    session.request_build();
                    self.workspaces.push(Workspace {
                        id,
                        root,
                        session,
                        published: BTreeSet::new(),
                        build_diags: HashMap::new(),
                        test_diags: HashMap::new(),
                        test_wanted: None,
                        testing: None,
                        build: None,
                        explanation: None,
                        binaries: Vec::new(),
                    });
                }
                Err(e) => self.log(MessageType::INFO, format!("{}: not a Cargo workspace ({e})", f.display())),
            }
        }
    }

    fn publish(&self, file: &Path, diags: Vec<Published>) {
        let Some(uri) = convert::uri(file) else { return };
        let lsp: Vec<Diagnostic> = diags.iter().map(|p| p.diagnostic.clone()).collect();
        {
            let mut w = self.shared.published.write().unwrap();
            if diags.is_empty() {
                w.remove(&uri);
            } else {
                w.insert(uri.clone(), diags);
            }
        }
        let c = self.client.clone();
        self.handle.block_on(async move { c.publish_diagnostics(uri, lsp, None).await });
    }

    /// A workspace's session started a build: progress, cancel handle.
    fn build_started(&mut self, i: usize) {
        self.builds += 1;
        let for_tests = self.workspaces[i].session.is_building_tests();
        // A build relinks test binaries: a test run in progress stops, and runs again after it.
        if let Some((_, st, changed)) = self.workspaces[i].testing.take() {
            st.stop();
            if !for_tests {
                self.workspaces[i].test_wanted = Some(changed);
            }
        }
        let kind = if for_tests { "test" } else { "build" };
        let token = NumberOrString::String(format!("splitlink/{kind}/{}", self.builds));
        // The cancel handle before the progress begins: the client may cancel at once.
        let key = token_key(&token);
        if let Some(c) = self.workspaces[i].session.cancel_handle() {
            self.shared.builds.lock().unwrap().insert(key.clone(), c);
        }
        let progress = if self.info.work_done_progress {
            let c = self.client.clone();
            let t = token.clone();
            let created = self.handle.block_on(async move { c.create_work_done_progress(t).await.is_ok() });
            created.then(|| {
                let c = self.client.clone();
                let t = token.clone();
                let msg = if for_tests { "building tests" } else { "building" };
                self.handle.block_on(async move { c.progress(t, "splitlink").with_message(msg).with_cancel_button().begin().await })
            })
        } else {
            None
        };
        self.workspaces[i].build = Some(InProgress { token: key, progress, diags: Vec::new() });
    }

    fn report(&self, i: usize, msg: String) {
        if let Some(p) = self.workspaces[i].build.as_ref().and_then(|b| b.progress.as_ref()) {
            self.handle.block_on(p.report_with_message(msg, None));
        }
    }

    /// An event of a workspace's running build: progress, and diagnostics converted to LSP.
    fn build_event(&mut self, i: usize, ev: BuildEvent) {
        match ev {
            BuildEvent::Capture { reason } => self.report(i, format!("through cargo ({reason})")),
            BuildEvent::Compiling(u) => self.report(i, format!("compiling {}", u.target)),
            BuildEvent::Linking(u) => self.report(i, format!("linking {}", u.target)),
            BuildEvent::LinkSkipped(u) => self.report(i, format!("link skipped: objects unchanged ({})", u.target)),
            BuildEvent::Diagnostic { mapped, root, .. } => {
                let mut out = Vec::new();
                for d in mapped {
                    if d.is_summary() {
                        continue;
                    }
                    if d.phase == Phase::Compile {
                        match self.settings.compiler_diagnostics {
                            CompilerDiagnostics::Off => continue,
                            CompilerDiagnostics::Errors if !matches!(d.severity, Severity::Error | Severity::Ice) => continue,
                            _ => {}
                        }
                    }
                    out.extend(convert::to_lsp(&d, self.info.related_information, &root, self.info.utf32));
                }
                if let Some(b) = self.workspaces[i].build.as_mut() {
                    b.diags.extend(out);
                }
            }
            BuildEvent::Fallback { unit, reason } => {
                self.log(MessageType::WARNING, format!("{}: {reason}; built without the split compile/link", unit.target))
            }
            BuildEvent::Warning(w) => self.log(MessageType::WARNING, w),
            BuildEvent::CargoOutput(line) => {
                let line = splitlink_engine::strip_ansi(&line);
                // Another cargo (rust-analyzer's check, a terminal build) holds the lock: say so
                // where the user looks instead of a silent spinner.
                if line.contains("Blocking waiting for file lock") {
                    let what = line.trim().trim_start_matches("Blocking").trim();
                    self.report(i, format!("waiting for another cargo process ({what})"));
                }
                self.log(MessageType::LOG, line)
            }
            // cargo's JSON messages are for `--message-format json`; the summary comes with
            // `BuildDone`.
            BuildEvent::CargoMessage(_) | BuildEvent::UnitReport { .. } | BuildEvent::Finished(_) => {}
        }
    }

    fn build_done(&mut self, i: usize, d: BuildDone) {
        self.workspaces[i].session.on_build_done(&d);
        let build = self.workspaces[i].build.take();
        if let Some(b) = &build {
            self.shared.builds.lock().unwrap().remove(&b.token);
        }
        let root = self.workspaces[i].root.clone();
        if d.explanation.is_some() {
            self.workspaces[i].explanation = d.explanation.clone();
        }
        self.workspaces[i].binaries = d.binaries.clone();
        let binaries: Vec<Binary> =
            d.binaries.iter().map(|(name, path)| Binary { name: name.clone(), path: path.display().to_string() }).collect();
        let params = match &d.result {
            Ok(s) => BuildFinishedParams {
                workspace: root.display().to_string(),
                generation: d.generation,
                success: s.success,
                cancelled: s.cancelled,
                cargo_invoked: s.cargo_invoked,
                compiled: s.compiled.iter().map(label).collect(),
                linked: s.linked.iter().map(label).collect(),
                link_skipped: s.link_skipped.iter().map(label).collect(),
                duration_ms: s.duration_ms,
                binaries,
                error: None,
                fast_linker: s.fast.clone(),
            },
            Err(e) => BuildFinishedParams {
                workspace: root.display().to_string(),
                generation: d.generation,
                success: false,
                cancelled: false,
                cargo_invoked: false,
                compiled: vec![],
                linked: vec![],
                link_skipped: vec![],
                duration_ms: 0,
                binaries,
                error: Some(e.clone()),
                fast_linker: None,
            },
        };
        if let Err(e) = &d.result {
            // Where the user looks: what failed, why, and that no restart is needed once fixed.
            self.show(MessageType::ERROR, format!("splitlink could not build {}: {e}\nOnce this is fixed, run splitlink's Build command (splitlink.build) or save a file.", root.display()));
        }
        // A cancelled build's diagnostics are incomplete: keep what is shown until the next one.
        let (progress, diags) = match build {
            Some(b) => (b.progress, b.diags),
            None => (None, Vec::new()),
        };
        if !d.cancelled() {
            self.set_build_diags(i, diags);
        }
        if let Some(p) = progress {
            let msg = match &d.result {
                Ok(s) if s.cancelled => "cancelled".to_string(),
                Ok(s) if s.success => format!("done in {} ms", s.duration_ms),
                Ok(_) => "failed".to_string(),
                Err(_) => "could not build".to_string(),
            };
            self.handle.block_on(async move { p.finish_with_message(msg).await });
        }
        let linked = params.linked.clone();
        let c = self.client.clone();
        self.handle.block_on(async move { c.send_notification::<ext::BuildFinished>(params).await });

        // Tests after the build: asked for before or during it, or `testOnSave`.
        if d.ok() {
            if self.settings.test_on_save && self.workspaces[i].test_wanted.is_none() {
                self.workspaces[i].test_wanted = Some(true);
            }
            if self.workspaces[i].test_wanted.is_some() {
                self.workspaces[i].session.request_tests();
            }
        } else if !d.cancelled() && self.workspaces[i].test_wanted.take().is_some() {
            self.test_finished(i, None, Some("the build failed: fix the errors, then run the tests again".into()));
        }

        // The run loop: restart after a successful relink of the selected binary (or start it,
        // with `runOnLink`, when this build linked it).
        let Some((name, path)) = self.selected_bin(i) else { return };
        let alive = self.run.as_ref().is_some_and(|r| r.name == name && r.job.exited().is_none());
        let start_new = self.settings.run_on_link && linked.contains(&name);
        if self.policy.decide(&d, Some(&path), alive, start_new) == RunAction::Start {
            self.start_run(Some(name));
        }
    }

    /// Publish the union of the build's and the tests' diagnostics for `files`.
    fn republish(&mut self, i: usize, files: BTreeSet<PathBuf>) {
        for f in files {
            let ws = &self.workspaces[i];
            let list: Vec<Published> = ws.build_diags.get(&f).into_iter().chain(ws.test_diags.get(&f)).flatten().cloned().collect();
            let ws = &mut self.workspaces[i];
            if list.is_empty() {
                if !ws.published.remove(&f) {
                    continue;
                }
            } else {
                ws.published.insert(f.clone());
            }
            self.publish(&f, list);
        }
    }

    /// A finished build's diagnostics replace the last build's (each once: with all targets,
    /// a library and its unit-test build report the same warning).
    fn set_build_diags(&mut self, i: usize, diags: Vec<(PathBuf, Published)>) {
        let mut by_file: HashMap<PathBuf, Vec<Published>> = HashMap::new();
        for (f, p) in diags {
            let list = by_file.entry(f).or_default();
            if !list.iter().any(|q| q.diagnostic == p.diagnostic) {
                list.push(p);
            }
        }
        let old = std::mem::replace(&mut self.workspaces[i].build_diags, by_file);
        let files: BTreeSet<PathBuf> = old.into_keys().chain(self.workspaces[i].build_diags.keys().cloned()).collect();
        self.republish(i, files);
    }

    /// Ask for a test run: the session builds what `cargo test` builds, then the tests run.
    fn want_tests(&mut self, i: usize, changed: bool) {
        let ws = &mut self.workspaces[i];
        if let Some((_, st, _)) = ws.testing.take() {
            st.stop();
        }
        // An explicit full run wins over a pending changed-only one.
        ws.test_wanted = Some(changed && ws.test_wanted != Some(false));
        ws.session.request_tests();
        let c = self.client.clone();
        let p = ext::TestStartedParams { workspace: ws.root.display().to_string() };
        self.handle.block_on(async move { c.send_notification::<ext::TestStarted>(p).await });
    }

    /// The test build ended: run the tests it built (on a thread; results come as
    /// [`Msg::TestEvent`] and [`Msg::TestsDone`]).
    fn test_build_done(&mut self, i: usize, d: BuildDone) {
        self.workspaces[i].session.on_build_done(&d);
        let build = self.workspaces[i].build.take();
        if let Some(b) = &build {
            self.shared.builds.lock().unwrap().remove(&b.token);
        }
        let (progress, diags) = match build {
            Some(b) => (b.progress, b.diags),
            None => (None, Vec::new()),
        };
        if let Some(p) = progress {
            let msg = if d.ok() { "tests built" } else { "test build failed" };
            self.handle.block_on(async move { p.finish_with_message(msg.to_string()).await });
        }
        let Some(changed) = self.workspaces[i].test_wanted.take() else { return };
        match &d.result {
            Err(e) => return self.test_finished(i, None, Some(format!("cannot build the tests: {e}"))),
            Ok(s) if s.cancelled => {
                // Stopped by a save: the main build runs next, then the tests again.
                self.workspaces[i].test_wanted = Some(changed);
                return;
            }
            Ok(s) if !s.success => {
                // Errors only the test build sees (test code, when `targets` is `default`).
                self.set_build_diags(i, diags);
                return self.test_finished(i, None, Some("the test build failed (see the Problems)".into()));
            }
            Ok(_) => {}
        }
        let opts = RunOptions {
            args: self.settings.test_args.clone(),
            no_fail_fast: true,
            changed_only: changed,
            doctests: true,
            color: false,
            own_group: true,
            timeout: self.settings.test_timeout.filter(|s| *s > 0).map(Duration::from_secs),
        };
        let plan = d.tests.clone();
        let target_dir = self.workspaces[i].session.target_dir().to_path_buf();
        let stopper = Stopper::default();
        let run = self.next_job;
        self.next_job += 1;
        self.workspaces[i].testing = Some((run, stopper.clone(), changed));
        let (tx, id) = (self.self_tx.clone(), self.workspaces[i].id);
        let spawned = std::thread::Builder::new().name("tests".into()).spawn(move || {
            let report = testrun::run(&plan, &opts, &target_dir, &stopper, &mut |ev| {
                let _ = tx.send(Msg::TestEvent(id, ev));
            });
            let _ = tx.send(Msg::TestsDone(id, run, report));
        });
        if let Err(e) = spawned {
            self.workspaces[i].testing = None;
            self.test_finished(i, None, Some(format!("cannot start the test runner: {e}")));
        }
    }

    /// A test run ended: its failures become diagnostics at their panic lines (replacing the
    /// last run's), unless it was stopped before the end.
    fn tests_done(&mut self, i: usize, report: Report) {
        let stopped = report.binaries.iter().any(|b| b.ended == Ended::Stopped);
        if !stopped {
            let mut by_file: HashMap<PathBuf, Vec<Published>> = HashMap::new();
            for b in &report.binaries {
                for f in &b.failures {
                    if let Some(file) = &f.file {
                        by_file
                            .entry(file.clone())
                            .or_default()
                            .push(convert::test_failure(&b.name, &f.test, f.line, f.column, &f.message));
                    }
                }
            }
            let old = std::mem::replace(&mut self.workspaces[i].test_diags, by_file);
            let files: BTreeSet<PathBuf> = old.into_keys().chain(self.workspaces[i].test_diags.keys().cloned()).collect();
            self.republish(i, files);
        }
        self.test_finished(i, Some(&report), None);
    }

    fn test_finished(&mut self, i: usize, report: Option<&Report>, error: Option<String>) {
        let mut p = ext::TestFinishedParams {
            workspace: self.workspaces[i].root.display().to_string(),
            success: error.is_none() && report.is_some_and(|r| r.success()),
            stopped: report.is_some_and(|r| r.binaries.iter().any(|b| b.ended == Ended::Stopped)),
            ran: 0,
            unchanged: 0,
            passed: 0,
            failed: 0,
            ignored: 0,
            duration_ms: 0,
            failures: vec![],
            crashed: vec![],
            error,
        };
        for b in report.map(|r| r.binaries.as_slice()).unwrap_or_default() {
            if b.ended == Ended::Unchanged {
                p.unchanged += 1;
            } else {
                p.ran += 1;
            }
            p.passed += b.passed;
            p.failed += b.failed;
            p.ignored += b.ignored;
            p.duration_ms += b.duration_ms;
            for f in &b.failures {
                p.failures.push(ext::TestFailure {
                    binary: b.name.clone(),
                    test: f.test.clone(),
                    uri: f.file.as_deref().and_then(convert::uri).map(|u| u.to_string()),
                    line: f.line,
                    column: f.column,
                    message: f.message.clone(),
                });
            }
            if !b.ended.success() && b.failures.is_empty() && b.ended != Ended::Stopped {
                p.crashed.push(match &b.ended {
                    Ended::Signal(n) => format!("{} (signal {n})", b.name),
                    Ended::NotStarted(e) => format!("{} (not started: {e})", b.name),
                    Ended::TimedOut(s) => format!("{} (timed out after {s} s)", b.name),
                    Ended::Code(c) => format!("{} (exit code {c})", b.name),
                    _ => b.name.clone(),
                });
            }
        }
        let summary = match (&p.error, p.failed, p.crashed.len()) {
            (Some(e), _, _) => format!("tests: {e}"),
            (None, 0, 0) => {
                format!("tests: {} passed, {} ignored ({} binaries run, {} unchanged)", p.passed, p.ignored, p.ran, p.unchanged)
            }
            (None, f, c) => {
                format!("tests: {f} failed, {} passed{}", p.passed, if c > 0 { format!(", {c} crashed") } else { String::new() })
            }
        };
        self.log(MessageType::INFO, summary);
        let c = self.client.clone();
        self.handle.block_on(async move { c.send_notification::<ext::TestFinished>(p).await });
    }

    fn selected_bin(&self, i: usize) -> Option<(String, PathBuf)> {
        let bins = &self.workspaces.get(i)?.binaries;
        match &self.settings.bin {
            Some(b) => bins.iter().find(|(n, _)| n == b).cloned(),
            None => bins.first().cloned(),
        }
    }

    fn run_status(&self, name: String, running: bool, pid: Option<u32>, exit_code: Option<i32>) {
        let c = self.client.clone();
        let p = ext::RunStatusParams { name, running, pid, exit_code };
        self.handle.block_on(async move { c.send_notification::<ext::RunStatus>(p).await });
    }

    fn start_run(&mut self, bin: Option<String>) {
        self.stop_run();
        let wanted = bin.or_else(|| self.settings.bin.clone());
        let found = self
            .workspaces
            .iter()
            .flat_map(|w| w.binaries.iter().map(move |b| (w.root.clone(), b.clone())))
            .find(|(_, (n, _))| wanted.as_ref().is_none_or(|w| w == n));
        let Some((root, (name, path))) = found else {
            self.show(MessageType::WARNING, "splitlink.run: no binary to run (build first, or set `bin`)");
            return;
        };
        if !path.exists() {
            self.show(MessageType::WARNING, format!("splitlink.run: {} is not built", path.display()));
            return;
        }
        let mut cmd = std::process::Command::new(&path);
        cmd.args(&self.settings.run_args).current_dir(&root);
        let output = {
            let (c, h, name) = (self.client.clone(), self.handle.clone(), name.clone());
            Output::Lines(Arc::new(move |stream: &'static str, line: String| {
                let c = c.clone();
                let p = ext::RunOutputParams { name: name.clone(), stream: stream.into(), line };
                h.block_on(async move {
                    c.log_message(MessageType::LOG, format!("[{}] {}", p.name, p.line)).await;
                    c.send_notification::<ext::RunOutput>(p).await;
                });
            }))
        };
        let id = self.next_job;
        self.next_job += 1;
        let tx = Mutex::new(self.self_tx.clone());
        match Job::spawn(id, name.clone(), cmd, output, move |x| {
            let _ = tx.lock().unwrap().send(Msg::RunExited(x));
        }) {
            Ok(job) => {
                self.policy.started(&path);
                self.run_status(name.clone(), true, Some(job.pid()), None);
                self.run = Some(Running { name, job });
            }
            Err(e) => self.show(MessageType::ERROR, format!("splitlink.run: cannot start {}: {e}", path.display())),
        }
    }

    /// Stop the running binary (its whole process group, as every front-end stops a job).
    fn stop_run(&mut self) {
        let Some(r) = self.run.take() else { return };
        r.job.stop(job::GRACE);
        let code = r.job.exited().flatten().and_then(|s| s.code());
        self.run_status(r.name, false, None, code);
    }
}

/// A unit as the client's lists name it: the target's name, `name (test)` for a test build.
fn label(u: &splitlink_engine::UnitInfo) -> String {
    if u.test {
        format!("{} (test)", u.target)
    } else {
        u.target.clone()
    }
}
