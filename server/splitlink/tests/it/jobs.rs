//! The replay's jobserver ([`splitlink_engine::jobs`]): every rustc it starts gets the pool of
//! `-j` tokens through `CARGO_MAKEFLAGS`, as under cargo. Seen from inside rustc: a proc macro
//! reads the variable while the replay compiles its caller, and the binary prints it.

use crate::fixture;
use std::process::Command;

fn app(version: u32) -> String {
    format!("fn main() {{\n    println!(\"flags={{}}\", pm::makeflags!());\n    println!(\"v={version}\");\n}}\n")
}

#[test]
fn rustc_gets_the_replays_jobserver() {
    let (_tmp, dir) = workspace("jobs");
    build(&dir, &[], &[]);
    let under_cargo = run(&dir);
    assert!(under_cargo.contains("--jobserver-auth="), "cargo gives rustc its jobserver: {under_cargo}");
    for (v, jobs) in [(2, "1"), (3, "2")] {
        std::fs::write(dir.join("app/src/main.rs"), app(v)).unwrap();
        build(&dir, &["-j", jobs], &[]);
        assert_replayed(&dir);
        let out = run(&dir);
        assert!(out.contains(&format!("v={v}")), "{out}");
        assert!(out.contains("--jobserver-auth="), "-j {jobs}: the replay gives rustc its jobserver: {out}");
    }
}

fn assert_replayed(dir: &std::path::Path) {
    let explain = Command::new(fixture::splitlink()).arg("explain").current_dir(dir).output().unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("cargo: not invoked") && explain.contains("compiled app (bin)"), "replayed: {explain}");
}

/// Under make (`make -j3`, a recipe marked `+`), the replay joins make's jobserver as cargo does:
/// rustc gets make's own `--jobserver-auth` (the descriptors make opened), not a pool of
/// splitlink's.
#[test]
fn under_make_rustc_gets_makes_jobserver() {
    let make = which("make").expect("GNU make is needed for this test (tests/run-all.sh installs it: apt-get install make)");
    let (_tmp, dir) = workspace("make");
    build(&dir, &[], &[]);
    std::fs::write(dir.join("Makefile"), "all:\n\t+@echo \"$$MAKEFLAGS\" > makeflags.txt\n\t+@\"$(SPLITLINK)\" build -j 8\n").unwrap();
    std::fs::write(dir.join("app/src/main.rs"), app(2)).unwrap();
    let o = Command::new(make)
        .args(["-j3", "--no-print-directory"])
        .arg(format!("SPLITLINK={}", fixture::splitlink().display()))
        .current_dir(&dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env("SPLITLINK_TIMINGS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let makeflags = std::fs::read_to_string(dir.join("makeflags.txt")).unwrap();
    let auth = makeflags.split_whitespace().find(|w| w.starts_with("--jobserver-auth=")).expect("make -j3 names its jobserver");
    assert!(stderr.contains(&format!("joined make's jobserver ({auth})")), "{stderr}");
    assert_replayed(&dir);
    let out = run(&dir);
    assert!(out.contains("v=2"), "{out}");
    assert!(out.contains(auth), "rustc gets make's jobserver {auth}: {out}");
}

/// make 4.4's named-pipe jobserver (`--jobserver-auth=fifo:PATH`): joined, and the token taken
/// for the second job is back in the fifo after the build.
#[test]
fn a_fifo_jobserver_is_joined_and_its_tokens_come_back() {
    let (tmp, dir) = workspace("fifo");
    build(&dir, &[], &[]);
    let fifo = tmp.path().join("jobserver.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo (coreutils)");
    assert!(st.success());
    // Held open read-write for the whole test (as make holds it): two tokens, `-j3`.
    let pipe = std::fs::OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
    (&pipe).write_all(b"++").unwrap();
    // Two libraries that compile at once (the second job takes a token), then the app.
    std::fs::write(dir.join("app/src/main.rs"), app(2)).unwrap();
    std::fs::write(dir.join("other/src/lib.rs"), "pub fn two() -> u32 { 2 }\n").unwrap();
    std::fs::write(dir.join("pm/src/lib.rs"), format!("{PM}// edited\n")).unwrap();
    let flags = format!(" -j3 --jobserver-auth=fifo:{}", fifo.display());
    let stderr = build(&dir, &["-j", "8"], &[("MAKEFLAGS", flags.as_str()), ("SPLITLINK_TIMINGS", "1")]);
    assert!(stderr.contains(&format!("joined make's jobserver (--jobserver-auth=fifo:{})", fifo.display())), "{stderr}");
    assert_replayed(&dir);
    let explain = Command::new(fixture::splitlink()).arg("explain").current_dir(&dir).output().unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("compiled other (lib)") && explain.contains("compiled pm (proc-macro)"), "{explain}");
    let out = run(&dir);
    assert!(out.contains("v=2") && out.contains(&format!("fifo:{}", fifo.display())), "rustc gets the fifo: {out}");
    // Both tokens are back: read them without blocking.
    let nb = std::fs::OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(&fifo).unwrap();
    let mut buf = [0u8; 8];
    let n = (&nb).read(&mut buf).unwrap_or(0);
    assert_eq!(&buf[..n], b"++", "tokens left in the jobserver after the build");
    drop(pipe);
}

/// `O_NONBLOCK` on Linux (the tests do not depend on `libc` for one constant).
const O_NONBLOCK: i32 = 0o4000;

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn workspace(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"pm\", \"other\"]\n".into()),
            (
                "pm/Cargo.toml".into(),
                "[package]\nname = \"pm\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nproc-macro = true\n".into(),
            ),
            ("pm/src/lib.rs".into(), PM.into()),
            ("other/Cargo.toml".into(), "[package]\nname = \"other\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            ("other/src/lib.rs".into(), "pub fn one() -> u32 { 1 }\n".into()),
            (
                "app/Cargo.toml".into(),
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\npm = { path = \"../pm\" }\n".into(),
            ),
            ("app/src/main.rs".into(), app(1)),
        ],
    );
    (tmp, dir)
}

/// The proc macro: the jobserver rustc was given, as a string literal.
const PM: &str = "use proc_macro::TokenStream;\n\n#[proc_macro]\npub fn makeflags(_: TokenStream) -> TokenStream {\n    let v = std::env::var(\"CARGO_MAKEFLAGS\").unwrap_or_default();\n    format!(\"{v:?}\").parse().unwrap()\n}\n";

/// `splitlink build` in `dir` (no jobserver in the environment but `env`'s): its stderr.
fn build(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = Command::new(fixture::splitlink())
        .arg("build")
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    stderr
}

fn run(dir: &std::path::Path) -> String {
    String::from_utf8_lossy(&Command::new(dir.join("target/debug/app")).output().unwrap().stdout).to_string()
}
