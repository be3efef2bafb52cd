#!/usr/bin/env bash
# Build the CUDA (`--features cuda`) test and bench binaries on a machine without network
# access beyond crates.io, and collect them, stripped, into one folder to copy to a GPU host.
#
#   scripts/gpu_build.sh [OUT_DIR]        (default OUT_DIR: $CARGO_TARGET_DIR/gpu-bundle)
#
# Why a patch: burn 0.22.1's `cuda` feature pulls cubecl-cuda 0.11.3, which always depends on
# cubecl-llvm -> llvm-sys 231 / tracel-llvm, whose build script downloads a prebuilt LLVM 23
# from GitHub, and which makes that LLVM backend the default CUDA compiler unless cubecl-cuda's
# `cpp` feature is on. patches/cubecl-cuda is cubecl-cuda 0.11.3 with the LLVM backend taken
# out (CUDA C++ through NVRTC only); see patches/README.md. The patch is applied here with
# `--config patch...`, so Cargo.toml and the default CPU build are untouched; cargo rewrites
# Cargo.lock's cubecl-cuda entry while patched, so the committed Cargo.lock is put back on exit.
#
# Run time (cudarc loads everything with dlopen; nothing CUDA is linked): the NVIDIA driver's
# libcuda.so.1 (and libnvidia-ml.so.1, optional), and NVRTC -- libnvrtc.so.13 (cudarc also
# tries libnvrtc.so, .so.12, .so.11, ...) with its libnvrtc-builtins.so.13.x next to it. The
# lent H100/H200 image has both (driver 580 = CUDA 13.0, CUDA toolkit 13.0, PyTorch cu130's
# nvidia-cuda-nvrtc wheel); OUT_DIR/run.sh puts the usual NVRTC folders on LD_LIBRARY_PATH.
# NVRTC is not bundled by default (libnvrtc.so.13 alone is ~110 MiB); BUNDLE_NVRTC=1 copies
# this machine's pip wheel's, xz-compressed, for a host without one.
#
# CUDARC_CUDA_VERSION (default 13000) picks the CUDA API version cudarc's bindings are built
# for; without it and without nvcc, cudarc falls back to the newest it knows (13.4), newer than
# the GPU host's 13.0 driver. Set it to 12080 etc. for a host with a CUDA 12 driver.
#
# NICE (default "nice -n 19") prefixes every cargo command.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
OUT="${1:-$CARGO_TARGET_DIR/gpu-bundle}"
NICE="${NICE:-nice -n 19}"
PATCH=(--config 'patch.crates-io.cubecl-cuda.path="patches/cubecl-cuda"')

# Keep the committed lockfile: the patched resolution differs in one entry (cubecl-cuda's source).
LOCK_BACKUP="$(mktemp)"
MSGS="$(mktemp)"
cp Cargo.lock "$LOCK_BACKUP"
cleanup() { cp "$LOCK_BACKUP" Cargo.lock; rm -f "$LOCK_BACKUP" "$MSGS"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# One cargo invocation, so burn's features are unified once (two invocations with different
# package sets build the whole burn/cubecl stack twice). `taosr1/cuda` = `burn/cuda`, which
# makes burn's `Device::default()` CUDA device 0 in the model crate's tests too (the model
# crate has no `cuda` feature of its own; BURN_DEVICE=flex still selects the CPU), and
# `taosr1::backend::device()` cuda:0 in the benches. Benches are built in the release profile
# here (what `cargo bench` uses, through `bench` inheriting `release`); run them with `--bench`.
$NICE cargo test --release --no-run -p taosr1-model -p taosr1 --features taosr1/cuda \
    --test golden --test model --bench real_model --bench inference --bench score "${PATCH[@]}" --message-format=json-render-diagnostics > "$MSGS"
rm -rf "$OUT"
mkdir -p "$OUT/bin"
python3 - "$MSGS" "$OUT/bin" <<'PY'
import json, os, shutil, sys
msgs, out = sys.argv[1], sys.argv[2]
seen = set()
for line in open(msgs):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    pkg = m["package_id"].split("#")[-1].split("@")[0].split("/")[-1]
    kind = "bench" if "bench" in t["kind"] else ("lib" if "lib" in t["kind"] else t["kind"][0])
    name = f"{pkg}-{kind}-{t['name']}"
    if pkg == "taosr1" and kind != "bench":
        continue  # the facade's lib unit tests come along with `--lib`; not wanted here
    if name in seen:
        continue
    seen.add(name)
    shutil.copy2(m["executable"], os.path.join(out, name))
PY
strip --strip-all "$OUT"/bin/*
# ~50 MiB each stripped (burn + cubecl kernels, flex and CUDA); xz brings each to ~7 MiB.
# run.sh unpacks them on first use.
for f in "$OUT"/bin/*; do xz -T2 -6 "$f"; done

# Optionally NVRTC from this machine's pip wheel (nvidia-cuda-nvrtc, CUDA 13), xz-compressed.
if [ "${BUNDLE_NVRTC:-0}" = 1 ]; then
    NV="$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')"
    mkdir -p "$OUT/lib"
    for f in "$NV"/cu13/lib/libnvrtc.so.* "$NV"/cu13/lib/libnvrtc-builtins.so.*; do
        xz -T2 -9 -c "$f" > "$OUT/lib/$(basename "$f").xz"
    done
fi

cat > "$OUT/run.sh" <<'SH'
#!/usr/bin/env bash
# Run one bundled binary on a CUDA host: ./run.sh bin/<name> [args...]
#   ./run.sh bin/taosr1-model-test-model            (a test binary; --test-threads=1 etc. work)
#   ./run.sh bin/taosr1-bench-inference --bench     (a criterion bench)
# The first call unpacks bin/*.xz (needs xz).
# NVRTC (dlopened by cudarc as libnvrtc.so.13/.so/.so.12...) is looked for in the bundle's lib/
# (unpacking lib/*.xz), the CUDA toolkit, then pip's nvidia wheels. NVRTC also needs the CUDA
# headers (cuda_fp16.h, mma.h, cccl/): cubecl reads $CUDA_PATH/include, else /usr/local/cuda,
# /opt/cuda or /usr (when /usr/bin/nvcc exists); failing those, the pip wheel's nvidia/cu13.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for f in "$HERE"/bin/*.xz "$HERE"/lib/*.xz; do
    [ -e "$f" ] && [ ! -e "${f%.xz}" ] && xz -dk "$f"
done
. "$HERE/cuda_env.sh" "$HERE/lib"
exec "$@"
SH
chmod +x "$OUT/run.sh"
cp scripts/cuda_env.sh "$OUT/cuda_env.sh"
ls -l "$OUT"/bin
echo "bundle: $OUT ($(du -sh "$OUT" | cut -f1))"
