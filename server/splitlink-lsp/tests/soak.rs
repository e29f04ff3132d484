//! LSP soak: thousands of malformed messages of every kind, mixed at random with valid requests
//! and split at random into writes. Every valid request gets its response, every malformed
//! message whose id is valid gets its error, nothing else is answered, and `shutdown` + `exit`
//! end the session cleanly. In process over a duplex, then once against the real binary over
//! stdio. The seed is printed; rerun with `SPLITLINK_SOAK_SEED=<seed>`.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn seed() -> u64 {
    let seed = std::env::var("SPLITLINK_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    eprintln!("soak seed: {seed} (rerun with SPLITLINK_SOAK_SEED={seed})");
    seed
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

/// A valid frame, its header written one of the ways clients write it.
fn styled(rng: &mut fastrand::Rng, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let head = match rng.usize(..6) {
        0 => format!("content-length: {n}\n\n"),
        1 => format!("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {n}\r\n\r\n"),
        2 => format!("\r\nCONTENT-LENGTH:{n}\r\n\r\n"),
        _ => format!("Content-Length: {n}\r\n\r\n"),
    };
    let mut v = head.into_bytes();
    v.extend_from_slice(body);
    v
}

/// What must come back for a message.
#[derive(Clone, Debug)]
enum Want {
    /// An error with this code and the message's id.
    Error(i64),
    /// A string result (`splitlink.explain`).
    Text,
}

#[derive(Default)]
struct Plan {
    bytes: Vec<u8>,
    /// Replies owed, by id (as JSON text, so `1` and `"1"` differ).
    want: HashMap<String, Want>,
    /// Messages answered -32600 with a null id (their id, if any, is not a valid one).
    null_invalid: usize,
    /// Junk messages: each gets a -32700, or none when it runs on from the junk before it.
    junk: usize,
    messages: usize,
    valid: usize,
    next_id: u64,
}

impl Plan {
    fn id(&mut self, rng: &mut fastrand::Rng) -> Value {
        self.next_id += 1;
        if rng.usize(..2) == 0 {
            json!(self.next_id)
        } else {
            json!(format!("id-{}", self.next_id))
        }
    }

    fn owe(&mut self, id: &Value, want: Want) {
        assert!(self.want.insert(id.to_string(), want).is_none(), "ids are unique");
    }

    /// A message of a valid shape, well framed, whose reply (if it has an id) is `want`.
    fn message(&mut self, rng: &mut fastrand::Rng, mut msg: Value, want: Option<Want>) {
        if let Some(want) = want {
            let id = self.id(rng);
            msg["id"] = id.clone();
            self.owe(&id, want);
        }
        msg["jsonrpc"] = json!("2.0");
        let b = styled(rng, msg.to_string().as_bytes());
        self.bytes.extend_from_slice(&b);
    }

    /// A valid request that must be answered.
    fn valid(&mut self, rng: &mut fastrand::Rng) {
        self.valid += 1;
        match rng.usize(..3) {
            0 => self.message(rng, json!({"method": "splitlink/noSuchThing", "params": {}}), Some(Want::Error(-32601))),
            1 => self.message(rng, json!({"method": "textDocument/unknown"}), Some(Want::Error(-32601))),
            _ => self.message(
                rng,
                json!({"method": "workspace/executeCommand", "params": {"command": "splitlink.explain", "arguments": []}}),
                Some(Want::Text),
            ),
        }
    }

    fn raw_junk(&mut self, b: &[u8]) {
        self.junk += 1;
        self.bytes.extend_from_slice(b);
    }

    /// A framed body that is valid JSON but not a valid message, answered -32600 with `id`
    /// (a valid one, or null).
    fn invalid(&mut self, rng: &mut fastrand::Rng, mut msg: Value, id: Option<Value>) {
        match id {
            Some(id) => {
                msg["id"] = id.clone();
                self.owe(&id, Want::Error(-32600));
            }
            None => self.null_invalid += 1,
        }
        let b = styled(rng, msg.to_string().as_bytes());
        self.bytes.extend_from_slice(&b);
    }

    /// One malformed message of a random kind. With `initialized`, also known methods with
    /// wrong params (whose answers depend on the server being initialized).
    fn malformed(&mut self, rng: &mut fastrand::Rng, initialized: bool) {
        self.messages += 1;
        let request = |id: u64| {
            let params = json!({"command": "splitlink.explain"});
            json!({"jsonrpc": "2.0", "id": id, "method": "workspace/executeCommand", "params": params}).to_string()
        };
        match rng.usize(..if initialized { 14 } else { 11 }) {
            // A truncated frame: the declared length runs into the next frame.
            0 => {
                let body = request(rng.u64(..) >> 40);
                let cut = 1 + rng.usize(..body.len() - 1);
                let declared = body.len() + 1 + rng.usize(..200);
                let mut b = format!("Content-Length: {declared}\r\n\r\n").into_bytes();
                b.extend_from_slice(&body.as_bytes()[..cut]);
                self.raw_junk(&b);
            }
            // A header block cut short.
            1 => {
                let b = *rng
                    .choice(&[
                        "Content-Length: 12",
                        "Content-Len",
                        "content-length:",
                        "Content-Length: 5\r\n",
                        "Content-Length: 5\r\nContent-Type: x",
                        "Content-Length: 40\r\n\r\n",
                        "Content-Length: 40\n\n{",
                    ])
                    .unwrap();
                self.raw_junk(b.as_bytes());
            }
            // Junk without a line end (and sometimes with some).
            2 => {
                const CHARS: &[u8] = b"abcxyzABCXYZ0123456789{}[]\":,.-_/\\!?#@~\x00\x01\x07\x1b\x7f\xc3\xa9\xff\xfe";
                let len = 1 + rng.usize(..120);
                let mut b: Vec<u8> = (0..len).map(|_| *rng.choice(CHARS).unwrap()).collect();
                if rng.usize(..4) == 0 {
                    let at = 1 + rng.usize(..b.len());
                    let end = *rng.choice(&[b"\r\n".as_slice(), b"\n", b"\r\n\r\n"]).unwrap();
                    b.splice(at..at, end.iter().copied());
                }
                self.raw_junk(&b);
            }
            // A missing, non-numeric, absurd or wrong Content-Length.
            3 => {
                let b = *rng
                    .choice(&[
                        "Content-Length: abc\r\n\r\n{}",
                        "Content-Length: -3\r\n\r\n{}",
                        "Content-Length: 1.5\r\n\r\n{}",
                        "Content-Length:\r\n\r\n{}",
                        "Content-Length: 99999999999999\r\n\r\n{}",
                        "Content-Length: 99999999999999999999999999\r\n\r\n",
                        "Content-Length: 67108865\r\n\r\n{}",
                        "Content-Length: 0\r\n\r\n",
                        "Content-Length: 5\r\n\r\n{\"abcdefgh\"}",
                        "Content-Type: application/vscode-jsonrpc\r\n\r\n{}",
                        "Content-Length: 60000000\r\n\r\n{\"jsonrpc\"",
                    ])
                    .unwrap();
                self.raw_junk(b.as_bytes());
            }
            // A body that is not JSON.
            4 => {
                let body = *rng
                    .choice(&[
                        b"{\"a\":".as_slice(),
                        b"{nope}",
                        b"{} x",
                        b"\"\xff\xfe\"",
                        b"{\"a\":\"\x01\"}",
                        b"\xef\xbb\xbf{}",
                        b"[1,",
                        b"nul",
                    ])
                    .unwrap();
                self.raw_junk(&frame(body));
            }
            // JSON that is not an object, and batches.
            5 => {
                let m = rng
                    .choice(&[
                        json!(1),
                        json!(3.5),
                        json!("x"),
                        Value::Null,
                        json!(true),
                        json!([]),
                        json!([1, 2]),
                        json!([{"jsonrpc": "2.0", "id": 1, "method": "splitlink/noSuchThing"}]),
                    ])
                    .unwrap()
                    .clone();
                self.invalid(rng, m, None);
            }
            // An id that is not an integer or a string.
            6 => {
                let id = rng
                    .choice(&[json!([1]), json!({"a": 1}), json!(true), json!(1.5), json!(2.0), json!(u64::MAX), Value::Null])
                    .unwrap()
                    .clone();
                self.invalid(rng, json!({"jsonrpc": "2.0", "id": id, "method": "splitlink/noSuchThing"}), None);
            }
            // A method that is not a string; no method.
            7 => {
                let method = rng.choice(&[json!(5), Value::Null, json!({}), json!([]), json!(false)]).unwrap().clone();
                let mut m = json!({"jsonrpc": "2.0", "method": method, "params": {}});
                if rng.usize(..5) == 0 {
                    m.as_object_mut().unwrap().remove("method");
                }
                let id = (rng.usize(..4) > 0).then(|| self.id(rng));
                self.invalid(rng, m, id);
            }
            // A jsonrpc version other than "2.0".
            8 => {
                let v = rng.choice(&[json!("1.0"), json!(2), json!(2.0), json!("2"), Value::Null, json!("2.0 ")]).unwrap().clone();
                let mut m = json!({"jsonrpc": v, "method": "splitlink/noSuchThing"});
                if rng.usize(..5) == 0 {
                    m.as_object_mut().unwrap().remove("jsonrpc");
                }
                let id = self.id(rng);
                self.invalid(rng, m, Some(id));
            }
            // Params that are neither an object nor an array.
            9 => {
                let p = rng.choice(&[json!(1), json!("x"), json!(true)]).unwrap().clone();
                let id = self.id(rng);
                self.invalid(rng, json!({"jsonrpc": "2.0", "method": "workspace/executeCommand", "params": p}), Some(id));
            }
            // Responses with neither or both of result and error, or a bad error; a request
            // with a result.
            10 => {
                let m = rng
                    .choice(&[
                        json!({"jsonrpc": "2.0"}),
                        json!({"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "m"}}),
                        json!({"jsonrpc": "2.0", "error": {"code": "x", "message": "m"}}),
                        json!({"jsonrpc": "2.0", "error": {"code": 1}}),
                        json!({"jsonrpc": "2.0", "error": 5}),
                        json!({"jsonrpc": "2.0", "method": "splitlink/noSuchThing", "result": null}),
                    ])
                    .unwrap()
                    .clone();
                let id = self.id(rng);
                self.invalid(rng, m, Some(id));
            }
            // Unknown methods: requests get -32601, notifications (and `$/` requests) nothing.
            11 => match rng.usize(..4) {
                0 => self.message(rng, json!({"method": "", "params": []}), Some(Want::Error(-32601))),
                1 => self.message(rng, json!({"method": "splitlink/bogus", "params": {"x": [1, 2]}}), Some(Want::Error(-32601))),
                2 => self.message(rng, json!({"method": "splitlink/bogusNotification", "params": {}}), None),
                _ => {
                    let mut m = json!({"method": "$/splitlink/bogus"});
                    m["id"] = self.id(rng);
                    self.message(rng, m, None);
                }
            },
            // Known methods, wrong params.
            _ => {
                let (m, want) = rng
                    .choice(&[
                        (json!({"method": "textDocument/codeAction", "params": {"nope": 1}}), Some(-32602)),
                        (json!({"method": "textDocument/codeAction", "params": []}), Some(-32602)),
                        (json!({"method": "workspace/executeCommand", "params": {"command": 5}}), Some(-32602)),
                        (json!({"method": "workspace/executeCommand", "params": {"command": "splitlink.nope"}}), Some(-32602)),
                        (json!({"method": "workspace/executeCommand"}), Some(-32602)),
                        (json!({"method": "workspace/executeCommand", "params": null}), Some(-32602)),
                        // A second initialize, a notification sent as a request, `exit` with an id.
                        (json!({"method": "initialize", "params": {"capabilities": 5}}), Some(-32600)),
                        (json!({"method": "initialized", "params": {}}), Some(-32600)),
                        (json!({"method": "exit"}), Some(-32600)),
                        (json!({"method": "shutdown", "params": {"now": true}}), Some(-32602)),
                        (json!({"method": "shutdown"}), None),
                        (json!({"method": "textDocument/didSave", "params": {"textDocument": 5}}), None),
                        (json!({"method": "workspace/didChangeWorkspaceFolders", "params": {"event": 1}}), None),
                        (json!({"method": "workspace/didChangeWatchedFiles", "params": {"changes": "x"}}), None),
                        (json!({"method": "window/workDoneProgress/cancel", "params": {"token": []}}), None),
                        (json!({"method": "$/cancelRequest", "params": {"id": [1]}}), None),
                        (json!({"method": "initialized", "params": 5}), None),
                    ])
                    .unwrap()
                    .clone();
                match want {
                    // `params: 5` is not an object or an array: -32600, id null.
                    None if m["params"] == json!(5) => {
                        let mut m = m;
                        m["jsonrpc"] = json!("2.0");
                        self.invalid(rng, m, None)
                    }
                    None => self.message(rng, m, None),
                    Some(code) => self.message(rng, m, Some(Want::Error(code))),
                }
            }
        }
    }
}

/// `malformed` messages with a valid request after about one in three.
/// Ids start after `first_id`.
fn plan(rng: &mut fastrand::Rng, malformed: usize, initialized: bool, first_id: u64) -> Plan {
    let mut p = Plan { next_id: first_id, ..Default::default() };
    while p.messages < malformed {
        p.malformed(rng, initialized);
        if rng.usize(..3) == 0 {
            p.valid(rng);
        }
    }
    p.valid(rng);
    p
}

/// Tallies replies against the plan.
#[derive(Default)]
struct Tally {
    parse_errors: usize,
    null_invalid: usize,
}

impl Tally {
    fn take(&mut self, v: &Value, want: &mut HashMap<String, Want>, seed: u64) {
        if v.get("method").is_some() {
            return; // a notification or a server request
        }
        let code = v["error"]["code"].as_i64();
        if v["id"].is_null() {
            match code {
                Some(-32700) => self.parse_errors += 1,
                Some(-32600) => self.null_invalid += 1,
                _ => panic!("seed {seed}: unexpected reply {v}"),
            }
            return;
        }
        match want.remove(&v["id"].to_string()) {
            Some(Want::Error(c)) => assert_eq!(code, Some(c), "seed {seed}: {v}"),
            Some(Want::Text) => assert!(v["result"].is_string(), "seed {seed}: {v}"),
            None => panic!("seed {seed}: unexpected reply {v}"),
        }
    }

    fn check(&self, p: &Plan, seed: u64) {
        assert_eq!(self.null_invalid, p.null_invalid, "seed {seed}: -32600 with a null id");
        assert!((1..=p.junk).contains(&self.parse_errors), "seed {seed}: {} parse errors for {} junk messages", self.parse_errors, p.junk);
    }
}

/// Cuts whole frames off the front of `buf`.
fn frames(buf: &mut Vec<u8>) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return out };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("bad header from the server: {head:?}"));
        if buf.len() < end + 4 + len {
            return out;
        }
        let body = &buf[end + 4..end + 4 + len];
        out.push(serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(body))));
        buf.drain(..end + 4 + len);
    }
}

fn init(id: &str) -> Vec<u8> {
    let params = json!({"processId": null, "rootUri": null, "capabilities": {}});
    frame(json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": params}).to_string().as_bytes())
}

fn notification(method: &str) -> Vec<u8> {
    frame(json!({"jsonrpc": "2.0", "method": method, "params": {}}).to_string().as_bytes())
}

fn shutdown() -> Vec<u8> {
    frame(json!({"jsonrpc": "2.0", "id": "shutdown", "method": "shutdown"}).to_string().as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn soak_in_process() {
    let seed = seed();
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut p = plan(&mut rng, 8000, true, 1000);
    let (client, server) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server);
    let serve = tokio::spawn(async move { splitlink_lsp::serve(sr, sw).await });
    let (mut r, mut w) = tokio::io::split(client);

    let deadline = Duration::from_secs(30);
    let mut buf = Vec::new();
    let mut chunk = vec![0; 64 << 10];
    // Requests that come before `initialize` has been answered are refused: wait for it.
    w.write_all(&init("init")).await.unwrap();
    'init: loop {
        let n = tokio::time::timeout(deadline, r.read(&mut chunk)).await.expect("initialize answered").unwrap();
        assert!(n > 0, "the server closed the stream");
        buf.extend_from_slice(&chunk[..n]);
        for v in frames(&mut buf) {
            if v["id"] == json!("init") {
                assert!(v["result"]["capabilities"].is_object(), "{v}");
                break 'init;
            }
        }
    }
    w.write_all(&notification("initialized")).await.unwrap();
    // Write the plan in random pieces while reading the replies.
    let bytes = std::mem::take(&mut p.bytes);
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let most = if rng.usize(..4) == 0 { 16 } else { 8192 };
        let n = 1 + rng.usize(..most);
        cuts.push(at..(at + n).min(bytes.len()));
        at += n;
    }
    let writer = tokio::spawn(async move {
        for c in cuts {
            w.write_all(&bytes[c]).await.unwrap();
        }
        w
    });

    let mut tally = Tally::default();
    let mut want = std::mem::take(&mut p.want);
    while !want.is_empty() {
        let n = tokio::time::timeout(deadline, r.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: replies stopped; {} owed, e.g. {:?}", want.len(), want.iter().next()));
        let n = n.unwrap();
        assert!(n > 0, "seed {seed}: the server closed the stream; {} replies owed", want.len());
        buf.extend_from_slice(&chunk[..n]);
        for v in frames(&mut buf) {
            tally.take(&v, &mut want, seed);
        }
    }
    let mut w = writer.await.unwrap();

    // `exit` only once `shutdown` is answered, as clients do (an `exit` cancels requests still
    // running, `shutdown` too).
    w.write_all(&shutdown()).await.unwrap();
    let mut seen_shutdown = false;
    while !seen_shutdown {
        let n = tokio::time::timeout(deadline, r.read(&mut chunk)).await.expect("shutdown answered").unwrap();
        assert!(n > 0, "seed {seed}: the server closed the stream before answering shutdown");
        buf.extend_from_slice(&chunk[..n]);
        for v in frames(&mut buf) {
            if v["id"] == json!("shutdown") {
                assert_eq!(v.get("result"), Some(&Value::Null), "{v}");
                seen_shutdown = true;
            } else {
                tally.take(&v, &mut want, seed);
            }
        }
    }
    w.write_all(&notification("exit")).await.unwrap();
    let clean = tokio::time::timeout(deadline, serve).await.expect("serve returns after exit").unwrap();
    // The rest of the output (late answers to junk), up to its end.
    loop {
        let n = tokio::time::timeout(deadline, r.read(&mut chunk)).await.expect("the output ends").unwrap();
        buf.extend_from_slice(&chunk[..n]);
        for v in frames(&mut buf) {
            tally.take(&v, &mut want, seed);
        }
        if n == 0 {
            break;
        }
    }
    assert!(seen_shutdown, "seed {seed}: shutdown answered");
    assert!(clean, "seed {seed}: shutdown then exit is a clean exit");
    tally.check(&p, seed);
    eprintln!(
        "soak: {} malformed messages ({} junk), {} valid requests, {} parse errors, in {:?}",
        p.messages,
        p.junk,
        p.valid,
        tally.parse_errors,
        started.elapsed()
    );
}

/// The `splitlink` binary, built beforehand (`cargo build -p splitlink`, with the same
/// `CARGO_TARGET_DIR`).
fn splitlink_bin() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if PathBuf::from(&d).is_absolute() => PathBuf::from(d),
        Some(d) => workspace.join(d),
        None => workspace.join("target"),
    };
    let bin = target.join("debug").join(format!("splitlink{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the splitlink binary is not at {}: build it before the tests (`cargo build -p splitlink`, with the same CARGO_TARGET_DIR)",
        bin.display()
    );
    bin
}

/// Kills the server if the test fails before it exits.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn soak_over_stdio() {
    let seed = seed();
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let before = plan(&mut rng, 60, false, 1000);
    let mut p = plan(&mut rng, 300, true, 1_000_000);
    let mut child = Child(
        std::process::Command::new(splitlink_bin())
            .arg("lsp")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start splitlink lsp"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = vec![0; 64 << 10];
        loop {
            let n = stdout.read(&mut chunk).unwrap_or(0);
            buf.extend_from_slice(&chunk[..n]);
            for v in frames(&mut buf) {
                if tx.send(v).is_err() {
                    return;
                }
            }
            if n == 0 {
                return;
            }
        }
    });

    // Malformed messages before `initialize` too: requests among them are refused (-32002),
    // but unknown methods are unknown (-32601) whatever the state.
    let mut want: HashMap<String, Want> =
        before.want.into_iter().map(|(id, w)| (id, if let Want::Text = w { Want::Error(-32002) } else { w })).collect();
    let mut tally = Tally::default();
    let deadline = started + Duration::from_secs(20);
    let next = |want: &HashMap<String, Want>| match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(v) => v,
        Err(e) => panic!("seed {seed}: {e:?} with {} replies owed", want.len()),
    };
    stdin.write_all(&before.bytes).unwrap();
    // Requests that come before `initialize` has been answered are refused: wait for it.
    stdin.write_all(&init("init")).unwrap();
    loop {
        let v = next(&want);
        if v["id"] == json!("init") {
            assert!(v["result"]["capabilities"].is_object(), "{v}");
            break;
        }
        tally.take(&v, &mut want, seed);
    }
    stdin.write_all(&notification("initialized")).unwrap();
    want.extend(std::mem::take(&mut p.want));
    for c in p.bytes.chunks(4096) {
        stdin.write_all(c).unwrap();
    }
    stdin.write_all(&shutdown()).unwrap();
    let mut shutdown_seen = false;
    while !(want.is_empty() && shutdown_seen) {
        let v = next(&want);
        if v["id"] == json!("shutdown") {
            assert_eq!(v.get("result"), Some(&Value::Null), "{v}");
            shutdown_seen = true;
        } else {
            tally.take(&v, &mut want, seed);
        }
    }
    stdin.write_all(&notification("exit")).unwrap();
    drop(stdin);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            drop(child);
            panic!("seed {seed}: splitlink lsp did not exit; stderr:\n{}", errs.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap();
    for v in rx.try_iter() {
        tally.take(&v, &mut want, seed);
    }
    let stderr = errs.join().unwrap();
    assert_eq!(status.code(), Some(0), "seed {seed}: exit status after shutdown + exit; stderr:\n{stderr}");
    let junk = before.junk + p.junk;
    assert_eq!(tally.null_invalid, before.null_invalid + p.null_invalid, "seed {seed}");
    assert!((1..=junk).contains(&tally.parse_errors), "seed {seed}: {} parse errors for {junk} junk messages", tally.parse_errors);
    eprintln!("soak over stdio: {} malformed messages, exit status 0, in {:?}", before.messages + p.messages, started.elapsed());
}
