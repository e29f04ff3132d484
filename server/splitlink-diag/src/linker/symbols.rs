//! Symbol names: demangling, hash stripping, splitting demangled paths.

/// Demangles a Rust symbol (legacy `_ZN…17h<hash>E` or v0 `_R…`) without
/// its hash; strips the `::h<16 hex>` suffix of an already demangled legacy
/// name; leaves anything else (C names, C++ names) untouched.
pub fn demangle(sym: &str) -> String {
    let sym = sym.trim();
    if let Ok(d) = rustc_demangle::try_demangle(sym) {
        return format!("{d:#}");
    }
    strip_hash(sym).to_string()
}

/// `a::b::h0123456789abcdef` → `a::b`.
pub fn strip_hash(s: &str) -> &str {
    if let Some(idx) = s.rfind("::h") {
        let hash = &s[idx + 3..];
        if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return &s[..idx];
        }
    }
    s
}

/// Whether `s` is a plain identifier (`missing_fn`, `main`).
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_') && s != "_"
}

/// Splits a demangled path at top-level `::` (not inside `<>`, `()`, `[]`, `{}`).
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' | '(' | '[' | '{' => depth += 1,
            // `->` inside fn types is not a closing angle bracket.
            '>' if cur.ends_with('-') => {}
            '>' | ')' | ']' | '}' => depth -= 1,
            ':' if depth == 0 && chars.peek() == Some(&':') => {
                chars.next();
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// What a demangled function path tells about where the function lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FnPath {
    /// The crate (first segment), if the path has more than one segment.
    pub krate: Option<String>,
    /// Segments between the crate and the function (modules, and for legacy
    /// inherent methods the type).
    pub modules: Vec<String>,
    /// For `<T as Trait>::f` or `<T>::f`: the last segment of `T`.
    pub self_type: Option<String>,
    /// For `<T as Trait>::f`: the last segment of `Trait`.
    pub trait_name: Option<String>,
    /// For `<T as Trait>::f`: the crate of `Trait` (the impl may live there
    /// when `T` is foreign).
    pub trait_krate: Option<String>,
    /// The function's own name.
    pub name: String,
}

fn last_ident(path: &str) -> Option<String> {
    let segs = split_path(path.trim_start_matches('&').trim_start_matches("mut ").trim());
    let last = segs.last()?;
    let base = last.split('<').next()?.trim();
    is_ident(base).then(|| base.to_string())
}

/// Parses `krate::m::f`, `krate::m::f::<u8>`, `<krate::S as krate::T>::f`,
/// `krate::f::{{closure}}`, `krate::f::{closure#0}`.
pub fn parse_fn_path(demangled: &str) -> Option<FnPath> {
    let segs = split_path(demangled);
    let mut segs: Vec<String> = segs.into_iter().filter(|s| !(s.starts_with('{') && s.ends_with('}'))).collect();
    // Drop trailing generic-argument segments (`::<u8>`), but not a leading
    // qualified path.
    while segs.len() > 1 && segs.last().is_some_and(|s| s.starts_with('<')) {
        segs.pop();
    }
    let name = segs.pop()?;
    let name = name.split('<').next().unwrap_or("").trim().to_string();
    if !is_ident(&name) {
        return None;
    }
    let mut fp = FnPath { name, ..FnPath::default() };
    if let Some(first) = segs.first() {
        if first.starts_with('<') && first.ends_with('>') {
            let inner = &first[1..first.len() - 1];
            let (ty, tr) = match find_top_level(inner, " as ") {
                Some(i) => (&inner[..i], Some(&inner[i + 4..])),
                None => (inner, None),
            };
            let ty = ty.trim().trim_start_matches("impl ").trim();
            let ty_segs = split_path(ty.split('<').next().unwrap_or(ty));
            fp.krate = ty_segs.first().filter(|_| ty_segs.len() > 1).cloned();
            if ty_segs.len() > 2 {
                fp.modules = ty_segs[1..ty_segs.len() - 1].to_vec();
            }
            fp.self_type = last_ident(ty);
            fp.trait_name = tr.and_then(last_ident);
            if let Some(tr) = tr {
                let tr_segs = split_path(tr.split('<').next().unwrap_or(tr));
                if tr_segs.len() > 1 {
                    fp.trait_krate = tr_segs.first().cloned();
                }
            }
            if fp.krate.is_none() {
                fp.krate = fp.trait_krate.clone();
            }
            // Segments after the qualified part (rare: nested fns).
            fp.modules.extend(segs[1..].iter().cloned());
            return Some(fp);
        }
        fp.krate = Some(first.clone());
        fp.modules = segs[1..].to_vec();
    }
    Some(fp)
}

fn find_top_level(s: &str, pat: &str) -> Option<usize> {
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' | b')' | b']' => depth -= 1,
            _ => {}
        }
        if depth == 0 && s[i..].starts_with(pat) {
            return Some(i);
        }
    }
    None
}

/// The symbol carried by an ELF section name: `.text._ZN…E+0x18` →
/// `_ZN…E`, `.text.dup+0x0` → `dup`, `.text+0x17` → `None`.
pub fn symbol_from_section(section: &str) -> Option<String> {
    let s = section.trim();
    let s = match s.find("+0x") {
        Some(i) => &s[..i],
        None => s,
    };
    for marker in ["._ZN", "._R", ".__ZN"] {
        if let Some(i) = s.find(marker) {
            return Some(s[i + 1..].to_string());
        }
    }
    const PREFIXES: &[&str] = &[
        ".text.unlikely.",
        ".text.startup.",
        ".text.hot.",
        ".text.exit.",
        ".text.split.",
        ".text.",
        ".data.rel.ro.local.",
        ".data.rel.ro.",
        ".data.rel.local.",
        ".data.rel.",
        ".rodata.",
        ".data.",
        ".bss.",
        ".tdata.",
        ".tbss.",
        ".ldata.",
        ".lrodata.",
        ".lbss.",
    ];
    for p in PREFIXES {
        if let Some(rest) = s.strip_prefix(p) {
            if !rest.is_empty() {
                return Some(rest.to_string());
            }
        }
    }
    None
}

/// The crate name encoded in a cargo-built object or archive path:
/// `…/libmylib-46c96e86e80ad387.rlib(mylib-46c96e86e80ad387.5aof….rcgu.o)`,
/// `…/app-b0c78f12ab3d545f.6pmt….rcgu.o` → `mylib` / `app`.
pub fn crate_from_object(obj: &str) -> Option<String> {
    let obj = obj.trim();
    // Prefer the archive member, then the archive, then the object itself.
    let (outer, member) = match obj.strip_suffix(')').and_then(|o| o.rfind('(').map(|i| (&o[..i], &o[i + 1..]))) {
        Some((outer, member)) => (outer, Some(member)),
        None => (obj, None),
    };
    let try_name = |file: &str| -> Option<String> {
        let base = file.rsplit(['/', '\\']).next()?;
        let base = base.strip_prefix("lib").filter(|_| base.ends_with(".rlib") || base.ends_with(".a")).unwrap_or(base);
        let dash = base.find('-')?;
        let name = &base[..dash];
        let hash: String = base[dash + 1..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        (hash.len() == 16 && is_ident(name)).then(|| name.to_string())
    };
    member.and_then(try_name).or_else(|| try_name(outer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_both_schemes_and_strips_hash() {
        assert_eq!(demangle("_ZN9undef_dbg8ffi_user6use_it17hd901d206b9409c8fE"), "undef_dbg::ffi_user::use_it");
        assert_eq!(demangle("_RNvNtCshGr6jEhOzsl_9undef_dbg8ffi_user6use_it"), "undef_dbg::ffi_user::use_it");
        assert_eq!(demangle("undef_bin::main::hbc9aeb448ff5bfb0"), "undef_bin::main");
        assert_eq!(demangle("mylib::compute_generic::<u8>"), "mylib::compute_generic::<u8>");
        assert_eq!(demangle("missing"), "missing");
    }

    #[test]
    fn parses_fn_paths() {
        let p = parse_fn_path("mylib::compute_generic::<u8>").unwrap();
        assert_eq!((p.krate.as_deref(), p.name.as_str()), (Some("mylib"), "compute_generic"));
        let p = parse_fn_path("<app::S as app::m::T>::f").unwrap();
        assert_eq!(p.krate.as_deref(), Some("app"));
        assert_eq!(p.self_type.as_deref(), Some("S"));
        assert_eq!(p.trait_name.as_deref(), Some("T"));
        assert_eq!(p.name, "f");
        let p = parse_fn_path("<alloc::vec::Vec<app::S> as app::T>::f").unwrap();
        assert_eq!((p.krate.as_deref(), p.trait_krate.as_deref()), (Some("alloc"), Some("app")));
        let p = parse_fn_path("app::run::{{closure}}").unwrap();
        assert_eq!(p.name, "run");
        let p = parse_fn_path("app::a::b::run::{closure#0}").unwrap();
        assert_eq!(p.modules, vec!["a".to_string(), "b".to_string()]);
        let p = parse_fn_path("_start").unwrap();
        assert_eq!((p.krate, p.name.as_str()), (None, "_start"));
        assert!(parse_fn_path(".text").is_none());
    }

    #[test]
    fn sections_and_objects() {
        assert_eq!(
            symbol_from_section(".text._ZN9undef_dbg8ffi_user6use_it17hd901d206b9409c8fE+0x18").as_deref(),
            Some("_ZN9undef_dbg8ffi_user6use_it17hd901d206b9409c8fE")
        );
        assert_eq!(symbol_from_section(".text.dup+0x0").as_deref(), Some("dup"));
        assert_eq!(symbol_from_section(".text+0x17"), None);
        assert_eq!(
            crate_from_object("/t/libmylib-46c96e86e80ad387.rlib(mylib-46c96e86e80ad387.5aof9h7f1xc1gdv865kbal2qq.188kqct.rcgu.o)")
                .as_deref(),
            Some("mylib")
        );
        assert_eq!(crate_from_object("/t/app-b0c78f12ab3d545f.6pmt.rcgu.o").as_deref(), Some("app"));
        assert_eq!(crate_from_object("/usr/lib/x86_64-linux-gnu/Scrt1.o"), None);
    }
}
