#!/usr/bin/env bash
# Load test of the HTTP scoring service (issue 11): `serve --http` on loopback with
# `--max-batch 1` (no batching) and `--max-batch 32`, each under 1, 8 and 32 concurrent
# clients (examples/loadtest.rs), stopped with SIGTERM; prints a markdown table.
#
#   scripts/load_test.sh
#
# Settings (environment):
#   MODEL         checkpoint to serve [runs/grpo, else runs/sft; trains a small one into
#                 runs/sft with `examples/sft` when neither holds a model.safetensors]
#   BATCHES       --max-batch values              ["1 32"]
#   CLIENTS       concurrent clients              ["1 8 32"]
#   REQUESTS      requests per client             [200]
#   ITEMS         items per request               [1]
#   MAX_WAIT_MS   --max-wait-ms                   [5]
#   THINK_BUDGET  --think-budget                  [48, serve's default]
#   MAX_SECONDS   bound of one load-test run (no new request after it)  [20]
#   CARGO_TARGET_DIR  where cargo builds          [target]
#
# Every run's JSON line is kept in $OUT (default runs/load_test.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

BATCHES=${BATCHES:-"1 32"}
CLIENTS=${CLIENTS:-"1 8 32"}
REQUESTS=${REQUESTS:-200}
ITEMS=${ITEMS:-1}
MAX_WAIT_MS=${MAX_WAIT_MS:-5}
THINK_BUDGET=${THINK_BUDGET:-48}
MAX_SECONDS=${MAX_SECONDS:-20}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-runs/load_test.jsonl}

echo "building (release) ..." >&2
cargo build --release --quiet --example serve --example loadtest --example sft
BIN="$TARGET/release/examples"

if [[ -z "${MODEL:-}" ]]; then
    for dir in runs/grpo runs/sft; do
        if [[ -f "$dir/model.safetensors" ]]; then
            MODEL=$dir
            break
        fi
    done
fi
if [[ -z "${MODEL:-}" ]]; then
    MODEL=runs/sft
    echo "no checkpoint found: training a small one into $MODEL ..." >&2
    "$BIN/sft" --out "$MODEL" --eval 20 >&2
fi
echo "model: $MODEL" >&2

mkdir -p "$(dirname "$OUT")"
: >"$OUT"
LOG=$(mktemp)
SERVER=""
cleanup() {
    if [[ -n "$SERVER" ]] && kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -f "$LOG"
}
trap cleanup EXIT

# the value of a number field of a one-line JSON object
field() { sed -E "s/.*\"$1\":([^,}]*).*/\1/" <<<"$2"; }

ROWS=()
for batch in $BATCHES; do
    "$BIN/serve" --http 127.0.0.1:0 --model "$MODEL" --max-batch "$batch" \
        --max-wait-ms "$MAX_WAIT_MS" --think-budget "$THINK_BUDGET" 2>"$LOG" &
    SERVER=$!
    addr=""
    for _ in $(seq 1 600); do
        addr=$(sed -nE 's/.*listening on http:\/\/([^ ]+).*/\1/p' "$LOG" | head -n1)
        [[ -n "$addr" ]] && break
        kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
        sleep 0.1
    done
    [[ -n "$addr" ]] || { echo "serve did not start" >&2; cat "$LOG" >&2; exit 1; }
    echo "serve --max-batch $batch on $addr" >&2
    for clients in $CLIENTS; do
        line=$("$BIN/loadtest" --url "http://$addr/v1/score" --clients "$clients" \
            --requests-per-client "$REQUESTS" --items-per-request "$ITEMS" \
            --max-seconds "$MAX_SECONDS")
        echo "$line" | sed -E "s/^\{/{\"max_batch\":$batch,/" >>"$OUT"
        ROWS+=("$(printf '| %s | %s | %s | %s | %.1f | %.1f | %.1f |' "$batch" "$clients" \
            "$(field requests "$line")" "$(field errors "$line")" "$(field p50_ms "$line")" \
            "$(field p99_ms "$line")" "$(field items_per_s "$line")")")
    done
    kill -TERM "$SERVER"
    if wait "$SERVER"; then
        grep -q "shut down" "$LOG" || { echo "no clean shutdown" >&2; cat "$LOG" >&2; exit 1; }
        echo "  stopped cleanly on SIGTERM" >&2
    else
        echo "serve exited with an error on SIGTERM" >&2
        cat "$LOG" >&2
        exit 1
    fi
    SERVER=""
done

echo
echo "model $MODEL, $ITEMS item(s)/request, $REQUESTS requests/client (at most ${MAX_SECONDS}s per run), --max-wait-ms $MAX_WAIT_MS, --think-budget $THINK_BUDGET, $(nproc) CPU cores"
echo
echo "| --max-batch | clients | requests | errors | p50 ms | p99 ms | items/s |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
