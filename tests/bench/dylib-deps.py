#!/usr/bin/env python3
"""Fast mode's lever 3 (issue #13), prototyped and measured by hand: a binary's dependencies from
outside the workspace linked into one shared library (what Bevy's `dynamic_linking` feature does
by hand), so that a relink after an edit processes only the workspace's objects.

Runs on a workspace cargo has already built in the dev profile (default: the `cargo` 0.96 crate
left by `bash tests/real-code.sh` in target/bench/check-cargo/cargo). It asks cargo for the exact
rustc invocations of the package's library and binary (`cargo build -v` after a touch), builds one
dylib (`splitlink_deps`, `-C prefer-dynamic`) re-exporting every non-workspace crate the two name
with `--extern`, then compiles the binary twice per edit, split as splitlink splits it
(`-Zno-link`, then `-Zlink-only`): once as cargo would (static), once against the dylib
(`--extern force:splitlink_deps=…`, rpaths to it and to the toolchain's libstd). Each side is timed
with rust-lld (rustc's default) and with wild (fast mode's linker), after a function-body edit of
the binary; then both binaries run the same commands and must behave the same.

Writes only under <workspace>/target (lever3/, and lever3-lt/ for --deps-line-tables-only, a
second build of the workspace with lever 2's dependency debuginfo) and restores the edited file.
A prototype, not fast mode: the engine does not build this dylib (docs/benchmarks-fast.md says why).
Usage: python3 tests/bench/dylib-deps.py [--workspace DIR] [--deps-line-tables-only] [--repeats N]
"""

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


CWD = None


def sh(argv, cwd=None, env=None, check=True):
    cwd = cwd or CWD
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, argv[:3]))}… failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


def cargo_invocations(ws, lib_src, bin_src, cargo_args, target_dir):
    """The rustc argv and env cargo uses for the library and the binary of the package."""
    for f in (lib_src, bin_src):
        os.utime(ws / f)
    p = sh(["cargo", "build", "-v", "--target-dir", str(target_dir)] + cargo_args, cwd=ws)
    found = {}
    for line in p.stderr.splitlines():
        m = re.match(r"^\s*Running `(.*)`$", line)
        if not m:
            continue
        words = shlex.split(m.group(1))
        env = {}
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        for key, src in (("lib", lib_src), ("bin", bin_src)):
            if str(src) in words:
                found[key] = (words, env)
    if set(found) != {"lib", "bin"}:
        sys.exit(f"error: cargo build -v did not show both rustc invocations (saw {sorted(found)})")
    # cargo -v shows the CARGO_* variables, not what the build script gave: OUT_DIR and its
    # rustc-env lines (the newest run of the package's build script).
    name = flag_values(found["bin"][0], "--crate-name")[0]
    runs = sorted(target_dir.glob(f"debug/build/{name}-*/output"), key=lambda p: p.stat().st_mtime)
    if runs:
        env = found["bin"][1]
        env["OUT_DIR"] = str(runs[-1].parent / "out")
        for line in runs[-1].read_text().splitlines():
            m = re.match(r"^cargo::?rustc-env=([^=]+)=(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2)
    return found["lib"], found["bin"]


def flag_values(argv, flag):
    out = []
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            out.append(argv[i + 1])
    return out


def replace_flag(argv, flag, pred, new):
    """argv with the value of `flag` that matches pred replaced by new."""
    out = list(argv)
    for i, a in enumerate(out[:-1]):
        if a == flag and pred(out[i + 1]):
            out[i + 1] = new
    return out


def nm(path, *flags):
    """(type, name) of each symbol nm lists (objects of archives included)."""
    out = []
    for line in sh(["nm", *flags, str(path)], check=False).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[-2]) == 1:
            out.append((parts[-2], parts[-1]))
    return out


def c_exports(so, static_inputs):
    """C symbols of the dylib's bundled native libraries (sqlite, libgit2, curl, zlib…) that the
    statically linked workspace code calls: rustc's version script for a dylib exports Rust
    symbols only, so inlined Rust code in a workspace crate calling them would not link."""
    local_c = {n for t, n in nm(so, "--defined-only") if t in "tdbr" and not n.startswith(("_ZN", "_R"))}
    wanted = {n for p in static_inputs for t, n in nm(p, "-u") if t == "U"}
    return sorted(local_c & wanted)


def build_dylib(out, lib_cmd, bin_cmd, workspace_libs, static_inputs):
    """One dylib that re-exports every non-workspace crate the library and the binary use."""
    externs = {}
    for argv in (lib_cmd, bin_cmd):
        for v in flag_values(argv, "--extern"):
            name, _, path = v.partition("=")
            if not path or path.endswith(".so") or Path(path).name.split("-")[0] in workspace_libs:
                continue
            # A library's dependencies are named by their .rmeta (pipelining); a dylib links rlibs.
            externs.setdefault(re.sub(r"\.rmeta$", ".rlib", path), name)
    src = out / "splitlink_deps.rs"
    lines = ["#![allow(unused_extern_crates)]"]
    args = []
    for i, (path, name) in enumerate(sorted(externs.items(), key=lambda kv: kv[1])):
        lines.append(f"pub extern crate d{i}; // {name}")
        args += ["--extern", f"d{i}={path}"]
    src.write_text("\n".join(lines) + "\n")
    rustc = bin_cmd[0]
    argv = [rustc, "--crate-name", "splitlink_deps", "--edition=2021", str(src), "--crate-type", "dylib",
            "-C", "prefer-dynamic", "-C", "debuginfo=2", "-C", "metadata=splitlink-lever3",
            "--out-dir", str(out / "dylib"), "--cap-lints", "allow"]
    for v in flag_values(bin_cmd, "-L"):
        argv += ["-L", v]
    argv += args
    (out / "dylib").mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    sh(argv, env=dict(os.environ, RUSTC_BOOTSTRAP="1"))
    so = out / "dylib" / "libsplitlink_deps.so"
    exports = c_exports(so, static_inputs)
    if exports:  # link it again, those exported too (an exact name beats the script's `local: *`)
        (out / "c-exports.map").write_text("{\n  global:\n" + "".join(f"    {n};\n" for n in exports) + "};\n")
        sh(argv + ["-C", f"link-arg=-Wl,--version-script={out / 'c-exports.map'}"], env=dict(os.environ, RUSTC_BOOTSTRAP="1"))
    dt = time.monotonic() - t
    return so, len(externs), len(exports), dt


def split_build(bin_cmd, env, src, variant_dir, extra_compile, extra_link):
    """-Zno-link then -Zlink-only, as splitlink runs a binary: (compile s, link s, binary path)."""
    argv = replace_flag(bin_cmd, "--out-dir", lambda v: True, str(variant_dir / "out"))
    argv = replace_flag(argv, "-C", lambda v: v.startswith("incremental="), f"incremental={variant_dir / 'incr'}")
    (variant_dir / "out").mkdir(parents=True, exist_ok=True)
    mangling = ["-Csymbol-mangling-version=legacy", "-Zunstable-options"]
    e = dict(os.environ, **env, RUSTC_BOOTSTRAP="1")
    t = time.monotonic()
    sh(argv + extra_compile + mangling + ["-Zno-link"], env=e)
    t_compile = time.monotonic() - t
    rlinks = list((variant_dir / "out").glob("*.rlink"))
    if len(rlinks) != 1:
        sys.exit(f"error: expected one .rlink in {variant_dir / 'out'}, found {rlinks}")
    link_argv = [x for x in argv if x != str(src)]
    t = time.monotonic()
    sh(link_argv + extra_compile + extra_link + mangling + ["-Zlink-only", str(rlinks[0])], env=e)
    t_link = time.monotonic() - t
    name = flag_values(argv, "--crate-name")[0]
    extra = [v for v in flag_values(argv, "-C") if v.startswith("extra-filename=")]
    suffix = extra[0].split("=", 1)[1] if extra else ""
    return t_compile, t_link, variant_dir / "out" / f"{name}{suffix}"


def behaviour(binary, cases, scratch):
    out = []
    for args, cwd in cases:
        p = subprocess.run([str(binary)] + args, cwd=cwd, capture_output=True, text=True,
                           env=dict(os.environ, CARGO_TERM_COLOR="never"))
        norm = lambda s: re.sub(r"in \d+(\.\d+)?s", "in Ts", s.replace(str(scratch), "SCRATCH"))
        out.append((args, p.returncode, norm(p.stdout), norm(p.stderr)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", default=str(REPO / "target/bench/check-cargo/cargo"))
    ap.add_argument("--lib-src", default="src/cargo/lib.rs")
    ap.add_argument("--bin-src", default="src/bin/cargo/main.rs")
    ap.add_argument("--anchor", default="fn main() {")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--deps-line-tables-only", action="store_true",
                    help="dependencies built with line-tables-only debuginfo (fast mode's lever 2), in target/lever3-lt")
    a = ap.parse_args()
    ws = Path(a.workspace).resolve()
    global CWD
    CWD = ws
    if not (ws / "target/debug").is_dir():
        sys.exit(f"error: {ws} has no target/debug: build it with cargo first (bash tests/real-code.sh --real cargo)")
    target_dir, cargo_args = ws / "target", []
    if a.deps_line_tables_only:
        target_dir = ws / "target" / "lever3-lt"
        cargo_args = ["--config", 'profile.dev.package."*".debug="line-tables-only"']
    out = target_dir / "lever3"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    wild = sh(["bash", str(REPO / "tests/install-wild.sh")]).stdout.strip()
    wild_dir = out / "wild"
    wild_dir.mkdir()
    (wild_dir / "ld").symlink_to(wild)
    wild_args = ["-Clinker-features=-lld", "-Clink-self-contained=-linker", f"-Clink-arg=-B{wild_dir}"]
    sysroot = sh(["rustc", "--print", "sysroot"]).stdout.strip()
    host = re.search(r"^host: (.*)$", sh(["rustc", "-vV"]).stdout, re.M).group(1)
    std_dir = f"{sysroot}/lib/rustlib/{host}/lib"

    (lib_cmd, _), (bin_cmd, bin_env) = cargo_invocations(ws, Path(a.lib_src), Path(a.bin_src), cargo_args, target_dir)
    workspace_rlibs = [re.sub(r"\.rmeta$", ".rlib", v.partition("=")[2]) for v in flag_values(bin_cmd, "--extern")
                       if Path(v.partition("=")[2]).name.split("-")[0] == "lib" + flag_values(lib_cmd, "--crate-name")[0]]
    so, n, n_c, t_dylib = build_dylib(out, lib_cmd, bin_cmd, {"lib" + flag_values(lib_cmd, "--crate-name")[0]}, workspace_rlibs)
    print(f"dylib: {n} crates re-exported and {n_c} C symbols, built in {t_dylib:.1f} s, {so.stat().st_size / 1e6:.0f} MB")
    dylib_compile = ["--extern", f"force:splitlink_deps={so}"]
    dylib_link = [f"-Clink-arg=-Wl,-rpath,{so.parent}", f"-Clink-arg=-Wl,-rpath,{std_dir}"]
    variants = {
        "static, rust-lld": ([], []),
        "static, wild": ([], wild_args),
        "dylib, rust-lld": (dylib_compile, dylib_link),
        "dylib, wild": (dylib_compile, dylib_link + wild_args),
    }
    bin_file = ws / a.bin_src
    original = bin_file.read_text()
    if a.anchor not in original:
        sys.exit(f"error: `{a.anchor}` not in {bin_file}")
    times = {k: [] for k in variants}
    binaries = {}
    try:
        for k, (c, l) in variants.items():  # warm each variant's incremental cache
            split_build(bin_cmd, bin_env, a.bin_src, out / k.replace(", ", "-"), c, l)
        for r in range(a.repeats):
            bin_file.write_text(original.replace(a.anchor, f"{a.anchor} let _lever3 = {r + 1};", 1))
            for k, (c, l) in variants.items():
                tc, tl, b = split_build(bin_cmd, bin_env, a.bin_src, out / k.replace(", ", "-"), c, l)
                times[k].append((tc, tl))
                binaries[k] = b
                print(f"  edit {r + 1}: {k:18} compile {tc * 1000:6.0f} ms, link {tl * 1000:6.0f} ms")
    finally:
        bin_file.write_text(original)

    # A package of its own (not `cargo new`, which would join the enclosing workspace).
    scratch = Path(tempfile.mkdtemp(prefix="lever3-", dir=out))
    (scratch / "hello/src").mkdir(parents=True)
    (scratch / "hello/Cargo.toml").write_text('[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    (scratch / "hello/src/main.rs").write_text('fn main() {\n    println!("Hello, world!");\n}\n')
    cases = [(["-V"], scratch), (["--list"], scratch), (["metadata", "--format-version", "1", "--no-deps"], scratch / "hello"),
             (["build", "--offline"], scratch / "hello"), (["run", "--offline", "-q"], scratch / "hello"),
             (["tree", "--offline"], scratch / "hello"), (["no-such-command"], scratch)]
    seen = {}
    for k, b in binaries.items():
        shutil.rmtree(scratch / "hello" / "target", ignore_errors=True)
        (scratch / "hello" / "Cargo.lock").unlink(missing_ok=True)
        seen[k] = behaviour(b, cases, scratch)
    ref = seen["static, rust-lld"]
    same = {k: v == ref for k, v in seen.items()}
    print("\n| binary | body-edit compile | link | compile + link | same behaviour as cargo's static binary |")
    print("|---|---:|---:|---:|---|")
    for k, ts in times.items():
        c = statistics.median(t[0] for t in ts)
        l = statistics.median(t[1] for t in ts)
        print(f"| {k} | {c:.2f} s | {l:.2f} s | {c + l:.2f} s | {'yes' if same[k] else 'NO'} |")
    size = {k: b.stat().st_size / 1e6 for k, b in binaries.items()}
    print("\nbinary sizes (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in size.items()))
    print(f"checked: {', '.join(' '.join(c[0]) for c in cases)}")
    for k, ok in same.items():
        if not ok:
            for x, y in zip(seen[k], ref):
                if x != y:
                    print(f"!! {k}: `{' '.join(x[0])}` differs:\n   {x[1:]!r}\n   vs {y[1:]!r}"[:2000])
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
