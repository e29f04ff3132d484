//! Save → running binary: `splitlink watch --run` against what cargo-watch style loops do
//! (`cargo build`, then stop the old process and start the new one), on identical copies of a
//! small workspace whose binary is a long-running process, with identical edits.
//!
//! Latency is measured from the moment the edited file is written to the moment the new
//! process prints its first line. The cargo side is not charged for noticing the change (its
//! build starts right after the write), which favours cargo.

use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(120);

fn write_workspace(dir: &Path) -> Result<()> {
    let files = [
        ("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"app\", \"util\"]\n".to_string()),
        ("util/Cargo.toml", "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".to_string()),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nutil = { path = \"../util\" }\n"
                .to_string(),
        ),
        ("util/src/lib.rs", lib(0, 0)),
        ("app/src/main.rs", bin(0)),
    ];
    for (p, c) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap())?;
        std::fs::write(p, c)?;
    }
    Ok(())
}

fn lib(value: u64, comment: u64) -> String {
    format!(
        "//! A library with some real code in it.\n\npub const VALUE: u64 = {value}; // note {comment}\n\npub fn value() -> u64 {{\n    VALUE * 3\n}}\n\npub fn checksum(data: &[u8]) -> u64 {{\n    data.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))\n}}\n"
    )
}

fn bin(k: u64) -> String {
    format!(
        "use std::io::Write;\n\nfn main() {{\n    let k = {k};\n    println!(\"ready {{}}+{{}}\", util::value(), k);\n    std::io::stdout().flush().unwrap();\n    let _ = util::checksum(b\"keep the library linked\");\n    std::thread::sleep(std::time::Duration::from_secs(3600));\n}}\n"
    )
}

/// Lines of a child's stdout, with the time they arrived.
fn lines(child: &mut Child) -> Receiver<(Instant, String)> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send((Instant::now(), l)).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &Receiver<(Instant, String)>, pred: impl Fn(&str) -> bool, what: &str) -> Result<Instant> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((t, l)) if pred(&l) => return Ok(t),
            Ok(_) => {}
            Err(_) => bail!("timed out waiting for {what}"),
        }
    }
}

fn terminate(child: &mut Child) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[derive(Clone, Copy)]
enum Edit {
    /// A library function body (relink, restart).
    LibBody,
    /// A binary function body (relink, restart).
    BinBody,
    /// An end-of-line comment in the library: splitlink keeps the process running.
    LibComment,
}

impl Edit {
    fn name(self) -> &'static str {
        match self {
            Edit::LibBody => "lib-body",
            Edit::BinBody => "bin-body",
            Edit::LibComment => "lib-eol",
        }
    }
}

struct State {
    value: u64,
    k: u64,
    comment: u64,
}

impl State {
    fn apply(&mut self, e: Edit, dir: &Path) -> Result<()> {
        match e {
            Edit::LibBody => self.value += 1,
            Edit::BinBody => self.k += 1,
            Edit::LibComment => self.comment += 1,
        }
        std::fs::write(dir.join("util/src/lib.rs"), lib(self.value, self.comment))?;
        std::fs::write(dir.join("app/src/main.rs"), bin(self.k))?;
        Ok(())
    }
    fn ready(&self) -> String {
        format!("ready {}+{}", self.value * 3, self.k)
    }
}

pub struct Row {
    pub edit: &'static str,
    pub splitlink_ms: Vec<f64>,
    pub cargo_ms: Vec<f64>,
    pub splitlink_restarted: bool,
}

pub fn run(splitlink: &Path, bench_dir: &Path, repeats: usize) -> Result<Vec<Row>> {
    let root = bench_dir.join("watch");
    let _ = std::fs::remove_dir_all(&root);
    let (ours, theirs) = (root.join("splitlink"), root.join("cargo"));
    write_workspace(&ours)?;
    write_workspace(&theirs)?;

    // splitlink watch --run, warm: wait for the first process.
    let mut watch = Command::new(splitlink)
        .args(["watch", "--run", "--bin", "app", "--message-format", "json"])
        .current_dir(&ours)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start splitlink watch")?;
    let wl = lines(&mut watch);
    let result = (|| -> Result<Vec<Row>> {
        wait_for(&wl, |l| l == "ready 0+0", "the first run of splitlink watch")?;
        // cargo side, warm: built and running.
        let st = Command::new("cargo").args(["build", "-q"]).current_dir(&theirs).status()?;
        if !st.success() {
            bail!("cargo build failed");
        }
        let start = |dir: &PathBuf| -> Result<(Child, Receiver<(Instant, String)>)> {
            let mut c = Command::new(dir.join("target/debug/app")).stdout(Stdio::piped()).stdin(Stdio::null()).spawn()?;
            let rx = lines(&mut c);
            Ok((c, rx))
        };
        let mut current = start(&theirs)?;
        wait_for(&current.1, |l| l == "ready 0+0", "cargo's first run")?;

        let mut ours_state = State { value: 0, k: 0, comment: 0 };
        let mut theirs_state = State { value: 0, k: 0, comment: 0 };
        let mut rows = Vec::new();
        for edit in [Edit::LibBody, Edit::BinBody, Edit::LibComment] {
            let mut row = Row { edit: edit.name(), splitlink_ms: vec![], cargo_ms: vec![], splitlink_restarted: false };
            for _ in 0..repeats {
                // splitlink: write, then wait for the new process (or, for a comment, the build).
                std::thread::sleep(Duration::from_millis(300));
                while wl.try_recv().is_ok() {}
                ours_state.apply(edit, &ours)?;
                let t0 = Instant::now();
                let expect = ours_state.ready();
                let t = match edit {
                    Edit::LibComment => {
                        let t = wait_for(&wl, |l| l.contains("\"reason\":\"build-finished\""), "splitlink's build")?;
                        // The running process must not have been restarted.
                        std::thread::sleep(Duration::from_millis(200));
                        while let Ok((_, l)) = wl.try_recv() {
                            if l.starts_with("ready ") {
                                row.splitlink_restarted = true;
                            }
                        }
                        t
                    }
                    _ => wait_for(&wl, |l| l == expect, "the restarted binary")?,
                };
                row.splitlink_ms.push(t.duration_since(t0).as_secs_f64() * 1000.0);

                // cargo build && restart.
                theirs_state.apply(edit, &theirs)?;
                let t0 = Instant::now();
                let st = Command::new("cargo").args(["build", "-q"]).current_dir(&theirs).status()?;
                if !st.success() {
                    bail!("cargo build failed");
                }
                terminate(&mut current.0);
                current = start(&theirs)?;
                let t = wait_for(&current.1, |l| l == theirs_state.ready(), "cargo's restarted binary")?;
                row.cargo_ms.push(t.duration_since(t0).as_secs_f64() * 1000.0);
            }
            rows.push(row);
        }
        terminate(&mut current.0);
        Ok(rows)
    })();
    terminate(&mut watch);
    result
}

pub fn render(rows: &[Row], repeats: usize) -> String {
    let med = |v: &[f64]| crate::report::median(v);
    let mm = |v: &[f64]| {
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(0.0, f64::max);
        format!("{lo:.0}–{hi:.0}")
    };
    let mut s = String::new();
    s.push_str(&format!(
        "Save → running binary, {repeats} runs per edit (median, min–max, ms). splitlink: `splitlink watch --run` (its file watcher included). \
cargo: `cargo build` started right after the write (no watcher delay charged), then the old process stopped and the new one started.\n\n"
    ));
    s.push_str("| edit | splitlink watch --run | cargo build + restart | ratio | splitlink restarted? |\n|---|---:|---:|---:|---|\n");
    for r in rows {
        let restarted = match r.edit {
            "lib-eol" => {
                if r.splitlink_restarted {
                    "yes ✗ (should not)".to_string()
                } else {
                    "no ✓ (objects unchanged: the process keeps running; time to the build's end)".to_string()
                }
            }
            _ => "yes ✓".to_string(),
        };
        s.push_str(&format!(
            "| {} | {:.0} ({}) | {:.0} ({}) | {:.2} | {} |\n",
            r.edit,
            med(&r.splitlink_ms),
            mm(&r.splitlink_ms),
            med(&r.cargo_ms),
            mm(&r.cargo_ms),
            med(&r.splitlink_ms) / med(&r.cargo_ms),
            restarted
        ));
    }
    s
}
