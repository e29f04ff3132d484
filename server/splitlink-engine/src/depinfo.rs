//! rustc's Makefile-style dep-info (`--emit=dep-info`): the source files a unit read and the
//! environment variables it observed (`# env-dep:`).

use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DepInfo {
    /// Absolute paths of every file the compilation read (sources, `include_str!` targets...).
    pub files: Vec<PathBuf>,
    /// `env!`/`option_env!` reads: name and the value seen (None = unset).
    pub env: Vec<(String, Option<String>)>,
}

/// Parse a `.d` file; relative paths are resolved against `cwd` (rustc's working directory).
pub fn parse(text: &str, cwd: &Path) -> DepInfo {
    let mut out = DepInfo::default();
    let mut first_rule = true;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# env-dep:") {
            let (k, v) = match rest.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(unescape_env(v))),
                None => (rest.to_string(), None),
            };
            out.env.push((k, v));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        // `target: dep dep dep`; only the first rule lists the inputs, the rest are phony.
        if !first_rule {
            continue;
        }
        let Some(idx) = find_rule_colon(line) else { continue };
        first_rule = false;
        for dep in split_escaped(&line[idx + 1..]) {
            let p = PathBuf::from(dep);
            let p = if p.is_absolute() { p } else { cwd.join(p) };
            if !out.files.contains(&p) {
                out.files.push(p);
            }
        }
    }
    out
}

fn unescape_env(v: &str) -> String {
    // rustc escapes `\` and newlines in env-dep values.
    let mut s = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => s.push('\n'),
                Some('\\') => s.push('\\'),
                Some(o) => {
                    s.push('\\');
                    s.push(o)
                }
                None => s.push('\\'),
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// The colon that ends the rule target (not one escaped or inside a Windows drive prefix).
fn find_rule_colon(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b':' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn split_escaped(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' | '\t' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rustc_depinfo() {
        let text = "/t/deps/app-1.d: app/src/main.rs app/src/my\\ mod.rs /abs/x.txt\n\napp/src/main.rs:\napp/src/my\\ mod.rs:\n/abs/x.txt:\n\n# env-dep:CARGO_PKG_NAME=app\n# env-dep:OPT\n";
        let d = parse(text, Path::new("/ws"));
        assert_eq!(
            d.files,
            vec![PathBuf::from("/ws/app/src/main.rs"), PathBuf::from("/ws/app/src/my mod.rs"), PathBuf::from("/abs/x.txt")]
        );
        assert_eq!(d.env, vec![("CARGO_PKG_NAME".into(), Some("app".into())), ("OPT".into(), None)]);
    }
}
