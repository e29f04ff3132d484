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
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jobs");
    fixture::write_files(
        &dir,
        &[
            ("Cargo.toml".into(), "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"pm\"]\n".into()),
            ("pm/Cargo.toml".into(), "[package]\nname = \"pm\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nproc-macro = true\n".into()),
            (
                "pm/src/lib.rs".into(),
                "use proc_macro::TokenStream;\n\n/// The jobserver rustc was given, as a string literal.\n#[proc_macro]\npub fn makeflags(_: TokenStream) -> TokenStream {\n    let v = std::env::var(\"CARGO_MAKEFLAGS\").unwrap_or_default();\n    format!(\"{v:?}\").parse().unwrap()\n}\n".into(),
            ),
            (
                "app/Cargo.toml".into(),
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\npm = { path = \"../pm\" }\n".into(),
            ),
            ("app/src/main.rs".into(), app(1)),
        ],
    );
    let build = |args: &[&str]| {
        let o = Command::new(fixture::splitlink())
            .arg("build")
            .args(args)
            .current_dir(&dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MAKEFLAGS")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let run = || String::from_utf8_lossy(&Command::new(dir.join("target/debug/app")).output().unwrap().stdout).to_string();
    build(&[]);
    let under_cargo = run();
    assert!(under_cargo.contains("--jobserver-auth="), "cargo gives rustc its jobserver: {under_cargo}");
    for (v, jobs) in [(2, "1"), (3, "2")] {
        std::fs::write(dir.join("app/src/main.rs"), app(v)).unwrap();
        build(&["-j", jobs]);
        let explain = Command::new(fixture::splitlink()).arg("explain").current_dir(&dir).output().unwrap();
        let explain = String::from_utf8_lossy(&explain.stdout);
        assert!(explain.contains("cargo: not invoked") && explain.contains("compiled app (bin)"), "replayed: {explain}");
        let out = run();
        assert!(out.contains(&format!("v={v}")), "{out}");
        assert!(out.contains("--jobserver-auth="), "-j {jobs}: the replay gives rustc its jobserver: {out}");
    }
}
