//! The engine in-process, as `watch` and `lsp` use it: one `Engine` for many builds (the salsa
//! database stays warm), and cancellation that kills rustc.

use crate::fixture;
use splitlink_engine::{BuildEvent, BuildOptions, BuildSummary, Cancel, Engine, Selection};
use std::time::{Duration, Instant};

fn names(v: &[splitlink_engine::UnitInfo]) -> Vec<String> {
    let mut n: Vec<String> = v.iter().map(|u| u.target.clone()).collect();
    n.sort();
    n
}

fn files() -> Vec<(String, String)> {
    vec![
        ("Cargo.toml".into(), "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"util\"]\n".into()),
        ("util/Cargo.toml".into(), "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
        ("util/src/lib.rs".into(), "pub fn n() -> u32 {\n    1\n}\n".into()),
        (
            "app/Cargo.toml".into(),
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n".into(),
        ),
        ("app/src/main.rs".into(), "fn main() {\n    println!(\"n={}\", util::n());\n}\n".into()),
    ]
}

fn build(e: &mut Engine, cancel: Option<&Cancel>) -> BuildSummary {
    let mut events = Vec::new();
    let s = e.build(&mut |ev: BuildEvent| events.push(format!("{ev:?}")), cancel).expect("build");
    s
}

#[test]
fn one_engine_many_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture::write_files(dir, &files());
    let opts = BuildOptions { wrapper: Some(fixture::splitlink()), quiet: true, ..Default::default() };
    let mut e = Engine::open(Selection::default(), opts, dir).unwrap();
    let s = build(&mut e, None);
    assert!(s.success && s.cargo_invoked);
    assert_eq!(s.generation, 1);
    assert_eq!(e.binaries().len(), 1);
    assert!(e.watched_files().iter().any(|p| p.ends_with("util/src/lib.rs")));

    fixture::apply(
        dir,
        &fixture::Edit::Replace { path: "app/src/main.rs".into(), old: "fn main() {".into(), new: "fn main() { // hi".into() },
    );
    let s = build(&mut e, None);
    assert!(s.success && !s.cargo_invoked);
    assert_eq!((names(&s.compiled), names(&s.linked), names(&s.link_skipped)), (vec!["app".into()], vec![], vec!["app".into()]));

    fixture::apply(dir, &fixture::Edit::Replace { path: "util/src/lib.rs".into(), old: "1".into(), new: "2".into() });
    let s = build(&mut e, None);
    assert_eq!((names(&s.compiled), names(&s.linked)), (vec!["app".into(), "util".into()], vec!["app".into()]));
    assert_eq!(fixture::run_binary(dir, "app"), "n=2");

    // Another process building the same target dir: the engine notices and reloads.
    let o = fixture::build(dir, &[]);
    assert!(o.success && o.compiled.is_empty());
    let s = build(&mut e, None);
    assert!(s.success && s.compiled.is_empty() && !s.cargo_invoked, "{s:?}");
    assert_eq!(s.generation, 4);
}

#[test]
fn cancel_kills_rustc_and_the_next_build_finishes_the_work() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixture::write_files(dir, &files());
    let opts = BuildOptions { wrapper: Some(fixture::splitlink()), quiet: true, ..Default::default() };
    let mut e = Engine::open(Selection::default(), opts, dir).unwrap();
    assert!(build(&mut e, None).success);

    // A library whose compile takes many seconds (a long constant evaluation).
    let slow = "#![allow(long_running_const_eval)]\npub const SLOW: u64 = {\n    let mut i = 0u64;\n    let mut s = 0u64;\n    while i < 3_000_000_000 {\n        s = s.wrapping_add(i ^ (s >> 3));\n        i += 1;\n    }\n    s\n};\npub fn n() -> u32 {\n    (SLOW % 7) as u32\n}\n";
    std::fs::write(dir.join("util/src/lib.rs"), slow).unwrap();
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        c2.cancel();
    });
    let t0 = Instant::now();
    let s = build(&mut e, Some(&cancel));
    t.join().unwrap();
    assert!(s.cancelled && !s.success, "{s:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "cancel took {:?}", t0.elapsed());
    let leftover = std::process::Command::new("pgrep").args(["-f", &dir.display().to_string()]).output().unwrap();
    assert!(leftover.stdout.is_empty(), "processes left behind: {}", String::from_utf8_lossy(&leftover.stdout));

    // The interrupted unit is still stale: the next build compiles it.
    std::fs::write(dir.join("util/src/lib.rs"), "pub fn n() -> u32 {\n    3\n}\n").unwrap();
    let s = build(&mut e, None);
    assert!(s.success && !s.cancelled);
    assert_eq!(names(&s.linked), vec!["app".to_string()]);
    assert_eq!(fixture::run_binary(dir, "app"), "n=3");
}
