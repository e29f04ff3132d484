//! A captured rustc invocation and the argv surgery for the split compile/link.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// rustc flags that take their value as the next argument when not written `--flag=value`.
const TAKES_VALUE: &[&str] = &[
    "--crate-name",
    "--crate-type",
    "--edition",
    "--emit",
    "--out-dir",
    "-o",
    "-C",
    "--codegen",
    "-L",
    "-l",
    "--extern",
    "--cfg",
    "--check-cfg",
    "--cap-lints",
    "--target",
    "--error-format",
    "--json",
    "--explain",
    "--print",
    "-Z",
    "-W",
    "-A",
    "-D",
    "-F",
    "--warn",
    "--allow",
    "--deny",
    "--forbid",
    "--force-warn",
    "--remap-path-prefix",
    "--sysroot",
    "--color",
    "--diagnostic-width",
    "--env-set",
];

/// One rustc run as cargo performed it: program, arguments, the environment cargo added, cwd.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Invocation {
    pub rustc: PathBuf,
    pub args: Vec<String>,
    /// Variables cargo (or a build script's `rustc-env`) set for this unit, on top of the
    /// user's environment.
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// One parsed argument: `(flag, value)` for options, `(None, value)` for positionals.
fn parse_args(args: &[String]) -> Vec<(Option<&str>, &str, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if let Some((flag, value)) = a.split_once('=').filter(|(f, _)| f.starts_with("--")) {
            out.push((Some(flag), value, i));
        } else if TAKES_VALUE.contains(&a) {
            if let Some(v) = args.get(i + 1) {
                out.push((Some(a), v.as_str(), i));
                i += 1;
            }
        } else if a.len() > 2 && a.starts_with('-') && !a.starts_with("--") && TAKES_VALUE.contains(&&a[..2]) {
            out.push((Some(&a[..2]), &a[2..], i));
        } else if a.starts_with('-') && a != "-" {
            out.push((Some(a), "", i));
        } else {
            out.push((None, a, i));
        }
        i += 1;
    }
    out
}

impl Invocation {
    fn values(&self, flag: &str) -> Vec<&str> {
        let alias = match flag {
            "-C" => "--codegen",
            other => other,
        };
        parse_args(&self.args).into_iter().filter(|(f, _, _)| *f == Some(flag) || *f == Some(alias)).map(|(_, v, _)| v).collect()
    }

    fn codegen(&self, key: &str) -> Option<&str> {
        self.values("-C").into_iter().find_map(|v| v.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }

    /// Every `(flag, value)` pair of the argv, in order (flags without a value have `""`).
    pub fn flag_values(&self) -> Vec<(String, String)> {
        parse_args(&self.args).into_iter().filter_map(|(f, v, _)| f.map(|f| (f.to_string(), v.to_string()))).collect()
    }

    /// The same invocation with rustc's rendered diagnostics in the short form
    /// (`--json=…,diagnostic-short`, cargo's `--message-format short`) or not. The form is not
    /// part of what a unit is: records are stored without it ([`Invocation::without_short`])
    /// and each build asks for the one it shows.
    pub fn with_diagnostic_short(&self, short: bool) -> Invocation {
        let mut inv = self.clone();
        let mut i = 0;
        while i < inv.args.len() {
            let (value_at, value) = match inv.args[i].strip_prefix("--json=") {
                Some(v) => (i, v.to_string()),
                None if inv.args[i] == "--json" && i + 1 < inv.args.len() => (i + 1, inv.args[i + 1].clone()),
                None => {
                    i += 1;
                    continue;
                }
            };
            let mut parts: Vec<&str> = value.split(',').filter(|p| !p.is_empty() && *p != "diagnostic-short").collect();
            if short {
                parts.push("diagnostic-short");
            }
            let joined = parts.join(",");
            inv.args[value_at] = if value_at == i { format!("--json={joined}") } else { joined };
            i = value_at + 1;
        }
        inv
    }

    /// [`Invocation::with_diagnostic_short`]`(false)`: the form records are kept in.
    pub fn without_short(&self) -> Invocation {
        self.with_diagnostic_short(false)
    }

    /// cargo's `-C metadata` value, if any.
    pub fn metadata(&self) -> Option<&str> {
        self.codegen("metadata")
    }

    /// The `--target` triple, if any.
    pub fn target_triple(&self) -> Option<&str> {
        self.values("--target").first().copied()
    }

    /// Features enabled with `--cfg feature="NAME"`, sorted.
    pub fn features(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.values("--cfg").into_iter().filter_map(|c| c.strip_prefix("feature=").map(|f| f.trim_matches('"').to_string())).collect();
        v.sort();
        v
    }

    pub fn crate_name(&self) -> Option<&str> {
        self.values("--crate-name").first().copied()
    }

    pub fn crate_types(&self) -> Vec<String> {
        self.values("--crate-type").iter().flat_map(|v| v.split(',')).map(str::to_string).collect()
    }

    pub fn is_test(&self) -> bool {
        self.args.iter().any(|a| a == "--test")
    }

    pub fn extra_filename(&self) -> &str {
        self.codegen("extra-filename").unwrap_or("")
    }

    pub fn out_dir(&self) -> Option<PathBuf> {
        self.values("--out-dir").first().map(|d| self.cwd.join(d))
    }

    pub fn incremental_dir(&self) -> Option<PathBuf> {
        self.codegen("incremental").map(|d| self.cwd.join(d))
    }

    /// The root source file (the one positional argument), absolute.
    pub fn source(&self) -> Option<PathBuf> {
        parse_args(&self.args).into_iter().find(|(f, _, _)| f.is_none()).map(|(_, v, _)| self.cwd.join(v))
    }

    /// `--extern name=path` pairs (paths absolute).
    pub fn externs(&self) -> Vec<(String, PathBuf)> {
        self.values("--extern").into_iter().filter_map(|v| v.split_once('=').map(|(n, p)| (n.to_string(), self.cwd.join(p)))).collect()
    }

    /// `<crate-name><extra-filename>`, the stem of every file this unit writes to its out-dir.
    pub fn stem(&self) -> Option<String> {
        Some(format!("{}{}", self.crate_name()?, self.extra_filename()))
    }

    pub fn dep_info_path(&self) -> Option<PathBuf> {
        Some(self.out_dir()?.join(format!("{}.d", self.stem()?)))
    }

    pub fn rlink_path(&self) -> Option<PathBuf> {
        Some(self.out_dir()?.join(format!("{}.rlink", self.stem()?)))
    }

    /// The crate types that rustc links into an executable or shared object; a unit with one of
    /// these (and no staticlib / proc-macro) is compiled with `-Zno-link` and linked separately.
    /// `--emit` includes `link` (not a `cargo check`/clippy unit, which emits metadata only).
    pub fn emits_link(&self) -> bool {
        let emit = self.values("--emit");
        emit.is_empty() || emit.iter().flat_map(|v| v.split(',')).any(|e| e.split('=').next() == Some("link"))
    }

    pub fn is_linkable(&self) -> bool {
        if !self.emits_link() {
            return false;
        }
        if self.is_test() {
            return true;
        }
        let types = self.crate_types();
        let linkable = types.iter().any(|t| matches!(t.as_str(), "bin" | "cdylib" | "dylib"));
        let unsupported = types.iter().any(|t| matches!(t.as_str(), "staticlib" | "proc-macro"));
        linkable && !unsupported
    }

    pub fn is_proc_macro(&self) -> bool {
        self.crate_types().iter().any(|t| t == "proc-macro")
    }

    /// Output files in the out-dir, by crate type (what `--emit=link,metadata` produces). One
    /// pass over the argv (called for every unit of every build).
    pub fn outputs(&self) -> Vec<PathBuf> {
        let (mut dir, mut name, mut extra, mut test) = (None, None, "", false);
        let (mut emit, mut types): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for (f, v, _) in parse_args(&self.args) {
            match f {
                Some("--out-dir") if dir.is_none() => dir = Some(v),
                Some("--crate-name") if name.is_none() => name = Some(v),
                Some("-C" | "--codegen") => {
                    if let Some(x) = v.strip_prefix("extra-filename=") {
                        extra = x;
                    }
                }
                Some("--emit") => emit.extend(v.split(',').map(|e| e.split('=').next().unwrap_or(""))),
                Some("--crate-type") => types.extend(v.split(',')),
                Some("--test") => test = true,
                _ => {}
            }
        }
        let (Some(dir), Some(name)) = (dir, name) else { return vec![] };
        let dir = self.cwd.join(dir);
        let stem = format!("{name}{extra}");
        let link = emit.is_empty() || emit.contains(&"link");
        if test && link {
            return vec![dir.join(&stem)];
        }
        // A checked (not linked) binary or test: its metadata only, as `lib<stem>.rmeta`.
        if !link && (test || types.contains(&"bin")) {
            return vec![dir.join(format!("lib{stem}.rmeta"))];
        }
        let mut out = Vec::new();
        for t in types {
            match t {
                "bin" if emit.contains(&"link") => out.push(dir.join(&stem)),
                "lib" | "rlib" => {
                    if emit.contains(&"link") {
                        out.push(dir.join(format!("lib{stem}.rlib")));
                    }
                    if emit.contains(&"metadata") {
                        out.push(dir.join(format!("lib{stem}.rmeta")));
                    }
                }
                "cdylib" | "dylib" | "proc-macro" => out.push(dir.join(format!("lib{stem}.so"))),
                "staticlib" => out.push(dir.join(format!("lib{stem}.a"))),
                _ => {}
            }
        }
        out
    }

    /// What dependents read: the `.rmeta` of a library, the `.so` of a proc-macro.
    pub fn interface_output(&self) -> Option<PathBuf> {
        let outs = self.outputs();
        outs.iter()
            .find(|p| p.extension().is_some_and(|e| e == "rmeta"))
            .or_else(|| outs.iter().find(|p| self.is_proc_macro() && p.extension().is_some_and(|e| e == "so")))
            .or_else(|| outs.iter().find(|p| p.extension().is_some_and(|e| e == "rlib")))
            .cloned()
    }

    /// The linked artifact of a linkable unit (binary or shared object).
    pub fn linked_output(&self) -> Option<PathBuf> {
        let outs = self.outputs();
        outs.iter().find(|p| p.extension().is_none_or(|e| e == "so")).cloned()
    }

    fn has_mangling_choice(&self) -> bool {
        self.values("-C").iter().any(|v| v.starts_with("symbol-mangling-version"))
    }

    /// Extra flags that keep a bootstrap (nightly-behaving) rustc's symbol mangling identical to
    /// what stable cargo builds produce (nightly defaults to v0).
    fn mangling_flags(&self) -> Vec<String> {
        if self.has_mangling_choice() {
            vec![]
        } else {
            vec!["-Csymbol-mangling-version=legacy".into(), "-Zunstable-options".into()]
        }
    }

    /// argv for `rustc … -Zno-link`: codegen and object files, no link.
    pub fn no_link_args(&self) -> Vec<String> {
        let mut a = self.args.clone();
        a.extend(self.mangling_flags());
        a.push("-Zno-link".into());
        a
    }

    /// argv for `rustc … -Zlink-only <rlink>`: every original flag (link flags are not stored in
    /// the `.rlink`), the source replaced by the `.rlink`.
    pub fn link_only_args(&self, rlink: &Path) -> Vec<String> {
        let positional: Vec<usize> = parse_args(&self.args).into_iter().filter(|(f, _, _)| f.is_none()).map(|(_, _, i)| i).collect();
        let mut a: Vec<String> = self.args.iter().enumerate().filter(|(i, _)| !positional.contains(i)).map(|(_, s)| s.clone()).collect();
        a.extend(self.mangling_flags());
        a.push("-Zlink-only".into());
        a.push(rlink.to_string_lossy().into_owned());
        a
    }

    /// The arguments that shape a link, for the link fingerprint: all but the source path and
    /// the incremental directory.
    pub fn link_relevant_args(&self) -> Vec<(&str, &str)> {
        let parsed = parse_args(&self.args);
        let mut out = Vec::new();
        for (f, v, _) in parsed {
            match f {
                None => {}
                Some("-C") | Some("--codegen") if v.starts_with("incremental=") => {}
                // How diagnostics are rendered (`--message-format short` adds
                // `diagnostic-short`) does not change what is linked.
                Some("--json" | "--error-format" | "--color" | "--diagnostic-width") => {}
                Some(f) => out.push((f, v)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_short_form_is_asked_for_per_build_and_not_recorded() {
        let i = inv("--crate-name app app/src/main.rs --error-format=json --json=diagnostic-rendered-ansi,artifacts,future-incompat --crate-type bin");
        let short = i.with_diagnostic_short(true);
        assert!(short.args.contains(&"--json=diagnostic-rendered-ansi,artifacts,future-incompat,diagnostic-short".to_string()));
        assert_eq!(short.without_short(), i);
        assert_eq!(i.without_short(), i);
        let spaced = inv("--crate-name app --json diagnostic-short,artifacts app/src/main.rs");
        assert_eq!(spaced.without_short().args[3], "artifacts");
    }

    use super::*;

    fn inv(args: &str) -> Invocation {
        Invocation { rustc: "rustc".into(), args: args.split(' ').map(String::from).collect(), env: Default::default(), cwd: "/ws".into() }
    }

    #[test]
    fn parses_cargo_bin_invocation() {
        let i = inv("--crate-name app --edition=2021 app/src/main.rs --error-format=json --crate-type bin --emit=dep-info,link -C debuginfo=2 -C metadata=83 -C extra-filename=-658a --out-dir /ws/target/debug/deps -C incremental=/ws/target/debug/incremental -L dependency=/ws/target/debug/deps --extern util=/ws/target/debug/deps/libutil-5b.rlib");
        assert_eq!(i.crate_name(), Some("app"));
        assert_eq!(i.source(), Some(PathBuf::from("/ws/app/src/main.rs")));
        assert_eq!(i.stem().unwrap(), "app-658a");
        assert!(i.is_linkable());
        assert_eq!(i.outputs(), vec![PathBuf::from("/ws/target/debug/deps/app-658a")]);
        assert_eq!(i.externs(), vec![("util".to_string(), PathBuf::from("/ws/target/debug/deps/libutil-5b.rlib"))]);
        let l = i.link_only_args(Path::new("/x/app.rlink"));
        assert!(!l.iter().any(|a| a == "app/src/main.rs"));
        assert_eq!(l.last().unwrap(), "/x/app.rlink");
        assert!(l.contains(&"-Csymbol-mangling-version=legacy".to_string()));
        assert!(!i.link_relevant_args().iter().any(|(_, v)| v.contains("incremental")));
    }

    #[test]
    fn lib_outputs_and_interface() {
        let i = inv("--crate-name util util/src/lib.rs --crate-type lib --emit=dep-info,metadata,link -C extra-filename=-5b --out-dir /o");
        assert!(!i.is_linkable());
        assert_eq!(i.interface_output(), Some(PathBuf::from("/o/libutil-5b.rmeta")));
        let pm = inv("--crate-name m m/src/lib.rs --crate-type proc-macro --emit=dep-info,link -C extra-filename=-1 --out-dir /o");
        assert!(!pm.is_linkable());
        assert_eq!(pm.interface_output(), Some(PathBuf::from("/o/libm-1.so")));
    }
}
