//! cargo's conventions (issue #14): colour from `--color`, `CARGO_TERM_COLOR`, as cargo does on
//! the same workspace; `cargo splitlink` and cargo aliases through `cargo-splitlink` on PATH.

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
