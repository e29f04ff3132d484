//! `splitlink lsp`: the warm build engine behind the Language Server Protocol.
//!
//! Invariants (what is absent):
//! - Only this crate knows LSP types (`tower_lsp_server::ls_types`) and JSON-RPC.
//! - Handlers ([`server`]) hold no build state and do no work: they forward a [`main_loop::Msg`]
//!   to the main loop and return (tower-lsp-server runs them concurrently). Code actions read
//!   the last published snapshot.
//! - The main loop ([`main_loop`]) is the only owner of the engines (one per Cargo workspace
//!   among the workspace folders); builds run on its thread, one at a time.
//! - Nothing is written to stdout but protocol messages; logs go to stderr or `window/logMessage`.

pub mod convert;
pub mod ext;
pub mod main_loop;
pub mod server;
pub mod settings;
pub mod transport;

use tower_lsp_server::{LspService, Server};

/// Serve LSP over stdio until `exit`. Returns the process exit code: 0 after
/// `shutdown` + `exit`, 1 when the client exits (or disappears) without `shutdown`.
pub fn run_stdio() -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("splitlink lsp: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let shutdown = rt.block_on(serve(tokio::io::stdin(), tokio::io::stdout()));
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    if shutdown {
        0
    } else {
        1
    }
}

/// Serve on any pair of streams (stdio, or an in-process duplex in tests); returns whether the
/// client shut the server down before `exit`.
pub async fn serve<I, O>(input: I, output: O) -> bool
where
    I: tokio::io::AsyncRead + Unpin + Send + 'static,
    O: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (service, socket) = server::service(tokio::runtime::Handle::current());
    let flag = service.inner().shutdown_flag();
    let (to_server, server_in) = tokio::io::duplex(1 << 20);
    let (server_out, from_server) = tokio::io::duplex(1 << 20);
    let (etx, erx) = tokio::sync::mpsc::unbounded_channel();
    let input_task = tokio::spawn(transport::filter_input(input, to_server, etx));
    let output_task = tokio::spawn(transport::merge_output(from_server, output, erx));
    Server::new(server_in, server_out, socket).serve(service).await;
    input_task.abort();
    // Let the last responses (shutdown's) reach the client.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), output_task).await;
    flag.load(std::sync::atomic::Ordering::SeqCst)
}

pub use tower_lsp_server::LspService as Service;
pub type Backend = server::Backend;

#[doc(hidden)]
pub fn _service_type(_: &LspService<Backend>) {}
