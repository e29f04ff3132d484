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
);
