#!/usr/bin/env bash
# What 100 annotated functions add to a debug build (issue 20): four stacked attributes of ours
# per function, against one `#[tracing::instrument(err(Debug))]` per function, each over the same
# 100 plain `async fn`s. Generates three crates in a temporary directory (one target dir, so the
# dependencies build once), times `cargo build` of each crate alone after touching its source,
# RUNS times, and prints the medians and the ratio of what each adds over the plain crate.
#
#   bash benches/compile_time.sh            # RUNS=5 by default
#   RUNS=9 FNS=200 bash benches/compile_time.sh
#   PASSES=1 bash benches/compile_time.sh   # also where each crate's time goes (rustc -Ztime-passes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-5}"
fns="${FNS:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"
export CARGO_INCREMENTAL=0

crate() { # name, dependencies, function body generator
    local name="$1" deps="$2" gen="$3"
    mkdir -p "$work/$name/src"
    cat > "$work/$name/Cargo.toml" <<TOML
[package]
name = "$name"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$deps

[workspace]
TOML
    "$gen" > "$work/$name/src/lib.rs"
}

plain() {
    for i in $(seq 1 "$fns"); do
        echo "pub async fn f$i(x: u64) -> Result<u64, std::io::Error> { Ok(x + $i) }"
    done
}
ours() {
    echo "use resilience::{bulkhead, circuit_breaker, retry, timeout};"
    for i in $(seq 1 "$fns"); do
        echo "#[retry(max_attempts = 3)]"
        echo "#[circuit_breaker(name = \"cb$i\")]"
        echo "#[timeout(ms = 100)]"
        echo "#[bulkhead(max = 10)]"
        echo "pub async fn f$i(x: u64) -> Result<u64, resilience::Error> { Ok(x + $i) }"
    done
}
traced() {
    for i in $(seq 1 "$fns"); do
        echo "#[tracing::instrument(err(Debug))]"
        echo "pub async fn f$i(x: u64) -> Result<u64, std::io::Error> { Ok(x + $i) }"
    done
}

crate plain_fns "" plain
crate ours_fns "resilience = { path = \"$root/resilience\" }" ours
crate traced_fns "tracing = { version = \"0.1\", features = [\"attributes\"] }" traced

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_build() { # crate -> median seconds of a rebuild of that crate alone
    local dir="$work/$1"
    cargo build -q --manifest-path "$dir/Cargo.toml" # dependencies, once
    for _ in $(seq 1 "$runs"); do
        touch "$dir/src/lib.rs"
        local start end
        start=$(date +%s.%N)
        cargo build -q --manifest-path "$dir/Cargo.toml"
        end=$(date +%s.%N)
        awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
    done | median
}

plain_s=$(time_build plain_fns)
ours_s=$(time_build ours_fns)
traced_s=$(time_build traced_fns)
calc() { awk "BEGIN { print $1 }"; }
ours_added=$(calc "$ours_s - $plain_s")
traced_added=$(calc "$traced_s - $plain_s")
printf '%s functions, debug build of the crate alone, median of %s rebuilds\n' "$fns" "$runs"
printf '| crate | seconds | added over plain |\n|---|---:|---:|\n'
printf '| plain async fns | %.2f | – |\n' "$plain_s"
printf '| 4 attributes of ours each | %.2f | %+.2f |\n' "$ours_s" "$ours_added"
printf '| #[tracing::instrument(err(Debug))] each | %.2f | %+.2f |\n' "$traced_s" "$traced_added"
printf 'ratio (ours added / tracing added): %.2f\n' "$(calc "$ours_added / $traced_added")"

# Where the time goes: rustc's own passes for one more build of each crate (wall time of the
# passes, so as noisy as the machine; compare the columns, not the seconds).
if [ -n "${PASSES:-}" ]; then
    printf '\n| crate | type check | borrow check | codegen (MIR to LLVM IR) | LLVM | total |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    for name in plain_fns ours_fns traced_fns; do
        touch "$work/$name/src/lib.rs"
        RUSTC_BOOTSTRAP=1 cargo rustc -q --manifest-path "$work/$name/Cargo.toml" -- -Ztime-passes 2>&1 |
            awk -v name="$name" -F'[ ;\t]+' '
                /\ttype_check_crate$/ { t = $2 } /\tMIR_borrow_checking$/ { b = $2 }
                /\tcodegen_to_LLVM_IR$/ { c = $2 } /\tLLVM_passes$/ { l = $2 } /\ttotal$/ { a = $2 }
                END { printf "| %s | %s | %s | %s | %s | %s |\n", name, t, b, c, l, a }'
    done
fi
