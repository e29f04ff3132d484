//! Real link failures the corpus does not contain, produced by building tiny
//! projects with cargo in a temporary directory (no network: `--offline`,
//! no dependencies). Builds are serialized; each takes a few seconds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;
use splitlink_diag::linker::{from_link_error, is_link_error, LinkContext};
use splitlink_diag::model::{Diagnostic, LinkKind};
use splitlink_diag::render;

static CARGO: Mutex<()> = Mutex::new(());

fn write_project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = tmp.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    tmp
}

/// `cargo build --message-format=json` in `dir`; returns rustc's link-error
/// diagnostics and cargo's stdout.
fn build(dir: &Path, target: &str, extra: &[&str], rustflags: Option<&str>) -> (Vec<Value>, String) {
    let mut args = vec!["build", "--offline", "--message-format=json"];
    args.extend_from_slice(extra);
    cargo(dir, target, &args, rustflags, &[], true)
}

/// Runs cargo with `args` in `dir`. With `expect_link_error`, asserts that
/// the build failed with a link error and returns those diagnostics.
fn cargo(
    dir: &Path,
    target: &str,
    args: &[&str],
    rustflags: Option<&str>,
    env: &[(&str, &str)],
    expect_link_error: bool,
) -> (Vec<Value>, String) {
    let _guard = CARGO.lock().unwrap_or_else(|e| e.into_inner());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("CARGO_TARGET_DIR", dir.join(target))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_JOBS")
        .env("CARGO_TERM_COLOR", "never");
    if let Some(f) = rustflags {
        cmd.env("RUSTFLAGS", f);
    }
    let out = cmd.output().expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !expect_link_error {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        return (Vec::new(), stdout);
    }
    assert!(!out.status.success(), "the build was expected to fail at link time:\n{}", String::from_utf8_lossy(&out.stderr));
    let errors: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(is_link_error).collect();
    assert!(!errors.is_empty(), "no link error in cargo's output:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    (errors, stdout)
}

fn diagnostics(dir: &Path, root_source: &str, errors: &[Value]) -> Vec<Diagnostic> {
    let ctx = LinkContext::discover(dir, &dir.join(root_source));
    errors.iter().flat_map(|e| from_link_error(e, &ctx)).collect()
}

fn tool_available(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn lines_of(d: &Diagnostic) -> Vec<(PathBuf, u32, u32)> {
    d.primary.iter().chain(d.related.iter().map(|r| &r.location)).map(|l| (l.file.clone(), l.line_start, l.col_start)).collect()
}

const FIVE_REFS: &str = r#"extern "C" {
    fn missing_fn(x: u32) -> u32;
}

#[inline(never)]
fn one(x: u32) -> u32 {
    unsafe { missing_fn(x) + 1 }
}

#[inline(never)]
fn two(x: u32) -> u32 {
    unsafe { missing_fn(x) + 2 }
}

#[inline(never)]
fn three(x: u32) -> u32 {
    unsafe { missing_fn(x) + 3 }
}

#[inline(never)]
fn four(x: u32) -> u32 {
    unsafe { missing_fn(x) + 4 }
}

#[inline(never)]
fn five(x: u32) -> u32 {
    unsafe { missing_fn(x) + 5 }
}

fn main() {
    let v = std::hint::black_box(1);
    println!("{}", one(v) + two(v) + three(v) + four(v) + five(v));
}
"#;

/// rust-lld, release (no DWARF): an undefined symbol referenced from five
/// functions. lld lists three references by function and counts the rest
/// ("referenced 2 more times"); each listed function is found in the source
/// and narrowed to its call.
#[test]
fn lld_release_undefined_from_five_functions() {
    let p = write_project(&[
        ("Cargo.toml", "[package]\nname = \"many_refs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        ("src/main.rs", FIVE_REFS),
    ]);
    let dir = p.path().canonicalize().unwrap();
    let (errors, _) = build(&dir, "target", &["--release"], None);
    let ds = diagnostics(&dir, "src/main.rs", &errors);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert!(d.raw.contains("rust-lld: error: undefined symbol: missing_fn"), "{}", d.raw);
    assert!(!d.raw.contains("main.rs:"), "release build unexpectedly has line info:\n{}", d.raw);
    let link = d.link.as_ref().unwrap();
    assert_eq!(link.kind, LinkKind::UndefinedSymbol);
    assert_eq!(link.symbol.as_deref(), Some("missing_fn"));
    assert_eq!(link.more_references, 2);
    assert_eq!(d.message, "undefined symbol: `missing_fn`");
    let main_rs = dir.join("src/main.rs");
    let call_lines = [7, 12, 17, 22, 27];
    let refs: Vec<_> = lines_of(d).into_iter().filter(|(f, l, _)| *f == main_rs && call_lines.contains(l)).collect();
    assert_eq!(refs.len(), 3, "three listed references, each at its call: {:#?}", lines_of(d));
    assert!(refs.iter().all(|(_, _, c)| *c == 14), "{refs:?}");
    assert!(d.primary.as_ref().is_some_and(|p| call_lines.contains(&p.line_start)));
    // The extern declaration is related.
    assert!(d.related.iter().any(|r| r.message == "declared here" && r.location.line_start == 2 && r.location.col_start == 8));
    assert!(d.notes.iter().any(|n| n == "note: referenced 2 more times"), "{:#?}", d.notes);
    assert_eq!(d.notes.iter().filter(|n| n.starts_with("note: referenced from `many_refs::")).count(), 3, "{:#?}", d.notes);
    assert!(d.notes.iter().all(|n| !n.contains("::h")), "hashes are stripped: {:#?}", d.notes);
    let human = render::human(d, false, &dir);
    assert!(human.starts_with("error[link]: undefined symbol: `missing_fn`\n"), "{human}");
    assert!(human.contains("unsafe { missing_fn(x) +"), "{human}");
}

const SHIM_C: &str = "int missing_in_c(int);\n\nint c_entry(int x) {\n    return missing_in_c(x) + 1;\n}\n";

const SHIM_BUILD: &str = r#"use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let obj = out.join("shim.o");
    let ok = Command::new("gcc").args(["-c", "-g", "-fPIC", "csrc/shim.c", "-o"]).arg(&obj).status().unwrap();
    assert!(ok.success());
    let ok = Command::new("ar").arg("rcs").arg(out.join("libshim.a")).arg(&obj).status().unwrap();
    assert!(ok.success());
    println!("cargo::rustc-link-search=native={}", out.display());
    println!("cargo::rustc-link-lib=static=shim");
    println!("cargo::rerun-if-changed=csrc/shim.c");
}
"#;

/// A build script compiles C (with gcc) that calls a function nobody
/// defines. Both rust-lld and ld.bfd print the C file and line from DWARF;
/// the build script's `rustc-link-lib` line is related.
#[test]
fn c_code_from_build_script_calls_missing_function() {
    if !tool_available("gcc") || !tool_available("ar") {
        eprintln!("gcc/ar not available: skipped");
        return;
    }
    let p = write_project(&[
        ("Cargo.toml", "[package]\nname = \"c_missing\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        ("build.rs", SHIM_BUILD),
        ("csrc/shim.c", SHIM_C),
        (
            "src/main.rs",
            "extern \"C\" {\n    fn c_entry(x: i32) -> i32;\n}\n\nfn main() {\n    println!(\"{}\", unsafe { c_entry(1) });\n}\n",
        ),
    ]);
    let dir = p.path().canonicalize().unwrap();
    for (target, flags, linker_text) in
        [("target-lld", None, "rust-lld: error"), ("target-bfd", Some("-C linker-features=-lld"), "undefined reference to `missing_in_c'")]
    {
        let (errors, _) = build(&dir, target, &[], flags);
        let ds = diagnostics(&dir, "src/main.rs", &errors);
        assert_eq!(ds.len(), 1, "{target}: {ds:#?}");
        let d = &ds[0];
        assert!(d.raw.contains(linker_text), "{target}: {}", d.raw);
        assert_eq!(d.link_kind(), Some(LinkKind::UndefinedSymbol));
        assert_eq!(d.link.as_ref().unwrap().symbol.as_deref(), Some("missing_in_c"));
        let p = d.primary.as_ref().unwrap();
        // `    return missing_in_c(x) + 1;`
        assert_eq!((p.file.clone(), p.line_start, p.col_start, p.col_end), (dir.join("csrc/shim.c"), 4, 12, 24), "{target}");
        let linked = d.related.iter().find(|r| r.message.contains("native library `shim`")).expect("build script line");
        assert_eq!((linked.location.file.clone(), linked.location.line_start), (dir.join("build.rs"), 12), "{target}");
        assert!(d.notes.iter().any(|n| n == "note: referenced from `c_entry`"), "{target}: {:#?}", d.notes);
    }
}

const BUMP: &str = r#"mod ffi {
    extern "C" {
        pub fn again(x: u32) -> u32;
    }
}

struct Counter(u32);

impl Counter {
    fn bump(&mut self) -> u32 {
        unsafe {
            self.0 = ffi::again(self.0);
            self.0 = ffi::again(self.0);
            self.0 = ffi::again(self.0);
            self.0 = ffi::again(self.0);
            self.0 = ffi::again(self.0);
            self.0 = ffi::again(self.0);
            self.0 = ffi::again(self.0);
        }
        self.0
    }
}

fn main() {
    let mut c = Counter(1);
    println!("{}", c.bump());
}
"#;

/// ld.bfd lists five references to one symbol, then "more undefined
/// references to `again' follow". With DWARF each line is a reference; without
/// it the section name carries the (legacy-mangled) method, which is found
/// in its `impl` block.
#[test]
fn bfd_more_undefined_references_follow() {
    let p = write_project(&[
        ("Cargo.toml", "[package]\nname = \"bfd_many\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        ("src/main.rs", BUMP),
    ]);
    let dir = p.path().canonicalize().unwrap();
    let main_rs = dir.join("src/main.rs");

    let (errors, _) = build(&dir, "target-dbg", &[], Some("-C linker-features=-lld"));
    let ds = diagnostics(&dir, "src/main.rs", &errors);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert!(d.raw.contains("more undefined references to `again' follow"), "{}", d.raw);
    assert_eq!(d.link.as_ref().unwrap().more_references, 1, "a lower bound");
    let p = d.primary.as_ref().unwrap();
    assert_eq!((p.file.clone(), p.line_start, p.col_start, p.col_end), (main_rs.clone(), 12, 27, 32));
    let also: Vec<u32> = d.related.iter().filter(|r| r.message == "also referenced here").map(|r| r.location.line_start).collect();
    assert_eq!(also, vec![13, 14, 15, 16, 17]);
    assert!(d.related.iter().any(|r| r.message == "declared here" && r.location.line_start == 3 && r.location.col_start == 16));
    assert!(d.notes.iter().any(|n| n == "note: referenced from `bfd_many::Counter::bump`"), "{:#?}", d.notes);
    assert!(d.notes.iter().any(|n| n.contains("did not list")), "{:#?}", d.notes);

    let (errors, _) = build(&dir, "target-nodbg", &[], Some("-C linker-features=-lld -C debuginfo=0"));
    let ds = diagnostics(&dir, "src/main.rs", &errors);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert!(d.raw.contains("(.text._ZN8bfd_many7Counter4bump"), "{}", d.raw);
    let p = d.primary.as_ref().unwrap();
    assert_eq!((p.file.clone(), p.line_start, p.col_start), (main_rs, 12, 27), "first call inside `Counter::bump`");
    assert_eq!(d.link.as_ref().unwrap().more_references, 1);
}

const COUNTER_C: &str = "static int counter;\n\nint *counter_addr(void) {\n    return &counter;\n}\n";

const COUNTER_BUILD: &str = r#"use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let obj = out.join("counter.o");
    let ok = Command::new("gcc").args(["-c", "-g", "-fno-pic", "csrc/counter.c", "-o"]).arg(&obj).status().unwrap();
    assert!(ok.success());
    let ok = Command::new("ar").arg("rcs").arg(out.join("libcounter.a")).arg(&obj).status().unwrap();
    assert!(ok.success());
    println!("cargo::rustc-link-search=native={}", out.display());
    println!("cargo::rustc-link-lib=static=counter");
}
"#;

/// A cdylib that links C compiled without `-fPIC`: a relocation error.
/// rust-lld gives the C line; ld.bfd only the archive member, which leads
/// to the build script line linking it.
#[test]
fn cdylib_with_non_pic_c_code() {
    if !tool_available("gcc") || !tool_available("ar") {
        eprintln!("gcc/ar not available: skipped");
        return;
    }
    let p = write_project(&[
        ("Cargo.toml", "[package]\nname = \"nopic\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n"),
        ("build.rs", COUNTER_BUILD),
        ("csrc/counter.c", COUNTER_C),
        ("src/lib.rs", "extern \"C\" {\n    fn counter_addr() -> *mut i32;\n}\n\n#[no_mangle]\npub extern \"C\" fn bump() -> i32 {\n    unsafe {\n        let p = counter_addr();\n        *p += 1;\n        *p\n    }\n}\n"),
    ]);
    let dir = p.path().canonicalize().unwrap();

    let (errors, _) = build(&dir, "target-lld", &[], None);
    let ds = diagnostics(&dir, "src/lib.rs", &errors);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert_eq!(d.link_kind(), Some(LinkKind::Relocation), "{d:#?}");
    assert!(d.message.contains("R_X86_64_32") && d.message.contains("-fPIC"), "{}", d.message);
    let p = d.primary.as_ref().unwrap();
    assert_eq!((p.file.clone(), p.line_start), (dir.join("csrc/counter.c"), 4));
    assert!(d.related.iter().any(|r| r.location.file == dir.join("build.rs") && r.location.line_start == 12), "{:#?}", d.related);

    let (errors, _) = build(&dir, "target-bfd", &[], Some("-C linker-features=-lld"));
    let ds = diagnostics(&dir, "src/lib.rs", &errors);
    // bfd's follow-up "failed to set dynamic section sizes" stays in the raw text.
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert_eq!(d.link_kind(), Some(LinkKind::Relocation));
    assert!(d.raw.contains("recompile with -fPIC"), "{}", d.raw);
    let p = d.primary.as_ref().unwrap();
    assert_eq!((p.file.clone(), p.line_start), (dir.join("build.rs"), 12), "{d:#?}");
    assert!(p.label.as_deref().is_some_and(|l| l.contains("native library `counter`")));
}

const MIXED_LIB: &str = r#"extern "C" {
    fn missing_shared(x: u32) -> u32;
}

pub fn compute(x: u32) -> u32 {
    unsafe { missing_shared(x) }
}

pub struct Wrap<T>(pub T);

impl<T: Into<u32> + Copy> Wrap<T> {
    pub fn get(&self) -> u32 {
        unsafe { missing_shared(self.0.into()) }
    }
}
"#;

/// One undefined symbol referenced from a dependency built by cargo (legacy
/// mangling) and from a generic instantiated in the binary built with v0
/// mangling (`RUSTC_BOOTSTRAP=1`, as splitlink's `-Zno-link` step may do),
/// with `--no-demangle` so the linker prints both raw: both are demangled
/// and found.
#[test]
fn legacy_and_v0_mangling_in_one_error() {
    let p = write_project(&[
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nmylib = { path = \"mylib\" }\n\n[workspace]\nmembers = [\"mylib\"]\n",
        ),
        ("mylib/Cargo.toml", "[package]\nname = \"mylib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("mylib/src/lib.rs", MIXED_LIB),
        ("src/main.rs", "fn main() {\n    let a = mylib::compute(3);\n    let b = mylib::Wrap(4u8).get();\n    println!(\"{a} {b}\");\n}\n"),
    ]);
    let dir = p.path().canonicalize().unwrap();
    // The dependency: stable rustc, legacy mangling.
    cargo(&dir, "target", &["build", "--offline", "-p", "mylib"], None, &[], false);
    // The binary: v0 mangling, no debuginfo, linker demangling off.
    let (errors, _) = cargo(
        &dir,
        "target",
        &[
            "rustc",
            "--offline",
            "--bin",
            "app",
            "--message-format=json",
            "--",
            "-Zunstable-options",
            "-Csymbol-mangling-version=v0",
            "-Clink-arg=-Wl,--no-demangle",
            "-Cdebuginfo=0",
        ],
        None,
        &[("RUSTC_BOOTSTRAP", "1")],
        true,
    );
    let ds = diagnostics(&dir, "src/main.rs", &errors);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert!(d.raw.contains(":(_RNv") && d.raw.contains(":(_ZN5mylib7compute17h"), "both manglings expected:\n{}", d.raw);
    assert_eq!(d.link.as_ref().unwrap().symbol.as_deref(), Some("missing_shared"));
    let lib = dir.join("mylib/src/lib.rs");
    let mut got: Vec<(u32, u32)> = lines_of(d).into_iter().filter(|(f, _, _)| *f == lib).map(|(_, l, c)| (l, c)).collect();
    got.sort();
    // declaration, call in `compute` (DWARF of the dependency), call in `Wrap::get` (v0 name, no DWARF).
    assert_eq!(got, vec![(2, 8), (6, 14), (13, 18)], "{d:#?}");
    assert!(d.notes.iter().any(|n| n == "note: referenced from `mylib::compute`"), "{:#?}", d.notes);
    assert!(d.notes.iter().any(|n| n == "note: referenced from `<mylib::Wrap<u8>>::get`"), "{:#?}", d.notes);
}

/// The five-function case with GNU gold (one line per reference, object,
/// codegen unit and function, no source line in release) and mold (which
/// drops the newlines between references: `…(f)>>> referenced by …`).
/// Every function the linker lists is located at its call.
#[test]
fn gold_and_mold_list_referencing_functions() {
    let p = write_project(&[
        ("Cargo.toml", "[package]\nname = \"many_refs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        ("src/main.rs", FIVE_REFS),
    ]);
    let dir = p.path().canonicalize().unwrap();
    let main_rs = dir.join("src/main.rs");
    let call_line = |f: &str| match f {
        "one" => 7,
        "two" => 12,
        "three" => 17,
        "four" => 22,
        "five" => 27,
        other => panic!("unexpected function {other}"),
    };
    let mut ran = 0;
    for (linker, tool, flags) in
        [("gold", "ld.gold", "-C linker-features=-lld -C link-arg=-fuse-ld=gold"), ("mold", "mold", "-C link-arg=-fuse-ld=mold")]
    {
        if !tool_available(tool) {
            eprintln!("{tool} not available: {linker} skipped");
            continue;
        }
        ran += 1;
        let (errors, _) = build(&dir, &format!("target-{linker}"), &["--release"], Some(flags));
        let ds = diagnostics(&dir, "src/main.rs", &errors);
        assert_eq!(ds.len(), 1, "{linker}: {ds:#?}");
        let d = &ds[0];
        let link = d.link.as_ref().unwrap();
        assert_eq!((link.kind, link.symbol.as_deref()), (LinkKind::UndefinedSymbol, Some("missing_fn")), "{linker}");
        // The functions the linker printed, in its order.
        let mut listed: Vec<String> = Vec::new();
        for piece in d.raw.split("many_refs::").skip(1) {
            let f: String = piece.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !listed.contains(&f) {
                listed.push(f);
            }
        }
        assert!(!listed.is_empty(), "{linker}: {:#?}\n{}", d.notes, d.raw);
        let expected: Vec<(PathBuf, u32, u32)> = listed.iter().map(|f| (main_rs.clone(), call_line(f), 14)).collect();
        let got: Vec<(PathBuf, u32, u32)> = lines_of(d).into_iter().filter(|(_, l, _)| *l > 5).collect();
        assert_eq!(got, expected, "{linker}: each listed function at its call, in order\n{}", d.raw);
        if linker == "mold" {
            assert_eq!(link.more_references, 2, "{}", d.raw);
            assert_eq!(listed.len(), 3);
        } else {
            assert_eq!(link.more_references, 0);
            assert_eq!(listed.len(), d.raw.matches(":function ").count());
        }
    }
    if ran == 0 {
        eprintln!("neither gold nor mold available: nothing checked");
    }
}

/// wild 0.10 (fast mode's linker; installed by tests/install-wild.sh, found through
/// SPLITLINK_WILD): it names the first reference only, with a DWARF line whose path lacks
/// `src/` (`/ws/main.rs:7`) in debug builds, and the object alone in release. Debug: the
/// diagnostic is at the call (line 7), found by the file name among the sources; release: the
/// object names no function, so the root source is the fallback.
#[test]
fn wild_undefined_symbol_at_the_call() {
    let wild = std::env::var("SPLITLINK_WILD").expect("SPLITLINK_WILD: the wild linker (bash tests/install-wild.sh)");
    let p = write_project(&[
        ("Cargo.toml", "[package]\nname = \"many_refs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        ("src/main.rs", FIVE_REFS),
    ]);
    let dir = p.path().canonicalize().unwrap();
    let bdir = dir.join("wild-ld");
    std::fs::create_dir_all(&bdir).unwrap();
    std::os::unix::fs::symlink(&wild, bdir.join("ld")).unwrap();
    let flags = format!("-C linker-features=-lld -C link-self-contained=-linker -C link-arg=-B{}", bdir.display());
    let (errors, _) = build(&dir, "target-wild", &[], Some(&flags));
    let ds = diagnostics(&dir, "src/main.rs", &errors);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert!(d.raw.contains("wild: error: Undefined symbol missing_fn"), "{}", d.raw);
    let link = d.link.as_ref().unwrap();
    assert_eq!((link.kind, link.symbol.as_deref()), (LinkKind::UndefinedSymbol, Some("missing_fn")));
    let primary = d.primary.as_ref().unwrap();
    assert_eq!((primary.file.clone(), primary.line_start), (dir.join("src/main.rs"), 7), "{d:#?}");
}
