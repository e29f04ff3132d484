//! Integration tests: the real `splitlink` binary, real cargo, rustc and linker, on fixture
//! workspaces written from `tests/fixtures/**` files.

mod fixture;
mod engine;
mod differential;
mod warm;
mod fallback;
mod watch;
