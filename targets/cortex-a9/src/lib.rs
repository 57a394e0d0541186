//! A minimal bare-metal runtime for Cortex-A9 on QEMU's `vexpress-a9` (`armv7a-none-eabi`).
//!
//! * Start-up (`_start`, ARM state, entered in SVC mode by `qemu-system-arm -kernel`): masks
//!   interrupts, gives the exception modes (UND, ABT, IRQ, FIQ) a small shared stack and SVC mode
//!   the main stack, points VBAR at the vector table (SCTLR.V = 0), grants CP10/CP11 (VFP/NEON)
//!   full access in CPACR, sets FPEXC.EN, zeroes `.bss` and calls the firmware's entry function
//!   (declared with [`entry!`]); its return value is the exit status.
//! * Exceptions: every vector but reset reports the exception (kind, faulting PC, CPSR, and the
//!   fault status/address registers for aborts) through semihosting and exits with status
//!   `128 + vector index` (undefined instruction 129, SVC 130, prefetch abort 131, data abort
//!   132, reserved 133, IRQ 134, FIQ 135). Semihosting's own `svc 0x123456` is handled by QEMU
//!   and never reaches the vector.
//! * A panic prints its message and exits with status 101.
//! * Output and exit status go through the `semihosting` crate (`svc 0x123456`), which works on
//!   Cortex-A (cortex-m-semihosting does not); [`exit`] uses SYS_EXIT_EXTENDED, so the exact
//!   status reaches QEMU's exit code.
//! * The MMU and caches stay off (reset state): addresses are physical, and counting guest
//!   instructions does not depend on caches. On real silicon an integrator would enable the MMU
//!   with a flat map (Normal memory for RAM) before running NEON code on unaligned data.
//!
//! Memory map (`link.x`): everything in the 64 MiB of RAM at `0x6000_0000`, vectors first.
#![no_std]

use core::arch::{asm, global_asm};

pub use semihosting::{eprintln, println};

global_asm!(
    r#"
    .section .vectors, "ax", %progbits
    .arm
    .balign 32
    .global __doppler_vectors
__doppler_vectors:
    b _start                        @ 0x00 reset
    b __doppler_exc_undef           @ 0x04 undefined instruction
    b __doppler_exc_svc             @ 0x08 supervisor call
    b __doppler_exc_pabt            @ 0x0c prefetch abort
    b __doppler_exc_dabt            @ 0x10 data abort
    b __doppler_exc_reserved        @ 0x14 (reserved)
    b __doppler_exc_irq             @ 0x18 IRQ
    b __doppler_exc_fiq             @ 0x1c FIQ

    .section .text.start, "ax", %progbits
    .arm
    .global _start
    .type _start, %function
_start:
    cpsid aif
    @ The exception modes share one small stack: their handlers report and exit.
    cps #0x1b                       @ UND
    ldr sp, =__exc_stack_top
    cps #0x17                       @ ABT
    ldr sp, =__exc_stack_top
    cps #0x12                       @ IRQ
    ldr sp, =__exc_stack_top
    cps #0x11                       @ FIQ
    ldr sp, =__exc_stack_top
    cps #0x13                       @ back to SVC, with the main stack
    ldr sp, =__stack_top
    @ Vector base: VBAR, used when SCTLR.V = 0 (low vectors).
    ldr r0, =__doppler_vectors
    mcr p15, 0, r0, c12, c0, 0
    mrc p15, 0, r0, c1, c0, 0
    bic r0, r0, #(1 << 13)
    mcr p15, 0, r0, c1, c0, 0
    isb
    @ CPACR: full access to CP10 and CP11 (VFP and NEON).
    mrc p15, 0, r0, c1, c0, 2
    orr r0, r0, #(0xf << 20)
    mcr p15, 0, r0, c1, c0, 2
    isb
    @ FPEXC.EN: turn the VFP/NEON unit on.
    .fpu neon
    mov r0, #(1 << 30)
    vmsr fpexc, r0
    @ Zero .bss (16-byte aligned at both ends, see link.x).
    ldr r0, =__bss_start
    ldr r1, =__bss_end
    mov r2, #0
1:  cmp r0, r1
    strlo r2, [r0], #4
    blo 1b
    bl __doppler_a9_main            @ r0 = the firmware's exit status
    b __doppler_a9_exit
    .size _start, . - _start

    .section .text.doppler_exceptions, "ax", %progbits
    .arm
__doppler_exc_undef:
    mov r0, #1
    b 2f
__doppler_exc_svc:
    mov r0, #2
    b 2f
__doppler_exc_pabt:
    mov r0, #3
    b 2f
__doppler_exc_dabt:
    mov r0, #4
    b 2f
__doppler_exc_reserved:
    mov r0, #5
    b 2f
__doppler_exc_irq:
    mov r0, #6
    b 2f
__doppler_exc_fiq:
    mov r0, #7
2:  mov r1, lr
    mrs r2, spsr
    ldr sp, =__exc_stack_top
    bl __doppler_a9_exception
"#
);

/// Declares the firmware's entry function, `fn() -> i32`, called by the start-up code once the
/// CPU is set up; its return value is the exit status reported to QEMU.
#[macro_export]
macro_rules! entry {
    ($f:path) => {
        #[no_mangle]
        pub extern "C" fn __doppler_a9_main() -> i32 {
            let f: fn() -> i32 = $f;
            f()
        }
    };
}

/// Ends the program: QEMU exits with `code` (SYS_EXIT_EXTENDED).
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

#[no_mangle]
extern "C" fn __doppler_a9_exit(code: i32) -> ! {
    exit(code)
}

/// Exception report; `kind` is the vector index, `lr` the exception mode's link register,
/// `spsr` the interrupted CPSR.
#[no_mangle]
extern "C" fn __doppler_a9_exception(kind: u32, lr: u32, spsr: u32) -> ! {
    let thumb = spsr & (1 << 5) != 0;
    let insn = if thumb { 2 } else { 4 };
    let (name, pc) = match kind {
        1 => ("undefined instruction", lr.wrapping_sub(insn)),
        2 => ("unexpected supervisor call", lr.wrapping_sub(insn)),
        3 => ("prefetch abort", lr.wrapping_sub(4)),
        4 => ("data abort", lr.wrapping_sub(8)),
        6 => ("unexpected IRQ", lr.wrapping_sub(4)),
        7 => ("unexpected FIQ", lr.wrapping_sub(4)),
        _ => ("reserved exception vector", lr),
    };
    eprintln!(
        "exception: {name} at pc={pc:#010x} (cpsr={spsr:#010x}, {})",
        if thumb { "Thumb" } else { "ARM" }
    );
    match kind {
        3 => {
            let (ifsr, ifar): (u32, u32);
            // SAFETY: reading the instruction fault status/address registers (CP15) has no side
            // effects; we are in a privileged mode.
            unsafe {
                asm!("mrc p15, 0, {0}, c5, c0, 1", "mrc p15, 0, {1}, c6, c0, 2", out(reg) ifsr, out(reg) ifar,
                     options(nomem, nostack, preserves_flags));
            }
            eprintln!("           IFSR={ifsr:#010x} IFAR={ifar:#010x}");
        }
        4 => {
            let (dfsr, dfar): (u32, u32);
            // SAFETY: as above, for the data fault status/address registers.
            unsafe {
                asm!("mrc p15, 0, {0}, c5, c0, 0", "mrc p15, 0, {1}, c6, c0, 0", out(reg) dfsr, out(reg) dfar,
                     options(nomem, nostack, preserves_flags));
            }
            eprintln!("           DFSR={dfsr:#010x} DFAR={dfar:#010x}");
        }
        _ => {}
    }
    exit(128 + kind as i32)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    eprintln!("panicked: {info}");
    exit(101)
}

// -------------------------------------------------------------------------------------------------
// Stack high-water mark
// -------------------------------------------------------------------------------------------------

const PAINT: u32 = 0xC0DE_57AC;

extern "C" {
    static __stack_bottom: u32;
    static __stack_top: u32;
}

fn stack_bounds() -> (usize, usize) {
    // Only the addresses of the linker-script symbols are taken (no read: no `unsafe`).
    (core::ptr::addr_of!(__stack_bottom) as usize, core::ptr::addr_of!(__stack_top) as usize)
}

fn current_sp() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Size of the main (SVC-mode) stack.
pub fn stack_size() -> usize {
    let (bottom, top) = stack_bounds();
    top - bottom
}

/// Fills the unused part of the main stack with a pattern, for [`stack_used`].
#[inline(never)]
pub fn paint_stack() {
    let (bottom, _) = stack_bounds();
    // Leave a margin below the live frames (this function's own included).
    let end = (current_sp() - 256) & !3;
    let mut p = bottom;
    while p < end {
        // SAFETY: [bottom, sp - 256) is inside the stack region (link.x) and below every live
        // frame: nothing uses it yet.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of the main stack ever used since [`paint_stack`] (the first overwritten word).
pub fn stack_used() -> usize {
    let (bottom, top) = stack_bounds();
    let mut p = bottom;
    // SAFETY: reads inside the stack region, below the current frame.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}
