//! Bare-metal self-test guest for `qemu-system-arm -M vexpress-a9 -cpu cortex-a9`
//! (target `armv7a-none-eabi`): runs the same cases as the Linux self-test, prints the
//! `expect window K: ...` lines through semihosting and exits through semihosting.
//! Interrupts stay masked (reset state), so counts are deterministic without `-icount`.

#![no_std]
#![no_main]

#[path = "../../selftest/src/cases.rs"]
mod cases;

use core::arch::{asm, global_asm};
use core::fmt;

global_asm!(
    ".section .text.start,\"ax\",%progbits",
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "    ldr sp, =__stack_top",
    // Grant CP10/CP11 (VFP/NEON) full access, then set FPEXC.EN.
    "    mrc p15, 0, r0, c1, c0, 2",
    "    orr r0, r0, #0xf00000",
    "    mcr p15, 0, r0, c1, c0, 2",
    "    isb",
    "    .fpu neon",
    "    mov r0, #0x40000000",
    "    vmsr fpexc, r0",
    // Zero .bss.
    "    ldr r0, =__bss_start",
    "    ldr r1, =__bss_end",
    "    mov r2, #0",
    "1:  cmp r0, r1",
    "    strlo r2, [r0], #4",
    "    blo 1b",
    "    bl bare_main",
    "2:  b 2b",
);

/// ARM semihosting call (`svc 0x123456` in ARM state).
fn semihost(op: u32, arg: usize) -> u32 {
    let r;
    // SAFETY: the semihosting trap reads `arg` as the operation's parameter block/pointer,
    // which the callers below pass valid; QEMU handles it (run with `-semihosting`).
    unsafe { asm!("svc 0x123456", inout("r0") op => r, in("r1") arg, options(nostack)) };
    r
}

/// Line-buffered SYS_WRITE0 (0x04) writer.
struct Console {
    buf: [u8; 128],
    len: usize,
}

impl Console {
    fn flush(&mut self) {
        self.buf[self.len] = 0;
        semihost(0x04, self.buf.as_ptr() as usize);
        self.len = 0;
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' || self.len == self.buf.len() - 1 {
                self.flush();
            }
        }
        Ok(())
    }
}

fn exit(ok: bool) -> ! {
    // SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit (0x20026) ends QEMU with status 0;
    // ADP_Stopped_RunTimeErrorUnknown (0x20023) with status 1.
    semihost(0x18, if ok { 0x20026 } else { 0x20023 });
    loop {
        core::hint::spin_loop();
    }
}

#[no_mangle]
extern "C" fn bare_main() -> ! {
    let mut c = Console { buf: [0; 128], len: 0 };
    let ok = cases::run_all(&mut c).is_ok();
    exit(ok)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(false)
}
