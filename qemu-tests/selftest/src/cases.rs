//! Self-test cases with known instruction counts. Shared (through `#[path]`) by the Linux
//! driver (`main.rs`, qemu-user) and the bare-metal driver (`../../selftest-bare`,
//! qemu-system-arm), so `no_std`.
//!
//! Every case opens exactly one window, in order, so case `k` is the plugin's `window k`.
//! Each case writes one line `expect window K: SPEC` that `qemu-tests/selftest.sh` checks
//! against the plugin's report. SPEC is `= V` (exact) or `= window J + D` (exact difference).

use core::arch::asm;
use core::fmt::{self, Write};
use core::hint::black_box;
use doppler_window::measure;

/// Loop iterations of the exact cases.
pub const N: u32 = 1000;

/// Window in asm, markers called from the asm itself, so the count does not depend on the
/// compiler: `ret` of the start marker (1) + `3*n` (3-instruction loop body) + `bl` (1).
#[inline(never)]
pub fn exact_int_loop(n: u32) {
    // SAFETY: the markers touch no register but the link register, which is declared
    // clobbered; the loop only uses the operand registers; no memory is accessed.
    #[cfg(target_arch = "arm")]
    unsafe {
        asm!(
            "bl doppler_window_start",
            "2:",
            "add {acc}, {acc}, #3",
            "subs {i}, {i}, #1",
            "bne 2b",
            "bl doppler_window_end",
            i = inout(reg) n => _,
            acc = inout(reg) 0u32 => _,
            out("lr") _,
        );
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!(
            "bl doppler_window_start",
            "2:",
            "add {acc:w}, {acc:w}, #3",
            "subs {i:w}, {i:w}, #1",
            "b.ne 2b",
            "bl doppler_window_end",
            i = inout(reg) n => _,
            acc = inout(reg) 0u32 => _,
            out("x30") _,
        );
    }
}

/// Same with a NEON instruction in the loop: `1 + 4*n + 1`. On 32-bit ARM this needs NEON
/// (Cortex-A9 has it; a CPU without it raises SIGILL / undefined-instruction).
#[inline(never)]
pub fn exact_neon_loop(n: u32) {
    // SAFETY: as above; the NEON register written (q0 = d0:d1) is declared clobbered where
    // the compiler may use it (hard-float targets; a soft-float build without VFP features,
    // such as the bare-metal `armv7a-none-eabi` self-test, never allocates d registers).
    #[cfg(target_arch = "arm")]
    unsafe {
        #[cfg(target_abi = "eabihf")]
        macro_rules! neon_asm { ($($t:tt)*) => { asm!($($t)* out("d0") _, out("d1") _) } }
        #[cfg(not(target_abi = "eabihf"))]
        macro_rules! neon_asm { ($($t:tt)*) => { asm!($($t)*) } }
        neon_asm!(
            ".fpu neon",
            "bl doppler_window_start",
            "2:",
            "vadd.i8 q0, q0, q1",
            "add {acc}, {acc}, #3",
            "subs {i}, {i}, #1",
            "bne 2b",
            "bl doppler_window_end",
            i = inout(reg) n => _,
            acc = inout(reg) 0u32 => _,
            out("lr") _,
        );
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!(
            "bl doppler_window_start",
            "2:",
            "add v0.16b, v0.16b, v1.16b",
            "add {acc:w}, {acc:w}, #3",
            "subs {i:w}, {i:w}, #1",
            "b.ne 2b",
            "bl doppler_window_end",
            i = inout(reg) n => _,
            acc = inout(reg) 0u32 => _,
            out("x30") _,
            out("v0") _,
        );
    }
}

/// The 3-instruction loop alone (no markers), for use inside `measure`.
#[inline(always)]
fn loop_only(n: u32) {
    // SAFETY: register-only loop on the operand registers.
    #[cfg(target_arch = "arm")]
    unsafe {
        asm!("2:", "add {acc}, {acc}, #3", "subs {i}, {i}, #1", "bne 2b",
             i = inout(reg) n => _, acc = inout(reg) 0u32 => _);
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!("2:", "add {acc:w}, {acc:w}, #3", "subs {i:w}, {i:w}, #1", "b.ne 2b",
             i = inout(reg) n => _, acc = inout(reg) 0u32 => _);
    }
}

/// `measure` around a loop of `n` iterations, `n` not known at compile time.
#[inline(never)]
pub fn measured_loop(n: u32) {
    let n = black_box(n);
    measure(|| loop_only(n));
}

/// Runs the NEON case only (for the SIGILL check on a CPU without NEON).
#[allow(dead_code)] // not used by the bare-metal driver
pub fn run_neon_only(out: &mut dyn Write) -> fmt::Result {
    exact_neon_loop(black_box(N));
    writeln!(out, "expect window 0: = {}", 4 * N + 2)
}

/// Runs every case, in window order, and writes the expectations.
pub fn run_all(out: &mut dyn Write) -> fmt::Result {
    exact_int_loop(black_box(N));
    writeln!(out, "expect window 0: = {}", 3 * N + 2)?;

    exact_neon_loop(black_box(N));
    writeln!(out, "expect window 1: = {}", 4 * N + 2)?;

    // The marker overhead of `measure`: the start marker's return + the `bl` to the end marker.
    measure(|| ());
    writeln!(out, "expect window 2: = 2")?;

    // `measure` around compiled code: a loop of n iterations costs 3n more than the empty
    // window (plus the moves the compiler needs to set up the asm operands, `G` below).
    // Windows 3..=5 must be exactly linear in n; window 3 fixes G.
    measured_loop(10);
    writeln!(out, "expect window 3: = window 2 + {} + G", 3 * 10)?;
    measured_loop(100);
    writeln!(out, "expect window 4: = window 3 + {}", 3 * 90)?;
    measured_loop(N);
    writeln!(out, "expect window 5: = window 3 + {}", 3 * (N - 10))?;

    // The same exact asm case again: windows are independent of what ran before.
    exact_int_loop(black_box(N));
    writeln!(out, "expect window 6: = window 0 + 0")
}
