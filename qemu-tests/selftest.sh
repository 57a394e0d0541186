#!/usr/bin/env bash
# Self-test of the instruction-counting plugin (qemu-tests/README.md, "Self-test").
#
#   qemu-tests/selftest.sh
#
# 1. host unit tests of the plugin (argument parsing, ELF reading, address resolution, windows);
# 2. the guest self-test (selftest/src/cases.rs) under qemu-user: armv7 (ARM code, PIE), armv7
#    (non-PIE), armv7 (Thumb code), aarch64 (PIE), aarch64 (non-PIE); each run twice, the two
#    reports must be identical, and every window must match the guest's `expect` line;
# 3. NEON: the NEON case counts exactly under -cpu cortex-a9 and dies with SIGILL under
#    -cpu cortex-r5f (ARMv7 without NEON), proving the NEON instruction really executed;
# 4. the bare-metal self-test under qemu-system-arm -M vexpress-a9 -cpu cortex-a9, twice.
#
# Cargo target dir: $DOPPLER_QEMU_TARGET_DIR, else $CARGO_TARGET_DIR, else qemu-tests/target.
# Exit status 0 iff everything passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tdir=${DOPPLER_QEMU_TARGET_DIR:-${CARGO_TARGET_DIR:-$here/target}}
export DOPPLER_QEMU_TARGET_DIR=$tdir
work=$(mktemp -d "${TMPDIR:-/tmp}/doppler-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# cargo_q TARGET_DIR ARGS...: quiet cargo in this workspace; output shown only on failure.
cargo_q() {
    CARGO_TARGET_DIR=$1 cargo "${@:2}" --quiet --manifest-path "$here/Cargo.toml" >"$work/cargo.log" 2>&1 ||
        { cat "$work/cargo.log"; echo "FAIL: cargo ${*:2}"; exit 1; }
}

# check EXPECT_FILE REPORT_FILE LABEL: every window against its `expect window K: SPEC` line.
check() {
    awk -v label="$3" '
        FNR == NR {
            if ($1 == "window") { sub(":", "", $2); got[$2] = $3; nwin++ }
            next
        }
        $1 == "expect" && $2 == "window" {
            k = $3; sub(":", "", k); nexp++
            if ($5 != "window") { want = $5; note = "" }
            else {
                j = $6; d = $8; want = got[j] + d; note = sprintf("window %s + %s", j, d)
                if ($9 == "+" && $10 == "G") {
                    g = got[k] - want
                    if (g < 0 || g > 4) { printf "  window %s: glue G = %d outside 0..4\n", k, g; bad++ }
                    want += g; note = note sprintf(" + G (G = %d)", g)
                }
            }
            ok = (k in got) && got[k] == want
            printf "  %s window %s: expected %6d%s, counted %6s  %s\n", label, k, want,
                   note == "" ? "" : " (" note ")", (k in got) ? got[k] : "-", ok ? "ok" : "MISMATCH"
            if (!ok) bad++
        }
        END {
            if (nexp == 0) { print "  no expect lines"; bad++ }
            if (nwin != nexp) { printf "  %d windows counted, %d expected\n", nwin, nexp; bad++ }
            exit bad ? 1 : 0
        }' "$2" "$1"
}

echo "== host unit tests"
cargo_q "$tdir" test -p doppler-qemu-count -p doppler-window
grep -h "^test result" "$work/cargo.log" | sed 's/^/  /'

echo "== plugin build"
cargo_q "$tdir" build --release -p doppler-qemu-count
plugin=$tdir/release/libdoppler_qemu_count.so
export DOPPLER_QEMU_PLUGIN=$plugin
echo "  $plugin"

# variant NAME TARGET RUSTFLAGS: build the guest self-test and run it twice under qemu-user.
variant() {
    local name=$1 target=$2 flags=$3 dir=$tdir
    [[ -z $flags ]] || dir=$tdir/selftest-$name
    echo "== $name ($target${flags:+, RUSTFLAGS=$flags})"
    RUSTFLAGS=$flags cargo_q "$dir" build --release -p doppler-qemu-selftest --target "$target"
    local bin=$dir/$target/release/doppler-qemu-selftest
    for run in 1 2; do
        if ! "$here/count.sh" -q -o "$work/$name.$run.txt" "$bin" >"$work/$name.expect"; then
            fail "$name run $run: guest failed"
            return
        fi
    done
    check "$work/$name.expect" "$work/$name.1.txt" "$name" || fail "$name: counts"
    if cmp -s <(grep -v '^#' "$work/$name.1.txt") <(grep -v '^#' "$work/$name.2.txt"); then
        echo "  deterministic: run 1 and run 2 reports identical ($(grep '^total' "$work/$name.1.txt"))"
    else
        fail "$name: run 1 and run 2 differ"
        diff "$work/$name.1.txt" "$work/$name.2.txt" || true
    fi
}

variant armv7-pie armv7-unknown-linux-gnueabihf ""
variant armv7-nopie armv7-unknown-linux-gnueabihf "-C relocation-model=static"
variant armv7-thumb armv7-unknown-linux-gnueabihf "-C target-feature=+thumb-mode"
variant aarch64-pie aarch64-unknown-linux-gnu ""
variant aarch64-nopie aarch64-unknown-linux-gnu "-C relocation-model=static"

echo "== NEON under -cpu cortex-a9, and SIGILL under -cpu cortex-r5f (no NEON)"
arm=$tdir/armv7-unknown-linux-gnueabihf/release/doppler-qemu-selftest
if "$here/count.sh" -q --cpu cortex-a9 -o "$work/neon.txt" "$arm" neon >"$work/neon.expect"; then
    check "$work/neon.expect" "$work/neon.txt" "neon/cortex-a9" || fail "neon counts"
else
    fail "NEON case failed under cortex-a9"
fi
status=0
"$here/count.sh" -q --cpu cortex-r5f "$arm" neon >/dev/null 2>"$work/r5f.err" || status=$?
if [[ $status == 132 ]]; then
    echo "  cortex-r5f: exit status 132 (SIGILL) as expected"
else
    fail "cortex-r5f: expected SIGILL (132), got status $status"
    cat "$work/r5f.err"
fi

echo "== bare metal: qemu-system-arm -M vexpress-a9 -cpu cortex-a9 (armv7a-none-eabi)"
cargo_q "$tdir" build --release -p doppler-qemu-selftest-bare --target armv7a-none-eabi
bare=$tdir/armv7a-none-eabi/release/doppler-qemu-selftest-bare
for run in 1 2; do
    QEMU_AUDIO_DRV=none timeout 60 qemu-system-arm -M vexpress-a9 -cpu cortex-a9 -nographic \
        -monitor none -semihosting -kernel "$bare" \
        -plugin "$plugin,elf=$bare,out=$work/bare.$run.txt" >"$work/bare.expect" 2>&1 ||
        fail "bare run $run: exit status $?"
done
check "$work/bare.expect" "$work/bare.1.txt" "bare" || fail "bare: counts"
if cmp -s <(grep -v '^#' "$work/bare.1.txt") <(grep -v '^#' "$work/bare.2.txt"); then
    echo "  deterministic: run 1 and run 2 reports identical ($(grep '^total' "$work/bare.1.txt"))"
else
    fail "bare: run 1 and run 2 differ"
fi

echo
if [[ $failures == 0 ]]; then
    echo "selftest: all passed"
else
    echo "selftest: $failures failure(s)"
    exit 1
fi
