//! splitlink's LSP extensions (documented in docs/lsp-extensions.md).

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types::notification::Notification;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Binary {
    pub name: String,
    pub path: String,
}

/// `splitlink/buildFinished`, sent after every build.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildFinishedParams {
    pub workspace: String,
    pub generation: u64,
    pub success: bool,
    pub cancelled: bool,
    pub cargo_invoked: bool,
    pub compiled: Vec<String>,
    pub linked: Vec<String>,
    pub link_skipped: Vec<String>,
    pub duration_ms: u64,
    pub binaries: Vec<Binary>,
    /// A build that could not start (broken Cargo.toml, no toolchain): the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fast mode (setting `fast`): the linker its links used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast_linker: Option<String>,
}

pub enum BuildFinished {}
impl Notification for BuildFinished {
    type Params = BuildFinishedParams;
    const METHOD: &'static str = "splitlink/buildFinished";
}

/// `splitlink/runStatus`: the binary started by `splitlink.run` started or exited.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunStatusParams {
    pub name: String,
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

pub enum RunStatus {}
impl Notification for RunStatus {
    type Params = RunStatusParams;
    const METHOD: &'static str = "splitlink/runStatus";
}

/// `splitlink/runOutput`: a line the running binary printed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunOutputParams {
    pub name: String,
    pub stream: String,
    pub line: String,
}

pub enum RunOutput {}
impl Notification for RunOutput {
    type Params = RunOutputParams;
    const METHOD: &'static str = "splitlink/runOutput";
}

/// One failed test, where it panicked.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TestFailure {
    /// The test binary (`util (lib test)`, `app::it (test)`, `util (doctests)`).
    pub binary: String,
    pub test: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// 1-based, as in the panic message.
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// `splitlink/testFinished`, after a test run (`splitlink.test` or `testOnSave`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TestFinishedParams {
    pub workspace: String,
    pub success: bool,
    /// Stopped before the end (a new build started).
    pub stopped: bool,
    /// Test binaries run, and left alone because they are the ones that last passed.
    pub ran: usize,
    pub unchanged: usize,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub duration_ms: u64,
    pub failures: Vec<TestFailure>,
    /// Binaries that failed without a test failing (a crash, a signal, not started).
    pub crashed: Vec<String>,
    /// The test build could not run or failed: the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub enum TestFinished {}
impl Notification for TestFinished {
    type Params = TestFinishedParams;
    const METHOD: &'static str = "splitlink/testFinished";
}

/// `splitlink/testStarted`: the test command is building or running tests.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TestStartedParams {
    pub workspace: String,
}

pub enum TestStarted {}
impl Notification for TestStarted {
    type Params = TestStartedParams;
    const METHOD: &'static str = "splitlink/testStarted";
}

pub const COMMANDS: &[&str] = &["splitlink.build", "splitlink.run", "splitlink.stop", "splitlink.explain", "splitlink.test"];
