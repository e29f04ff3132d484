//! The diagnostic model shared by compile-time (rustc) and link-time (linker)
//! diagnostics.
//!
//! Everything here is plain data: it serializes to JSON with serde and can be
//! compared with `==` in tests.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is; mirrors rustc's `level` field.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Note,
    Help,
    /// `error: internal compiler error`.
    Ice,
}

impl Severity {
    /// The word rustc prints for this level (`error`, `warning`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
            Severity::Help => "help",
            Severity::Ice => "error: internal compiler error",
        }
    }

    /// Parses rustc's `level` strings (`error`, `warning`, `note`,
    /// `failure-note`, `help`, `error: internal compiler error`).
    pub fn from_rustc_level(level: &str) -> Option<Severity> {
        Some(match level {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            "note" | "failure-note" => Severity::Note,
            "help" => Severity::Help,
            "error: internal compiler error" => Severity::Ice,
            _ => return None,
        })
    }
}

/// Which step of the build produced the diagnostic.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Compile,
    Link,
}

/// A range in a source file. Lines and columns are 1-based; columns count
/// characters (Unicode scalar values), exactly like rustc's JSON
/// `column_start`/`column_end`. `col_end` is exclusive.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// Absolute path.
    pub file: PathBuf,
    pub line_start: u32,
    pub col_start: u32,
    pub line_end: u32,
    pub col_end: u32,
    pub label: Option<String>,
}

impl Location {
    /// A location covering a single line range `[col_start, col_end)`.
    pub fn on_line(file: PathBuf, line: u32, col_start: u32, col_end: u32) -> Location {
        Location { file, line_start: line, col_start, line_end: line, col_end: col_end.max(col_start), label: None }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Location {
        self.label = Some(label.into());
        self
    }

    /// Same file and same start line.
    pub fn same_line(&self, other: &Location) -> bool {
        self.file == other.file && self.line_start == other.line_start
    }
}

/// A secondary location with its own message (LSP `relatedInformation`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// rustc's `suggestion_applicability`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applicability {
    MachineApplicable,
    MaybeIncorrect,
    HasPlaceholders,
    Unspecified,
}

impl Applicability {
    pub fn from_rustc(s: Option<&str>) -> Applicability {
        match s {
            Some("MachineApplicable") => Applicability::MachineApplicable,
            Some("MaybeIncorrect") => Applicability::MaybeIncorrect,
            Some("HasPlaceholders") => Applicability::HasPlaceholders,
            _ => Applicability::Unspecified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::MachineApplicable => "MachineApplicable",
            Applicability::MaybeIncorrect => "MaybeIncorrect",
            Applicability::HasPlaceholders => "HasPlaceholders",
            Applicability::Unspecified => "Unspecified",
        }
    }
}

/// A machine-readable fix: replace `location` by `replacement`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub location: Location,
    pub replacement: String,
    pub applicability: Applicability,
    /// The message of the child diagnostic that carried the suggestion.
    pub message: String,
}

/// LSP diagnostic tags.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    Unnecessary,
    Deprecated,
}

/// The class of a link failure.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A referenced symbol is defined nowhere.
    UndefinedSymbol,
    /// Two objects define the same (strong) symbol.
    DuplicateSymbol,
    /// `-lX` names a library the linker cannot find.
    LibraryNotFound,
    /// The linker rejected a command-line option.
    UnknownArgument,
    /// A relocation the output type cannot represent (non-PIC code in a
    /// PIE/shared object, or a relocation out of range).
    Relocation,
    /// The C runtime's entry point needs `main` and nothing defines it.
    MissingMain,
    /// The linker (or the linker the driver was told to use) does not exist.
    LinkerNotFound,
    /// The linker died from a signal or ended without an exit status.
    LinkerCrashed,
    /// An input file named on the command line cannot be opened.
    InputNotFound,
    /// Anything else; the text is kept verbatim.
    Other,
}

impl LinkKind {
    /// The stable code used in [`Diagnostic::code`], e.g. `link:undefined-symbol`.
    pub fn code(self) -> &'static str {
        match self {
            LinkKind::UndefinedSymbol => "link:undefined-symbol",
            LinkKind::DuplicateSymbol => "link:duplicate-symbol",
            LinkKind::LibraryNotFound => "link:library-not-found",
            LinkKind::UnknownArgument => "link:unknown-argument",
            LinkKind::Relocation => "link:relocation",
            LinkKind::MissingMain => "link:missing-main",
            LinkKind::LinkerNotFound => "link:linker-not-found",
            LinkKind::LinkerCrashed => "link:linker-crashed",
            LinkKind::InputNotFound => "link:input-not-found",
            LinkKind::Other => "link:other",
        }
    }

    /// The code without the `link:` prefix.
    pub fn short_name(self) -> &'static str {
        &self.code()["link:".len()..]
    }

    pub const ALL: [LinkKind; 10] = [
        LinkKind::UndefinedSymbol,
        LinkKind::DuplicateSymbol,
        LinkKind::LibraryNotFound,
        LinkKind::UnknownArgument,
        LinkKind::Relocation,
        LinkKind::MissingMain,
        LinkKind::LinkerNotFound,
        LinkKind::LinkerCrashed,
        LinkKind::InputNotFound,
        LinkKind::Other,
    ];

    pub fn from_code(code: &str) -> Option<LinkKind> {
        LinkKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Extra data for link-phase diagnostics.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub kind: LinkKind,
    /// Demangled symbol, without the legacy `::h<hash>` suffix. For
    /// [`LinkKind::LibraryNotFound`] the library name, for
    /// [`LinkKind::UnknownArgument`] the argument, for
    /// [`LinkKind::LinkerNotFound`] the linker.
    pub symbol: Option<String>,
    /// The symbol exactly as the linker printed it.
    pub raw_symbol: Option<String>,
    /// References the linker counted but did not list (`>>> referenced N more
    /// times`); `more undefined references to `X' follow` counts as 1, a lower
    /// bound.
    pub more_references: u32,
}

/// One diagnostic, from rustc or from the linker.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// `E0308`, `unused_variables`, `clippy::needless_return`, or
    /// `link:undefined-symbol`.
    pub code: Option<String>,
    /// Documentation for `code`, for rustc error codes and clippy lints.
    pub code_url: Option<String>,
    pub message: String,
    pub phase: Phase,
    pub primary: Option<Location>,
    pub related: Vec<Related>,
    /// Span-less child messages, each prefixed with its level:
    /// `note: …`, `help: …`.
    pub notes: Vec<String>,
    pub suggestions: Vec<Suggestion>,
    pub tags: Vec<Tag>,
    pub link: Option<LinkInfo>,
    /// The original text (rustc's `rendered`, or the linker's lines for this
    /// error). Never lost.
    pub raw: String,
}

impl Diagnostic {
    /// An empty diagnostic of the given severity and phase.
    pub fn new(severity: Severity, phase: Phase, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code: None,
            code_url: None,
            message: message.into(),
            phase,
            primary: None,
            related: Vec::new(),
            notes: Vec::new(),
            suggestions: Vec::new(),
            tags: Vec::new(),
            link: None,
            raw: String::new(),
        }
    }

    /// rustc's closing summaries: `aborting due to 2 previous errors`,
    /// `3 warnings emitted`, `For more information about this error, try …`,
    /// `Some errors have detailed explanations: …`.
    pub fn is_summary(&self) -> bool {
        if self.primary.is_some() || self.phase == Phase::Link && self.link.is_some() {
            return false;
        }
        let m = self.message.as_str();
        m.starts_with("aborting due to")
            || (m.contains("warning") && m.ends_with("emitted"))
            || m.starts_with("For more information about this error")
            || m.starts_with("For more information about an error")
            || m.starts_with("Some errors have detailed explanations")
    }

    /// The link kind, when this is a link diagnostic.
    pub fn link_kind(&self) -> Option<LinkKind> {
        self.link.as_ref().map(|l| l.kind)
    }
}
