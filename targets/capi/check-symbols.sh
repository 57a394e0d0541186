#!/usr/bin/env bash
# Asserts that a filtered libdoppler.a defines exactly the header's dp_* functions as globals
# and leaves no Rust-internal symbol unresolved.
#
#   targets/capi/check-symbols.sh TARGET [LIB]   (LIB defaults to $CARGO_TARGET_DIR/TARGET/libdoppler.a)
#
# Prints `nm -g --defined-only` and the undefined symbols (what the final link must supply:
# libc's mem* functions and libgcc's unwinder entry points); exits non-zero on a violation.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=cross.sh
. "$here/cross.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 TARGET [LIB]" >&2
    exit 2
fi
target=$1
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
lib=${2:-$target_dir/$target/libdoppler.a}
prefix=$(cross_prefix "$target")
nm=${prefix}nm

echo "\$ $nm -g --defined-only $(basename "$lib")"
defined=$("$nm" -g --defined-only "$lib")
printf '%s\n' "$defined" | sed '/^$/d'
undefined=$("$nm" -u "$lib" | awk 'NF == 2 { print $2 }' | sort -u)
echo "undefined (supplied by the final link): $(printf '%s' "$undefined" | tr '\n' ' ')"

fail=0
globals=$(printf '%s\n' "$defined" | awk 'NF == 3 { print $3 }' | sort -u)
others=$(printf '%s\n' "$globals" | grep -v '^dp_' || true)
if [ -n "$others" ]; then
    echo "check-symbols: FAIL: globals other than dp_*: $(printf '%s' "$others" | tr '\n' ' ')"
    fail=1
fi
expected=$(header_functions "$here/include/doppler.h")
if [ "$globals" != "$expected" ]; then
    echo "check-symbols: FAIL: the dp_* globals differ from doppler.h's functions:"
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$globals") || true
    fail=1
fi
rusty=$(printf '%s\n' "$undefined" | grep -E '^(_ZN|_R[A-Z]|rust_|__rust)' || true)
if [ -n "$rusty" ]; then
    echo "check-symbols: FAIL: Rust-internal symbols left undefined: $(printf '%s' "$rusty" | tr '\n' ' ')"
    fail=1
fi
if [ $fail = 0 ]; then
    echo "check-symbols: ok: $(printf '%s\n' "$globals" | wc -l) global symbols, all dp_* and all declared in doppler.h"
fi
exit $fail
