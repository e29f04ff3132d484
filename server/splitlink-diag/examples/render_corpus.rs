//! Prints a corpus case before (rustc's own rendering of the link failure)
//! and after (splitlink's rendering).
//!
//! ```text
//! cargo run -p splitlink-diag --example render_corpus -- CORPUS SETUP CASE [--json] [--verbose]
//! ```
//!
//! `CORPUS` is `shared/linker-corpus`; the case's capture-time workspace root
//! (`/home/dev/<case>`) is mapped to the case folder. `--json` prints the
//! rustc-format JSON instead of the human rendering.

use std::path::PathBuf;

use serde_json::Value;
use splitlink_diag::linker::{from_link_error, is_link_error, LinkContext};
use splitlink_diag::render;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if pos.len() != 3 {
        eprintln!("usage: render_corpus CORPUS SETUP CASE [--json] [--verbose]");
        std::process::exit(2);
    }
    let verbose = args.iter().any(|a| a == "--verbose");
    let as_json = args.iter().any(|a| a == "--json");
    let dir = PathBuf::from(pos[0]).join(pos[1]).join(pos[2]);
    let dir = dir.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let capture_root = format!("/home/dev/{}", pos[2]);
    let ctx = LinkContext::discover(&dir, &dir.join("src/main.rs"));
    let text = std::fs::read_to_string(dir.join("json.txt")).expect("json.txt");
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(&line.replace(&capture_root, &dir.to_string_lossy())).expect("json");
        if !is_link_error(&v) {
            continue;
        }
        let rendered = v["message"]["rendered"].as_str().unwrap_or("");
        println!("==== before (rustc)\n{}", rendered.replace(&*dir.to_string_lossy(), &capture_root).trim_end());
        println!("==== after (splitlink)");
        for d in from_link_error(&v, &ctx) {
            if as_json {
                println!("{}", serde_json::to_string_pretty(&render::to_rustc_json(&d, &dir)).unwrap());
            } else {
                println!("{}", render::human(&d, verbose, &dir));
            }
        }
    }
}
