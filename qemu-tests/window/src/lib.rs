//! Marker functions for instruction counting under QEMU with the `doppler-qemu-count` plugin
//! (`qemu-tests/plugin`).
//!
//! ```ignore
//! let y = doppler_window::measure(|| kernel(core::hint::black_box(&x)));
//! ```
//!
//! The plugin counts the guest instructions in `[first instruction of doppler_window_start,
//! first instruction of doppler_window_end)`. With [`measure`] that is exactly
//! * 1 — the start marker's return (`bx lr` / `ret`), then
//! * everything the closure executes (plus whatever glue the compiler puts around it), then
//! * 1 — the `bl`/`blx doppler_window_end`.
//!
//! so an empty `measure(|| ())` counts **2**, and that is the constant marker overhead to
//! subtract (the self-test checks it on armv7 ARM and Thumb code, aarch64 and bare metal).
//! Compiler glue around the closure (setting up its registers, spilling its result) also lands
//! in the window: a few constant instructions, negligible against a kernel.
//!
//! # Why the markers are assembly
//! On ARM and AArch64 the two markers are defined in `global_asm!` with fixed bodies
//! (`start: ret`, `end: nop; ret`; on 32-bit ARM `bx lr`, in Thumb code): they are opaque to
//! the optimiser (it cannot inline, merge, elide or reorder memory accesses across calls to
//! them), their sizes do not depend on the opt-level, and they are called directly (`bl`) so
//! no function-pointer glue lands inside the window. Their bodies differ, so even linker-level
//! identical-code folding cannot merge them.
//! On other architectures (host builds, where nothing is counted) they are ordinary
//! `#[no_mangle] #[inline(never)]` Rust functions with different bodies.
//!
//! # Keeping the work inside the window
//! Calls to the markers are opaque, so memory accesses cannot move across them, and
//! [`measure`] passes the closure's result through `black_box` before the end marker so it
//! cannot be computed later. Pure computations on *compile-time-known inputs* can still be
//! folded or hoisted: pass inputs through `core::hint::black_box` inside the closure.

#![no_std]

#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    // Thumb on every 32-bit ARM target: it exists on all of them (Cortex-M has no ARM state),
    // and the mode of a `global_asm!` block cannot be chosen per target on stable Rust.
    // `.thumb_func` marks the symbols as Thumb (odd address), so ARM-state callers reach them
    // with `blx` (the linker turns `bl` into `blx`): still one instruction.
    // Each marker in its own section so --gc-sections keeps or drops it independently.
    ".pushsection .text.doppler_window_start,\"ax\",%progbits",
    ".p2align 2",
    ".thumb",
    ".globl doppler_window_start",
    ".type doppler_window_start,%function",
    ".thumb_func",
    "doppler_window_start:",
    "    bx lr",
    ".size doppler_window_start, . - doppler_window_start",
    ".popsection",
    ".pushsection .text.doppler_window_end,\"ax\",%progbits",
    ".p2align 2",
    ".thumb",
    ".globl doppler_window_end",
    ".type doppler_window_end,%function",
    ".thumb_func",
    "doppler_window_end:",
    "    nop",
    "    bx lr",
    ".size doppler_window_end, . - doppler_window_end",
    ".popsection",
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".pushsection .text.doppler_window_start,\"ax\",%progbits",
    ".globl doppler_window_start",
    ".type doppler_window_start,%function",
    ".p2align 2",
    "doppler_window_start:",
    "    ret",
    ".size doppler_window_start, . - doppler_window_start",
    ".popsection",
    ".pushsection .text.doppler_window_end,\"ax\",%progbits",
    ".globl doppler_window_end",
    ".type doppler_window_end,%function",
    ".p2align 2",
    "doppler_window_end:",
    "    nop",
    "    ret",
    ".size doppler_window_end, . - doppler_window_end",
    ".popsection",
);

#[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
extern "C" {
    fn doppler_window_start();
    fn doppler_window_end();
}

/// Start marker (host fallback; never counted).
#[cfg(not(any(target_arch = "arm", target_arch = "aarch64")))]
#[no_mangle]
#[inline(never)]
pub extern "C" fn doppler_window_start() {
    core::hint::black_box(0x57a7u16);
}

/// End marker (host fallback; never counted).
#[cfg(not(any(target_arch = "arm", target_arch = "aarch64")))]
#[no_mangle]
#[inline(never)]
pub extern "C" fn doppler_window_end() {
    core::hint::black_box(0xe9du16);
}

/// Opens a window: calls `doppler_window_start`. The window includes this marker's return
/// instruction (1 instruction).
#[inline(always)]
pub fn window_start() {
    // SAFETY: `doppler_window_start` is the assembly above: it only returns (no registers
    // other than the ones the C ABI lets a call clobber are touched, no memory, no stack).
    #[allow(unused_unsafe)]
    unsafe {
        doppler_window_start()
    }
}

/// Closes a window: calls `doppler_window_end`. The call instruction (`bl`) is counted, the
/// marker's body is not.
#[inline(always)]
pub fn window_end() {
    // SAFETY: as for `window_start`.
    #[allow(unused_unsafe)]
    unsafe {
        doppler_window_end()
    }
}

/// Runs `f` inside a counted window and returns its result. Windows must not nest; each call
/// produces one `window N:` line in the plugin's report, in execution order.
///
/// Overhead: exactly 2 counted instructions when `f` returns `()` (the usual case: kernels
/// write into output buffers), see the crate docs. When `f` returns a value, the value is
/// passed through `black_box` before the end marker so it cannot be computed after it; that
/// stores it to the stack and costs a few more (constant) instructions inside the window.
#[inline(always)]
pub fn measure<R>(f: impl FnOnce() -> R) -> R {
    window_start();
    let r = f();
    if core::mem::size_of::<R>() != 0 {
        // Forces `r` to be fully computed (and in memory) before the end marker.
        core::hint::black_box(&r);
    }
    window_end();
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn measure_returns_the_value() {
        assert_eq!(super::measure(|| 6 * 7), 42);
    }
}
