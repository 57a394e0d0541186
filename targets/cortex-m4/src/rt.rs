//! Runtime pieces on top of cortex-m-rt (which does reset, `.data`/`.bss` and the FPU):
//! exact exit status, fault and panic reports, and the stack high-water mark.
//!
//! Exit statuses: 0 all passed, 1 a test failed, 101 panic, 128 + exception number for CPU
//! exceptions (HardFault 131; the configurable faults escalate to it), 255 for others.

#![allow(dead_code)] // each binary uses a subset

use cortex_m_rt::{exception, ExceptionFrame};

use crate::log;

/// Ends the program: QEMU exits with `code` (semihosting SYS_EXIT_EXTENDED).
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    // SAFETY: the System Control Block's fault status and address registers are always
    // readable in privileged mode (handlers are); reading them has no side effect.
    let reg = |addr: usize| unsafe { core::ptr::read_volatile(addr as *const u32) };
    log::exception(
        "HardFault",
        ef.pc(),
        ef.xpsr(),
        reg(0xE000_ED28),
        reg(0xE000_ED2C),
        reg(0xE000_ED34),
        reg(0xE000_ED38),
    );
    exit(128 + 3)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    log::unexpected_irq(irqn);
    let number = i32::from(irqn) + 16;
    exit(if (0..128).contains(&number) { 128 + number } else { 255 })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    log::panic(info);
    exit(101)
}

// -------------------------------------------------------------------------------------------------
// Stack high-water mark (the stack is everything between the statics and the top of RAM)
// -------------------------------------------------------------------------------------------------

const PAINT: u32 = 0xC0DE_57AC;

extern "C" {
    static _stack_end: u32;
    static _stack_start: u32;
}

fn stack_bounds() -> (usize, usize) {
    // Only the addresses of cortex-m-rt's linker-script symbols are taken.
    (core::ptr::addr_of!(_stack_end) as usize, core::ptr::addr_of!(_stack_start) as usize)
}

/// Size of the stack region (from the end of the statics to the top of RAM).
pub fn stack_size() -> usize {
    let (bottom, top) = stack_bounds();
    top - bottom
}

/// Fills the unused part of the stack with a pattern, for [`stack_used`].
#[inline(never)]
pub fn paint_stack() {
    let (bottom, _) = stack_bounds();
    let end = (cortex_m::register::msp::read() as usize - 256) & !3;
    let mut p = (bottom + 3) & !3;
    while p < end {
        // SAFETY: [bottom, msp - 256) lies in the stack region below every live frame.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack ever used since [`paint_stack`].
pub fn stack_used() -> usize {
    let (bottom, top) = stack_bounds();
    let mut p = (bottom + 3) & !3;
    // SAFETY: reads inside the stack region, below the current frame.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}
