//! A small library used by the demo binary.

/// A greeting for `name`.
pub fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

/// The sum of the first `n` squares.
pub fn sum_of_squares(n: u64) -> u64 {
    (1..=n).map(|i| i * i).sum()
}
