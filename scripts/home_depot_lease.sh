#!/usr/bin/env bash
# The Home Depot staircase on a leased GPU that takes at most 64 MiB per call: the 94 MB
# SmolLM2 GGUF travels in two parts over two consecutive calls, with a prebuilt CUDA binary.
#
#   scripts/home_depot_lease.sh pack GGUF     here: build the CUDA home_depot (patched cubecl-cuda,
#                                             see gpu_build.sh), split GGUF, pack .lease/a and .lease/b
#   scripts/home_depot_lease.sh stash         there, call 1 (carry .lease/a): keep part 1 and the
#                                             binary in /tmp/lease, and check the binary on CUDA
#                                             with the tiny GGUF fixture
#   scripts/home_depot_lease.sh run           there, call 2 (carry .lease/b): join the GGUF (sha256
#                                             checked), run the staircase, pack the small results
#                                             into $OUT/results.tar.gz
#
# run's sizes come from the environment: STAGES (label-probe,sft-labels), PROBE_QUERIES (1000),
# PROBE_SPACE (logits; hidden for LP-FT), SFT_FROM (base; label-probe for LP-FT), TRAIN_QUERIES (1600),
# MAX_STEPS (700), MAX_TRAIN_MINUTES (4.5), LR (1e-4), BATCH (16), VALIDATION_QUERIES (400),
# VAL_ROWS (256), VAL_EVERY (50), BETA_ROWS (empty: every validation row), TEST_QUERIES
# (100000: all), SFT_LOSS (response; grade, grade-among-grades or grade-distribution, with
# --soft-alpha at its default 0.5), CLASS_BALANCED (empty; 1
# adds --class-balanced), PROMPT_EVIDENCE (empty; 1 adds --prompt-evidence), TIME_LIMIT (whole
# run, seconds: 500). With no GPU time limit, use scripts/home_depot_gpu.sh instead (it builds
# on the GPU host).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LEASE=/tmp/lease

cuda_env() {
    # NVRTC and the CUDA headers, as gpu_build.sh's run.sh finds them
    . scripts/cuda_env.sh
}

case "${1:-}" in
pack)
    GGUF="${2:?usage: home_depot_lease.sh pack GGUF}"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-cuda}"
    export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
    LOCK_BACKUP="$(mktemp)"
    cp Cargo.lock "$LOCK_BACKUP"
    trap 'cp "$LOCK_BACKUP" Cargo.lock; rm -f "$LOCK_BACKUP"' EXIT
    nice -n 10 cargo build --release --features cuda --example home_depot \
        --config 'patch.crates-io.cubecl-cuda.path="patches/cubecl-cuda"'
    rm -rf .lease
    mkdir -p .lease/a .lease/b
    strip --strip-all -o .lease/a/home_depot "$CARGO_TARGET_DIR/release/examples/home_depot"
    xz -T2 -6 .lease/a/home_depot
    # part 1 with the binary in call 1, part 2 with the data in call 2 (each call under 64 MiB
    # with the ~6 MiB working tree)
    head -c 44M "$GGUF" > .lease/a/model.gguf.part1
    tail -c +$((44 * 1024 * 1024 + 1)) "$GGUF" > .lease/b/model.gguf.part2
    sha256sum < "$GGUF" | cut -d' ' -f1 > .lease/b/model.gguf.sha256
    xz -T2 -9 -c ../shared/data/home-depot-search-relevance/train_utf8.csv > .lease/b/train_utf8.csv.xz
    du -sh .lease/a .lease/b
    ;;
stash)
    mkdir -p "$LEASE"
    cp .lease/a/* "$LEASE"/
    xz -d -f "$LEASE/home_depot.xz"
    chmod +x "$LEASE/home_depot"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    cuda_env
    # the binary on CUDA, end to end on the tiny GGUF fixture and a generated CSV
    {
        echo "id,product_uid,product_title,search_term,relevance"
        for q in $(seq 0 39); do
            for p in 0 1 2 3; do
                g=(1 1.67 2.33 3)
                echo "$q-$p,$p,Steel claw hammer $p,hammer $q,${g[$p]}"
            done
        done
    } > "$LEASE/tiny.csv"
    "$LEASE/home_depot" --model crates/taosr1-model/tests/fixtures/gguf/tiny_llama.gguf \
        --data "$LEASE/tiny.csv" --out "$LEASE/tiny-out" --stages zero-shot,sft-labels \
        --train-queries 4 --validation-queries 3 --test-queries 3 --resamples 50 \
        --beta-rows 8 --val-rows 4 --val-every 5 --max-steps 2
    ;;
run)
    cp .lease/b/* "$LEASE"/
    cat "$LEASE/model.gguf.part1" "$LEASE/model.gguf.part2" > "$LEASE/model.gguf"
    [ "$(sha256sum < "$LEASE/model.gguf" | cut -d' ' -f1)" = "$(cat "$LEASE/model.gguf.sha256")" ] \
        || { echo "the joined GGUF's sha256 differs"; exit 1; }
    xz -d -f "$LEASE/train_utf8.csv.xz"
    cuda_env
    RUN="$LEASE/run"
    set +e
    timeout "${TIME_LIMIT:-500}" "$LEASE/home_depot" --model "$LEASE/model.gguf" --out "$RUN" \
        --data "$LEASE/train_utf8.csv" --stages "${STAGES:-label-probe,sft-labels}" \
        --probe-queries "${PROBE_QUERIES:-1000}" --probe-space "${PROBE_SPACE:-logits}" \
        --sft-from "${SFT_FROM:-base}" --sft-loss "${SFT_LOSS:-response}" \
        ${CLASS_BALANCED:+--class-balanced} \
        ${PROMPT_EVIDENCE:+--prompt-evidence} \
        --train-queries "${TRAIN_QUERIES:-1600}" --validation-queries "${VALIDATION_QUERIES:-400}" \
        --test-queries "${TEST_QUERIES:-100000}" --epochs 1 --max-steps "${MAX_STEPS:-700}" \
        --max-train-minutes "${MAX_TRAIN_MINUTES:-4.5}" --lr "${LR:-1e-4}" \
        --batch-size "${BATCH:-16}" --eval-batch 64 --val-rows "${VAL_ROWS:-256}" \
        --val-every "${VAL_EVERY:-50}" ${BETA_ROWS:+--beta-rows "$BETA_ROWS"} --save-dtype bf16
    echo "home_depot exit status: $?"
    set -e
    nvidia-smi --query-gpu=name,memory.used --format=csv,noheader || true
    if [ -n "${OUT:-}" ]; then
        (cd "$RUN" && find . -path './*/model' -prune -o -type f -print | tar -czf "$OUT/results.tar.gz" -T -)
        ls -l "$OUT"
    fi
    ;;
*)
    sed -n 2,18p "$0"
    exit 2
    ;;
esac
