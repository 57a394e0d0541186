#!/usr/bin/env bash
# Count guest instructions retired inside doppler_window_start/doppler_window_end windows.
#
#   qemu-tests/count.sh [options] BINARY [ARGS...]
#
# BINARY is an armv7 (EABI hard-float) or aarch64 Linux ELF; it runs under qemu-arm -cpu cortex-a9
# or qemu-aarch64 -cpu cortex-a53 with the doppler-qemu-count plugin. The guest's stdout/stderr
# pass through untouched; the plugin's report (`window N: COUNT` lines and `total: ...`) goes to
# stderr after the run, and to FILE with -o. The exit status is the guest's (124 on timeout).
# Usable as a cargo `runner` (the binary comes first).
#
# Options:
#   -o, --out FILE     also write the report to FILE
#   --cpu CPU          QEMU CPU model (default: cortex-a9 for ARM, cortex-a53 for AArch64;
#                      env DOPPLER_QEMU_CPU)
#   --start SYM        start marker symbol (default doppler_window_start)
#   --end SYM          end marker symbol (default doppler_window_end)
#   -q, --quiet        do not print the report to stderr (use with -o)
# Environment:
#   DOPPLER_QEMU_PLUGIN      path of libdoppler_qemu_count.so (default: built on demand, below)
#   DOPPLER_QEMU_TARGET_DIR  cargo target dir for building the plugin (default qemu-tests/target)
#   DOPPLER_QEMU_TIMEOUT     seconds before the run is killed (default 600)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "count.sh: $*" >&2; exit 2; }

out_copy="" cpu="${DOPPLER_QEMU_CPU:-}" start_sym=doppler_window_start end_sym=doppler_window_end quiet=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -o | --out) out_copy=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --start) start_sym=$2; shift 2 ;;
        --end) end_sym=$2; shift 2 ;;
        -q | --quiet) quiet=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (try --help)" ;;
        *) break ;;
    esac
done
[[ $# -ge 1 ]] || die "usage: count.sh [options] BINARY [ARGS...] (try --help)"
bin=$1
shift
[[ -f $bin ]] || die "$bin: no such file"
[[ "$(head -c4 "$bin" | od -An -c | tr -d ' ')" == '177ELF' ]] || die "$bin: not an ELF file"

# The plugin: given, or built (once, and again when its sources change).
plugin=${DOPPLER_QEMU_PLUGIN:-}
if [[ -z $plugin ]]; then
    tdir=${DOPPLER_QEMU_TARGET_DIR:-$here/target}
    plugin=$tdir/release/libdoppler_qemu_count.so
    if [[ ! -f $plugin ]] || [[ -n "$(find "$here/plugin" "$here/Cargo.toml" -newer "$plugin" -type f | head -1)" ]]; then
        CARGO_TARGET_DIR=$tdir cargo build --release --quiet --manifest-path "$here/Cargo.toml" \
            -p doppler-qemu-count >&2 || die "building the plugin failed"
    fi
fi
[[ -f $plugin ]] || die "plugin $plugin not found"

# Guest architecture from e_machine (offset 18, little-endian u16).
machine=$(od -An -tu2 -j18 -N2 "$bin" | tr -d ' ')
case "$machine" in
    40) qemu=qemu-arm; cpu=${cpu:-cortex-a9}; sysroot=/usr/arm-linux-gnueabihf ;;
    183) qemu=qemu-aarch64; cpu=${cpu:-cortex-a53}; sysroot=/usr/aarch64-linux-gnu ;;
    *) die "$bin: e_machine $machine is neither ARM (40) nor AArch64 (183)" ;;
esac

# Marker addresses from the ELF symbol table (link-time addresses; the plugin adds the load
# bias of a PIE itself). `nm` prints Thumb symbols with bit 0 set; the plugin clears it.
addr_of() {
    local a
    a=$(nm "$bin" 2>/dev/null | awk -v s="$1" '$3 == s && $2 ~ /^[Tt]$/ { print $1; exit }')
    [[ -n $a ]] || die "$bin: symbol $1 not found (stripped, or no doppler_window::measure linked in?)"
    echo "0x$a"
}
start=$(addr_of "$start_sym")
end=$(addr_of "$end_sym")

report=$(mktemp "${TMPDIR:-/tmp}/doppler-count.XXXXXX")
trap 'rm -f "$report"' EXIT
status=0
timeout "${DOPPLER_QEMU_TIMEOUT:-600}" "$qemu" -cpu "$cpu" -L "$sysroot" \
    -plugin "$plugin,start=$start,end=$end,out=$report" "$bin" "$@" || status=$?

if [[ -s $report ]]; then
    [[ $quiet == 1 ]] || cat "$report" >&2
    [[ -z $out_copy ]] || cp "$report" "$out_copy"
else
    echo "count.sh: no report written (guest killed by a signal or timeout? status $status)" >&2
    [[ -z $out_copy ]] || : >"$out_copy"
fi
exit "$status"
