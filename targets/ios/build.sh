#!/usr/bin/env bash
# Builds the Doppler C library for iOS and lays it out as an XCFramework:
#
#   targets/ios/build.sh [--no-armv7 | --armv7]
#
#   targets/ios/out/Doppler.xcframework/
#     Info.plist                          (what `xcodebuild -create-xcframework` writes)
#     ios-arm64/libdoppler.a              aarch64-apple-ios      (devices, iOS ≥ 10)
#     ios-arm64/Headers/{doppler.h,module.modulemap}
#     ios-arm64-simulator/libdoppler.a    aarch64-apple-ios-sim  (Apple-silicon simulators)
#     ios-arm64-simulator/Headers/…
#   targets/ios/out/ios-armv7/            armv7 for the iPad 2 / iOS 9.3.5 (best effort, see below)
#     libdoppler.a, Headers/…
#
# A staticlib needs no linker, so all of this runs on Linux: only `xcodebuild
# -create-xcframework` (and lipo / ld64) need macOS. On macOS the script also runs xcodebuild to
# write the XCFramework the official way (docs/INTEGRATION.md shows the command).
#
# Device and simulator: `rustup target add` of the prebuilt standard library; where the
# toolchain's dist server lacks it, the library is built against a core compiled from source
# (nightly + rust-src, `-Zbuild-std=core`: the C library is no_std, core is all it needs).
#
# armv7 (iPad 2, A5 = Cortex-A9 class, iOS ≤ 9.3.5): no Rust target exists any more
# (armv7-apple-ios was removed; armv7s-apple-ios targets the A6 and its VFPv4). The custom
# target armv7-apple-ios.json (Cortex-A9: ARMv7-A, VFPv3, NEON) is built with nightly and
# -Zbuild-std=core when nightly and rust-src are installed; otherwise it is skipped with a
# note (--armv7 makes it mandatory, --no-armv7 skips it).
#
# Respects CARGO_TARGET_DIR. Exits non-zero if the device or simulator library fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
header=$root/targets/capi/include/doppler.h
out=$here/out
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
export CARGO_TARGET_DIR=$target_dir
cargo=${CARGO:-cargo}

armv7=auto
for arg in "$@"; do
    case $arg in
        --armv7) armv7=yes ;;
        --no-armv7) armv7=no ;;
        *) echo "usage: $0 [--armv7 | --no-armv7]" >&2; exit 2 ;;
    esac
done

# Runs cargo from the workspace root (so its rust-toolchain.toml applies unless +nightly).
cargo_build() {
    (cd "$root" && "$cargo" "$@")
}

# nightly_with_src [install] — true if nightly with rust-src is usable; with "install", installs
# what is missing first (a minimal nightly: rustc, cargo, rust-std, plus rust-src).
nightly_with_src() {
    command -v rustup >/dev/null || return 1
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        [ "${1:-}" = install ] || return 1
        echo "ios: installing a minimal nightly toolchain with rust-src"
        rustup toolchain install nightly --profile minimal --component rust-src >/dev/null 2>&1 || return 1
    fi
    local sysroot
    sysroot=$(rustup run nightly rustc --print sysroot)
    [ -d "$sysroot/lib/rustlib/src/rust/library/core" ] && return 0
    echo "ios: adding rust-src to the nightly toolchain"
    rustup component add rust-src --toolchain nightly >/dev/null 2>&1 || return 1
    [ -d "$sysroot/lib/rustlib/src/rust/library/core" ]
}

# -Zjson-target-spec is required by recent nightlies for .json targets and unknown to older ones.
json_flag() {
    if cargo +nightly -Z help 2>/dev/null | grep -q json-target-spec; then echo "-Zjson-target-spec"; fi
}

# build_target TRIPLE — leaves $target_dir/TRIPLE/release/libdoppler.a.
build_target() {
    local t=$1
    echo "ios: rustup target add $t"
    if (cd "$root" && rustup target add "$t" >/dev/null 2>&1); then
        echo "ios: cargo build -p doppler-capi --release --target $t"
        cargo_build build -p doppler-capi --release --target "$t"
        return
    fi
    echo "ios: no prebuilt standard library for $t on this toolchain's dist server;"
    echo "ios: building core from source instead (nightly + rust-src, -Zbuild-std=core)"
    if ! nightly_with_src install; then
        echo "ios: FAILED: $t needs either 'rustup target add $t' or nightly with rust-src" >&2
        return 1
    fi
    echo "ios: cargo +nightly build -Zbuild-std=core -p doppler-capi --release --target $t"
    (cd "$root" && cargo +nightly build -Zbuild-std=core -p doppler-capi --release --target "$t")
}

# lay_out DIR LIB — copies the library, the header and the module map into DIR.
lay_out() {
    local dir=$1 lib=$2
    mkdir -p "$dir/Headers"
    cp "$lib" "$dir/libdoppler.a"
    cp "$header" "$dir/Headers/doppler.h"
    cp "$here/module.modulemap" "$dir/Headers/module.modulemap"
}

# Tools that read Mach-O archives on Linux: rustup's llvm-tools (same LLVM as rustc, so they
# also read its embedded bitcode), else any llvm-nm.
llvm_tool() {
    local name=$1 bin
    bin=$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')/bin/$name
    if [ -x "$bin" ]; then echo "$bin"; return; fi
    command -v "$name" 2>/dev/null || true
}

# describe LIB — size, and the dp_* functions it defines (if an llvm-nm can read it).
describe() {
    local lib=$1 nm
    echo "ios:   $(basename "$(dirname "$lib")")/libdoppler.a: $(wc -c <"$lib") bytes"
    nm=$(llvm_tool llvm-nm)
    if [ -n "$nm" ]; then
        local dp
        dp=$("$nm" -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $3 ~ /^_dp_/ { print substr($3, 2) }' | sort -u)
        echo "ios:   defines $(printf '%s\n' "$dp" | grep -c .) dp_* functions: $(printf '%s' "$dp" | tr '\n' ' ')"
        local want
        want=$(sed -nE 's/^[A-Za-z_][^(#]*[ *](dp_[a-z0-9_]+)\(.*/\1/p' "$header" | sort -u)
        if [ "$dp" != "$want" ]; then
            echo "ios: FAILED: $lib does not define exactly the header's functions" >&2
            return 1
        fi
    fi
}

rm -rf "$out"
mkdir -p "$out"
xcf=$out/Doppler.xcframework

build_target aarch64-apple-ios
lay_out "$xcf/ios-arm64" "$target_dir/aarch64-apple-ios/release/libdoppler.a"
describe "$xcf/ios-arm64/libdoppler.a"

build_target aarch64-apple-ios-sim
lay_out "$xcf/ios-arm64-simulator" "$target_dir/aarch64-apple-ios-sim/release/libdoppler.a"
describe "$xcf/ios-arm64-simulator/libdoppler.a"

cp "$here/Info.plist" "$xcf/Info.plist"

if command -v xcodebuild >/dev/null; then
    echo "ios: xcodebuild -create-xcframework (macOS)"
    rm -rf "$xcf.tmp"
    xcodebuild -create-xcframework \
        -library "$xcf/ios-arm64/libdoppler.a" -headers "$xcf/ios-arm64/Headers" \
        -library "$xcf/ios-arm64-simulator/libdoppler.a" -headers "$xcf/ios-arm64-simulator/Headers" \
        -output "$xcf.tmp"
    rm -rf "$xcf"
    mv "$xcf.tmp" "$xcf"
else
    echo "ios: no xcodebuild (not macOS): wrote the XCFramework layout and Info.plist by hand;"
    echo "ios: on macOS, 'xcodebuild -create-xcframework' makes the same (docs/INTEGRATION.md)"
fi

# ---- armv7 for the iPad 2 (best effort) ----------------------------------------------------------
if [ "$armv7" != no ]; then
    t=armv7-apple-ios
    if nightly_with_src; then
        echo "ios: iPad 2: cargo +nightly build -Zbuild-std=core --target targets/ios/$t.json (IPHONEOS_DEPLOYMENT_TARGET=9.0)"
        # shellcheck disable=SC2046
        if (cd "$root" && IPHONEOS_DEPLOYMENT_TARGET=9.0 cargo +nightly build -Zbuild-std=core $(json_flag) \
            -p doppler-capi --release --target "$here/$t.json"); then
            lay_out "$out/ios-armv7" "$target_dir/$t/release/libdoppler.a"
            describe "$out/ios-armv7/libdoppler.a"
        elif [ "$armv7" = yes ]; then
            echo "ios: FAILED: the armv7 build" >&2
            exit 1
        else
            echo "ios: the armv7 (iPad 2) build failed: skipped (best effort)"
        fi
    elif [ "$armv7" = yes ]; then
        echo "ios: FAILED: --armv7 needs the nightly toolchain with rust-src" >&2
        exit 1
    else
        echo "ios: iPad 2 armv7 library skipped: needs nightly with rust-src (docs/INTEGRATION.md)"
    fi
fi

echo "ios: done:"
(cd "$out" && find . -type f | sort | sed 's/^\.\//  targets\/ios\/out\//')
