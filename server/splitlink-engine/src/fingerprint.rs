//! The one definition of what a link consumes (the **object fingerprint set**) and of the rule
//! that decides whether to link. The database (`db::link_inputs`, `db::link_decision`), the
//! capture (which records what the wrapper linked) and the wrapper (which decides under cargo)
//! all call these functions; none computes a fingerprint of its own.
//!
//! A link reads:
//! - its own objects (`.rcgu.o` of the `-Zno-link` compile), by content;
//! - every library file it links that is not part of the toolchain: each rlib named in the
//!   `.rlink` (workspace members, path dependencies outside the workspace, registry and git
//!   dependencies alike), by the content of its object members; dylibs by content;
//! - native libraries its arguments name (`-l` found in its `-L` directories) and files named in
//!   `-C link-arg(s)` or as `-C linker`, by content;
//! - its arguments; the non-object strings of the `.rlink` (which hold the rustc version, native
//!   libraries, exported symbols).
//!
//! The toolchain's own libraries (under `lib/rustlib/`) are covered by the rustc version.

use crate::digest::{Digest, Hasher, StatCache};
use crate::invocation::Invocation;
use crate::objects::{rlib_object_digests, set_digest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a link consumed: the object fingerprint set.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkInputs {
    /// Set digest of the unit's own objects.
    pub own: Digest,
    /// Every linked library and native file with its digest (`None`: missing or unreadable),
    /// sorted by path.
    pub files: Vec<(PathBuf, Option<Digest>)>,
    /// Link arguments and rustc version.
    pub args: Digest,
    /// Non-object content of the `.rlink`.
    pub rlink: Option<Digest>,
}

impl LinkInputs {
    pub fn new(own_objects: &[Digest], mut files: Vec<(PathBuf, Option<Digest>)>, args: Digest, rlink: Option<Digest>) -> LinkInputs {
        files.sort();
        files.dedup();
        LinkInputs { own: set_digest("own-objects", own_objects), files, args, rlink }
    }
}

/// Why a linkable unit must be linked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkReason {
    NeverLinked,
    BinaryMissingOrReplaced,
    /// The set of files the link reads, or the content of one of them, could not be determined
    /// (an `.rlink` this version of splitlink cannot read, a library it cannot read): always link.
    InputsUnknown,
    ObjectsChanged {
        own: bool,
        files: Vec<PathBuf>,
        args: bool,
        rlink: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkDecision {
    NotLinkable,
    /// The binary on disk was linked from exactly these inputs: skip.
    UpToDate,
    Link(LinkReason),
}

/// The link rule. `now` is `None` when the inputs could not be determined.
pub fn decide(last: Option<&LinkInputs>, now: Option<&LinkInputs>, binary_ok: bool) -> LinkDecision {
    let Some(last) = last else { return LinkDecision::Link(LinkReason::NeverLinked) };
    if !binary_ok {
        return LinkDecision::Link(LinkReason::BinaryMissingOrReplaced);
    }
    let Some(now) = now else { return LinkDecision::Link(LinkReason::InputsUnknown) };
    // A file whose content could not be measured (unreadable, missing) is never "unchanged":
    // two unknowns are not equal.
    if now.files.iter().chain(&last.files).any(|(_, d)| d.is_none()) {
        return LinkDecision::Link(LinkReason::InputsUnknown);
    }
    if last == now {
        return LinkDecision::UpToDate;
    }
    let mut files: Vec<PathBuf> = now
        .files
        .iter()
        .filter(|(p, d)| last.files.iter().find(|(l, _)| l == p).map(|(_, ld)| ld) != Some(d))
        .map(|(p, _)| p.clone())
        .collect();
    files.extend(last.files.iter().filter(|(p, _)| !now.files.iter().any(|(n, _)| n == p)).map(|(p, _)| p.clone()));
    LinkDecision::Link(LinkReason::ObjectsChanged {
        own: last.own != now.own,
        files,
        args: last.args != now.args,
        rlink: last.rlink != now.rlink,
    })
}

/// Whether `file` is the binary splitlink linked at `bin` (same size, mtime and inode as recorded
/// in `outputs` when it linked it): `file` is `bin` itself, or the hard link kept of it.
pub fn is_our_binary(file: &Path, bin: &Path, outputs: &[(PathBuf, crate::digest::Stamp)]) -> bool {
    let Some(recorded) = outputs.iter().find(|(p, _)| p == bin).map(|(_, s)| *s) else { return false };
    crate::digest::Stamp::of(file).is_some_and(|s| s.same_output(&recorded))
}

/// Digest of the arguments that shape a link. (The compiler's version is in the `.rlink`.)
/// The link-shaping arguments' digest: the invocation's, and `extra` (fast mode's linker
/// arguments, added to every `-Zlink-only` step).
pub fn link_args_digest(inv: &Invocation, extra: &[String]) -> Digest {
    let mut h = Hasher::new("link-args");
    for (f, v) in inv.link_relevant_args() {
        h.str(f).str(v);
    }
    for a in extra {
        h.str("extra").str(a);
    }
    h.finish()
}

/// A file of the toolchain (covered by the rustc version).
fn in_toolchain(p: &Path) -> bool {
    p.to_string_lossy().contains("/lib/rustlib/")
}

/// The library paths a `.rlink` names (rustc's crate sources for the link), read from its
/// encoding of strings: a LEB128 length, the bytes, and the string sentinel byte `0xC1`.
/// `None` when the file names no library at all (every Rust link has at least `core`): the
/// encoding is not what this version understands.
pub fn rlink_libraries(rlink: &[u8]) -> Option<Vec<PathBuf>> {
    const SENTINEL: u8 = 0xC1;
    let mut out: Vec<PathBuf> = Vec::new();
    let mut any = false;
    for ext in [&b".rlib"[..], b".so"] {
        let mut i = 0;
        while let Some(pos) = find(&rlink[i..], ext) {
            let end = i + pos + ext.len();
            i = end;
            if rlink.get(end) != Some(&SENTINEL) {
                continue;
            }
            // The longest candidate: a suffix of the path can look like a string too (in
            // `/tmp/x3/ws/target/…/libutil-….rlib`, the byte `3` is the length of the suffix
            // `/ws/…`, 51). A longer false candidate would span the previous string's sentinel,
            // `0xC1`, which is never valid UTF-8.
            let mut found = None;
            for len in 2..=end.min(8192) {
                let start = end - len;
                if rlink[start] != b'/' {
                    continue;
                }
                let enc = leb128(len);
                if start >= enc.len() && rlink[start - enc.len()..start] == enc[..] {
                    if let Ok(s) = std::str::from_utf8(&rlink[start..end]) {
                        found = Some(PathBuf::from(s));
                    }
                }
            }
            if let Some(p) = found {
                any = true;
                if !in_toolchain(&p) && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    if !any {
        return None;
    }
    out.sort();
    Some(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(b);
            return v;
        }
        v.push(b | 0x80);
    }
}

/// Native files the link arguments name: `-l [KIND[:MODIFIERS]=]NAME[:RENAME]` looked up as
/// `libNAME.a` / `libNAME.so` / `NAME` in the `-L` directories, and `-C link-arg(s)` / `-C
/// linker` values that are existing files. System directories are not searched (only the `-L`
/// paths the invocation gives).
pub fn native_files(inv: &Invocation) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut libs: Vec<String> = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for (flag, value) in inv.flag_values() {
        match flag.as_str() {
            "-L" => {
                let (kind, path) = value
                    .split_once('=')
                    .filter(|(k, _)| matches!(*k, "native" | "all" | "dependency" | "crate" | "framework"))
                    .unwrap_or(("all", value.as_str()));
                if matches!(kind, "native" | "all") {
                    dirs.push(inv.cwd.join(path));
                }
            }
            "-l" => {
                let name = value.rsplit_once('=').map(|(_, n)| n).unwrap_or(&value);
                let name = name.split(':').next().unwrap_or(name);
                libs.push(name.to_string());
            }
            "-C" | "--codegen" => {
                if let Some(v) = value.strip_prefix("link-arg=").or_else(|| value.strip_prefix("linker=")) {
                    let p = inv.cwd.join(v);
                    if v.contains('/') && p.is_file() {
                        files.push(p);
                    }
                } else if let Some(v) = value.strip_prefix("link-args=") {
                    for a in v.split_whitespace() {
                        let p = inv.cwd.join(a);
                        if a.contains('/') && p.is_file() {
                            files.push(p);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for lib in libs {
        for d in &dirs {
            for cand in [format!("lib{lib}.a"), format!("lib{lib}.so"), lib.clone()] {
                let p = d.join(&cand);
                if p.is_file() {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The files a link reads besides its own objects (see the module docs), from the `.rlink` of
/// its `-Zno-link` compile. `None` when the `.rlink` cannot be read.
pub fn link_files(inv: &Invocation) -> Option<Vec<PathBuf>> {
    let bytes = std::fs::read(inv.rlink_path()?).ok()?;
    let mut v = rlink_libraries(&bytes)?;
    v.extend(native_files(inv));
    v.sort();
    v.dedup();
    Some(v)
}

/// The digest of one linked file as the fingerprint counts it: an rlib by the content of its
/// object members (its metadata is not linked), anything else by content. Re-read only when
/// the file's stat changed (`StatCache`).
pub fn link_file_digest(p: &Path, cache: &mut StatCache) -> Option<Digest> {
    if is_rlib(p) {
        cache.derived_digest(p, RLIB_OBJECTS, rlib_objects_digest)
    } else {
        cache.digest(p).ok().flatten()
    }
}

/// [`link_file_digest`] of a library the workspace's own build wrote (an output of one of its
/// units: a new file per compile), taken from the cache while its stat is the one hashed.
pub fn own_link_file_digest(p: &Path, cache: &mut StatCache) -> Option<Digest> {
    match is_rlib(p).then(|| cache.derived_same_file(p, RLIB_OBJECTS)).flatten() {
        Some(d) => Some(d),
        None => link_file_digest(p, cache),
    }
}

/// The cache kind of rlib object-set digests.
pub const RLIB_OBJECTS: &str = "rlib-objects";

pub fn is_rlib(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "rlib")
}

/// The digest of an rlib's object members (what [`link_file_digest`] counts for an rlib),
/// uncached: for measuring on another thread ([`crate::digest::derive`]).
pub fn rlib_objects_digest(p: &Path) -> Option<Digest> {
    rlib_object_digests(p).ok().map(|d| set_digest(RLIB_OBJECTS, &d))
}

/// Measure the inputs of a link now (I/O): the executor and the wrapper call this after a
/// `-Zno-link` compile whose own objects are `own_objects`.
pub fn measure(inv: &Invocation, own_objects: &[Digest], rlink: Digest, cache: &mut StatCache, extra: &[String]) -> Option<LinkInputs> {
    let files = link_files(inv)?;
    let files = files.into_iter().map(|p| {
        let d = link_file_digest(&p, cache);
        (p, d)
    });
    Some(LinkInputs::new(own_objects, files.collect(), link_args_digest(inv, extra), Some(rlink)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(s: &str) -> Vec<u8> {
        let mut v = leb128(s.len());
        v.extend_from_slice(s.as_bytes());
        v.push(0xC1);
        v
    }

    #[test]
    fn reads_library_paths_from_rlink_strings() {
        let mut data = vec![0u8, 7, 9];
        data.extend(encoded("/ws/target/debug/deps/liboutside-c2ad.rlib"));
        data.extend([3, 4]);
        data.extend(encoded("/home/u/.rustup/toolchains/x/lib/rustlib/x86_64/lib/libstd-1.rlib"));
        // A path whose length byte happens to be a printable `/` (47 bytes).
        let p47 = format!("/ws/{}.rlib", "a".repeat(47 - 9));
        assert_eq!(p47.len(), 47);
        data.extend(encoded(&p47));
        let long = format!("/ws/{}/libx.rlib", "d".repeat(200));
        data.extend(encoded(&long));
        // A path with a suffix that reads as a string too: the `3` before `/ws/…` is 51, the
        // suffix's length (a temporary directory's random name did this in CI).
        let tricky = "/tmp/.tmp6ueEk3/ws/target/debug/deps/libutil-4b848ec1c01b4e81.rlib";
        assert_eq!(tricky[tricky.find("/ws/").unwrap()..].len(), b'3' as usize);
        data.extend([1, 0]);
        data.extend(encoded(tricky));
        let got = rlink_libraries(&data).unwrap();
        let mut want = vec![
            PathBuf::from("/ws/target/debug/deps/liboutside-c2ad.rlib"),
            PathBuf::from(p47),
            PathBuf::from(long),
            PathBuf::from(tricky),
        ];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(rlink_libraries(b"no libraries here"), None);
    }

    #[test]
    fn decision_names_what_changed() {
        let a = LinkInputs::new(
            &[],
            vec![("/a.rlib".into(), Some(Digest([1; 32]))), ("/b.rlib".into(), Some(Digest([2; 32])))],
            Digest([0; 32]),
            None,
        );
        let mut b = a.clone();
        b.files[1].1 = Some(Digest([3; 32]));
        assert_eq!(decide(Some(&a), Some(&a), true), LinkDecision::UpToDate);
        assert_eq!(
            decide(Some(&a), Some(&b), true),
            LinkDecision::Link(LinkReason::ObjectsChanged { own: false, files: vec!["/b.rlib".into()], args: false, rlink: false })
        );
        assert_eq!(decide(Some(&a), None, true), LinkDecision::Link(LinkReason::InputsUnknown));
        assert_eq!(decide(Some(&a), Some(&a), false), LinkDecision::Link(LinkReason::BinaryMissingOrReplaced));
        assert_eq!(decide(None, Some(&a), true), LinkDecision::Link(LinkReason::NeverLinked));
        // A library that could not be measured, before and now: not "unchanged".
        let mut unknown = a.clone();
        unknown.files[0].1 = None;
        assert_eq!(decide(Some(&unknown), Some(&unknown), true), LinkDecision::Link(LinkReason::InputsUnknown));
        assert_eq!(decide(Some(&a), Some(&unknown), true), LinkDecision::Link(LinkReason::InputsUnknown));
    }
}
