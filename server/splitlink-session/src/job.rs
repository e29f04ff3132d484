//! The job supervisor: the binary a front-end runs (`watch --run`, the LSP's `splitlink.run`)
//! and `watch --exec`'s command, each in its own process group so that stopping it stops
//! everything it started.
//!
//! Invariants: a job is stopped by signalling its whole process group (SIGTERM, SIGCONT, then
//! SIGKILL after the grace period) and `stop` returns only once the job's leader has been reaped
//! and its group is empty (or was killed), so the next job never races the previous one for a
//! port or a file. The waiter thread is the only code that reaps the child.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::BufRead;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a job has to exit after SIGTERM before its group gets SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// A job ended (by itself or because it was stopped).
#[derive(Debug)]
pub struct Exited {
    pub id: u64,
    pub status: Option<ExitStatus>,
}

#[derive(Default)]
struct Slot {
    status: Mutex<Option<Option<ExitStatus>>>,
    cv: Condvar,
}

/// Where a job's standard output and error go.
pub enum Output {
    /// The front-end's terminal.
    Inherit,
    /// Line by line to a callback (`"stdout"` or `"stderr"`, the line).
    Lines(Arc<dyn Fn(&'static str, String) + Send + Sync>),
}

/// A running job: a child process leading its own process group.
pub struct Job {
    pub id: u64,
    pub name: String,
    pid: u32,
    slot: Arc<Slot>,
}

impl Job {
    /// Start `cmd` in a new process group; its end is reported to `on_exit` (on the waiter
    /// thread). Standard input is closed (a background process group reading the terminal would
    /// be stopped by SIGTTIN).
    pub fn spawn(
        id: u64,
        name: String,
        mut cmd: Command,
        output: Output,
        on_exit: impl FnOnce(Exited) + Send + 'static,
    ) -> std::io::Result<Job> {
        cmd.process_group(0).stdin(Stdio::null());
        if let Output::Lines(_) = &output {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = cmd.spawn()?;
        let pid = child.id();
        if let Output::Lines(f) = output {
            let streams: [(&'static str, Option<Box<dyn std::io::Read + Send>>); 2] = [
                ("stdout", child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
                ("stderr", child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
            ];
            for (stream, pipe) in streams {
                let (Some(pipe), f) = (pipe, f.clone()) else { continue };
                std::thread::Builder::new().name(format!("job-{id}-{stream}")).spawn(move || {
                    for line in std::io::BufReader::new(pipe).lines() {
                        let Ok(line) = line else { break };
                        f(stream, line);
                    }
                })?;
            }
        }
        let slot = Arc::new(Slot::default());
        let s = slot.clone();
        std::thread::Builder::new().name(format!("job-{id}")).spawn(move || {
            let status = child.wait().ok();
            *s.status.lock().unwrap() = Some(status);
            s.cv.notify_all();
            on_exit(Exited { id, status });
        })?;
        Ok(Job { id, name, pid, slot })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status once the leader has been reaped.
    pub fn exited(&self) -> Option<Option<ExitStatus>> {
        *self.slot.status.lock().unwrap()
    }

    fn wait_until(&self, deadline: Instant) -> bool {
        let mut st = self.slot.status.lock().unwrap();
        while st.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.slot.cv.wait_timeout(st, deadline - now).unwrap().0;
        }
        true
    }

    fn group_alive(&self) -> bool {
        killpg(self.pgid(), None).is_ok()
    }

    fn pgid(&self) -> Pid {
        Pid::from_raw(self.pid as i32)
    }

    /// Stop the whole process group: SIGTERM (and SIGCONT, in case it was stopped), then
    /// SIGKILL after `grace`; returns once the leader is reaped and the group is gone.
    pub fn stop(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        if self.exited().is_none() || self.group_alive() {
            let _ = killpg(self.pgid(), Signal::SIGTERM);
            let _ = killpg(self.pgid(), Signal::SIGCONT);
        }
        let leader_done = self.wait_until(deadline);
        // Processes the leader started in its group get the rest of the grace period too.
        while leader_done && self.group_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !leader_done || self.group_alive() {
            let _ = killpg(self.pgid(), Signal::SIGKILL);
            self.wait_until(Instant::now() + Duration::from_secs(5));
        }
    }
}

/// "exit status 3", "signal 15 (SIGTERM)".
pub fn describe(status: Option<ExitStatus>) -> String {
    match status {
        None => "an unknown status".into(),
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(sig)) => match Signal::try_from(sig) {
                Ok(name) => format!("signal {sig} ({})", name.as_str()),
                Err(_) => format!("signal {sig}"),
            },
            _ => "an unknown status".into(),
        },
    }
}
