//! Object fingerprints: the content of `.rcgu.o` files and of rlib object members.
//!
//! Identity is by content only. rustc names objects `<stem>.<cgu>.<session>.rcgu.o` with a
//! per-session suffix, so names are never part of a fingerprint; `lib.rmeta` is not an object.

use crate::digest::{Digest, Hasher};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a readable archive: {msg}")]
    Archive { path: PathBuf, msg: String },
}

/// The `.rcgu.o` files a `-Zno-link` compile of `stem` left in `out_dir`.
pub fn own_object_files(out_dir: &Path, stem: &str) -> Vec<PathBuf> {
    let prefix = format!("{stem}.");
    let Ok(rd) = std::fs::read_dir(out_dir) else { return vec![] };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".rcgu.o")))
        .collect();
    v.sort();
    v
}

/// Sorted content digests of the given files.
pub fn hash_files(paths: &[PathBuf]) -> Result<Vec<Digest>, ObjectError> {
    let mut v = Vec::with_capacity(paths.len());
    for p in paths {
        let bytes = std::fs::read(p).map_err(|source| ObjectError::Io { path: p.clone(), source })?;
        v.push(Digest::of(&bytes));
    }
    v.sort();
    Ok(v)
}

/// Sorted content digests of an rlib's object members (everything but `lib.rmeta` and the
/// archive symbol table).
pub fn rlib_object_digests(rlib: &Path) -> Result<Vec<Digest>, ObjectError> {
    let data = std::fs::read(rlib).map_err(|source| ObjectError::Io { path: rlib.to_path_buf(), source })?;
    let archive = object::read::archive::ArchiveFile::parse(&*data)
        .map_err(|e| ObjectError::Archive { path: rlib.to_path_buf(), msg: e.to_string() })?;
    let mut v = Vec::new();
    for member in archive.members() {
        let member = member.map_err(|e| ObjectError::Archive { path: rlib.to_path_buf(), msg: e.to_string() })?;
        let name = String::from_utf8_lossy(member.name());
        if name == "lib.rmeta" || name.ends_with(".rmeta") {
            continue;
        }
        let bytes = member.data(&*data).map_err(|e| ObjectError::Archive { path: rlib.to_path_buf(), msg: e.to_string() })?;
        v.push(Digest::of(bytes));
    }
    v.sort();
    Ok(v)
}

/// Digest of a sorted digest set.
pub fn set_digest(domain: &str, set: &[Digest]) -> Digest {
    let mut h = Hasher::new(domain);
    for d in set {
        h.digest(d);
    }
    h.finish()
}

/// A digest of everything in a `.rlink` besides object paths: the printable strings it holds
/// (rustc version, native libraries, used crate sources, exported and linked symbols, target
/// cpu) in order, leaving out the strings that name this session's objects (`*.rcgu.o`) and
/// incremental-cache files (under `session_dirs`), which change every session. rustc's rlink encoding is internal and
/// versioned, so this deliberately reads only strings rather than decoding the structure.
pub fn rlink_digest(rlink: &Path, session_dirs: &[PathBuf]) -> Result<Digest, ObjectError> {
    let data = std::fs::read(rlink).map_err(|source| ObjectError::Io { path: rlink.to_path_buf(), source })?;
    let skip: Vec<Vec<u8>> = session_dirs.iter().map(|d| d.to_string_lossy().as_bytes().to_vec()).collect();
    let mut h = Hasher::new("rlink-strings");
    let mut i = 0;
    while i < data.len() {
        if !is_printable(data[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < data.len() && is_printable(data[i]) {
            i += 1;
        }
        let s = &data[start..i];
        if s.len() < 4 {
            continue;
        }
        if skip.iter().any(|d| contains(s, d)) || s.ends_with(b".rcgu.o") {
            continue;
        }
        h.bytes(s);
    }
    Ok(h.finish())
}

fn is_printable(b: u8) -> bool {
    (0x21..0x7f).contains(&b)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
