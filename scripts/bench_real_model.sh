#!/usr/bin/env bash
# SmolLM2-135M speed, this crate against PyTorch eager, on the same machine in one run.
#
#   scripts/bench_real_model.sh            (from the repository root; needs torch + transformers)
#
# Runs scripts/bench_pytorch.py (2 threads) and `cargo bench --bench real_model` (flex, whose
# rayon pool uses every core: 2 here) back to back, then prints each cell and the ratio
# (ours / PyTorch for rates, PyTorch / ours for times: > 1 means we are faster). The machine
# load before each side is printed too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "load before PyTorch: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/bench_pytorch.py --threads 2 --reps 5 2>/dev/null | tail -1 > target/bench_pytorch.json
cat target/bench_pytorch.json
echo "load before burn: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --bench real_model 2>&1 | grep -E "^smollm2|time:" || true
python3 - <<'PY'
import json
pt = json.load(open("target/bench_pytorch.json"))
def median_ns(name):
    est = json.load(open(f"target/criterion/smollm2_135m/{name}/new/estimates.json"))
    return est["median"]["point_estimate"]
prefill = median_ns("prefill_128") / 1e6
b1 = 64 / (median_ns("decode_b1_64") / 1e9)
b8 = 64 * 8 / (median_ns("decode_b8_64") / 1e9)
train = median_ns("train_step_4x128") / 1e9
rows = [
    ("prefill 128 tokens (ms)", pt["prefill_128_ms"], prefill, pt["prefill_128_ms"] / prefill),
    ("decode batch 1 (tok/s)", pt["decode_b1_tok_s"], b1, b1 / pt["decode_b1_tok_s"]),
    ("decode batch 8 (tok/s)", pt["decode_b8_tok_s"], b8, b8 / pt["decode_b8_tok_s"]),
    ("train step 4x128 (s)", pt["train_step_s"], train, pt["train_step_s"] / train),
]
print(f"{'cell':28} {'PyTorch':>10} {'taosr1':>10} {'ratio':>7}")
for name, a, b, r in rows:
    print(f"{name:28} {a:10.2f} {b:10.2f} {r:7.2f}")
PY
