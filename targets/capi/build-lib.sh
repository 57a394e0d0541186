#!/usr/bin/env bash
# Builds the C library for one Rust target and leaves only the dp_* functions global:
#
#   targets/capi/build-lib.sh TARGET      →  $CARGO_TARGET_DIR/TARGET/libdoppler.a (default target/)
#
# A Rust staticlib carries core and compiler-builtins with global symbols (memcpy helpers,
# __aeabi_*, __udivdi3, …) that clash with libgcc or with another Rust library in the same link.
# So the staticlib is linked into one relocatable object (`ld -r`, keeping only what the dp_*
# functions reach: --gc-sections), every symbol but the header's dp_* functions is made local
# (`objcopy --keep-global-symbols`), LLVM's embedded bitcode sections (which merge into invalid
# bitcode) and, unless DOPPLER_KEEP_DEBUG=1, debug info are dropped, and the object is archived
# again. check-symbols.sh then asserts that `nm` shows exactly the header's dp_* functions.
#
# Needs the target's GNU binutils (arm-linux-gnueabihf-*, aarch64-linux-gnu-*, or CROSS_PREFIX).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=cross.sh
. "$here/cross.sh"

if [ $# -ne 1 ]; then
    echo "usage: $0 TARGET   (e.g. armv7-unknown-linux-gnueabihf, aarch64-unknown-linux-gnu)" >&2
    exit 2
fi
target=$1
prefix=$(cross_prefix "$target")
for tool in ld objcopy ar nm; do
    if ! command -v "${prefix}${tool}" >/dev/null; then
        echo "build-lib.sh: ${prefix}${tool} not found (cargo xtask setup installs the cross binutils)" >&2
        exit 2
    fi
done

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
cargo=${CARGO:-cargo}

echo "build-lib.sh: cargo build -p doppler-capi --release --target $target"
(cd "$root" && "$cargo" build -p doppler-capi --release --target "$target")
raw=$target_dir/$target/release/libdoppler.a
[ -f "$raw" ] || { echo "build-lib.sh: $raw was not built" >&2; exit 1; }

work=$target_dir/$target/capi-link
rm -rf "$work"
mkdir -p "$work"
header_functions "$here/include/doppler.h" >"$work/keep.txt"
[ -s "$work/keep.txt" ] || { echo "build-lib.sh: no dp_* functions in doppler.h" >&2; exit 1; }
undef=()
while read -r sym; do undef+=(-u "$sym"); done <"$work/keep.txt"

"${prefix}ld" -r --gc-sections "${undef[@]}" -o "$work/doppler-all.o" --start-group "$raw" --end-group
strip=(--strip-debug)
[ "${DOPPLER_KEEP_DEBUG:-0}" = 1 ] && strip=()
"${prefix}objcopy" --remove-section=.llvmbc --remove-section=.llvmcmd "${strip[@]}" \
    --keep-global-symbols="$work/keep.txt" "$work/doppler-all.o" "$work/doppler.o"

out=$target_dir/$target/libdoppler.a
rm -f "$out"
"${prefix}ar" rcsD "$out" "$work/doppler.o"
echo "build-lib.sh: $out ($(wc -c <"$out") bytes; unfiltered staticlib $(wc -c <"$raw") bytes)"
"$here/check-symbols.sh" "$target" "$out"
