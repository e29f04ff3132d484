//! The main loop: the only owner of the engines. One closed [`Msg`] enum in, LSP notifications
//! out (through the `Client`, from this thread, in order).

use crate::convert::{self, Published};
use crate::ext::{self, Binary, BuildFinishedParams};
use crate::settings::{CompilerDiagnostics, Settings};
use serde_json::Value;
use splitlink_diag::model::{Phase, Severity};
use splitlink_engine::{BuildEvent, BuildOptions, Cancel, Engine, Sink};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::Client;

/// What the client told us at `initialize`.
#[derive(Debug, Default, Clone)]
pub struct InitInfo {
    pub folders: Vec<PathBuf>,
    pub options: Value,
    pub related_information: bool,
    pub work_done_progress: bool,
    pub watched_files_dynamic: bool,
}

/// Everything the handlers send.
pub enum Msg {
    Initialize(Box<InitInfo>),
    Initialized,
    Changed(Vec<PathBuf>),
    Config(Value),
    Folders { added: Vec<PathBuf>, removed: Vec<PathBuf> },
    Build,
    Run(Option<String>),
    Stop,
    Explain(tokio::sync::oneshot::Sender<String>),
    Shutdown,
}

/// What handlers may read: the published diagnostics (for code actions) and the cancel handle
/// of the build in progress (for `window/workDoneProgress/cancel`).
#[derive(Default)]
pub struct Shared {
    pub published: RwLock<HashMap<Uri, Vec<Published>>>,
    current: Mutex<Option<(NumberOrString, Cancel)>>,
}

impl Shared {
    pub fn cancel_progress(&self, token: &NumberOrString) {
        if let Some((t, c)) = self.current.lock().unwrap().as_ref() {
            if t == token {
                c.cancel();
            }
        }
    }

    pub fn cancel_all(&self) {
        if let Some((_, c)) = self.current.lock().unwrap().as_ref() {
            c.cancel();
        }
    }
}

pub fn spawn(client: Client, handle: tokio::runtime::Handle, shared: std::sync::Arc<Shared>) -> Sender<Msg> {
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
                initialized: false,
                run: None,
                builds: 0,
                self_tx,
                watcher: None,
                seen: HashMap::new(),
                cache: Default::default(),
            };
            ml.run(rx);
        })
        .expect("spawn the main loop thread");
    tx
}

struct Workspace {
    root: PathBuf,
    engine: Engine,
    /// Files this workspace published diagnostics for in its last build.
    published: BTreeSet<PathBuf>,
}

struct Running {
    name: String,
    child: std::process::Child,
}

struct MainLoop {
    client: Client,
    handle: tokio::runtime::Handle,
    shared: std::sync::Arc<Shared>,
    info: InitInfo,
    settings: Settings,
    workspaces: Vec<Workspace>,
    initialized: bool,
    run: Option<Running>,
    builds: u64,
    /// The main loop's own inbox, for the fallback file watcher.
    self_tx: Sender<Msg>,
    /// Our own file watcher, when the client cannot watch files for us.
    watcher: Option<splitlink_engine::watch::Watcher>,
    /// Content of each input file as the last build saw it: a change notification for a file
    /// whose bytes are the same (a save echoed by the file watcher, an identical save, Cargo.lock
    /// rewritten by cargo) starts no build.
    seen: HashMap<PathBuf, Option<splitlink_engine::digest::Digest>>,
    cache: splitlink_engine::digest::StatCache,
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
        while let Ok(msg) = rx.recv() {
            let mut changed: Vec<PathBuf> = Vec::new();
            let mut build_all = false;
            let mut pending = vec![msg];
            // Debounce: a burst of saves (or watched-file events) becomes one build.
            loop {
                let Some(m) = pending.pop() else { break };
                match m {
                    Msg::Changed(p) => {
                        changed.extend(p);
                        match rx.recv_timeout(Duration::from_millis(60)) {
                            Ok(m) => pending.push(m),
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    Msg::Build => build_all = true,
                    Msg::Shutdown => {
                        self.stop_run();
                        self.initialized = false;
                    }
                    other => {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle_msg(other)));
                        if r.is_err() {
                            self.show(
                                MessageType::ERROR,
                                "splitlink: internal error while handling a request (see the log); the server keeps running",
                            );
                        }
                    }
                }
            }
            if !self.initialized {
                continue;
            }
            if !build_all {
                changed.sort();
                changed.dedup();
                changed.retain(|p| match self.seen.get(p) {
                    Some(before) => self.cache.digest(p).ok().flatten() != *before,
                    None => true,
                });
            }
            let targets: Vec<usize> = if build_all {
                (0..self.workspaces.len()).collect()
            } else {
                (0..self.workspaces.len()).filter(|i| changed.iter().any(|p| self.affects(*i, p))).collect()
            };
            for i in targets {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.build(i)));
                if r.is_err() {
                    self.show(MessageType::ERROR, "splitlink: internal error during a build (see the log); the server keeps running");
                }
            }
        }
        self.stop_run();
    }

    /// Whether a changed path can matter to a workspace: inside it and a Rust source, a manifest,
    /// the lockfile, a build script or cargo config — or a file the engine knows it reads.
    fn affects(&self, i: usize, p: &Path) -> bool {
        let ws = &self.workspaces[i];
        if !p.starts_with(&ws.root) || p.starts_with(ws.engine.target_dir()) {
            return ws.engine.watched_files().iter().any(|f| f == p);
        }
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        p.extension().is_some_and(|e| e == "rs")
            || matches!(name, "Cargo.toml" | "Cargo.lock" | "config" | "config.toml" | "rust-toolchain" | "rust-toolchain.toml")
            || ws.engine.watched_files().iter().any(|f| f == p)
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
                for i in 0..self.workspaces.len() {
                    self.build(i);
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
                    if self.initialized {
                        for i in 0..self.workspaces.len() {
                            self.build(i);
                        }
                    }
                }
            }
            Msg::Folders { added, removed } => {
                for r in removed {
                    if let Some(i) = self.workspaces.iter().position(|w| w.root.starts_with(&r) || r.starts_with(&w.root)) {
                        let ws = self.workspaces.remove(i);
                        for f in ws.published {
                            self.publish(&f, vec![]);
                        }
                    }
                }
                let before = self.workspaces.len();
                self.open_workspaces(added);
                for i in before..self.workspaces.len() {
                    self.build(i);
                }
            }
            Msg::Run(bin) => self.start_run(bin),
            Msg::Stop => self.stop_run(),
            Msg::Explain(reply) => {
                let mut text = String::new();
                for ws in &self.workspaces {
                    text.push_str(&format!("workspace {}\n", ws.root.display()));
                    match ws.engine.explanation() {
                        Some(ex) => text.push_str(&ex.render()),
                        None => text.push_str("no build yet\n"),
                    }
                }
                let _ = reply.send(text);
            }
            Msg::Changed(_) | Msg::Build | Msg::Shutdown => {}
        }
    }

    fn register_watchers(&mut self) {
        if !self.info.watched_files_dynamic {
            let tx = self.self_tx.clone();
            match splitlink_engine::watch::Watcher::new(move |b| {
                let _ = tx.send(if b.rescan { Msg::Build } else { Msg::Changed(b.paths) });
            }) {
                Ok(w) => {
                    self.watcher = Some(w);
                    self.log(MessageType::INFO, "the client does not watch files for us: splitlink watches the workspace itself");
                }
                Err(e) => self.log(MessageType::WARNING, format!("cannot watch files ({e}): builds run on save only")),
            }
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

    fn open_workspaces(&mut self, folders: Vec<PathBuf>) {
        for f in folders {
            let opts = BuildOptions { quiet: true, ..Default::default() };
            match Engine::open(self.settings.selection(), opts, &f) {
                Ok(engine) => {
                    let root = engine.workspace_root().to_path_buf();
                    if self.workspaces.iter().any(|w| w.root == root) {
                        continue;
                    }
                    self.log(MessageType::INFO, format!("building the Cargo workspace at {}", root.display()));
                    self.workspaces.push(Workspace { root, engine, published: BTreeSet::new() });
                }
                Err(e) => self.log(MessageType::INFO, format!("{}: not a Cargo workspace ({e})", f.display())),
            }
        }
    }

    /// Point our own watcher (if any) at what the workspaces' builds depend on.
    fn refresh_watch(&mut self) {
        use splitlink_engine::watch::{scan, Plan};
        let Some(w) = self.watcher.as_mut() else { return };
        let mut dirs = BTreeSet::new();
        for ws in &self.workspaces {
            let target = ws.engine.target_dir();
            let plan = Plan::new(ws.engine.watched_files(), &scan(&ws.root, target), target);
            dirs.extend(plan.dirs);
        }
        for problem in w.set(&dirs) {
            eprintln!("splitlink lsp: {problem}");
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

    fn build(&mut self, i: usize) {
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
        let cancel = Cancel::new();
        *self.shared.current.lock().unwrap() = Some((token, cancel.clone()));
        let t0 = Instant::now();
        let root = self.workspaces[i].root.clone();
        let related = self.info.related_information;
        let mut sink = LspSink {
            diags: Vec::new(),
            progress: progress.as_ref(),
            handle: &self.handle,
            root: root.clone(),
            related,
            filter: self.settings.compiler_diagnostics,
            events: 0,
        };
        let result = self.workspaces[i].engine.build(&mut sink, Some(&cancel));
        let diags = std::mem::take(&mut sink.diags);
        drop(sink);
        *self.shared.current.lock().unwrap() = None;

        let generation = self.workspaces[i].engine.generation();
        let binaries: Vec<Binary> = self.workspaces[i]
            .engine
            .binaries()
            .into_iter()
            .map(|(name, path)| Binary { name, path: path.display().to_string() })
            .collect();
        let params = match &result {
            Ok(s) => BuildFinishedParams {
                workspace: root.display().to_string(),
                generation,
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
                generation,
                success: false,
                cancelled: false,
                cargo_invoked: false,
                compiled: vec![],
                linked: vec![],
                link_skipped: vec![],
                duration_ms: t0.elapsed().as_millis() as u64,
                binaries,
                error: Some(e.to_string()),
            },
        };
        if let Err(e) = &result {
            self.show(MessageType::ERROR, format!("splitlink: {e}"));
        }
        // A cancelled build's diagnostics are incomplete: keep what is shown until the next one.
        let cancelled = result.as_ref().is_ok_and(|s| s.cancelled);
        if !cancelled {
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
            let msg = match &result {
                Ok(s) if s.cancelled => "cancelled".to_string(),
                Ok(s) if s.success => format!("done in {} ms", s.duration_ms),
                Ok(_) => "failed".to_string(),
                Err(_) => "could not build".to_string(),
            };
            self.handle.block_on(async move { p.finish_with_message(msg).await });
        }
        self.refresh_watch();
        for f in self.workspaces[i].engine.watched_files() {
            let d = self.cache.digest(&f).ok().flatten();
            self.seen.insert(f, d);
        }
        let linked = params.linked.clone();
        let success = params.success;
        let c = self.client.clone();
        self.handle.block_on(async move { c.send_notification::<ext::BuildFinished>(params).await });

        // The run loop: restart after a successful relink of the selected binary.
        if success {
            let selected = self.selected_bin(i);
            if let Some(name) = selected {
                let running_it = self.run.as_ref().is_some_and(|r| r.name == name);
                if linked.contains(&name) && (running_it || self.settings.run_on_link) {
                    self.start_run(Some(name));
                }
            }
        }
    }

    fn selected_bin(&self, i: usize) -> Option<String> {
        let bins = self.workspaces.get(i)?.engine.binaries();
        match &self.settings.bin {
            Some(b) => bins.iter().find(|(n, _)| n == b).map(|(n, _)| n.clone()),
            None => bins.first().map(|(n, _)| n.clone()),
        }
    }

    fn start_run(&mut self, bin: Option<String>) {
        self.stop_run();
        let wanted = bin.or_else(|| self.settings.bin.clone());
        let found = self
            .workspaces
            .iter()
            .flat_map(|w| w.engine.binaries().into_iter().map(move |b| (w.root.clone(), b)))
            .find(|(_, (n, _))| wanted.as_ref().is_none_or(|w| w == n));
        let Some((root, (name, path))) = found else {
            self.show(MessageType::WARNING, "splitlink.run: no binary to run (build first, or set `bin`)");
            return;
        };
        if !path.exists() {
            self.show(MessageType::WARNING, format!("splitlink.run: {} is not built", path.display()));
            return;
        }
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new(&path)
            .args(&self.settings.run_args)
            .current_dir(&root)
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                self.show(MessageType::ERROR, format!("splitlink.run: cannot start {}: {e}", path.display()));
                return;
            }
        };
        let pid = child.id();
        for (stream, pipe) in [
            ("stdout", child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
            ("stderr", child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
        ] {
            let Some(pipe) = pipe else { continue };
            let c = self.client.clone();
            let h = self.handle.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let c = c.clone();
                    let p = ext::RunOutputParams { name: name.clone(), stream: stream.into(), line: line.clone() };
                    h.block_on(async move {
                        c.log_message(MessageType::LOG, format!("[{}] {}", p.name, p.line)).await;
                        c.send_notification::<ext::RunOutput>(p).await;
                    });
                }
            });
        }
        let c = self.client.clone();
        let p = ext::RunStatusParams { name: name.clone(), running: true, pid: Some(pid), exit_code: None };
        self.handle.block_on(async move { c.send_notification::<ext::RunStatus>(p).await });
        self.run = Some(Running { name, child });
    }

    /// Stop the running binary: SIGTERM to its process group, SIGKILL after 2 s, then wait.
    fn stop_run(&mut self) {
        let Some(mut r) = self.run.take() else { return };
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        let pgid = Pid::from_raw(r.child.id() as i32);
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        let code = loop {
            match r.child.try_wait() {
                Ok(Some(s)) => break s.code(),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = killpg(pgid, Signal::SIGKILL);
                    break r.child.wait().ok().and_then(|s| s.code());
                }
            }
        };
        let c = self.client.clone();
        let p = ext::RunStatusParams { name: r.name, running: false, pid: None, exit_code: code };
        self.handle.block_on(async move { c.send_notification::<ext::RunStatus>(p).await });
    }
}

/// Collects the build's diagnostics (converted to LSP) and reports progress.
struct LspSink<'a> {
    diags: Vec<(PathBuf, Published)>,
    progress: Option<&'a tower_lsp_server::OngoingProgress<tower_lsp_server::Unbounded, tower_lsp_server::Cancellable>>,
    handle: &'a tokio::runtime::Handle,
    root: PathBuf,
    related: bool,
    filter: CompilerDiagnostics,
    events: usize,
}

impl LspSink<'_> {
    fn report(&self, msg: String) {
        if let Some(p) = self.progress {
            self.handle.block_on(p.report_with_message(msg, None));
        }
    }
}

impl Sink for LspSink<'_> {
    fn event(&mut self, ev: BuildEvent) {
        self.events += 1;
        match ev {
            BuildEvent::Capture { reason } => self.report(format!("through cargo ({reason})")),
            BuildEvent::Compiling(u) => self.report(format!("compiling {}", u.target)),
            BuildEvent::Linking(u) => self.report(format!("linking {}", u.target)),
            BuildEvent::LinkSkipped(u) => self.report(format!("link skipped: objects unchanged ({})", u.target)),
            BuildEvent::Diagnostic { message, link, .. } => {
                let models = splitlink_diag::from_rustc_message(&message, link.as_ref(), &self.root);
                for d in models {
                    if d.is_summary() {
                        continue;
                    }
                    if d.phase == Phase::Compile {
                        match self.filter {
                            CompilerDiagnostics::Off => continue,
                            CompilerDiagnostics::Errors if !matches!(d.severity, Severity::Error | Severity::Ice) => continue,
                            _ => {}
                        }
                    }
                    if let Some(x) = convert::to_lsp(&d, self.related, &self.root) {
                        self.diags.push(x);
                    }
                }
            }
            _ => {}
        }
    }
}
