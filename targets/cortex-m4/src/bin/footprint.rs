//! Engine + kernels + runtime + logging, with no model inside: the footprint an integrator
//! starts from (all kernels are linked, since the engine dispatches on the blob's opcodes).
//!
//! The blob is flashed separately, at [`BLOB_ADDR`] (under QEMU:
//! `-device loader,file=MODEL.dpl,addr=0x00300000`); its length comes from its header. The
//! program validates it, fills input 0 with a fixed pattern, runs one inference (inside a
//! `doppler_window::measure` window), prints the FNV-1a hash of output 0 and exits with 0, or
//! with 2 when the blob is missing or refused. It also prints its peak stack use.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m as _; // critical-section implementation (single core)
use cortex_m_rt::entry;
use doppler_engine::Interpreter;

#[path = "../log.rs"]
mod log;
#[path = "../rt.rs"]
mod rt;

/// Where the model blob is flashed (3 MiB into the 4 MiB flash, clear of the program).
const BLOB_ADDR: usize = 0x0030_0000;
/// Largest blob accepted from there.
const MAX_BLOB: usize = 1 << 20;
/// The arena: the integrator's choice, checked against the blob's `arena_bytes` at load.
const ARENA_BYTES: usize = 64 * 1024;

#[repr(C, align(16))]
struct Aligned<T>(T);

#[entry]
fn main() -> ! {
    static mut ARENA: Aligned<[u8; ARENA_BYTES]> = Aligned([0; ARENA_BYTES]);
    rt::paint_stack();

    // SAFETY: flash at BLOB_ADDR is mapped and readable (mps2-an386: 4 MiB at 0x0); the header's
    // length is bounded before the slice is made, and nothing writes flash while it lives.
    let blob: &'static [u8] = unsafe {
        let head = core::slice::from_raw_parts(black_box(BLOB_ADDR) as *const u8, 16);
        let len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
        if &head[..4] != b"DPLR" || len > MAX_BLOB {
            log::line(
                "footprint: no Doppler blob at 0x00300000 (QEMU: -device loader,file=M.dpl,addr=0x00300000)",
            );
            rt::exit(2)
        }
        core::slice::from_raw_parts(BLOB_ADDR as *const u8, len)
    };

    let mut interp = match Interpreter::new(blob, &mut ARENA.0) {
        Ok(i) => i,
        Err(e) => {
            log::engine_error("footprint: load", e.code(), e.message());
            rt::exit(2)
        }
    };
    for k in 0..interp.input_count() {
        if let Ok(input) = interp.input_bytes_mut(k) {
            for (i, b) in input.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(37) & 0x3f; // small values: valid for every dtype
            }
        }
    }
    if let Err(e) = doppler_window::measure(|| black_box(&mut interp).invoke()) {
        log::engine_error("footprint: invoke", e.code(), e.message());
        rt::exit(2)
    }
    let out = interp.output_bytes(0).unwrap_or(&[]);
    let fnv = out.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    log::footprint_ran(blob.len(), interp.model().op_count(), ARENA_BYTES, out.len(), fnv);
    log::stack(rt::stack_used(), rt::stack_size());
    rt::exit(0)
}
