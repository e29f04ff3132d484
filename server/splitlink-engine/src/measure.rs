//! What a compile left: the dep-info's files and variables, the interface digest, the outputs'
//! stamps — measured after a compile by the replay and after a capture (I/O: executor side).

use crate::depinfo;
use crate::digest::{Digest, Stamp, StatCache};
use crate::state::{UnitKind, UnitSpec};
use std::path::PathBuf;

/// What the executor measured of a unit's outputs after a successful compile.
#[derive(Debug, Default)]
pub struct Measured {
    pub sources: Vec<PathBuf>,
    pub env: Vec<(String, Option<String>)>,
    pub interface: Option<Digest>,
    pub stamps: Vec<(PathBuf, Stamp)>,
}

/// Read a unit's dep-info and fingerprint its outputs (I/O: executor side only).
pub fn measure_outputs(spec: &UnitSpec, cache: &mut StatCache) -> Measured {
    let inv = &spec.invocation;
    let dep = inv.dep_info_path().and_then(|p| std::fs::read_to_string(p).ok()).map(|t| depinfo::parse(&t, &inv.cwd)).unwrap_or_default();
    let interface = match spec.kind {
        UnitKind::Lib | UnitKind::ProcMacro => inv.interface_output().and_then(|p| cache.digest(&p).ok().flatten()),
        _ => None,
    };
    let stamps = inv.outputs().into_iter().filter_map(|p| Stamp::of(&p).map(|s| (p, s))).collect();
    Measured { sources: dep.files, env: dep.env, interface, stamps }
}
