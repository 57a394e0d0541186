#!/usr/bin/env bash
# Short fuzzing smoke for CI: every target for $FUZZ_SECONDS (default 30) seconds from the
# committed corpus. Needs a nightly toolchain and cargo-fuzz; skips (exit 0) otherwise.
# A crash exits non-zero and leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-30}"
read -r -a targets <<< "${FUZZ_TARGETS:-parse_invoke mutate_blob convert_tflite}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz smoke: skipped (no nightly toolchain: rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: skipped (cargo-fuzz not installed: cargo install cargo-fuzz)"
    exit 0
fi

cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
    echo "fuzz smoke: $t for ${secs}s"
    # Fuzz into a scratch copy so the committed corpus is not grown by CI runs.
    work="$(mktemp -d)"
    cp -r "corpus/$t/." "$work/"
    log="$work.log"
    status=0
    cargo +nightly fuzz run -O "$t" "$work" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        >"$log" 2>&1 || status=$?
    grep -E "Done [0-9]+ runs|cov: .*DONE|ERROR|panicked|SUMMARY" "$log" || tail -n 5 "$log"
    rm -f "$log"
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then
        echo "fuzz smoke: $t FAILED (artifact in fuzz/artifacts/$t/)"
        exit "$status"
    fi
done
echo "fuzz smoke: all targets clean"
