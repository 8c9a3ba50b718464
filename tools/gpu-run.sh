#!/usr/bin/env bash
# tools/gpu-run.sh — run `nowt bench` on a bare, offline x86-64 Linux GPU machine
# from the pack made by tools/gpu-pack.sh. Needs only bash, tar, and one of
# xz / python3 (for .xz; gzip for a gzip pack); no network, no root.
#
#   bash tools/gpu-run.sh [bench args]          # repo root, pack in gpu-pack/
#   bash gpu-pack/gpu-run.sh [bench args]       # same (the pack holds a copy)
#   bash tools/gpu-run.sh --unpack-only [DIR]   # only unpack + check, no bench
#   bash tools/gpu-run.sh --packed-src [...]    # use the packed src/, not the checkout's
#   bash tools/gpu-run.sh --full                # a lent GPU's whole session, in one go (below)
#
# What it does:
#   1. unpacks node into $RUN/bin (RUN = DIR, $NOWT_RUN_DIR or gpu-pack/run)
#   2. source: the checkout around the pack if it has package.json, src/ and
#      bin/nowt.js (the packed node_modules are put in its node_modules/ only if
#      webgpu/tsx are missing there); otherwise the packed copy, in $RUN/app
#   3. extracts the Vulkan loader .deb into $RUN/vulkan; LD_LIBRARY_PATH points there
#      (NOWT_VULKAN_LOADER=system skips this and uses the machine's own loader)
#   4. finds the NVIDIA Vulkan ICD json, or writes one for libGLX_nvidia.so.0, and
#      sets VK_ICD_FILENAMES / VK_DRIVER_FILES (left alone if already set)
#   5. node bin/nowt.js info; node bin/nowt.js bench --kernels --json $OUT/bench.json [args]
#      (OUT defaults to the current directory)
#   --full, instead of 5's bench, everything a lent GPU's session should record, in $OUT:
#      bench.json   nowt bench --kernels --models --convs resnet18 (kernels, whole steps per rule)
#      tuning.json  nowt bench --tune --convs resnet18 --tune-max 4 (tuned vs default)
#      poster/      nowt compare --preset poster --epochs 2 (the GPU preset, shortened), on the
#                   Fashion-MNIST files in $CHECKOUT/.gpu/fashion-mnist if carried there
#                   (`node tools/trim-idx.js` writes a 12.6 MiB one that fits the carry),
#                   else on the synthetic set (said so in its log)
#      torch.json   python3 $CHECKOUT/.gpu/torch_gpu_peer.py (shared/tools: copy it there and carry
#                   .gpu), PyTorch's training throughput on the same GPU in the same run
#      Each step's output goes to $OUT/<step>.log; a failing step is reported and the next runs.
#      NOWT_GPU_RUN_DRY=1 prints the commands instead of running them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n ${NOWT_PACK:-} ]]; then
  PACK=$(cd "$NOWT_PACK" && pwd)
elif compgen -G "$HERE/nowt.tar.*" >/dev/null; then
  PACK=$HERE # this is the copy inside gpu-pack/
else
  PACK=$(cd "$HERE/../gpu-pack" 2>/dev/null && pwd) || {
    echo "gpu-run: no pack at $HERE/../gpu-pack; run tools/gpu-pack.sh first" >&2
    exit 1
  }
fi
CHECKOUT=$(dirname "$PACK")

UNPACK_ONLY=0 PACKED_SRC=0 RUN=${NOWT_RUN_DIR:-}
while (($#)); do
  case $1 in
    --unpack-only)
      UNPACK_ONLY=1
      shift
      if (($#)) && [[ $1 != -* ]]; then
        RUN=$1 PACKED_SRC=1 # a scratch dir: leave the checkout alone
        shift
      fi
      ;;
    --packed-src) PACKED_SRC=1 && shift ;;
    *) break ;;
  esac
done
RUN=${RUN:-$PACK/run}
mkdir -p "$RUN/bin"
RUN=$(cd "$RUN" && pwd)

say() { echo "gpu-run: $*"; }
die() { echo "gpu-run: error: $*" >&2; exit 1; }

# pack_file BASE: the packed file BASE.xz or BASE.gz.
pack_file() {
  local f
  for f in "$PACK/$1.xz" "$PACK/$1.gz"; do [[ -f $f ]] && { echo "$f"; return; }; done
  die "missing $PACK/$1.xz (or .gz); rerun tools/gpu-pack.sh"
}
# unz FILE: decompress FILE to stdout with whatever this machine has.
unz() {
  case $1 in
    *.xz)
      if command -v xz >/dev/null; then xz -dc "$1"
      elif command -v python3 >/dev/null; then
        python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
      elif command -v busybox >/dev/null; then busybox xzcat "$1"
      else die "need xz or python3 to unpack $1 (or repack with NOWT_PACK_COMPRESS=gzip)"
      fi ;;
    *.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
  esac
}
# fresh TARGET SOURCE: true if TARGET is missing or older than SOURCE.
fresh() { [[ ! -e $1 || $2 -nt $1 ]]; }

[[ -n ${XDG_RUNTIME_DIR:-} ]] || {
  export XDG_RUNTIME_DIR=/tmp/nowt-xdg-$(id -u)
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
}

# 1. node.
NODE=$RUN/bin/node
src=$(pack_file node)
if fresh "$NODE" "$src"; then
  unz "$src" >"$NODE.tmp" && chmod +x "$NODE.tmp" && mv "$NODE.tmp" "$NODE"
fi
export PATH="$RUN/bin:$PATH" # for anything that spawns `node`

# The C++ runtime fallback: only if node or dawn.node cannot load with the system's.
use_syslibs() {
  if [[ ! -d $RUN/syslibs ]]; then unz "$(pack_file syslibs.tar)" | tar -xf - -C "$RUN"; fi
  export LD_LIBRARY_PATH="$RUN/syslibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "using the packed libstdc++/libgcc_s ($RUN/syslibs)"
}
"$NODE" -v >/dev/null 2>&1 || use_syslibs
NODE_V=$("$NODE" -v) || die "the packed node does not run here (glibc >= 2.28 needed)"

# 2. Project source and node_modules.
TARBALL=$(pack_file nowt.tar)
if ((PACKED_SRC == 0)) && [[ -f $CHECKOUT/package.json && -d $CHECKOUT/src && -f $CHECKOUT/bin/nowt.js ]]; then
  APP=$CHECKOUT
  stamp=$APP/node_modules/.nowt-gpu-pack
  if [[ ! -f $APP/node_modules/webgpu/index.js || ! -d $APP/node_modules/tsx ]] ||
    { [[ -f $stamp ]] && fresh "$stamp" "$TARBALL"; }; then
    say "unpacking node_modules into $APP/node_modules"
    unz "$TARBALL" | tar -xf - -C "$APP" node_modules
    touch "$stamp"
  fi
else
  APP=$RUN/app
  if fresh "$APP/.nowt-gpu-pack" "$TARBALL"; then
    say "unpacking the packed source and node_modules into $APP"
    rm -rf "$APP" && mkdir -p "$APP"
    unz "$TARBALL" | tar -xf - -C "$APP"
    touch "$APP/.nowt-gpu-pack"
  fi
fi
DAWN=$APP/node_modules/webgpu/dist/linux-x64/dawn.node
src=$(pack_file dawn.node)
if [[ ! -f $DAWN ]] || { [[ -f $APP/node_modules/.nowt-gpu-pack || -f $APP/.nowt-gpu-pack ]] && fresh "$DAWN" "$src"; }; then
  mkdir -p "$(dirname "$DAWN")"
  unz "$src" >"$DAWN.tmp" && mv "$DAWN.tmp" "$DAWN"
fi
load_dawn() { "$NODE" -e 'require(process.argv[1])' "$DAWN" 2>&1; }
if ! err=$(load_dawn); then
  [[ ${LD_LIBRARY_PATH:-} == *"$RUN/syslibs"* ]] || use_syslibs
  err=$(load_dawn) || die "dawn.node does not load (glibc >= 2.34 needed): $err"
fi

# 3. Vulkan loader.
if [[ ${NOWT_VULKAN_LOADER:-pack} == system ]]; then
  say "using the system Vulkan loader"
else
  VK=$RUN/vulkan
  deb=$(compgen -G "$PACK/libvulkan1_*.deb" | head -1 || true)
  if [[ -n $deb ]] && fresh "$VK/.done" "$deb"; then
    rm -rf "$VK" && mkdir -p "$VK"
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$VK"
    else
      # A .deb is an ar archive holding data.tar.{xz,zst,gz}.
      (
        cd "$VK"
        if command -v ar >/dev/null; then
          ar x "$deb"
        else
          python3 - "$deb" <<'EOF'
import sys
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'!<arch>\n', 'not an ar archive'
i = 8
while i + 60 <= len(b):
    name = b[i:i + 16].decode().strip().rstrip('/')
    size = int(b[i + 48:i + 58])
    open(name, 'wb').write(b[i + 60:i + 60 + size])
    i += 60 + size + (size & 1)
EOF
        fi
        data=$(ls data.tar.* 2>/dev/null | head -1)
        case $data in
          *.zst) zstd -dc "$data" | tar -xf - ;;
          *) unz "$data" | tar -xf - ;;
        esac
        rm -f data.tar.* control.tar.* debian-binary
      )
    fi
    touch "$VK/.done"
  elif [[ -z $deb && -f $PACK/libvulkan.so.1 ]]; then
    mkdir -p "$VK/lib" && cp "$PACK/libvulkan.so.1" "$VK/lib/"
  fi
  VKLIB=$(find "$VK" -name 'libvulkan.so.1*' -printf '%h\n' 2>/dev/null | head -1 || true)
  [[ -n $VKLIB ]] || die "no libvulkan.so.1 in the pack"
  export LD_LIBRARY_PATH="$VKLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "vulkan loader: $VKLIB"
fi

# 4. NVIDIA Vulkan ICD.
if [[ -n ${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-} ]]; then
  say "ICD from the environment: ${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}"
else
  icd=$(find /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d \
    -maxdepth 1 -name 'nvidia*.json' 2>/dev/null | head -1 || true)
  if [[ -z $icd ]]; then
    glx=$( (ldconfig -p 2>/dev/null || true) | awk '/libGLX_nvidia\.so\.0 .*x86-64/ {print $NF; exit}')
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
      /usr/lib/nvidia /run/nvidia/driver/usr/lib/x86_64-linux-gnu; do
      [[ -n $glx ]] && break
      [[ -e $d/libGLX_nvidia.so.0 ]] && glx=$d/libGLX_nvidia.so.0
    done
    if [[ -n $glx ]]; then
      icd=$RUN/nvidia_icd.json
      printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "1.3.0" }\n}\n' \
        "$glx" >"$icd"
      say "no NVIDIA ICD json; wrote $icd for $glx"
    fi
  fi
  if [[ -n $icd ]]; then
    export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
    say "vulkan ICD: $icd"
  else
    say "warning: no NVIDIA Vulkan driver found (no nvidia*.json ICD, no libGLX_nvidia.so.0); using whatever the loader finds"
  fi
fi

say "node $NODE_V at $NODE; app $APP"
say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | sed 's/^/gpu-run: /' || true

if ((UNPACK_ONLY)); then
  say "unpack only: done (dawn.node loads; run without --unpack-only to bench)"
  exit 0
fi

# 5. Bench.
OUTDIR=${OUT:-.}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
cd "$APP"
if ! "$NODE" bin/nowt.js info; then
  echo "gpu-run: error: no WebGPU adapter. Rerun with VK_LOADER_DEBUG=error,warn,info and check" >&2
  echo "  that the NVIDIA driver's Vulkan libraries (libGLX_nvidia, libnvidia-glvkspirv, ...) are present:" >&2
  echo "  in containers this needs NVIDIA_DRIVER_CAPABILITIES to include 'graphics' (or 'all')." >&2
  exit 1
fi
if [[ ${1:-} != --full ]]; then
  exec "$NODE" bin/nowt.js bench --kernels --json "$OUTDIR/bench.json" "$@"
fi
shift

# --full: one command per record; a failure is reported and the rest still run.
step() {
  local name=$1
  shift
  say "[$name] $*"
  [[ -n ${NOWT_GPU_RUN_DRY:-} ]] && return 0
  local t0=$SECONDS
  if "$@" >"$OUTDIR/$name.log" 2>&1; then
    say "[$name] done in $((SECONDS - t0)) s"
  else
    say "[$name] failed after $((SECONDS - t0)) s; the end of $OUTDIR/$name.log:"
    tail -n 20 "$OUTDIR/$name.log" | sed 's/^/    /'
  fi
}
DATA=(--dataset synthetic)
if [[ -d $CHECKOUT/.gpu/fashion-mnist ]]; then
  DATA=(--dataset fashion-mnist --data "$CHECKOUT/.gpu/fashion-mnist")
else
  say "no $CHECKOUT/.gpu/fashion-mnist: the poster comparison runs on the synthetic set"
fi
step bench "$NODE" bin/nowt.js bench --kernels --models --convs resnet18 --json "$OUTDIR/bench.json" "$@"
step tune "$NODE" bin/nowt.js bench --tune --convs resnet18 --tune-max 4 --tuning "$OUTDIR/tuning.json"
step poster "$NODE" bin/nowt.js compare --preset poster --epochs 2 "${DATA[@]}" --out "$OUTDIR/poster"
if [[ -f $CHECKOUT/.gpu/torch_gpu_peer.py ]] && command -v python3 >/dev/null; then
  step torch python3 "$CHECKOUT/.gpu/torch_gpu_peer.py" --models resnet18,resnet50,resnet20 --json "$OUTDIR/torch.json"
else
  say "no $CHECKOUT/.gpu/torch_gpu_peer.py (or no python3): no PyTorch peer numbers"
fi
