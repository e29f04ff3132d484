//! cargo's conventions (issue #14): colour from `--color`, `CARGO_TERM_COLOR`, as cargo does on
//! the same workspace.

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
