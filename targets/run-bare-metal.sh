#!/usr/bin/env bash
# Doppler on bare metal, end to end: builds the Cortex-A9 and Cortex-M4F firmwares (release),
# runs them under qemu-system-arm (with timeouts), counts the guest instructions of every
# inference with the project's QEMU plugin, reports the M4 flash/RAM footprint, and closes with
# `N passed, N failed` (every firmware test line plus this script's own checks). Exit status 0
# only when everything passed.
#
#   targets/run-bare-metal.sh            # from anywhere
#
# Installs what is missing: the two rustup targets, qemu-system-arm (apt-get, when root), and
# defmt-print (cargo install, ~3-6 min once, into targets/cortex-m4/.tools).
#
# Environment: DOPPLER_QEMU_TIMEOUT (seconds per QEMU run, default 300),
# DOPPLER_BARE_SKIP_REFERENCE=1 (skip the A9 force-reference build and comparison),
# DOPPLER_SOAK_INFERENCES (Cortex-A9 soak length, default 2000: ~70 s of QEMU on one free core).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
a9=$here/cortex-a9
m4=$here/cortex-m4
timeout_s=${DOPPLER_QEMU_TIMEOUT:-300}
soak_n=${DOPPLER_SOAK_INFERENCES:-2000}
export QEMU_AUDIO_DRV=none
DEFMT_PRINT_VERSION=1.2.0

passed=0
failed=0
logs=$(mktemp -d "${TMPDIR:-/tmp}/doppler-bare.XXXXXX")
trap 'rm -rf "$logs"' EXIT

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "run-bare-metal.sh: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
check() { # NAME STATUS(0 = ok) [DETAIL]
    if [[ $2 -eq 0 ]]; then
        passed=$((passed + 1))
        echo "test $1 ... ok"
    else
        failed=$((failed + 1))
        echo "test $1 ... FAILED${3:+ ($3)}"
    fi
}

# --- what is needed ----------------------------------------------------------------------------
say "setup"
installed=$(cd "$root" && rustup target list --installed 2>/dev/null || true)
for t in armv7a-none-eabi thumbv7em-none-eabihf; do
    if ! grep -qx "$t" <<<"$installed"; then
        (cd "$root" && rustup target add "$t") || die "rustup target add $t failed"
    fi
done
if ! command -v qemu-system-arm >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "qemu-system-arm is missing: sudo apt-get install qemu-system-arm"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-arm \
        || die "apt-get install qemu-system-arm failed"
fi
defmt_print=${DEFMT_PRINT:-}
if [[ -z $defmt_print ]]; then
    defmt_print=$m4/.tools/bin/defmt-print
    if [[ ! -x $defmt_print ]]; then
        if command -v defmt-print >/dev/null && [[ "$(defmt-print --version 2>/dev/null)" == *" 1."* ]]; then
            defmt_print=$(command -v defmt-print)
        else
            echo "installing defmt-print $DEFMT_PRINT_VERSION into $m4/.tools (a few minutes, once)"
            cargo install defmt-print --version "$DEFMT_PRINT_VERSION" --locked --root "$m4/.tools" \
                || die "cargo install defmt-print failed"
        fi
    fi
fi
export DEFMT_PRINT=$defmt_print
size_tool=$(command -v arm-none-eabi-size || command -v llvm-size || command -v size) \
    || die "no size tool (binutils' size, llvm-size or arm-none-eabi-size)"
echo "qemu-system-arm: $(qemu-system-arm --version | head -1)"
echo "defmt-print: $defmt_print; size tool: $size_tool"

# --- builds ------------------------------------------------------------------------------------
say "build: QEMU instruction-count plugin, Cortex-A9 and Cortex-M4F firmwares (release)"
cargo build --release --quiet --manifest-path "$root/qemu-tests/Cargo.toml" -p doppler-qemu-count \
    || die "building the QEMU plugin failed"
plugin=$root/qemu-tests/target/release/libdoppler_qemu_count.so
a9_out=$a9/target/armv7a-none-eabi/release
m4_out=$m4/target/thumbv7em-none-eabihf/release
a9_builds=(best)
if [[ ${DOPPLER_BARE_SKIP_REFERENCE:-0} != 1 ]]; then
    a9_builds=(reference best)
    (cd "$a9" && cargo build --release --features force-reference --bin doppler-cortex-a9) \
        || die "building the Cortex-A9 firmware (force-reference) failed"
    cp "$a9_out/doppler-cortex-a9" "$a9_out/doppler-cortex-a9.reference.elf"
fi
(cd "$a9" && cargo build --release) || die "building the Cortex-A9 firmware failed"
cp "$a9_out/doppler-cortex-a9" "$a9_out/doppler-cortex-a9.best.elf"
(cd "$m4" && cargo build --release) || die "building the Cortex-M4F firmware failed"

# Runs a firmware's test set: checks its `test` lines, its closing line and its exit status.
# run_suite NAME LOG -- COMMAND...
run_suite() {
    local name=$1 log=$2
    shift 3
    local status
    "$@" >"$log" 2>&1
    status=$?
    cat "$log"
    local ok bad closing
    ok=$(grep -c '^test .* \.\.\. ok$' "$log")
    bad=$(grep -c '^test .* \.\.\. FAILED$' "$log")
    closing=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [[ $status -ne 0 || -z $closing || $closing != "$ok passed, $bad failed" ]]; then
        check "$name: exit status 0 and a matching closing line" 1 "status $status, closing '${closing:-none}'"
    fi
}

# Joins the firmware's `window K = LABEL` lines with the plugin's `window K: COUNT` lines.
join_windows() { # FIRMWARE_LOG COUNTS_FILE -> "LABEL<TAB>COUNT" lines
    awk 'NR == FNR { if ($1 == "window" && $3 == "=") { k = $2; $1 = $2 = $3 = ""; sub(/^ +/, ""); label[k] = $0 } next }
         $1 == "window" { k = $2; sub(/:$/, "", k); printf "%s\t%s\n", label[k], $3 }' "$1" "$2"
}

# --- Cortex-A9 ---------------------------------------------------------------------------------
qemu_a9=(timeout "$timeout_s" qemu-system-arm -M vexpress-a9 -cpu cortex-a9 -semihosting -nographic
         -monitor none -serial none)
for b in "${a9_builds[@]}"; do
    elf=$a9_out/doppler-cortex-a9.$b.elf
    say "Cortex-A9 ($b kernels) under qemu-system-arm -M vexpress-a9, with the instruction-count plugin"
    run_suite "cortex-a9 ($b)" "$logs/a9.$b.log" -- \
        "${qemu_a9[@]}" -kernel "$elf" -plugin "$plugin,elf=$elf,out=$logs/a9.$b.counts"
    join_windows "$logs/a9.$b.log" "$logs/a9.$b.counts" >"$logs/a9.$b.windows"
done

say "Cortex-A9 runtime: CPU exceptions are reported and end QEMU with 128 + vector"
(cd "$a9" && cargo build --release --quiet --bin fault) || die "building the fault test failed"
for spec in undef:129 svc:130 dabt:132; do
    kind=${spec%%:*} want=${spec##*:}
    out=$(timeout "$timeout_s" qemu-system-arm -M vexpress-a9 -cpu cortex-a9 -nographic -monitor none -serial none \
        -semihosting-config "enable=on,target=native,arg=fault,arg=$kind" -kernel "$a9_out/fault" 2>&1)
    status=$?
    echo "$out"
    reported=1
    grep -q '^exception: ' <<<"$out" && reported=0
    check "cortex-a9::exception_$kind (status $want)" $(( status != want || reported != 0 )) "status $status"
done

say "Cortex-A9 soak: $soak_n random-input inferences over the study models, canaries checked after each"
# targets/cortex-a9/src/bin/soak.rs; the full run (>= 100 000) is in docs/SECURITY.md.
run_suite "cortex-a9 soak" "$logs/soak.log" -- \
    timeout "$((2 * timeout_s))" qemu-system-arm -M vexpress-a9 -cpu cortex-a9 -nographic -monitor none -serial none \
    -semihosting-config "enable=on,target=native,arg=soak,arg=$soak_n" -kernel "$a9_out/soak"

# --- Cortex-M4F --------------------------------------------------------------------------------
say "Cortex-M4F under qemu-system-arm -M mps2-an386 (defmt over semihosting, decoded by defmt-print)"
elf=$m4_out/doppler-cortex-m4
run_suite "cortex-m4" "$logs/m4.log" -- \
    env DOPPLER_QEMU_TIMEOUT="$timeout_s" "$m4/run.sh" "$elf" -plugin "$plugin,elf=$elf,out=$logs/m4.counts"
join_windows "$logs/m4.log" "$logs/m4.counts" >"$logs/m4.windows"

say "Cortex-M4F footprint build (engine + kernels + runtime, no model) running each blob from flash"
for dpl in "$root"/examples/models/*.dpl; do
    model=$(basename "$dpl" .dpl)
    out=$(DOPPLER_QEMU_TIMEOUT=$timeout_s "$m4/run.sh" "$m4_out/footprint" -device "loader,file=$dpl,addr=0x00300000" 2>&1)
    status=$?
    echo "$out"
    check "cortex-m4::footprint_runs_$model" $status "status $status"
done

say "Cortex-M4F runtime: a CPU exception is reported and ends QEMU with 128 + exception number"
out=$(DOPPLER_QEMU_TIMEOUT=$timeout_s "$m4/run.sh" "$m4_out/fault" 2>&1)
status=$?
echo "$out"
reported=1
grep -q '^exception: HardFault' <<<"$out" && reported=0
check "cortex-m4::exception_hardfault (status 131)" $(( status != 131 || reported != 0 )) "status $status"

# --- report ------------------------------------------------------------------------------------
say "instructions per inference (guest instructions in each window, doppler-qemu-count)"
if [[ ${#a9_builds[@]} -eq 2 ]]; then
    printf '%-36s %14s %14s %8s\n' "Cortex-A9 window" "reference" "best" "ref/best"
    paste "$logs/a9.reference.windows" "$logs/a9.best.windows" |
        awk -F'\t' '{ r = ($4 > 0) ? sprintf("%.2fx", $2 / $4) : "-"; printf "%-36s %14s %14s %8s\n", $1, $2, $4, r }'
else
    printf '%-36s %14s\n' "Cortex-A9 window" "best"
    awk -F'\t' '{ printf "%-36s %14s\n", $1, $2 }' "$logs/a9.best.windows"
fi
echo
printf '%-36s %14s\n' "Cortex-M4F window (opt-level z)" "instructions"
awk -F'\t' '{ printf "%-36s %14s\n", $1, $2 }' "$logs/m4.windows"

say "Cortex-M4F footprint ($(basename "$size_tool"); flash = text + data, static RAM = data + bss)"
"$size_tool" "$m4_out/doppler-cortex-m4" "$m4_out/footprint"
read -r fw_text fw_data fw_bss _ < <("$size_tool" "$m4_out/doppler-cortex-m4" | awk 'NR == 2')
read -r fp_text fp_data fp_bss _ < <("$size_tool" "$m4_out/footprint" | awk 'NR == 2')
blobs=$(grep -o 'blobs [0-9]* bytes' "$logs/m4.log" | awk '{print $2}')
arena=$(grep -o 'arena [0-9]* bytes' "$logs/m4.log" | head -1 | awk '{print $2}')
fw_stack=$(grep -o 'stack: [0-9]*' "$logs/m4.log" | awk '{print $2}')
fp_flash=$((fp_text + fp_data))
echo "with the models:    flash $((fw_text + fw_data)) bytes (of which model blobs $blobs, plus the test inputs and"
echo "                    expected outputs), static RAM $((fw_data + fw_bss)) bytes (arena $arena), peak stack ${fw_stack:-?} bytes"
echo "without any model:  flash $fp_flash bytes (engine + kernels + runtime + defmt logging),"
echo "                    static RAM $((fp_data + fp_bss - 65536)) bytes + the arena the model needs (footprint build: 64 KiB)"
if [[ $fp_flash -le 65536 ]]; then
    echo "flash goal (engine + kernels <= 64 KiB = 65536 bytes): met ($fp_flash bytes, runtime and logging included)"
else
    echo "flash goal (engine + kernels <= 64 KiB = 65536 bytes): NOT met ($fp_flash bytes, runtime and logging included)"
fi

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
