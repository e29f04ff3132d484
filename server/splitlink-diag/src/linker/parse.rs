//! Linker output → records, by the grammar of each linker's messages.
//!
//! The parser does not know which linker ran: every line is stripped of its
//! program prefix (`rust-lld: `, `/usr/bin/ld.bfd: `, `mold: `, `collect2: `,
//! `cc: `) and severity (`error: `, `fatal: `, `warning: `), then matched by
//! the phrases the linkers use:
//!
//! | message | lld | mold | bfd | gold |
//! |---|---|---|---|---|
//! | undefined | `undefined symbol: S` + `>>>` lines | same as lld | ``LOC: undefined reference to `S'`` after ``OBJ: in function `F':`` | `LOC: error: undefined reference to 'S'` |
//!
//! wild (fast mode's linker) says `Undefined symbol S, referenced by ` followed by indented lines:
//! the first reference's `PATH:LINE` (from DWARF; wild 0.10 drops the directory under the
//! compilation directory, e.g. `/ws/main.rs` for `/ws/src/main.rs`) and its object.
//! | duplicate | `duplicate symbol: S` + `>>> defined at` | `duplicate symbol: OBJ: OBJ: S` | ``LOC: multiple definition of `S'; LOC: first defined here`` | `error: OBJ: multiple definition of 'S'` + `OBJ: previous definition here` |
//! | library | `unable to find library -lX` | `library not found: X` | `cannot find -lX: …` | `cannot find -lX` |
//! | option | `unknown argument 'A'` | `unknown command line option: A` | `unrecognized option 'A'` | `A: unknown option` |
//!
//! `LOC` is `PATH:LINE` when the object has DWARF line tables, else
//! `OBJ:(SECTION+0xOFF)` / `OBJ:CGU:function F`. mold 1.10 may drop the
//! newline before `>>> `, so lines are re-split there first.

use super::symbols::symbol_from_section;

/// One place the linker mentions: a reference to or a definition of a symbol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Site {
    /// `(path, line)` from DWARF, as printed (relative or absolute).
    pub file_line: Option<(String, u32)>,
    /// The object file, possibly `archive(member)`.
    pub object: Option<String>,
    /// The archive of lld's `… in archive LIB`.
    pub archive: Option<String>,
    /// The function (or symbol) containing the location, as printed.
    pub function: Option<String>,
    /// The section and offset (`.text+0x17`), when that is all there is.
    pub section: Option<String>,
}

impl Site {
    fn is_empty(&self) -> bool {
        self == &Site::default()
    }

    /// Fills in what `other` knows and `self` does not.
    fn merge(&mut self, other: Site) {
        if self.file_line.is_none() {
            self.file_line = other.file_line;
        }
        if self.object.is_none() {
            self.object = other.object;
        }
        if self.archive.is_none() {
            self.archive = other.archive;
        }
        // A function name beats a section-derived one.
        match (&self.function, other.function) {
            (None, f) => self.function = f,
            (Some(_), Some(f)) if self.section.is_some() && other.section.is_none() => self.function = Some(f),
            _ => {}
        }
        if self.section.is_none() {
            self.section = other.section;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecKind {
    Undefined,
    Duplicate,
    LibraryNotFound,
    UnknownArgument,
    Relocation,
    LinkerNotFound,
    Crashed,
    InputNotFound,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub kind: RecKind,
    pub level: Level,
    /// The symbol / library / argument / linker name, as printed.
    pub subject: Option<String>,
    /// References (undefined, relocation) or definitions (duplicate).
    pub sites: Vec<Site>,
    /// For relocations: lld's `>>> defined in`.
    pub defined_in: Vec<Site>,
    /// `>>> referenced N more times`.
    pub more: u32,
    /// bfd's `more undefined references to `S' follow`.
    pub more_follow: bool,
    /// The message core (program, severity and location prefixes removed).
    pub text: String,
    /// Notes from the linker (`did you mean`, `too many errors`).
    pub notes: Vec<String>,
    /// The original lines.
    pub raw: Vec<String>,
}

impl Record {
    fn new(kind: RecKind, level: Level, subject: Option<String>, text: &str, raw: &str) -> Record {
        Record {
            kind,
            level,
            subject,
            sites: Vec::new(),
            defined_in: Vec::new(),
            more: 0,
            more_follow: false,
            text: text.trim().to_string(),
            notes: Vec::new(),
            raw: vec![raw.to_string()],
        }
    }
}

/// The parsed output.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub records: Vec<Record>,
    /// lld's "too many errors emitted, stopping now".
    pub truncated: bool,
}

/// Re-inserts the newlines mold 1.10 drops before `>>> `.
fn split_mold_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        loop {
            // Search for `>>> ` not at the start that begins a reference line.
            let mut cut = None;
            let mut from = 1;
            while let Some(i) = rest.get(from..).and_then(|r| r.find(">>> ")).map(|i| i + from) {
                let after = &rest[i + 4..];
                if after.starts_with("referenced ")
                    || after.starts_with("defined ")
                    || after.starts_with(' ')
                    || after.starts_with("did you mean")
                {
                    cut = Some(i);
                    break;
                }
                from = i + 1;
            }
            match cut {
                Some(i) => {
                    out.push(rest[..i].to_string());
                    rest = &rest[i..];
                }
                None => {
                    out.push(rest.to_string());
                    break;
                }
            }
        }
    }
    out
}

/// Whether `tok` (the text before the first `: `) names a linker or compiler
/// driver: `rust-lld`, `/usr/bin/ld.bfd`, `mold`, `collect2`, `cc`, …
fn is_program(tok: &str) -> bool {
    if tok.is_empty() || tok.contains(' ') {
        return false;
    }
    let base = tok.rsplit(['/', '\\']).next().unwrap_or(tok);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    matches!(
        base,
        "ld" | "lld"
            | "rust-lld"
            | "ld.lld"
            | "ld64.lld"
            | "wasm-ld"
            | "lld-link"
            | "mold"
            | "ld.mold"
            | "gold"
            | "ld.gold"
            | "ld.bfd"
            | "bfd"
            | "collect2"
            | "cc"
            | "c++"
            | "gcc"
            | "g++"
            | "clang"
            | "clang++"
            | "link"
            | "sold"
            | "ld64"
            | "wild"
    ) || base.ends_with("-ld")
        || base.contains("-ld.")
        || base.ends_with("-gcc")
        || base.contains("-gcc-")
        || base.starts_with("gcc-")
        || base.starts_with("clang-")
        || base.ends_with("-clang")
        || base.ends_with("-cc")
}

/// Strips `PROGRAM: ` from a line.
fn strip_program(line: &str) -> (Option<&str>, &str) {
    if let Some(i) = line.find(": ") {
        let tok = &line[..i];
        if is_program(tok) {
            return (Some(tok), &line[i + 2..]);
        }
    }
    (None, line)
}

/// Strips a leading `error: ` / `fatal error: ` / `fatal: ` / `warning: `.
fn strip_level(s: &str) -> (Option<Level>, &str) {
    for (p, l) in [("error: ", Level::Error), ("fatal error: ", Level::Error), ("fatal: ", Level::Error), ("warning: ", Level::Warning)] {
        if let Some(r) = s.strip_prefix(p) {
            return (Some(l), r);
        }
    }
    (None, s)
}

/// Removes a trailing `: error:`/`: warning:` and `:` from a location prefix.
fn clean_prefix(s: &str) -> (&str, Option<Level>) {
    let mut s = s.trim_end();
    let mut level = None;
    for (p, l) in [("error:", Level::Error), ("warning:", Level::Warning)] {
        if let Some(r) = s.strip_suffix(p) {
            s = r.trim_end();
            level = Some(l);
        }
    }
    (s.strip_suffix(':').unwrap_or(s).trim(), level)
}

/// Reads a quoted name starting at the beginning of `s`: `` `S' ``, `'S'`,
/// `‘S’`, `"S"`. Returns the name and the rest after the closing quote.
/// The closing quote searched for is the *last* one before `stop` (or the
/// end), since demangled names may contain quotes (lifetimes).
fn quoted(s: &str, stop: Option<&str>) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    let (_, open) = chars.next()?;
    let close: &[char] = match open {
        '`' | '\'' => &['\''],
        '‘' => &['’'],
        '"' => &['"'],
        _ => return None,
    };
    let body_start = open.len_utf8();
    let limit = match stop {
        Some(st) => s[body_start..].find(st).map(|i| i + body_start).unwrap_or(s.len()),
        None => s.len(),
    };
    let region = &s[body_start..limit];
    let end = region.rfind(close)?;
    Some((region[..end].to_string(), body_start + end + close[0].len_utf8()))
}

/// Parses a location as the linkers print it.
pub(crate) fn parse_location(s: &str) -> Site {
    let mut site = Site::default();
    let mut s = s.trim();
    if s.is_empty() {
        return site;
    }
    // lld: `OBJ:(F) in archive LIB`
    if let Some(i) = s.rfind(" in archive ") {
        site.archive = Some(s[i + " in archive ".len()..].trim().to_string());
        s = s[..i].trim_end();
    }
    // gold: `OBJ:CGU:function F` / `OBJ:function F`
    if let Some(i) = s.find(":function ") {
        site.function = Some(s[i + ":function ".len()..].trim().to_string());
        site.object = Some(object_part(&s[..i]).to_string());
        return site;
    }
    // `X:(F)` / `(SECTION+0x..)` / `file.rs:6 (src/file.rs:6)`
    if s.ends_with(')') {
        if let Some(open) = matching_open(s) {
            let inner = &s[open + 1..s.len() - 1];
            let before = &s[..open];
            if before.ends_with(' ') {
                // lld `name.rs:6 (path/name.rs:6)`
                if let Some(fl) = file_line(inner) {
                    site.file_line = Some(fl);
                    return site;
                }
            } else if before.is_empty() || before.ends_with(':') {
                let obj = before.strip_suffix(':').unwrap_or(before);
                if !obj.is_empty() {
                    site.object = Some(object_part(obj).to_string());
                }
                if inner.starts_with('.') {
                    site.section = Some(inner.to_string());
                    site.function = symbol_from_section(inner);
                } else {
                    site.function = Some(inner.to_string());
                }
                return site;
            }
        }
    }
    // `PATH:LINE`, or bfd's `OBJ:PATH:LINE` (first defined here)
    let (obj, rest) = match s.rfind("):") {
        Some(i) => (Some(&s[..=i]), &s[i + 2..]),
        None => match s.rfind(".o:") {
            Some(i) => (Some(&s[..i + 2]), &s[i + 3..]),
            None => (None, s),
        },
    };
    if let Some(fl) = file_line(rest) {
        site.object = obj.map(str::to_string);
        site.file_line = Some(fl);
        return site;
    }
    // Bare object or file symbol (CGU name, `foo.c`).
    site.object = Some(s.to_string());
    site
}

/// `OBJ:CGU` → `OBJ` (gold adds the file symbol after the object).
fn object_part(s: &str) -> &str {
    if let Some(i) = s.rfind(".o:") {
        return &s[..i + 2];
    }
    if let Some(i) = s.rfind("):") {
        return &s[..=i];
    }
    s
}

fn matching_open(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0i32;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `PATH:LINE` or `PATH:LINE:COL` → `(PATH, LINE)`.
fn file_line(s: &str) -> Option<(String, u32)> {
    let s = s.trim();
    let (rest, last) = s.rsplit_once(':')?;
    let last_n: u32 = last.parse().ok()?;
    // PATH:LINE:COL
    if let Some((path, line)) = rest.rsplit_once(':') {
        if let Ok(line_n) = line.parse::<u32>() {
            if looks_like_path(path) {
                return Some((path.to_string(), line_n));
            }
        }
    }
    looks_like_path(rest).then(|| (rest.to_string(), last_n))
}

fn looks_like_path(p: &str) -> bool {
    !p.is_empty() && !p.contains(['(', ')']) && !p.starts_with('.') || p.starts_with("./") || p.starts_with("../")
}

const UNKNOWN_OPTION_PHRASES: &[&str] = &[
    "unknown argument: ",
    "unknown argument ",
    "unknown command line option: ",
    "unrecognized option ",
    "unrecognized command-line option ",
    "unrecognized command line option ",
    "unknown -z option: ",
    "invalid option -- ",
];

fn parse_option(after: &str) -> String {
    let after = after.trim();
    if let Some((q, _)) = quoted(after, None) {
        return q;
    }
    after.split_whitespace().next().unwrap_or(after).trim_end_matches([':', ',']).to_string()
}

/// Extracts the symbol of a relocation error.
fn relocation_symbol(s: &str) -> Option<String> {
    let i = s.find("against ")?;
    let mut after = &s[i + "against ".len()..];
    // lld: `cannot be used against local symbol`: no name.
    if after.starts_with("local symbol") || after.starts_with("local ") {
        return None;
    }
    for p in ["symbol: ", "symbol "] {
        if let Some(r) = after.strip_prefix(p) {
            after = r;
            break;
        }
    }
    let name = match quoted(after, Some(" ")).or_else(|| quoted(after, None)) {
        Some((q, _)) => q,
        None => after.split_whitespace().next()?.trim_end_matches([';', ',', ':']).to_string(),
    };
    // `against `.bss'`: a section, not a symbol.
    (!name.is_empty() && !name.starts_with('.')).then_some(name)
}

fn is_relocation(s: &str) -> bool {
    s.contains("recompile with -f")
        || s.contains("relocation truncated to fit")
        || (s.contains("relocation") && (s.contains("out of range") || s.contains("can not be used") || s.contains("cannot be used")))
        || s.contains("requires dynamic R_")
        || s.contains("requires unsupported dynamic reloc")
}

/// The parser state.
struct Parser {
    out: Parsed,
    /// Index of the record that `>>>` and free lines continue.
    current: Option<usize>,
    /// bfd's ``OBJ: in function `F':`` context.
    header: Option<Site>,
    /// Raw header lines waiting for the record they introduce.
    pending_raw: Vec<String>,
    /// The current record is wild's `Undefined symbol S, referenced by`: indented lines are
    /// its references.
    wild_refs: bool,
}

impl Parser {
    fn push(&mut self, mut rec: Record) -> usize {
        if !self.pending_raw.is_empty() {
            let mut raw = std::mem::take(&mut self.pending_raw);
            raw.append(&mut rec.raw);
            rec.raw = raw;
        }
        self.out.records.push(rec);
        let idx = self.out.records.len() - 1;
        self.current = Some(idx);
        self.wild_refs = false;
        idx
    }

    fn append_raw(&mut self, line: &str) {
        match self.current {
            Some(i) => self.out.records[i].raw.push(line.to_string()),
            None => self.pending_raw.push(line.to_string()),
        }
    }

    /// A site from a location prefix, completed by the bfd header.
    fn site_with_header(&self, loc: &str) -> Site {
        let mut site = parse_location(loc);
        if let Some(h) = &self.header {
            site.merge(h.clone());
        }
        site
    }

    fn continuation(&mut self, line: &str) {
        let body = line.trim_start_matches('>').trim();
        let Some(ci) = self.current else {
            // A `>>>` line without a record: keep it.
            let rec = Record::new(RecKind::Other, Level::Error, None, body, line);
            self.push(rec);
            return;
        };
        let rec = &mut self.out.records[ci];
        rec.raw.push(line.to_string());
        if let Some(rest) = body.strip_prefix("referenced ") {
            // `referenced N more times` / `referenced by LOC`
            if let Some(n) = rest.strip_suffix(" more times").or_else(|| rest.strip_suffix(" more time")) {
                if let Ok(n) = n.trim().parse::<u32>() {
                    rec.more += n;
                    return;
                }
            }
            if let Some(loc) = rest.strip_prefix("by ") {
                rec.sites.push(parse_location(loc));
                return;
            }
        }
        if let Some(loc) = body.strip_prefix("defined at ") {
            rec.sites.push(parse_location(loc));
            return;
        }
        if let Some(loc) = body.strip_prefix("defined in: ").or_else(|| body.strip_prefix("defined in ")) {
            rec.defined_in.push(parse_location(loc));
            return;
        }
        if let Some(s) = body.strip_prefix("did you mean: ") {
            rec.notes.push(format!("did you mean `{}`?", s.trim()));
            return;
        }
        if body.is_empty() {
            return;
        }
        // `>>>               OBJ:(F)`: completes the last site.
        let site = parse_location(body);
        let list = if rec.kind == RecKind::Relocation && rec.sites.is_empty() && !rec.defined_in.is_empty() {
            &mut rec.defined_in
        } else {
            &mut rec.sites
        };
        match list.last_mut() {
            Some(last) => last.merge(site),
            None => list.push(site),
        }
    }

    fn line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        if line.starts_with(">>>") {
            self.continuation(line);
            return;
        }
        // wild: `    PATH:LINE` / `    OBJ` under `Undefined symbol S, referenced by`.
        if self.wild_refs && line.starts_with(char::is_whitespace) {
            if let Some(ci) = self.current {
                let site = parse_location(line.trim());
                let rec = &mut self.out.records[ci];
                rec.raw.push(line.to_string());
                match rec.sites.last_mut() {
                    Some(last) if site.file_line.is_none() && last.object.is_none() => last.merge(site),
                    _ => rec.sites.push(site),
                }
                return;
            }
        }
        let (prog, rest) = strip_program(line);
        let (level, rest) = strip_level(rest);
        let rest = rest.trim_end();
        let lvl = level.unwrap_or(Level::Error);

        // Summaries of the compiler driver: keep as raw text of the last record.
        if prog.is_some_and(|p| p.ends_with("collect2") || p.ends_with("collect2.exe"))
            && rest.contains(" returned ")
            && rest.contains("exit status")
            || rest.starts_with("linker command failed with exit code")
            || rest == "compilation terminated."
            || rest.starts_with("use the --help option")
            || rest.starts_with("Try `") && rest.contains("--help")
        {
            self.append_raw(line);
            return;
        }
        // bfd's consequences of an earlier error.
        if self.current.is_some() && (rest.starts_with("failed to set dynamic section sizes") || rest.starts_with("final link failed")) {
            self.append_raw(line);
            return;
        }
        if rest.starts_with("too many errors emitted") {
            self.out.truncated = true;
            match self.current {
                Some(i) => {
                    let r = &mut self.out.records[i];
                    r.raw.push(line.to_string());
                    r.notes
                        .push("the linker stopped after too many errors (pass `-C link-arg=-Wl,--error-limit=0` to see all)".to_string());
                }
                None => self.append_raw(line),
            }
            return;
        }

        // bfd: `OBJ: in function `F':`
        for pat in [": in function ", ": In function "] {
            if let Some(i) = rest.find(pat) {
                let after = &rest[i + pat.len()..];
                if let Some((f, end)) = quoted(after, None) {
                    if after[end..].trim() == ":" {
                        let mut site = parse_location(&rest[..i]);
                        site.function = Some(f);
                        self.header = Some(site);
                        self.pending_raw.push(line.to_string());
                        self.current = None;
                        return;
                    }
                }
            }
        }

        // bfd: `LOC: more undefined references to `S' follow`
        if let Some(i) = rest.find("more undefined references to ") {
            let after = &rest[i + "more undefined references to ".len()..];
            let sym = quoted(after.strip_suffix(" follow").unwrap_or(after), None).map(|q| q.0);
            let site = self.site_with_header(clean_prefix(&rest[..i]).0);
            let mut rec = Record::new(RecKind::Undefined, lvl, sym, &rest[i..], line);
            rec.more_follow = true;
            if !site.is_empty() {
                rec.sites.push(site);
            }
            self.push(rec);
            return;
        }
        // bfd/gold: `LOC: [error: ]undefined reference to `S'`
        if let Some(i) = rest.find("undefined reference to ") {
            let after = &rest[i + "undefined reference to ".len()..];
            let sym = quoted(after, None).map(|q| q.0).or_else(|| after.split_whitespace().next().map(str::to_string));
            let (prefix, plevel) = clean_prefix(&rest[..i]);
            let site = self.site_with_header(prefix);
            let mut rec = Record::new(RecKind::Undefined, plevel.unwrap_or(lvl), sym, &rest[i..], line);
            if !site.is_empty() {
                rec.sites.push(site);
            }
            self.push(rec);
            return;
        }
        // wild: `Undefined symbol S, referenced by `
        if let Some(body) = rest.strip_prefix("Undefined symbol ") {
            let sym = body.trim_end().strip_suffix(", referenced by").unwrap_or(body).trim().to_string();
            let rec = Record::new(RecKind::Undefined, lvl, Some(sym), rest, line);
            self.push(rec);
            self.wild_refs = true;
            self.header = None;
            return;
        }
        // lld/mold: `undefined symbol: S`, `undefined hidden symbol: S`
        // (wasm-ld puts the object first: `OBJ: undefined symbol: S`.)
        for pat in ["undefined symbol: ", "undefined hidden symbol: ", "undefined protected symbol: ", "undefined internal symbol: "] {
            if let Some(i) = rest.find(pat) {
                let sym = rest[i + pat.len()..].trim().to_string();
                let (prefix, plevel) = clean_prefix(&rest[..i]);
                let mut rec = Record::new(RecKind::Undefined, plevel.unwrap_or(lvl), Some(sym), &rest[i..], line);
                if !prefix.is_empty() {
                    rec.sites.push(parse_location(prefix));
                }
                self.push(rec);
                self.header = None;
                return;
            }
        }
        if let Some(i) = rest.find("undefined reference due to ") {
            let sym = rest[i..].rsplit_once(": ").map(|(_, s)| s.trim().to_string());
            let rec = Record::new(RecKind::Undefined, lvl, sym, &rest[i..], line);
            self.push(rec);
            return;
        }
        // lld: `duplicate symbol: S`; mold: `duplicate symbol: OBJ: OBJ: S`
        if let Some(body) = rest.strip_prefix("duplicate symbol: ") {
            let parts: Vec<&str> = split_objects(body);
            let (sym, objs) = parts.split_last().map(|(s, o)| (s.to_string(), o.to_vec())).unwrap_or_default();
            let mut rec = Record::new(RecKind::Duplicate, lvl, Some(sym), rest, line);
            for o in objs {
                rec.sites.push(parse_location(o));
            }
            self.push(rec);
            self.header = None;
            return;
        }
        // bfd/gold: `LOC: multiple definition of `S'[; LOC: first defined here]`
        if let Some(i) = rest.find("multiple definition of ") {
            let after = &rest[i + "multiple definition of ".len()..];
            let (sym, end) = quoted(after, Some("; ")).map(|(q, e)| (Some(q), e)).unwrap_or((None, after.len()));
            let (prefix, plevel) = clean_prefix(&rest[..i]);
            let mut rec =
                Record::new(RecKind::Duplicate, plevel.unwrap_or(lvl), sym, &rest[..i + "multiple definition of ".len() + end], line);
            let site = self.site_with_header(prefix);
            if !site.is_empty() {
                rec.sites.push(site);
            }
            let tail = after[end..].trim_start_matches(';').trim();
            if let Some(loc) = tail.strip_suffix("first defined here") {
                rec.sites.push(parse_location(clean_prefix(loc).0));
            }
            self.push(rec);
            return;
        }
        for pat in ["first defined here", "previous definition here"] {
            if let Some(loc) = rest.strip_suffix(pat) {
                if let Some(ci) = self.current.filter(|&i| self.out.records[i].kind == RecKind::Duplicate) {
                    let site = parse_location(clean_prefix(loc).0);
                    let r = &mut self.out.records[ci];
                    r.sites.push(site);
                    r.raw.push(line.to_string());
                    return;
                }
            }
        }
        // Libraries.
        for pat in ["unable to find library -l", "cannot find -l", "library not found for -l"] {
            if let Some(i) = rest.find(pat) {
                let name = rest[i + pat.len()..].split([':', ' ']).next().unwrap_or("").to_string();
                let rec = Record::new(RecKind::LibraryNotFound, lvl, Some(name), rest, line);
                self.push(rec);
                self.header = None;
                return;
            }
        }
        for pat in ["library not found: ", "unable to find library from dependent library specifier: "] {
            if let Some(i) = rest.find(pat) {
                let name = rest[i + pat.len()..].trim().to_string();
                let rec = Record::new(RecKind::LibraryNotFound, lvl, Some(name), rest, line);
                self.push(rec);
                self.header = None;
                return;
            }
        }
        // Inputs that cannot be opened.
        for pat in ["cannot open ", "cannot find ", "unable to open "] {
            if let Some(after) = rest.strip_prefix(pat) {
                if after.starts_with("output file") {
                    break;
                }
                let name = after.split(": ").next().unwrap_or(after).trim().to_string();
                if prog.is_some_and(|p| p.ends_with("collect2")) {
                    // `collect2: fatal error: cannot find 'ld'`
                    let name = quoted(&name, None).map(|q| q.0).unwrap_or(name);
                    let rec = Record::new(RecKind::LinkerNotFound, lvl, Some(name), rest, line);
                    self.push(rec);
                    return;
                }
                let rec = Record::new(RecKind::InputNotFound, lvl, Some(name), rest, line);
                self.push(rec);
                self.header = None;
                return;
            }
        }
        if let Some(i) = rest.find("invalid linker name in argument ") {
            let arg = parse_option(&rest[i + "invalid linker name in argument ".len()..]);
            let name = arg.strip_prefix("-fuse-ld=").map(str::to_string).unwrap_or(arg);
            let rec = Record::new(RecKind::LinkerNotFound, lvl, Some(name), rest, line);
            self.push(rec);
            return;
        }
        // Options.
        for pat in UNKNOWN_OPTION_PHRASES {
            if let Some(i) = rest.find(pat) {
                let arg = parse_option(&rest[i + pat.len()..]);
                let rec = Record::new(RecKind::UnknownArgument, lvl, Some(arg), rest, line);
                self.push(rec);
                self.header = None;
                return;
            }
        }
        if let Some(arg) = rest.strip_suffix(": unknown option") {
            let rec = Record::new(RecKind::UnknownArgument, lvl, Some(arg.trim().to_string()), rest, line);
            self.push(rec);
            self.header = None;
            return;
        }
        // Relocations.
        if is_relocation(rest) {
            let start = rest.find("relocation").or_else(|| rest.find("requires ")).unwrap_or(0);
            let (prefix, plevel) = clean_prefix(&rest[..start]);
            let site = self.site_with_header(prefix);
            let text = &rest[start..];
            let mut rec = Record::new(RecKind::Relocation, plevel.unwrap_or(lvl), relocation_symbol(text), text, line);
            if !site.is_empty() {
                rec.sites.push(site);
            }
            self.push(rec);
            return;
        }
        // Crashes.
        if rest.contains("terminated with signal")
            || rest.starts_with("PLEASE submit a bug report")
            || rest.starts_with("Stack dump")
            || rest.starts_with("LLVM ERROR")
            || rest.contains("linker command failed due to signal")
            || rest.starts_with("unable to execute command")
        {
            if let Some(ci) = self.current.filter(|&i| self.out.records[i].kind == RecKind::Crashed) {
                self.out.records[ci].raw.push(line.to_string());
                return;
            }
            let rec = Record::new(RecKind::Crashed, Level::Error, None, rest, line);
            self.push(rec);
            return;
        }
        // Anything else with a severity is its own error; other lines continue
        // the current record.
        let gold_level = if level.is_none() {
            rest.find(": error: ").map(|_| Level::Error).or_else(|| rest.find(": warning: ").map(|_| Level::Warning))
        } else {
            None
        };
        if level.is_some() || gold_level.is_some() || self.current.is_none() {
            let rec = Record::new(RecKind::Other, level.or(gold_level).unwrap_or(Level::Error), None, rest, line);
            self.push(rec);
            return;
        }
        self.append_raw(line);
    }
}

/// mold's `duplicate symbol: OBJ1: OBJ2: SYM`: splits at `: ` outside parentheses.
fn split_objects(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b' ') => {
                let piece = &s[start..i];
                // Only split after something that looks like an object file.
                if piece.ends_with(".o")
                    || piece.ends_with(')')
                    || piece.ends_with(".a")
                    || piece.ends_with(".so")
                    || piece.ends_with(".obj")
                {
                    out.push(piece);
                    start = i + 2;
                    i += 2;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

/// Parses the linker's output.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut p = Parser { out: Parsed::default(), current: None, header: None, pending_raw: Vec::new(), wild_refs: false };
    for line in split_mold_lines(text) {
        p.line(&line);
    }
    // Header lines with nothing after them are still output.
    if !p.pending_raw.is_empty() {
        let raw = std::mem::take(&mut p.pending_raw);
        match p.out.records.last_mut() {
            Some(r) => r.raw.extend(raw),
            None => {
                let mut rec = Record::new(RecKind::Other, Level::Error, None, raw.join("\n").as_str(), "");
                rec.raw = raw;
                p.out.records.push(rec);
            }
        }
    }
    merge_undefined(&mut p.out.records);
    p.out
}

/// bfd and gold print one line per reference: merge the records of one
/// undefined symbol into one (in order of first appearance).
fn merge_undefined(records: &mut Vec<Record>) {
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    for r in records.drain(..) {
        if r.kind == RecKind::Undefined && r.subject.is_some() {
            if let Some(prev) = out.iter_mut().find(|p| p.kind == RecKind::Undefined && p.subject == r.subject && p.level == r.level) {
                prev.sites.extend(r.sites);
                prev.more += r.more;
                prev.more_follow |= r.more_follow;
                prev.raw.extend(r.raw);
                prev.notes.extend(r.notes);
                continue;
            }
        }
        out.push(r);
    }
    *records = out;
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
