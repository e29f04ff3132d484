//! One test per fixture in `tests/fixtures/engine/`: every revision's recompiled units, links,
//! skipped links, cargo invocations and binary output.

use crate::fixture;

fn run(name: &str) {
    let path = fixture::repo_root().join("tests/fixtures/engine").join(format!("{name}.fixture"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fx = fixture::parse(name, &text);
    assert!(fx.revisions.len() >= 2, "{name}: a fixture needs an initial build and at least one edit");
    let failures = fixture::check(&fx);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_has_a_test() {
    let dir = fixture::repo_root().join("tests/fixtures/engine");
    let src = include_str!("engine.rs");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned();
        let list = src.rsplit("fixtures!(").next().unwrap();
        assert!(list.split([',', ' ', ')', '\n']).any(|n| n == name.replace('-', "_")), "fixture {name} has no test function");
    }
}

macro_rules! fixtures {
    ($($name:ident),* $(,)?) => { $( #[test] fn $name() { run(&stringify!($name).replace('_', "-")); } )* };
}

fixtures!(
    bin_and_lib,
    new_module,
    manifest_change,
    build_script,
    two_bins,
    proc_macro,
    cdylib,
    compile_error,
    deleted_binary,
    cargo_interleaved,
    link_error,
    warnings,
    build_script_default_rerun,
    same_name_lib_bin,
    discovered_targets,
    outside_path_dep,
    root_build_script_nested,
    script_out_dir,
    feature_unification,
    pipelined,
    fast_mode,
);

/// Two records claiming one unit in splitlink's state: never a guess, the build goes through
/// cargo (which compiles again what splitlink no longer has a record of) and the binary is right.
#[test]
fn two_records_for_one_unit_send_the_build_through_cargo() {
    let path = fixture::repo_root().join("tests/fixtures/engine/same-name-lib-bin.fixture");
    let fx = fixture::parse("dup", &std::fs::read_to_string(path).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dup");
    fixture::write_files(&dir, &fx.files);
    assert!(fixture::build(&dir, &[]).success);
    // Duplicate the lib's record, with the bin's invocation (what the collision used to do).
    let target = dir.join("target");
    let mut state = splitlink_engine::state::StateFile::read(&target).expect("the state splitlink wrote");
    let lib = state.units.iter().find(|u| u.spec.key.kind == "lib").unwrap().clone();
    let bin = state.units.iter().find(|u| u.spec.key.kind == "bin").unwrap().clone();
    let mut dup = bin.clone();
    dup.spec.key = lib.spec.key.clone();
    state.units.push(dup);
    state.write(&target).unwrap();
    fixture::apply(&dir, &fixture::Edit::Replace { path: "src/lib.rs".into(), old: "10".into(), new: "11".into() });
    let o = fixture::build(&dir, &[]);
    assert!(o.success && o.cargo, "{o:#?}");
    let explain = std::process::Command::new(fixture::splitlink()).arg("explain").current_dir(&dir).output().unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains("two records for app (lib)"), "{explain}");
    assert_eq!(fixture::run_binary(&dir, "app"), "value 11");
    // The state is whole again: the next edit replays.
    fixture::apply(&dir, &fixture::Edit::Replace { path: "src/lib.rs".into(), old: "11".into(), new: "12".into() });
    let o = fixture::build(&dir, &[]);
    assert!(o.success && !o.cargo, "{o:#?}");
    assert_eq!(fixture::run_binary(&dir, "app"), "value 12");
}

/// A workspace under `…/x3/ws`: in the bin's `.rlink`, the `3` before `/ws/target/debug/deps/
/// libutil-<hash>.rlib` is that suffix's length (51), so the suffix reads as a string too. The
/// link must still see the library's objects change (it once read the suffix, a path that does
/// not exist, measured nothing on both sides and skipped the link: a stale binary).
#[test]
fn a_library_path_whose_suffix_reads_as_a_string_still_relinks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x3").join("ws");
    let files = [
        ("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"util\"]\n"),
        ("util/Cargo.toml", "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("util/src/lib.rs", "pub fn version() -> u32 {\n    1\n}\n"),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n",
        ),
        ("app/src/main.rs", "fn main() {\n    println!(\"v={}\", util::version());\n}\n"),
    ];
    fixture::write_files(&dir, &files.map(|(p, t)| (p.to_string(), t.to_string())));
    let o = fixture::build(&dir, &[]);
    assert!(o.success, "{o:#?}");
    assert_eq!(fixture::run_binary(&dir, "app"), "v=1");
    for v in [2, 3] {
        fixture::apply(
            &dir,
            &fixture::Edit::Write { path: "util/src/lib.rs".into(), text: format!("pub fn version() -> u32 {{\n    {v}\n}}\n") },
        );
        let o = fixture::build(&dir, &[]);
        assert!(o.success && !o.cargo, "{o:#?}");
        assert_eq!(o.linked, vec!["app(bin)".to_string()], "{o:#?}");
        assert_eq!(fixture::run_binary(&dir, "app"), format!("v={v}"));
    }
}
