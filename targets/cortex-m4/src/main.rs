//! Doppler firmware for bare-metal Cortex-M4F (QEMU `mps2-an386`).
//!
//! Runs the example models embedded by `doppler-bare-suite` (blobs in flash, 16-byte aligned) on
//! a `static` arena in RAM sized at build time from the blob headers, checks every output, and
//! reports through the private logging shim ([`log`]: defmt over semihosting by default, decoded
//! by `defmt-print`): `test NAME ... ok` lines and a closing `N passed, N failed` line. Exits with
//! status 0 (all passed) or 1.
//!
//! Each model load and each inference runs inside a `doppler_window::measure` window announced
//! as `window K = WHAT`; under the `doppler-qemu-count` plugin they are counted too.
#![no_std]
#![no_main]

use cortex_m as _; // critical-section implementation (single core)
use cortex_m_rt::entry;
use doppler_bare_suite::{self as suite, Aligned};

mod log;
mod rt;

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these `static mut`s into `&'static mut` references, once: the arena
    // sized from the blob headers at build time, and a RAM copy of a blob for the
    // corrupted-blob test. Both are 16-byte aligned and live in .bss.
    static mut ARENA: Aligned<[u8; suite::ARENA_BYTES]> = Aligned([0; suite::ARENA_BYTES]);
    static mut BLOB_COPY: Aligned<[u8; suite::MAX_BLOB_BYTES]> = Aligned([0; suite::MAX_BLOB_BYTES]);

    rt::paint_stack();
    let kernels = if cfg!(feature = "force-reference") {
        "reference kernels (force-reference)"
    } else {
        "best kernels for thumbv7em (the portable ones: no NEON on M-profile)"
    };
    log::banner(suite::MODELS.len(), kernels, ARENA.0.len(), suite::TOTAL_BLOB_BYTES);

    let s = suite::run(&mut ARENA.0, &mut BLOB_COPY.0, &mut log::Log);

    log::stack(rt::stack_used(), rt::stack_size());
    log::summary(s.passed, s.failed);
    rt::exit(i32::from(s.failed != 0))
}
