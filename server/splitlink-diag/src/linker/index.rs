//! The workspace's sources, scanned, with the crate and module each file
//! belongs to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::LinkContext;
pub(crate) use crate::source::normalize;
use crate::source::SourceFile;

/// What `Cargo.toml` says about a package (only what we need).
#[derive(Debug, Default, Clone)]
pub(crate) struct Manifest {
    pub package: Option<String>,
    pub lib: Option<String>,
    /// `[[bin]]` name and optional path.
    pub bins: Vec<(String, Option<String>)>,
    pub build: Option<String>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        Some(Manifest::parse(&text))
    }

    /// A line-based reading of the few keys we need.
    pub fn parse(text: &str) -> Manifest {
        let mut m = Manifest::default();
        let mut section = String::new();
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                section = t.trim_matches(['[', ']']).trim().to_string();
                if section == "bin" {
                    m.bins.push((String::new(), None));
                }
                continue;
            }
            let Some((k, v)) = t.split_once('=') else {
                continue;
            };
            let k = k.trim();
            let v = v.trim();
            let sv = v.strip_prefix('"').and_then(|r| r.split('"').next()).map(str::to_string);
            match (section.as_str(), k) {
                ("package", "name") => m.package = sv,
                ("package", "build") => m.build = sv,
                ("lib", "name") => m.lib = sv,
                ("bin", "name") => {
                    if let (Some(last), Some(v)) = (m.bins.last_mut(), sv) {
                        last.0 = v;
                    }
                }
                ("bin", "path") => {
                    if let Some(last) = m.bins.last_mut() {
                        last.1 = sv;
                    }
                }
                _ => {}
            }
        }
        m
    }
}

/// A scanned file and where it sits in the crate graph.
#[derive(Debug)]
pub(crate) struct FileInfo {
    pub src: SourceFile,
    /// Possible crate names (a package's lib and bin share `src/`).
    pub crates: Vec<String>,
    /// Module path inside the crate (`src/a/b.rs` → `["a", "b"]`).
    pub modules: Vec<String>,
}

pub(crate) struct Index {
    pub files: Vec<FileInfo>,
    by_path: HashMap<PathBuf, Option<usize>>,
    manifest_dirs: Vec<PathBuf>,
    manifests: HashMap<PathBuf, Option<Manifest>>,
    workspace_root: PathBuf,
}

impl Index {
    pub fn new(ctx: &LinkContext) -> Index {
        let mut idx = Index {
            files: Vec::new(),
            by_path: HashMap::new(),
            manifest_dirs: ctx.manifest_dirs.iter().map(|d| normalize(d)).collect(),
            manifests: HashMap::new(),
            workspace_root: normalize(&ctx.workspace_root),
        };
        for s in &ctx.sources {
            idx.load(s);
        }
        idx
    }

    /// Scans `path` (once) and returns its index.
    pub fn load(&mut self, path: &Path) -> Option<usize> {
        let path = normalize(path);
        if let Some(v) = self.by_path.get(&path) {
            return *v;
        }
        let res = SourceFile::read(&path).map(|src| {
            let (crates, modules) = self.crate_of(&path);
            self.files.push(FileInfo { src, crates, modules });
            self.files.len() - 1
        });
        self.by_path.insert(path, res);
        res
    }

    /// Indices of all loaded files.
    pub fn all(&self) -> std::ops::Range<usize> {
        0..self.files.len()
    }

    fn manifest(&mut self, dir: &Path) -> Option<Manifest> {
        self.manifests.entry(dir.to_path_buf()).or_insert_with(|| Manifest::read(dir)).clone()
    }

    /// The package directory of a file: the longest manifest dir containing
    /// it, else the nearest ancestor with a `Cargo.toml` (not above the
    /// workspace root).
    pub fn package_dir(&mut self, file: &Path) -> Option<PathBuf> {
        if let Some(d) = self.manifest_dirs.iter().filter(|d| file.starts_with(d)).max_by_key(|d| d.components().count()) {
            return Some(d.clone());
        }
        let mut dir = file.parent();
        while let Some(d) = dir {
            if d.join("Cargo.toml").is_file() {
                return Some(d.to_path_buf());
            }
            if d == self.workspace_root {
                break;
            }
            dir = d.parent();
        }
        None
    }

    fn crate_of(&mut self, file: &Path) -> (Vec<String>, Vec<String>) {
        let Some(dir) = self.package_dir(file) else {
            return (Vec::new(), Vec::new());
        };
        let m = self.manifest(&dir).unwrap_or_default();
        let rel = file.strip_prefix(&dir).unwrap_or(file);
        let comps: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let norm = |s: &str| s.replace('-', "_");
        let stem = |s: &str| s.strip_suffix(".rs").unwrap_or(s).to_string();
        let rel_str = comps.join("/");
        if let Some((name, _)) = m.bins.iter().find(|(_, p)| p.as_deref() == Some(rel_str.as_str())) {
            return (vec![norm(name)], Vec::new());
        }
        let mut crates = Vec::new();
        let mods: Vec<String> = match comps.first().map(String::as_str) {
            Some("src") if comps.get(1).map(String::as_str) == Some("bin") && comps.len() >= 3 => {
                crates.push(norm(&stem(&comps[2])));
                comps[3..].iter().map(|c| stem(c)).collect()
            }
            Some("src") => {
                if let Some(l) = &m.lib {
                    crates.push(norm(l));
                }
                if let Some(p) = &m.package {
                    crates.push(norm(p));
                }
                comps[1..].iter().map(|c| stem(c)).collect()
            }
            Some("tests" | "examples" | "benches") if comps.len() >= 2 => {
                crates.push(norm(&stem(&comps[1])));
                comps[2..].iter().map(|c| stem(c)).collect()
            }
            Some("build.rs") => {
                crates.push("build_script_build".to_string());
                Vec::new()
            }
            _ => {
                if let Some(p) = &m.package {
                    crates.push(norm(p));
                }
                Vec::new()
            }
        };
        let mut mods = mods;
        if mods.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
            mods.pop();
        }
        crates.dedup();
        (crates, mods)
    }
}
