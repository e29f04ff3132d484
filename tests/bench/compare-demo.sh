#!/usr/bin/env bash
# A small side-by-side measurement on the bundled example (not the full benchmark of issue #7):
# identical copies of examples/demo, the same edits applied to both, `splitlink build` and plain
# `cargo build` alternated, N runs per scenario; prints medians and the splitlink/cargo ratio.
# Usage: bash tests/bench/compare-demo.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-7}
cargo build -p splitlink --release --locked -q
S="$PWD/target/release/splitlink"
W="$PWD/target/bench-demo"
rm -rf "$W" && mkdir -p "$W"
cp -r examples/demo "$W/splitlink" && cp -r examples/demo "$W/cargo"
rm -rf "$W"/*/target
(cd "$W/splitlink" && "$S" build -q) && (cd "$W/cargo" && cargo build -q)

ms() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N); echo $(( (b - a) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

edit() { # scenario dir i
    case "$1" in
        touch) touch "$2/app/src/main.rs" "$2/util/src/lib.rs" ;;
        lib-eol) sed -i "s|^pub fn greet(name: &str) -> String {.*|pub fn greet(name: \&str) -> String { // eol $3|" "$2/util/src/lib.rs" ;;
        bin-body) sed -i "s|greet(\"[a-z0-9]*\")|greet(\"run$3\")|" "$2/app/src/main.rs" ;;
    esac
}

printf '%-10s %12s %12s %8s\n' scenario splitlink_ms cargo_ms ratio
for sc in touch lib-eol bin-body; do
    sl=(); cg=()
    for i in $(seq 1 "$RUNS"); do
        edit "$sc" "$W/splitlink" "$i"; sl+=("$(cd "$W/splitlink" && ms "$S" build -q)")
        edit "$sc" "$W/cargo" "$i"; cg+=("$(cd "$W/cargo" && ms cargo build -q)")
    done
    a=$(printf '%s\n' "${sl[@]}" | median); b=$(printf '%s\n' "${cg[@]}" | median)
    printf '%-10s %12s %12s %8s\n' "$sc" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
done
"$W/splitlink/target/debug/app" | head -1
"$W/cargo/target/debug/app" | head -1
