//! Differential test: a sequence of random edits; after each, the binary splitlink built must
//! behave exactly like the one a plain `cargo build` of an identical copy produces.

use crate::fixture;
use std::path::Path;
use std::process::Command;

#[derive(Clone, Debug)]
struct Params {
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

fn render(p: &Params) -> Vec<(String, String)> {
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
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n".into(),
        ),
        ("util/src/lib.rs".into(), lib),
        ("app/src/main.rs".into(), bin),
    ];
    if let Some(v) = p.extra_module {
        files.push(("util/src/extra.rs".into(), format!("pub fn value() -> u64 {{\n    {v}\n}}\n")));
    }
    files
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn mutate(p: &mut Params, rng: &mut Rng) -> &'static str {
    match rng.below(11) {
        0 => {
            p.base = 1 + rng.below(9);
            "lib constant"
        }
        1 => {
            p.label = LABELS[rng.below(LABELS.len() as u64) as usize];
            "bin string"
        }
        2 => {
            p.generic_mul = 1 + rng.below(5);
            "generic body in lib (instantiated in bin)"
        }
        3 => {
            p.inline_add = rng.below(5);
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
                Some(_) if rng.below(2) == 0 => None,
                _ => Some(rng.below(100)),
            };
            "module added/changed/removed"
        }
        9 => {
            p.cfg_test_bin = !p.cfg_test_bin;
            "#[cfg(test)] in bin"
        }
        _ => "nothing (identical saves)",
    }
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
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn random_edits_match_cargo() {
    let seed: u64 = std::env::var("SPLITLINK_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1234_abcd);
    let steps: usize = std::env::var("SPLITLINK_DIFF_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("splitlink");
    let theirs = tmp.path().join("cargo");
    let mut p = Params {
        base: 3,
        label: "total",
        generic_mul: 2,
        inline_add: 1,
        top_comments_lib: 0,
        top_comments_bin: 0,
        eol_lib: 0,
        eol_bin: 0,
        extra_module: None,
        cfg_test_bin: false,
    };
    let mut files = render(&p);
    fixture::write_files(&ours, &files);
    fixture::write_files(&theirs, &files);
    let mut relinks = 0;
    let mut skips = 0;
    for step in 0..=steps {
        let what = if step == 0 { "initial" } else { mutate(&mut p, &mut rng) };
        let new_files = render(&p);
        write_changed(&ours, &new_files, &files);
        write_changed(&theirs, &new_files, &files);
        files = new_files;
        let o = fixture::build(&ours, &[]);
        assert!(o.success, "step {step} ({what}), seed {seed}: splitlink build failed\n{}", o.stderr);
        if step > 0 {
            assert!(!o.cargo, "step {step} ({what}): a source edit must not go through cargo");
        }
        relinks += o.linked.len();
        skips += o.skipped.len();
        let c = Command::new("cargo").args(["build", "-q"]).current_dir(&theirs).env_remove("CARGO_TARGET_DIR").output().unwrap();
        assert!(c.status.success(), "cargo build failed: {}", String::from_utf8_lossy(&c.stderr));
        let a = run(&ours.join("target/debug/app"));
        let b = run(&theirs.join("target/debug/app"));
        assert_eq!(a, b, "step {step} ({what}), seed {seed}: splitlink's binary differs from cargo's; params {p:?}");
    }
    // The sequence must exercise both decisions, or it proves little.
    assert!(relinks > 0 && skips > 0, "relinks {relinks}, skipped links {skips}");
}
