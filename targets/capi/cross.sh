# Sourced by build-lib.sh and check-symbols.sh: the GNU binutils prefix for a Rust target.
# CROSS_PREFIX overrides it (e.g. CROSS_PREFIX=arm-none-eabi-).

# cross_prefix TARGET — prints the prefix of the target's ld/objcopy/ar/nm ("" for the host).
cross_prefix() {
    if [ -n "${CROSS_PREFIX+set}" ]; then
        printf '%s' "$CROSS_PREFIX"
        return
    fi
    local t=$1 p
    case "$t" in
        armv7*-linux-gnueabihf | thumbv7neon-*-linux-gnueabihf | arm-*-linux-gnueabihf) p=arm-linux-gnueabihf- ;;
        aarch64-*-linux-gnu) p=aarch64-linux-gnu- ;;
        # Bare metal: any ELF binutils for the architecture will do.
        arm*-none-eabi* | thumbv*-none-eabi*)
            if command -v arm-none-eabi-ld >/dev/null; then p=arm-none-eabi-; else p=arm-linux-gnueabihf-; fi ;;
        aarch64-*-none*)
            if command -v aarch64-none-elf-ld >/dev/null; then p=aarch64-none-elf-; else p=aarch64-linux-gnu-; fi ;;
        x86_64-unknown-linux-gnu) p= ;;
        *-apple-*)
            echo "cross.sh: $t is a Mach-O target: GNU ld -r / objcopy do not apply (see targets/ios/build.sh)" >&2
            return 2 ;;
        *)
            echo "cross.sh: no binutils known for $t: set CROSS_PREFIX" >&2
            return 2 ;;
    esac
    printf '%s' "$p"
}

# header_functions HEADER — the dp_* functions the header declares, one per line, sorted.
header_functions() {
    sed -nE 's/^[A-Za-z_][^(#]*[ *](dp_[a-z0-9_]+)\(.*/\1/p' "$1" | sort -u
}
