#!/usr/bin/env bash
# Instruction-count benchmark: Doppler's reference and best kernels vs tract-linalg, on armv7
# (qemu-arm -cpu cortex-a9) and aarch64 (qemu-aarch64 -cpu cortex-a53). See docs/BENCHMARKS.md.
#
#   qemu-tests/bench/run.sh [options] [-- BENCH_ARGS...]
#
# Builds the doppler-qemu-count plugin and the bench program (qemu-tests/bench) for each
# architecture, runs it once under qemu-user with the plugin, matches the program's `run N:`
# lines with the plugin's `window N:` counts and prints one markdown table per architecture:
# case | impl | instructions | MACs | MACs/instruction. Deterministic: same sources, same tables.
#
# Options:
#   --arch A            armv7, aarch64 or all (default all)
#   --force-reference   build doppler-kernels with force-reference (best = reference)
#   --no-build          use the binaries already built
#   --out FILE          also write the tables to FILE
#   --raw DIR           keep the guest output and the plugin report of each arch in DIR
#   --twice             run every arch twice and fail unless the reports are identical
#   --no-neon-proof     skip the armv7 proof that tract-linalg executes NEON (below)
#   BENCH_ARGS          passed to the bench program, e.g. `-- --only conv3x3 --no-reference`
# Environment:
#   DOPPLER_QEMU_TARGET_DIR (else CARGO_TARGET_DIR, else qemu-tests/target): cargo target dir
#   DOPPLER_QEMU_PLUGIN     a prebuilt libdoppler_qemu_count.so
#   DOPPLER_QEMU_TIMEOUT    seconds per guest run (default 1200)
#
# How the guest is run (and why not through count.sh): exactly count.sh's invocation — same
# plugin, same marker symbols, -cpu cortex-a9 / cortex-a53 — except for `-L`: instead of the
# bare cross sysroot, the guest gets a root (built under the target dir) that adds a Cortex-A9 /
# Cortex-A53 /proc/cpuinfo and a fixed /sys cache geometry. tract-linalg reads both at run time:
# /proc/cpuinfo for NEON and the CPU part (which picks e.g. armv7neon_mmm_f32_8x6_cortexa9), and
# /sys/devices/system/cpu/cpu0/cache for its GEMM blocking — under qemu-user those would be the
# *host's* files, so its counts would depend on the host CPU. count.sh has no option for the
# sysroot. The guest's environment is empty but for TRACT_CPU_ARM32_NEON=true on armv7: tract-linalg
# reads its knobs from the environment on every call, so a larger environment costs it more
# instructions (glibc's getenv scans it).
#
# NEON proof (armv7): the tract-only case runs again under -cpu cortex-a9,neon=off with tract
# told NEON is there; it must die with SIGILL in its first mmm call, which shows that the
# instructions counted under cortex-a9 are tract's NEON kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qt=$(cd "$here/.." && pwd)
repo=$(cd "$qt/.." && pwd)
die() { echo "run.sh: $*" >&2; exit 2; }

arches="armv7 aarch64" features="" build=1 out="" raw="" twice=0 neon_proof=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --arch)
            case "$2" in all) arches="armv7 aarch64" ;; armv7 | aarch64) arches=$2 ;; *) die "--arch armv7|aarch64|all" ;; esac
            shift 2 ;;
        --force-reference) features="--features force-reference"; shift ;;
        --no-build) build=0; shift ;;
        --out) out=$2; shift 2 ;;
        --raw) raw=$2; shift 2 ;;
        --twice) twice=1; shift ;;
        --no-neon-proof) neon_proof=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --) shift; break ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
bench_args=("$@")

tdir=${DOPPLER_QEMU_TARGET_DIR:-${CARGO_TARGET_DIR:-$qt/target}}
mkdir -p "$tdir"
tdir=$(cd "$tdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/doppler-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
[[ -z $raw ]] || mkdir -p "$raw"

triple() { case "$1" in armv7) echo armv7-unknown-linux-gnueabihf ;; aarch64) echo aarch64-unknown-linux-gnu ;; esac; }

# --- build ------------------------------------------------------------------------------------
plugin=${DOPPLER_QEMU_PLUGIN:-$tdir/release/libdoppler_qemu_count.so}
if [[ $build == 1 ]]; then
    if [[ -z ${DOPPLER_QEMU_PLUGIN:-} ]]; then
        echo "run.sh: building the plugin" >&2
        CARGO_TARGET_DIR=$tdir cargo build --release --quiet --manifest-path "$qt/Cargo.toml" -p doppler-qemu-count >&2
    fi
    for a in $arches; do
        echo "run.sh: building doppler-bench for $(triple "$a")${features:+ ($features)}" >&2
        # From the bench directory, so that its .cargo/config.toml (cross linkers, CC for
        # tract-linalg's assembly) applies.
        # shellcheck disable=SC2086
        (cd "$here" && CARGO_TARGET_DIR=$tdir cargo build --release --quiet --target "$(triple "$a")" $features) >&2 ||
            die "building the bench for $a failed"
    done
fi
[[ -f $plugin ]] || die "plugin $plugin not found"

# --- the guest root -------------------------------------------------------------------------------
# make_root ARCH DIR: the cross sysroot (symlinked) plus what tract-linalg probes.
make_root() {
    local a=$1 r=$2 sysroot cache
    rm -rf "$r"
    mkdir -p "$r/proc/device-tree" "$r/sys/firmware/devicetree/base" "$r/sys/devices/system/cpu/cpu0/topology"
    case "$a" in
        armv7) sysroot=/usr/arm-linux-gnueabihf ;;
        aarch64) sysroot=/usr/aarch64-linux-gnu ;;
    esac
    for e in "$sysroot"/*; do ln -s "$e" "$r/"; done
    case "$a" in
        armv7)
            # A Cortex-A9 (r2p10, i.MX6-class). ARM32 Linux exposes no cacheinfo in /sys.
            printf '%s\n' "processor	: 0" "model name	: ARMv7 Processor rev 10 (v7l)" "BogoMIPS	: 6.00" \
                "Features	: half thumb fastmult vfp edsp neon vfpv3 tls vfpd32" "CPU implementer	: 0x41" \
                "CPU architecture: 7" "CPU variant	: 0x2" "CPU part	: 0xc09" "CPU revision	: 10" "" \
                "Hardware	: Doppler benchmark guest (Cortex-A9)" >"$r/proc/cpuinfo"
            cache=""
            ;;
        aarch64)
            # A Cortex-A53 (r0p4, 4-core cluster, 32 KiB L1D, 512 KiB shared L2).
            printf '%s\n' "processor	: 0" "BogoMIPS	: 38.40" "Features	: fp asimd evtstrm crc32 cpuid" \
                "CPU implementer	: 0x41" "CPU architecture: 8" "CPU variant	: 0x0" "CPU part	: 0xd03" \
                "CPU revision	: 4" >"$r/proc/cpuinfo"
            cache="1:Data:32K:0 1:Instruction:32K:0 2:Unified:512K:0-3"
            ;;
    esac
    echo 0 >"$r/sys/devices/system/cpu/cpu0/topology/thread_siblings_list"
    # Every index tract may probe (0..15) is present in the root, so no host file shows through;
    # an unused index has level 0, which tract ignores.
    local i=0 d entry
    for i in $(seq 0 15); do
        d=$r/sys/devices/system/cpu/cpu0/cache/index$i
        mkdir -p "$d"
        entry=$(echo "$cache" | awk -v i=$((i + 1)) '{ print $i }')
        if [[ -n $entry ]]; then
            IFS=: read -r lvl typ size shared <<<"$entry"
            echo "$lvl" >"$d/level"; echo "$typ" >"$d/type"; echo "$size" >"$d/size"; echo "$shared" >"$d/shared_cpu_list"
        else
            echo 0 >"$d/level"; echo "" >"$d/type"; echo 0 >"$d/size"; echo 0 >"$d/shared_cpu_list"
        fi
    done
}

# guest ARCH CPU REPORT STDOUT ARGS...: one run under qemu-user with the plugin (count.sh's invocation, own -L).
guest() {
    local a=$1 cpu=$2 report=$3 stdout=$4 qemu bin start end
    shift 4
    bin=$tdir/$(triple "$a")/release/doppler-bench
    [[ -f $bin ]] || die "$bin not built"
    case "$a" in armv7) qemu=qemu-arm ;; aarch64) qemu=qemu-aarch64 ;; esac
    start=0x$(nm "$bin" | awk '$3 == "doppler_window_start" && $2 ~ /^[Tt]$/ { print $1; exit }')
    end=0x$(nm "$bin" | awk '$3 == "doppler_window_end" && $2 ~ /^[Tt]$/ { print $1; exit }')
    [[ $start != 0x && $end != 0x ]] || die "$bin: marker symbols not found"
    # The guest's environment is fixed: tract-linalg reads its knobs with std::env::var on every
    # call (packing, mmm), and glibc's getenv scans the whole environment, so its counts would
    # depend on the caller's environment. Only TRACT_CPU_ARM32_NEON=true (armv7) is set.
    local -a envs=()
    [[ $a != armv7 ]] || envs+=(TRACT_CPU_ARM32_NEON=true)
    # The program is started as ./doppler-bench from its directory: the executable's path is
    # copied onto the initial stack (argv[0], AT_EXECFN), so its length would move the stack, and
    # with it the alignment of stack buffers, which changes what glibc's memcpy executes (7
    # instructions in a tract pack-B window between two target dirs). Core dumps off: qemu-user
    # writes a guest core into the cwd when the guest dies of a signal (the NEON proof does).
    local status=0 timeout_bin qemu_bin
    timeout_bin=$(command -v timeout) qemu_bin=$(command -v "$qemu") || die "$qemu not found"
    (cd "$(dirname "$bin")" && ulimit -c 0 &&
        exec env -i "${envs[@]}" "$timeout_bin" "${DOPPLER_QEMU_TIMEOUT:-1200}" "$qemu_bin" -cpu "$cpu" \
            -L "$tdir/bench-root/$a" -plugin "$plugin,start=$start,end=$end,out=$report" \
            ./doppler-bench "$@") >"$stdout" || status=$?
    return $status
}

# table STDOUT REPORT: the markdown table, from the bench's `case`/`run`/`same` lines and the
# plugin's `window N: COUNT` lines (run N = window N). Fails if they do not pair up.
table() {
    awk '
        function commas(n,   s, r) {
            s = sprintf("%.0f", n); r = ""
            while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
            return s r
        }
        function trim(s) { gsub(/^ +| +$/, "", s); return s }
        function row(c, label, n) { printf "| %s | %s | %s | %s | %.2f |\n", name[c], label, commas(n), commas(macs[c]), macs[c] / n }
        FNR == NR { if ($1 == "window") { k = $2; sub(":", "", k); count[k] = $3; nwin++ } next }
        /^case [0-9]+:/ {
            split($0, f, " [|] "); c = f[1]; sub(/^case /, "", c); sub(/:.*/, "", c)
            name[c] = f[1]; sub(/^case [0-9]+: /, "", name[c]); macs[c] = f[2] + 0
            order[ncase++] = c; next
        }
        /^run [0-9]+:/ {
            split($0, f, " [|] "); r = f[1]; sub(/^run /, "", r); sub(/:.*/, "", r)
            c = f[1]; sub(/.*case /, "", c)
            imp = trim(f[2]); part = trim(f[3]); note = trim(f[4])
            if (r + 0 != nrun + 0) { printf "run.sh: run lines out of order at %s\n", $0 > "/dev/stderr"; bad = 1 }
            nrun++
            if (!(r in count)) { printf "run.sh: no window %s for %s\n", r, $0 > "/dev/stderr"; bad = 1; next }
            key = c SUBSEP imp
            if (!(key in total)) rows[c, nrows[c]++] = imp
            total[key] += count[r]
            if (part == "mmm") { mmm[key] = count[r]; kern[key] = note }
            else if (part != "kernel") parts[key] = parts[key] part " + "
            next
        }
        /^same: / { split($0, f, " [|] "); c = f[1]; sub(/.*case /, "", c); same[c] = trim(f[2]); next }
        END {
            if (nrun != nwin) { printf "run.sh: %d runs announced, %d windows counted\n", nrun, nwin > "/dev/stderr"; bad = 1 }
            print "| case | impl | instructions | MACs | MACs/instruction |"
            print "|---|---|---:|---:|---:|"
            for (i = 0; i < ncase; i++) {
                c = order[i]
                for (j = 0; j < nrows[c]; j++) {
                    imp = rows[c, j]; key = c SUBSEP imp
                    if (imp == "tract-linalg") {
                        row(c, "tract-linalg `" kern[key] "`: " parts[key] "mmm", total[key])
                        row(c, "tract-linalg `" kern[key] "`: mmm only", mmm[key])
                    } else {
                        row(c, imp, total[key])
                    }
                    if (imp == "doppler reference" && (c in same)) row(c, same[c], total[key])
                }
            }
            exit bad
        }' "$2" "$1"
}

# --- run ------------------------------------------------------------------------------------------
date_utc=$(date -u +%Y-%m-%d)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z "$(git -C "$repo" status --porcelain -- kernels 2>/dev/null)" ]] || commit="$commit + uncommitted kernels/ changes"
result=$work/tables.md
{
    echo "Doppler kernel benchmark — guest instructions per kernel call (doppler-qemu-count), $date_utc, commit $commit"
    echo "QEMU $(qemu-arm --version | head -1 | sed -n "s/.*version \([^ ]*\).*/\1/p"), $(rustc --version), tract-linalg 0.23.9${features:+; doppler-kernels built with force-reference}"
} >"$result"

fail=0
for a in $arches; do
    case "$a" in armv7) cpu=cortex-a9 ;; aarch64) cpu=cortex-a53 ;; esac
    make_root "$a" "$tdir/bench-root/$a"
    echo "run.sh: running $a under -cpu $cpu" >&2
    t0=$(date +%s)
    status=0
    guest "$a" "$cpu" "$work/$a.report" "$work/$a.out" "${bench_args[@]}" || status=$?
    [[ $status == 0 ]] || { cat "$work/$a.out" >&2; die "$a: the guest failed (status $status)"; }
    t1=$(date +%s)
    if [[ $twice == 1 ]]; then
        guest "$a" "$cpu" "$work/$a.report2" "$work/$a.out2" "${bench_args[@]}" || die "$a: second run failed"
        if cmp -s <(grep '^window' "$work/$a.report") <(grep '^window' "$work/$a.report2") &&
            cmp -s "$work/$a.out" "$work/$a.out2"; then
            echo "run.sh: $a: second run identical (deterministic)" >&2
        else
            echo "run.sh: $a: second run DIFFERS" >&2; fail=1
        fi
    fi
    [[ -z $raw ]] || { cp "$work/$a.out" "$raw/$a.stdout"; cp "$work/$a.report" "$raw/$a.report"; }
    {
        echo
        echo "### $a — qemu-$([[ $a == armv7 ]] && echo arm || echo aarch64) -cpu $cpu"
        echo
        table "$work/$a.out" "$work/$a.report" || fail=1
        echo
        grep -h '^bench:' "$work/$a.out" | sed 's/^bench: /Guest: /'
        echo
        grep -h '^info:\|^check:' "$work/$a.out" | sed 's/^/- /'
        grep -h '^case' "$work/$a.out" >"$work/$a.cases"
    } >>"$result"
    echo "run.sh: $a done in $((t1 - t0)) s" >&2

    if [[ $a == armv7 && $neon_proof == 1 && " ${bench_args[*]} " != *" --no-tract "* ]]; then
        # The same binary under a Cortex-A9 without NEON (`neon=off`; cortex-r5f cannot run it: the
        # Rust code uses d16-d31), tract told NEON is there: it must die with SIGILL in its first
        # mmm call.
        status=0
        guest armv7 cortex-a9,neon=off "$work/proof.report" "$work/proof.out" \
            --only gemm_i8_i32 --no-reference 2>"$work/proof.err" || status=$?
        lastline=$(tail -1 "$work/proof.out")
        kernel=$(sed -n 's/^info: tract-linalg .*: kernel \([^ ]*\) .*/\1/p' "$work/proof.out" | head -1)
        if [[ $status == 132 && $lastline == *"| tract-linalg | mmm"* && $kernel == armv7neon_* ]]; then
            printf '\n%s\n' "NEON proof: under \`-cpu cortex-a9,neon=off\` the tract-only case dies with SIGILL (status 132) right after \`$lastline\`, i.e. in tract's first \`$kernel\` call: the armv7 tract counts above are its NEON kernels." >>"$result"
        else
            printf '\n%s\n' "NEON proof FAILED: \`-cpu cortex-a9,neon=off\` run ended with status $status after \`$lastline\`" >>"$result"
            fail=1
        fi
    fi
done

{
    echo
    echo "Cases:"
    cat "$work"/*.cases 2>/dev/null | sed 's/^case [0-9]*: //' | awk -F' [|] ' '!seen[$1]++ { printf "- `%s`: %s\n", $1, $3 }'
} >>"$result"

cat "$result"
[[ -z $out ]] || cp "$result" "$out"
exit $fail
