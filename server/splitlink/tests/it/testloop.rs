//! The test loop: `splitlink test`, `run` and `watch --test` on a real workspace
//! (`tests/fixtures/testloop`: unit tests in a lib and a bin, integration tests, a doctest, an
//! ignored test, an example, a bench without harness, a test that aborts on request), against
//! plain `cargo test` where they must agree.

use crate::fixture;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    copy_dir(&fixture::repo_root().join("tests/fixtures/testloop"), &dir);
    (tmp, dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn splitlink(dir: &Path, args: &[&str]) -> Output {
    Command::new(fixture::splitlink())
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run splitlink")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn test_runs(out: &Output) -> Vec<Value> {
    json_lines(out).into_iter().filter(|v| v["reason"] == "splitlink-test-run").collect()
}

fn finished(out: &Output) -> Value {
    json_lines(out).into_iter().rev().find(|v| v["reason"] == "build-finished").unwrap_or(Value::Null)
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|u| format!("{}{}", u["target"].as_str().unwrap_or(""), if u["test"] == true { "(test)" } else { "" }))
        .collect()
}

fn edit(dir: &Path, file: &str, old: &str, new: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(old), "{file} does not contain {old:?}");
    std::fs::write(&p, text.replacen(old, new, 1)).unwrap();
}

fn text(out: &Output) -> String {
    format!("--- stdout\n{}\n--- stderr\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// (passed, failed, ignored) summed over libtest's `test result:` lines.
fn counts(stdout: &str) -> (u64, u64, u64) {
    let mut c = (0, 0, 0);
    for l in stdout.lines().filter_map(|l| l.strip_prefix("test result: ")) {
        for part in l.split(['.', ';']) {
            let mut it = part.split_whitespace();
            if let (Some(n), Some(what)) = (it.next().and_then(|n| n.parse::<u64>().ok()), it.next()) {
                match what {
                    "passed" => c.0 += n,
                    "failed" => c.1 += n,
                    "ignored" => c.2 += n,
                    _ => {}
                }
            }
        }
    }
    c
}

/// cargo's `Running …`/`Doc-tests …` lines, without the binaries' hashed paths.
fn running_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Running ") || l.starts_with("Doc-tests "))
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
        .collect()
}

#[test]
fn test_runs_what_cargo_test_runs_and_agrees_on_counts() {
    let (_tmp, dir) = workspace();
    let cargo = Command::new("cargo").arg("test").current_dir(&dir).env_remove("CARGO_TARGET_DIR").output().unwrap();
    assert!(cargo.status.success(), "{}", text(&cargo));
    let ours = splitlink(&dir, &["test"]);
    assert!(ours.status.success(), "{}", text(&ours));
    let (cs, os) = (String::from_utf8_lossy(&cargo.stdout), String::from_utf8_lossy(&ours.stdout));
    assert_eq!(counts(&os), counts(&cs), "{}", text(&ours));
    assert_eq!(counts(&os), (9, 0, 1), "unit and integration tests + 1 doctest… {}", text(&ours));
    let (ce, oe) = (String::from_utf8_lossy(&cargo.stderr), String::from_utf8_lossy(&ours.stderr));
    assert_eq!(running_lines(&oe), running_lines(&ce), "same binaries in the same order");

    // The same through JSON: one line per binary run, the build's test units listed.
    let json = splitlink(&dir, &["test", "--message-format", "json"]);
    assert!(json.status.success(), "{}", text(&json));
    let runs = test_runs(&json);
    assert_eq!(runs.len(), running_lines(&ce).len(), "{}", text(&json));
    let passed: u64 = runs.iter().map(|r| r["passed"].as_u64().unwrap()).sum();
    assert_eq!(passed, 9);
    assert!(runs.iter().all(|r| r["success"] == true && r["exit_code"] == 0), "{runs:#?}");
    assert!(runs.iter().any(|r| r["name"] == "util (doctests)" && r["passed"] == 1), "{runs:#?}");
    assert_eq!(finished(&json)["splitlink"]["cargo_invoked"], false, "a second run replays");
}

#[test]
fn an_eol_comment_relinks_no_test_binary_and_changed_runs_none() {
    let (_tmp, dir) = workspace();
    let first = splitlink(&dir, &["test", "--test", "it", "--test", "other", "--lib"]);
    assert!(first.status.success(), "{}", text(&first));

    edit(&dir, "util/src/lib.rs", "    a + b\n", "    a + b // the sum\n");
    let out = splitlink(&dir, &["test", "--test", "it", "--test", "other", "--lib", "--changed", "--message-format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let fin = finished(&out);
    assert_eq!(fin["splitlink"]["cargo_invoked"], false, "{}", text(&out));
    assert_eq!(names(&fin["splitlink"]["linked"]), Vec::<String>::new(), "{}", text(&out));
    assert!(names(&fin["splitlink"]["link_skipped"]).contains(&"it(test)".to_string()), "{}", text(&out));
    let runs = test_runs(&out);
    assert_eq!(runs.len(), 4, "util and app libs, it, other: {runs:#?}");
    assert!(runs.iter().all(|r| r["unchanged"] == true), "nothing re-run: {runs:#?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("binary identical, last run passed"));

    // A body edit in one integration test relinks and re-runs only that one.
    edit(&dir, "app/tests/other.rs", "Ok(\"app\")", "Ok(\"app\"), \"package name\"");
    let out = splitlink(&dir, &["test", "--test", "it", "--test", "other", "--lib", "--changed", "--message-format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(names(&finished(&out)["splitlink"]["linked"]), vec!["other(test)".to_string()], "{}", text(&out));
    let ran: Vec<String> =
        test_runs(&out).iter().filter(|r| r["unchanged"] == false).map(|r| r["label"].as_str().unwrap().to_string()).collect();
    assert_eq!(ran, vec!["tests/other.rs".to_string()]);
}

#[test]
fn a_failing_test_exits_101_and_names_its_line() {
    let (_tmp, dir) = workspace();
    edit(&dir, "util/src/lib.rs", "assert_eq!(super::add(1, 2), 3);", "assert_eq!(super::add(1, 2), 4);");
    let out = splitlink(&dir, &["test", "-p", "util", "--lib", "--message-format", "json"]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("test failed, to rerun pass `-p util --lib`"), "{}", text(&out));
    let runs = test_runs(&out);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let f = &runs[0]["failures"][0];
    assert_eq!(f["test"], "tests::adds");
    assert_eq!(f["line"], 14);
    assert!(f["file"].as_str().unwrap().ends_with("util/src/lib.rs"), "{f}");
    assert!(f["message"].as_str().unwrap().contains("left: 3"), "{f}");

    // A crash (SIGABRT) is a failure with the signal named; --no-fail-fast goes on.
    let out = Command::new(fixture::splitlink())
        .args(["test", "-p", "app", "--test", "crash", "--test", "it", "--no-fail-fast"])
        .current_dir(&dir)
        .env("SPLITLINK_FIXTURE_CRASH", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("signal: 6, SIGABRT"), "{}", text(&out));
    assert!(err.contains("Running tests/it.rs"), "it runs after crash: {}", text(&out));

    // A hanging test: killed at --test-timeout, named as timed out; the next binary still runs.
    let t0 = Instant::now();
    let out = Command::new(fixture::splitlink())
        .args(["test", "-p", "app", "--test", "crash", "--test", "it", "--no-fail-fast", "--test-timeout", "2"])
        .current_dir(&dir)
        .env("SPLITLINK_FIXTURE_HANG", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    assert!(t0.elapsed() < Duration::from_secs(60), "killed at the timeout, not after the 600 s sleep");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timed out after 2 s"), "{}", text(&out));
    assert!(err.contains("Running tests/it.rs"), "it runs after the hang: {}", text(&out));

    // An unknown test target: cargo's message, exit 101.
    let out = splitlink(&dir, &["test", "--test", "nope"]);
    assert_eq!(out.status.code(), Some(101));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no test target named `nope`"), "{}", text(&out));
}

#[test]
fn run_passes_arguments_and_the_exit_code() {
    let (_tmp, dir) = workspace();
    let out = splitlink(&dir, &["run", "--bin", "app", "--", "7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "twice 21 = 42");
    let out = splitlink(&dir, &["run", "--example", "hello"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello 2");
    let out = splitlink(&dir, &["run", "--bin", "nope"]);
    assert_eq!(out.status.code(), Some(101));
}

#[test]
fn nextest_runs_the_binaries_splitlink_built() {
    let (_tmp, dir) = workspace();
    let out = splitlink(&dir, &["test", "--nextest", "--lib", "--tests"]);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("8 tests run: 8 passed"), "{all}");
}

#[test]
fn watch_test_reruns_only_relinked_binaries() {
    let (_tmp, dir) = workspace();
    let mut child = Command::new(fixture::splitlink())
        .args(["watch", "--test", "--message-format", "json", "--", "--test-threads", "1"])
        .current_dir(&dir)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&l) {
                let _ = tx.send(v);
            }
        }
    });
    let stderr = child.stderr.take().unwrap();
    let err_log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log = err_log.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.lock().unwrap().push_str(&(l + "\n"));
        }
    });
    // Collect test-run lines until `n` arrived (the runs after one build).
    let collect = |n: usize, what: &str| -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut runs = Vec::new();
        while runs.len() < n {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(v) if v["reason"] == "splitlink-test-run" => runs.push(v),
                Ok(_) => {}
                Err(_) => panic!("{what}: timed out with {runs:#?}\n{}", err_log.lock().unwrap()),
            }
        }
        runs
    };
    let binaries = 6; // util lib, app lib, app bin, crash, it, other
    let first = collect(binaries + 2, "first run");
    assert!(first.iter().all(|r| r["success"] == true), "{first:#?}");

    edit(&dir, "app/tests/it.rs", "assert_eq!(app::twice(3), 6);", "assert_eq!(app::twice(3), 7);");
    let second = collect(binaries, "after the it.rs edit");
    let ran: Vec<&Value> = second.iter().filter(|r| r["unchanged"] == false).collect();
    assert_eq!(ran.len(), 1, "{second:#?}");
    assert_eq!(ran[0]["label"], "tests/it.rs");
    assert_eq!(ran[0]["success"], false);
    assert_eq!(ran[0]["failures"][0]["line"], 3, "{:#?}", ran[0]);

    // The fix relinks it (and only it) again.
    edit(&dir, "app/tests/it.rs", "assert_eq!(app::twice(3), 7);", "assert_eq!(app::twice(3), 6); // fixed");
    let third = collect(binaries, "after the fix");
    let ran: Vec<&Value> = third.iter().filter(|r| r["unchanged"] == false).collect();
    assert_eq!(ran.len(), 1, "{third:#?}");
    assert_eq!(ran[0]["success"], true);

    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    assert!(status.success(), "watch exits 0 on SIGINT");
}

#[test]
fn a_package_without_a_library_has_no_doctests_and_tests_its_bin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("binonly");
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), "[package]\nname = \"binonly\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            ("src/main.rs".into(), "fn main() {}\n\n#[test]\nfn works() {\n    assert_eq!(1 + 1, 2);\n}\n".into()),
        ],
    );
    let out = splitlink(&dir, &["test", "--message-format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let runs = test_runs(&out);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["passed"], 1);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("no library targets"), "{}", text(&out));
}

#[test]
fn run_picks_default_run_among_several_binaries_as_cargo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("multi");
    let manifest = |extra: &str| format!("[package]\nname = \"multi\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{extra}");
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), manifest("default-run = \"other\"\n")),
            ("src/main.rs".into(), "fn main() {\n    println!(\"main\");\n}\n".into()),
            ("src/bin/other.rs".into(), "fn main() {\n    println!(\"other\");\n}\n".into()),
        ],
    );
    let out = splitlink(&dir, &["run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "other", "{}", text(&out));
    let out = splitlink(&dir, &["run", "--bin", "multi"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "main", "{}", text(&out));
    // Without the key: cargo's error, naming both.
    std::fs::write(dir.join("Cargo.toml"), manifest("")).unwrap();
    let out = splitlink(&dir, &["run"]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not determine which binary to run") && err.contains("multi, other"), "{}", text(&out));
}

#[test]
fn tests_see_their_build_scripts_out_dir_as_under_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("withscript");
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), "[package]\nname = \"withscript\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            (
                "build.rs".into(),
                "fn main() {\n    let out = std::env::var(\"OUT_DIR\").unwrap();\n    std::fs::write(format!(\"{out}/data.txt\"), \"from the build script\").unwrap();\n}\n".into(),
            ),
            (
                "src/lib.rs".into(),
                "#[test]\nfn reads_out_dir_at_run_time() {\n    let out = std::env::var(\"OUT_DIR\").expect(\"OUT_DIR set for tests, as cargo does\");\n    assert_eq!(std::fs::read_to_string(format!(\"{out}/data.txt\")).unwrap(), \"from the build script\");\n}\n".into(),
            ),
        ],
    );
    let cargo = Command::new("cargo").arg("test").current_dir(&dir).env_remove("CARGO_TARGET_DIR").output().unwrap();
    assert!(cargo.status.success(), "cargo itself: {}", text(&cargo));
    let out = splitlink(&dir, &["test", "--lib"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(counts(&String::from_utf8_lossy(&out.stdout)), (1, 0, 0), "{}", text(&out));
    let out = splitlink(&dir, &["test", "--lib", "--nextest"]);
    assert!(out.status.success(), "through nextest too: {}", text(&out));
}
