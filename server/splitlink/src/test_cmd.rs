//! `splitlink test` and `splitlink run`: a build of the selection (through the engine, as
//! `splitlink build`), then the tests (the session's test runner) or the program, with
//! cargo's output and exit codes.

use crate::render::{eline, Renderer};
use crate::SelectionArgs;
use clap::Args;
use splitlink_engine::{CargoCommand, Engine};
use splitlink_session::testrun::{self, BinaryReport, Ended, RunOptions, Stopper, TestEvent};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args)]
pub struct TestArgs {
    /// Run only the tests whose names contain this string (passed to every test binary)
    #[arg(value_name = "TESTNAME")]
    testname: Option<String>,
    #[command(flatten)]
    selection: SelectionArgs,
    /// Only the doctests
    #[arg(long)]
    doc: bool,
    /// Build the test binaries, do not run them
    #[arg(long)]
    no_run: bool,
    /// Run every test binary even after one failed
    #[arg(long)]
    no_fail_fast: bool,
    /// Run only the test binaries relinked since they last passed with the same arguments (and
    /// doctests whose libraries changed); the others are listed as unchanged
    #[arg(long)]
    changed: bool,
    /// Run the test binaries splitlink built through cargo-nextest
    #[arg(long)]
    nextest: bool,
    /// Kill a test binary (or a package's doctests) that runs longer than SECS seconds; it
    /// counts as failed ("timed out") and the run goes on with --no-fail-fast
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    test_timeout: Option<u64>,
    /// Keep watching: on each save rebuild, relink the changed test binaries and run only
    /// those (also `splitlink watch --test [TESTNAME]`)
    #[arg(long)]
    watch: bool,
    /// With --watch: run a shell command (`sh -c`) after each build that linked something
    #[arg(long, value_name = "CMD", requires = "watch")]
    exec: Option<String>,
    /// With --watch: a change during a build cancels it (instead of building again after it)
    #[arg(long, requires = "watch")]
    restart: bool,
    /// With --watch: clear the screen before each build
    #[arg(long, requires = "watch")]
    clear: bool,
    /// With --watch: print the changed paths that triggered each build
    #[arg(long, requires = "watch")]
    why: bool,
    /// With --watch: poll for changes (file systems without events)
    #[arg(long, requires = "watch")]
    poll: bool,
    #[command(flatten)]
    out: crate::OutputArgs,
    /// Arguments for the test binaries (libtest's: `--nocapture`, `--ignored`, `--exact`, …)
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    #[command(flatten)]
    out: crate::OutputArgs,
    /// Arguments for the program
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// A path as cargo shows it: relative to the working directory when under it.
pub fn shown(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd).unwrap_or(path).display().to_string()
}

fn status(quiet: bool, verb: &str, rest: &str) {
    if quiet {
        return;
    }
    if crate::color::stderr() {
        eline!("\x1b[1;32m{verb:>12}\x1b[0m {rest}");
    } else {
        eline!("{verb:>12} {rest}");
    }
}

fn error(msg: &str) {
    if crate::color::stderr() {
        eline!("\x1b[1;31merror\x1b[0m: {msg}");
    } else {
        eline!("error: {msg}");
    }
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("signal {sig}"))
}

/// Why a test binary failed, as cargo words it.
fn cause(b: &BinaryReport, cwd: &Path) -> Option<String> {
    let p = shown(&b.path, cwd);
    match &b.ended {
        Ended::Code(c) if *c != 101 => Some(format!("process didn't exit successfully: `{p}` (exit status: {c})")),
        Ended::Signal(s) => Some(format!("process didn't exit successfully: `{p}` (signal: {s}, {})", signal_name(*s))),
        Ended::NotStarted(why) => Some(why.clone()),
        Ended::TimedOut(secs) => {
            Some(format!("process didn't exit successfully: `{p}` (timed out after {secs} s: killed, --test-timeout)"))
        }
        _ => None,
    }
}

pub fn test_json(b: &BinaryReport) -> serde_json::Value {
    let (code, signal) = match &b.ended {
        Ended::Code(c) => (Some(*c), None),
        Ended::Signal(s) => (None, Some(*s)),
        _ => (None, None),
    };
    serde_json::json!({
        "reason": "splitlink-test-run",
        "name": b.name,
        "label": b.label,
        "path": b.path,
        "success": b.ended.success(),
        "unchanged": b.ended == Ended::Unchanged,
        "exit_code": code,
        "signal": signal,
        "passed": b.passed,
        "failed": b.failed,
        "ignored": b.ignored,
        "measured": b.measured,
        "filtered_out": b.filtered_out,
        "duration_ms": b.duration_ms,
        "failures": b.failures.iter().map(|f| serde_json::json!({
            "test": f.test, "file": f.file, "line": f.line, "column": f.column, "message": f.message,
        })).collect::<Vec<_>>(),
    })
}

/// Open the engine and build the selection; `None` (the reason already shown) unless the build
/// succeeded.
fn build(sel: splitlink_engine::Selection, out: &crate::OutputArgs, cwd: &Path, r: &mut Renderer) -> Option<Engine> {
    let built = Engine::open(sel, out.build_options(), cwd).and_then(|mut e| e.build(r, None).map(|s| (e, s)));
    match built {
        Ok((e, s)) if s.success => Some(e),
        Ok(_) => None,
        Err(e) => {
            r.fatal(&e.to_string());
            None
        }
    }
}

pub fn test(args: TestArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    let format = args.out.format()?;
    let json = format.json;
    let mut sel = args.selection.selection();
    sel.command = CargoCommand::Test;
    if args.doc {
        if !sel.targets.is_default() {
            error("Can't mix --doc with other target selecting options");
            return Ok(ExitCode::from(101));
        }
        sel.targets.doc = true;
    }
    if args.watch {
        if args.no_run || args.nextest || args.changed {
            error("--watch runs the changed test binaries itself: drop --no-run, --nextest and --changed");
            return Ok(ExitCode::from(101));
        }
        let mut test_args: Vec<String> = args.testname.iter().cloned().collect();
        test_args.extend(args.args.iter().cloned());
        let w = crate::watch::WatchArgs::for_tests(
            args.selection,
            crate::watch::TestMode { args: test_args, doc: args.doc, timeout: args.test_timeout.map(std::time::Duration::from_secs) },
            args.exec,
            args.restart,
            args.clear,
            args.why,
            args.poll,
            args.out,
        );
        return crate::watch::run(w, cwd);
    }
    let mut r = Renderer::new(format, args.out.verbose, args.out.quiet);
    let Some(engine) = build(sel, &args.out, cwd, &mut r) else { return Ok(ExitCode::from(101)) };
    let plan = engine.test_plan();
    if args.no_run {
        for b in &plan.binaries {
            status(args.out.quiet, "Executable", &format!("{} ({})", b.label, shown(&b.path, cwd)));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut test_args: Vec<String> = args.testname.iter().cloned().collect();
    test_args.extend(args.args.iter().cloned());
    if args.nextest {
        return crate::nextest::run(&engine, &plan, &test_args, cwd);
    }
    let opts = RunOptions {
        args: test_args,
        no_fail_fast: args.no_fail_fast,
        changed_only: args.changed,
        doctests: engine.selection().has_doctests(),
        color: !json && crate::color::stdout(),
        own_group: false,
        timeout: args.test_timeout.map(std::time::Duration::from_secs),
    };
    let quiet = args.out.quiet;
    let report = testrun::run(&plan, &opts, engine.target_dir(), &Stopper::default(), &mut |ev| match ev {
        TestEvent::Started { label, path, doctest: false } => status(quiet, "Running", &format!("{label} ({})", shown(&path, cwd))),
        TestEvent::Started { label, doctest: true, .. } => status(quiet, "Doc-tests", &label),
        TestEvent::Unchanged { label, path } => {
            status(quiet, "Unchanged", &format!("{label} ({}): binary identical, last run passed", shown(&path, cwd)))
        }
        TestEvent::Output(line) => {
            if json {
                eline!("{line}");
            } else {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        }
        TestEvent::Finished(b) => {
            if json {
                r.json_message(&test_json(&b));
            }
        }
    });
    let failed = report.failed();
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if opts.no_fail_fast && failed.len() > 1 {
        let list: Vec<String> = failed.iter().map(|b| format!("    `{}`", b.rerun)).collect();
        error(&format!("{} targets failed:\n{}", failed.len(), list.join("\n")));
    } else {
        for b in &failed {
            match cause(b, cwd) {
                Some(c) => error(&format!("test failed, to rerun pass `{}`\n\nCaused by:\n  {c}", b.rerun)),
                None => error(&format!("test failed, to rerun pass `{}`", b.rerun)),
            }
        }
    }
    Ok(ExitCode::from(101))
}

pub fn run(args: RunArgs, cwd: &Path) -> anyhow::Result<ExitCode> {
    let format = args.out.format()?;
    let sel = args.selection.selection();
    let t = &sel.targets;
    if t.lib || t.bins || t.tests || t.examples || t.benches || t.all_targets || !t.test.is_empty() || !t.bench.is_empty() {
        error("`splitlink run` takes --bin NAME or --example NAME, as `cargo run` does");
        return Ok(ExitCode::from(101));
    }
    if t.bin.len() + t.example.len() > 1 {
        error("`splitlink run` runs one target: give one --bin or one --example");
        return Ok(ExitCode::from(101));
    }
    let kind = if t.example.is_empty() { "bin" } else { "example" };
    let wanted = t.bin.first().or(t.example.first()).cloned();
    let mut r = Renderer::new(format, args.out.verbose, args.out.quiet);
    let Some(engine) = build(sel, &args.out, cwd, &mut r) else { return Ok(ExitCode::from(101)) };
    let mut found = engine.runnables(kind);
    if let Some(w) = &wanted {
        found.retain(|b| &b.unit.name == w);
    } else if found.len() > 1 {
        // One package with several binaries: its `default-run`, as cargo.
        let packages: std::collections::BTreeSet<&Path> = found.iter().map(|b| b.cwd.as_path()).collect();
        if let [pkg] = packages.into_iter().collect::<Vec<_>>().as_slice() {
            if let Some(d) = splitlink_engine::testplan::default_run(pkg) {
                found.retain(|b| b.unit.name == d);
            }
        }
    }
    let target = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            error(&format!("a {kind} target must be available for `splitlink run`"));
            return Ok(ExitCode::from(101));
        }
        many => {
            let mut names: Vec<&str> = many.iter().map(|b| b.unit.name.as_str()).collect();
            names.sort_unstable();
            error(&format!(
                "`splitlink run` could not determine which binary to run. Use the `--bin` option to specify a binary, or the `default-run` manifest key.\navailable binaries: {}",
                names.join(", ")
            ));
            return Ok(ExitCode::from(101));
        }
    };
    let mut line = shown(&target.path, cwd);
    for a in &args.args {
        line.push(' ');
        line.push_str(a);
    }
    status(args.out.quiet, "Running", &format!("`{line}`"));
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&target.path).args(&args.args).envs(target.env.iter().map(|(k, v)| (k, v))).exec();
    error(&format!("could not execute process `{}`: {err}", target.path.display()));
    Ok(ExitCode::from(101))
}
