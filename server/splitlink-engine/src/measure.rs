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
    let mut sources = dep.files;
    for p in clippy_config_candidates(inv) {
        if !sources.contains(&p) {
            sources.push(p);
        }
    }
    Measured { sources, env: dep.env, interface, stamps }
}

/// For a unit clippy lints: every `clippy.toml`/`.clippy.toml` clippy would read, existing or
/// not (`CLIPPY_CONF_DIR`, else the package's directory and its parents). clippy lists the one
/// it read in the dep-info, but not one that does not exist yet: creating it must lint again.
fn clippy_config_candidates(inv: &crate::invocation::Invocation) -> Vec<std::path::PathBuf> {
    if !inv.env.contains_key(crate::exec::CLIPPY_DRIVER_ENV) {
        return Vec::new();
    }
    let start = inv.env.get("CLIPPY_CONF_DIR").or_else(|| inv.env.get("CARGO_MANIFEST_DIR")).map(std::path::PathBuf::from);
    let mut out = Vec::new();
    let mut dir = start.as_deref();
    while let Some(d) = dir {
        out.push(d.join("clippy.toml"));
        out.push(d.join(".clippy.toml"));
        if inv.env.contains_key("CLIPPY_CONF_DIR") {
            break;
        }
        dir = d.parent();
    }
    out
}
