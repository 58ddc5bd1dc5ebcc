#!/usr/bin/env bash
# Builds adalab with `--features cuda` for real on a machine without a GPU or a system CUDA, and
# prints the path of the (stripped) binary on its last line.
#
#   scripts/cuda-build.sh            # build (compute capability 9.0: H100/H200)
#   scripts/cuda-build.sh --symbols  # also check the binary's cuBLAS/NVRTC imports against the
#                                    # real CUDA 13 libraries (downloads ~600 MB of wheels once)
#
# What it puts together, outside the repository under ${XDG_CACHE_HOME:-~/.cache}/adalab-cuda
# (reused when present):
# * CUDA 13.0's nvcc and headers from PyPI's NVIDIA wheels, pinned to 13.0.x (driver 580 reads
#   PTX up to 9.0; nvvm is pinned too, or pip pulls 13.5's, whose PTX 9.5 that driver rejects);
# * a stand-in `nvidia-smi` reporting the compute capability dfdx's build.rs compiles its
#   kernels for (ADALAB_CUDA_CAP, default 9.0);
# * link-time stand-ins for libcuda.so.1, libcublas.so.13, libcublasLt.so.13 and
#   libnvrtc.so.13 that define every function cudarc declares (the linker drops libraries that
#   define nothing the binary uses). The driver stand-in answers CUDA_ERROR_NO_DEVICE, so the
#   binary also runs here: `LD_LIBRARY_PATH=<stubs> adalab ...` (the script prints <stubs> as
#   `stubs=` on stderr). On a GPU machine the binary loads the real libraries instead.
#
# The binary goes to target/cuda (never target/release): target/cuda/release/adalab, and
# stripped (line tables dropped: 1/6 of the size, to carry it) as target/cuda/adalab.
# Needs: python3 with pip (PyPI reachable on the first run), a C compiler, a stable Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

CUDA_VERSION_PINS=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-cccl==13.0.85
  nvidia-nvvm==13.0.88
)
LIB_PINS=(nvidia-cublas==13.0.2.14 nvidia-cuda-nvrtc==13.0.88)
CAP="${ADALAB_CUDA_CAP:-9.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/adalab-cuda"
WHEELS="$CACHE/wheels-13.0"
ROOT="$CACHE/root-13.0"
STUBS="$ROOT/lib64/stubs"
TARGET_DIR="$PWD/target/cuda"
SYMBOLS=0
for arg in "$@"; do
  case "$arg" in
    --symbols) SYMBOLS=1 ;;
    *) echo "cuda-build: unknown argument '$arg' (expected --symbols)" >&2; exit 2 ;;
  esac
done
case "$CAP" in
  [0-9]*.[0-9]*) ;;
  *) echo "cuda-build: ADALAB_CUDA_CAP must look like 9.0, got '$CAP'" >&2; exit 2 ;;
esac
log() { echo "cuda-build: $*" >&2; }

pip_install() { # <dir> <pins...>
  local dir="$1"; shift
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$*" ]; then
    return
  fi
  log "installing $* into $dir"
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" "$@" >&2
  echo "$*" >"$dir/.complete"
}

# 1. The CUDA 13.0 compiler and headers.
pip_install "$WHEELS" "${CUDA_VERSION_PINS[@]}"
CU="$WHEELS/nvidia/cu13"
[ -x "$CU/bin/nvcc" ] && [ -f "$CU/include/cuda.h" ] || {
  log "the wheels in $WHEELS lack bin/nvcc or include/cuda.h"; exit 1; }

# 2. CUDA_ROOT: the wheels' include/, the stand-ins in lib64/stubs, the stand-in nvidia-smi.
mkdir -p "$ROOT/bin" "$STUBS"
ln -sfn "$CU/include" "$ROOT/include"
cat >"$ROOT/bin/nvidia-smi" <<EOF
#!/bin/sh
# Stand-in for dfdx's build.rs (it asks for --query-gpu=compute_cap --format=csv).
echo compute_cap
echo $CAP
EOF
chmod +x "$ROOT/bin/nvidia-smi"

# cudarc's declarations of each library (the functions the stand-ins define).
CUDARC="$(cargo metadata --format-version 1 --features cuda 2>/dev/null |
  python3 -c 'import json,sys,os
m=json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="cudarc"))')"
[ -f "$CUDARC/src/driver/sys.rs" ] || { log "cudarc's sources not found ($CUDARC)"; exit 1; }
declared() { grep -oE '^\s*pub fn [A-Za-z_0-9]+\(' "$CUDARC/src/$1/sys.rs" | sed -E 's/.*pub fn ([A-Za-z_0-9]+)\(/\1/' | sort -u; }

make_stub() { # <soname> <link name> <sys module> <error code>
  local soname="$1" link="$2" module="$3" code="$4"
  local c="$STUBS/$module.c"
  {
    echo "/* Link-time stand-in for $soname: every function cudarc declares, returning $code. */"
    if [ "$module" = driver ]; then
      cat <<'EOF'
static const char *msg(int e) {
  return e == 100 ? "no CUDA-capable device is detected (adalab's stand-in libcuda.so.1: no NVIDIA driver here)"
                  : "unknown error (adalab's stand-in libcuda.so.1)";
}
int cuGetErrorString(int e, const char **s) { *s = msg(e); return 0; }
int cuGetErrorName(int e, const char **s) { *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0; }
EOF
    fi
    declared "$module" | grep -vxE 'cuGetErrorString|cuGetErrorName' |
      sed "s/.*/int &(void) { return $code; }/"
  } >"$c.new"
  if ! cmp -s "$c.new" "$c" || [ ! -f "$STUBS/$soname" ]; then
    mv "$c.new" "$c"
    cc -shared -fPIC -O1 -Wl,-soname,"$soname" -o "$STUBS/$soname" "$c"
  else
    rm -f "$c.new"
  fi
  ln -sfn "$soname" "$STUBS/$link"
}
make_stub libcuda.so.1 libcuda.so driver 100        # CUDA_ERROR_NO_DEVICE
make_stub libcublas.so.13 libcublas.so cublas 1     # CUBLAS_STATUS_NOT_INITIALIZED
make_stub libcublasLt.so.13 libcublasLt.so cublaslt 1
make_stub libnvrtc.so.13 libnvrtc.so nvrtc 1        # NVRTC_ERROR_OUT_OF_MEMORY
log "stubs=$STUBS"

# 3. A stable toolchain: dfdx's build.rs turns on its broken `nightly` feature under nightly.
if command -v rustup >/dev/null && rustup toolchain list | grep -q '^stable'; then
  export RUSTUP_TOOLCHAIN=stable
fi
if rustc -vV | grep -q nightly; then
  log "rustc is a nightly ($(rustc -V)); dfdx needs a stable one"; exit 1
fi

# 4. The build (dfdx compiles its kernels with nvcc into PTX it embeds).
export CUDA_ROOT="$ROOT" CUDA_COMPUTE_CAP="${CAP/./}"
export PATH="$ROOT/bin:$CU/bin:$PATH"
start=$(date +%s)
cargo build --release --features cuda --target-dir "$TARGET_DIR" >&2
BIN="$TARGET_DIR/release/adalab"
strip -o "$TARGET_DIR/adalab.new" "$BIN"
mv "$TARGET_DIR/adalab.new" "$TARGET_DIR/adalab"
log "built in $(( $(date +%s) - start )) s: $BIN ($(du -h "$BIN" | cut -f1)), stripped $(du -h "$TARGET_DIR/adalab" | cut -f1)"

# 5. Optional: every symbol the binary imports from cuBLAS/NVRTC exists in CUDA 13's libraries
# (cudarc 0.9's bindings come from CUDA 11.8 headers).
if [ "$SYMBOLS" = 1 ]; then
  pip_install "$CACHE/libs-13.0" "${LIB_PINS[@]}"
  LIBS="$CACHE/libs-13.0/nvidia/cu13/lib"
  missing=0
  for lib in libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13; do
    [ -f "$LIBS/$lib" ] || { log "$LIBS/$lib is missing"; exit 1; }
    stub_syms="$(nm -D --defined-only "$STUBS/$lib" | awk '{print $3}' | sort -u)"
    real_syms="$(nm -D --defined-only "$LIBS/$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)"
    used="$(nm -D --undefined-only "$BIN" | awk '{print $2}' | sed 's/@.*//' | sort -u |
      comm -12 - <(echo "$stub_syms"))"
    absent="$(comm -23 <(echo "$used") <(echo "$real_syms") | sed '/^$/d')"
    echo "symbols $lib: binary imports $(echo "$used" | sed '/^$/d' | wc -l) ($(echo $used)); missing in CUDA 13's: ${absent:-none}" >&2
    [ -z "$absent" ] || missing=1
  done
  [ "$missing" = 0 ] || { log "the binary imports symbols CUDA 13 lacks"; exit 1; }
fi
echo "$TARGET_DIR/adalab"
