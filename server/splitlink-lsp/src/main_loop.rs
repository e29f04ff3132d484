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
use splitlink_session::{BuildDone, Config, OnBusy, RunAction, RunPolicy, Session, SessionEvent};
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
    Run(Option<String>),
    Stop,
    Explain(tokio::sync::oneshot::Sender<String>),
    Shutdown,
    /// A workspace's session (build actor, watcher) reported something.
    Session(u64, SessionEvent),
    /// The binary started by `splitlink.run` exited.
    RunExited(Exited),
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
    /// Files this workspace published diagnostics for in its last build.
    published: BTreeSet<PathBuf>,
    build: Option<InProgress>,
    /// The last build's `splitlink explain`.
    explanation: Option<String>,
    binaries: Vec<(String, PathBuf)>,
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
                    let reselect = s.selection() != self.settings.selection();
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
                for ws in &self.workspaces {
                    ws.session.cancel();
                }
                self.initialized = false;
            }
            Msg::Session(id, ev) => {
                let Some(i) = self.workspaces.iter().position(|w| w.id == id) else { return };
                match ev {
                    SessionEvent::Fs(batch) => self.workspaces[i].session.on_fs(batch),
                    SessionEvent::Build(ev) => self.build_event(i, *ev),
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
            let opts = BuildOptions { quiet: true, ..Default::default() };
            let id = self.next_ws;
            let tx = Mutex::new(self.self_tx.clone());
            let post = Arc::new(move |ev: SessionEvent| {
                let _ = tx.lock().unwrap().send(Msg::Session(id, ev));
            });
            let config = Config { on_busy: OnBusy::Queue, watch_files: !self.info.watched_files_dynamic };
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
        let token = NumberOrString::String(format!("splitlink/build/{}", self.builds));
        let progress = if self.info.work_done_progress {
            let c = self.client.clone();
            let t = token.clone();
            let created = self.handle.block_on(async move { c.create_work_done_progress(t).await.is_ok() });
            created.then(|| {
                let c = self.client.clone();
                let t = token.clone();
                self.handle.block_on(async move { c.progress(t, "splitlink").with_message("building").with_cancel_button().begin().await })
            })
        } else {
            None
        };
        let key = token_key(&token);
        if let Some(c) = self.workspaces[i].session.cancel_handle() {
            self.shared.builds.lock().unwrap().insert(key.clone(), c);
        }
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
                    out.extend(convert::to_lsp(&d, self.info.related_information, &root));
                }
                if let Some(b) = self.workspaces[i].build.as_mut() {
                    b.diags.extend(out);
                }
            }
            BuildEvent::Fallback { unit, reason } => {
                self.log(MessageType::WARNING, format!("{}: {reason}; built without the split compile/link", unit.target))
            }
            BuildEvent::Warning(w) => self.log(MessageType::WARNING, w),
            BuildEvent::CargoOutput(line) => self.log(MessageType::LOG, splitlink_engine::strip_ansi(&line)),
            // cargo's JSON messages are for `--message-format json`; the summary comes with
            // `BuildDone`.
            BuildEvent::CargoMessage(_) | BuildEvent::Finished(_) => {}
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
                compiled: s.compiled.iter().map(|u| u.target.clone()).collect(),
                linked: s.linked.iter().map(|u| u.target.clone()).collect(),
                link_skipped: s.link_skipped.iter().map(|u| u.target.clone()).collect(),
                duration_ms: s.duration_ms,
                binaries,
                error: None,
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
            },
        };
        if let Err(e) = &d.result {
            self.show(MessageType::ERROR, format!("splitlink: {e}"));
        }
        // A cancelled build's diagnostics are incomplete: keep what is shown until the next one.
        let (progress, diags) = match build {
            Some(b) => (b.progress, b.diags),
            None => (None, Vec::new()),
        };
        if !d.cancelled() {
            let mut by_file: HashMap<PathBuf, Vec<Published>> = HashMap::new();
            for (f, p) in diags {
                by_file.entry(f).or_default().push(p);
            }
            let old = std::mem::take(&mut self.workspaces[i].published);
            for f in old.iter().filter(|f| !by_file.contains_key(*f)) {
                self.publish(f, vec![]);
            }
            let mut now = BTreeSet::new();
            for (f, list) in by_file {
                now.insert(f.clone());
                self.publish(&f, list);
            }
            self.workspaces[i].published = now;
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

        // The run loop: restart after a successful relink of the selected binary (or start it,
        // with `runOnLink`, when this build linked it).
        let Some((name, path)) = self.selected_bin(i) else { return };
        let alive = self.run.as_ref().is_some_and(|r| r.name == name && r.job.exited().is_none());
        let start_new = self.settings.run_on_link && linked.contains(&name);
        if self.policy.decide(&d, Some(&path), alive, start_new) == RunAction::Start {
            self.start_run(Some(name));
        }
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
