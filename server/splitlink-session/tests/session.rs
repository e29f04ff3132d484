//! The session layer on a real workspace (real cargo, rustc and linker), driven the way both
//! front-ends drive it: a loop that feeds the session's events back to it, polls it when a build
//! is due, and looks at what each build did.

use splitlink_engine::{BuildOptions, Selection};
use splitlink_session::{BuildDone, Config, OnBusy, RunAction, RunPolicy, Session, SessionEvent};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn lib(v: u32) -> String {
    format!("pub fn version() -> u32 {{\n    {v}\n}}\n")
}

/// A library whose compile takes a while (const evaluation, a bound that changes with `v` so
/// that no cache holds the result), so that a change can arrive during it.
fn slow_lib(v: u32) -> String {
    let bound = 1_500_000 + v;
    format!(
        "#![allow(long_running_const_eval)]\npub const SLOW: u64 = {{\n    let mut i = 0u64;\n    let mut s = 0u64;\n    while i < {bound} {{\n        s = s.wrapping_add(i ^ (s >> 3));\n        i += 1;\n    }}\n    s\n}};\npub fn version() -> u32 {{\n    (SLOW % 1) as u32 + {v}\n}}\n"
    )
}

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    write(&dir, "Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"util\"]\n");
    write(&dir, "util/Cargo.toml", "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    write(&dir, "util/src/lib.rs", &lib(1));
    write(
        &dir,
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n",
    );
    write(&dir, "app/src/main.rs", "fn main() {\n    println!(\"v={}\", util::version());\n}\n");
    (tmp, dir)
}

/// The `splitlink` binary, which cargo runs as the wrapper during a capture (built by
/// `cargo build --workspace` before the tests, as `tests/run-all.sh` does).
fn splitlink() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(|t| root.join(t)).unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug/splitlink");
    assert!(bin.is_file(), "{} is missing: build it first (cargo build -p splitlink)", bin.display());
    bin
}

fn open(dir: &Path, on_busy: OnBusy, watch_files: bool) -> (Session, Receiver<SessionEvent>) {
    let (tx, rx) = mpsc::channel();
    let opts = BuildOptions { quiet: true, wrapper: Some(splitlink()), ..Default::default() };
    let s = Session::open(Selection::default(), opts, dir, Config { on_busy, watch_files, poll: false }, move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    (s, rx)
}

/// What a front-end's loop does, until `limit`: returns each build started (with its trigger
/// paths) and each build's outcome, in order.
struct Driven {
    started: Vec<Vec<PathBuf>>,
    done: Vec<BuildDone>,
}

fn drive(s: &mut Session, rx: &Receiver<SessionEvent>, limit: Duration, mut stop: impl FnMut(&Driven, &Session) -> bool) -> Driven {
    let deadline = Instant::now() + limit;
    let mut d = Driven { started: vec![], done: vec![] };
    loop {
        if let Some(paths) = s.poll() {
            d.started.push(paths);
        }
        if stop(&d, s) || Instant::now() >= deadline {
            return d;
        }
        let wait = s.due().map(|t| t.saturating_duration_since(Instant::now())).unwrap_or(Duration::from_millis(100));
        match rx.recv_timeout(wait.min(deadline.saturating_duration_since(Instant::now()))) {
            Ok(SessionEvent::Fs(b)) => s.on_fs(b),
            Ok(SessionEvent::Build(_)) => {}
            Ok(SessionEvent::BuildDone(b)) => {
                s.on_build_done(&b);
                d.done.push(*b);
            }
            Err(_) => {}
        }
    }
}

fn one_build(s: &mut Session, rx: &Receiver<SessionEvent>) -> BuildDone {
    let d = drive(s, rx, Duration::from_secs(120), |d, s| !d.done.is_empty() && !s.is_building());
    assert_eq!(d.done.len(), 1, "expected one build");
    d.done.into_iter().next().unwrap()
}

fn run(dir: &Path) -> String {
    let out = std::process::Command::new(dir.join("target/debug/app")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn builds_on_content_changes_only_from_the_watcher_and_from_a_client() {
    let (_tmp, dir) = workspace();
    let (mut s, rx) = open(&dir, OnBusy::Queue, true);
    s.request_build();
    let first = one_build(&mut s, &rx);
    assert!(first.ok(), "{:?}", first.result);
    assert!(first.explanation.as_deref().is_some_and(|e| e.contains("cargo: invoked")), "{:?}", first.explanation);
    assert_eq!(run(&dir), "v=1");

    // The session's own watcher: an edit builds, and only the edited file started it.
    write(&dir, "util/src/lib.rs", &lib(2));
    let d = drive(&mut s, &rx, Duration::from_secs(60), |d, s| !d.done.is_empty() && !s.is_building());
    assert_eq!(d.started, vec![vec![dir.join("util/src/lib.rs")]]);
    assert!(d.done[0].ok());
    assert_eq!(run(&dir), "v=2");

    // An identical-bytes save and a touch: nothing is due, no build.
    write(&dir, "util/src/lib.rs", &lib(2));
    let d = drive(&mut s, &rx, Duration::from_millis(1500), |_, _| false);
    assert!(d.started.is_empty() && d.done.is_empty(), "{:?}", d.started);

    // A client's notification (the LSP's path): compared by content the same way.
    let (mut c, crx) = open(&dir, OnBusy::Queue, false);
    c.request_build();
    assert!(one_build(&mut c, &crx).ok());
    c.on_changed(&[dir.join("util/src/lib.rs"), dir.join("README.md")]);
    assert!(c.due().is_none(), "unchanged content and an irrelevant file are not changes");
    write(&dir, "util/src/lib.rs", &lib(3));
    c.on_changed(&[dir.join("util/src/lib.rs")]);
    assert!(c.due().is_some());
    let b = one_build(&mut c, &crx);
    assert!(b.ok() && matches!(&b.result, Ok(s) if s.linked.iter().any(|u| u.target == "app")));
    assert_eq!(run(&dir), "v=3");
}

#[test]
fn a_change_during_a_build_queues_one_more_build_or_restarts_it() {
    for on_busy in [OnBusy::Queue, OnBusy::Restart] {
        let (_tmp, dir) = workspace();
        let (mut s, rx) = open(&dir, on_busy, false);
        s.request_build();
        assert!(one_build(&mut s, &rx).ok());
        write(&dir, "util/src/lib.rs", &slow_lib(2));
        s.on_changed(&[dir.join("util/src/lib.rs")]);
        let d = drive(&mut s, &rx, Duration::from_secs(30), |d, _| !d.started.is_empty());
        assert_eq!(d.started.len(), 1);
        // While it compiles, another edit arrives.
        std::thread::sleep(Duration::from_millis(300));
        assert!(s.is_building());
        write(&dir, "util/src/lib.rs", &slow_lib(3));
        s.on_changed(&[dir.join("util/src/lib.rs")]);
        let d = drive(&mut s, &rx, Duration::from_secs(120), |d, s| d.done.len() == 2 && !s.is_building());
        assert_eq!(d.done.len(), 2, "{on_busy:?}: the running build and one more");
        match on_busy {
            OnBusy::Queue => assert!(d.done[0].ok(), "queue: the first build finishes"),
            OnBusy::Restart => assert!(d.done[0].cancelled(), "restart: the first build is cancelled: {:?}", d.done[0].result),
        }
        assert!(d.done[1].ok());
        assert_eq!(run(&dir), "v=3", "{on_busy:?}");
    }
}

#[test]
fn the_running_binary_restarts_only_after_a_relink() {
    let (_tmp, dir) = workspace();
    let (mut s, rx) = open(&dir, OnBusy::Queue, false);
    let bin = dir.join("target/debug/app");
    let mut policy = RunPolicy::default();
    s.request_build();
    let d = one_build(&mut s, &rx);
    assert_eq!(policy.decide(&d, Some(&bin), false, true), RunAction::Start);
    assert_eq!(policy.decide(&d, Some(&bin), false, false), RunAction::Nothing, "nothing runs, not asked to start");
    policy.started(&bin);
    // An end-of-line comment: compiled, link skipped, the binary file is the one running.
    write(&dir, "app/src/main.rs", "fn main() { // entry\n    println!(\"v={}\", util::version());\n}\n");
    s.on_changed(&[dir.join("app/src/main.rs")]);
    let d = one_build(&mut s, &rx);
    assert!(matches!(&d.result, Ok(r) if r.linked.is_empty() && !r.link_skipped.is_empty()), "{:?}", d.result);
    assert_eq!(policy.decide(&d, Some(&bin), true, true), RunAction::KeepRunning);
    // A broken build keeps the last good binary.
    write(&dir, "app/src/main.rs", "fn main() {\n    println!(\"v={}\", util::version())\n");
    s.on_changed(&[dir.join("app/src/main.rs")]);
    let d = one_build(&mut s, &rx);
    assert!(!d.ok());
    assert_eq!(policy.decide(&d, Some(&bin), true, true), RunAction::KeepLastGood);
    // The fix relinks: restart.
    write(&dir, "app/src/main.rs", "fn main() {\n    println!(\"w={}\", util::version());\n}\n");
    s.on_changed(&[dir.join("app/src/main.rs")]);
    let d = one_build(&mut s, &rx);
    assert!(d.ok());
    assert_eq!(policy.decide(&d, Some(&bin), true, true), RunAction::Start);
}

/// A new target written while a build runs, whose directory the build's own rewatch finds before
/// the watcher's event for it is handled (the order seen on a loaded CI machine): it is a change
/// the build did not see, and it is built next.
#[test]
fn a_file_created_during_a_build_is_not_taken_as_seen_by_it() {
    let (_tmp, dir) = workspace();
    let (mut s, rx) = open(&dir, OnBusy::Queue, true);
    s.request_build();
    assert!(one_build(&mut s, &rx).ok());
    write(&dir, "util/src/lib.rs", &slow_lib(7));
    s.on_changed(&[dir.join("util/src/lib.rs")]);
    let d = drive(&mut s, &rx, Duration::from_secs(10), |d, _| !d.started.is_empty());
    assert_eq!(d.started.len(), 1, "the slow build starts");
    std::thread::sleep(Duration::from_millis(200));
    write(&dir, "app/examples/demo.rs", "fn main() {}\n");
    // Hold the watcher's batches until the running build is done and handled.
    let mut held = Vec::new();
    let done = loop {
        match rx.recv_timeout(Duration::from_secs(120)).expect("the build ends") {
            SessionEvent::Fs(b) => held.push(b),
            SessionEvent::Build(_) => {}
            SessionEvent::BuildDone(d) => break d,
        }
    };
    s.on_build_done(&done);
    for b in held {
        s.on_fs(b);
    }
    let d = drive(&mut s, &rx, Duration::from_secs(60), |d, s| !d.done.is_empty() && !s.is_building());
    assert_eq!(d.started.len(), 1, "the new example is a change");
    assert!(d.started[0].contains(&dir.join("app/examples/demo.rs")), "{:?}", d.started);
    assert!(matches!(&d.done[0].result, Ok(r) if r.cargo_invoked), "{:?}", d.done[0].result);
}
