#!/usr/bin/env bash
# Writes the editor tests' fixture workspace into DIR (the same as tests/editors/lib.mjs's): `app`
# (a bin) depends on `ffi`, whose `call_it` calls an extern "C" function defined nowhere (line 6
# of ffi/src/lib.rs), so calling it from app/src/main.rs line 2 fails the link.
# Usage: bash tests/editors/ffi-workspace.sh DIR
set -euo pipefail
ws="$1"
mkdir -p "$ws/app/src" "$ws/ffi/src"
printf '[workspace]\nresolver = "2"\nmembers = ["app", "ffi"]\n' > "$ws/Cargo.toml"
printf '[package]\nname = "ffi"\nversion = "0.1.0"\nedition = "2021"\n' > "$ws/ffi/Cargo.toml"
printf 'unsafe extern "C" {\n    fn not_defined_anywhere(x: i32) -> i32;\n}\n\npub fn call_it(x: i32) -> i32 {\n    unsafe { not_defined_anywhere(x) }\n}\n\npub fn fine() -> i32 {\n    5\n}\n' > "$ws/ffi/src/lib.rs"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nffi = { path = "../ffi" }\n' > "$ws/app/Cargo.toml"
printf 'fn main() {\n    println!("{}", ffi::fine());\n}\n' > "$ws/app/src/main.rs"
