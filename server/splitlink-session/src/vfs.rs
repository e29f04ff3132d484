//! Which reported paths really changed: content digests against what the last build saw, and
//! when to build them (a quiet period with a cap).
//!
//! Invariants: a path is pending only when its content (blake3 + length; `None` when missing)
//! differs from the content the last started build saw, or when that content is unknown. An
//! identical-bytes save, a `touch`, or an edit reverted before the build starts is not pending.
//! Pending paths are only cleared by `take`, when a build starts: an edit made during a build
//! stays pending and triggers the next one.

use splitlink_engine::digest::{Digest, StatCache};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A build starts once no relevant event arrived for this long...
pub const QUIET: Duration = Duration::from_millis(40);
/// ...or this long after the first pending change, whichever comes first.
pub const CAP: Duration = Duration::from_millis(1000);

#[derive(Default)]
pub struct Changes {
    cache: StatCache,
    /// Content the last started build saw (or the content when first seen).
    known: HashMap<PathBuf, Option<Digest>>,
    pending: BTreeMap<PathBuf, Option<Digest>>,
    first_pending: Option<Instant>,
    last_event: Option<Instant>,
}

impl Changes {
    fn digest(&mut self, p: &Path) -> Option<Digest> {
        match self.cache.digest(p) {
            Ok(d) => d,
            // Unreadable (permissions, a directory): a distinct value, so it is not "unchanged".
            Err(_) => Some(Digest::of(b"\0splitlink: unreadable")),
        }
    }

    /// A relevant event named `p`: compare its content with what the last build saw.
    /// Returns whether `p` is now pending.
    pub fn observe(&mut self, p: &Path) -> bool {
        let now = Instant::now();
        self.last_event = Some(now);
        let d = self.digest(p);
        if self.known.get(p) == Some(&d) {
            self.pending.remove(p);
        } else {
            self.pending.insert(p.to_path_buf(), d);
        }
        if self.pending.is_empty() {
            self.first_pending = None;
        } else if self.first_pending.is_none() {
            self.first_pending = Some(now);
        }
        self.pending.contains_key(p)
    }

    /// Remember the current content of files not seen yet (after a build: its new sources).
    pub fn baseline<'a>(&mut self, files: impl IntoIterator<Item = &'a PathBuf>) {
        for f in files {
            if !self.known.contains_key(f) && !self.pending.contains_key(f) {
                let d = self.digest(f);
                self.known.insert(f.clone(), d);
            }
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// When the pending changes should be built (None: nothing pending).
    pub fn due(&self) -> Option<Instant> {
        let first = self.first_pending?;
        let last = self.last_event.unwrap_or(first);
        Some((last + QUIET).min(first + CAP))
    }

    /// A build starts: re-check the pending paths (an edit may have been reverted), and hand
    /// over those that still differ; their content becomes what the build sees.
    pub fn take(&mut self) -> Vec<PathBuf> {
        let paths: Vec<PathBuf> = self.pending.keys().cloned().collect();
        for p in &paths {
            let d = self.digest(p);
            if self.known.get(p) == Some(&d) {
                self.pending.remove(p);
            } else {
                self.pending.insert(p.clone(), d);
            }
        }
        let taken = std::mem::take(&mut self.pending);
        self.first_pending = None;
        let out = taken.keys().cloned().collect();
        self.known.extend(taken);
        out
    }

    /// Whether the content of `p` is known (seen by a build, or observed).
    pub fn is_known(&self, p: &Path) -> bool {
        self.known.contains_key(p)
    }

    pub fn known_files(&self) -> Vec<PathBuf> {
        self.known.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_saves_and_reverts_are_not_pending_and_edits_during_a_build_stay() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("lib.rs");
        std::fs::write(&f, "a").unwrap();
        let mut c = Changes::default();
        c.baseline([&f]);
        std::fs::write(&f, "a").unwrap();
        assert!(!c.observe(&f), "identical bytes");
        std::fs::write(&f, "b").unwrap();
        assert!(c.observe(&f));
        std::fs::write(&f, "a").unwrap();
        assert!(!c.observe(&f), "reverted before the build");
        assert!(c.due().is_none());
        std::fs::write(&f, "c").unwrap();
        assert!(c.observe(&f));
        assert_eq!(c.take(), vec![f.clone()]);
        // During the build.
        std::fs::write(&f, "d").unwrap();
        assert!(c.observe(&f));
        assert!(c.has_pending() && c.due().is_some());
        std::fs::remove_file(&f).unwrap();
        assert!(c.observe(&f), "deleted");
        assert_eq!(c.take(), vec![f.clone()]);
        let new = dir.path().join("new.rs");
        std::fs::write(&new, "").unwrap();
        assert!(c.observe(&new), "never seen: pending");
    }
}
