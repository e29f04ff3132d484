//! Integration tests: the real `splitlink` binary, real cargo, rustc and linker, on fixture
//! workspaces written from `tests/fixtures/**` files.

mod conventions;
mod differential;
mod engine;
mod fallback;
mod fastdebug;
mod fixture;
mod jobs;
mod testloop;
mod warm;
mod watch;
