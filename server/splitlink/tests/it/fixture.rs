//! Fixture workspaces with revisions, in the spirit of rustc's `tests/incremental`.
//!
//! A fixture file holds files (`//- /path`) and then revisions (`### rev NAME`), each a list of
//! edits (`> touch`, `> replace`, `> write`, ...) and expectations (`expect compiled: app util`).
//! The first revision is the initial build. See `tests/fixtures/README.md` for the grammar.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

pub fn splitlink() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_splitlink"))
}

#[derive(Debug, Clone)]
pub enum Edit {
    Touch(String),
    Rm(String),
    /// Rename a file (`> mv FROM TO`).
    Mv(String, String),
    Replace {
        path: String,
        old: String,
        new: String,
    },
    Append {
        path: String,
        text: String,
    },
    Write {
        path: String,
        text: String,
    },
    /// Rewrite the file with its own bytes (an editor's save of an unchanged buffer).
    Resave(String),
    RmBinary(String),
    Cargo(Vec<String>),
}

#[derive(Debug, Default, Clone)]
pub struct Revision {
    pub name: String,
    pub edits: Vec<Edit>,
    pub expects: Vec<(String, String)>,
    pub build_args: Vec<String>,
}

pub struct Fixture {
    pub name: String,
    pub files: Vec<(String, String)>,
    pub revisions: Vec<Revision>,
}

pub fn parse(name: &str, text: &str) -> Fixture {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut revisions: Vec<Revision> = Vec::new();
    let mut writing: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some((path, text)) = writing.as_mut() {
            if line == "> end" {
                let rev = revisions.last_mut().expect("write inside a revision");
                rev.edits.push(Edit::Write { path: path.clone(), text: std::mem::take(text) });
                writing = None;
            } else {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if let Some(p) = line.strip_prefix("//- /") {
            files.push((p.trim().to_string(), String::new()));
        } else if let Some(r) = line.strip_prefix("### rev ") {
            revisions.push(Revision { name: r.trim().to_string(), ..Default::default() });
        } else if let Some(rev) = revisions.last_mut() {
            if let Some(op) = line.strip_prefix("> ") {
                let (verb, rest) = op.split_once(' ').unwrap_or((op, ""));
                let rest = rest.trim().to_string();
                let edit = match verb {
                    "touch" => Edit::Touch(rest),
                    "rm" => Edit::Rm(rest),
                    "mv" => {
                        let (from, to) = rest.split_once(' ').expect("mv FROM TO");
                        Edit::Mv(from.into(), to.trim().into())
                    }
                    "resave" => Edit::Resave(rest),
                    "rm-binary" => Edit::RmBinary(rest),
                    "cargo" => Edit::Cargo(rest.split_whitespace().map(String::from).collect()),
                    "args" => {
                        rev.build_args = rest.split_whitespace().map(String::from).collect();
                        continue;
                    }
                    "replace" => {
                        let (path, spec) = rest.split_once(": ").expect("replace PATH: OLD => NEW");
                        let (old, new) = spec.split_once(" => ").expect("replace PATH: OLD => NEW");
                        Edit::Replace { path: path.into(), old: unescape(old), new: unescape(new) }
                    }
                    "append" => {
                        let (path, text) = rest.split_once(": ").expect("append PATH: TEXT");
                        Edit::Append { path: path.into(), text: unescape(text) }
                    }
                    "write" => {
                        writing = Some((rest, String::new()));
                        continue;
                    }
                    other => panic!("{name}: unknown edit `{other}`"),
                };
                rev.edits.push(edit);
            } else if let Some(e) = line.strip_prefix("expect ") {
                let (k, v) = e.split_once(':').expect("expect KEY: VALUE");
                rev.expects.push((k.trim().to_string(), v.trim().to_string()));
            } else if !line.trim().is_empty() && !line.starts_with('#') {
                panic!("{name}: cannot parse line in revision {}: {line}", rev.name);
            }
        } else if let Some((_, content)) = files.last_mut() {
            content.push_str(line);
            content.push('\n');
        }
    }
    Fixture { name: name.to_string(), files, revisions }
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
}

pub fn write_files(dir: &Path, files: &[(String, String)]) {
    for (p, c) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
}

pub fn apply(dir: &Path, edit: &Edit) {
    match edit {
        Edit::Touch(p) => {
            let f = std::fs::File::options().write(true).open(dir.join(p)).unwrap();
            f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2)).unwrap();
        }
        Edit::Rm(p) => std::fs::remove_file(dir.join(p)).unwrap(),
        Edit::Mv(from, to) => std::fs::rename(dir.join(from), dir.join(to)).unwrap(),
        Edit::Resave(p) => {
            let bytes = std::fs::read(dir.join(p)).unwrap();
            std::fs::remove_file(dir.join(p)).unwrap();
            std::fs::write(dir.join(p), bytes).unwrap();
        }
        Edit::RmBinary(name) => {
            // The binary and every copy of it: the uplifted file and the one in deps/.
            std::fs::remove_file(dir.join("target/debug").join(name)).unwrap();
            for e in std::fs::read_dir(dir.join("target/debug/deps")).unwrap() {
                let p = e.unwrap().path();
                let f = p.file_name().unwrap().to_string_lossy().into_owned();
                if f.starts_with(&format!("{name}-")) && p.extension().is_none() {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
        Edit::Replace { path, old, new } => {
            let text = std::fs::read_to_string(dir.join(path)).unwrap();
            assert!(text.contains(old.as_str()), "{path} does not contain {old:?}");
            std::fs::write(dir.join(path), text.replacen(old.as_str(), new, 1)).unwrap();
        }
        Edit::Append { path, text } => {
            let mut t = std::fs::read_to_string(dir.join(path)).unwrap_or_default();
            t.push_str(text);
            std::fs::write(dir.join(path), t).unwrap();
        }
        Edit::Write { path, text } => {
            std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.join(path), text).unwrap()
        }
        Edit::Cargo(args) => {
            let out = Command::new("cargo").args(args).current_dir(dir).output().unwrap();
            assert!(out.status.success(), "cargo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// The outcome of one `splitlink build --message-format json`.
#[derive(Debug)]
pub struct Outcome {
    pub success: bool,
    pub compiled: Vec<String>,
    pub linked: Vec<String>,
    pub skipped: Vec<String>,
    pub cargo: bool,
    /// Fast mode: the linker its links used (`build-finished`'s `fast.linker`).
    pub fast_linker: Option<String>,
    /// rlibs whose objects the build read and hashed (`build-finished`'s `rlibs_measured`).
    pub rlibs_measured: Option<u64>,
    pub messages: Vec<Value>,
    pub stderr: String,
}

/// `name(kind)` of each unit in a summary list, sorted.
fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| Some(format!("{}({})", u["target"].as_str()?, u["kind"].as_str().unwrap_or("?"))))
        .collect();
    n.sort();
    n
}

/// Whether the units `got` (`name(kind)`) are exactly the expected ones: `name(kind)`, or a bare
/// `name` matching any kind (`-` for none).
pub fn same_units(want: &str, got: &[String]) -> bool {
    let mut want: Vec<&str> = want.split_whitespace().filter(|s| *s != "-").collect();
    if want.len() != got.len() {
        return false;
    }
    // Kinded expectations first, so a bare name does not take a unit a kinded one needs.
    want.sort_by_key(|w| !w.contains('('));
    let mut left: Vec<&String> = got.iter().collect();
    for w in want {
        let pos = left.iter().position(|g| if w.contains('(') { g.as_str() == w } else { g.split('(').next() == Some(w) });
        match pos {
            Some(i) => {
                left.remove(i);
            }
            None => return false,
        }
    }
    true
}

pub fn build(dir: &Path, args: &[String]) -> Outcome {
    let out = Command::new(splitlink())
        .args(["build", "--message-format", "json"])
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run splitlink");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let messages: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let fin = messages.iter().rev().find(|m| m["reason"] == "build-finished").cloned().unwrap_or(Value::Null);
    let sl = &fin["splitlink"];
    let o = Outcome {
        success: fin["success"].as_bool() == Some(true),
        compiled: names(&sl["compiled"]),
        linked: names(&sl["linked"]),
        skipped: names(&sl["link_skipped"]),
        cargo: sl["cargo_invoked"].as_bool() == Some(true),
        fast_linker: sl["fast"]["linker"].as_str().map(String::from),
        rlibs_measured: sl["rlibs_measured"].as_u64(),
        messages,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.status.success(), o.success, "exit code disagrees with build-finished: {o:#?}");
    o
}

pub fn run_binary(dir: &Path, name: &str) -> String {
    let out = Command::new(dir.join("target/debug").join(name)).output().unwrap_or_else(|e| panic!("run {name}: {e}"));
    String::from_utf8_lossy(&out.stdout).lines().collect::<Vec<_>>().join(" | ")
}

/// Run every revision of a fixture and check its expectations; returns the failures.
pub fn check(fx: &Fixture) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(&fx.name);
    write_files(&dir, &fx.files);
    let mut failures = Vec::new();
    for rev in &fx.revisions {
        for e in &rev.edits {
            apply(&dir, e);
        }
        let o = build(&dir, &rev.build_args);
        // Files an uplift replaced are removed before the build ends.
        for d in ["target/debug", "target/debug/.splitlink-keep"] {
            for e in std::fs::read_dir(dir.join(d)).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".splitlink-replaced") {
                    failures.push(format!("{} rev {}: {d}/{name} left behind", fx.name, rev.name));
                }
            }
        }
        let ctx =
            |what: &str, want: &str, got: String| format!("{} rev {}: {what}: expected {want}, got {got}\n{}", fx.name, rev.name, o.stderr);
        for (k, v) in &rev.expects {
            match k.as_str() {
                "compiled" if !same_units(v, &o.compiled) => failures.push(ctx("compiled", v, format!("{:?}", o.compiled))),
                "linked" if !same_units(v, &o.linked) => failures.push(ctx("linked", v, format!("{:?}", o.linked))),
                "skipped" if !same_units(v, &o.skipped) => failures.push(ctx("link skipped", v, format!("{:?}", o.skipped))),
                "cargo" if (v == "yes") != o.cargo => failures.push(ctx("cargo invoked", v, o.cargo.to_string())),
                "rlibs-measured" if v.parse::<u64>().ok() != o.rlibs_measured => {
                    failures.push(ctx("rlibs measured", v, format!("{:?}", o.rlibs_measured)))
                }
                "success" if (v == "yes") != o.success => failures.push(ctx("success", v, o.success.to_string())),
                "diag" => {
                    let found = o.messages.iter().any(|m| {
                        m["reason"] == "compiler-message" && m["message"]["rendered"].as_str().is_some_and(|r| r.contains(v.as_str()))
                    });
                    if !found {
                        failures.push(ctx("diagnostic", v, "none".into()));
                    }
                }
                "nodiag" => {
                    let found = o.messages.iter().any(|m| {
                        m["reason"] == "compiler-message" && m["message"]["rendered"].as_str().is_some_and(|r| r.contains(v.as_str()))
                    });
                    if found {
                        failures.push(ctx("no diagnostic", v, "one".into()));
                    }
                }
                "span" => {
                    // `FILE:LINE text`: a compiler-message whose primary span is there and whose
                    // message contains the text (linker errors included: their spans are mapped).
                    let (loc, text) = v.split_once(' ').unwrap_or((v.as_str(), ""));
                    let found = o.messages.iter().filter(|m| m["reason"] == "compiler-message").any(|m| {
                        let msg = &m["message"];
                        msg["message"].as_str().is_some_and(|t| t.contains(text))
                            && msg["spans"].as_array().into_iter().flatten().any(|s| {
                                s["is_primary"] == true && format!("{}:{}", s["file_name"].as_str().unwrap_or(""), s["line_start"]) == loc
                            })
                    });
                    if !found {
                        let got: Vec<String> =
                            o.messages.iter().filter(|m| m["reason"] == "compiler-message").map(|m| m["message"].to_string()).collect();
                        failures.push(ctx("span", v, got.join("\n")));
                    }
                }
                k if k.starts_with("run ") => {
                    let got = run_binary(&dir, &k[4..]);
                    if &got != v {
                        failures.push(ctx(k, v, got));
                    }
                }
                "explain" | "noexplain" => {
                    let out = Command::new(splitlink()).arg("explain").current_dir(&dir).output().expect("run splitlink explain");
                    let text = String::from_utf8_lossy(&out.stdout);
                    if text.contains(v.as_str()) != (k == "explain") {
                        failures.push(ctx(k, v, text.into_owned()));
                    }
                }
                k if k.starts_with("linker ") => {
                    // The ELF `.comment` section names the linker that made the binary.
                    let bytes = std::fs::read(dir.join("target/debug").join(&k[7..])).unwrap_or_default();
                    let comment = object::read::File::parse(&*bytes)
                        .ok()
                        .and_then(|f| {
                            use object::{Object, ObjectSection};
                            f.section_by_name(".comment")
                                .and_then(|s| s.data().ok().map(|d| String::from_utf8_lossy(d).replace('\0', " | ")))
                        })
                        .unwrap_or_default();
                    if !comment.contains(v.as_str()) {
                        failures.push(ctx(k, v, comment));
                    }
                }
                k if k.starts_with("file ") => {
                    if !dir.join(&k[5..]).exists() {
                        failures.push(ctx(k, "to exist", "missing".into()));
                    }
                }
                "compiled" | "linked" | "skipped" | "cargo" | "success" | "rlibs-measured" => {}
                other => failures.push(format!("{} rev {}: unknown expectation `{other}`", fx.name, rev.name)),
            }
        }
        if !failures.is_empty() {
            break;
        }
    }
    failures
}
