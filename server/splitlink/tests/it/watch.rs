//! `splitlink watch`: the real binary on a real workspace, real file system events, real
//! cargo, rustc and linker, and a real `--run` binary (it prints its pid and a version, then
//! sleeps). Every wait is for an observable line, bounded by a timeout.

use crate::fixture;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const FIRST_BUILD: Duration = Duration::from_secs(60);
const BUILD: Duration = Duration::from_secs(30);

fn lib(v: u32) -> String {
    format!("pub fn version() -> u32 {{\n    {v}\n}}\n")
}

/// A library whose compile takes `iterations` steps of const evaluation (~3 µs each).
fn slow_lib(v: u32, iterations: u64) -> String {
    format!(
        "#![allow(long_running_const_eval)]\npub const SLOW: u64 = {{\n    let mut i = 0u64;\n    let mut s = 0u64;\n    while i < {iterations} {{\n        s = s.wrapping_add(i ^ (s >> 3));\n        i += 1;\n    }}\n    s\n}};\npub fn version() -> u32 {{\n    (SLOW % 1) as u32 + {v}\n}}\n"
    )
}

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"util\"]\n".into()),
            ("util/Cargo.toml".into(), "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            ("util/src/lib.rs".into(), lib(1)),
            ("app/Cargo.toml".into(), APP_MANIFEST.into()),
            (
                "app/src/main.rs".into(),
                "fn main() {\n    println!(\"app pid={} v={}\", std::process::id(), util::version());\n    loop {\n        std::thread::sleep(std::time::Duration::from_secs(60));\n    }\n}\n".into(),
            ),
        ],
    );
    (tmp, dir)
}

const APP_MANIFEST: &str =
    "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n";

#[derive(Clone, Debug)]
enum Line {
    Out(String),
    Err(String),
}

impl Line {
    fn json(&self) -> Option<Value> {
        match self {
            Line::Out(l) if l.starts_with('{') => serde_json::from_str(l).ok(),
            _ => None,
        }
    }

    /// `app pid=P v=V` from the running binary.
    fn app(&self) -> Option<(i32, u32)> {
        let Line::Out(l) = self else { return None };
        let rest = l.strip_prefix("app pid=")?;
        let (pid, v) = rest.split_once(" v=")?;
        Some((pid.parse().ok()?, v.parse().ok()?))
    }
}

/// A running `splitlink watch`, its output read line by line.
struct Session {
    child: Child,
    lines: Receiver<Line>,
    /// Every line consumed so far.
    seen: Vec<Line>,
    dir: PathBuf,
}

impl Session {
    fn start(dir: &Path, args: &[&str]) -> Session {
        let mut child = Command::new(fixture::splitlink())
            .arg("watch")
            .args(args)
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run splitlink watch");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let t2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(Line::Out(l));
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = t2.send(Line::Err(l));
            }
        });
        Session { child, lines: rx, seen: Vec::new(), dir: dir.to_path_buf() }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn log(&self) -> String {
        self.seen
            .iter()
            .map(|l| match l {
                Line::Out(s) => format!("out| {s}"),
                Line::Err(s) => format!("err| {s}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Consume lines until one matches; panics (with everything seen) on timeout.
    fn until(&mut self, what: &str, timeout: Duration, mut pred: impl FnMut(&Line) -> bool) -> Line {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(_) => panic!("timed out after {timeout:?} waiting for {what}; seen:\n{}", self.log()),
            }
        }
    }

    /// A line already seen, or the next one that matches (stdout and stderr are read by two
    /// threads: a stderr line may come in before the stdout line printed before it).
    fn seen_or_until(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Line) -> bool) -> Line {
        if let Some(l) = self.seen.iter().find(|l| pred(l)) {
            return l.clone();
        }
        self.until(what, timeout, pred)
    }

    fn json_until(&mut self, what: &str, timeout: Duration, mut pred: impl FnMut(&Value) -> bool) -> Value {
        self.until(what, timeout, |l| l.json().is_some_and(|v| pred(&v))).json().unwrap()
    }

    /// A JSON message already seen, or the next one that matches.
    fn json_seen_or_until(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().filter_map(Line::json).find(|v| pred(v)) {
            return v;
        }
        self.json_until(what, timeout, pred)
    }

    fn finished(&mut self, timeout: Duration) -> Value {
        self.json_until("build-finished", timeout, |v| v["reason"] == "build-finished")
    }

    /// The next `app pid=P v=V` line.
    fn app(&mut self, timeout: Duration) -> (i32, u32) {
        self.until("the app's output", timeout, |l| l.app().is_some()).app().unwrap()
    }

    fn count(&self, from: usize, pred: impl Fn(&Value) -> bool) -> usize {
        self.seen[from..].iter().filter_map(Line::json).filter(|v| pred(v)).count()
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.dir.join(rel), text).unwrap();
    }

    /// SIGTERM (or another signal), then the exit status within 15 s.
    fn stop(&mut self, sig: Signal) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.pid()), sig).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "watch did not exit after {sig:?}; seen:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed test must not leave processes behind: the watch (asked first, so that it stops
        // its jobs) and every job it reported or that printed.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
            self.seen.push(l);
        }
        for l in &self.seen {
            let pid = l
                .app()
                .map(|(p, _)| p)
                .or_else(|| l.json().filter(|v| v["event"] == "started").and_then(|v| v["pid"].as_i64()).map(|p| p as i32));
            if let Some(pid) = pid {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// A process that exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

fn group_gone(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_err()
}

/// Processes (not zombies) whose command line contains `needle` and `word`.
fn processes_with(needle: &str, word: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) && cmd.contains(word) && alive(pid) {
            v.push(format!("{pid}: {cmd}"));
        }
    }
    v
}

fn trigger_paths(v: &Value) -> Vec<String> {
    v["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v["splitlink"][key].as_array().into_iter().flatten().map(|u| u["target"].as_str().unwrap().to_string()).collect()
}

/// End a session with SIGTERM: a clean exit, and the binary it ran is gone with its group.
fn end(mut s: Session, app_pid: i32) {
    let st = s.stop(Signal::SIGTERM);
    assert!(st.success(), "watch exit status {st:?}; seen:\n{}", s.log());
    assert!(!alive(app_pid) && group_gone(app_pid), "the binary (pid {app_pid}) outlived watch");
}

#[test]
fn save_rebuilds_and_restarts_the_binary_identical_saves_do_nothing() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    let f = s.finished(FIRST_BUILD);
    assert_eq!(f["success"], true, "{}", s.log());
    let (p1, v) = s.app(BUILD);
    assert_eq!(v, 1);

    s.write("util/src/lib.rs", &lib(2));
    let t = s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger");
    assert_eq!(trigger_paths(&t), vec![dir.join("util/src/lib.rs").display().to_string()]);
    let f = s.finished(BUILD);
    assert_eq!((f["success"].as_bool(), names(&f, "linked")), (Some(true), vec!["app".to_string()]), "{}", s.log());
    let stopped = s.json_until("the old binary stopped", BUILD, |v| v["event"] == "stopped");
    assert_eq!(stopped["pid"], p1);
    let (p2, v) = s.app(BUILD);
    assert_eq!(v, 2);
    assert_ne!(p1, p2);
    assert!(!alive(p1), "the old binary still runs");

    // An identical-bytes save (remove and rewrite, as some editors do) and a touch change
    // nothing: the next build is triggered by the real edit only.
    fixture::apply(&dir, &fixture::Edit::Resave("app/src/main.rs".into()));
    fixture::apply(&dir, &fixture::Edit::Touch("app/src/main.rs".into()));
    std::thread::sleep(Duration::from_millis(150));
    // An editor's atomic save: write a temporary file, rename it over the source.
    s.write("util/src/.lib.rs.swp", &lib(3));
    std::fs::rename(dir.join("util/src/.lib.rs.swp"), dir.join("util/src/lib.rs")).unwrap();
    let t = s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger");
    assert_eq!(trigger_paths(&t), vec![dir.join("util/src/lib.rs").display().to_string()], "{}", s.log());
    let f = s.finished(BUILD);
    assert_eq!(f["splitlink"]["generation"], 3, "one build per real change: {}", s.log());
    let (p3, v) = s.app(BUILD);
    assert_eq!(v, 3);
    end(s, p3);
}

#[test]
fn failed_build_keeps_the_last_good_binary_running() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let (p1, _) = s.app(BUILD);

    s.write("util/src/lib.rs", "pub fn version() -> u32 {\n    1 +\n}\n");
    let f = s.finished(BUILD);
    assert_eq!(f["success"], false, "{}", s.log());
    let from = s.seen.len();
    assert!(
        s.seen.iter().filter_map(Line::json).any(|v| v["reason"] == "compiler-message" && v["message"]["level"] == "error"),
        "the error is reported: {}",
        s.log()
    );
    assert!(alive(p1), "the last good binary keeps running");

    s.write("util/src/lib.rs", &lib(2));
    let f = s.finished(BUILD);
    assert_eq!(f["success"], true, "{}", s.log());
    let (p2, v) = s.app(BUILD);
    assert_eq!(v, 2);
    assert!(!alive(p1));
    s.json_seen_or_until("started", BUILD, |v| v["event"] == "started" && v["pid"] == p2);
    assert_eq!(s.count(0, |v| v["reason"] == "watch-run" && v["event"] == "started"), 2, "started only twice: {}", s.log());
    assert!(s.count(from, |v| v["event"] == "stopped" && v["pid"] == p1) == 1, "{}", s.log());
    end(s, p2);
}

#[test]
fn skipped_link_keeps_the_binary_running() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let (p1, _) = s.app(BUILD);

    // An end-of-line comment: util and app recompile, their objects are identical, no link.
    s.write("util/src/lib.rs", "pub fn version() -> u32 {\n    1 // one\n}\n");
    let f = s.finished(BUILD);
    assert_eq!(f["success"], true);
    assert_eq!((names(&f, "linked"), names(&f, "link_skipped")), (vec![], vec!["app".to_string()]), "{}", s.log());
    s.seen_or_until("the status line", BUILD, |l| matches!(l, Line::Err(e) if e.contains("Ready") && e.contains("app kept running")));
    assert!(alive(p1));

    // The next real change restarts the binary that ran all along.
    s.write("util/src/lib.rs", &lib(2));
    let stopped = s.json_until("stopped", BUILD, |v| v["event"] == "stopped");
    assert_eq!(stopped["pid"], p1);
    let (p2, v) = s.app(BUILD);
    assert_eq!(v, 2);
    s.json_seen_or_until("started", BUILD, |v| v["event"] == "started" && v["pid"] == p2);
    assert_eq!(s.count(0, |v| v["event"] == "started"), 2, "{}", s.log());
    end(s, p2);
}

#[test]
fn a_module_in_a_new_directory_is_watched() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    s.app(BUILD);

    std::fs::create_dir_all(dir.join("util/src/net")).unwrap();
    s.write("util/src/net/mod.rs", "pub fn n() -> u32 {\n    4\n}\n");
    s.write("util/src/lib.rs", "mod net;\npub fn version() -> u32 {\n    net::n()\n}\n");
    let (_, v) = s.until("v=4", BUILD, |l| l.app().is_some_and(|(_, v)| v == 4)).app().unwrap();
    assert_eq!(v, 4);
    // Only the new file changes: its directory is watched now.
    s.write("util/src/net/mod.rs", "pub fn n() -> u32 {\n    5\n}\n");
    let t = s.json_until("watch-trigger", BUILD, |v| {
        v["reason"] == "watch-trigger" && trigger_paths(v).iter().any(|p| p.ends_with("net/mod.rs"))
    });
    assert_eq!(trigger_paths(&t), vec![dir.join("util/src/net/mod.rs").display().to_string()]);
    let (p, _) = s.until("v=5", BUILD, |l| l.app().is_some_and(|(_, v)| v == 5)).app().unwrap();
    end(s, p);
}

#[test]
fn new_targets_in_src_bin_and_examples_are_seen_and_built() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--message-format", "json"]);
    s.finished(FIRST_BUILD);
    s.seen_or_until("watching", BUILD, |l| matches!(l, Line::Err(e) if e.contains("Watching")));
    // A new bin in a `src/bin/` that does not exist yet: its directory appears, then the file.
    std::fs::create_dir_all(dir.join("app/src/bin")).unwrap();
    s.write("app/src/bin/extra.rs", "fn main() {\n    println!(\"extra {}\", util::version());\n}\n");
    let f = s.json_until("a build through cargo that links extra", BUILD, |v| {
        v["reason"] == "build-finished" && names(v, "linked").iter().any(|n| n == "extra")
    });
    assert_eq!(f["splitlink"]["cargo_invoked"], true, "a new target changes cargo's target list: {}", s.log());
    let out = std::process::Command::new(dir.join("target/debug/extra")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "extra 1\n");
    // An example in a new `examples/` directory (not built by `cargo build`, but cargo's target
    // list changed: through cargo).
    std::fs::create_dir_all(dir.join("app/examples")).unwrap();
    s.write("app/examples/demo.rs", "fn main() {}\n");
    let f = s.json_until("a build for the new example", BUILD, |v| v["reason"] == "build-finished");
    assert_eq!(f["splitlink"]["cargo_invoked"], true, "{}", s.log());
    assert_eq!(f["success"], true, "{}", s.log());
    let st = s.stop(Signal::SIGTERM);
    assert!(st.success(), "watch exit status {st:?}; seen:\n{}", s.log());
}

#[test]
fn burst_of_saves_builds_at_most_twice_and_builds_the_final_state() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    s.app(BUILD);

    let from = s.seen.len();
    for i in 0..20 {
        s.write("util/src/lib.rs", &lib(100 + i));
        std::thread::sleep(Duration::from_millis(5));
    }
    let (_, v) = s.until("the final version running", BUILD, |l| l.app().is_some_and(|(_, v)| v == 119)).app().unwrap();
    assert_eq!(v, 119);
    // A later, distinct change: nothing else was queued by the burst.
    s.write("util/src/lib.rs", &lib(200));
    let (p, _) = s.until("v=200", BUILD, |l| l.app().is_some_and(|(_, v)| v == 200)).app().unwrap();
    let mark = s.seen.iter().rposition(|l| l.json().is_some_and(|v| v["reason"] == "watch-trigger")).unwrap();
    let builds = s.seen[from..mark].iter().filter_map(Line::json).filter(|v| v["reason"] == "build-finished").count();
    assert!((1..=2).contains(&builds), "{builds} builds for a burst of 20 saves: {}", s.log());
    end(s, p);
}

#[test]
fn edit_during_a_build_is_built_afterwards() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    s.app(BUILD);

    // A compile of a few seconds; the next edit lands while rustc runs.
    s.write("util/src/lib.rs", &slow_lib(2, 1_000_000));
    s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger");
    wait_for_rustc(&s, &dir);
    std::thread::sleep(Duration::from_millis(200)); // rustc has read the file
    s.write("util/src/lib.rs", &lib(3));
    let f = s.finished(BUILD);
    assert_eq!(
        (f["success"].as_bool(), f["splitlink"]["cancelled"].as_bool()),
        (Some(true), Some(false)),
        "queue mode lets the build finish: {}",
        s.log()
    );
    let t = s.json_until("the next build", BUILD, |v| v["reason"] == "watch-trigger");
    assert_eq!(trigger_paths(&t), vec![dir.join("util/src/lib.rs").display().to_string()]);
    let f = s.finished(BUILD);
    assert_eq!(f["success"], true, "{}", s.log());
    let (p, _) = s.until("v=3", BUILD, |l| l.app().is_some_and(|(_, v)| v == 3)).app().unwrap();
    end(s, p);
}

fn wait_for_rustc(s: &Session, dir: &Path) {
    let t0 = Instant::now();
    while processes_with(&dir.display().to_string(), "rustc").is_empty() {
        assert!(t0.elapsed() < BUILD, "rustc never started: {}", s.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn restart_mode_cancels_the_running_build() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json", "--on-busy", "restart"]);
    s.finished(FIRST_BUILD);
    let (p1, _) = s.app(BUILD);

    // A compile that would take many minutes.
    s.write("util/src/lib.rs", &slow_lib(2, 3_000_000_000));
    s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger");
    let t0 = Instant::now();
    wait_for_rustc(&s, &dir);
    s.write("util/src/lib.rs", &lib(3));
    let f = s.finished(BUILD);
    assert_eq!(f["splitlink"]["cancelled"], true, "{}", s.log());
    assert!(alive(p1), "a cancelled build keeps the binary running");
    let (p2, _) = s.until("v=3", BUILD, |l| l.app().is_some_and(|(_, v)| v == 3)).app().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(30), "cancelling took {:?}", t0.elapsed());
    let left = processes_with(&dir.display().to_string(), "rustc");
    assert!(left.is_empty(), "rustc left running: {left:?}");
    end(s, p2);
}

/// The inodes of the directories the process watches with inotify.
fn inotify_inodes(pid: i32) -> Vec<u64> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for l in text.lines().filter(|l| l.starts_with("inotify wd:")) {
            let ino = l.split_whitespace().find_map(|f| f.strip_prefix("ino:")).unwrap();
            v.push(u64::from_str_radix(ino, 16).unwrap());
        }
    }
    v
}

fn dirs_under(p: &Path) -> Vec<(PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(m) = std::fs::symlink_metadata(&d) {
            if m.is_dir() {
                out.push((d.clone(), m.ino()));
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    stack.push(e.path());
                }
            }
        }
    }
    out
}

#[test]
fn target_git_and_ignored_writes_never_trigger_a_build_nor_cost_a_watch() {
    let (_tmp, dir) = workspace();
    fixture::write_files(
        &dir,
        &[(".git/HEAD".into(), "ref: refs/heads/main\n".into()), (".gitignore".into(), "/target\nscratch/\n".into())],
    );
    std::fs::create_dir_all(dir.join("app/src/scratch")).unwrap();
    let mut s = Session::start(&dir, &["--message-format", "json"]);
    s.finished(FIRST_BUILD);
    s.seen_or_until("watching", BUILD, |l| matches!(l, Line::Err(e) if e.contains("Watching")));

    let watched = inotify_inodes(s.pid());
    assert!(!watched.is_empty() && watched.len() < 40, "{} directories watched", watched.len());
    for (d, ino) in
        dirs_under(&dir.join("target")).into_iter().chain(dirs_under(&dir.join(".git"))).chain(dirs_under(&dir.join("app/src/scratch")))
    {
        assert!(!watched.contains(&ino), "{} is watched", d.display());
    }
    assert!(watched.contains(&std::fs::metadata(dir.join("app/src")).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap()));

    fixture::write_files(
        &dir,
        &[
            ("target/debug/new.rs".into(), "fn x() {}".into()),
            ("target/new/src/lib.rs".into(), "fn x() {}".into()),
            (".git/index".into(), "x".into()),
            ("app/src/scratch/notes.rs".into(), "fn x() {}".into()),
        ],
    );
    std::fs::write(dir.join("target/debug/app.d"), "garbage").unwrap();
    std::thread::sleep(Duration::from_millis(150));
    s.write("util/src/lib.rs", &lib(2));
    let t = s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger" && !trigger_paths(v).is_empty());
    assert_eq!(trigger_paths(&t), vec![dir.join("util/src/lib.rs").display().to_string()], "{}", s.log());
    let f = s.finished(BUILD);
    assert_eq!(f["splitlink"]["generation"], 2, "{}", s.log());
    let st = s.stop(Signal::SIGTERM);
    assert!(st.success());
}

#[test]
fn broken_manifest_and_deleted_file_then_repaired_without_restart() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let (p1, _) = s.app(BUILD);

    s.write("app/Cargo.toml", "[package\nname = \"app\"\n");
    let f = s.finished(BUILD);
    assert_eq!(f["success"], false, "{}", s.log());
    s.seen_or_until("an error message", BUILD, |l| matches!(l, Line::Err(e) if e.starts_with("error")));
    assert!(alive(p1));

    s.write("app/Cargo.toml", APP_MANIFEST);
    s.write("util/src/lib.rs", &lib(2));
    let (p2, v) = s.app(FIRST_BUILD);
    assert_eq!(v, 2, "{}", s.log());

    std::fs::remove_file(dir.join("util/src/lib.rs")).unwrap();
    s.json_until("the failed build", BUILD, |v| v["reason"] == "build-finished" && v["success"] == false);
    assert!(alive(p2));
    s.write("util/src/lib.rs", &lib(3));
    let (p3, v) = s.app(BUILD);
    assert_eq!(v, 3, "{}", s.log());
    end(s, p3);
}

#[test]
fn sigterm_stops_the_binary_and_its_process_group() {
    let (_tmp, dir) = workspace();
    // The binary starts a grandchild in its process group: it must go too.
    let main = "fn main() {\n    let c = std::process::Command::new(\"sleep\").arg(\"300\").spawn().unwrap();\n    println!(\"sleeper {}\", c.id());\n    println!(\"app pid={} v={}\", std::process::id(), util::version());\n    loop {\n        std::thread::sleep(std::time::Duration::from_secs(60));\n    }\n}\n";
    std::fs::write(dir.join("app/src/main.rs"), main).unwrap();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let sleeper: i32 = match s.until("the sleeper", BUILD, |l| matches!(l, Line::Out(o) if o.starts_with("sleeper "))) {
        Line::Out(o) => o["sleeper ".len()..].parse().unwrap(),
        Line::Err(_) => unreachable!(),
    };
    let (p1, _) = s.app(BUILD);
    assert!(alive(sleeper));
    end(s, p1);
    assert!(!alive(sleeper), "the binary's child outlived watch");
}

#[test]
fn sigint_during_a_build_kills_rustc_and_the_binary() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let (p1, _) = s.app(BUILD);
    s.write("util/src/lib.rs", &slow_lib(2, 3_000_000_000));
    s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger");
    wait_for_rustc(&s, &dir);
    let st = s.stop(Signal::SIGINT);
    assert!(st.success(), "{st:?}: {}", s.log());
    assert!(!alive(p1) && group_gone(p1), "the binary outlived watch");
    let left = processes_with(&dir.display().to_string(), "rustc");
    assert!(left.is_empty(), "rustc left running: {left:?}");
}

#[test]
fn exec_runs_after_each_link_and_a_job_ignoring_sigterm_is_killed() {
    let (_tmp, dir) = workspace();
    let exec = "echo exec-start $$; trap '' TERM; exec sleep 300";
    let mut s = Session::start(&dir, &["--exec", exec, "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let pid_of = |l: &Line| match l {
        Line::Out(o) => o.strip_prefix("exec-start ").and_then(|p| p.parse::<i32>().ok()),
        Line::Err(_) => None,
    };
    let e1 = pid_of(&s.until("exec-start", BUILD, |l| pid_of(l).is_some())).unwrap();

    // A skipped link runs nothing.
    s.write("util/src/lib.rs", "pub fn version() -> u32 {\n    1 // one\n}\n");
    let f = s.finished(BUILD);
    assert_eq!(names(&f, "link_skipped"), vec!["app".to_string()]);

    s.write("util/src/lib.rs", &lib(2));
    s.finished(BUILD);
    let stopped = s.json_until("exec stopped", BUILD, |v| v["event"] == "stopped");
    assert_eq!((stopped["pid"].as_i64(), stopped["signal"].as_i64()), (Some(e1 as i64), Some(9)), "SIGKILL after the grace period");
    let e2 = pid_of(&s.until("exec-start again", BUILD, |l| pid_of(l).is_some())).unwrap();
    s.json_seen_or_until("started", BUILD, |v| v["event"] == "started" && v["pid"] == e2);
    assert_ne!(e1, e2);
    assert!(!alive(e1));
    assert_eq!(s.count(0, |v| v["event"] == "started"), 2, "{}", s.log());
    end(s, e2);
}

#[test]
fn human_output_has_a_status_line_per_build_and_why() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--why"]);
    s.until(
        "the first status line",
        FIRST_BUILD,
        |l| matches!(l, Line::Err(e) if e.contains("Ready") && e.contains("compiled util, app · linked app")),
    );
    s.until("watching", BUILD, |l| matches!(l, Line::Err(e) if e.contains("Watching")));
    s.write("util/src/lib.rs", "pub fn version() -> u32 {\n    1 // one\n}\n");
    s.until("why", BUILD, |l| matches!(l, Line::Err(e) if e.trim() == "Changed util/src/lib.rs"));
    let l = s.until("the status line", BUILD, |l| matches!(l, Line::Err(e) if e.contains("Ready")));
    let Line::Err(e) = l else { unreachable!() };
    assert!(e.trim().starts_with("Ready compiled util, app · link skipped (objects unchanged) · "), "{e}");
    assert!(e.ends_with(" s"), "{e}");
    assert!(s.seen.iter().all(|l| matches!(l, Line::Err(_))), "nothing on stdout in human mode: {}", s.log());
    let st = s.stop(Signal::SIGTERM);
    assert!(st.success());
}

/// `--poll`: no kernel events at all (no inotify watch is held), a save is still seen (by the
/// next poll) and built, and the binary restarted with the new code.
#[test]
fn poll_mode_sees_saves_without_kernel_events() {
    let (_tmp, dir) = workspace();
    let mut s = Session::start(&dir, &["--poll", "--run", "--message-format", "json"]);
    s.finished(FIRST_BUILD);
    let (p1, v) = s.app(BUILD);
    assert_eq!(v, 1);
    s.seen_or_until("watching", BUILD, |l| matches!(l, Line::Err(e) if e.contains("Watching")));
    assert!(inotify_inodes(s.pid()).is_empty(), "--poll holds no inotify watch");
    s.write("util/src/lib.rs", &lib(2));
    let t = s.json_until("watch-trigger", BUILD, |v| v["reason"] == "watch-trigger" && !trigger_paths(v).is_empty());
    assert_eq!(trigger_paths(&t), vec![dir.join("util/src/lib.rs").display().to_string()], "{}", s.log());
    let f = s.finished(BUILD);
    assert_eq!((f["success"].as_bool(), names(&f, "linked")), (Some(true), vec!["app".to_string()]), "{}", s.log());
    let (p2, v) = s.app(BUILD);
    assert_eq!(v, 2);
    assert_ne!(p1, p2);
    end(s, p2);
}

/// `watch --clippy`: every save lints (clippy's driver, replayed), nothing is linked; a fix
/// clears the lint, lint flags after `--` apply.
#[test]
fn watch_clippy_lints_on_save() {
    let (_tmp, dir) = workspace();
    fixture::write_files(&dir, &[("util/src/lib.rs".into(), "pub fn version() -> u32 {\n    return 1;\n}\n".into())]);
    let mut s = Session::start(&dir, &["--clippy", "--message-format", "json", "--", "-W", "clippy::pedantic"]);
    fn lint(code: &'static str) -> impl Fn(&Value) -> bool {
        move |v: &Value| v["reason"] == "compiler-message" && v["message"]["code"]["code"] == code
    }
    s.json_until("the needless_return lint", FIRST_BUILD, lint("clippy::needless_return"));
    let f = s.finished(FIRST_BUILD);
    assert_eq!(f["success"], true, "{}", s.log());
    assert!(names(&f, "linked").is_empty(), "clippy links nothing: {}", s.log());
    assert!(!dir.join("target/debug/app").exists());
    // `-W clippy::pedantic` from after `--`: a pedantic lint shows too.
    assert!(s.count(0, lint("clippy::must_use_candidate")) > 0, "pedantic lints are on: {}", s.log());

    let from = s.seen.len();
    s.write("util/src/lib.rs", "#[must_use]\npub fn version() -> u32 {\n    1\n}\n");
    let f = s.finished(BUILD);
    assert_eq!(f["success"], true);
    assert_eq!(f["splitlink"]["cargo_invoked"], false, "replayed: {}", s.log());
    assert_eq!(
        s.count(from, |v| v["reason"] == "compiler-message" && v["target"]["name"] == "util"),
        0,
        "util's lints are gone: {}",
        s.log()
    );
    let _ = s.stop(Signal::SIGTERM);
}
