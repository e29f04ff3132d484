//! The `splitlink` binary: command line, terminal and JSON rendering. The only place that uses
//! `anyhow`; everything it renders comes from the engine's events.

mod color;
mod nextest;
mod render;
mod test_cmd;
pub(crate) mod watch;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use splitlink_engine::{BuildOptions, Selection};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "splitlink", version, about = "Rebuild and relink Rust workspaces only when objects change")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Coloring: auto, always, never (as cargo's; default: CARGO_TERM_COLOR, else auto, which
    /// honours NO_COLOR)
    #[arg(long, value_enum, global = true, value_name = "WHEN")]
    color: Option<color::ColorChoice>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the workspace: through cargo the first time, then by replaying rustc.
    Build(BuildArgs),
    /// Explain the last build: why each unit compiled, why each binary linked or not.
    Explain(SelectionArgs),
    /// Watch the workspace: rebuild on save, and with --run keep the binary running and current.
    Watch(watch::WatchArgs),
    /// Build what `cargo test` builds, then run the tests as `cargo test` does.
    Test(test_cmd::TestArgs),
    /// Build and run a binary or example, as `cargo run` does.
    Run(test_cmd::RunArgs),
    /// Lint the workspace with clippy, as `cargo clippy` does: replayed and cached like builds
    /// (only what changed is linted again; the others' lints are shown from their last run).
    Clippy(ClippyArgs),
    /// Language server over stdio: builds on save, compiler and linker diagnostics in the editor.
    Lsp(LspArgs),
}

#[derive(Args)]
struct LspArgs {
    /// Talk LSP over stdin/stdout (the only transport; accepted because clients pass it)
    #[arg(long)]
    stdio: bool,
}

#[derive(Args, Clone, Default)]
struct SelectionArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Package to build (can be repeated)
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    packages: Vec<String>,
    /// Build every package of the workspace
    #[arg(long)]
    workspace: bool,
    /// Exclude a package (with --workspace)
    #[arg(long, value_name = "SPEC")]
    exclude: Vec<String>,
    #[command(flatten)]
    targets: TargetArgs,
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
    /// Build for the target triple (can be repeated; default: `build.target` from
    /// `.cargo/config.toml`, else the host); outputs under `target/<triple>/…`, as cargo's
    #[arg(long, value_name = "TRIPLE")]
    target: Vec<String>,
}

/// cargo's target selection flags.
#[derive(Args, Clone, Default)]
struct TargetArgs {
    /// Only this package's library
    #[arg(long)]
    lib: bool,
    /// All binaries
    #[arg(long)]
    bins: bool,
    /// Only the named binary (can be repeated)
    #[arg(long = "bin", value_name = "NAME")]
    bin: Vec<String>,
    /// All targets that have `test = true` (unit tests of libs and bins, integration tests)
    #[arg(long)]
    tests: bool,
    /// Only the named integration test (can be repeated)
    #[arg(long = "test", value_name = "NAME")]
    test: Vec<String>,
    /// All examples
    #[arg(long)]
    examples: bool,
    /// Only the named example (can be repeated)
    #[arg(long = "example", value_name = "NAME")]
    example: Vec<String>,
    /// All benches
    #[arg(long)]
    benches: bool,
    /// Only the named bench (can be repeated)
    #[arg(long = "bench", value_name = "NAME")]
    bench: Vec<String>,
    /// All targets (`--lib --bins --tests --benches --examples`)
    #[arg(long)]
    all_targets: bool,
}

impl SelectionArgs {
    fn selection(&self) -> Selection {
        let mut features: Vec<String> =
            self.features.iter().flat_map(|f| f.split([',', ' '])).filter(|f| !f.is_empty()).map(String::from).collect();
        features.sort();
        features.dedup();
        let t = &self.targets;
        Selection {
            command: splitlink_engine::CargoCommand::Build,
            manifest_path: self.manifest_path.clone(),
            packages: self.packages.clone(),
            workspace: self.workspace,
            exclude: self.exclude.clone(),
            targets: splitlink_engine::Targets {
                lib: t.lib,
                bins: t.bins,
                bin: t.bin.clone(),
                tests: t.tests,
                test: t.test.clone(),
                examples: t.examples,
                example: t.example.clone(),
                benches: t.benches,
                bench: t.bench.clone(),
                all_targets: t.all_targets,
                doc: false,
            },
            release: self.release,
            profile: self.profile.clone(),
            features,
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            target_dir: self.target_dir.clone(),
            target: self.target.clone(),
            clippy_args: Vec::new(),
            cargo_config: Vec::new(),
        }
    }
}

/// Output and parallelism flags shared by `build`, `test`, `run` and `watch`.
#[derive(Args, Clone)]
pub(crate) struct OutputArgs {
    /// Output format, as cargo's: human, short, json, json-diagnostic-short,
    /// json-diagnostic-rendered-ansi, json-render-diagnostics (comma separated or repeated;
    /// JSON messages go to stdout, plus splitlink's own, see the README)
    #[arg(long, value_name = "FMT", value_parser = render::MessageFormat::parse_one)]
    pub message_format: Vec<render::MessageFormat>,
    /// Verbose output (full linker command lines, capture reasons)
    #[arg(short, long)]
    pub verbose: bool,
    /// No status output (errors and diagnostics are still shown)
    #[arg(short, long)]
    pub quiet: bool,
    /// Number of parallel rustc jobs
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Fast mode: link with wild when it is installed (`SPLITLINK_WILD`, PATH, ~/.cargo/bin).
    /// The binary behaves as cargo's but is not byte-identical; explain and JSON say so.
    /// Also `SPLITLINK_FAST=1`
    #[arg(long)]
    pub fast: bool,
}

impl OutputArgs {
    /// The `--message-format` values combined (cargo's rules: human and short stand alone,
    /// the JSON ones combine).
    pub fn format(&self) -> anyhow::Result<render::MessageFormat> {
        render::MessageFormat::combine(&self.message_format).map_err(anyhow::Error::msg)
    }

    pub fn json(&self) -> bool {
        self.format().is_ok_and(|f| f.json)
    }

    pub fn build_options(&self) -> BuildOptions {
        let fast = self.fast || std::env::var("SPLITLINK_FAST").is_ok_and(|v| v == "1");
        let short = self.format().is_ok_and(|f| f.short);
        let mut opts = BuildOptions { quiet: self.quiet, fast, color: color::stderr(), short_diagnostics: short, ..Default::default() };
        if let Some(j) = self.jobs {
            opts.jobs = j.max(1);
        }
        opts
    }
}

#[derive(Args)]
struct ClippyArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Go through cargo even if nothing says it is needed
    #[arg(long)]
    through_cargo: bool,
    /// Lint flags for clippy, as after `cargo clippy --` (`-D warnings`, `-W clippy::pedantic`)
    #[arg(last = true, value_name = "LINT FLAGS")]
    lint_args: Vec<String>,
}

#[derive(Args)]
struct BuildArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// After building, explain why each unit compiled and each binary linked or not
    #[arg(long)]
    explain: bool,
    /// Go through cargo even if nothing says it is needed
    #[arg(long)]
    through_cargo: bool,
}

fn main() -> ExitCode {
    // Rustdoc-recorder mode: cargo runs us as RUSTDOC for `cargo test --doc` during a capture.
    // (As RUSTC_WORKSPACE_WRAPPER, in the same cargo run, the first argument is rustc's path;
    // as rustdoc, a flag.)
    if let Some(dir) = std::env::var_os(splitlink_engine::wrapper::RUSTDOC_RECORD_ENV) {
        if std::env::args().nth(1).is_some_and(|a| a.starts_with('-')) {
            let args: Vec<String> = std::env::args().skip(1).collect();
            let code = splitlink_engine::wrapper::rustdoc(args, std::path::Path::new(&dir));
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    }
    // Wrapper mode: cargo runs us as RUSTC_WORKSPACE_WRAPPER during a capture.
    if let Some(dir) = std::env::var_os(splitlink_engine::CAPTURE_DIR_ENV) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let is_cli = args.first().is_some_and(|a| {
            matches!(
                a.as_str(),
                "build" | "test" | "run" | "clippy" | "explain" | "lsp" | "watch" | "help" | "--help" | "-h" | "-V" | "--version"
            )
        });
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

/// One build, then the process ends: the engine (state of every unit, the database) is not
/// freed piece by piece — at 300 crates that was a tenth of a no-op build's time.
fn one_build(
    sel: &Selection,
    opts: &BuildOptions,
    cwd: &std::path::Path,
    sink: &mut dyn splitlink_engine::Sink,
) -> Result<splitlink_engine::BuildSummary, splitlink_engine::BuildError> {
    let mut engine = splitlink_engine::Engine::open(sel.clone(), opts.clone(), cwd)?;
    let summary = engine.build(sink, None);
    std::mem::forget(engine);
    summary
}

/// `splitlink watch --test [TESTNAME] …` is `splitlink test --watch [TESTNAME] …` (in watch,
/// `--test` is the test loop, not cargo's integration-test selection).
fn rewrite_watch_test(mut args: Vec<String>) -> Vec<String> {
    if args.get(1).map(String::as_str) != Some("watch") {
        return args;
    }
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some(i) = args[..end].iter().position(|a| a == "--test") else { return args };
    args.remove(i);
    args[1] = "test".into();
    args.insert(2, "--watch".into());
    args
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse_from(rewrite_watch_test(std::env::args().collect()));
    color::init(cli.color);
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match cli.command {
        Command::Build(args) => {
            let sel = args.selection.selection();
            let opts = BuildOptions { force_capture: args.through_cargo, ..args.out.build_options() };
            let mut r = render::Renderer::new(args.out.format()?, args.out.verbose, args.out.quiet);
            let summary = match one_build(&sel, &opts, &cwd, &mut r) {
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
        Command::Clippy(args) => {
            let mut sel = args.selection.selection();
            sel.command = splitlink_engine::CargoCommand::Clippy;
            sel.clippy_args = args.lint_args.clone();
            let opts = BuildOptions { force_capture: args.through_cargo, ..args.out.build_options() };
            let mut r = render::Renderer::new(args.out.format()?, args.out.verbose, args.out.quiet);
            r.clippy = Some(args.lint_args.clone());
            match one_build(&sel, &opts, &cwd, &mut r) {
                Ok(s) => Ok(if s.success { ExitCode::SUCCESS } else { ExitCode::from(101) }),
                Err(e) => {
                    r.fatal(&e.to_string());
                    Ok(ExitCode::from(101))
                }
            }
        }
        Command::Watch(args) => watch::run(args, &cwd),
        Command::Test(args) => test_cmd::test(args, &cwd),
        Command::Run(args) => test_cmd::run(args, &cwd),
        Command::Explain(args) => {
            print!("{}", splitlink_engine::explain(&args.selection(), &cwd)?.render());
            Ok(ExitCode::SUCCESS)
        }
        Command::Lsp(_) => Ok(ExitCode::from(splitlink_lsp::run_stdio().clamp(0, 255) as u8)),
    }
}
