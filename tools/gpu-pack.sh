#!/usr/bin/env bash
# tools/gpu-pack.sh — pack what a bare, offline x86-64 Linux GPU machine needs to
# run `nowt bench` into gpu-pack/ (git-ignored; must stay under 60 MiB so it can
# be carried to the machine). The other half is tools/gpu-run.sh.
#
#   bash tools/gpu-pack.sh
#
# gpu-pack/ then holds:
#   node.xz            this machine's node binary (gzip: node.gz)
#   dawn.node.xz       Dawn's prebuilt N-API addon (node_modules/webgpu/dist/linux-x64)
#   libvulkan1_*.deb   the Vulkan loader (`apt-get download`; else libvulkan.so.1)
#   syslibs.tar.xz     libstdc++/libgcc_s, used only if the target's are too old
#   nowt.tar.xz        package.json, tsconfig.json, bin/ src/ shaders/ tools/ and the
#                      runtime node_modules (deps of package.json "dependencies",
#                      plus @tensorflow/* if installed), without webgpu/dist
#   gpu-run.sh         copy of tools/gpu-run.sh, MANIFEST.txt
#
# Env: NOWT_PACK (output dir, default gpu-pack), NOWT_PACK_COMPRESS=xz|gzip
# (default xz if available), NOWT_PACK_MAX_MIB (default 60),
# NOWT_PACK_EXTRA_MODULES="pkg1 pkg2" (more node_modules packages to include).
# node.xz / dawn.node.xz / the .deb are reused while their sources are unchanged,
# so repacking after editing src/ takes seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACK=${NOWT_PACK:-$ROOT/gpu-pack}
MAX_MIB=${NOWT_PACK_MAX_MIB:-60}
cd "$ROOT"

die() { echo "gpu-pack: error: $*" >&2; exit 1; }
say() { echo "gpu-pack: $*"; }

[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] || die "must run on x86-64 Linux (packs this machine's node binary)"
[[ -f node_modules/webgpu/dist/linux-x64/dawn.node ]] || die "node_modules/webgpu missing; run npm run setup first"

COMP=${NOWT_PACK_COMPRESS:-}
if [[ -z $COMP ]]; then command -v xz >/dev/null && COMP=xz || COMP=gzip; fi
case $COMP in
  xz) EXT=xz; pack_z() { xz -6 -T0 -c; } ;;
  gzip) EXT=gz; pack_z() { gzip -9 -c; } ;;
  *) die "NOWT_PACK_COMPRESS must be xz or gzip" ;;
esac

mkdir -p "$PACK/.stamps"
rm -rf "$PACK/run" # gpu-run.sh's unpack dir, if it was tried here; must not travel
# Drop artifacts of the other compression method.
other=$([[ $EXT == xz ]] && echo gz || echo xz)
rm -f "$PACK"/node."$other" "$PACK"/dawn.node."$other" "$PACK"/nowt.tar."$other" "$PACK"/syslibs.tar."$other"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# compress_cached SRC DEST [FILTER]: compress SRC (run through FILTER IN OUT, if
# given) to DEST unless DEST was made from this exact SRC.
compress_cached() {
  local src=$1 dest=$2 filter=${3:-} stamp
  stamp="$(readlink -f "$src") $(stat -Lc '%s %Y' "$src") $COMP"
  local sf="$PACK/.stamps/$(basename "$dest")"
  if [[ -f $dest && -f $sf && $(cat "$sf") == "$stamp" ]]; then
    say "$(basename "$dest"): unchanged, reused"
    return
  fi
  say "$(basename "$dest"): compressing $src ($COMP) ..."
  if [[ -n $filter ]]; then
    "$filter" "$src" "$tmp/filtered"
    src=$tmp/filtered
  fi
  pack_z <"$src" >"$dest.tmp"
  mv "$dest.tmp" "$dest"
  echo "$stamp" >"$sf"
}

# 1. node binary (resolve nvm/volta-style shims to the real ELF via execPath).
NODE_CMD=$(command -v node) || die "node not on PATH"
NODE_BIN=$("$NODE_CMD" -p process.execPath)
# Stripping its debug info saves ~2 MiB of the pack; dynamic symbols (which
# native addons link against) are kept.
strip_node() { strip -o "$2" "$1" 2>/dev/null && "$2" -e 0 || cp "$1" "$2"; }
compress_cached "$NODE_BIN" "$PACK/node.$EXT" "$(command -v strip >/dev/null && echo strip_node)"

# 2. Dawn.
compress_cached node_modules/webgpu/dist/linux-x64/dawn.node "$PACK/dawn.node.$EXT"

# 3. Vulkan loader: the Debian .deb if apt can fetch it, else the system library.
if compgen -G "$PACK/libvulkan1_*.deb" >/dev/null; then
  say "$(basename "$PACK"/libvulkan1_*.deb): reused"
else
  rm -f "$PACK/libvulkan.so.1"
  if command -v apt-get >/dev/null && (cd "$PACK" && apt-get download libvulkan1 >/dev/null 2>&1) \
    && compgen -G "$PACK/libvulkan1_*.deb" >/dev/null; then
    say "$(basename "$PACK"/libvulkan1_*.deb): downloaded"
  else
    lib=$( (ldconfig -p 2>/dev/null || true) | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
      [[ -n $lib ]] && break
      [[ -e $d/libvulkan.so.1 ]] && lib=$d/libvulkan.so.1
    done
    [[ -n $lib ]] || die "cannot get the Vulkan loader: apt-get download libvulkan1 failed and no libvulkan.so.1 here"
    cp -L "$lib" "$PACK/libvulkan.so.1"
    say "libvulkan.so.1: copied from $lib (apt-get download unavailable)"
  fi
fi

# 4. Fallback C++ runtime (dawn.node needs GLIBCXX_3.4.30 = GCC 12's libstdc++).
mkdir -p "$tmp/syslibs"
for l in libstdc++.so.6 libgcc_s.so.1; do
  p=$(ldd node_modules/webgpu/dist/linux-x64/dawn.node | awk -v l="$l" '$1 == l {print $3}')
  [[ -n $p ]] && cp -L "$p" "$tmp/syslibs/$l"
done
tar -C "$tmp" -cf - syslibs | pack_z >"$PACK/syslibs.tar.$EXT"

# 5. Project + runtime node_modules. The module list is the dependency closure
# (dependencies + installed optional/peer deps) of package.json's "dependencies",
# @tensorflow/* and NOWT_PACK_EXTRA_MODULES, as top-level package directories.
mapfile -t MODS < <(node --input-type=module - <<'EOF'
import fs from 'node:fs';
import path from 'node:path';
const root = process.cwd();
const read = (d) => JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8'));
const nm = path.join(root, 'node_modules');
const seeds = new Set(Object.keys(read(root).dependencies ?? {}));
for (const s of ['webgpu', 'wgsl_reflect', 'tsx']) seeds.add(s);
if (fs.existsSync(path.join(nm, '@tensorflow'))) {
  for (const p of fs.readdirSync(path.join(nm, '@tensorflow'))) seeds.add(`@tensorflow/${p}`);
}
for (const s of (process.env.NOWT_PACK_EXTRA_MODULES ?? '').split(/\s+/).filter(Boolean)) seeds.add(s);
// Node's lookup: <dir>/node_modules/<name>, walking up from the requiring package.
function resolve(name, from) {
  for (let d = from; d.startsWith(root); d = path.dirname(d)) {
    const c = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(c, 'package.json'))) return c;
    if (d === root) break;
  }
  return null;
}
const seen = new Set();
function visit(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const p = read(dir);
  const optional = { ...p.optionalDependencies, ...p.peerDependencies };
  for (const dep of Object.keys({ ...p.dependencies, ...optional })) {
    const d = resolve(dep, dir);
    if (d) visit(d);
    else if (!(dep in optional)) console.error(`gpu-pack: warning: ${p.name} needs ${dep}, not installed`);
  }
}
for (const s of seeds) {
  const d = resolve(s, root);
  if (d) visit(d);
  else console.error(`gpu-pack: warning: ${s} not installed`);
}
// Nested copies live inside their parent's directory, which is packed whole.
const dirs = [...seen].map((d) => path.relative(root, d)).sort();
for (const d of dirs) if (!dirs.some((o) => o !== d && d.startsWith(o + '/'))) console.log(d);
EOF
)
((${#MODS[@]})) || die "no node_modules to pack"
say "node_modules: ${#MODS[@]} packages (${MODS[*]})"

SRC=()
for f in package.json tsconfig.json bin src shaders tools; do [[ -e $f ]] && SRC+=("$f"); done
[[ -e bin/nowt.js ]] || say "warning: bin/nowt.js does not exist yet; gpu-run.sh needs it"
tar -cf - --owner=0 --group=0 --sort=name \
  --exclude=node_modules/webgpu/dist --exclude=node_modules/webgpu/build \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' \
  --exclude='README*' --exclude='CHANGELOG*' --exclude='.cache' \
  "${SRC[@]}" "${MODS[@]}" | pack_z >"$PACK/nowt.tar.$EXT.tmp"
mv "$PACK/nowt.tar.$EXT.tmp" "$PACK/nowt.tar.$EXT"

# 6. The runner and a manifest.
cp tools/gpu-run.sh "$PACK/gpu-run.sh"
{
  echo "nowt gpu pack, made $(date -u +%FT%TZ) on $(hostname)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git status --porcelain 2>/dev/null | grep -q . && echo ' (dirty)')"
  echo "node: $("$NODE_BIN" -v) ($NODE_BIN)"
  echo "webgpu: $(node -p "require('./node_modules/webgpu/package.json').version")"
  echo "modules: ${MODS[*]}"
  echo "run: bash tools/gpu-run.sh [bench args]   (from the repo root, pack in gpu-pack/)"
  echo "  or: bash gpu-pack/gpu-run.sh [bench args]"
} >"$PACK/MANIFEST.txt"

# 7. Size check (everything that travels: all but .stamps/ and run/).
echo "gpu-pack: contents of $PACK:"
find "$PACK" -maxdepth 1 -type f -printf '%s\t%f\n' | sort -rn |
  awk -F'\t' '{ printf "  %8.2f MiB  %s\n", $1 / 1048576, $2 }'
total=$(find "$PACK" -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
printf 'gpu-pack: total %.2f MiB (limit %s MiB)\n' "$(awk -v t="$total" 'BEGIN { print t / 1048576 }')" "$MAX_MIB"
if ((total > MAX_MIB * 1048576)); then
  echo "gpu-pack: error: pack is over ${MAX_MIB} MiB; largest node_modules packages:" >&2
  du -sk "${MODS[@]}" 2>/dev/null | sort -rn | head -8 | awk '{ printf "  %8.1f MiB  %s\n", $1 / 1024, $2 }' >&2
  exit 1
fi
