//! When the split compile/link fails for reasons that are not the user's code (here: a rustc
//! that crashes on `-Zno-link`, as an internal compiler error would), the unit is built with its
//! original single rustc invocation, the user is told once, and later builds keep working.

use crate::fixture;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn split_failure_falls_back_to_the_single_invocation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            ("src/main.rs".into(), "fn main() {\n    println!(\"one\");\n}\n".into()),
        ],
    );
    // The real rustc, except that a `-Zno-link` compile dies like an ICE (exit 101).
    let real = String::from_utf8(Command::new("rustup").args(["which", "rustc"]).output().unwrap().stdout).unwrap();
    let script = tmp.path().join("rustc-ice-on-no-link");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = \"-Zno-link\" ]; then\n    echo 'error: internal compiler error: injected by the test' >&2\n    exit 101\n  fi\ndone\nexec {} \"$@\"\n",
            real.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let build = || {
        let out = Command::new(fixture::splitlink())
            .args(["build", "--message-format", "json"])
            .current_dir(&dir)
            .env("RUSTC", &script)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let fin: serde_json::Value = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|v: &serde_json::Value| v["reason"] == "build-finished")
            .unwrap();
        (out.status.success(), fin, stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (ok, fin, stdout, stderr) = build();
    assert!(ok, "{stderr}");
    assert!(stdout.contains("without the split"), "the fallback is reported: {stdout}\n{stderr}");
    assert_eq!(fixture::run_binary(&dir, "app"), "one");

    std::fs::write(dir.join("src/main.rs"), "fn main() {\n    println!(\"two\");\n}\n").unwrap();
    let (ok, fin2, stdout, stderr) = build();
    assert!(ok, "{stderr}");
    assert_eq!(fin2["splitlink"]["cargo_invoked"], false, "{fin2}");
    assert!(!stdout.contains("without the split"), "said once, not on every build: {stdout}");
    // Unsplit, a compile is a link.
    assert_eq!(fin2["splitlink"]["linked"][0]["target"], "app", "{fin2}");
    assert_eq!(fixture::run_binary(&dir, "app"), "two");
    let _ = fin;
}
