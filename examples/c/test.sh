#!/usr/bin/env bash
# The C API end to end, on the emulated ARM cores:
#
#   examples/c/test.sh
#
# For armv7-unknown-linux-gnueabihf (qemu-arm -cpu cortex-a9) and aarch64-unknown-linux-gnu
# (qemu-aarch64 -cpu cortex-a53):
#   1. build the filtered libdoppler.a (targets/capi/build-lib.sh) and check with nm that it
#      defines exactly the header's dp_* functions as globals (targets/capi/check-symbols.sh);
#   2. compile run_model.c and test_status.c against it with the cross gcc (-static);
#   3. run every example model (examples/models/*.dpl) under QEMU and compare its output with
#      the committed expected output (int8 exactly, float32 within the documented tolerance);
#   4. run test_status under QEMU (every status code the C API can give for bad arguments).
# Plus, on the host: doppler.h compiles as C99, C11 and C++ with all warnings as errors.
#
# Prints one line per check and a closing "N passed, N failed" line; exits 1 if any failed.
# Needs the cross gcc and qemu-user (`cargo xtask setup` installs them). CARGO_TARGET_DIR is
# respected (default: target/ at the workspace root).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
capi=$root/targets/capi
models=$root/examples/models
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
export CARGO_TARGET_DIR=$target_dir

passed=0
failed=0
failures=()
ok() {
    passed=$((passed + 1))
    echo "ok    $1"
}
fail() {
    failed=$((failed + 1))
    failures+=("$1")
    echo "FAIL  $1"
}
# step NAME COMMAND... — runs a command, its output indented, and counts it.
step() {
    local name=$1 log rc
    shift
    log=$("$@" 2>&1)
    rc=$?
    [ -n "$log" ] && printf '%s\n' "$log" | sed 's/^/      /'
    if [ $rc -eq 0 ]; then ok "$name"; else fail "$name (exit $rc)"; fi
    return $rc
}

cflags=(-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I"$capi/include")

# ---- the header alone, on the host ------------------------------------------------------------
echo "== doppler.h"
hdr_test=$(mktemp -d)
trap 'rm -rf "$hdr_test"' EXIT
printf '#include "doppler.h"\nint main(void) { return DP_OK + (int)sizeof(dp_engine_storage) * 0; }\n' >"$hdr_test/h.c"
cp "$hdr_test/h.c" "$hdr_test/h.cpp"
for std in c99 c11; do
    step "doppler.h compiles as $std (-Wall -Wextra -Wpedantic -Werror)" \
        gcc -std=$std -Wall -Wextra -Wpedantic -Werror -I"$capi/include" -fsyntax-only "$hdr_test/h.c"
done
if command -v g++ >/dev/null; then
    step "doppler.h compiles as C++11" g++ -std=c++11 -Wall -Wextra -Werror -I"$capi/include" -fsyntax-only "$hdr_test/h.cpp"
fi

# status_list.h: X(name) for every status code the header defines.
sed -nE 's/^  (DP_(OK|ERR_[A-Z0-9_]+)) = -?[0-9]+,$/X(\1)/p' "$capi/include/doppler.h" >"$hdr_test/status_list.h"
echo "      doppler.h: $(wc -l <"$hdr_test/status_list.h") status codes"

model_list=()
for m in "$models"/*.dpl; do
    [ -e "$m" ] && model_list+=("$(basename "$m" .dpl)")
done
[ ${#model_list[@]} -gt 0 ] || fail "no example models in $models"

for target in armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu; do
    case $target in
        armv7-*) cc=arm-linux-gnueabihf-gcc qemu=(qemu-arm -cpu cortex-a9) ;;
        aarch64-*) cc=aarch64-linux-gnu-gcc qemu=(qemu-aarch64 -cpu cortex-a53) ;;
    esac
    echo "== $target (${qemu[*]})"
    lib=$target_dir/$target/libdoppler.a
    out=$target_dir/c-examples/$target
    mkdir -p "$out"
    rm -f "$lib"
    if ! step "build-lib.sh $target" "$capi/build-lib.sh" "$target"; then
        continue
    fi
    step "nm: only the header's dp_* functions are global in $(basename "$lib")" \
        "$capi/check-symbols.sh" "$target" "$lib"
    echo "      $(basename "$lib"): $(wc -c <"$lib") bytes"

    built=1
    for prog in run_model test_status; do
        if ! step "$cc $prog.c libdoppler.a -static" \
            "$cc" "${cflags[@]}" -I"$hdr_test" -static "$here/$prog.c" -L"$target_dir/$target" -ldoppler -lm \
            -o "$out/$prog"; then
            built=0
        fi
    done
    [ $built = 1 ] || continue

    for model in "${model_list[@]}"; do
        expected=$models/$model.expected.npy
        raw_out=$out/$model.out.bin
        if step "run_model $model under ${qemu[0]}: matches $model.expected.npy" \
            timeout 120 "${qemu[@]}" "$out/run_model" "$models/$model.dpl" --input "$models/$model.input.npy" \
            --output "$raw_out" --expect "$expected" --quiet; then
            # Byte-for-byte comparison with the .npy payload (informational for float32).
            if tail -c "$(wc -c <"$raw_out")" "$expected" | cmp -s - "$raw_out"; then
                echo "      output bytes identical to $model.expected.npy"
            fi
        fi
    done

    step "test_status under ${qemu[0]}: status codes from bad arguments" \
        timeout 120 "${qemu[@]}" "$out/test_status" "$models/int8_cnn.dpl"
done

echo
if [ $failed -gt 0 ]; then
    echo "failed:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
