//! The `splitlink` binary: command line, terminal and JSON rendering. The only place that uses
//! `anyhow`; everything it renders comes from the engine's events.

mod render;
mod watch;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use splitlink_engine::{BuildOptions, Selection};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "splitlink", version, about = "Rebuild and relink Rust workspaces only when objects change")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the workspace: through cargo the first time, then by replaying rustc.
    Build(BuildArgs),
    /// Explain the last build: why each unit compiled, why each binary linked or not.
    Explain(SelectionArgs),
    /// Watch the workspace: rebuild on save, and with --run keep the binary running and current.
    Watch(watch::WatchArgs),
    /// Language server over stdio: builds on save, compiler and linker diagnostics in the editor.
    Lsp(LspArgs),
}

#[derive(Args)]
struct LspArgs {
    /// Talk LSP over stdin/stdout (the only transport; accepted because clients pass it)
    #[arg(long)]
    stdio: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Args, Clone)]
struct SelectionArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Package to build (can be repeated)
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    packages: Vec<String>,
    /// Build only the named binary (can be repeated)
    #[arg(long = "bin", value_name = "NAME")]
    bins: Vec<String>,
    /// Build with the release profile
    #[arg(short = 'r', long)]
    release: bool,
    /// Build with the named profile
    #[arg(long, value_name = "NAME", conflicts_with = "release")]
    profile: Option<String>,
    /// Features to activate (comma or space separated, can be repeated)
    #[arg(short = 'F', long, value_name = "FEATURES")]
    features: Vec<String>,
    /// Activate all features
    #[arg(long)]
    all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long)]
    no_default_features: bool,
    /// Directory for all generated artifacts
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
}

impl SelectionArgs {
    fn selection(&self) -> Selection {
        let mut features: Vec<String> =
            self.features.iter().flat_map(|f| f.split([',', ' '])).filter(|f| !f.is_empty()).map(String::from).collect();
        features.sort();
        features.dedup();
        Selection {
            manifest_path: self.manifest_path.clone(),
            packages: self.packages.clone(),
            bins: self.bins.clone(),
            release: self.release,
            profile: self.profile.clone(),
            features,
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            target_dir: self.target_dir.clone(),
        }
    }
}

#[derive(Args)]
struct BuildArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    /// Output format: human, or cargo-compatible JSON messages on stdout
    #[arg(long, value_enum, default_value = "human")]
    message_format: MessageFormat,
    /// Verbose output (full linker command lines, capture reasons)
    #[arg(short, long)]
    verbose: bool,
    /// No status output
    #[arg(short, long)]
    quiet: bool,
    /// After building, explain why each unit compiled and each binary linked or not
    #[arg(long)]
    explain: bool,
    /// Number of parallel rustc jobs
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Go through cargo even if nothing says it is needed
    #[arg(long)]
    through_cargo: bool,
}

fn main() -> ExitCode {
    // Wrapper mode: cargo runs us as RUSTC_WORKSPACE_WRAPPER during a capture.
    if let Some(dir) = std::env::var_os(splitlink_engine::CAPTURE_DIR_ENV) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let is_cli = args
            .first()
            .is_some_and(|a| matches!(a.as_str(), "build" | "explain" | "lsp" | "watch" | "help" | "--help" | "-h" | "-V" | "--version"));
        if !is_cli {
            let code = splitlink_engine::wrapper::run(args, std::path::Path::new(&dir));
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    }
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(101)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match cli.command {
        Command::Build(args) => {
            let sel = args.selection.selection();
            let mut opts = BuildOptions { quiet: args.quiet, force_capture: args.through_cargo, ..Default::default() };
            if let Some(j) = args.jobs {
                opts.jobs = j.max(1);
            }
            let mut r = render::Renderer::new(args.message_format == MessageFormat::Json, args.verbose, args.quiet);
            let summary = match splitlink_engine::build(&sel, &opts, &cwd, &mut r) {
                Ok(s) => s,
                Err(e) => {
                    r.fatal(&e.to_string());
                    return Ok(ExitCode::from(101));
                }
            };
            if args.explain {
                eprint!("{}", splitlink_engine::explain(&sel, &cwd)?.render());
            }
            Ok(if summary.success { ExitCode::SUCCESS } else { ExitCode::from(101) })
        }
        Command::Watch(args) => watch::run(args, &cwd),
        Command::Explain(args) => {
            print!("{}", splitlink_engine::explain(&args.selection(), &cwd)?.render());
            Ok(ExitCode::SUCCESS)
        }
        Command::Lsp(_) => Ok(ExitCode::from(splitlink_lsp::run_stdio().clamp(0, 255) as u8)),
    }
}
