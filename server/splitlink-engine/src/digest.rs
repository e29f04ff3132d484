//! Content digests (blake3 + length) and the stat cache that avoids re-reading unchanged files.
//!
//! Freshness is by content, never by mtime: the stat cache only decides whether a file must be
//! *re-hashed*; a stat change with identical bytes yields the same digest, and a file written within
//! the racy window of its last hash is always re-hashed.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A blake3 digest. Serialized as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        let mut h = blake3::Hasher::new();
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
        Digest(*h.finalize().as_bytes())
    }
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.short())
    }
}

/// Hex in JSON (records, explanations, the editors), 32 bytes in the binary state.
impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.hex())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return <[u8; 32]>::deserialize(d).map(Digest);
        }
        let s = String::deserialize(d)?;
        if s.len() != 64 {
            return Err(serde::de::Error::custom("digest must be 64 hex chars"));
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).map_err(serde::de::Error::custom)?;
            out[i] = u8::from_str_radix(hex, 16).map_err(serde::de::Error::custom)?;
        }
        Ok(Digest(out))
    }
}

/// Incremental hasher for composite fingerprints.
#[derive(Default)]
pub struct Hasher(blake3::Hasher);

impl Hasher {
    pub fn new(domain: &str) -> Self {
        let mut h = Hasher(blake3::Hasher::new());
        h.str(domain);
        h
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    pub fn digest(&mut self, d: &Digest) -> &mut Self {
        self.0.update(&d.0);
        self
    }
    pub fn opt_digest(&mut self, d: &Option<Digest>) -> &mut Self {
        match d {
            Some(d) => {
                self.0.update(&[1]);
                self.digest(d)
            }
            None => {
                self.0.update(&[0]);
                self
            }
        }
    }
    pub fn finish(&self) -> Digest {
        Digest(*self.0.finalize().as_bytes())
    }
}

/// Digest of a file's bytes, `None` if it does not exist.
pub fn hash_file(path: &Path) -> std::io::Result<Option<Digest>> {
    match std::fs::File::open(path) {
        Ok(mut f) => {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            Ok(Some(Digest::of(&buf)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `stat` says about a file: enough to notice that it may have changed, or been replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub len: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
}

impl Stamp {
    /// Same file with the same content as far as `stat` can tell, ignoring ctime (which a hard
    /// link to the file also changes).
    pub fn same_output(&self, other: &Stamp) -> bool {
        self.len == other.len && self.mtime_ns == other.mtime_ns && self.ino == other.ino
    }

    pub fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
            ino: m.ino(),
        })
    }
}

/// A map keyed by paths with a fast non-cryptographic hash (FxHash): the state's maps hold every
/// file of the workspace and are rebuilt on each run; SipHash of paths was a tenth of a no-op.
pub type PathMap<V> = HashMap<PathBuf, V, rustc_hash::FxBuildHasher>;

pub fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// A file written less than this long before it was hashed is hashed again next time
/// (its stat may not change on a second write within the filesystem's timestamp granularity).
const RACY_NS: i128 = 1_000_000_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CacheEntry {
    stamp: Stamp,
    hashed_at_ns: i128,
    digest: Digest,
}

/// A digest derived from a file, with the stat it was computed under (see
/// [`StatCache::record_derived`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Derived {
    pub path: PathBuf,
    pub stamp: Option<Stamp>,
    pub hashed_at_ns: i128,
    pub digest: Option<Digest>,
}

/// Compute a derived digest of `path` now (no cache).
pub fn derive(path: &Path, compute: impl FnOnce(&Path) -> Option<Digest>) -> Derived {
    let stamp = Stamp::of(path);
    let hashed_at_ns = now_ns();
    let digest = stamp.and_then(|_| compute(path));
    Derived { path: path.to_path_buf(), stamp, hashed_at_ns, digest }
}

/// Maps path → (stat, digest); content stays the only truth.
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
pub struct StatCache {
    entries: PathMap<CacheEntry>,
    /// Digests computed from a file by something other than hashing its bytes (an rlib's
    /// object members), per kind, under the same stat rule.
    #[serde(default)]
    derived: HashMap<String, PathMap<CacheEntry>>,
    #[serde(skip)]
    pub hashed: usize,
    /// Derived digests recorded since the last reset (each one a large file read: an rlib's
    /// objects hashed): a build resets it and reports it ([`crate::events::BuildSummary`]).
    #[serde(skip)]
    pub derived_recorded: usize,
    /// Derived digests computed by this cache since it was loaded, by kind (the wrapper hands
    /// them to the capture, which records them in the state's cache).
    #[serde(skip)]
    pub computed: Vec<(String, Derived)>,
}

impl StatCache {
    /// Digest of `path` (None when missing), re-reading the file unless its stat is unchanged
    /// and was not racy when last hashed.
    pub fn digest(&mut self, path: &Path) -> std::io::Result<Option<Digest>> {
        let Some(stamp) = Stamp::of(path) else {
            self.entries.remove(path);
            return Ok(None);
        };
        if let Some(e) = self.entries.get(path) {
            if e.stamp == stamp && stamp.mtime_ns + RACY_NS < e.hashed_at_ns && stamp.ctime_ns + RACY_NS < e.hashed_at_ns {
                return Ok(Some(e.digest));
            }
        }
        let hashed_at_ns = now_ns();
        let digest = hash_file(path)?;
        self.hashed += 1;
        match digest {
            Some(digest) => {
                self.entries.insert(path.to_path_buf(), CacheEntry { stamp, hashed_at_ns, digest });
            }
            None => {
                self.entries.remove(path);
            }
        }
        Ok(digest)
    }

    /// A digest `compute` derives from the file at `path` (None: missing or unreadable),
    /// recomputed unless the file's stat is unchanged and was not racy when last computed.
    pub fn derived_digest(&mut self, path: &Path, kind: &str, compute: impl FnOnce(&Path) -> Option<Digest>) -> Option<Digest> {
        if let Some(d) = self.cached_derived(path, kind) {
            return Some(d);
        }
        let d = derive(path, compute);
        let digest = d.digest;
        self.computed.push((kind.to_string(), d.clone()));
        self.record_derived(kind, d);
        digest
    }

    /// When the cached digest of `path` was computed (ns since the epoch), if there is one.
    pub fn hashed_at(&self, path: &Path) -> Option<i128> {
        self.entries.get(path).map(|e| e.hashed_at_ns)
    }

    /// The cached digest of `path`, without looking at the file (the caller knows it has not
    /// changed since it was hashed: see [`crate::decide::Watched`]).
    pub fn remembered(&self, path: &Path) -> Option<Digest> {
        self.entries.get(path).map(|e| e.digest)
    }

    /// The derived digest of `path` if the cache holds one valid for its current stat.
    pub fn cached_derived(&self, path: &Path, kind: &str) -> Option<Digest> {
        let e = self.derived.get(kind)?.get(path)?;
        let stamp = Stamp::of(path)?;
        (e.stamp == stamp && stamp.mtime_ns + RACY_NS < e.hashed_at_ns && stamp.ctime_ns + RACY_NS < e.hashed_at_ns).then_some(e.digest)
    }

    /// The derived digest of `path` if the cache holds one computed from the file as it is now
    /// (same stat), even within the racy window: for files only splitlink's own builds write,
    /// each write a new file (rustc's outputs), which a second write could not leave with the
    /// same stat.
    pub fn derived_same_file(&self, path: &Path, kind: &str) -> Option<Digest> {
        let e = self.derived.get(kind)?.get(path)?;
        (Stamp::of(path)? == e.stamp).then_some(e.digest)
    }

    /// Remember a digest computed elsewhere (another thread, the wrapper process).
    pub fn record_derived(&mut self, kind: &str, d: Derived) {
        self.hashed += 1;
        self.derived_recorded += 1;
        let map = self.derived.entry(kind.to_string()).or_default();
        match (d.stamp, d.digest) {
            (Some(stamp), Some(digest)) => {
                map.insert(d.path, CacheEntry { stamp, hashed_at_ns: d.hashed_at_ns, digest });
            }
            _ => {
                map.remove(&d.path);
            }
        }
    }

    pub fn retain(&mut self, keep: impl Fn(&Path) -> bool) {
        self.entries.retain(|p, _| keep(p));
        for m in self.derived.values_mut() {
            m.retain(|p, _| keep(p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_bytes_same_digest_after_rewrite() {
        let dir = tempfile_dir();
        let p = dir.join("a.rs");
        std::fs::write(&p, "fn main() {}").unwrap();
        let mut c = StatCache::default();
        let d1 = c.digest(&p).unwrap();
        std::fs::write(&p, "fn main() {}").unwrap();
        let d2 = c.digest(&p).unwrap();
        assert_eq!(d1, d2);
        std::fs::write(&p, "fn main() { }").unwrap();
        let d3 = c.digest(&p).unwrap();
        assert_ne!(d1, d3, "a racy rewrite with new bytes must be seen");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(c.digest(&p).unwrap(), None);
        let back: Digest = serde_json::from_str(&serde_json::to_string(&d1.unwrap()).unwrap()).unwrap();
        assert_eq!(Some(back), d1);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("splitlink-digest-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
