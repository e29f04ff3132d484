//! A guard in front of tower-lsp-server's transport: its framed reader stops for good after a
//! body that is not JSON, which would end the session. Here every frame is checked first; a
//! malformed one is answered with a JSON-RPC parse error (-32700) and dropped, and the session
//! goes on. Valid frames pass through unchanged, in order.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

fn parse_error(msg: &str) -> Vec<u8> {
    let v = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {msg}")}});
    frame(v.to_string().as_bytes())
}

/// Read frames from `input`, forward valid ones to `to_server`, report malformed ones on
/// `errors`. Ends at end of input.
pub async fn filter_input<I, W>(input: I, mut to_server: W, errors: mpsc::UnboundedSender<Vec<u8>>)
where
    I: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut r = BufReader::new(input);
    loop {
        let mut len: Option<usize> = None;
        let mut saw_header = false;
        loop {
            let mut line = String::new();
            match r.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let t = line.trim_end_matches(['\r', '\n']);
            if t.is_empty() {
                if saw_header {
                    break;
                }
                continue;
            }
            saw_header = true;
            if let Some((k, v)) = t.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().ok();
                }
            }
        }
        let Some(len) = len.filter(|n| *n <= 64 << 20) else {
            let _ = errors.send(parse_error("missing or invalid Content-Length header"));
            continue;
        };
        let mut body = vec![0; len];
        if r.read_exact(&mut body).await.is_err() {
            return;
        }
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) if v.is_object() => {
                if to_server.write_all(&frame(&body)).await.is_err() {
                    return;
                }
                let _ = to_server.flush().await;
            }
            Ok(_) => {
                let _ = errors.send(parse_error("a message must be a JSON object"));
            }
            Err(e) => {
                let _ = errors.send(parse_error(&e.to_string()));
            }
        }
    }
}

/// Copy the server's frames to `output`, interleaving the parse errors between whole frames.
pub async fn merge_output<R, O>(from_server: R, mut output: O, mut errors: mpsc::UnboundedReceiver<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut r = BufReader::new(from_server);
    loop {
        tokio::select! {
            e = errors.recv() => {
                if let Some(e) = e {
                    if output.write_all(&e).await.is_err() { return; }
                    let _ = output.flush().await;
                }
            }
            f = read_frame(&mut r) => {
                let Some(f) = f else { return };
                if output.write_all(&f).await.is_err() { return; }
                let _ = output.flush().await;
            }
        }
    }
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Option<Vec<u8>> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let t = line.trim_end_matches(['\r', '\n']);
        if t.is_empty() {
            if len.is_some() {
                break;
            }
            continue;
        }
        if let Some((k, v)) = t.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).await.ok()?;
    Some(frame(&body))
}
