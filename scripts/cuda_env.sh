# Sourced, not run: `. scripts/cuda_env.sh [EXTRA_LIB_DIR]`. Puts NVRTC (dlopened by cudarc
# as libnvrtc.so.13/.so/.so.12...) on LD_LIBRARY_PATH -- EXTRA_LIB_DIR first, then the CUDA
# toolkit, then pip's nvidia wheels -- and points CUDA_PATH at the CUDA headers NVRTC needs
# (cuda_fp16.h, mma.h, cccl/) when cubecl would not find them: cubecl reads $CUDA_PATH/include,
# else /usr/local/cuda, /opt/cuda or /usr (when /usr/bin/nvcc exists); failing those, nvcc's
# own tree or the pip wheel's nvidia/cu13. Used by gpu_build.sh's run.sh and home_depot_lease.sh.
_pipnv="$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null || true)"
_dirs="${1:-}"
for _d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
          ${_pipnv:+"$_pipnv/cu13/lib" "$_pipnv/cuda_nvrtc/lib"}; do
    [ -d "$_d" ] && _dirs="$_dirs:$_d"
done
export LD_LIBRARY_PATH="${_dirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${CUDA_PATH:-}" ] && [ ! -e /usr/local/cuda ] && [ ! -e /opt/cuda ] && [ ! -e /usr/bin/nvcc ]; then
    if command -v nvcc >/dev/null; then
        CUDA_PATH="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
    elif [ -n "$_pipnv" ] && [ -e "$_pipnv/cu13/include/cuda_fp16.h" ]; then
        CUDA_PATH="$_pipnv/cu13"
    fi
    [ -n "${CUDA_PATH:-}" ] && export CUDA_PATH
fi
unset _pipnv _dirs _d
