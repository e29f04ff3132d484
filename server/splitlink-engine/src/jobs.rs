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
//! A jobserver given to splitlink itself (running under `make -j`) is not joined: connecting to
//! one from the environment is `unsafe` in the `jobserver` crate, and the workspace forbids
//! unsafe code; the pool is splitlink's own, of `-j` tokens.

use std::process::Command;

/// The pool and the tokens held beyond the implicit one.
pub struct Jobs {
    client: Option<jobserver::Client>,
    helper: Option<jobserver::HelperThread>,
    held: Vec<jobserver::Acquired>,
    /// Tokens asked of the helper and not yet delivered.
    asked: usize,
}

impl Jobs {
    /// A pool of `jobs` tokens (the first is ours), delivering acquired tokens to `deliver`.
    /// Without a pool (the pipe could not be made) jobs are only counted.
    pub fn new(jobs: usize, deliver: impl FnMut(std::io::Result<jobserver::Acquired>) + Send + 'static) -> Jobs {
        let client = jobserver::Client::new(jobs.max(1)).ok().filter(|c| c.acquire_raw().is_ok());
        let helper = client.clone().and_then(|c| c.into_helper_thread(deliver).ok());
        let client = if helper.is_some() { client } else { None };
        Jobs { client, helper, held: Vec::new(), asked: 0 }
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
            h.request_token();
            self.asked += 1;
        }
    }

    /// A token the helper acquired.
    pub fn delivered(&mut self, t: std::io::Result<jobserver::Acquired>) {
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

    /// Let a rustc take tokens from the pool for its codegen threads.
    pub fn configure(&self, cmd: &mut Command) {
        if let Some(c) = &self.client {
            c.configure(cmd);
        }
    }

    /// What a job's thread needs to configure its command.
    pub fn client(&self) -> Option<jobserver::Client> {
        self.client.clone()
    }
}
