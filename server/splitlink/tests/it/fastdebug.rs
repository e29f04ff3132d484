//! Fast mode's lever 2 (dependencies with line-tables-only debuginfo). The debugger (real gdb)
//! still shows the workspace's locals and the dependencies' lines, backtraces keep file:line,
//! and that holds for a binary relinked by a replay after an edit; exact mode's units stay
//! apart.

use crate::fixture;
use std::path::Path;
use std::process::{Command, Output};

fn files(version: u32) -> Vec<(String, String)> {
    vec![
        ("ws/Cargo.toml".into(), "[workspace]\nresolver = \"2\"\nmembers = [\"app\"]\n".into()),
        (
            "ws/app/Cargo.toml".into(),
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ndep = { path = \"../../dep\" }\n".into(),
        ),
        (
            "ws/app/src/main.rs".into(),
            format!(
                "fn compute(n: u64) -> u64 {{\n    let local_value = n * {version} + 1;\n    local_value / 2\n}}\n\nfn main() {{\n    let r = compute(41);\n    println!(\"{{}}\", dep::helper(r));\n}}\n"
            ),
        ),
        ("dep/Cargo.toml".into(), "[package]\nname = \"dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
        (
            "dep/src/lib.rs".into(),
            "pub fn helper(x: u64) -> u64 {\n    let doubled = x * 2;\n    if std::env::var_os(\"BOOM\").is_some() {\n        panic!(\"boom {doubled}\");\n    }\n    doubled\n}\n".into(),
        ),
    ]
}

fn splitlink(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(fixture::splitlink()).args(args).current_dir(dir).env_remove("CARGO_TARGET_DIR").output().unwrap();
    assert!(o.status.success(), "splitlink {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn gdb(bin: &Path, commands: &[&str]) -> String {
    let mut c = Command::new("gdb");
    c.args(["-nx", "-batch"]);
    for x in commands {
        c.args(["-ex", x]);
    }
    let o = c.arg(bin).output().expect("gdb (Debian: apt-get install gdb; tests/run-all.sh installs it)");
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn fast_mode_debuginfo_keeps_the_debugger_and_backtraces() {
    let tmp = tempfile::tempdir().unwrap();
    fixture::write_files(tmp.path(), &files(3));
    let ws = tmp.path().join("ws");
    let bin = ws.join("target/debug/app");
    let o = splitlink(&ws, &["build", "--fast", "--message-format", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"linker\":\"wild "), "fast mode links with wild (bash tests/install-wild.sh; SPLITLINK_WILD): {out}");
    let explain = String::from_utf8_lossy(&splitlink(&ws, &["explain"]).stdout).to_string();
    assert!(explain.contains("dependencies built with line-tables-only debuginfo"), "{explain}");

    // The workspace: a breakpoint by name, its locals.
    let g = gdb(&bin, &["break app::compute", "run", "next", "info locals"]);
    assert!(g.contains("app/src/main.rs:2") && g.contains("local_value = 124"), "gdb in the workspace's code:\n{g}");
    // A dependency: its lines (a breakpoint by file:line stops there), not its locals.
    let g = gdb(&bin, &["break lib.rs:2", "run", "info locals"]);
    assert!(g.contains("Breakpoint 1, dep::helper") && g.contains("at src/lib.rs:2"), "gdb in a dependency:\n{g}");
    assert!(g.contains("No locals."), "a dependency's locals are not described (line tables only):\n{g}");
    // Backtraces: file:line in both.
    let run = Command::new(&bin).env("RUST_BACKTRACE", "1").env("BOOM", "1").output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("boom 124") && err.contains("dep/src/lib.rs:4") && err.contains("app/src/main.rs:8"), "backtrace:\n{err}");

    // An edit, replayed (not through cargo) and relinked: the new binary's debug info is found.
    std::fs::write(ws.join("app/src/main.rs"), &files(5)[2].1).unwrap();
    let o = splitlink(&ws, &["build", "--fast", "--message-format", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"cargo_invoked\":false") && out.contains("\"linked\":[{"), "{out}");
    let g = gdb(&bin, &["break app::compute", "run", "next", "info locals"]);
    assert!(g.contains("local_value = 206"), "gdb after a replayed relink:\n{g}");

    // Exact mode is other units (cargo's own debuginfo): built apart, its binary in place, and
    // fast mode's records still there when switching back (nothing rebuilt).
    splitlink(&ws, &["build"]);
    let comment = Command::new("readelf").args(["-p", ".comment"]).arg(&bin).output().unwrap();
    assert!(String::from_utf8_lossy(&comment.stdout).contains("LLD"), "exact mode's binary is rust-lld's");
    let g = gdb(&bin, &["break dep::helper", "run", "next", "info locals"]);
    assert!(g.contains("doubled = 206"), "exact mode: full debuginfo for dependencies:\n{g}");
    let o = splitlink(&ws, &["build", "--fast", "--message-format", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"cargo_invoked\":false") && out.contains("\"compiled\":[]"), "back to fast mode, nothing to do: {out}");
    let comment = Command::new("readelf").args(["-p", ".comment"]).arg(&bin).output().unwrap();
    assert!(String::from_utf8_lossy(&comment.stdout).contains("Wild"), "fast mode's binary is back in place");
}
