//! The salsa database: what is stale, what to link. **It does no I/O**: it never reads a file,
//! spawns a process or looks at the clock. The build loop (the only writer) sets inputs from
//! what the executor measured — file digests, object digests, whether a binary is still the one
//! splitlink produced — and asks these queries. Because outputs come back as inputs, salsa's
//! backdating gives exact early cutoff: identical objects mean an identical link fingerprint,
//! so `link_decision` does not change and no link runs.

use crate::digest::Digest;
use crate::fingerprint::{self, LinkDecision, LinkInputs, LinkReason};
use crate::unit::UnitKey;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[salsa::db]
#[derive(Clone, Default)]
pub struct Db {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Db {}

impl Db {
    /// A database that reports every query execution to `log` (tests prove early cutoff with it).
    pub fn with_logger(log: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> Db {
        Db {
            storage: salsa::Storage::new(Some(Box::new(move |event: salsa::Event| {
                if let salsa::EventKind::WillExecute { database_key } = event.kind {
                    log.lock().unwrap().push(format!("{database_key:?}"));
                }
            }))),
        }
    }
}

/// A source file, by content.
#[salsa::input(debug)]
pub struct File {
    #[returns(ref)]
    pub path: PathBuf,
    /// `None`: the file does not exist.
    #[returns(copy)]
    pub digest: Option<Digest>,
}

/// A file a link reads besides the unit's own objects (an rlib, a dylib, a native library),
/// with its digest as [`crate::fingerprint::link_file_digest`] measures it.
#[salsa::input(debug)]
pub struct LinkFile {
    #[returns(ref)]
    pub path: PathBuf,
    #[returns(copy)]
    pub digest: Option<Digest>,
}

/// A workspace unit (one rustc invocation) and what the executor last measured of its outputs.
#[salsa::input(debug)]
pub struct Unit {
    #[returns(ref)]
    pub key: UnitKey,
    /// Digest of the captured invocation (argv, env, cwd) and crate kind.
    #[returns(copy)]
    pub spec: Digest,
    /// Files the last compile read (from its dep-info).
    #[returns(ref)]
    pub sources: Vec<File>,
    /// Workspace units this one depends on (`--extern`).
    #[returns(ref)]
    pub deps: Vec<Unit>,
    /// Current values of the environment variables the last compile observed (`# env-dep`).
    #[returns(ref)]
    pub env_now: Vec<(String, Option<String>)>,
    /// Compiled with `-Zno-link`, linked with `-Zlink-only`.
    #[returns(copy)]
    pub linkable: bool,
    /// What the current outputs were compiled from (None: never compiled successfully).
    #[returns(ref)]
    pub built: Option<BuiltWith>,
    /// What dependents see: digest of the `.rmeta` (or a proc-macro's `.so`).
    #[returns(copy)]
    pub interface: Option<Digest>,
    /// A linkable unit's own objects (sorted content digests).
    #[returns(ref)]
    pub objects: Vec<Digest>,
    /// The files its link reads besides its own objects; `None` when unknown.
    #[returns(ref)]
    pub link_files: Option<Vec<LinkFile>>,
    /// Digest of the non-object content of the last `.rlink` (linkables).
    #[returns(copy)]
    pub rlink: Option<Digest>,
    /// Digest of the link-shaping arguments.
    #[returns(copy)]
    pub link_args: Digest,
    /// What the binary on disk was linked from.
    #[returns(ref)]
    pub last_link: Option<LinkInputs>,
    /// The linked output exists and is the file splitlink produced.
    #[returns(copy)]
    pub binary_ok: bool,
    /// The objects and `.rlink` of the last split compile are still on disk.
    #[returns(copy)]
    pub objects_present: bool,
    /// Direct dependencies this unit reads only through their `.rmeta` (`--extern x=….rmeta`:
    /// cargo's pipelining of a library on libraries): it may start once their metadata is
    /// written, before their codegen ends.
    #[returns(ref)]
    pub metadata_deps: Vec<Unit>,
    /// This unit is being compiled and its `.rmeta` is complete (rustc's artifact notification),
    /// with `interface` set from it.
    #[returns(copy)]
    pub metadata_ready: bool,
}

/// All units of the current selection, in capture order.
#[salsa::input(debug)]
pub struct Graph {
    #[returns(ref)]
    pub units: Vec<Unit>,
}

/// The inputs a compile consumed; equality with the current inputs means fresh.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuiltWith {
    pub spec: Digest,
    pub sources: Vec<(PathBuf, Option<Digest>)>,
    pub deps: Vec<(UnitKey, Option<Digest>)>,
    pub env: Vec<(String, Option<String>)>,
}

/// Why a unit must be compiled.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirtyReason {
    NeverBuilt,
    InvocationChanged,
    SourceChanged(PathBuf),
    SourceMissing(PathBuf),
    DepChanged(UnitKey),
    EnvChanged(String),
    /// Compile-fresh, but a link is needed and the objects are gone.
    ObjectsNeededForLink(LinkReason),
}

/// What the unit would be compiled from now.
#[salsa::tracked(returns(clone))]
pub fn current_inputs(db: &dyn salsa::Database, unit: Unit) -> BuiltWith {
    BuiltWith {
        spec: unit.spec(db),
        sources: unit.sources(db).iter().map(|f| (f.path(db).clone(), f.digest(db))).collect(),
        deps: unit.deps(db).iter().map(|d| (d.key(db).clone(), d.interface(db))).collect(),
        env: unit.env_now(db).clone(),
    }
}

/// Why the unit must be compiled, or None when its outputs are fresh.
#[salsa::tracked(returns(clone))]
pub fn dirty(db: &dyn salsa::Database, unit: Unit) -> Option<DirtyReason> {
    let now = current_inputs(db, unit);
    let Some(built) = unit.built(db) else { return Some(DirtyReason::NeverBuilt) };
    if built.spec != now.spec {
        return Some(DirtyReason::InvocationChanged);
    }
    for (path, digest) in &now.sources {
        let before = built.sources.iter().find(|(p, _)| p == path).map(|(_, d)| *d);
        if before != Some(*digest) {
            return Some(if digest.is_none() {
                DirtyReason::SourceMissing(path.clone())
            } else {
                DirtyReason::SourceChanged(path.clone())
            });
        }
    }
    if built.sources.len() != now.sources.len() {
        return Some(DirtyReason::InvocationChanged);
    }
    for (id, digest) in &now.deps {
        let before = built.deps.iter().find(|(d, _)| d == id).map(|(_, d)| *d);
        if before != Some(*digest) || digest.is_none() {
            return Some(DirtyReason::DepChanged(id.clone()));
        }
    }
    if built.deps.len() != now.deps.len() {
        return Some(DirtyReason::InvocationChanged);
    }
    for (k, v) in &now.env {
        if built.env.iter().find(|(b, _)| b == k).map(|(_, bv)| bv) != Some(v) {
            return Some(DirtyReason::EnvChanged(k.clone()));
        }
    }
    if unit.linkable(db) && !unit.objects_present(db) {
        if let LinkDecision::Link(reason) = link_decision(db, unit) {
            return Some(DirtyReason::ObjectsNeededForLink(reason));
        }
    }
    None
}

/// Every workspace unit this one depends on, directly or not, each once.
#[salsa::tracked(returns(ref))]
pub fn transitive_deps(db: &dyn salsa::Database, unit: Unit) -> Vec<Unit> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Unit> = Vec::new();
    for d in unit.deps(db) {
        if seen.insert(*d) {
            out.push(*d);
        }
        for t in transitive_deps(db, *d) {
            if seen.insert(*t) {
                out.push(*t);
            }
        }
    }
    out
}

/// The object fingerprint set of a linkable unit now ([`crate::fingerprint`]); `None` when the
/// files it links are unknown.
#[salsa::tracked(returns(clone))]
pub fn link_inputs(db: &dyn salsa::Database, unit: Unit) -> Option<LinkInputs> {
    let files = unit.link_files(db).as_ref()?;
    let files = files.iter().map(|f| (f.path(db).clone(), f.digest(db))).collect();
    Some(LinkInputs::new(unit.objects(db), files, unit.link_args(db), unit.rlink(db)))
}

#[salsa::tracked(returns(clone))]
pub fn link_decision(db: &dyn salsa::Database, unit: Unit) -> LinkDecision {
    if !unit.linkable(db) {
        return LinkDecision::NotLinkable;
    }
    let now = link_inputs(db, unit);
    fingerprint::decide(unit.last_link(db).as_ref(), now.as_ref(), unit.binary_ok(db))
}

/// Units that must be compiled and can be now: dirty, with every dependency settled — clean,
/// or (pipelining, as cargo) a library still in codegen whose `.rmeta` is complete, when this
/// unit reads its dependencies as metadata (cargo passed it `.rmeta`s: a library that links
/// nothing; a binary gets `.rlib`s and waits) and this one as such (a direct dependency passed
/// as `.rmeta`; a transitive one is found by rustc through its `.rmeta` too).
#[salsa::tracked(returns(ref))]
pub fn ready_to_compile(db: &dyn salsa::Database, graph: Graph) -> Vec<Unit> {
    graph
        .units(db)
        .iter()
        .copied()
        .filter(|u| {
            dirty(db, *u).is_some()
                && transitive_deps(db, *u).iter().all(|d| {
                    dirty(db, *d).is_none()
                        || (d.metadata_ready(db)
                            && !u.metadata_deps(db).is_empty()
                            && (u.metadata_deps(db).contains(d) || !u.deps(db).contains(d)))
                })
        })
        .collect()
}

/// Linkable units whose compile is settled and whose object fingerprint set changed.
#[salsa::tracked(returns(ref))]
pub fn ready_to_link(db: &dyn salsa::Database, graph: Graph) -> Vec<Unit> {
    graph
        .units(db)
        .iter()
        .copied()
        .filter(|u| {
            u.linkable(db)
                && u.objects_present(db)
                && dirty(db, *u).is_none()
                && transitive_deps(db, *u).iter().all(|d| dirty(db, *d).is_none())
                && matches!(link_decision(db, *u), LinkDecision::Link(_))
        })
        .collect()
}

/// Whether anything remains to do (used to finish the build loop).
pub fn all_settled(db: &Db, graph: Graph) -> bool {
    ready_to_compile(db, graph).is_empty() && ready_to_link(db, graph).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::Mode;
    use salsa::Setter;
    use std::sync::{Arc, Mutex};

    fn d(n: u8) -> Digest {
        Digest([n; 32])
    }

    fn key(kind: &str, name: &str) -> UnitKey {
        UnitKey {
            package_id: format!("path+file:///ws/{name}#0.1.0"),
            kind: kind.into(),
            name: name.into(),
            crate_types: vec![kind.into()],
            mode: Mode::Build,
            profile: "dev".into(),
            features: vec![],
            target: None,
            metadata: String::new(),
        }
    }

    struct Setup {
        db: Db,
        log: Arc<Mutex<Vec<String>>>,
        lib_src: File,
        lib_rlib: LinkFile,
        outside_rlib: LinkFile,
        lib: Unit,
        bin: Unit,
        graph: Graph,
    }

    /// A lib and a bin that links it (and an rlib from outside the workspace), built and linked
    /// once.
    fn setup() -> Setup {
        let log = Arc::new(Mutex::new(Vec::new()));
        let db = Db::with_logger(log.clone());
        let lib_src = File::new(&db, "util/src/lib.rs".into(), Some(d(1)));
        let bin_src = File::new(&db, "app/src/main.rs".into(), Some(d(2)));
        let lib_rlib = LinkFile::new(&db, "/t/deps/libutil-1.rlib".into(), Some(d(11)));
        let outside_rlib = LinkFile::new(&db, "/t/deps/liboutside-2.rlib".into(), Some(d(12)));
        let built = |srcs: Vec<(PathBuf, Option<Digest>)>, deps| BuiltWith { spec: d(9), sources: srcs, deps, env: vec![] };
        #[rustfmt::skip]
        let lib = Unit::new(&db, key("lib", "util"), d(9), vec![lib_src], vec![], vec![], false,
            Some(built(vec![("util/src/lib.rs".into(), Some(d(1)))], vec![])), Some(d(10)), vec![], None, None, d(0), None, true, false, vec![], false);
        #[rustfmt::skip]
        let bin = Unit::new(&db, key("bin", "app"), d(9), vec![bin_src], vec![lib], vec![], true,
            Some(built(vec![("app/src/main.rs".into(), Some(d(2)))], vec![(key("lib", "util"), Some(d(10)))])), None, vec![d(20)],
            Some(vec![lib_rlib, outside_rlib]), Some(d(21)), d(22), None, true, false, vec![], false);
        let inputs = link_inputs(&db, bin).clone();
        let mut db = db;
        bin.set_last_link(&mut db).to(inputs);
        let graph = Graph::new(&db, vec![lib, bin]);
        Setup { db, log, lib_src, lib_rlib, outside_rlib, lib, bin, graph }
    }

    fn ran(log: &Arc<Mutex<Vec<String>>>, q: &str) -> bool {
        log.lock().unwrap().iter().any(|e| e.starts_with(&format!("{q}(")))
    }

    #[test]
    fn fresh_graph_has_nothing_to_do() {
        let s = setup();
        assert_eq!(dirty(&s.db, s.lib), None);
        assert_eq!(dirty(&s.db, s.bin), None);
        assert_eq!(link_decision(&s.db, s.bin), LinkDecision::UpToDate);
        assert!(all_settled(&s.db, s.graph));
    }

    #[test]
    fn lib_edit_with_identical_objects_does_not_relink() {
        let Setup { mut db, log, lib_src, lib_rlib, lib, bin, graph, .. } = setup();
        // The lib's source changes: it must compile; the bin waits for it.
        lib_src.set_digest(&mut db).to(Some(d(3)));
        assert!(matches!(dirty(&db, lib), Some(DirtyReason::SourceChanged(_))));
        assert_eq!(ready_to_compile(&db, graph), &vec![lib]);
        // The executor reports: new rmeta, but byte-identical objects (an EOL comment).
        let now = current_inputs(&db, lib);
        lib.set_built(&mut db).to(Some(now));
        lib.set_interface(&mut db).to(Some(d(12)));
        lib_rlib.set_digest(&mut db).to(Some(d(11)));
        assert_eq!(dirty(&db, bin), Some(DirtyReason::DepChanged(key("lib", "util"))));
        assert_eq!(ready_to_compile(&db, graph), &vec![bin]);
        // The bin compiles to the same objects.
        let now = current_inputs(&db, bin);
        bin.set_built(&mut db).to(Some(now));
        bin.set_objects(&mut db).to(vec![d(20)]);
        bin.set_objects_present(&mut db).to(true);
        log.lock().unwrap().clear();
        assert_eq!(link_decision(&db, bin), LinkDecision::UpToDate);
        assert!(ready_to_link(&db, graph).is_empty());
        // Early cutoff: the link inputs were recomputed (their inputs were set), found equal,
        // and so the link decision itself did not need to run again.
        assert!(ran(&log, "link_inputs"), "{:?}", log.lock().unwrap());
        assert!(!ran(&log, "link_decision"), "{:?}", log.lock().unwrap());
    }

    #[test]
    fn changed_objects_relink_and_missing_binary_needs_objects() {
        let Setup { mut db, lib_rlib, outside_rlib, bin, graph, .. } = setup();
        lib_rlib.set_digest(&mut db).to(Some(d(13)));
        bin.set_objects_present(&mut db).to(true);
        match link_decision(&db, bin) {
            LinkDecision::Link(LinkReason::ObjectsChanged { own, files, .. }) => {
                assert!(!own);
                assert_eq!(files, vec![PathBuf::from("/t/deps/libutil-1.rlib")]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ready_to_link(&db, graph), &vec![bin]);
        // Without objects on disk, a needed link means recompiling the bin first.
        bin.set_objects_present(&mut db).to(false);
        assert!(matches!(dirty(&db, bin), Some(DirtyReason::ObjectsNeededForLink(_))));
        // A deleted binary with unchanged objects still needs a link.
        lib_rlib.set_digest(&mut db).to(Some(d(11)));
        bin.set_binary_ok(&mut db).to(false);
        assert_eq!(link_decision(&db, bin), LinkDecision::Link(LinkReason::BinaryMissingOrReplaced));
        // An rlib from outside the workspace (a path dependency cargo rebuilt) relinks too.
        bin.set_binary_ok(&mut db).to(true);
        outside_rlib.set_digest(&mut db).to(Some(d(99)));
        assert!(
            matches!(link_decision(&db, bin), LinkDecision::Link(LinkReason::ObjectsChanged { ref files, .. }) if files == &vec![PathBuf::from("/t/deps/liboutside-2.rlib")])
        );
        // Files that cannot be determined: always link.
        outside_rlib.set_digest(&mut db).to(Some(d(12)));
        assert_eq!(link_decision(&db, bin), LinkDecision::UpToDate);
        bin.set_link_files(&mut db).to(None);
        assert_eq!(link_decision(&db, bin), LinkDecision::Link(LinkReason::InputsUnknown));
    }
}
