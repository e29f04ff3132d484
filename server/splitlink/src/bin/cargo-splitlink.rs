//! `cargo splitlink …`: cargo runs an external subcommand as `cargo-splitlink splitlink …`
//! (with `CARGO` set), so `cargo splitlink build` and cargo aliases (`[alias] b = "splitlink
//! build"`) work once `cargo install --path server/splitlink` put both binaries on PATH. This
//! one replaces itself with the `splitlink` installed beside it, without the subcommand's name.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "splitlink") {
        args.remove(0);
    }
    let splitlink = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("splitlink"))).filter(|p| p.is_file());
    let Some(splitlink) = splitlink else {
        eprintln!(
            "error: `splitlink` was not found beside cargo-splitlink: install both with `cargo install --path server/splitlink --locked`"
        );
        return ExitCode::from(101);
    };
    let err = Command::new(&splitlink).args(&args).exec();
    eprintln!("error: could not execute `{}`: {err}", splitlink.display());
    ExitCode::from(101)
}
