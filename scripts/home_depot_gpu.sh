#!/usr/bin/env bash
# The GPU-sized Home Depot staircase: every stage of examples/home_depot on burn's CUDA
# backend, with a training subset and the full test split that a CPU cannot afford.
#
#   scripts/home_depot_gpu.sh MODEL_DIR [OUT_DIR]      (default OUT_DIR: runs/home-depot-gpu)
#
# MODEL_DIR is a Hugging Face folder (SmolLM2-135M-Instruct, or a larger Qwen2.5/Qwen3/Llama
# checkpoint where the GPU has room). The build uses the same cubecl-cuda patch as
# scripts/gpu_build.sh (NVRTC only, no LLVM download); the committed Cargo.lock is put back on
# exit. Needs the NVIDIA driver and NVRTC at run time (see gpu_build.sh). Resumable: rerunning
# skips the stages whose OUT_DIR/STAGE/eval.json exists.
#
# Sizes (override through the environment): PROBE_QUERIES=2000 (label-probe's rows),
# TRAIN_QUERIES=2000 (12 324 rows, a fifth of the training split's 59 258; a uniform sample:
# the example's --query-order is `key`), VALIDATION_QUERIES=100000 (all 1 180 validation
# queries, 7 586 rows: cuts fitted there gave +0.005 test macro-F1 over 1 945 rows,
# docs/RESULTS.md, sixteenth session), TEST_QUERIES=100000 (all 1 180 test queries,
# 7 223 rows), EPOCHS=2, LR=5e-5, BATCH=16, DPO_PROMPTS=512, GRPO_STEPS=60, VAL_ROWS=256 scored
# every VAL_EVERY=50 steps, BETA_ROWS= (empty: every validation row fits the deployed cuts and
# CumPT's beta: on 300 rows the cuts cost 0.015 test macro-F1, docs/RESULTS.md, tenth session),
# SAVE_DTYPE=bf16 (checkpoints at half the size of f32), SFT_LOSS=response
# (or grade, grade-among-grades), CLASS_BALANCED= (1 adds --class-balanced),
# PROMPT_EVIDENCE= (1 adds --prompt-evidence).
#
# MODEL_DIR may also be a .gguf file. Status: the CPU run of the same binary is in
# docs/RESULTS.md; this script's CUDA run has not been made yet. For a GPU lent for minutes
# with 64 MiB per call, use scripts/home_depot_lease.sh (prebuilt binary, GGUF in two parts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL="${1:?usage: scripts/home_depot_gpu.sh MODEL_DIR [OUT_DIR]}"
OUT="${2:-runs/home-depot-gpu}"
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
PATCH=(--config 'patch.crates-io.cubecl-cuda.path="patches/cubecl-cuda"')

LOCK_BACKUP="$(mktemp)"
cp Cargo.lock "$LOCK_BACKUP"
trap 'cp "$LOCK_BACKUP" Cargo.lock; rm -f "$LOCK_BACKUP"' EXIT

cargo build --release --features cuda --example home_depot "${PATCH[@]}"
BIN="${CARGO_TARGET_DIR:-target}/release/examples/home_depot"

"$BIN" --model "$MODEL" --out "$OUT" \
    --data "${DATA:-../shared/data/home-depot-search-relevance/train_utf8.csv}" \
    --stages zero-shot,label-probe,sft-labels,sft-cot,dpo,grpo \
    --train-queries "${TRAIN_QUERIES:-2000}" --probe-queries "${PROBE_QUERIES:-2000}" \
    --validation-queries "${VALIDATION_QUERIES:-100000}" \
    --test-queries "${TEST_QUERIES:-100000}" \
    --epochs "${EPOCHS:-2}" --lr "${LR:-5e-5}" --batch-size "${BATCH:-16}" \
    --sft-loss "${SFT_LOSS:-response}" ${CLASS_BALANCED:+--class-balanced} \
    ${PROMPT_EVIDENCE:+--prompt-evidence} \
    --eval-batch 64 --dpo-prompts "${DPO_PROMPTS:-512}" --dpo-n 8 \
    --grpo-steps "${GRPO_STEPS:-60}" --grpo-group 8 --grpo-prompts 8 --max-new-tokens 96 \
    --val-rows "${VAL_ROWS:-256}" --val-every "${VAL_EVERY:-50}" ${BETA_ROWS:+--beta-rows "$BETA_ROWS"} \
    --save-dtype "${SAVE_DTYPE:-bf16}"
