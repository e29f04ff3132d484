//! Differential tests: sequences of random edits; after each, every binary splitlink built must
//! behave exactly like the one a plain `cargo build` of an identical copy produces.
//!
//! Two layouts: a two-crate workspace, and a real-shaped one (the root package has a lib and a
//! bin of one name, bins in `src/bin/` that come and go, a build script without
//! `rerun-if-changed`; nested members under `crates/` with `[workspace.package]` inheritance, a
//! proc-macro; a path dependency outside the workspace). `SPLITLINK_DIFF_SEED` and
//! `SPLITLINK_DIFF_STEPS` (multiplies the default step counts) choose the sequences; the seed
//! is printed on failure.

use crate::fixture;
use std::path::Path;
use std::process::Command;

/// One random edit: what it was, and whether it must go through cargo (`None`: either).
struct Step {
    what: &'static str,
    cargo: Option<bool>,
}

trait Layout: std::fmt::Debug {
    fn files(&self) -> Vec<(String, String)>;
    fn mutate(&mut self, rng: &mut fastrand::Rng) -> Step;
    /// Binaries the workspace has now (names under `target/debug/`).
    fn bins(&self) -> Vec<String>;
    /// The directory of the workspace inside the copy (where to build).
    fn workspace(&self) -> &'static str;
}

fn write_changed(dir: &Path, files: &[(String, String)], old: &[(String, String)]) {
    for (p, _) in old {
        if !files.iter().any(|(q, _)| q == p) {
            let _ = std::fs::remove_file(dir.join(p));
        }
    }
    // Every file is written, changed or not: unchanged ones are identical-bytes saves.
    fixture::write_files(dir, files);
}

fn run(bin: &Path) -> String {
    let out = Command::new(bin).output().unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    assert!(out.status.success(), "{} failed", bin.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn seed(default: u64) -> u64 {
    std::env::var("SPLITLINK_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn steps(default: usize) -> usize {
    default * std::env::var("SPLITLINK_DIFF_STEPS").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1)
}

/// Apply `n` random edits to twin copies; after each, build one with splitlink and one with
/// cargo and compare every binary's output. Returns (relinks, skipped links, builds through cargo).
fn differential(layout: impl Layout, seed: u64, n: usize) -> (usize, usize, usize) {
    differential_with(layout, seed, n, &[])
}

/// [`differential`] with extra `splitlink build` flags (`--fast`).
fn differential_with(mut layout: impl Layout, seed: u64, n: usize, args: &[String]) -> (usize, usize, usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("splitlink");
    let theirs = tmp.path().join("cargo");
    let mut files = layout.files();
    fixture::write_files(&ours, &files);
    fixture::write_files(&theirs, &files);
    let (mut relinks, mut skips, mut captures) = (0, 0, 0);
    let mut history: Vec<&'static str> = Vec::new();
    for step in 0..=n {
        let s = if step == 0 { Step { what: "initial", cargo: Some(true) } } else { layout.mutate(&mut rng) };
        history.push(s.what);
        let ctx = || format!("step {step} ({}), seed {seed}; edits so far: {history:?}\n{layout:?}", s.what);
        let new_files = layout.files();
        write_changed(&ours, &new_files, &files);
        write_changed(&theirs, &new_files, &files);
        files = new_files;
        let ws = ours.join(layout.workspace());
        let o = fixture::build(&ws, args);
        assert!(o.success, "{}: splitlink build failed\n{}", ctx(), o.stderr);
        if args.iter().any(|a| a == "--fast") {
            let linker = o.fast_linker.as_deref().unwrap_or("");
            assert!(
                linker.starts_with("wild "),
                "{}: fast mode must link with wild (bash tests/install-wild.sh; SPLITLINK_WILD): {linker}",
                ctx()
            );
        }
        if let Some(c) = s.cargo {
            assert_eq!(o.cargo, c, "{}: cargo invoked: expected {c}\n{}", ctx(), o.stderr);
        }
        relinks += o.linked.len();
        skips += o.skipped.len();
        captures += o.cargo as usize;
        let their_ws = theirs.join(layout.workspace());
        let c = Command::new("cargo").args(["build", "-q"]).current_dir(&their_ws).env_remove("CARGO_TARGET_DIR").output().unwrap();
        assert!(c.status.success(), "{}: cargo build failed: {}", ctx(), String::from_utf8_lossy(&c.stderr));
        for bin in layout.bins() {
            let a = run(&ws.join("target/debug").join(&bin));
            let b = run(&their_ws.join("target/debug").join(&bin));
            assert_eq!(a, b, "{}: splitlink's `{bin}` differs from cargo's", ctx());
        }
    }
    (relinks, skips, captures)
}

// ---------------------------------------------------------------------------------------------
// Two crates: a lib and the bin that uses it.

#[derive(Clone, Debug)]
struct TwoCrates {
    base: u64,
    label: &'static str,
    generic_mul: u64,
    inline_add: u64,
    top_comments_lib: usize,
    top_comments_bin: usize,
    eol_lib: u32,
    eol_bin: u32,
    extra_module: Option<u64>,
    cfg_test_bin: bool,
}

const LABELS: &[&str] = &["total", "sum", "result", "answer"];

impl TwoCrates {
    /// The starting point: no comments, no extra module, no test module.
    fn new(base: u64, label: &'static str, generic_mul: u64, inline_add: u64) -> TwoCrates {
        TwoCrates {
            base,
            label,
            generic_mul,
            inline_add,
            top_comments_lib: 0,
            top_comments_bin: 0,
            eol_lib: 0,
            eol_bin: 0,
            extra_module: None,
            cfg_test_bin: false,
        }
    }
}

impl Layout for TwoCrates {
    fn workspace(&self) -> &'static str {
        "."
    }

    fn bins(&self) -> Vec<String> {
        vec!["app".into()]
    }

    fn files(&self) -> Vec<(String, String)> {
        let p = self;
        let mut lib = String::new();
        for i in 0..p.top_comments_lib {
            lib.push_str(&format!("// line-shifting comment {i}\n"));
        }
        if p.extra_module.is_some() {
            lib.push_str("pub mod extra;\n");
        }
        lib.push_str(&format!("pub const BASE: u64 = {}; // eol {}\n", p.base, p.eol_lib));
        lib.push_str(&format!(
            "pub fn scale<T: Into<u64>>(x: T) -> u64 {{\n    x.into() * {}\n}}\n\n#[inline]\npub fn bump(x: u64) -> u64 {{\n    x + {}\n}}\n\npub fn compute(n: u64) -> u64 {{\n    (1..=n).map(|i| i * BASE).sum()\n}}\n",
            p.generic_mul, p.inline_add
        ));
        let mut bin = String::new();
        for i in 0..p.top_comments_bin {
            bin.push_str(&format!("// bin comment {i}\n"));
        }
        bin.push_str(&format!(
            "fn main() {{ // eol {}\n    let v = util::compute(4) + util::scale(3u32) + util::bump(1);\n    println!(\"{}: {{v}}\");\n",
            p.eol_bin, p.label
        ));
        if p.extra_module.is_some() {
            bin.push_str("    println!(\"extra: {}\", util::extra::value());\n");
        }
        bin.push_str("}\n");
        if p.cfg_test_bin {
            bin.push_str("\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn it_runs() {}\n}\n");
        }
        let mut files = vec![
            ("Cargo.toml".into(), "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"util\"]\n".into()),
            ("util/Cargo.toml".into(), "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()),
            (
                "app/Cargo.toml".into(),
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n"
                    .into(),
            ),
            ("util/src/lib.rs".into(), lib),
            ("app/src/main.rs".into(), bin),
        ];
        if let Some(v) = p.extra_module {
            files.push(("util/src/extra.rs".into(), format!("pub fn value() -> u64 {{\n    {v}\n}}\n")));
        }
        files
    }

    fn mutate(&mut self, rng: &mut fastrand::Rng) -> Step {
        let p = self;
        let what = match rng.u64(..11) {
            0 => {
                p.base = 1 + rng.u64(..9);
                "lib constant"
            }
            1 => {
                p.label = LABELS[rng.u64(..LABELS.len() as u64) as usize];
                "bin string"
            }
            2 => {
                p.generic_mul = 1 + rng.u64(..5);
                "generic body in lib (instantiated in bin)"
            }
            3 => {
                p.inline_add = rng.u64(..5);
                "#[inline] body in lib"
            }
            4 => {
                p.top_comments_lib = (p.top_comments_lib + 1) % 3;
                "line-shifting comment in lib"
            }
            5 => {
                p.top_comments_bin = (p.top_comments_bin + 1) % 3;
                "line-shifting comment in bin"
            }
            6 => {
                p.eol_lib += 1;
                "eol comment in lib"
            }
            7 => {
                p.eol_bin += 1;
                "eol comment in bin"
            }
            8 => {
                p.extra_module = match p.extra_module {
                    Some(_) if rng.u64(..2) == 0 => None,
                    _ => Some(rng.u64(..100)),
                };
                "module added/changed/removed"
            }
            9 => {
                p.cfg_test_bin = !p.cfg_test_bin;
                "#[cfg(test)] in bin"
            }
            _ => "nothing (identical saves)",
        };
        // Source edits never need cargo in this layout.
        Step { what, cargo: Some(false) }
    }
}

#[test]
fn random_edits_match_cargo_two_crates() {
    let seed = seed(0x5eed_1234_abcd);
    let layout = TwoCrates::new(3, "total", 2, 1);
    let (relinks, skips, _) = differential(layout, seed, steps(60));
    // The sequence must exercise both decisions, or it proves little.
    assert!(relinks > 0 && skips > 0, "relinks {relinks}, skipped links {skips}");
}

// ---------------------------------------------------------------------------------------------
// The real shapes.

#[derive(Clone, Debug)]
struct RealShape {
    /// `app`'s lib (`src/lib.rs`) returns this.
    lib_value: u64,
    /// `app`'s bin (`src/main.rs`, also named `app`) prints this word.
    bin_word: &'static str,
    /// Bins in `src/bin/`: (file stem, multiplier).
    tools: Vec<(&'static str, u64)>,
    /// A constant of `crates/util`.
    util_value: u64,
    util_eol: u32,
    util_top_comments: usize,
    util_cfg_test: bool,
    util_extra_module: Option<u64>,
    /// A generic in `crates/util` instantiated in the bin.
    generic_add: u64,
    /// What the proc-macro `crates/macros` expands `answer!()` to.
    macro_value: u64,
    /// The path dependency outside the workspace (`../outside`).
    outside_value: u64,
    outside_eol: u32,
    /// What `flavor.txt` (read by the root build script) says.
    flavor: &'static str,
    /// Contents of `notes.md` in the root package (read by nothing).
    notes: u32,
    /// `[workspace.package] version` (the bin prints `CARGO_PKG_VERSION`).
    version_patch: u32,
}

const TOOLS: &[&str] = &["alpha", "beta", "gamma", "delta"];
const FLAVORS: &[&str] = &["vanilla", "mint", "lemon"];
const WORDS: &[&str] = &["hello", "salut", "hallo"];

impl Layout for RealShape {
    fn workspace(&self) -> &'static str {
        "ws"
    }

    fn bins(&self) -> Vec<String> {
        // `crates/cli` is a member `cargo build` in the root package does not build.
        let mut v = vec!["app".to_string()];
        v.extend(self.tools.iter().map(|(n, _)| n.to_string()));
        v
    }

    fn files(&self) -> Vec<(String, String)> {
        let p = self;
        let mut f: Vec<(String, String)> = Vec::new();
        f.push((
            "ws/Cargo.toml".into(),
            format!(
                "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\nutil = {{ path = \"crates/util\" }}\nmacros = {{ path = \"crates/macros\" }}\n\n[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n\n[workspace.package]\nversion = \"0.1.{}\"\nedition = \"2021\"\n",
                p.version_patch
            ),
        ));
        f.push((
            "ws/build.rs".into(),
            "fn main() {\n    // No rerun-if-changed: cargo reruns this when any file of the root package changes.\n    let flavor = std::fs::read_to_string(\"flavor.txt\").unwrap();\n    println!(\"cargo:rustc-env=APP_FLAVOR={}\", flavor.trim());\n}\n".into(),
        ));
        f.push(("ws/flavor.txt".into(), format!("{}\n", p.flavor)));
        f.push(("ws/notes.md".into(), format!("notes, revision {}\n", p.notes)));
        f.push(("ws/src/lib.rs".into(), format!("pub fn value() -> u64 {{\n    util::VALUE + {}\n}}\n", p.lib_value)));
        f.push((
            "ws/src/main.rs".into(),
            format!(
                "fn main() {{\n    println!(\"{} {{}} {{}} {{}} {{}} {{}} {{}}\", app::value(), util::add(2u8), macros::answer!(), env!(\"APP_FLAVOR\"), env!(\"CARGO_PKG_VERSION\"), util::extra());\n}}\n",
                p.bin_word
            ),
        ));
        for (name, mul) in &p.tools {
            f.push((format!("ws/src/bin/{name}.rs"), format!("fn main() {{\n    println!(\"{name} {{}}\", app::value() * {mul});\n}}\n")));
        }
        let mut util = String::new();
        for i in 0..p.util_top_comments {
            util.push_str(&format!("// line-shifting comment {i}\n"));
        }
        if p.util_extra_module.is_some() {
            util.push_str("mod more;\n");
        }
        util.push_str(&format!("pub const VALUE: u64 = {}; // eol {}\n\n", p.util_value, p.util_eol));
        util.push_str(&format!("pub fn add<T: Into<u64>>(x: T) -> u64 {{\n    x.into() + {} + outside::value()\n}}\n\n", p.generic_add));
        util.push_str(&format!(
            "pub fn extra() -> u64 {{\n    {}\n}}\n",
            if p.util_extra_module.is_some() { "more::value()" } else { "0" }
        ));
        if p.util_cfg_test {
            util.push_str("\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn works() {}\n}\n");
        }
        f.push(("ws/crates/util/Cargo.toml".into(), "[package]\nname = \"util\"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\noutside = { path = \"../../../outside\" }\n".into()));
        f.push(("ws/crates/util/src/lib.rs".into(), util));
        if let Some(v) = p.util_extra_module {
            f.push(("ws/crates/util/src/more.rs".into(), format!("pub fn value() -> u64 {{\n    {v}\n}}\n")));
        }
        f.push((
            "ws/crates/macros/Cargo.toml".into(),
            "[package]\nname = \"macros\"\nversion.workspace = true\nedition.workspace = true\n\n[lib]\nproc-macro = true\n".into(),
        ));
        f.push((
            "ws/crates/macros/src/lib.rs".into(),
            format!("use proc_macro::TokenStream;\n\n#[proc_macro]\npub fn answer(_: TokenStream) -> TokenStream {{\n    \"{}u64\".parse().unwrap()\n}}\n", p.macro_value),
        ));
        f.push(("ws/crates/cli/Cargo.toml".into(), "[package]\nname = \"cli\"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\nutil = { path = \"../util\" }\n".into()));
        f.push(("ws/crates/cli/src/main.rs".into(), "fn main() {\n    println!(\"cli {} {}\", util::VALUE, util::add(1u8));\n}\n".into()));
        f.push(("outside/Cargo.toml".into(), "[package]\nname = \"outside\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into()));
        f.push(("outside/src/lib.rs".into(), format!("pub fn value() -> u64 {{ // eol {}\n    {}\n}}\n", p.outside_eol, p.outside_value)));
        f
    }

    fn mutate(&mut self, rng: &mut fastrand::Rng) -> Step {
        let p = self;
        let pick = |rng: &mut fastrand::Rng, v: &[&'static str]| v[rng.u64(..v.len() as u64) as usize];
        let (what, cargo) = match rng.u64(..18) {
            0 => {
                p.lib_value = rng.u64(..50);
                ("root lib body (same name as the bin)", Some(false))
            }
            1 => {
                p.bin_word = pick(rng, WORDS);
                ("root bin body (same name as the lib)", Some(false))
            }
            2 => {
                p.util_value = rng.u64(..50);
                ("nested member constant", Some(false))
            }
            3 => {
                p.util_eol += 1;
                ("nested member eol comment", Some(false))
            }
            4 => {
                p.util_top_comments = (p.util_top_comments + 1) % 3;
                ("nested member line-shifting comment", Some(false))
            }
            5 => {
                p.generic_add = rng.u64(..9);
                ("generic body in a member, instantiated in the bin", Some(false))
            }
            6 => {
                p.util_cfg_test = !p.util_cfg_test;
                ("#[cfg(test)] in a member", Some(false))
            }
            7 => {
                p.util_extra_module = match p.util_extra_module {
                    Some(_) if rng.u64(..2) == 0 => None,
                    _ => Some(rng.u64(..100)),
                };
                ("module added/changed/removed in a member", Some(false))
            }
            8 => {
                p.macro_value = rng.u64(..100);
                ("proc-macro body", Some(false))
            }
            9 => {
                p.outside_value = rng.u64(..100);
                ("path dependency outside the workspace: body", Some(true))
            }
            10 => {
                p.outside_eol += 1;
                ("path dependency outside the workspace: eol comment", Some(true))
            }
            11 => {
                let name = pick(rng, TOOLS);
                match p.tools.iter().position(|(n, _)| *n == name) {
                    Some(i) if p.tools.len() > 1 => {
                        p.tools.remove(i);
                        ("bin removed from src/bin", Some(true))
                    }
                    Some(i) => {
                        p.tools[i].1 += 1;
                        ("bin in src/bin edited", Some(false))
                    }
                    None => {
                        p.tools.push((name, 1 + rng.u64(..5)));
                        ("bin added to src/bin", Some(true))
                    }
                }
            }
            12 => {
                // A rename: one bin goes, another comes with the same content.
                let from = rng.u64(..p.tools.len() as u64) as usize;
                let to = pick(rng, TOOLS);
                if p.tools.iter().any(|(n, _)| *n == to) {
                    ("bin renamed onto an existing one (nothing)", Some(false))
                } else {
                    p.tools[from].0 = to;
                    ("bin in src/bin renamed", Some(true))
                }
            }
            13 => {
                let f = pick(rng, FLAVORS);
                let changed = f != p.flavor;
                p.flavor = f;
                ("root build script's input (output changes)", Some(changed))
            }
            14 => {
                p.notes += 1;
                ("root package file the build script ignores", Some(false))
            }
            15 => {
                p.version_patch += 1;
                ("[workspace.package] version", Some(true))
            }
            16 => {
                let i = rng.u64(..p.tools.len() as u64) as usize;
                p.tools[i].1 = 1 + rng.u64(..5);
                ("bin in src/bin edited", Some(false))
            }
            _ => ("nothing (identical saves)", Some(false)),
        };
        Step { what, cargo }
    }
}

#[test]
fn random_edits_match_cargo_real_shapes() {
    let seed = seed(0x00c0_ffee_5eed);
    let layout = RealShape {
        lib_value: 1,
        bin_word: "hello",
        tools: vec![("alpha", 2), ("beta", 3)],
        util_value: 7,
        util_eol: 0,
        util_top_comments: 0,
        util_cfg_test: false,
        util_extra_module: None,
        generic_add: 1,
        macro_value: 42,
        outside_value: 5,
        outside_eol: 0,
        flavor: "vanilla",
        notes: 0,
        version_patch: 0,
    };
    let (relinks, skips, captures) = differential(layout, seed, steps(240));
    assert!(relinks > 0 && skips > 0, "relinks {relinks}, skipped links {skips}");
    assert!(captures > 1, "no edit went through cargo: the sequence proves little");
}

/// Fast mode (`--fast`: links with wild, installed by tests/install-wild.sh and found through
/// SPLITLINK_WILD): the binaries behave exactly as clean cargo builds' over random edits.
#[test]
fn random_edits_match_cargo_in_fast_mode() {
    let seed = seed(0xfa57_0001);
    let layout = TwoCrates::new(5, "sum", 3, 2);
    let (relinks, skips, _) = differential_with(layout, seed, steps(30), &["--fast".to_string()]);
    assert!(relinks > 0 && skips > 0, "relinks {relinks}, skipped links {skips}");
}
