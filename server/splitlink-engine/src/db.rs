//! The salsa database: what is stale, what to link. **It does no I/O**: it never reads a file,
//! spawns a process or looks at the clock. The build loop (the only writer) sets inputs from
//! what the executor measured — file digests, object digests, whether a binary is still the one
//! splitlink produced — and asks these queries. Because outputs come back as inputs, salsa's
//! backdating gives exact early cutoff: identical objects mean an identical link fingerprint,
//! so `link_decision` does not change and no link runs.

use crate::digest::{Digest, Hasher};
use crate::objects::set_digest;
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

/// A workspace unit (one rustc invocation) and what the executor last measured of its outputs.
#[salsa::input(debug)]
pub struct Unit {
    #[returns(ref)]
    pub id: String,
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
    #[returns(copy)]
    pub linkable: bool,
    /// What the current outputs were compiled from (None: never compiled successfully).
    #[returns(ref)]
    pub built: Option<BuiltWith>,
    /// What dependents see: digest of the `.rmeta` (or a proc-macro's `.so`).
    #[returns(copy)]
    pub interface: Option<Digest>,
    /// Sorted object digests: rlib members for libraries, own `.rcgu.o` files for linkables.
    #[returns(ref)]
    pub objects: Vec<Digest>,
    /// Digest of the non-object content of the last `.rlink` (linkables).
    #[returns(copy)]
    pub rlink: Option<Digest>,
    /// Digest of the link-shaping arguments and the rustc version.
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
    pub deps: Vec<(String, Option<Digest>)>,
    pub env: Vec<(String, Option<String>)>,
}

/// What a link consumed: the object fingerprint set and link arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkInputs {
    pub own: Digest,
    pub deps: Vec<(String, Digest)>,
    pub args: Digest,
    pub rlink: Option<Digest>,
}

impl LinkInputs {
    pub fn fingerprint(&self) -> Digest {
        let mut h = Hasher::new("link");
        h.digest(&self.own).digest(&self.args).opt_digest(&self.rlink);
        for (id, d) in &self.deps {
            h.str(id).digest(d);
        }
        h.finish()
    }
}

/// Why a unit must be compiled.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DirtyReason {
    NeverBuilt,
    InvocationChanged,
    SourceChanged(PathBuf),
    SourceMissing(PathBuf),
    DepChanged(String),
    EnvChanged(String),
    /// Compile-fresh, but a link is needed and the objects are gone.
    ObjectsNeededForLink(LinkReason),
}

impl std::fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirtyReason::NeverBuilt => write!(f, "not built by splitlink yet"),
            DirtyReason::InvocationChanged => write!(f, "its rustc invocation changed"),
            DirtyReason::SourceChanged(p) => write!(f, "{} changed", p.display()),
            DirtyReason::SourceMissing(p) => write!(f, "{} was deleted", p.display()),
            DirtyReason::DepChanged(d) => write!(f, "the interface (.rmeta) of dependency `{d}` changed"),
            DirtyReason::EnvChanged(v) => write!(f, "environment variable {v} changed"),
            DirtyReason::ObjectsNeededForLink(r) => write!(f, "a relink is needed ({r}) and its objects were already consumed"),
        }
    }
}

/// Why a linkable unit must be linked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkReason {
    NeverLinked,
    BinaryMissingOrReplaced,
    ObjectsChanged { own: bool, deps: Vec<String>, args: bool, rlink: bool },
}

impl std::fmt::Display for LinkReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkReason::NeverLinked => write!(f, "never linked by splitlink"),
            LinkReason::BinaryMissingOrReplaced => write!(f, "the binary is missing or is not the one splitlink linked"),
            LinkReason::ObjectsChanged { own, deps, args, rlink } => {
                let mut parts = Vec::new();
                if *own {
                    parts.push("its own objects changed".to_string());
                }
                for d in deps {
                    parts.push(format!("objects of `{d}` changed"));
                }
                if *args {
                    parts.push("link arguments changed".into());
                }
                if *rlink {
                    parts.push("link metadata (native libraries, symbols) changed".into());
                }
                if parts.is_empty() {
                    parts.push("the dependency set changed".into());
                }
                write!(f, "{}", parts.join(", "))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkDecision {
    NotLinkable,
    /// The binary on disk was linked from exactly these objects: skip.
    UpToDate,
    Link(LinkReason),
}

/// What the unit would be compiled from now.
#[salsa::tracked(returns(clone))]
pub fn current_inputs(db: &dyn salsa::Database, unit: Unit) -> BuiltWith {
    BuiltWith {
        spec: unit.spec(db),
        sources: unit.sources(db).iter().map(|f| (f.path(db).clone(), f.digest(db))).collect(),
        deps: unit.deps(db).iter().map(|d| (d.id(db).clone(), d.interface(db))).collect(),
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
            return Some(if digest.is_none() { DirtyReason::SourceMissing(path.clone()) } else { DirtyReason::SourceChanged(path.clone()) });
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

/// The object fingerprint set of a linkable unit: its own objects, the object members of every
/// workspace rlib it links, the link arguments and the non-object link metadata.
#[salsa::tracked(returns(clone))]
pub fn link_inputs(db: &dyn salsa::Database, unit: Unit) -> Option<LinkInputs> {
    if !unit.linkable(db) {
        return None;
    }
    let mut deps: Vec<(String, Digest)> = transitive_deps(db, unit)
        .iter()
        .map(|d| (d.id(db).clone(), set_digest("rlib-objects", d.objects(db))))
        .collect();
    deps.sort();
    Some(LinkInputs { own: set_digest("own-objects", unit.objects(db)), deps, args: unit.link_args(db), rlink: unit.rlink(db) })
}

#[salsa::tracked(returns(clone))]
pub fn link_decision(db: &dyn salsa::Database, unit: Unit) -> LinkDecision {
    let Some(now) = link_inputs(db, unit) else { return LinkDecision::NotLinkable };
    let Some(last) = unit.last_link(db) else { return LinkDecision::Link(LinkReason::NeverLinked) };
    if !unit.binary_ok(db) {
        return LinkDecision::Link(LinkReason::BinaryMissingOrReplaced);
    }
    if *last == now {
        return LinkDecision::UpToDate;
    }
    let deps = now
        .deps
        .iter()
        .filter(|(id, d)| last.deps.iter().find(|(l, _)| l == id).map(|(_, ld)| ld) != Some(d))
        .map(|(id, _)| id.clone())
        .collect();
    LinkDecision::Link(LinkReason::ObjectsChanged { own: last.own != now.own, deps, args: last.args != now.args, rlink: last.rlink != now.rlink })
}

/// Units that must be compiled and can be now: dirty, with every dependency settled (clean).
#[salsa::tracked(returns(ref))]
pub fn ready_to_compile(db: &dyn salsa::Database, graph: Graph) -> Vec<Unit> {
    graph
        .units(db)
        .iter()
        .copied()
        .filter(|u| dirty(db, *u).is_some() && transitive_deps(db, *u).iter().all(|d| dirty(db, *d).is_none()))
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
    use salsa::Setter;
    use std::sync::{Arc, Mutex};

    fn d(n: u8) -> Digest {
        Digest([n; 32])
    }

    /// A lib and a bin that links it, built and linked once; returns (db, log, file, lib, bin, graph).
    fn setup() -> (Db, Arc<Mutex<Vec<String>>>, File, Unit, Unit, Graph) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let db = Db::with_logger(log.clone());
        let lib_src = File::new(&db, "util/src/lib.rs".into(), Some(d(1)));
        let bin_src = File::new(&db, "app/src/main.rs".into(), Some(d(2)));
        let built = |srcs: Vec<(PathBuf, Option<Digest>)>, deps| BuiltWith { spec: d(9), sources: srcs, deps, env: vec![] };
        let lib = Unit::new(&db, "util".into(), d(9), vec![lib_src], vec![], vec![], false,
            Some(built(vec![("util/src/lib.rs".into(), Some(d(1)))], vec![])), Some(d(10)), vec![d(11)], None, d(0), None, true, false);
        let bin = Unit::new(&db, "app".into(), d(9), vec![bin_src], vec![lib], vec![], true,
            Some(built(vec![("app/src/main.rs".into(), Some(d(2)))], vec![("util".into(), Some(d(10)))])), None, vec![d(20)], Some(d(21)), d(22), None, true, false);
        let inputs = link_inputs(&db, bin).clone();
        let mut db = db;
        bin.set_last_link(&mut db).to(inputs);
        let graph = Graph::new(&db, vec![lib, bin]);
        (db, log, lib_src, lib, bin, graph)
    }

    fn ran(log: &Arc<Mutex<Vec<String>>>, q: &str) -> bool {
        log.lock().unwrap().iter().any(|e| e.starts_with(&format!("{q}(")))
    }

    #[test]
    fn fresh_graph_has_nothing_to_do() {
        let (db, _, _, lib, bin, graph) = setup();
        assert_eq!(dirty(&db, lib), None);
        assert_eq!(dirty(&db, bin), None);
        assert_eq!(link_decision(&db, bin), LinkDecision::UpToDate);
        assert!(all_settled(&db, graph));
    }

    #[test]
    fn lib_edit_with_identical_objects_does_not_relink() {
        let (mut db, log, lib_src, lib, bin, graph) = setup();
        // The lib's source changes: it must compile; the bin waits for it.
        lib_src.set_digest(&mut db).to(Some(d(3)));
        assert!(matches!(dirty(&db, lib), Some(DirtyReason::SourceChanged(_))));
        assert_eq!(ready_to_compile(&db, graph), &vec![lib]);
        // The executor reports: new rmeta, but byte-identical objects (an EOL comment).
        let now = current_inputs(&db, lib);
        lib.set_built(&mut db).to(Some(now));
        lib.set_interface(&mut db).to(Some(d(12)));
        lib.set_objects(&mut db).to(vec![d(11)]);
        assert_eq!(dirty(&db, bin), Some(DirtyReason::DepChanged("util".into())));
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
        let (mut db, _, _, lib, bin, graph) = setup();
        lib.set_objects(&mut db).to(vec![d(13)]);
        bin.set_objects_present(&mut db).to(true);
        match link_decision(&db, bin) {
            LinkDecision::Link(LinkReason::ObjectsChanged { own, deps, .. }) => {
                assert!(!own);
                assert_eq!(deps, vec!["util".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ready_to_link(&db, graph), &vec![bin]);
        // Without objects on disk, a needed link means recompiling the bin first.
        bin.set_objects_present(&mut db).to(false);
        assert!(matches!(dirty(&db, bin), Some(DirtyReason::ObjectsNeededForLink(_))));
        // A deleted binary with unchanged objects still needs a link.
        lib.set_objects(&mut db).to(vec![d(11)]);
        bin.set_binary_ok(&mut db).to(false);
        assert_eq!(link_decision(&db, bin), LinkDecision::Link(LinkReason::BinaryMissingOrReplaced));
    }
}
