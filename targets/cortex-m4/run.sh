#!/usr/bin/env bash
# Cargo runner for the Cortex-M4F firmware: boots ELF under QEMU's mps2-an386 with semihosting
# and, when the ELF logs through defmt (it has a .defmt section), pipes QEMU's stdout into
# `defmt-print -e ELF`. The exit status is QEMU's (the firmware's semihosting exit status; 124
# on timeout), kept through the pipe by pipefail.
#
#   ./run.sh ELF [EXTRA QEMU ARGS...]        e.g. -plugin ...,elf=ELF,out=FILE
#
# Environment: DEFMT_PRINT (the decoder; default .tools/bin/defmt-print here, then PATH),
# DOPPLER_QEMU_TIMEOUT (seconds, default 300).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -ge 1 ]] || { echo "usage: run.sh ELF [QEMU ARGS...]" >&2; exit 2; }
elf=$1
shift

qemu=(timeout "${DOPPLER_QEMU_TIMEOUT:-300}" qemu-system-arm -M mps2-an386 -cpu cortex-m4
      -semihosting-config enable=on,target=native -nographic -monitor none -serial none
      -kernel "$elf" "$@")

if readelf -S "$elf" 2>/dev/null | grep -q '\.defmt'; then
    decoder=${DEFMT_PRINT:-}
    if [[ -z $decoder ]]; then
        if [[ -x $here/.tools/bin/defmt-print ]]; then
            decoder=$here/.tools/bin/defmt-print
        else
            decoder=$(command -v defmt-print) || {
                echo "run.sh: defmt-print not found (targets/run-bare-metal.sh installs it into $here/.tools)" >&2
                exit 2
            }
        fi
    fi
    set -o pipefail
    "${qemu[@]}" | "$decoder" -e "$elf" --log-format '{s}'
else
    "${qemu[@]}"
fi
