//! Colour like cargo: `--color auto|always|never` (any command), else `CARGO_TERM_COLOR`; in
//! `auto`, a terminal gets colour unless `NO_COLOR` is set (non-empty). Applied to splitlink's
//! own lines, to the rustc and cargo output it passes on (rendered with colour, stripped when
//! off), and to libtest's output (`--color always|never` for the test binaries).

use clap::ValueEnum;
use std::io::IsTerminal;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal (unless NO_COLOR is set)
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// The choice for this process: the flag, else `CARGO_TERM_COLOR`, else `auto`.
pub fn init(flag: Option<ColorChoice>) {
    let from_env = || match std::env::var("CARGO_TERM_COLOR").ok().as_deref().map(str::trim) {
        Some("always") => Some(ColorChoice::Always),
        Some("never") => Some(ColorChoice::Never),
        Some("auto") => Some(ColorChoice::Auto),
        _ => None,
    };
    let _ = CHOICE.set(flag.or_else(from_env).unwrap_or(ColorChoice::Auto));
}

fn enabled(is_terminal: bool) -> bool {
    decide(CHOICE.get().copied().unwrap_or(ColorChoice::Auto), is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

fn decide(choice: ColorChoice, is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Whether what splitlink writes to stderr is coloured.
pub fn stderr() -> bool {
    enabled(std::io::stderr().is_terminal())
}

/// Whether what splitlink writes to stdout (libtest's output) is coloured.
pub fn stdout() -> bool {
    enabled(std::io::stdout().is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn auto_honours_the_terminal_and_no_color_the_others_do_not() {
        assert!(decide(ColorChoice::Auto, true, None));
        assert!(!decide(ColorChoice::Auto, false, None));
        assert!(!decide(ColorChoice::Auto, true, Some(OsStr::new("1"))));
        assert!(decide(ColorChoice::Auto, true, Some(OsStr::new(""))), "an empty NO_COLOR does not count");
        assert!(decide(ColorChoice::Always, false, Some(OsStr::new("1"))));
        assert!(!decide(ColorChoice::Never, true, None));
    }
}
