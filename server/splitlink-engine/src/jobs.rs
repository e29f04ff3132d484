//! The replay's parallelism, as cargo's: a jobserver of `-j` tokens (the `jobserver` crate, the
//! one cargo and cc use) shared with every rustc the replay starts, so that rustc's own codegen
//! threads count against `-j` too (without it each rustc made its own pool of 32 tokens: two at
//! once could run dozens of LLVM threads on two cores).
//!
//! As in cargo: the replay holds one token itself (its "implicit" token: the first running job
//! uses it), each further running job holds one acquired token, and a rustc gets the pool through
//! `CARGO_MAKEFLAGS` and inherited descriptors ([`Jobs::configure`]). Tokens are asked for by a
//! helper thread that posts them to the replay loop as they come.
//!
//! Started by make with a jobserver (`make -j4`, a recipe marked `+` or calling `$(MAKE)`),
//! splitlink joins it instead, as cargo does: its tokens are make's ([`MakeJobserver`]), and every
//! rustc gets make's jobserver variables. The `jobserver` crate's way in (`Client::from_env`) is
//! `unsafe` (it adopts descriptors by number) and the workspace forbids unsafe code, so make's
//! pipe is opened again through `/proc/self/fd/N` (a new, non-blocking description of the same
//! pipe) or, for make 4.4's `fifo:PATH`, by its path; a token is a byte read from it and written
//! back when dropped.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// A job token beyond the implicit one: released when dropped.
pub enum Token {
    Own(#[allow(dead_code)] jobserver::Acquired),
    Make(MakeToken),
}

/// A byte read from make's jobserver, written back when dropped.
pub struct MakeToken {
    byte: u8,
    pool: Arc<MakeJobserver>,
}

impl Drop for MakeToken {
    fn drop(&mut self) {
        let _ = (&self.pool.write).write_all(&[self.byte]);
    }
}

/// make's jobserver, joined.
pub struct MakeJobserver {
    read: File,
    write: File,
    /// The variables that named it (`CARGO_MAKEFLAGS`, `MAKEFLAGS`, `MFLAGS`), passed to rustc,
    /// with `CARGO_MAKEFLAGS` set to the flags read (as cargo gives rustc).
    env: Vec<(&'static str, OsString)>,
    /// What it is, for the timings and the explanation (`--jobserver-auth=3,4`).
    pub auth: String,
}

impl MakeJobserver {
    /// The jobserver the environment names, as cargo looks for it (`CARGO_MAKEFLAGS`, then
    /// `MAKEFLAGS`, then `MFLAGS`; `--jobserver-auth=` or the older `--jobserver-fds=`). None when
    /// none is named or it cannot be opened (make did not pass its descriptors to this recipe).
    pub fn from_env() -> Option<MakeJobserver> {
        let names = ["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"];
        let env: Vec<(&'static str, OsString)> = names.iter().filter_map(|k| std::env::var_os(k).map(|v| (*k, v))).collect();
        let flags = env.first()?.1.to_string_lossy().into_owned();
        let auth = flags
            .split_ascii_whitespace()
            .filter_map(|w| w.strip_prefix("--jobserver-auth=").or_else(|| w.strip_prefix("--jobserver-fds=")))
            .next_back()?
            .to_string();
        let (read, write) = match auth.strip_prefix("fifo:") {
            Some(path) => (open_pipe(path.as_ref(), false)?, open_pipe(path.as_ref(), true)?),
            None => {
                let (r, w) = auth.split_once(',')?;
                let (r, w) = (r.parse::<u32>().ok()?, w.parse::<u32>().ok()?);
                (open_pipe(format!("/proc/self/fd/{r}").as_ref(), false)?, open_pipe(format!("/proc/self/fd/{w}").as_ref(), true)?)
            }
        };
        let mut env = env;
        if env[0].0 != "CARGO_MAKEFLAGS" {
            env.push(("CARGO_MAKEFLAGS", flags.into()));
        }
        Some(MakeJobserver { read, write, env, auth: format!("--jobserver-auth={auth}") })
    }
}

/// Open one end of a pipe or fifo (non-blocking reads: the helper must be able to stop).
fn open_pipe(path: &std::path::Path, write: bool) -> Option<File> {
    let f = std::fs::OpenOptions::new().read(!write).write(write).custom_flags(libc::O_NONBLOCK).open(path).ok()?;
    f.metadata().ok().filter(|m| m.file_type().is_fifo())?;
    Some(f)
}

/// Reads make's tokens on request, on its own thread.
struct MakeHelper {
    requests: Option<mpsc::Sender<()>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MakeHelper {
    fn start(pool: Arc<MakeJobserver>, mut deliver: impl FnMut(std::io::Result<Token>) + Send + 'static) -> MakeHelper {
        let (tx, rx) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                let mut b = [0u8; 1];
                loop {
                    if stopped.load(Ordering::Relaxed) {
                        return;
                    }
                    match (&pool.read).read(&mut b) {
                        Ok(1) => {
                            deliver(Ok(Token::Make(MakeToken { byte: b[0], pool: pool.clone() })));
                            break;
                        }
                        Ok(_) => {
                            deliver(Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "make's jobserver closed")));
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(2)),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            deliver(Err(e));
                            break;
                        }
                    }
                }
            }
        });
        MakeHelper { requests: Some(tx), stop, thread: Some(thread) }
    }

    fn request_token(&self) {
        if let Some(r) = &self.requests {
            let _ = r.send(());
        }
    }
}

impl Drop for MakeHelper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.requests = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Helper {
    Own(jobserver::HelperThread),
    Make(MakeHelper),
}

/// Whose tokens a build uses.
#[derive(Clone)]
pub enum Client {
    Own(jobserver::Client),
    Make(Arc<MakeJobserver>),
}

impl Client {
    /// Let a rustc take tokens from the pool for its codegen threads.
    pub fn configure(&self, cmd: &mut Command) {
        match self {
            Client::Own(c) => c.configure(cmd),
            // make's descriptors are inherited as they came (a `fifo:` needs none).
            Client::Make(m) => {
                for (k, v) in &m.env {
                    cmd.env(k, v);
                }
            }
        }
    }
}

/// The pool and the tokens held beyond the implicit one.
pub struct Jobs {
    client: Option<Client>,
    helper: Option<Helper>,
    held: Vec<Token>,
    /// Tokens asked of the helper and not yet delivered.
    asked: usize,
}

impl Jobs {
    /// A pool of `jobs` tokens (the first is ours), delivering acquired tokens to `deliver`; make's
    /// jobserver instead when `make` is given (then `jobs` still caps the jobs at once).
    /// Without a pool (the pipe could not be made) jobs are only counted.
    pub fn new(jobs: usize, make: Option<Arc<MakeJobserver>>, deliver: impl FnMut(std::io::Result<Token>) + Send + 'static) -> Jobs {
        if let Some(m) = make {
            let helper = MakeHelper::start(m.clone(), deliver);
            return Jobs { client: Some(Client::Make(m)), helper: Some(Helper::Make(helper)), held: Vec::new(), asked: 0 };
        }
        let mut deliver = deliver;
        let client = jobserver::Client::new(jobs.max(1)).ok().filter(|c| c.acquire_raw().is_ok());
        let helper = client.clone().and_then(|c| c.into_helper_thread(move |t| deliver(t.map(Token::Own))).ok());
        let client = if helper.is_some() { client } else { None };
        Jobs { client: client.map(Client::Own), helper: helper.map(Helper::Own), held: Vec::new(), asked: 0 }
    }

    /// How many jobs may run now: the implicit token and those held.
    pub fn capacity(&self, limit: usize) -> usize {
        if self.client.is_none() {
            return limit.max(1);
        }
        (1 + self.held.len()).min(limit.max(1))
    }

    /// `wanted` jobs are ready or running: ask for the tokens they lack (up to `limit` in all).
    pub fn want(&mut self, wanted: usize, limit: usize) {
        let Some(h) = &self.helper else { return };
        let target = wanted.min(limit.max(1));
        let have = 1 + self.held.len() + self.asked;
        for _ in have..target {
            match h {
                Helper::Own(h) => h.request_token(),
                Helper::Make(h) => h.request_token(),
            }
            self.asked += 1;
        }
    }

    /// A token the helper acquired.
    pub fn delivered(&mut self, t: std::io::Result<Token>) {
        self.asked = self.asked.saturating_sub(1);
        if let Ok(t) = t {
            self.held.push(t);
        }
    }

    /// `running` jobs run now: release what they do not need.
    pub fn settle(&mut self, running: usize) {
        while self.held.len() > running.saturating_sub(1) {
            self.held.pop();
        }
    }

    /// What a job's thread needs to configure its command.
    pub fn client(&self) -> Option<Client> {
        self.client.clone()
    }
}
