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
    assert_eq!(cmds, ["splitlink.build", "splitlink.run", "splitlink.stop", "splitlink.explain"]);
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
