#!/usr/bin/env bash
# Miri (Rust's undefined-behaviour checker) over the engine's graph tests and a representative
# subset of the reference-kernel tests (docs/SECURITY.md § Miri). Needs a nightly toolchain with
# the miri component; skips (exit 0) with a message otherwise. A UB report or a failing test
# exits non-zero.
#
#   ./miri.sh                 # ~3-5 min on one free core
#
# Miri is ~100-1000x slower than a normal test run, so the proptest suites run with
# PROPTEST_CASES=2 and only known-answer / by-hand tests of the kernels are selected. There is no
# `unsafe` in model-format or engine; on x86-64 the NEON kernels are not compiled, so this checks
# the portable paths and the dependencies (crc, bytemuck, libm).
set -euo pipefail
cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "miri: skipped (no nightly toolchain: rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri: skipped (no miri component: rustup +nightly component add miri)"
    exit 0
fi

export PROPTEST_CASES=${PROPTEST_CASES:-2}
run() { # NAME COMMAND...
    local name=$1 t0=$SECONDS
    shift
    echo "miri: $name"
    "$@"
    echo "miri: $name: clean ($((SECONDS - t0)) s)"
}

run "engine graph tests" cargo +nightly miri test -p doppler-engine --test graph
run "int8 reference kernels, known answers" \
    cargo +nightly miri test -p doppler-kernels --test reference_int8 -- known_answer
run "binary reference kernels, by-hand cases" \
    cargo +nightly miri test -p doppler-kernels --test reference_binary -- \
    padding_modes_by_hand words_and_masks pack_f32_special_values pack_i8_zero_point_edges \
    unpack_f32_values int8_rounding_is_half_away_from_zero lce_threshold_mapping
echo "miri: all clean ($SECONDS s)"
