//! Workspace build scripts: what they read, and rerunning them without cargo.
//!
//! cargo reruns a build script when a file it named with `rerun-if-changed` changed, or — when
//! it named none — when any file of its package changed. Going through cargo for that costs a
//! whole `cargo build`; instead splitlink runs the compiled script itself, exactly as cargo ran
//! it (the environment `cargo -vv` printed for that run, the package directory as working
//! directory, the same `OUT_DIR`), and compares what it printed and what it left in `OUT_DIR`
//! with cargo's last run: identical → the captured invocations still hold and the replay goes
//! on (an early cutoff cargo cannot make); different → `OUT_DIR` is put back as it was and the
//! build goes through cargo.
//!
//! Invariant: a rerun never leaves `OUT_DIR` different from what cargo's last run left unless
//! the build then goes through cargo.

use crate::digest::{Digest, Hasher, StatCache};
use crate::discover::{self, PackageRules};
use crate::exec::{self, Cancel};
use crate::unit::UnitKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An `OUT_DIR` bigger than this is not backed up for a rerun: the build goes through cargo.
const MAX_OUT_DIR_BYTES: u64 = 64 << 20;

/// What a build script reads, as far as cargo's rerun rule goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScriptInputs {
    /// No `rerun-if-changed`: every file of the package (cargo's file list).
    Package { root: PathBuf, rules: PackageRules },
    /// The files (directories walked) its `rerun-if-changed` lines named.
    Files(Vec<PathBuf>),
}

impl ScriptInputs {
    /// The files this stands for now (a package's list is walked again: new files count).
    pub fn files(&self, target_dir: &Path) -> Vec<PathBuf> {
        match self {
            ScriptInputs::Package { root, rules } => discover::package_files(root, rules, target_dir),
            ScriptInputs::Files(v) => {
                let mut out = Vec::new();
                for p in v {
                    if p.is_dir() {
                        out.extend(walk(p));
                    } else {
                        out.push(p.clone());
                    }
                }
                out.sort();
                out.dedup();
                out
            }
        }
    }

    /// Digest of the files and their contents (re-read only when their stat changed).
    pub fn digest(&self, target_dir: &Path, cache: &mut StatCache) -> Digest {
        let mut h = Hasher::new("script-inputs");
        for p in self.files(target_dir) {
            h.str(&p.to_string_lossy()).opt_digest(&cache.digest(&p).ok().flatten());
        }
        h.finish()
    }
}

/// A workspace build script as cargo last ran it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScriptRun {
    /// The run, named after the package (`mode: RunCustomBuild`).
    pub key: UnitKey,
    pub package_dir: PathBuf,
    pub out_dir: PathBuf,
    /// The script executable and the environment cargo set for it (from `cargo -vv`); `None`
    /// when cargo did not run it in a capture splitlink saw with that output (it cannot be
    /// rerun: a change of its inputs goes through cargo).
    pub program: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub inputs: ScriptInputs,
    /// `inputs.digest()` when cargo's (or splitlink's) last run of the script happened.
    pub inputs_digest: Option<Digest>,
    /// Digest of `OUT_DIR` as cargo's last run left it.
    pub out_dir_digest: Option<Digest>,
}

impl ScriptRun {
    /// The file where cargo keeps the script's standard output.
    pub fn output_file(&self) -> PathBuf {
        self.out_dir.parent().unwrap_or(&self.out_dir).join("output")
    }
}

/// What a rerun found.
#[derive(Debug, PartialEq, Eq)]
pub enum Rerun {
    /// Same output, same `OUT_DIR`: the captured graph holds.
    Same,
    /// Not the same (or could not run): go through cargo, for this reason.
    Differs(String),
}

/// Run the script again as cargo ran it and compare (see the module docs). `scratch` is a
/// directory under the target dir splitlink may use; `wrapper` is the splitlink executable
/// (for scripts that call `RUSTC_WORKSPACE_WRAPPER`).
pub fn rerun(run: &ScriptRun, scratch: &Path, cancel: Option<&Cancel>) -> Rerun {
    let Some(program) = &run.program else {
        return Rerun::Differs("splitlink has not seen cargo run it (no environment to run it with)".into());
    };
    if !program.is_file() {
        return Rerun::Differs(format!("{} is missing", program.display()));
    }
    let size = dir_size(&run.out_dir);
    if size > MAX_OUT_DIR_BYTES {
        return Rerun::Differs(format!("its OUT_DIR holds {} MiB, too much to back up", size >> 20));
    }
    let backup = scratch.join("out-dir-backup");
    let _ = std::fs::remove_dir_all(&backup);
    if let Err(e) = copy_tree(&run.out_dir, &backup) {
        let _ = std::fs::remove_dir_all(&backup);
        return Rerun::Differs(format!("cannot back up its OUT_DIR: {e}"));
    }
    let mut cmd = std::process::Command::new(program);
    cmd.current_dir(&run.package_dir);
    for k in exec::ENV_DENYLIST {
        cmd.env_remove(k);
    }
    for (k, v) in &run.env {
        if !exec::ENV_DENYLIST.contains(&k.as_str()) || k == "RUSTC_WORKSPACE_WRAPPER" {
            cmd.env(k, v);
        }
    }
    // A script that runs `$RUSTC_WORKSPACE_WRAPPER $RUSTC …` reaches splitlink's wrapper mode,
    // which passes anything that is not a unit compile through.
    cmd.env(crate::CAPTURE_DIR_ENV, scratch.join("wrapper-records"));
    let out = exec::run_with(cmd, cancel);
    let verdict = match &out {
        Err(e) => Rerun::Differs(format!("cannot run it: {e}")),
        Ok(o) if !o.success() => {
            Rerun::Differs(format!("it failed ({})", o.code.map(|c| format!("exit status {c}")).unwrap_or_else(|| "killed".into())))
        }
        Ok(o) => {
            let before = std::fs::read(run.output_file()).ok();
            if before.as_deref() != Some(&o.stdout[..]) {
                Rerun::Differs("it printed different instructions to cargo".into())
            } else if Some(dir_digest(&run.out_dir)) != run.out_dir_digest {
                Rerun::Differs("it wrote different files to OUT_DIR".into())
            } else {
                Rerun::Same
            }
        }
    };
    if verdict != Rerun::Same {
        let _ = std::fs::remove_dir_all(&run.out_dir);
        if std::fs::rename(&backup, &run.out_dir).is_err() {
            let _ = copy_tree(&backup, &run.out_dir);
        }
    }
    let _ = std::fs::remove_dir_all(&backup);
    let _ = std::fs::remove_dir_all(scratch.join("wrapper-records"));
    verdict
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    discover::walk_files(dir, |_| false)
}

/// Digest of a directory tree: relative paths and contents (symlinks by target).
pub fn dir_digest(dir: &Path) -> Digest {
    let mut h = Hasher::new("dir");
    for p in walk(dir) {
        let rel = p.strip_prefix(dir).unwrap_or(&p);
        h.str(&rel.to_string_lossy());
        match std::fs::read_link(&p) {
            Ok(t) => h.str(&t.to_string_lossy()),
            Err(_) => h.opt_digest(&crate::digest::hash_file(&p).ok().flatten()),
        };
    }
    h.finish()
}

fn dir_size(dir: &Path) -> u64 {
    walk(dir).iter().filter_map(|p| std::fs::symlink_metadata(p).ok()).map(|m| m.len()).sum()
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let ty = e.file_type()?;
        let dst = to.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &dst)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dst)?;
        } else {
            std::fs::copy(e.path(), &dst)?;
        }
    }
    Ok(())
}

/// A command cargo printed with `-vv`: `Running `K=V … PROGRAM ARGS…``.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shown {
    pub env: BTreeMap<String, String>,
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// Reassembles the commands cargo prints with `-vv` (`     Running `…``) from its stderr lines
/// (a value with a newline — a package description — spans lines) and passes every other line
/// through.
#[derive(Default)]
pub struct VerboseReader {
    pending: Option<String>,
}

pub enum Line {
    /// A line for the user.
    Show(String),
    /// A complete `Running` command.
    Command(Shown),
    /// Swallowed (a partial command, or verbose noise).
    None,
}

impl VerboseReader {
    pub fn line(&mut self, line: &str) -> Line {
        let plain = crate::strip_ansi(line);
        let text = match self.pending.take() {
            Some(mut p) => {
                p.push('\n');
                p.push_str(&plain);
                p
            }
            None => {
                let t = plain.trim_start();
                let Some(rest) = t.strip_prefix("Running `") else {
                    return if is_verbose_noise(&plain) { Line::None } else { Line::Show(line.to_string()) };
                };
                rest.to_string()
            }
        };
        match parse_shell(&text) {
            Some(words) => Line::Command(shown(words)),
            None if text.len() < 4 << 20 => {
                self.pending = Some(text);
                Line::None
            }
            None => Line::None,
        }
    }
}

/// Lines `-vv` adds that plain cargo does not print: `Fresh`/`Dirty` statuses and build
/// scripts' output echoed as `[name version] …`.
fn is_verbose_noise(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("Fresh ") || t.starts_with("Dirty ") {
        return line.len() - t.len() >= 4;
    }
    if let Some(rest) = line.strip_prefix('[') {
        if let Some((id, _)) = rest.split_once("] ") {
            return id.split(' ').count() == 2 && !id.contains('/');
        }
    }
    false
}

fn shown(words: Vec<String>) -> Shown {
    let mut s = Shown::default();
    let mut it = words.into_iter();
    for w in it.by_ref() {
        match w.split_once('=') {
            Some((k, v))
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && s.program.as_os_str().is_empty() =>
            {
                s.env.insert(k.to_string(), v.to_string());
            }
            _ => {
                s.program = PathBuf::from(w);
                break;
            }
        }
    }
    s.args = it.collect();
    s
}

/// Split `text` (after the opening backtick) into shell words up to the closing backtick, with
/// the quoting cargo's `shell-escape` produces (`'…'`, `\x`). `None` when the closing backtick
/// has not come yet.
fn parse_shell(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            '`' => {
                if in_word {
                    words.push(cur);
                }
                return Some(words);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands_cargo_prints_with_vv() {
        let mut r = VerboseReader::default();
        assert!(matches!(r.line("   Compiling app v0.1.0 (/ws/app)"), Line::Show(_)));
        assert!(matches!(r.line("       Fresh itoa v1.0.0"), Line::None));
        assert!(matches!(r.line("[app 0.1.0] cargo:rustc-env=X=1"), Line::None));
        assert!(matches!(r.line("warning: unused variable: `x`"), Line::Show(_)));
        assert!(matches!(r.line("     Running `CARGO=/c CARGO_PKG_DESCRIPTION='a tool that"), Line::None));
        match r.line("searches'\\''s things' CARGO_CFG_UNIX='' OUT_DIR=/ws/out /ws/b/build-script-build`") {
            Line::Command(s) => {
                assert_eq!(s.env["CARGO_PKG_DESCRIPTION"], "a tool that\nsearches's things");
                assert_eq!(s.env["CARGO_CFG_UNIX"], "");
                assert_eq!(s.env["OUT_DIR"], "/ws/out");
                assert_eq!(s.program, PathBuf::from("/ws/b/build-script-build"));
                assert!(s.args.is_empty());
            }
            _ => panic!("not a command"),
        }
        match r.line("     Running `/r/rustc --crate-name app --cfg 'feature=\"x\"' src/main.rs`") {
            Line::Command(s) => {
                assert!(s.env.is_empty());
                assert_eq!(s.args, ["--crate-name", "app", "--cfg", "feature=\"x\"", "src/main.rs"]);
            }
            _ => panic!("not a command"),
        }
    }

    #[test]
    fn rerun_compares_output_and_out_dir_and_restores_it() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let out_dir = root.join("build/pkg-1/out");
        std::fs::create_dir_all(&out_dir).unwrap();
        let script = root.join("script.sh");
        std::fs::write(&script, "#!/bin/sh\necho cargo:rustc-env=V=$V\nprintf %s \"$GEN\" > \"$OUT_DIR/gen.rs\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(root.join("build/pkg-1/output"), "cargo:rustc-env=V=1\n").unwrap();
        std::fs::write(out_dir.join("gen.rs"), "a").unwrap();
        let env = |v: &str, g: &str| {
            BTreeMap::from([
                ("V".to_string(), v.to_string()),
                ("GEN".into(), g.into()),
                ("OUT_DIR".into(), out_dir.to_string_lossy().into_owned()),
            ])
        };
        let mut run = ScriptRun {
            key: UnitKey {
                package_id: "p".into(),
                kind: "custom-build".into(),
                name: "build-script-build".into(),
                crate_types: vec![],
                mode: crate::unit::Mode::RunCustomBuild,
                profile: String::new(),
                features: vec![],
                target: None,
                metadata: String::new(),
            },
            package_dir: root.to_path_buf(),
            out_dir: out_dir.clone(),
            program: Some(script.clone()),
            env: env("1", "a"),
            inputs: ScriptInputs::Files(vec![]),
            inputs_digest: None,
            out_dir_digest: Some(dir_digest(&out_dir)),
        };
        let scratch = root.join("scratch");
        assert_eq!(rerun(&run, &scratch, None), Rerun::Same);
        run.env = env("2", "a");
        assert!(matches!(rerun(&run, &scratch, None), Rerun::Differs(r) if r.contains("printed")));
        run.env = env("1", "b");
        assert!(matches!(rerun(&run, &scratch, None), Rerun::Differs(r) if r.contains("OUT_DIR")));
        assert_eq!(std::fs::read_to_string(out_dir.join("gen.rs")).unwrap(), "a", "OUT_DIR restored");
        run.program = None;
        assert!(matches!(rerun(&run, &scratch, None), Rerun::Differs(_)));
    }
}
