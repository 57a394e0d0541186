//! Doppler firmware for bare-metal Cortex-A9 (QEMU `vexpress-a9`).
//!
//! Runs the example models embedded by `doppler-bare-suite` (blobs in `.rodata`, 16-byte
//! aligned) on a `static` arena sized at build time from the blob headers, checks every output,
//! prints `test NAME ... ok` lines and a closing `N passed, N failed` line through semihosting,
//! and exits with status 0 (all passed) or 1.
//!
//! Each model load and each inference runs inside a `doppler_window::measure` window; the
//! firmware prints `window K = WHAT` before each, and the `doppler-qemu-count` plugin
//! (`-plugin libdoppler_qemu_count.so,elf=THIS_ELF`) reports `window K: INSTRUCTIONS`.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use doppler_bare_suite::{self as suite, Aligned, Failure, Measured, Report};
use doppler_cortex_a9::{self as rt, println};

/// The arena: as large as the largest embedded model needs (its blob header's `arena_bytes`,
/// read by the suite's build.rs), 16-byte aligned, in `.bss`.
static mut ARENA: Aligned<[u8; suite::ARENA_BYTES]> = Aligned([0; suite::ARENA_BYTES]);
/// RAM copy of a blob for the corrupted-blob test.
static mut BLOB_COPY: Aligned<[u8; suite::MAX_BLOB_BYTES]> = Aligned([0; suite::MAX_BLOB_BYTES]);

rt::entry!(main);

fn main() -> i32 {
    rt::paint_stack();
    // SAFETY: `main` runs once, single-threaded, with interrupts masked: these are the only
    // references to the two statics.
    let (arena, blob_copy) = unsafe { (&mut (*addr_of_mut!(ARENA)).0, &mut (*addr_of_mut!(BLOB_COPY)).0) };

    let kernels = if cfg!(feature = "force-reference") {
        "reference kernels (force-reference)"
    } else {
        "best kernels for armv7 (NEON where implemented)"
    };
    println!("doppler-cortex-a9: {} models, {kernels}", suite::MODELS.len());
    println!("arena {} bytes (static), blobs {} bytes (.rodata)", arena.len(), suite::TOTAL_BLOB_BYTES);

    let s = suite::run(arena, blob_copy, &mut Semihosting);

    println!("stack: {} of {} bytes used", rt::stack_used(), rt::stack_size());
    println!("{} passed, {} failed", s.passed, s.failed);
    i32::from(s.failed != 0)
}

/// Test report as text through semihosting.
struct Semihosting;

impl Report for Semihosting {
    fn window(&mut self, index: u32, model: &str, case: &str, what: Measured) {
        match what {
            Measured::Load => println!("window {index} = {model} load"),
            Measured::Invoke => println!("window {index} = {model}::{case} invoke"),
        }
    }

    fn f32_max_diff(&mut self, model: &str, case: &str, max_abs_diff: f32) {
        println!("    {model}::{case}: float32 max |diff| {max_abs_diff:e}");
    }

    fn pass(&mut self, model: &str, test: &str) {
        println!("test {model}::{test} ... ok");
    }

    fn fail(&mut self, model: &str, test: &str, why: Failure) {
        println!("test {model}::{test} ... FAILED");
        println!("    {why}");
    }
}
