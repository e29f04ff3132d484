//! A guard in front of tower-lsp-server's transport. Its framed reader stops for good after the
//! first frame it cannot decode — a body that is not JSON, or JSON that is not a JSON-RPC message
//! — which ends the session; and an `exit` with an id ends it too, unanswered. So nothing
//! malformed reaches it: [`FrameReader`] cuts the client's bytes into frames, resynchronising on
//! the next `Content-Length:` header after junk, and [`check`] holds every body against JSON-RPC
//! 2.0 as LSP uses it. Valid messages are forwarded in order, re-serialised in a canonical form;
//! the rest are answered here and dropped, and the session goes on:
//! - bytes that are not a frame, or a body that is not JSON: parse error (-32700), id `null`, one
//!   per run of junk (the junk up to the next good header);
//! - JSON that is not a valid message — not an object, a batch array, a bad `jsonrpc`, `method`,
//!   `id` or `params`, a response with neither or both of `result` and `error`: Invalid Request
//!   (-32600), with the message's id when it is a valid one (an integer or a string), else `null`.
//!
//! [`merge_output`] interleaves those answers between whole server frames.

use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The largest body accepted: a larger `Content-Length` is an error, not an allocation.
pub const MAX_BODY: usize = 64 << 20;
/// A header block longer than this is junk.
const MAX_HEADER: usize = 8 << 10;
/// The longest `Content-Length: <digits>` line taken as a resynchronisation point.
const MAX_ANCHOR: usize = 64;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

fn error_reply(id: Value, code: i64, message: String) -> Vec<u8> {
    let v = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    frame(v.to_string().as_bytes())
}

fn parse_error(msg: &str) -> Vec<u8> {
    error_reply(Value::Null, -32700, format!("Parse error: {msg}"))
}

/// What [`FrameReader`] cut from the client's bytes.
#[derive(Debug, PartialEq)]
pub enum Piece {
    /// The body of a frame, parsed.
    Json(Value),
    /// Bytes that are not a frame, or a body that is not JSON: why. Reported once per run of
    /// junk: junk that follows it before the next good header block is dropped silently.
    Junk(String),
}

/// Cuts LSP frames (`Content-Length: N\r\n\r\n<body>`) out of a byte stream, whatever arrives.
///
/// Header names are case-insensitive, lines end in `\r\n` or `\n`, headers other than
/// `Content-Length` (`Content-Type`) are ignored, blank lines between frames are skipped. After
/// junk — bytes that are not a header block, a missing, invalid or absurd (> [`MAX_BODY`])
/// `Content-Length`, a body that is not JSON — reading resumes at the next `Content-Length:
/// <digits>` line. Such a line can never be part of a JSON body (a raw line break is not allowed
/// in a JSON string, and the words are not JSON outside one), so when one starts inside a body,
/// that body is junk up to it and the frame it starts is read: a frame whose declared length
/// runs into the next frame does not take that frame with it, and does not wait for bytes that
/// will never come. The result does not depend on how the bytes are split into reads.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    /// The current frame's header block was read: its length, the body length, and how much of
    /// the body has been searched for a `Content-Length` line (all relative to `pos`).
    body: Option<(usize, usize, usize)>,
    /// Junk was reported and no good header block has followed yet.
    in_junk: bool,
}

impl FrameReader {
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next piece, or `None` when more input is needed; with `eof` (no more input will
    /// come), `None` means everything was read.
    pub fn next(&mut self, eof: bool) -> Option<Piece> {
        loop {
            if self.pos == self.buf.len() && self.body.is_none() {
                return None;
            }
            let b = &self.buf[self.pos..];
            if let Some((head, len, scanned)) = self.body {
                let rest = &b[head..];
                let have = rest.len().min(len);
                let (anchor, maybe) = find_anchor(rest, scanned.saturating_sub(MAX_ANCHOR), have);
                if let Some(q) = anchor {
                    self.body = None;
                    self.pos += head + q;
                    let why = format!("a frame's body ends after {q} of its {len} bytes, where the next frame begins");
                    match self.junk(why) {
                        Some(p) => return Some(p),
                        None => continue,
                    }
                }
                if have < len {
                    if eof {
                        self.body = None;
                        self.pos = self.buf.len();
                        return self.junk(format!("the input ends after {have} of a frame's {len} bytes"));
                    }
                    self.body = Some((head, len, have));
                    return None;
                }
                match serde_json::from_slice::<Value>(&rest[..len]) {
                    Ok(v) => {
                        self.body = None;
                        self.pos += head + len;
                        self.in_junk = false;
                        return Some(Piece::Json(v));
                    }
                    // A `Content-Length` line may start in this body, its end not here yet.
                    Err(_) if maybe.is_some() && !eof => {
                        self.body = Some((head, len, have));
                        return None;
                    }
                    Err(e) => {
                        self.body = None;
                        self.pos += head + len;
                        let why = if len == 0 { "empty body".to_string() } else { e.to_string() };
                        match self.junk(why) {
                            Some(p) => return Some(p),
                            None => continue,
                        }
                    }
                }
            }
            let blank = b.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')).count();
            if blank > 0 {
                self.pos += blank;
                continue;
            }
            let why = match header_block(b) {
                Header::Complete { end, len } => {
                    self.in_junk = false;
                    self.body = Some((end, len, 0));
                    continue;
                }
                Header::Partial if !eof => return None,
                Header::Partial => {
                    self.pos = self.buf.len();
                    "the input ends inside a header".to_string()
                }
                Header::Bad(why) => {
                    let (anchor, maybe) = find_anchor(b, 1, b.len());
                    self.pos += match (anchor, maybe) {
                        (Some(q), _) => q,
                        (None, Some(q)) if !eof => q,
                        _ => b.len(),
                    };
                    why
                }
            };
            if let Some(p) = self.junk(why) {
                return Some(p);
            }
        }
    }

    fn junk(&mut self, why: String) -> Option<Piece> {
        if std::mem::replace(&mut self.in_junk, true) {
            None
        } else {
            Some(Piece::Junk(why))
        }
    }
}

enum Header {
    /// A header block of `end` bytes, with a body of `len` bytes.
    Complete {
        end: usize,
        len: usize,
    },
    /// What there is could be the start of a header block.
    Partial,
    Bad(String),
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(40)]).into_owned();
    if b.len() > 40 {
        format!("{s:?}…")
    } else {
        format!("{s:?}")
    }
}

/// Reads a header block at the start of `b` (which starts with neither a blank nor a line end).
fn header_block(b: &[u8]) -> Header {
    let mut len = None;
    let mut i = 0;
    loop {
        let Some(n) = b[i..].iter().position(|&c| c == b'\n') else {
            let rest = &b[i..];
            let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
            let name = rest.split(|&c| c == b':').next().unwrap_or(rest);
            if !name.iter().all(|&c| is_token(c)) || (name.is_empty() && !rest.is_empty()) {
                return Header::Bad(format!("not a header: {}", show(rest)));
            }
            if b.len() > MAX_HEADER {
                return Header::Bad("a header longer than 8 KiB".into());
            }
            return Header::Partial;
        };
        let line = &b[i..i + n];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        i += n + 1;
        if line.is_empty() {
            return match len {
                Some(len) => Header::Complete { end: i, len },
                None => Header::Bad("no Content-Length header".into()),
            };
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return Header::Bad(format!("not a header: {}", show(line)));
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&c| is_token(c)) {
            return Header::Bad(format!("not a header: {}", show(line)));
        }
        // Junk run into the next frame's header: `junkContent-Length: 52`.
        if let (Some(_), _) = find_anchor(&b[i - n - 1..], 1, line.len()) {
            return Header::Bad(format!("junk before a header: {}", show(line)));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            if len.is_some() {
                return Header::Bad("two Content-Length headers".into());
            }
            let v = value.trim_ascii();
            let n = Some(v)
                .filter(|v| !v.is_empty() && v.len() <= 20 && v.iter().all(u8::is_ascii_digit))
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
            match n {
                Some(n) if n <= MAX_BODY as u64 => len = Some(n as usize),
                Some(n) => return Header::Bad(format!("Content-Length {n} is over the 64 MiB limit")),
                None => return Header::Bad(format!("invalid Content-Length {}", show(v))),
            }
        }
        if i > MAX_HEADER {
            return Header::Bad("a header longer than 8 KiB".into());
        }
    }
}

enum Anchor {
    Yes,
    Maybe,
    No,
}

/// Whether a `Content-Length: <digits>` line (any case, `\r\n` or `\n`) starts at `b[0]`;
/// `Maybe` when `b` ends before that is decided.
fn anchor_at(b: &[u8]) -> Anchor {
    const NAME: &[u8] = b"content-length:";
    for (i, &want) in NAME.iter().enumerate() {
        match b.get(i) {
            None => return Anchor::Maybe,
            Some(c) if c.to_ascii_lowercase() == want => {}
            Some(_) => return Anchor::No,
        }
    }
    // 0: before the digits, 1: in them, 2: after them, 3: after `\r`.
    let (mut state, mut digits) = (0, 0);
    for i in NAME.len()..MAX_ANCHOR {
        let Some(&c) = b.get(i) else { return Anchor::Maybe };
        match (state, c) {
            (0, b' ' | b'\t') => {}
            (0 | 1, b'0'..=b'9') if digits < 20 => (state, digits) = (1, digits + 1),
            (1 | 2, b' ' | b'\t') => state = 2,
            (1 | 2, b'\r') => state = 3,
            (1..=3, b'\n') => return Anchor::Yes,
            _ => return Anchor::No,
        }
    }
    Anchor::No
}

/// The first `Content-Length` line starting in `b[from..to]` (it may end after `to`), and the
/// first place in there where one may start but `b` ends too soon to tell.
fn find_anchor(b: &[u8], from: usize, to: usize) -> (Option<usize>, Option<usize>) {
    let mut maybe = None;
    for i in from..to {
        if b[i] != b'c' && b[i] != b'C' {
            continue;
        }
        match anchor_at(&b[i..]) {
            Anchor::Yes => return (Some(i), maybe),
            Anchor::Maybe => {
                maybe.get_or_insert(i);
            }
            Anchor::No => {}
        }
    }
    (None, maybe)
}

/// What to do with a client message.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Forward this, the message in canonical form.
    Forward(Value),
    /// Answer with this error response (a whole frame) and forward nothing.
    Reply(Vec<u8>),
    /// Neither forward nor answer: a `shutdown` notification (tower-lsp-server would mark the
    /// server shut down without calling it, and refuse every later request).
    Ignore,
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(n) if n.is_u64() && n.as_i64().is_none() => "an integer out of range",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Holds a JSON value against JSON-RPC 2.0 as LSP uses it: a request (`jsonrpc: "2.0"`, an `id`
/// that is an integer or a string, a string `method`, `params` an object or an array), a
/// notification (the same without `id`) or a response to a server request (`id`, possibly
/// `null`, and exactly one of `result` and an `error` object with an integer `code` and a
/// string `message`). `params: null` is let through, as tower-lsp-server does (lsp4j sends it).
/// Members JSON-RPC does not define are dropped. Also kept from tower-lsp-server, where they
/// would end or cripple the session: `exit` with an id (Invalid Request), `shutdown` with
/// params (Invalid Params) or without an id (ignored).
pub fn check(msg: Value) -> Verdict {
    let obj = match msg {
        Value::Object(obj) => obj,
        Value::Array(_) => return invalid(Value::Null, "a batch (LSP does not use JSON-RPC batches)"),
        v => return invalid(Value::Null, &format!("a message must be an object, not {}", describe(&v))),
    };
    let id = obj.get("id");
    let good_id = id.filter(|v| v.is_string() || v.as_i64().is_some());
    let reply_id = good_id.cloned().unwrap_or(Value::Null);
    let bad = |what: &str| invalid(reply_id.clone(), what);
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        None => return bad("no \"jsonrpc\": \"2.0\""),
        Some(v) => return bad(&format!("\"jsonrpc\" must be \"2.0\", not {v}")),
    }
    let bad_id = |v: &Value| bad(&format!("\"id\" must be an integer or a string, not {}", describe(v)));
    let mut out = Map::new();
    out.insert("jsonrpc".into(), "2.0".into());
    let (result, error) = (obj.get("result"), obj.get("error"));
    if let Some(method) = obj.get("method") {
        let Value::String(method) = method else {
            return bad(&format!("\"method\" must be a string, not {}", describe(method)));
        };
        if result.is_some() || error.is_some() {
            return bad("a request has no \"result\" or \"error\"");
        }
        match id {
            Some(v) if good_id.is_none() => return bad_id(v),
            _ => {}
        }
        let params = obj.get("params");
        match params {
            None | Some(Value::Null | Value::Object(_) | Value::Array(_)) => {}
            Some(v) => return bad(&format!("\"params\" must be an object or an array, not {}", describe(v))),
        }
        match (method.as_str(), id) {
            ("exit", Some(_)) => return bad("\"exit\" is a notification, it has no \"id\""),
            ("shutdown", None) => return Verdict::Ignore,
            ("shutdown", Some(_)) if !matches!(params, None | Some(Value::Null)) => {
                return Verdict::Reply(error_reply(reply_id, -32602, "Invalid params: \"shutdown\" takes none".into()));
            }
            _ => {}
        }
        if let Some(id) = id {
            out.insert("id".into(), id.clone());
        }
        out.insert("method".into(), method.as_str().into());
        if let Some(params) = params {
            out.insert("params".into(), params.clone());
        }
        return Verdict::Forward(Value::Object(out));
    }
    if result.is_none() && error.is_none() {
        return bad(NEITHER);
    }
    let Some(id) = id else { return bad("a response needs an \"id\"") };
    if !id.is_null() && good_id.is_none() {
        return bad_id(id);
    }
    out.insert("id".into(), id.clone());
    match (result, error) {
        (Some(_), Some(_)) => return bad("a response has a \"result\" or an \"error\", not both"),
        (Some(result), None) => {
            out.insert("result".into(), result.clone());
        }
        (None, Some(error)) => {
            let code = error.get("code").filter(|c| c.as_i64().is_some());
            let message = error.get("message").filter(|m| m.is_string());
            let (Some(code), Some(message)) = (code, message) else {
                return bad("\"error\" must be an object with an integer \"code\" and a string \"message\"");
            };
            let mut e = Map::new();
            e.insert("code".into(), code.clone());
            e.insert("message".into(), message.clone());
            if let Some(data) = error.get("data") {
                e.insert("data".into(), data.clone());
            }
            out.insert("error".into(), Value::Object(e));
        }
        (None, None) => return bad(NEITHER),
    }
    Verdict::Forward(Value::Object(out))
}

const NEITHER: &str = "neither a \"method\" (a request) nor a \"result\" or an \"error\" (a response)";

fn invalid(id: Value, what: &str) -> Verdict {
    Verdict::Reply(error_reply(id, -32600, format!("Invalid Request: {what}")))
}

/// Read frames from `input`, forward valid messages to `to_server`, answer the rest on
/// `errors`. Ends at end of input.
pub async fn filter_input<I, W>(mut input: I, mut to_server: W, errors: mpsc::UnboundedSender<Vec<u8>>)
where
    I: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = FrameReader::default();
    let mut chunk = vec![0; 64 << 10];
    let mut eof = false;
    loop {
        while let Some(piece) = reader.next(eof) {
            let verdict = match piece {
                Piece::Junk(why) => Verdict::Reply(parse_error(&why)),
                Piece::Json(v) => check(v),
            };
            match verdict {
                Verdict::Forward(m) => {
                    if to_server.write_all(&frame(m.to_string().as_bytes())).await.is_err() {
                        return;
                    }
                    let _ = to_server.flush().await;
                }
                Verdict::Reply(e) => {
                    let _ = errors.send(e);
                }
                Verdict::Ignore => {}
            }
        }
        if eof {
            return;
        }
        match input.read(&mut chunk).await {
            Ok(0) => eof = true,
            Ok(n) => reader.feed(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => eof = true,
        }
    }
}

/// Copy the server's frames to `output`, interleaving the answers from [`filter_input`] between
/// whole frames. Both reads are cancel-safe, so a frame is never cut by an answer.
pub async fn merge_output<R, O>(mut from_server: R, mut output: O, mut errors: mpsc::UnboundedReceiver<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    // Server bytes not written yet: the start of a frame.
    let mut pending = Vec::new();
    let mut chunk = vec![0; 64 << 10];
    let mut errors_open = true;
    loop {
        tokio::select! {
            e = errors.recv(), if errors_open => match e {
                Some(e) => {
                    if write(&mut output, &e).await.is_err() {
                        return;
                    }
                }
                None => errors_open = false,
            },
            n = from_server.read(&mut chunk) => {
                let n = match n {
                    Ok(n) if n > 0 => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    _ => {
                        // The server is done: what it wrote last, then the answers still queued.
                        let _ = write(&mut output, &pending).await;
                        while let Ok(e) = errors.try_recv() {
                            if write(&mut output, &e).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                };
                pending.extend_from_slice(&chunk[..n]);
                let whole = whole_frames(&pending);
                if whole > 0 {
                    if write(&mut output, &pending[..whole]).await.is_err() {
                        return;
                    }
                    pending.drain(..whole);
                }
            }
        }
    }
}

async fn write<O: AsyncWrite + Unpin>(output: &mut O, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    output.write_all(bytes).await?;
    output.flush().await
}

/// How many bytes at the start of `b` are whole frames (the server writes nothing else; should
/// it, all of `b` is let through).
fn whole_frames(b: &[u8]) -> usize {
    let mut i = 0;
    loop {
        let blank = b[i..].iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')).count();
        match header_block(&b[i + blank..]) {
            Header::Complete { end, len } if i + blank + end + len <= b.len() => i += blank + end + len,
            Header::Complete { .. } | Header::Partial => return i,
            Header::Bad(_) => return b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// The pieces of `input`, fed at once and byte by byte (which must agree).
    fn pieces(input: &[u8]) -> Vec<Piece> {
        let run = |step: usize| {
            let mut r = FrameReader::default();
            let mut out = Vec::new();
            for c in input.chunks(step.max(1)) {
                r.feed(c);
                while let Some(p) = r.next(false) {
                    out.push(p);
                }
            }
            while let Some(p) = r.next(true) {
                out.push(p);
            }
            out
        };
        let strip = |v: Vec<Piece>| -> Vec<Piece> {
            v.into_iter().map(|p| if let Piece::Junk(_) = p { Piece::Junk(String::new()) } else { p }).collect()
        };
        let whole = run(input.len());
        for step in [1, 2, 3, 7, 16] {
            let w = strip(run(input.len()));
            assert_eq!(strip(run(step)), w, "fed {step} bytes at a time: {:?}", String::from_utf8_lossy(input));
        }
        whole
    }

    fn kinds(input: &str) -> Vec<String> {
        pieces(input.as_bytes())
            .into_iter()
            .map(|p| match p {
                Piece::Json(v) => v.to_string(),
                Piece::Junk(_) => "junk".into(),
            })
            .collect()
    }

    const A: &str = r#"{"a":1}"#;
    const B: &str = r#"{"b":2}"#;

    #[test]
    fn frames_and_headers() {
        assert_eq!(kinds(&format!("{}{}", fr(A), fr(B))), [A, B]);
        let mixed = format!("content-length: 7\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n{A}\r\n\r\n{}", fr(B));
        assert_eq!(kinds(&mixed), [A, B]);
        assert_eq!(kinds(&format!("CONTENT-LENGTH:7\r\n\r\n{A}")), [A]);
        assert_eq!(kinds(""), Vec::<String>::new());
        assert_eq!(kinds("\r\n \n"), Vec::<String>::new());
    }

    #[test]
    fn junk_is_reported_once_and_the_next_frame_is_read() {
        let cases = [
            format!("garbage\r\n{}", fr(A)),
            format!("garbage{}", fr(A)),
            format!("{{\"abc\"{}", fr(A)),
            format!("Content-Length: 5\r\n\r\n{{\"abcdefgh\"}}{}", fr(A)),
            format!("Content-Length: 50\r\n\r\n{{\"abc\"}}{}", fr(A)),
            format!("Content-Length: 9\r\n\r\n{{\"x\":1}}{}", fr(A)),
            format!("Content-Length: 60000000\r\n\r\n{{{}", fr(A)),
            format!("Content-Length: 99999999999\r\n\r\n{A}{}", fr(A)),
            format!("Content-Length: abc\r\n\r\n{A}{}", fr(A)),
            format!("Content-Length: -1\r\n\r\n{}", fr(A)),
            format!("Content-Type: x\r\n\r\n{A}\r\n{}", fr(A)),
            format!("Content-Length: 7\r\nContent-Type: x{}", fr(A)),
            format!("Content-Length: 7\r\n{}", fr(A)),
            format!("Content-Len{}", fr(A)),
            format!("Content-Length: 7{}", fr(A)),
            format!("Content-Length: 0\r\n\r\n{}", fr(A)),
            format!("Content-Length: 3\r\n\r\nab{}", fr(A)),
            format!("{}{}", "x".repeat(10_000), fr(A)),
            format!("\u{0}\u{1}\u{7f}{}", fr(A)),
            format!("Content-Length: 7\r\n\r\n{{\"a\":\u{1}}}{}", fr(A)),
        ];
        for c in cases {
            assert_eq!(kinds(&c), ["junk", A], "{c:?}");
        }
        // A bad body, then junk: one run.
        assert_eq!(kinds(&format!("{}junk{}", fr("{nope"), fr(A))), ["junk", A]);
        // Junk after a good frame is reported again.
        assert_eq!(kinds(&format!("{}junk{}junk{}", fr(A), fr(A), fr(B))), [A, "junk", A, "junk", B]);
    }

    #[test]
    fn end_of_input() {
        assert_eq!(kinds("Content-Length: 10\r\n\r\n{\"a\""), ["junk"]);
        assert_eq!(kinds("Content-Length: 10"), ["junk"]);
        assert_eq!(kinds(&format!("{}garbage", fr(A))), [A, "junk"]);
        assert_eq!(kinds(&format!("{}{{", fr(A))), [A, "junk"]);
    }

    #[test]
    fn a_body_may_hold_the_words_content_length() {
        let body = r#"{"text":"Content-Length: 5\r\n\r\nhello"}"#;
        assert_eq!(kinds(&fr(body)), [body]);
    }

    #[test]
    fn a_frame_that_swallowed_the_next_one_is_released_without_more_input() {
        let mut r = FrameReader::default();
        r.feed(format!("Content-Length: 500\r\n\r\n{{\"a\"{}", fr(A)).as_bytes());
        assert!(matches!(r.next(false), Some(Piece::Junk(_))));
        assert_eq!(r.next(false), Some(Piece::Json(serde_json::from_str(A).unwrap())));
        assert_eq!(r.next(false), None);
    }

    fn verdict(v: Value) -> Result<Value, Value> {
        match check(v) {
            Verdict::Forward(m) => Ok(m),
            Verdict::Reply(f) => {
                let s = String::from_utf8(f).unwrap();
                Err(serde_json::from_str(&s[s.find('{').unwrap()..]).unwrap())
            }
            Verdict::Ignore => Ok(Value::Null),
        }
    }

    #[test]
    fn valid_messages_are_forwarded_canonically() {
        let ok = [
            json!({"jsonrpc": "2.0", "id": 1, "method": "m", "params": {}}),
            json!({"jsonrpc": "2.0", "id": "x", "method": "m", "params": []}),
            json!({"jsonrpc": "2.0", "id": -5, "method": "m"}),
            json!({"jsonrpc": "2.0", "method": "m", "params": null}),
            json!({"jsonrpc": "2.0", "id": 1, "result": null}),
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -1, "message": "m", "data": [1]}}),
            json!({"jsonrpc": "2.0", "method": "exit"}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
        ];
        for m in ok {
            assert_eq!(verdict(m.clone()), Ok(m));
        }
        let extra = json!({"jsonrpc": "2.0", "id": 1, "method": "m", "x": 1});
        assert_eq!(verdict(extra), Ok(json!({"jsonrpc": "2.0", "id": 1, "method": "m"})));
        let extra = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "m", "x": 1}});
        assert_eq!(verdict(extra), Ok(json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "m"}})));
        assert_eq!(check(json!({"jsonrpc": "2.0", "method": "shutdown"})), Verdict::Ignore);
    }

    #[test]
    fn invalid_messages_are_answered() {
        let cases = [
            (json!([]), Value::Null, -32600),
            (json!([{"jsonrpc": "2.0", "id": 1, "method": "m"}]), Value::Null, -32600),
            (json!(1), Value::Null, -32600),
            (json!("x"), Value::Null, -32600),
            (json!(null), Value::Null, -32600),
            (json!({}), Value::Null, -32600),
            (json!({"id": 3, "method": "m"}), json!(3), -32600),
            (json!({"jsonrpc": "1.0", "id": 3, "method": "m"}), json!(3), -32600),
            (json!({"jsonrpc": 2, "id": 3, "method": "m"}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "method": 5}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": "s", "method": null}), json!("s"), -32600),
            (json!({"jsonrpc": "2.0", "method": {}}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": [1], "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": {}, "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": true, "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": 1.5, "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": 1.0, "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": u64::MAX, "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": null, "method": "m"}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "method": "m", "params": 1}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "method": "m", "params": "p"}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "method": "m", "params": true}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "method": "m", "result": 1}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "result": 1}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "result": 1, "error": {"code": 1, "message": "m"}}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "error": {"code": "x", "message": "m"}}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "error": {"code": 1}}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "error": 5}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": [3], "result": 1}), Value::Null, -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "method": "exit"}), json!(3), -32600),
            (json!({"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": {}}), json!(3), -32602),
        ];
        for (m, id, code) in cases {
            let e = verdict(m.clone()).expect_err(&m.to_string());
            assert_eq!((&e["id"], &e["error"]["code"]), (&id, &json!(code)), "{m} → {e}");
            assert!(e["error"]["message"].is_string());
        }
    }

    #[test]
    fn whole_frames_of_the_server() {
        let two = format!("{}{}", fr(A), fr(B));
        assert_eq!(whole_frames(two.as_bytes()), two.len());
        assert_eq!(whole_frames(&two.as_bytes()[..two.len() - 1]), fr(A).len());
        assert_eq!(whole_frames(&two.as_bytes()[..5]), 0);
    }
}
