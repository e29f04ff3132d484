//! cargo's conventions (issue #14), each against cargo on the same workspace: colour from
//! `--color`, `CARGO_TERM_COLOR`; `--message-format`; `--target`/`build.target`; `cargo
//! splitlink` and cargo aliases through `cargo-splitlink` on PATH.

use crate::fixture;
use std::path::Path;
use std::process::{Command, Output};

fn workspace(dir: &Path) {
    fixture::write_files(
        dir,
        &[
            ("Cargo.toml".into(), "[package]\nname = \"colours\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            // A warning, so that a rendered rustc diagnostic is printed by every build (fresh
            // units' warnings are replayed, as cargo does).
            ("src/main.rs".into(), "fn main() {\n    let unused = 1;\n}\n".into()),
        ],
    );
}

fn run(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("run")
}

fn coloured(o: &Output) -> bool {
    String::from_utf8_lossy(&o.stderr).contains("\u{1b}[")
}

#[test]
fn colour_follows_the_flag_and_cargo_term_color_like_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("colours");
    workspace(&dir);
    let sl = fixture::splitlink();
    let cargo = Path::new("cargo");
    // cargo's own behaviour on this workspace, piped: plain unless asked.
    assert!(coloured(&run(&dir, cargo, &["build", "--color", "always"], &[])));
    assert!(!coloured(&run(&dir, cargo, &["build"], &[])));
    // splitlink, piped, the same way: through cargo (first build) and replayed.
    let first = run(&dir, &sl, &["build", "--color", "always"], &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(coloured(&first), "--color always: {}", String::from_utf8_lossy(&first.stderr));
    for (args, env, want) in [
        (&["build"][..], &[][..], false),
        (&["build", "--color", "always"][..], &[][..], true),
        (&["build", "--color", "never"][..], &[("CARGO_TERM_COLOR", "always")][..], false),
        (&["build"][..], &[("CARGO_TERM_COLOR", "always")][..], true),
        (&["build", "--color", "auto"][..], &[("CARGO_TERM_COLOR", "always")][..], false),
    ] {
        let o = run(&dir, &sl, args, env);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{args:?} {env:?}: {err}");
        assert!(err.contains("unused"), "the warning is shown: {err}");
        assert_eq!(coloured(&o), want, "{args:?} {env:?}: {err:?}");
    }
}

#[test]
fn cargo_splitlink_and_a_cargo_alias_run_splitlink() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("colours");
    workspace(&dir);
    // The two binaries as `cargo install` leaves them: side by side, on PATH.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(fixture::splitlink(), bin.join("splitlink")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_cargo-splitlink"), bin.join("cargo-splitlink")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let o = run(&dir, Path::new("cargo"), &["splitlink", "build", "--message-format", "json"], &[("PATH", &path)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"reason\":\"build-finished\"") && out.contains("\"cargo_invoked\":true"), "{out}");
    // An alias in .cargo/config.toml, as users write them; the second build replays.
    fixture::write_files(&dir, &[(".cargo/config.toml".into(), "[alias]\nsb = \"splitlink build --message-format json\"\n".into())]);
    let o = run(&dir, Path::new("cargo"), &["sb"], &[("PATH", &path)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"reason\":\"build-finished\""), "{out}");
    // And a clear error when `splitlink` is not beside it.
    std::fs::remove_file(bin.join("splitlink")).unwrap();
    let o = run(&dir, Path::new("cargo"), &["splitlink", "build"], &[("PATH", &path)]);
    assert_eq!(o.status.code(), Some(101));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`splitlink` was not found beside cargo-splitlink"));
}

/// An editor started from a desktop often has a PATH without `~/.cargo/bin`
/// (rust-analyzer#16659): splitlink finds cargo in `$CARGO_HOME/bin` as rust-analyzer does.
#[test]
fn cargo_is_found_in_cargo_home_when_path_lacks_it() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<std::path::PathBuf> = std::env::split_paths(&path).collect();
    let cargo_dir = dirs.iter().find(|d| d.join("cargo").is_file()).expect("cargo on PATH").clone();
    assert!(
        !cargo_dir.join("cc").exists(),
        "cargo lives in {} beside the C toolchain: it cannot be hidden from PATH for this test (install Rust with rustup)",
        cargo_dir.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("colours");
    workspace(&dir);
    let home = tmp.path().join("cargo-home");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    // As rustup leaves it: cargo, rustc, rustdoc… side by side.
    for e in std::fs::read_dir(&cargo_dir).unwrap().flatten() {
        std::os::unix::fs::symlink(e.path(), home.join("bin").join(e.file_name())).unwrap();
    }
    let without: Vec<&std::path::PathBuf> = dirs.iter().filter(|d| **d != cargo_dir).collect();
    let path = std::env::join_paths(without).unwrap();
    let o = Command::new(fixture::splitlink())
        .args(["build", "--message-format", "json"])
        .current_dir(&dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO")
        .env("PATH", &path)
        .env("CARGO_HOME", &home)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("\"cargo_invoked\":true"), "{out}");
    // Nowhere at all: the message says where it looked and what to do.
    let o = Command::new(fixture::splitlink())
        .args(["build", "--through-cargo"])
        .current_dir(&dir)
        .env_remove("CARGO")
        .env("PATH", &path)
        .env("CARGO_HOME", tmp.path().join("nowhere"))
        .env("HOME", tmp.path().join("nobody"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no `cargo` on PATH, in $CARGO_HOME/bin or ~/.cargo/bin"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A lib with a warning and a bin that uses it: the bin gets a warning, then an error.
fn two_unit_workspace(dir: &Path) {
    fixture::write_files(
        dir,
        &[
            ("Cargo.toml".into(), "[package]\nname = \"formats\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            ("src/lib.rs".into(), "pub fn answer() -> u32 {\n    let unused = 1;\n    42\n}\n".into()),
            ("src/main.rs".into(), "fn main() {\n    let mut m = formats::answer();\n    println!(\"{m}\");\n}\n".into()),
        ],
    );
}

/// What a build printed for the user, minus the lines that differ by design (status lines with
/// times, splitlink's `Link skipped` and `build failed after`): sorted, ANSI stripped unless
/// `keep_ansi` (units print in the order they finish, which is not fixed).
fn shown(o: &Output, format: &str) -> Vec<String> {
    let json = format.starts_with("json");
    let mut lines: Vec<String> = Vec::new();
    if json {
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            if v["reason"] == "compiler-message" {
                lines.push(format!("stdout: {} {}", v["target"]["name"], v["message"]["rendered"]));
            }
        }
    }
    for l in String::from_utf8_lossy(&o.stderr).lines() {
        let plain = splitlink_engine::strip_ansi(l);
        let t = plain.trim_start();
        if t.is_empty()
            || t.starts_with("Compiling ")
            || t.starts_with("Checking ")
            || t.starts_with("Blocking ")
            || t.starts_with("Finished ")
            || t.starts_with("Link skipped ")
            || t.starts_with("Linking ")
        {
            continue;
        }
        if plain.starts_with("error: build failed after ") {
            continue;
        }
        lines.push(format!("stderr: {plain}"));
    }
    lines.sort();
    lines
}

/// `--message-format` as cargo means it, each value against cargo on a copy of the same
/// workspace: the first build (through cargo) and a rebuild after an edit (replayed: the lib's
/// warning from its last compile, the bin's error and warning from rustc now).
#[test]
fn message_formats_print_what_cargo_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let sl = fixture::splitlink();
    for format in ["human", "short", "json", "json-diagnostic-short", "json-diagnostic-rendered-ansi", "json-render-diagnostics"] {
        let ours = tmp.path().join(format!("{format}-splitlink/formats"));
        let theirs = tmp.path().join(format!("{format}-cargo/formats"));
        two_unit_workspace(&ours);
        two_unit_workspace(&theirs);
        let args = ["build", "--message-format", format];
        for step in ["first build", "after an edit that breaks the bin"] {
            let o = run(&ours, &sl, &args, &[]);
            let c = run(&theirs, Path::new("cargo"), &args, &[]);
            assert_eq!(o.status.code(), c.status.code(), "{format}, {step}: {}", String::from_utf8_lossy(&o.stderr));
            let (mine, cargos) = (shown(&o, format), shown(&c, format));
            assert!(mine.iter().any(|l| l.contains("unused")), "{format}, {step}: the lib's warning is shown: {mine:#?}");
            assert_eq!(mine, cargos, "{format}, {step}: splitlink (left) and cargo (right) differ");
            let edit = "fn main() {\n    let mut m = formats::answer();\n    let x: u8 = \"no\";\n    println!(\"{m}\");\n}\n";
            for d in [&ours, &theirs] {
                std::fs::write(d.join("src/main.rs"), edit).unwrap();
            }
        }
        // The second build did not go through cargo.
        let explain = Command::new(&sl).arg("explain").current_dir(&ours).output().unwrap();
        assert!(
            String::from_utf8_lossy(&explain.stdout).contains("cargo: not invoked"),
            "{format}: {}",
            String::from_utf8_lossy(&explain.stdout)
        );
    }
    // cargo's rule on combining them, and its words.
    let o = run(&tmp.path().join("short-splitlink/formats"), &sl, &["build", "--message-format", "short,json"], &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot specify two kinds of `message-format` arguments"));
}

fn host_triple() -> String {
    let o = Command::new("rustc").arg("-vV").output().expect("rustc -vV");
    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| l.strip_prefix("host: ")).expect("host line").trim().to_string()
}

/// `--target <triple>` and `build.target` from `.cargo/config.toml`: outputs where cargo puts
/// them (`target/<triple>/debug/…`), replayed after an edit like any build; a target without
/// its standard library gets cargo's message.
#[test]
fn target_triple_builds_land_where_cargos_do() {
    let tmp = tempfile::tempdir().unwrap();
    let sl = fixture::splitlink();
    let host = host_triple();
    for how in ["flag", "config"] {
        let ours = tmp.path().join(format!("{how}-splitlink/formats"));
        let theirs = tmp.path().join(format!("{how}-cargo/formats"));
        two_unit_workspace(&ours);
        two_unit_workspace(&theirs);
        let mut args = vec!["build"];
        if how == "flag" {
            args.extend(["--target", host.as_str()]);
        } else {
            let config = format!("[build]\ntarget = \"{host}\"\n");
            for d in [&ours, &theirs] {
                fixture::write_files(d, &[(".cargo/config.toml".into(), config.clone())]);
            }
        }
        let c = run(&theirs, Path::new("cargo"), &args, &[]);
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
        let rel = format!("target/{host}/debug/formats");
        assert!(theirs.join(&rel).is_file(), "cargo wrote {rel}");
        let o = run(&ours, &sl, &args, &[]);
        assert!(o.status.success(), "{how}: {}", String::from_utf8_lossy(&o.stderr));
        let bin = ours.join(&rel);
        assert!(bin.is_file(), "{how}: splitlink wrote {rel}");
        assert!(!ours.join("target/debug/formats").exists(), "{how}: nothing for the host's default layout");
        assert_eq!(Command::new(&bin).output().unwrap().stdout, b"42\n");
        // An edit: replayed (cargo not involved), the binary at the same place is current.
        std::fs::write(ours.join("src/lib.rs"), "pub fn answer() -> u32 {\n    let _unused = 1;\n    43\n}\n").unwrap();
        let o = run(&ours, &sl, &args, &[]);
        assert!(o.status.success(), "{how}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(Command::new(&bin).output().unwrap().stdout, b"43\n", "{how}: the binary after the edit");
        let mut explain = vec!["explain"];
        explain.extend(&args[1..]);
        let e = Command::new(&sl).args(&explain).current_dir(&ours).output().unwrap();
        let e = String::from_utf8_lossy(&e.stdout);
        assert!(e.contains("cargo: not invoked") && e.contains("linked formats (bin)"), "{how}: {e}");
    }
    // A target whose standard library is not installed: cargo's error, and its advice.
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().unwrap();
    let rustlib = Path::new(String::from_utf8_lossy(&sysroot.stdout).trim()).join("lib/rustlib");
    let missing = ["riscv64gc-unknown-linux-gnu", "wasm32-unknown-unknown", "aarch64-unknown-linux-gnu", "thumbv7em-none-eabihf"]
        .into_iter()
        .find(|t| !rustlib.join(t).exists())
        .expect("one of four targets is not installed");
    let dir = tmp.path().join("flag-splitlink/formats");
    let o = run(&dir, &sl, &["build", "--target", missing], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("can't find crate for `") && err.contains(&format!("rustup target add {missing}")), "{err}");
}

/// `splitlink clippy` against `cargo clippy` on copies of one workspace: the same lints, then
/// (after a fix, replayed without cargo) the same silence; a new `clippy.toml` lints again
/// (cargo's fingerprints miss a config that did not exist); `-- -D warnings` fails the run.
#[test]
fn clippy_lints_appear_and_clear_as_under_cargo_clippy() {
    let tmp = tempfile::tempdir().unwrap();
    let sl = fixture::splitlink();
    let ours = tmp.path().join("splitlink/formats");
    let theirs = tmp.path().join("cargo/formats");
    let lib_with_lint = "pub fn answer(a: u32, b: u32, c: u32) -> u32 {\n    return a + b + c + 39;\n}\n";
    let lib_fixed = "pub fn answer(a: u32, b: u32, c: u32) -> u32 {\n    a + b + c + 39\n}\n";
    let main = "fn main() {\n    println!(\"{}\", formats::answer(1, 1, 1));\n}\n";
    for d in [&ours, &theirs] {
        two_unit_workspace(d);
        std::fs::write(d.join("src/lib.rs"), lib_with_lint).unwrap();
        std::fs::write(d.join("src/main.rs"), main).unwrap();
    }
    for (step, lib, lint) in [("with the lint", lib_with_lint, true), ("after the fix", lib_fixed, false)] {
        for d in [&ours, &theirs] {
            std::fs::write(d.join("src/lib.rs"), lib).unwrap();
        }
        let o = run(&ours, &sl, &["clippy"], &[]);
        let c = run(&theirs, Path::new("cargo"), &["clippy"], &[]);
        assert!(o.status.success() && c.status.success(), "{step}: {}", String::from_utf8_lossy(&o.stderr));
        let (mine, cargos) = (shown(&o, "human"), shown(&c, "human"));
        assert_eq!(mine.iter().any(|l| l.contains("unneeded `return` statement")), lint, "{step}: {mine:#?}");
        assert_eq!(mine, cargos, "{step}: splitlink clippy (left) and cargo clippy (right) differ");
    }
    let explain = Command::new(&sl).arg("explain").current_dir(&ours).output().unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("cargo: not invoked") && explain.contains("compiled formats (lib): src/lib.rs changed"), "{explain}");
    // The binary was checked, not built: clippy links nothing.
    assert!(!ours.join("target/debug/formats").exists());

    std::fs::write(ours.join("clippy.toml"), "too-many-arguments-threshold = 2\n").unwrap();
    let o = run(&ours, &sl, &["clippy"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("this function has too many arguments (3/2)"), "a new clippy.toml is read: {err}");
    std::fs::remove_file(ours.join("clippy.toml")).unwrap();
    let o = run(&ours, &sl, &["clippy"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("too many arguments"), "and its removal too: {err}");

    std::fs::write(ours.join("src/lib.rs"), lib_with_lint).unwrap();
    let o = run(&ours, &sl, &["clippy", "--", "-D", "warnings"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("error: unneeded `return` statement") && err.contains("could not compile `formats` (lib)"), "{err}");
}
