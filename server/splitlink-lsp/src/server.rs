//! The LSP front: `initialize` capabilities and handlers that only forward to the main loop.

use crate::convert::overlaps;
use crate::ext::COMMANDS;
use crate::main_loop::{self, InitInfo, Msg, Shared};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService};

pub struct Backend {
    tx: Mutex<Sender<Msg>>,
    shutdown: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

/// The service, its main loop started on its own thread.
pub fn service(handle: tokio::runtime::Handle) -> (LspService<Backend>, ClientSocket) {
    LspService::build(|client: Client| {
        let shared = Arc::new(Shared::default());
        let tx = main_loop::spawn(client, handle, shared.clone());
        Backend { tx: Mutex::new(tx), shutdown: Arc::new(AtomicBool::new(false)), shared }
    })
    .custom_method("window/workDoneProgress/cancel", Backend::work_done_progress_cancel)
    .finish()
}

fn path_of(uri: &Uri) -> Option<PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}

impl Backend {
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.clone()
    }

    fn send(&self, m: Msg) {
        let _ = self.tx.lock().unwrap().send(m);
    }

    async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        self.shared.cancel_progress(&params.token);
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let caps = &params.capabilities;
        let mut folders: Vec<PathBuf> = params.workspace_folders.iter().flatten().filter_map(|f| path_of(&f.uri)).collect();
        #[allow(deprecated)]
        if folders.is_empty() {
            if let Some(p) = params.root_uri.as_ref().and_then(path_of) {
                folders.push(p);
            }
        }
        // rustc counts columns in characters: UTF-32 when the client offers it (Helix, Neovim),
        // else LSP's default UTF-16, converted from the line's text.
        let utf32 =
            caps.general.as_ref().and_then(|g| g.position_encodings.as_ref()).is_some_and(|v| v.contains(&PositionEncodingKind::UTF32));
        let info = InitInfo {
            utf32,
            folders,
            options: params.initialization_options.clone().unwrap_or(Value::Null),
            related_information: caps
                .text_document
                .as_ref()
                .and_then(|t| t.publish_diagnostics.as_ref())
                .and_then(|p| p.related_information)
                .unwrap_or(false),
            work_done_progress: caps.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false),
            watched_files_dynamic: caps
                .workspace
                .as_ref()
                .and_then(|w| w.did_change_watched_files.as_ref())
                .and_then(|d| d.dynamic_registration)
                .unwrap_or(false),
        };
        self.send(Msg::Initialize(Box::new(info)));
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(if utf32 { PositionEncodingKind::UTF32 } else { PositionEncodingKind::UTF16 }),
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(false),
                    change: Some(TextDocumentSyncKind::NONE),
                    save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
                    ..Default::default()
                })),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..Default::default()
                })),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: COMMANDS.iter().map(|c| c.to_string()).collect(),
                    ..Default::default()
                }),
                workspace: Some(WorkspaceServerCapabilities {
                    workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(OneOf::Left(true)),
                    }),
                    file_operations: None,
                }),
                ..Default::default()
            },
            server_info: Some(ServerInfo { name: "splitlink".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.send(Msg::Initialized);
    }

    async fn shutdown(&self) -> Result<()> {
        self.shutdown.store(true, Ordering::SeqCst);
        self.shared.cancel_all();
        self.send(Msg::Shutdown);
        Ok(())
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        if let Some(p) = path_of(&params.text_document.uri) {
            self.send(Msg::Changed(vec![p]));
        }
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let paths: Vec<PathBuf> = params.changes.iter().filter_map(|c| path_of(&c.uri)).collect();
        if !paths.is_empty() {
            self.send(Msg::Changed(paths));
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.send(Msg::Config(params.settings));
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let added = params.event.added.iter().filter_map(|f| path_of(&f.uri)).collect();
        let removed = params.event.removed.iter().filter_map(|f| path_of(&f.uri)).collect();
        self.send(Msg::Folders { added, removed });
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        match params.command.as_str() {
            "splitlink.build" => {
                self.send(Msg::Build);
                Ok(None)
            }
            "splitlink.run" => {
                let bin = params.arguments.first().and_then(|a| a.as_str()).map(String::from);
                self.send(Msg::Run(bin));
                Ok(None)
            }
            "splitlink.test" => {
                // Arguments: none, or `{ "changed": true }` (only binaries that changed since
                // they last passed).
                let changed = params.arguments.first().and_then(|a| a.get("changed")).and_then(|c| c.as_bool()).unwrap_or(false);
                self.send(Msg::Test { changed });
                Ok(None)
            }
            "splitlink.stop" => {
                self.send(Msg::Stop);
                Ok(None)
            }
            "splitlink.explain" => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                self.send(Msg::Explain(tx));
                match rx.await {
                    Ok(text) => Ok(Some(Value::String(text))),
                    Err(_) => Err(Error::internal_error()),
                }
            }
            other => Err(Error::invalid_params(format!("unknown command `{other}`; known: {}", COMMANDS.join(", ")))),
        }
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let published = self.shared.published.read().unwrap();
        let Some(list) = published.get(&params.text_document.uri) else { return Ok(None) };
        let actions: Vec<CodeActionOrCommand> = list
            .iter()
            .filter(|p| overlaps(&p.diagnostic.range, &params.range))
            .flat_map(|p| p.fixes.iter().cloned().map(CodeActionOrCommand::CodeAction))
            .collect();
        Ok(if actions.is_empty() { None } else { Some(actions) })
    }
}
