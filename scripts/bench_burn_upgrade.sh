#!/usr/bin/env bash
# CPU speed of the burn 0.21 (ndarray) -> 0.22 (flex) upgrade, as ratios.
#
# Runs the `train_step` criterion bench (SFT step of the tiny pipeline model, forward+backward of
# a SmolLM2-135M-shaped model on 128 tokens, 1024^3 f32 matmul) on both sides back to back, on
# the same machine state, and prints a markdown table of the medians and speed-ups, the matmul
# GFLOP/s and their fraction of the machine's theoretical f32 peak.
#
#   scripts/bench_burn_upgrade.sh [BEFORE_COMMIT]
#
# BEFORE_COMMIT defaults to the newest commit of HEAD's history that still pins burn =0.21.0.
# The "before" side is a detached git worktree (default /work/before, created if missing) with
# scripts/train_step_burn021.rs copied in as benches/train_step.rs; the "after" side is this
# work tree. Each side builds in its own target directory.
#
# Environment: BEFORE_DIR, BEFORE_TARGET, AFTER_TARGET (paths), BENCH_ARGS (extra criterion
# arguments, e.g. BENCH_ARGS=--quick for a smoke run).
set -euo pipefail

MAIN=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BEFORE=${BEFORE_DIR:-/work/before}
BEFORE_TARGET=${BEFORE_TARGET:-/tmp/bench-before-target}
AFTER_TARGET=${AFTER_TARGET:-/tmp/bench-after-target}
read -r -a EXTRA <<<"${BENCH_ARGS:-}"
BENCHES=(sft_step_tiny fwd_bwd_135m_128tok matmul_f32_1024)

# --- the "before" commit -------------------------------------------------------------------
if [[ $# -ge 1 ]]; then
    COMMIT=$(git -C "$MAIN" rev-parse --verify "$1^{commit}")
else
    # `log -S` finds the commit that last changed the number of '=0.21.0' in Cargo.toml: if the
    # pin is still there at HEAD that commit only introduced it and HEAD itself is the newest
    # burn 0.21 commit; otherwise that commit removed it (the upgrade) and its parent is.
    if git -C "$MAIN" show HEAD:Cargo.toml | grep -q '=0\.21\.0'; then
        COMMIT=$(git -C "$MAIN" rev-parse HEAD)
    else
        PIN=$(git -C "$MAIN" log --format=%H -1 -S'=0.21.0' -- Cargo.toml)
        [[ -n $PIN ]] || { echo "no commit pins burn =0.21.0; pass one as \$1" >&2; exit 1; }
        COMMIT=$(git -C "$MAIN" rev-parse "$PIN^")
    fi
fi
git -C "$MAIN" show "$COMMIT:Cargo.toml" | grep -q '=0\.21\.0' ||
    echo "warning: $COMMIT does not pin burn =0.21.0" >&2

# --- the "before" worktree -----------------------------------------------------------------
if [[ ! -e $BEFORE/.git ]]; then
    git -C "$MAIN" worktree prune
    git -C "$MAIN" worktree add --detach "$BEFORE" "$COMMIT"
elif [[ $(git -C "$BEFORE" rev-parse HEAD) != "$COMMIT" ]]; then
    # a throwaway worktree: drop the bench registration and move it to the wanted commit
    git -C "$BEFORE" checkout --quiet --force --detach "$COMMIT"
fi
cp "$MAIN/scripts/train_step_burn021.rs" "$BEFORE/benches/train_step.rs"
if ! grep -q '^name = "train_step"' "$BEFORE/Cargo.toml"; then
    python3 - "$BEFORE/Cargo.toml" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
entry = '[[bench]]\nname = "train_step"\nharness = false\n'
anchor = '[[bench]]\nname = "inference"\nharness = false\n'
s = s.replace(anchor, anchor + '\n' + entry) if anchor in s else s.rstrip('\n') + '\n\n' + entry
open(p, 'w').write(s)
EOF
fi
grep -q '^name = "train_step"' "$MAIN/Cargo.toml" ||
    { echo "$MAIN/Cargo.toml has no [[bench]] train_step entry" >&2; exit 1; }

# --- build both --------------------------------------------------------------------------
echo "== building before ($BEFORE @ ${COMMIT:0:12}, target $BEFORE_TARGET)" >&2
(cd "$BEFORE" && CARGO_TARGET_DIR=$BEFORE_TARGET cargo bench --bench train_step --no-run)
echo "== building after ($MAIN, target $AFTER_TARGET)" >&2
(cd "$MAIN" && CARGO_TARGET_DIR=$AFTER_TARGET cargo bench --bench train_step --no-run)

# --- run both back to back -----------------------------------------------------------------
LOAD_BEFORE=$(uptime)
rm -rf "$BEFORE_TARGET/criterion/train_step" "$AFTER_TARGET/criterion/train_step"
echo "== running before" >&2
(cd "$BEFORE" && CARGO_TARGET_DIR=$BEFORE_TARGET cargo bench --bench train_step -- "${EXTRA[@]}") >&2
echo "== running after" >&2
(cd "$MAIN" && CARGO_TARGET_DIR=$AFTER_TARGET cargo bench --bench train_step -- "${EXTRA[@]}") >&2
LOAD_AFTER=$(uptime)

# --- machine peak ----------------------------------------------------------------------------
MODEL=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
FLAGS=$(lscpu | sed -n 's/^Flags:[[:space:]]*//p')
CORES=$(nproc)
MHZ=$(lscpu | sed -n 's/^CPU max MHz:[[:space:]]*//p' | head -1)
[[ -n $MHZ ]] || MHZ=$(lscpu | sed -n 's/^CPU MHz:[[:space:]]*//p' | head -1)
[[ -n $MHZ ]] || MHZ=$(sed -n 's/^cpu MHz[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
has() { [[ " $FLAGS " == *" $1 "* ]]; }
if has avx512f && has fma; then
    FPC=64; ISA="AVX-512 + FMA: 2 FMA units x 16 f32 lanes x 2 FLOP"
elif has avx2 && has fma; then
    FPC=32; ISA="AVX2 + FMA: 2 FMA units x 8 f32 lanes x 2 FLOP"
elif has avx; then
    FPC=16; ISA="AVX without FMA: 1 add + 1 mul unit x 8 f32 lanes"
else
    FPC=8; ISA="SSE: 1 add + 1 mul unit x 4 f32 lanes"
fi
VENDOR=$(lscpu | sed -n 's/^Vendor ID:[[:space:]]*//p' | head -1)
FAMILY=$(lscpu | sed -n 's/^CPU family:[[:space:]]*//p' | head -1)

# --- report ----------------------------------------------------------------------------------
python3 - "$BEFORE_TARGET" "$AFTER_TARGET" "$CORES" "$MHZ" "$FPC" "$ISA" "$MODEL" \
    "$VENDOR" "$FAMILY" "${COMMIT:0:12}" "$(git -C "$MAIN" rev-parse --short=12 HEAD)" \
    "$LOAD_BEFORE" "$LOAD_AFTER" "${BENCHES[@]}" <<'EOF'
import json, sys
(before_t, after_t, cores, mhz, fpc, isa, model, vendor, family, c_before, c_after,
 load_before, load_after, *benches) = sys.argv[1:]
cores, ghz, fpc = int(cores), float(mhz) / 1000.0, int(fpc)

def median_ns(target, name):
    p = f"{target}/criterion/train_step/{name}/new/estimates.json"
    return json.load(open(p))["median"]["point_estimate"]

def fmt(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"

med = {b: (median_ns(before_t, b), median_ns(after_t, b)) for b in benches}
print(f"before: burn 0.21 ndarray @ {c_before}; after: burn 0.22 flex @ {c_after} "
      "(+ uncommitted work tree changes, if any)\n")
print("| bench | burn 0.21 ndarray (median) | burn 0.22 flex (median) | speed-up (before/after) |")
print("|---|---:|---:|---:|")
for b, (x, y) in med.items():
    print(f"| train_step/{b} | {fmt(x)} | {fmt(y)} | {x / y:.2f}x |")

peak = cores * ghz * fpc
n = 1024
print()
print(f"CPU: {model} ({vendor}, family {family}), {cores} cores @ {ghz:.3f} GHz")
print(f"theoretical f32 peak = {cores} cores x {ghz:.3f} GHz x {fpc} FLOP/cycle = "
      f"{peak:.1f} GFLOP/s (assumes {isa}; base/reported clock, no turbo)")
zen4 = vendor == "AuthenticAMD" and family == "25" and fpc == 64
if zen4:
    alt = cores * ghz * 32
    print(f"note: AMD family 25 with AVX-512 (Zen 4) runs AVX-512 as two 256-bit halves, so its real FMA "
          f"throughput is 32 FLOP/cycle/core: peak {alt:.1f} GFLOP/s")
print()
print("| matmul 1024^3 f32 | GFLOP/s | % of peak" + (" | % of 32-FLOP/cycle peak |" if zen4 else " |"))
print("|---|---:|---:|" + ("---:|" if zen4 else ""))
for side, i in (("burn 0.21 ndarray", 0), ("burn 0.22 flex", 1)):
    gf = 2 * n**3 / med["matmul_f32_1024"][i]  # FLOP per ns = GFLOP/s
    row = f"| {side} | {gf:.1f} | {100 * gf / peak:.1f}% |"
    if zen4:
        row += f" {100 * gf / alt:.1f}% |"
    print(row)
print()
print(f"load before runs: {load_before.strip()}")
print(f"load after runs:  {load_after.strip()}")
EOF
