//! Proves the runtime reports CPU exceptions. The first semihosting argument chooses the fault
//! (`-semihosting-config enable=on,arg=fault,arg=KIND`):
//!
//! * `undef` (default): an undefined instruction — status 129 (128 + vector 1);
//! * `dabt`: an unaligned load with alignment checking on (SCTLR.A) — status 132 (128 + vector 4);
//! * `svc`: a supervisor call other than semihosting's — status 130 (128 + vector 2).
#![no_std]
#![no_main]

use doppler_cortex_a9::{self as rt, println};

rt::entry!(main);

fn main() -> i32 {
    let args = semihosting::experimental::env::args::<128>();
    let kind = args.as_ref().ok().and_then(|a| a.into_iter().nth(1)).and_then(Result::ok).unwrap_or("undef");
    match kind {
        "undef" => {
            println!("fault: executing an undefined instruction (expect status 129)");
            // SAFETY: deliberately traps; the runtime's handler reports and exits.
            unsafe { core::arch::asm!("udf #0x42") };
        }
        "dabt" => {
            println!("fault: unaligned load with SCTLR.A (alignment checking) set (expect status 132)");
            let buf = [0u32; 2];
            let p = (buf.as_ptr() as usize + 1) as *const u32;
            // SAFETY: turns alignment checking on and deliberately faults (alignment fault, a
            // data abort); the runtime's handler reports and exits.
            unsafe {
                core::arch::asm!(
                    "mrc p15, 0, {t}, c1, c0, 0",
                    "orr {t}, {t}, #2",
                    "mcr p15, 0, {t}, c1, c0, 0",
                    "isb",
                    "ldr {t}, [{p}]",
                    t = out(reg) _,
                    p = in(reg) p,
                )
            };
        }
        "svc" => {
            println!("fault: svc #1 (expect status 130)");
            // SAFETY: deliberately traps; the runtime's handler reports and exits.
            unsafe { core::arch::asm!("svc #1") };
        }
        other => {
            println!("fault: unknown kind {other:?} (undef, dabt, svc)");
            return 2;
        }
    }
    println!("fault: still running: the exception was not taken");
    1
}
