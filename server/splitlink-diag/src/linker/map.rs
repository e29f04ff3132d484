//! Mapping one linker error (a parsed [`Record`]) to source: the evidence, best first, that the
//! module docs of [`super`] list. Locations are never invented.

use super::index::{normalize, Index};
use super::parse::{Level, RecKind, Record, Site};
use super::symbols::{crate_from_object, demangle, is_ident, parse_fn_path};
use super::{LinkContext, LinkFailure};
use crate::model::{Diagnostic, LinkInfo, LinkKind, Location, Phase, Related, Severity};
use crate::source::{link_attr_name, ItemKind};
use std::path::{Path, PathBuf};

/// Demangles every Rust symbol in free text.
pub(super) fn demangle_in_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut tok = String::new();
    let flush = |tok: &mut String, out: &mut String| {
        if tok.starts_with("_ZN") || tok.starts_with("_R") || tok.starts_with("__ZN") {
            out.push_str(&demangle(tok));
        } else {
            out.push_str(tok);
        }
        tok.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$' {
            tok.push(c);
        } else {
            flush(&mut tok, &mut out);
            out.push(c);
        }
    }
    flush(&mut tok, &mut out);
    out
}

/// How a location was found (for labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// The linker printed file:line.
    Dwarf,
    /// The call inside the referencing function.
    CallInFunction,
    /// Only the referencing function's name.
    Function,
}

pub(super) struct Mapper<'a> {
    pub(super) ctx: &'a LinkContext,
    pub(super) idx: Index,
}

impl Mapper<'_> {
    pub(super) fn base(&self, kind: LinkKind, severity: Severity, message: String) -> Diagnostic {
        let mut d = Diagnostic::new(severity, Phase::Link, message);
        d.code = Some(kind.code().to_string());
        d.link = Some(LinkInfo { kind, symbol: None, raw_symbol: None, more_references: 0 });
        d
    }

    pub(super) fn root_fallback(&mut self) -> Option<Location> {
        let root = self.ctx.root_source.clone();
        if root.as_os_str().is_empty() {
            return None;
        }
        let loc = match self.idx.load(&root) {
            Some(fi) => {
                let f = &self.idx.files[fi].src;
                f.line_location(1).unwrap_or_else(|| Location::on_line(root.clone(), 1, 1, 1))
            }
            None => Location::on_line(root, 1, 1, 1),
        };
        Some(loc.with_label("no better source location is known for this link error"))
    }

    /// Resolves a path printed by the linker to a file we can point at.
    fn resolve_path(&mut self, printed: &str) -> Option<PathBuf> {
        let p = Path::new(printed);
        let abs = normalize(&if p.is_absolute() { p.to_path_buf() } else { self.ctx.cwd.join(p) });
        if abs.is_file() {
            return Some(abs);
        }
        let in_workspace = abs.starts_with(normalize(&self.ctx.workspace_root));
        // lld prints only the file name when the DWARF path has no directory;
        // paths may also have been remapped, and wild 0.10 drops the directory
        // under the compilation dir (`/ws/main.rs` for `/ws/src/main.rs`).
        // Accept a unique suffix match among the sources (down to the file name
        // for a path in the workspace that does not exist).
        let comps: Vec<_> = p.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
        let min = if comps.len() == 1 || in_workspace { 1 } else { 2 };
        for take in (min..=comps.len()).rev() {
            let suffix: PathBuf = comps[comps.len() - take..].iter().collect();
            let hits: Vec<&PathBuf> = self.ctx.sources.iter().filter(|s| s.ends_with(&suffix)).collect();
            if hits.len() == 1 {
                return Some(hits[0].clone());
            }
            if hits.len() > 1 {
                break;
            }
        }
        // A workspace file that is gone (deleted since the build): still where it points.
        in_workspace.then_some(abs)
    }

    /// A location for `path:line`, narrowed to an identifier in `names` on
    /// that line when there is one.
    fn line_location(&mut self, path: PathBuf, line: u32, names: &[String]) -> Location {
        let Some(fi) = self.idx.load(&path) else {
            return Location::on_line(path, line, 1, 1);
        };
        let f = &self.idx.files[fi].src;
        if let Some(id) =
            f.idents_on_line(line).filter(|i| names.iter().any(|n| n == f.ident_text(i))).min_by_key(|i| (i.next != Some(b'('), i.start))
        {
            return f.location(id.start, id.end);
        }
        f.line_location(line).unwrap_or_else(|| Location::on_line(path, line, 1, 1))
    }

    /// Finds the definition of the function a linker names (`app::m::f`,
    /// `<app::S as app::T>::f`, `_ZN…`, `dup`): `(file, item)`.
    fn find_fn(&mut self, function: &str, object: Option<&str>) -> Option<(usize, usize)> {
        let dem = demangle(function);
        let fp = parse_fn_path(&dem)?;
        let obj_crate = object.and_then(crate_from_object);
        let mut best: Vec<(i32, usize, usize)> = Vec::new();
        for fi in self.idx.all() {
            let info = &self.idx.files[fi];
            let f = &info.src;
            for (ii, item) in f.items.iter().enumerate() {
                if item.kind != ItemKind::Fn || item.name.as_deref() != Some(fp.name.as_str()) {
                    continue;
                }
                let mut score = 0i32;
                match &fp.krate {
                    Some(k) => {
                        if info.crates.iter().any(|c| c == k) {
                            score += 100;
                        } else if fp.trait_krate.as_ref().is_some_and(|t| info.crates.contains(t)) {
                            // `impl LocalTrait for ForeignType`
                            score += 90;
                        } else if !info.crates.is_empty() {
                            continue;
                        }
                    }
                    None => {
                        // A bare C name: only `#[no_mangle]`/`#[export_name]` functions have one.
                        if item.exported_symbol().as_deref() != Some(dem.as_str()) {
                            continue;
                        }
                    }
                }
                // Module path: file modules, then inline `mod` blocks.
                let mut mods = info.modules.clone();
                let mut inline: Vec<String> = f.ancestors(ii).filter(|a| a.kind == ItemKind::Mod).filter_map(|a| a.name.clone()).collect();
                inline.reverse();
                mods.extend(inline);
                let matched = mods.iter().zip(fp.modules.iter()).take_while(|(a, b)| a == b).count();
                score += 10 * matched as i32;
                score -= 5 * (mods.len() - matched) as i32;
                let container = f.ancestors(ii).find(|a| matches!(a.kind, ItemKind::Impl | ItemKind::Trait));
                let words = |h: &str| -> Vec<String> {
                    h.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).map(str::to_string).collect()
                };
                match container {
                    Some(c) => {
                        let ws = words(&c.header);
                        let has = |n: &Option<String>| n.as_ref().is_some_and(|n| ws.iter().any(|w| w == n));
                        if has(&fp.self_type) {
                            score += 20;
                        }
                        if has(&fp.trait_name) || (c.kind == ItemKind::Trait && c.name == fp.trait_name && fp.trait_name.is_some()) {
                            score += 20;
                        }
                        // Legacy mangling of inherent methods: `krate::m::Type::method`.
                        let legacy_ty = fp.modules.last().cloned();
                        if fp.self_type.is_none() && has(&legacy_ty) {
                            score += 20 + 10;
                        }
                        if fp.self_type.is_none() && fp.trait_name.is_none() && !has(&legacy_ty) {
                            score -= 15;
                        }
                    }
                    None => {
                        if fp.self_type.is_some() || fp.trait_name.is_some() {
                            score -= 20;
                        }
                    }
                }
                if let Some(oc) = &obj_crate {
                    if info.crates.iter().any(|c| c == oc) {
                        score += 5;
                    }
                }
                best.push((score, fi, ii));
            }
        }
        let top = best.iter().map(|b| b.0).max()?;
        let winners: Vec<_> = best.iter().filter(|b| b.0 == top).collect();
        (winners.len() == 1).then(|| (winners[0].1, winners[0].2))
    }

    /// The first use of one of `names` inside a function body (calls first).
    fn use_in_fn(&self, fi: usize, ii: usize, names: &[String]) -> Option<Location> {
        let f = &self.idx.files[fi].src;
        let body = f.items[ii].body?;
        let id =
            f.idents_in(body).filter(|i| names.iter().any(|n| n == f.ident_text(i))).min_by_key(|i| (i.next != Some(b'('), i.start))?;
        Some(f.location(id.start, id.end))
    }

    fn fn_name_location(&self, fi: usize, ii: usize) -> Option<Location> {
        let f = &self.idx.files[fi].src;
        let (s, e) = f.items[ii].name_span?;
        Some(f.location(s, e))
    }

    /// Maps one reference site.
    fn site_location(&mut self, site: &Site, names: &[String]) -> Option<(Location, How)> {
        if let Some((path, line)) = &site.file_line {
            if let Some(abs) = self.resolve_path(path) {
                return Some((self.line_location(abs, *line, names), How::Dwarf));
            }
        }
        let func = site.function.as_deref()?;
        let object = site.object.as_deref().or(site.archive.as_deref());
        let (fi, ii) = self.find_fn(func, object)?;
        if let Some(l) = self.use_in_fn(fi, ii, names) {
            return Some((l, How::CallInFunction));
        }
        Some((self.fn_name_location(fi, ii)?, How::Function))
    }

    /// Foreign declarations linking to `sym` (`fn sym(` in an `extern`
    /// block, or `#[link_name = "sym"]`).
    fn extern_decls(&self, sym: &str) -> Vec<(Location, String)> {
        let mut out = Vec::new();
        for info in &self.idx.files {
            let f = &info.src;
            for item in &f.items {
                if matches!(item.kind, ItemKind::ForeignFn | ItemKind::ForeignStatic) && item.link_symbol().as_deref() == Some(sym) {
                    if let (Some((s, e)), Some(n)) = (item.name_span, &item.name) {
                        out.push((f.location(s, e), n.clone()));
                    }
                }
            }
        }
        out
    }

    /// `#[no_mangle]`/`#[export_name]` definitions of `sym`: `(file, item)`.
    fn exported_defs(&self, sym: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (fi, info) in self.idx.files.iter().enumerate() {
            for (ii, item) in info.src.items.iter().enumerate() {
                if matches!(item.kind, ItemKind::Fn | ItemKind::Static) && item.exported_symbol().as_deref() == Some(sym) {
                    out.push((fi, ii));
                }
            }
        }
        out
    }

    /// Occurrences of `needle` in files (config files, build scripts), as
    /// locations; `line_filter` must accept the line.
    fn text_hits(&self, files: &[PathBuf], needle: &str, line_filter: &dyn Fn(&str) -> bool) -> Vec<Location> {
        let mut out = Vec::new();
        if needle.is_empty() {
            return out;
        }
        for file in files {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            for (n, line) in text.lines().enumerate() {
                let code = line.split('#').next().unwrap_or(line);
                let code = if file.extension().is_some_and(|e| e == "rs") { line.split("//").next().unwrap_or(line) } else { code };
                if !line_filter(code) {
                    continue;
                }
                let mut from = 0;
                while let Some(i) = code[from..].find(needle).map(|i| i + from) {
                    let end = i + needle.len();
                    let before_ok = i == 0 || !is_name_char(code[..i].chars().last().unwrap_or(' '));
                    let after_ok = !code[end..].chars().next().is_some_and(is_name_char);
                    if before_ok && after_ok {
                        let c1 = code[..i].chars().count() as u32 + 1;
                        let c2 = c1 + needle.chars().count() as u32;
                        out.push(Location::on_line(file.clone(), n as u32 + 1, c1, c2));
                        break;
                    }
                    from = end;
                }
            }
        }
        out
    }

    fn build_scripts(&mut self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in &self.ctx.manifest_dirs {
            let m = super::index::Manifest::read(d).unwrap_or_default();
            let script = d.join(m.build.as_deref().unwrap_or("build.rs"));
            if script.is_file() {
                out.push(script);
            }
        }
        out
    }

    /// Where a native library is requested: `#[link(name = "X")]`, a
    /// build script's `rustc-link-lib=[KIND=]X`, a config's `-lX`.
    fn native_lib_hits(&mut self, name: &str) -> Vec<Location> {
        let mut hits = Vec::new();
        for info in &self.idx.files {
            let f = &info.src;
            for item in &f.items {
                for a in &item.attrs {
                    if let Some((n, s, e)) = link_attr_name(a) {
                        if n == name {
                            hits.push(f.location(s, e));
                        }
                    }
                }
            }
        }
        let scripts = self.build_scripts();
        hits.extend(self.text_hits(&scripts, name, &|l| l.contains("rustc-link-lib")));
        let configs = self.ctx.config_files.clone();
        hits.extend(self.text_hits(&configs, name, &|l| l.contains("-l") || l.contains("link-lib")));
        dedup(hits)
    }

    /// Related locations for sites inside native (non-Rust) archives:
    /// where that library is linked.
    fn native_lib_related(&mut self, sites: &[Site], what: &str) -> Vec<Related> {
        let mut out: Vec<Related> = Vec::new();
        let mut seen = Vec::new();
        for site in sites {
            let Some(lib) = native_lib_of(site) else {
                continue;
            };
            if seen.contains(&lib) {
                continue;
            }
            for l in self.native_lib_hits(&lib) {
                out.push(Related { location: l, message: format!("{what} native library `{lib}`, linked here") });
            }
            seen.push(lib);
        }
        out
    }

    pub(super) fn linker_not_found(&mut self, linker: &str, fuse_ld: Option<&str>) -> Diagnostic {
        let (message, symbol) = match fuse_ld {
            Some(f) => {
                let name = if f.contains('/') { f.to_string() } else { format!("ld.{f}") };
                (format!("linker `{name}` not found (selected by `-fuse-ld={f}`)"), name)
            }
            None => (format!("linker `{linker}` not found"), linker.to_string()),
        };
        let mut d = self.base(LinkKind::LinkerNotFound, Severity::Error, message);
        let configs = self.ctx.config_files.clone();
        let mut hits = match fuse_ld {
            Some(f) => self.text_hits(&configs, &format!("-fuse-ld={f}"), &|_| true),
            None => {
                let mut h = self.text_hits(&configs, linker, &|l| l.contains("linker"));
                if h.is_empty() {
                    let base = Path::new(linker).file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
                    if base != linker {
                        h = self.text_hits(&configs, &base, &|l| l.contains("linker"));
                    }
                }
                h
            }
        };
        if let Some(f) = fuse_ld {
            let scripts = self.build_scripts();
            hits.extend(self.text_hits(&scripts, &format!("-fuse-ld={f}"), &|_| true));
        }
        let label = if fuse_ld.is_some() { "the linker is selected here" } else { "the linker is configured here" };
        self.set_evidence(&mut d, hits, label, "also configured here");
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(symbol.clone());
            l.raw_symbol = Some(fuse_ld.map(|f| format!("-fuse-ld={f}")).unwrap_or(symbol));
        }
        d
    }

    /// Sets primary (first hit) and related (others), or the fallback.
    fn set_evidence(&mut self, d: &mut Diagnostic, hits: Vec<Location>, label: &str, related: &str) {
        let mut hits = dedup(hits);
        if hits.is_empty() {
            d.primary = self.root_fallback();
            return;
        }
        let first = hits.remove(0);
        d.primary = Some(first.with_label(label));
        d.related.extend(hits.into_iter().map(|l| Related { location: l, message: related.to_string() }));
    }

    pub(super) fn record(&mut self, rec: Record, failure: &LinkFailure) -> Diagnostic {
        let severity = match rec.level {
            Level::Error => Severity::Error,
            Level::Warning => Severity::Warning,
        };
        let raw = rec.raw.join("\n");
        let mut d = match rec.kind {
            RecKind::Undefined => self.undefined(&rec, severity, failure),
            RecKind::Duplicate => self.duplicate(&rec, severity),
            RecKind::LibraryNotFound => self.library(&rec, severity),
            RecKind::UnknownArgument => self.argument(&rec, severity),
            RecKind::Relocation => self.relocation(&rec, severity),
            RecKind::LinkerNotFound => {
                let fuse = failure.fuse_ld();
                let linker = rec.subject.clone().unwrap_or_else(|| "ld".into());
                let mut d = self.linker_not_found(&linker, fuse.as_deref());
                d.notes.push(format!("note: the compiler driver reported: {}", rec.text));
                d
            }
            RecKind::Crashed => {
                let linker = failure.linker.clone().unwrap_or_else(|| "cc".into());
                let mut d = self.base(LinkKind::LinkerCrashed, severity, format!("linker `{linker}` crashed: {}", rec.text));
                d.primary = self.root_fallback();
                d
            }
            RecKind::InputNotFound => self.input(&rec, severity),
            RecKind::Other => {
                let mut d = self.base(LinkKind::Other, severity, demangle_in_text(&rec.text));
                d.primary = self.root_fallback();
                d
            }
        };
        d.notes.extend(rec.notes.iter().map(|n| format!("note: {n}")));
        d.raw = raw;
        d
    }

    /// Rust identifiers that link to `sym`: foreign decl names, the last
    /// segment of a Rust path, `sym` itself.
    fn names_for(&self, sym_raw: &str, sym: &str, decls: &[(Location, String)]) -> Vec<String> {
        let mut names: Vec<String> = decls.iter().map(|d| d.1.clone()).collect();
        if let Some(fp) = parse_fn_path(sym) {
            names.push(fp.name);
        }
        if is_ident(sym_raw) {
            names.push(sym_raw.to_string());
        }
        names.dedup();
        names
    }

    fn undefined(&mut self, rec: &Record, severity: Severity, failure: &LinkFailure) -> Diagnostic {
        let raw_sym = rec.subject.clone().unwrap_or_default();
        let sym = demangle(&raw_sym);
        let is_main = matches!(sym.as_str(), "main" | "WinMain" | "wWinMain" | "_main")
            && (rec.sites.is_empty()
                || rec.sites.iter().any(|s| {
                    s.function.as_deref().is_some_and(|f| f == "_start" || f.starts_with("__libc_start") || f == "mainCRTStartup")
                        || s.object.as_deref().is_some_and(|o| {
                            let b = o.rsplit('/').next().unwrap_or(o);
                            b.contains("crt1.o") || b.contains("crt0.o") || b.starts_with("Scrt1") || b.starts_with("rcrt1")
                        })
                }));
        if is_main {
            return self.missing_main(rec, severity, &raw_sym, &sym);
        }
        let mut d = self.base(LinkKind::UndefinedSymbol, severity, format!("undefined symbol: `{sym}`"));
        let decls = self.extern_decls(&raw_sym);
        let names = self.names_for(&raw_sym, &sym, &decls);

        let mut refs: Vec<(Location, How)> = Vec::new();
        let mut functions: Vec<String> = Vec::new();
        for site in &rec.sites {
            if let Some(f) = &site.function {
                let f = demangle(f);
                if !functions.contains(&f) {
                    functions.push(f);
                }
            }
            if let Some(l) = self.site_location(site, &names) {
                if !refs.iter().any(|r| r.0.same_line(&l.0)) {
                    refs.push(l);
                }
            }
        }
        // Sites inside the workspace first (keeping the linker's order otherwise).
        let root = normalize(&self.ctx.workspace_root);
        refs.sort_by_key(|r| !r.0.file.starts_with(&root));

        let mut locs = refs.into_iter().map(|(l, how)| {
            let label = match how {
                How::Dwarf | How::CallInFunction => format!("`{sym}` is referenced here"),
                How::Function => format!("`{sym}` is referenced from this function"),
            };
            l.with_label(label)
        });
        if let Some(p) = locs.next() {
            d.primary = Some(p);
            d.related.extend(locs.map(|l| Related { message: "also referenced here".into(), location: l }));
        }
        let mut decl_locs = decls.into_iter().map(|(l, _)| l);
        if d.primary.is_none() {
            if let Some(l) = decl_locs.next() {
                d.primary = Some(l.with_label(format!("`{sym}` is declared here but defined nowhere")));
            }
        }
        for l in decl_locs {
            if !d.primary.as_ref().is_some_and(|p| p.same_line(&l)) {
                d.related.push(Related { location: l, message: "declared here".into() });
            }
        }
        let mut native = self.native_lib_related(&rec.sites, "referenced from").into_iter();
        if d.primary.is_none() {
            if let Some(r) = native.next() {
                d.primary = Some(r.location.with_label(format!("`{sym}` is {}", r.message)));
            }
        }
        d.related.extend(native);
        if d.primary.is_none() {
            d.primary = self.root_fallback();
        }

        let shown: Vec<&String> = functions.iter().take(3).collect();
        for f in &shown {
            d.notes.push(format!("note: referenced from `{f}`"));
        }
        if functions.len() > shown.len() {
            d.notes.push(format!("note: and from {} more functions", functions.len() - shown.len()));
        }
        let mut more = rec.more;
        if rec.more_follow {
            more += 1;
            d.notes.push("note: the linker reports more references that it did not list".into());
        }
        if rec.more > 0 {
            d.notes.push(format!("note: referenced {} more time{}", rec.more, if rec.more == 1 { "" } else { "s" }));
        }
        if d.related.iter().any(|r| r.message == "declared here")
            || d.primary.as_ref().is_some_and(|p| p.label.as_deref().is_some_and(|l| l.contains("declared here")))
        {
            d.notes.push(format!("note: `{sym}` is declared in an `extern` block, but no object file or library in the link defines it"));
        }
        d.notes.extend(failure.rustc_notes.iter().map(|n| format!("note: {n}")));
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(sym);
            l.raw_symbol = Some(raw_sym);
            l.more_references = more;
        }
        d
    }

    fn missing_main(&mut self, rec: &Record, severity: Severity, raw_sym: &str, sym: &str) -> Diagnostic {
        let mut d = self.base(
            LinkKind::MissingMain,
            severity,
            format!("undefined symbol: `{sym}`: the C runtime's entry point calls `{sym}`, and nothing defines it"),
        );
        let root = self.ctx.root_source.clone();
        if let Some(fi) = self.idx.load(&root) {
            let f = &self.idx.files[fi].src;
            if let Some(a) = f.inner_attrs.iter().find(|a| a.text.trim() == "no_main") {
                d.primary = Some(f.location(a.start, a.end).with_label("`#![no_main]` tells rustc not to generate `main`"));
            }
            for item in &f.items {
                if item.kind == ItemKind::Fn
                    && item.name.as_deref() == Some("main")
                    && item.parent.is_none()
                    && item.exported_symbol().as_deref() != Some("main")
                {
                    if let Some((s, e)) = item.name_span {
                        let loc = f.location(s, e);
                        let msg = "this `main` is not exported as the C symbol `main`; add `#[unsafe(no_mangle)]` (or `#[no_mangle]`)";
                        if d.primary.is_none() {
                            d.primary = Some(loc.with_label(msg));
                        } else {
                            d.related.push(Related { location: loc, message: msg.to_string() });
                        }
                    }
                }
            }
        }
        if d.primary.is_none() {
            d.primary = self.root_fallback();
        }
        for s in &rec.sites {
            if let Some(f) = &s.function {
                d.notes.push(format!("note: referenced from `{}`", demangle(f)));
                break;
            }
        }
        d.notes.push("help: define `main` with `#[unsafe(no_mangle)] pub extern \"C\" fn main(argc: i32, argv: *const *const u8) -> i32`, or remove `#![no_main]`".into());
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(sym.to_string());
            l.raw_symbol = Some(raw_sym.to_string());
            l.more_references = rec.more;
        }
        d
    }

    fn duplicate(&mut self, rec: &Record, severity: Severity) -> Diagnostic {
        let raw_sym = rec.subject.clone().unwrap_or_default();
        let sym = demangle(&raw_sym);
        let mut d = self.base(LinkKind::DuplicateSymbol, severity, format!("duplicate symbol: `{sym}`"));
        let defs = self.exported_defs(&raw_sym);
        let mut used = vec![false; defs.len()];
        let mut locs: Vec<Location> = Vec::new();
        let names = vec![sym.clone()];
        for site in &rec.sites {
            let object = site.object.as_deref().or(site.archive.as_deref());
            let obj_crate = object.and_then(crate_from_object);
            // The definition in the file the linker printed, else in the crate of the object.
            let mut pick = None;
            if let Some((path, line)) = &site.file_line {
                if let Some(abs) = self.resolve_path(path) {
                    pick = defs
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| !used[*k])
                        .find(|(_, (fi, _))| self.idx.files[*fi].src.path == abs)
                        .map(|(k, _)| k);
                    if pick.is_none() {
                        locs.push(self.line_location(abs, *line, &names));
                        continue;
                    }
                }
            }
            if pick.is_none() {
                if let Some(oc) = &obj_crate {
                    pick = defs
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| !used[*k])
                        .find(|(_, (fi, _))| self.idx.files[*fi].crates.iter().any(|c| c == oc))
                        .map(|(k, _)| k);
                }
            }
            if pick.is_none() && defs.is_empty() {
                // A mangled Rust symbol defined twice: find the function.
                if let Some((l, _)) = self.site_location(site, &[]) {
                    locs.push(l);
                }
                continue;
            }
            if let Some(k) = pick {
                used[k] = true;
                let (fi, ii) = defs[k];
                if let Some(l) = self.fn_name_location(fi, ii) {
                    locs.push(l);
                }
            }
        }
        for (k, (fi, ii)) in defs.iter().enumerate() {
            if !used[k] {
                if let Some(l) = self.fn_name_location(*fi, *ii) {
                    locs.push(l);
                }
            }
        }
        let mut locs = dedup(locs).into_iter();
        match locs.next() {
            Some(p) => {
                d.primary = Some(p.with_label(format!("`{sym}` is defined here")));
                d.related.extend(locs.map(|l| Related { location: l, message: "also defined here".into() }));
            }
            None => d.primary = self.root_fallback(),
        }
        let mut crates: Vec<String> = Vec::new();
        for s in &rec.sites {
            if let Some(c) = s.object.as_deref().or(s.archive.as_deref()).and_then(crate_from_object) {
                if !crates.contains(&c) {
                    crates.push(c);
                }
            }
        }
        if !crates.is_empty() {
            let list: Vec<String> = crates.iter().map(|c| format!("`{c}`")).collect();
            d.notes.push(format!(
                "note: the linker found `{sym}` in crate{} {}",
                if crates.len() > 1 { "s" } else { "" },
                list.join(" and ")
            ));
        }
        if !defs.is_empty() {
            d.notes.push("help: `#[no_mangle]` and `#[export_name]` symbols share one global namespace: rename one of them".into());
        }
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(sym);
            l.raw_symbol = Some(raw_sym);
        }
        d
    }

    fn library(&mut self, rec: &Record, severity: Severity) -> Diagnostic {
        let name = rec.subject.clone().unwrap_or_default();
        let mut d = self.base(LinkKind::LibraryNotFound, severity, format!("unable to find library `-l{name}`"));
        let hits = self.native_lib_hits(&name);
        self.set_evidence(&mut d, hits, "the library is requested here", "also requested here");
        d.notes.push(format!(
            "help: install the library (`lib{name}.so` or `lib{name}.a`), or add its directory to the search path with `cargo::rustc-link-search=native=DIR` in a build script"
        ));
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(name.clone());
            l.raw_symbol = Some(format!("-l{name}"));
        }
        d
    }

    fn argument(&mut self, rec: &Record, severity: Severity) -> Diagnostic {
        let arg = rec.subject.clone().unwrap_or_default();
        let mut d = self.base(LinkKind::UnknownArgument, severity, format!("unknown linker argument `{arg}`"));
        let mut files = self.ctx.config_files.clone();
        files.extend(self.build_scripts());
        let hits = self.text_hits(&files, &arg, &|_| true);
        self.set_evidence(&mut d, hits, "the argument is passed here", "also passed here");
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(arg.clone());
            l.raw_symbol = Some(arg);
        }
        d
    }

    fn relocation(&mut self, rec: &Record, severity: Severity) -> Diagnostic {
        let raw_sym = rec.subject.clone();
        let sym = raw_sym.as_deref().map(demangle);
        let mut d = self.base(LinkKind::Relocation, severity, demangle_in_text(&rec.text));
        let names: Vec<String> = sym.iter().filter_map(|s| parse_fn_path(s).map(|p| p.name)).collect();
        let mut locs = Vec::new();
        for site in &rec.sites {
            if let Some((l, _)) = self.site_location(site, &names) {
                locs.push(l);
            }
        }
        if let Some(s) = &raw_sym {
            for (fi, ii) in self.exported_defs(s) {
                if let Some(l) = self.fn_name_location(fi, ii) {
                    locs.push(l);
                }
            }
        }
        for site in &rec.defined_in {
            if let Some((l, _)) = self.site_location(site, &names) {
                locs.push(l);
            }
        }
        let all_sites: Vec<Site> = rec.sites.iter().chain(rec.defined_in.iter()).cloned().collect();
        let native = self.native_lib_related(&all_sites, "the object comes from");
        if locs.is_empty() {
            let mut native = native.into_iter();
            match native.next() {
                Some(r) => {
                    d.primary = Some(r.location.with_label(r.message));
                    d.related.extend(native);
                }
                None => d.primary = self.root_fallback(),
            }
        } else {
            self.set_evidence(&mut d, locs, "the relocation is needed here", "related location");
            d.related.extend(native);
        }
        d.notes.push("help: code linked into a position-independent executable or shared library must be compiled with `-fPIC` (C code: `cc::Build::new().pic(true)`)".into());
        if let Some(l) = d.link.as_mut() {
            l.symbol = sym;
            l.raw_symbol = raw_sym;
        }
        d
    }

    fn input(&mut self, rec: &Record, severity: Severity) -> Diagnostic {
        let path = rec.subject.clone().unwrap_or_default();
        let mut d = self.base(LinkKind::InputNotFound, severity, format!("linker input `{path}` not found"));
        let mut files = self.ctx.config_files.clone();
        files.extend(self.build_scripts());
        let hits = self.text_hits(&files, &path, &|_| true);
        self.set_evidence(&mut d, hits, "the input is named here", "also named here");
        if path.ends_with(".rcgu.o") {
            d.notes.push("note: this object file is one rustc produced for the crate being linked; it was removed or replaced before the link ran — rebuild the crate".into());
        }
        if let Some(l) = d.link.as_mut() {
            l.symbol = Some(path.clone());
            l.raw_symbol = Some(path);
        }
        d
    }
}

/// `…/libfoo.a(member.o)` or `…/libfoo.a` (an archive that is not an
/// rlib) → `foo`.
fn native_lib_of(site: &Site) -> Option<String> {
    for s in [site.archive.as_deref(), site.object.as_deref()].into_iter().flatten() {
        let outer = s.strip_suffix(')').and_then(|o| o.rfind('(').map(|i| &o[..i])).unwrap_or(s);
        let base = outer.rsplit(['/', '\\']).next().unwrap_or(outer);
        if let Some(n) = base.strip_prefix("lib").and_then(|b| b.strip_suffix(".a")) {
            if !n.is_empty() {
                return Some(n.to_string());
            }
        }
    }
    None
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn dedup(locs: Vec<Location>) -> Vec<Location> {
    let mut out: Vec<Location> = Vec::new();
    for l in locs {
        if !out.iter().any(|o| o.same_line(&l)) {
            out.push(l);
        }
    }
    out
}
