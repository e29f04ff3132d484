//! Protocol details, in process: the real service over an in-memory duplex stream.

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

struct Conn {
    w: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    r: BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
    server: tokio::task::JoinHandle<bool>,
}

async fn start() -> Conn {
    let (client, server) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server);
    let server = tokio::spawn(async move { splitlink_lsp::serve(sr, sw).await });
    let (r, w) = tokio::io::split(client);
    Conn { w, r: BufReader::new(r), server }
}

impl Conn {
    async fn raw(&mut self, body: &str) {
        let msg = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.w.write_all(msg.as_bytes()).await.unwrap();
    }
    async fn send(&mut self, v: Value) {
        self.raw(&v.to_string()).await;
    }
    async fn recv(&mut self) -> Value {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.r.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                len = n.parse().unwrap();
            }
        }
        let mut buf = vec![0; len];
        self.r.read_exact(&mut buf).await.unwrap();
        serde_json::from_slice(&buf).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&buf)))
    }
    async fn bytes(&mut self, b: &[u8]) {
        self.w.write_all(b).await.unwrap();
    }
    /// The next reply: a message without `method` (not a notification or a server request).
    async fn reply(&mut self) -> Value {
        loop {
            let v = self.recv().await;
            if v.get("method").is_none() {
                return v;
            }
        }
    }
    /// The response to request `id`, skipping notifications and server requests.
    async fn response(&mut self, id: i64) -> Value {
        let t = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let v = self.recv().await;
                if v["id"] == json!(id) && v.get("method").is_none() {
                    return v;
                }
            }
        });
        t.await.expect("response in time")
    }
}

fn init(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {"processId": null, "rootUri": null, "capabilities": {}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn initialize_advertises_what_the_server_does() {
    let mut c = start().await;
    c.send(init(1)).await;
    let r = c.response(1).await;
    let caps = &r["result"]["capabilities"];
    let cmds: Vec<&str> = caps["executeCommandProvider"]["commands"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
    assert_eq!(cmds, ["splitlink.build", "splitlink.run", "splitlink.stop", "splitlink.explain", "splitlink.test"]);
    assert_eq!(caps["textDocumentSync"]["save"]["includeText"], json!(false));
    assert_eq!(caps["codeActionProvider"]["codeActionKinds"], json!(["quickfix"]));
    assert_eq!(r["result"]["serverInfo"]["name"], "splitlink");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_before_initialize_are_refused() {
    let mut c = start().await;
    c.send(json!({"jsonrpc": "2.0", "id": 7, "method": "workspace/executeCommand", "params": {"command": "splitlink.build"}})).await;
    let r = c.response(7).await;
    assert_eq!(r["error"]["code"], json!(-32002), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_methods_and_malformed_messages_get_errors_and_the_server_lives_on() {
    let mut c = start().await;
    c.send(init(1)).await;
    c.response(1).await;
    c.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
    c.send(json!({"jsonrpc": "2.0", "id": 2, "method": "splitlink/noSuchThing", "params": {}})).await;
    assert_eq!(c.response(2).await["error"]["code"], json!(-32601));
    c.raw("{this is not json").await;
    let v = loop {
        let v = c.recv().await;
        if v.get("method").is_none() {
            break v;
        }
    };
    assert_eq!(v["error"]["code"], json!(-32700), "{v}");
    c.send(json!({"jsonrpc": "2.0", "id": 3, "method": "workspace/executeCommand", "params": {"command": "splitlink.nope"}})).await;
    assert_eq!(c.response(3).await["error"]["code"], json!(-32602));
    // Wrong params for a known method: an error, not a crash.
    c.send(json!({"jsonrpc": "2.0", "id": 4, "method": "textDocument/codeAction", "params": {"nope": 1}})).await;
    assert_eq!(c.response(4).await["error"]["code"], json!(-32602));
    c.send(json!({"jsonrpc": "2.0", "id": 5, "method": "workspace/executeCommand", "params": {"command": "splitlink.explain"}})).await;
    assert!(c.response(5).await["result"].is_string());
    c.send(json!({"jsonrpc": "2.0", "id": 6, "method": "shutdown"})).await;
    assert_eq!(c.response(6).await["result"], Value::Null);
    c.send(json!({"jsonrpc": "2.0", "method": "exit"})).await;
    assert!(c.server.await.unwrap(), "shutdown then exit is a clean exit");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_without_shutdown_is_not_clean() {
    let mut c = start().await;
    c.send(init(1)).await;
    c.response(1).await;
    c.send(json!({"jsonrpc": "2.0", "method": "exit"})).await;
    assert!(!c.server.await.unwrap());
}

/// Replies until the response to `id` and one error `(id, code)` for each of `errors` have
/// come (in any order: the transport's answers and the server's responses are interleaved);
/// anything else is a failure. Returns the response.
async fn expect(c: &mut Conn, errors: &[(Value, i64)], id: i64) -> Value {
    let mut left = errors.to_vec();
    let mut response = None;
    let t = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while response.is_none() || !left.is_empty() {
            let v = c.reply().await;
            if v["id"] == json!(id) && response.is_none() {
                response = Some(v);
                continue;
            }
            let code = v["error"]["code"].as_i64();
            match left.iter().position(|(i, c)| v["id"] == *i && code == Some(*c)) {
                Some(p) => {
                    let (_, code) = left.remove(p);
                    let want = if code == -32700 { "Parse error: " } else { "Invalid Request: " };
                    let msg = v["error"]["message"].as_str().unwrap_or_default();
                    assert!(code == -32602 || msg.starts_with(want), "{v}");
                }
                None => panic!("unexpected reply {v}; still waiting for {left:?} and the response to {id}"),
            }
        }
    });
    t.await.unwrap_or_else(|_| panic!("no response to {id} in time; still waiting for {left:?}"));
    response.unwrap()
}

/// Sends `bad`, then a valid request that must get its response; `bad` must get exactly `errors`.
async fn survives(c: &mut Conn, bad: &[u8], errors: &[(Value, i64)], id: i64) {
    c.bytes(bad).await;
    let what = String::from_utf8_lossy(bad).into_owned();
    if id % 2 == 0 {
        c.send(json!({"jsonrpc": "2.0", "id": id, "method": "splitlink/noSuchThing"})).await;
        let r = expect(c, errors, id).await;
        assert_eq!(r["error"]["code"], json!(-32601), "after {what:?}: {r}");
    } else {
        c.send(json!({"jsonrpc": "2.0", "id": id, "method": "workspace/executeCommand", "params": {"command": "splitlink.explain"}})).await;
        let r = expect(c, errors, id).await;
        assert!(r["result"].is_string(), "after {what:?}: {r}");
    }
}

async fn initialized() -> Conn {
    let mut c = start().await;
    c.send(init(1)).await;
    c.response(1).await;
    c.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
    c
}

/// `shutdown` answers, `exit` ends the session cleanly, and no reply was left over.
async fn finish(mut c: Conn) {
    c.send(json!({"jsonrpc": "2.0", "id": 9999, "method": "shutdown"})).await;
    let r = expect(&mut c, &[], 9999).await;
    assert_eq!(r.get("result"), Some(&Value::Null), "{r}");
    c.send(json!({"jsonrpc": "2.0", "method": "exit"})).await;
    let clean = tokio::time::timeout(std::time::Duration::from_secs(10), c.server).await.expect("serve returns after exit");
    assert!(clean.unwrap(), "shutdown then exit is a clean exit");
}

fn body(v: Value) -> Vec<u8> {
    let b = v.to_string();
    format!("Content-Length: {}\r\n\r\n{b}", b.len()).into_bytes()
}

/// Each message, then a valid request, answered; the message answered with -32600 and `id`.
async fn invalid_requests(cases: Vec<(Value, Value)>) {
    let mut c = initialized().await;
    for (i, (msg, id)) in cases.into_iter().enumerate() {
        survives(&mut c, &body(msg), &[(id, -32600)], 10 + i as i64).await;
    }
    finish(c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_object_is_an_invalid_request() {
    invalid_requests(vec![(json!({}), Value::Null), (json!({"id": 100}), json!(100))]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_method_that_is_not_a_string_is_an_invalid_request() {
    let cases = [json!(5), Value::Null, json!({}), json!([]), json!(true)]
        .into_iter()
        .enumerate()
        .map(|(i, m)| (json!({"jsonrpc": "2.0", "id": 100 + i, "method": m}), json!(100 + i)))
        .chain([(json!({"jsonrpc": "2.0", "method": 5, "params": {}}), Value::Null)])
        .chain([(json!({"jsonrpc": "2.0", "id": "s", "params": {}}), json!("s"))])
        .collect();
    invalid_requests(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_that_is_not_an_integer_or_a_string_is_an_invalid_request() {
    let cases = [json!([1]), json!({"a": 1}), json!(true), json!(1.5), json!(2.0), json!(u64::MAX), Value::Null]
        .into_iter()
        .map(|id| (json!({"jsonrpc": "2.0", "id": id, "method": "splitlink/noSuchThing"}), Value::Null))
        // Integers (negative too) and strings are ids.
        .chain([(json!({"jsonrpc": "2.0", "id": -7, "method": 5}), json!(-7))])
        .chain([(json!({"jsonrpc": "2.0", "id": "x", "method": 5}), json!("x"))])
        .collect();
    invalid_requests(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jsonrpc_version_other_than_2_0_is_an_invalid_request() {
    let mut cases: Vec<(Value, Value)> = [json!("1.0"), json!(2.0), json!("2"), Value::Null, json!("2.0 ")]
        .into_iter()
        .enumerate()
        .map(|(i, v)| (json!({"jsonrpc": v, "id": 100 + i, "method": "splitlink/noSuchThing"}), json!(100 + i)))
        .collect();
    cases.push((json!({"id": 110, "method": "splitlink/noSuchThing"}), json!(110)));
    cases.push((json!({"method": "initialized", "params": {}}), Value::Null));
    invalid_requests(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_needs_exactly_one_of_result_and_error() {
    let cases = vec![
        (json!({"jsonrpc": "2.0", "id": 100}), json!(100)),
        (json!({"jsonrpc": "2.0", "id": "r"}), json!("r")),
        (json!({"jsonrpc": "2.0", "id": 101, "result": 1, "error": {"code": 1, "message": "m"}}), json!(101)),
        (json!({"jsonrpc": "2.0", "id": 102, "error": {"code": "x", "message": "m"}}), json!(102)),
        (json!({"jsonrpc": "2.0", "id": 103, "error": "boom"}), json!(103)),
        (json!({"jsonrpc": "2.0", "result": 1}), Value::Null),
        (json!({"jsonrpc": "2.0", "id": [1], "result": 1}), Value::Null),
        // A request with a result is neither.
        (json!({"jsonrpc": "2.0", "id": 104, "method": "splitlink/noSuchThing", "result": 1}), json!(104)),
    ];
    invalid_requests(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_responses_from_the_client_are_taken_silently() {
    let mut c = initialized().await;
    // Responses to requests the server never sent: tower-lsp-server logs and drops them.
    let ok = [
        json!({"jsonrpc": "2.0", "id": 100, "result": null}),
        json!({"jsonrpc": "2.0", "id": "x", "result": {"a": 1}}),
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32601, "message": "m", "data": 1}}),
        json!({"jsonrpc": "2.0", "id": 101, "error": {"code": 1, "message": "m", "extra": true}}),
    ];
    for (i, m) in ok.into_iter().enumerate() {
        survives(&mut c, &body(m), &[], 10 + i as i64).await;
    }
    finish(c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_forwarded_in_canonical_form() {
    let mut c = initialized().await;
    // tower-lsp-server would take a repeated member for an undecodable message and stop; the
    // JSON value keeps the last one. Members JSON-RPC does not define are dropped.
    let dup = r#"{"jsonrpc":"2.0","id":100,"id":101,"method":"x","method":"splitlink/noSuchThing","extra":[1]}"#;
    c.raw(dup).await;
    assert_eq!(expect(&mut c, &[], 101).await["error"]["code"], json!(-32601));
    survives(&mut c, b"", &[], 10).await;
    finish(c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn params_that_are_neither_object_nor_array_are_an_invalid_request() {
    let cases = [json!(1), json!("x"), json!(true)]
        .into_iter()
        .enumerate()
        .map(|(i, p)| (json!({"jsonrpc": "2.0", "id": 100 + i, "method": "workspace/executeCommand", "params": p}), json!(100 + i)))
        .chain([(json!({"jsonrpc": "2.0", "method": "initialized", "params": 5}), Value::Null)])
        .collect();
    invalid_requests(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_that_is_not_an_object_is_an_invalid_request() {
    let cases = [json!(1), json!("x"), Value::Null, json!(true), json!(3.5)].into_iter().map(|m| (m, Value::Null)).collect();
    invalid_requests(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_an_invalid_request_and_are_not_executed() {
    let batch = json!([{"jsonrpc": "2.0", "id": 100, "method": "splitlink/noSuchThing"}, {"jsonrpc": "2.0", "method": "initialized"}]);
    // The request inside gets no response of its own: `expect` fails on any reply with id 100.
    invalid_requests(vec![(json!([]), Value::Null), (batch, Value::Null), (json!([1, 2]), Value::Null)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_with_an_id_and_shutdown_with_params_do_not_end_the_session() {
    let mut c = initialized().await;
    let exit = body(json!({"jsonrpc": "2.0", "id": 100, "method": "exit"}));
    survives(&mut c, &exit, &[(json!(100), -32600)], 10).await;
    let shutdown = body(json!({"jsonrpc": "2.0", "id": 101, "method": "shutdown", "params": {"now": true}}));
    survives(&mut c, &shutdown, &[(json!(101), -32602)], 11).await;
    // A `shutdown` notification is ignored: the server is not shut down (which would make it
    // refuse the next request with -32600 instead of answering it).
    survives(&mut c, &body(json!({"jsonrpc": "2.0", "method": "shutdown"})), &[], 12).await;
    survives(&mut c, &body(json!({"jsonrpc": "2.0", "method": "shutdown", "params": null})), &[], 13).await;
    finish(c).await;
}

/// Each byte string, then a valid request, answered; the bytes answered with one -32700.
async fn parse_errors(cases: Vec<Vec<u8>>) {
    let mut c = initialized().await;
    for (i, bad) in cases.into_iter().enumerate() {
        survives(&mut c, &bad, &[(Value::Null, -32700)], 10 + i as i64).await;
    }
    finish(c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_json_is_a_parse_error() {
    let cases = ["{this is not json", "{\"a\":", "{} trailing", "", "\u{feff}{}"]
        .into_iter()
        .map(|b| format!("Content-Length: {}\r\n\r\n{b}", b.len()).into_bytes())
        .chain([b"Content-Length: 4\r\n\r\n\"\xff\xfe\"".to_vec()])
        .collect();
    parse_errors(cases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_bad_content_length_is_a_parse_error() {
    let cases = [
        "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}\r\n",
        "Content-Length: abc\r\n\r\n{}",
        "Content-Length: -2\r\n\r\n{}",
        "Content-Length: 1.5\r\n\r\n{}",
        "Content-Length:\r\n\r\n{}",
        "Content-Length: 2 2\r\n\r\n{}",
        // Absurd lengths are errors, not allocations.
        "Content-Length: 67108865\r\n\r\n{}",
        "Content-Length: 99999999999999999999\r\n\r\n{}",
        "Content-Length: 999999999999999999999999\r\n\r\n{}",
        "Content-Length: 0\r\n\r\n",
    ];
    parse_errors(cases.into_iter().map(|s| s.as_bytes().to_vec()).collect()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_content_length_header_starts_over() {
    let mut c = initialized().await;
    // The first header is junk (-32700); the frame read from the second, `{}`, is answered -32600.
    let two = b"Content-Length: 9\r\nContent-Length: 2\r\n\r\n{}";
    survives(&mut c, two, &[(Value::Null, -32700), (Value::Null, -32600)], 10).await;
    finish(c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_are_case_insensitive_with_either_line_end_and_others_ignored() {
    let mut c = initialized().await;
    let b = json!({"jsonrpc": "2.0", "id": 100, "method": "splitlink/noSuchThing"}).to_string();
    let n = b.len();
    for (i, head) in [
        format!("content-length: {n}\n\n"),
        format!("CONTENT-LENGTH:{n}\r\n\r\n"),
        format!("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {n}\r\n\r\n"),
        format!("Content-Length: {n}\nContent-Type: application/vscode-jsonrpc; charset=latin1\n\n"),
        format!("\r\n\r\nContent-Length:   {n}  \r\nX-Other: 1\r\n\r\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let b = b.replace("100", &(100 + i).to_string());
        c.bytes(format!("{head}{b}").as_bytes()).await;
        let r = expect(&mut c, &[], 100 + i as i64).await;
        assert_eq!(r["error"]["code"], json!(-32601), "{head:?}: {r}");
    }
    finish(c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn junk_not_followed_by_a_line_end_resynchronises_on_the_next_header() {
    let cases = [
        // Junk without a newline right before the next header.
        b"garbage".to_vec(),
        b"{\"jsonrpc\":\"2.0\"".to_vec(),
        b"x: y".to_vec(),
        b"\x00\x01\xff junk".to_vec(),
        // Junk, then a newline.
        b"garbage\r\n".to_vec(),
        // A body longer than declared: the rest runs into the next header.
        b"Content-Length: 5\r\n\r\n{\"abcdefgh\"}".to_vec(),
        // A header block cut short.
        b"Content-Length: 12".to_vec(),
        b"Content-Length: 12\r\n".to_vec(),
        b"Content-Length: 12\r\nContent-Type: x".to_vec(),
        b"Content-Len".to_vec(),
        // Long junk.
        "x".repeat(20_000).into_bytes(),
    ];
    parse_errors(cases.to_vec()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_length_that_swallows_the_next_frame_does_not_lose_it() {
    let cases = [
        b"Content-Length: 300\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":".to_vec(),
        b"Content-Length: 60\r\n\r\n{}".to_vec(),
        b"Content-Length: 12\r\n\r\n".to_vec(),
        b"Content-Length: 60000000\r\n\r\n{".to_vec(),
    ];
    // `survives` sends nothing after the valid request: it must be answered without more input.
    parse_errors(cases.to_vec()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn end_of_input_inside_a_frame_ends_the_session() {
    let mut c = initialized().await;
    c.bytes(b"Content-Length: 100\r\n\r\n{\"jsonrpc\"").await;
    c.w.shutdown().await.unwrap();
    let clean = tokio::time::timeout(std::time::Duration::from_secs(10), c.server).await.expect("serve returns at end of input");
    assert!(!clean.unwrap(), "end of input without shutdown is not a clean exit");
}
