//! A small, forgiving scanner for Rust source files.
//!
//! It is not a parser: it skips comments, strings and char literals, tracks
//! braces, and records the items the linker mapping needs — functions (with
//! their bodies), `extern` blocks and the functions and statics declared in
//! them, `#[no_mangle]`/`#[export_name]` definitions, `impl` and `mod`
//! blocks — plus every identifier with its position. Malformed input never
//! panics; it just yields fewer items.

use std::path::{Component, Path, PathBuf};

use crate::model::Location;

/// What an [`Item`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// `fn name(…) { … }` (free function, method, nested function).
    Fn,
    /// `fn name(…);` inside an `extern` block.
    ForeignFn,
    /// `static NAME: T;` inside an `extern` block.
    ForeignStatic,
    /// `static NAME: T = …;` outside an `extern` block.
    Static,
    /// `extern "C" { … }`.
    ExternBlock,
    /// `impl … { … }`; `header` holds the text between `impl` and `{`.
    Impl,
    /// `trait Name { … }`.
    Trait,
    /// `mod name { … }`.
    Mod,
    /// Any other brace block (struct bodies, match arms, expression blocks…).
    Other,
}

/// An attribute such as `#[no_mangle]`, with its text (`no_mangle`) and span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    /// The text between `#[` (or `#![`) and the matching `]`.
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub inner: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub kind: ItemKind,
    pub name: Option<String>,
    /// Byte span of the name.
    pub name_span: Option<(usize, usize)>,
    /// The header text, tokens joined by single spaces (`impl < T > Foo for Bar`).
    pub header: String,
    pub attrs: Vec<Attr>,
    /// Byte span of the body, braces included.
    pub body: Option<(usize, usize)>,
    /// Index of the enclosing item (block) in [`SourceFile::items`].
    pub parent: Option<usize>,
}

impl Item {
    /// The value of `#[name = "value"]` (also inside `unsafe(…)`), if present.
    pub fn attr_value(&self, name: &str) -> Option<String> {
        self.attrs.iter().find_map(|a| attr_key_value(&a.text, name))
    }

    /// Whether the item carries `#[name]` or `#[unsafe(name)]`.
    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs.iter().any(|a| {
            let t = unwrap_unsafe(a.text.trim());
            t == name
        })
    }

    /// The symbol name this definition exports, if it is `#[no_mangle]` or
    /// `#[export_name = "…"]`.
    pub fn exported_symbol(&self) -> Option<String> {
        if let Some(n) = self.attr_value("export_name") {
            return Some(n);
        }
        if self.has_attr("no_mangle") {
            return self.name.clone();
        }
        None
    }

    /// The symbol name a foreign item links against (`#[link_name]` or its name).
    pub fn link_symbol(&self) -> Option<String> {
        self.attr_value("link_name").or_else(|| self.name.clone())
    }
}

fn unwrap_unsafe(t: &str) -> &str {
    let t = t.trim();
    if let Some(rest) = t.strip_prefix("unsafe") {
        let rest = rest.trim_start();
        if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            return inner.trim();
        }
    }
    t
}

/// `name = "value"` → `value` (tolerates `unsafe(…)` and whitespace).
fn attr_key_value(text: &str, name: &str) -> Option<String> {
    let t = unwrap_unsafe(text);
    let rest = t.strip_prefix(name)?.trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

/// The `name = "…"` argument of `#[link(…)]`, if this attribute is one.
pub(crate) fn link_attr_name(attr: &Attr) -> Option<(String, usize, usize)> {
    let t = attr.text.trim_start();
    let args = t.strip_prefix("link")?.trim_start();
    if !args.starts_with('(') {
        return None;
    }
    // Find `name` followed by `=` and a string.
    let bytes = args.as_bytes();
    let mut i = 0;
    while let Some(pos) = args[i..].find("name") {
        let at = i + pos;
        let before_ok = at == 0 || !is_ident_byte(bytes[at - 1]);
        let after = &args[at + 4..];
        let after_trim = after.trim_start();
        if before_ok && after_trim.starts_with('=') {
            let v = after_trim[1..].trim_start();
            if let Some(v) = v.strip_prefix('"') {
                if let Some(end) = v.find('"') {
                    // Offset of the value inside the attribute text.
                    let value_off_in_args = args.len() - v.len();
                    let args_off_in_text = attr.text.len() - args.len();
                    let start = attr.start + 2 + usize::from(attr.inner) + args_off_in_text + value_off_in_args;
                    return Some((v[..end].to_string(), start, start + end));
                }
            }
        }
        i = at + 4;
    }
    None
}

/// An identifier occurrence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ident {
    pub start: usize,
    pub end: usize,
    /// The next non-whitespace byte after the identifier.
    pub next: Option<u8>,
}

/// A scanned source file.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
    pub items: Vec<Item>,
    pub idents: Vec<Ident>,
    /// Inner attributes at file level (`#![no_main]`).
    pub inner_attrs: Vec<Attr>,
}

impl SourceFile {
    pub fn read(path: &Path) -> Option<SourceFile> {
        let text = std::fs::read_to_string(path).ok()?;
        Some(SourceFile::parse(path.to_path_buf(), text))
    }

    pub fn parse(path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        let mut f = SourceFile { path, text, line_starts, items: Vec::new(), idents: Vec::new(), inner_attrs: Vec::new() };
        Scanner::run(&mut f);
        f
    }

    pub fn ident_text(&self, id: &Ident) -> &str {
        &self.text[id.start..id.end]
    }

    /// 1-based line and 1-based character column of a byte offset.
    pub fn line_col(&self, byte: usize) -> (u32, u32) {
        let byte = byte.min(self.text.len());
        let line_idx = match self.line_starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let ls = self.line_starts[line_idx];
        let col = self.text.get(ls..byte).map(|s| s.chars().count()).unwrap_or(0);
        (line_idx as u32 + 1, col as u32 + 1)
    }

    /// Byte offset of a 1-based line and character column (clamped).
    pub fn offset_of(&self, line: u32, col: u32) -> Option<usize> {
        let ls = *self.line_starts.get(line.checked_sub(1)? as usize)?;
        let line_text = self.line_text_at(ls);
        let mut off = ls;
        for (n, ch) in line_text.chars().enumerate() {
            if n + 1 >= col as usize {
                return Some(off);
            }
            off += ch.len_utf8();
        }
        Some(off)
    }

    fn line_text_at(&self, ls: usize) -> &str {
        let rest = &self.text[ls..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].strip_suffix('\r').unwrap_or(&rest[..end])
    }

    /// The text of a 1-based line, without its line terminator.
    pub fn line(&self, line: u32) -> Option<&str> {
        if line == 0 || line > self.line_count() {
            return None;
        }
        Some(self.line_text_at(self.line_starts[line as usize - 1]))
    }

    pub fn line_count(&self) -> u32 {
        let n = self.line_starts.len() as u32;
        if self.text.ends_with('\n') {
            n - 1
        } else {
            n
        }
    }

    /// A location for a byte span.
    pub fn location(&self, start: usize, end: usize) -> Location {
        let (l1, c1) = self.line_col(start);
        let (l2, c2) = self.line_col(end);
        Location { file: self.path.clone(), line_start: l1, col_start: c1, line_end: l2, col_end: c2, label: None }
    }

    /// A location for a whole line, from its first to its last non-blank
    /// character, or `None` if the line does not exist.
    pub fn line_location(&self, line: u32) -> Option<Location> {
        let text = self.line(line)?;
        let lead = text.chars().take_while(|c| c.is_whitespace()).count() as u32;
        let trimmed_len = text.trim_end().chars().count() as u32;
        let (start, end) = if trimmed_len <= lead { (1, 1) } else { (lead + 1, trimmed_len + 1) };
        Some(Location::on_line(self.path.clone(), line, start, end))
    }

    /// The identifiers on a given line.
    pub fn idents_on_line(&self, line: u32) -> impl Iterator<Item = &Ident> {
        let ls = self.line_starts.get(line.wrapping_sub(1) as usize).copied().unwrap_or(usize::MAX);
        let le = self.line_starts.get(line as usize).copied().unwrap_or(self.text.len() + 1);
        self.idents.iter().filter(move |i| i.start >= ls && i.start < le)
    }

    /// Identifiers inside a byte range.
    pub fn idents_in(&self, range: (usize, usize)) -> impl Iterator<Item = &Ident> {
        self.idents.iter().filter(move |i| i.start >= range.0 && i.end <= range.1)
    }

    /// The chain of enclosing items of `idx`, innermost first.
    pub fn ancestors(&self, idx: usize) -> impl Iterator<Item = &Item> {
        std::iter::successors(self.items[idx].parent, move |&p| self.items[p].parent).map(move |p| &self.items[p])
    }
}

/// Lexically normalizes `a/./b/../c` → `a/c`.
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Ident(usize, usize),
    Str,
    Punct(u8),
    Other,
}

#[derive(Default, Clone)]
struct Header {
    toks: Vec<Tok>,
    start: Option<usize>,
    depth: i32,
    attrs: Vec<Attr>,
}

struct Frame {
    item: usize,
    saved: Option<Header>,
}

struct Scanner<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    header: Header,
    stack: Vec<Frame>,
    items: Vec<Item>,
    idents: Vec<Ident>,
    inner_attrs: Vec<Attr>,
}

impl<'a> Scanner<'a> {
    fn run(f: &mut SourceFile) {
        let mut s = Scanner {
            src: f.text.as_bytes(),
            text: &f.text,
            pos: 0,
            header: Header::default(),
            stack: Vec::new(),
            items: Vec::new(),
            idents: Vec::new(),
            inner_attrs: Vec::new(),
        };
        s.scan();
        let (items, idents, inner) = (s.items, s.idents, s.inner_attrs);
        f.items = items;
        f.idents = idents;
        f.inner_attrs = inner;
    }

    fn peek(&self, off: usize) -> Option<u8> {
        self.src.get(self.pos + off).copied()
    }

    fn push_tok(&mut self, tok: Tok, start: usize) {
        if self.header.start.is_none() {
            self.header.start = Some(start);
        }
        self.header.toks.push(tok);
    }

    fn scan(&mut self) {
        while self.pos < self.src.len() {
            let b = self.src[self.pos];
            match b {
                b if b.is_ascii_whitespace() => self.pos += 1,
                b'/' if self.peek(1) == Some(b'/') => self.skip_line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment(),
                b'#' if self.peek(1) == Some(b'[') || (self.peek(1) == Some(b'!') && self.peek(2) == Some(b'[')) => self.attribute(),
                b'"' => {
                    let start = self.pos;
                    self.skip_string(self.pos + 1);
                    self.push_tok(Tok::Str, start);
                }
                b'\'' => self.quote(),
                b if b.is_ascii_digit() => {
                    let start = self.pos;
                    while self.pos < self.src.len()
                        && (is_ident_byte(self.src[self.pos])
                            || (self.src[self.pos] == b'.' && self.src.get(self.pos + 1).is_some_and(|c| c.is_ascii_digit())))
                    {
                        self.pos += 1;
                    }
                    self.push_tok(Tok::Other, start);
                }
                b if is_ident_start(b) => self.ident(),
                b'{' => self.open(),
                b'}' => self.close(),
                b';' => {
                    if self.header.depth <= 0 {
                        self.semi();
                    } else {
                        self.push_tok(Tok::Punct(b';'), self.pos);
                    }
                    self.pos += 1;
                }
                b'(' | b'[' => {
                    self.header.depth += 1;
                    self.push_tok(Tok::Punct(b), self.pos);
                    self.pos += 1;
                }
                b')' | b']' => {
                    self.header.depth -= 1;
                    self.push_tok(Tok::Punct(b), self.pos);
                    self.pos += 1;
                }
                _ => {
                    self.push_tok(Tok::Punct(b), self.pos);
                    self.pos += 1;
                }
            }
        }
        // Close anything left open at EOF.
        while let Some(fr) = self.stack.pop() {
            let it = &mut self.items[fr.item];
            if let Some(body) = &mut it.body {
                body.1 = self.src.len();
            }
        }
    }

    fn skip_line_comment(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) {
        let mut depth = 0;
        while self.pos < self.src.len() {
            if self.src[self.pos] == b'/' && self.peek(1) == Some(b'*') {
                depth += 1;
                self.pos += 2;
            } else if self.src[self.pos] == b'*' && self.peek(1) == Some(b'/') {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
    }

    /// Skips a normal string whose contents start at `from`; leaves `pos`
    /// after the closing quote.
    fn skip_string(&mut self, from: usize) {
        let mut i = from;
        while i < self.src.len() {
            match self.src[i] {
                b'\\' => i += 2,
                b'"' => {
                    self.pos = i + 1;
                    return;
                }
                _ => i += 1,
            }
        }
        self.pos = self.src.len();
    }

    /// Skips a raw string: `pos` at the first `#` or `"` after the `r`.
    fn skip_raw_string(&mut self) {
        let mut hashes = 0;
        while self.peek(0) == Some(b'#') {
            hashes += 1;
            self.pos += 1;
        }
        if self.peek(0) != Some(b'"') {
            return;
        }
        self.pos += 1;
        while self.pos < self.src.len() {
            if self.src[self.pos] == b'"' {
                let mut n = 0;
                while n < hashes && self.src.get(self.pos + 1 + n) == Some(&b'#') {
                    n += 1;
                }
                if n == hashes {
                    self.pos += 1 + hashes;
                    return;
                }
            }
            self.pos += 1;
        }
    }

    fn quote(&mut self) {
        let start = self.pos;
        // Char literal: '\…' or 'X' (X any char); otherwise a lifetime/label.
        if self.peek(1) == Some(b'\\') {
            let mut i = self.pos + 2;
            // skip escape body up to the closing quote (bounded)
            while i < self.src.len() && i < self.pos + 16 && self.src[i] != b'\'' {
                i += 1;
            }
            self.pos = (i + 1).min(self.src.len());
            self.push_tok(Tok::Other, start);
            return;
        }
        if let Some(ch) = self.text.get(self.pos + 1..).and_then(|r| r.chars().next()) {
            let after = self.pos + 1 + ch.len_utf8();
            if self.src.get(after) == Some(&b'\'') {
                self.pos = after + 1;
                self.push_tok(Tok::Other, start);
                return;
            }
        }
        // lifetime
        self.pos += 1;
        while self.pos < self.src.len() && is_ident_byte(self.src[self.pos]) {
            self.pos += 1;
        }
        self.push_tok(Tok::Other, start);
    }

    fn ident(&mut self) {
        let start = self.pos;
        while self.pos < self.src.len() && is_ident_byte(self.src[self.pos]) {
            self.pos += 1;
        }
        // Walk back to a char boundary if we stopped inside a multibyte char (cannot happen
        // since all bytes >= 0x80 are consumed, but be defensive).
        while !self.text.is_char_boundary(self.pos) {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        let next = self.peek(0);
        // String prefixes: r"", r#""#, b"", br"", c"", cr"", b'x'.
        if matches!(word, "r" | "br" | "cr") && matches!(next, Some(b'"') | Some(b'#')) {
            if next == Some(b'#') && self.peek(1).is_some_and(is_ident_start) && word == "r" {
                // raw identifier r#name
                self.pos += 1;
                let s2 = self.pos;
                while self.pos < self.src.len() && is_ident_byte(self.src[self.pos]) {
                    self.pos += 1;
                }
                self.record_ident(s2, self.pos);
                return;
            }
            self.skip_raw_string();
            self.push_tok(Tok::Str, start);
            return;
        }
        if matches!(word, "b" | "c") && next == Some(b'"') {
            self.skip_string(self.pos + 1);
            self.push_tok(Tok::Str, start);
            return;
        }
        if word == "b" && next == Some(b'\'') {
            self.quote();
            return;
        }
        self.record_ident(start, self.pos);
    }

    fn record_ident(&mut self, start: usize, end: usize) {
        let mut j = end;
        while j < self.src.len() && self.src[j].is_ascii_whitespace() {
            j += 1;
        }
        self.idents.push(Ident { start, end, next: self.src.get(j).copied() });
        self.push_tok(Tok::Ident(start, end), start);
    }

    fn attribute(&mut self) {
        let start = self.pos;
        let inner = self.peek(1) == Some(b'!');
        self.pos += if inner { 3 } else { 2 };
        let content_start = self.pos;
        let mut depth = 1;
        while self.pos < self.src.len() {
            match self.src[self.pos] {
                b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b']' => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'"' => self.skip_string(self.pos + 1),
                _ => self.pos += 1,
            }
        }
        // Without the closing `]` (EOF), the text runs to the end.
        let content_end = if depth == 0 { self.pos - 1 } else { self.pos };
        let text = self.text.get(content_start..content_end).unwrap_or("").to_string();
        let attr = Attr { text, start, end: self.pos, inner };
        if inner {
            if self.stack.is_empty() {
                self.inner_attrs.push(attr);
            }
        } else {
            self.header.attrs.push(attr);
        }
    }

    fn word(&self, t: Tok) -> Option<&'a str> {
        match t {
            Tok::Ident(s, e) => Some(&self.text[s..e]),
            _ => None,
        }
    }

    fn in_extern_block(&self) -> bool {
        self.stack.last().is_some_and(|f| self.items[f.item].kind == ItemKind::ExternBlock)
    }

    /// Name after keyword `kw` in the header: `(name, start, end)`.
    fn name_after(&self, kw: &str) -> Option<(String, usize, usize)> {
        let toks = &self.header.toks;
        for (i, t) in toks.iter().enumerate() {
            if self.word(*t) == Some(kw) {
                if let Some(Tok::Ident(s, e)) = toks.get(i + 1) {
                    let mut name = &self.text[*s..*e];
                    if name == "mut" {
                        if let Some(Tok::Ident(s2, e2)) = toks.get(i + 2) {
                            name = &self.text[*s2..*e2];
                            return Some((name.to_string(), *s2, *e2));
                        }
                    }
                    return Some((name.to_string(), *s, *e));
                }
            }
        }
        None
    }

    fn header_text(&self) -> String {
        let mut out = String::new();
        for t in &self.header.toks {
            let piece: String = match *t {
                Tok::Ident(s, e) => self.text[s..e].to_string(),
                Tok::Punct(b) => (b as char).to_string(),
                Tok::Str => "\"\"".to_string(),
                Tok::Other => "_".to_string(),
            };
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&piece);
        }
        out
    }

    fn has_word(&self, w: &str) -> bool {
        self.header.toks.iter().any(|t| self.word(*t) == Some(w))
    }

    fn new_item(&mut self, kind: ItemKind, name: Option<(String, usize, usize)>) -> usize {
        let parent = self.stack.last().map(|f| f.item);
        let (name, name_span) = match name {
            Some((n, s, e)) => (Some(n), Some((s, e))),
            None => (None, None),
        };
        self.items.push(Item {
            kind,
            name,
            name_span,
            header: self.header_text(),
            attrs: std::mem::take(&mut self.header.attrs),
            body: None,
            parent,
        });
        self.items.len() - 1
    }

    fn open(&mut self) {
        let (kind, name) = if let Some(n) = self.name_after("fn") {
            (ItemKind::Fn, Some(n))
        } else if self.has_word("extern") && !self.has_word("crate") {
            (ItemKind::ExternBlock, None)
        } else if self.has_word("impl") {
            (ItemKind::Impl, None)
        } else if let Some(n) = self.name_after("trait") {
            (ItemKind::Trait, Some(n))
        } else if let Some(n) = self.name_after("mod") {
            (ItemKind::Mod, Some(n))
        } else {
            (ItemKind::Other, None)
        };
        // An expression block inside parentheses (closure argument, etc.):
        // keep the surrounding header to restore after the block.
        let saved = if self.header.depth > 0 { Some(self.header.clone()) } else { None };
        let idx = self.new_item(kind, name);
        self.items[idx].body = Some((self.pos, self.pos + 1));
        self.stack.push(Frame { item: idx, saved });
        self.header = Header::default();
        self.pos += 1;
    }

    fn close(&mut self) {
        if let Some(fr) = self.stack.pop() {
            if let Some(body) = &mut self.items[fr.item].body {
                body.1 = self.pos + 1;
            }
            self.header = match fr.saved {
                Some(mut h) => {
                    h.toks.push(Tok::Other);
                    h
                }
                None => Header::default(),
            };
        } else {
            self.header = Header::default();
        }
        self.pos += 1;
    }

    fn semi(&mut self) {
        if !self.header.toks.is_empty() {
            if self.in_extern_block() {
                if let Some(n) = self.name_after("fn") {
                    self.new_item(ItemKind::ForeignFn, Some(n));
                } else if let Some(n) = self.name_after("static") {
                    self.new_item(ItemKind::ForeignStatic, Some(n));
                }
            } else if let Some(n) = self.name_after("static") {
                self.new_item(ItemKind::Static, Some(n));
            }
        }
        self.header = Header::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SourceFile {
        SourceFile::parse(PathBuf::from("/x.rs"), s.to_string())
    }

    #[test]
    fn finds_items() {
        let f = parse(
            r##"
// fn commented() {}
#[link(name = "foo", kind = "static")]
unsafe extern "C" {
    #[link_name = "real_name"]
    fn alias(x: [u8; 4]) -> i32;
    static ERRNO: i32;
}
#[unsafe(no_mangle)]
pub extern "C" fn exported() -> i32 { let s = "fn fake() {"; let c = '{'; 'a: loop { break 'a; } 1 }
#[export_name = "other"]
pub static FOO: i32 = 3;
impl<T> Tr for S<T> {
    fn method(&self) { alias([0; 4]); }
}
mod inner { fn deep() { let r = r#"}"#; } }
"##,
        );
        let kinds: Vec<_> = f.items.iter().map(|i| (i.kind, i.name.clone())).collect();
        assert!(kinds.contains(&(ItemKind::ForeignFn, Some("alias".into()))), "{kinds:?}");
        assert!(kinds.contains(&(ItemKind::ForeignStatic, Some("ERRNO".into()))), "{kinds:?}");
        assert!(kinds.contains(&(ItemKind::Fn, Some("exported".into()))), "{kinds:?}");
        assert!(kinds.contains(&(ItemKind::Static, Some("FOO".into()))), "{kinds:?}");
        assert!(kinds.contains(&(ItemKind::Fn, Some("method".into()))), "{kinds:?}");
        assert!(kinds.contains(&(ItemKind::Fn, Some("deep".into()))), "{kinds:?}");
        assert!(!kinds.iter().any(|k| k.1.as_deref() == Some("fake") || k.1.as_deref() == Some("commented")));
        let alias = f.items.iter().find(|i| i.name.as_deref() == Some("alias")).unwrap();
        assert_eq!(alias.link_symbol().as_deref(), Some("real_name"));
        let exported = f.items.iter().find(|i| i.name.as_deref() == Some("exported")).unwrap();
        assert_eq!(exported.exported_symbol().as_deref(), Some("exported"));
        let foo = f.items.iter().find(|i| i.name.as_deref() == Some("FOO")).unwrap();
        assert_eq!(foo.exported_symbol().as_deref(), Some("other"));
        let block = f.items.iter().find(|i| i.kind == ItemKind::ExternBlock).unwrap();
        let (name, s, e) = link_attr_name(&block.attrs[0]).unwrap();
        assert_eq!(name, "foo");
        assert_eq!(&f.text[s..e], "foo");
        let method = f.items.iter().position(|i| i.name.as_deref() == Some("method")).unwrap();
        let imp = f.ancestors(method).next().unwrap();
        assert_eq!(imp.kind, ItemKind::Impl);
        assert!(imp.header.contains("Tr for S"), "{}", imp.header);
        let deep = f.items.iter().position(|i| i.name.as_deref() == Some("deep")).unwrap();
        assert_eq!(f.ancestors(deep).next().unwrap().name.as_deref(), Some("inner"));
    }

    /// Scans every `.rs` file under `$SPLITLINK_SCAN_DIR` (e.g. the cargo
    /// registry sources) to check the scanner never panics.

    #[test]
    fn unterminated_input_does_not_panic() {
        for s in ["#[attr é", "fn f() { \"é", "'", "r#\"", "/* é", "b'", "fn é(", "#![x"] {
            let _ = parse(s);
        }
    }

    #[test]
    fn line_col_counts_chars() {
        let f = parse("é = 1;\n  ab");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(2), (1, 2));
        assert_eq!(f.line_col(f.text.find("ab").unwrap()), (2, 3));
        assert_eq!(f.offset_of(2, 3), f.text.find("ab"));
        assert_eq!(f.line(2), Some("  ab"));
        assert_eq!(f.line_count(), 2);
        assert_eq!(f.line_location(2).unwrap().col_start, 3);
    }
}
