//! The logging shim: the only module that knows how text leaves the chip.
//!
//! With the `defmt` feature (the default) every line is a `defmt::println!` frame sent over
//! semihosting (`defmt-semihosting`) and decoded on the host by `defmt-print -e ELF` (run.sh);
//! the format strings stay in the ELF, not in flash. Without it, the same lines are printed as
//! plain text through semihosting. Nothing outside this module (the shared suite, the engine,
//! the other targets) sees defmt: they talk to [`Log`] through `doppler_bare_suite::Report` or
//! to the functions below.
//!
//! Format strings use only `{}` and `{:#x}`, which mean the same thing to both back ends.

#![allow(dead_code)] // each binary uses a subset

#[cfg(feature = "defmt")]
use defmt_semihosting as _; // the global defmt logger

use doppler_bare_suite::{Failure, Measured, Report};

macro_rules! out {
    ($($t:tt)*) => {{
        #[cfg(feature = "defmt")]
        defmt::println!($($t)*);
        #[cfg(not(feature = "defmt"))]
        semihosting::println!($($t)*);
    }};
}

/// The suite's report, as lines through the shim.
pub struct Log;

impl Report for Log {
    fn window(&mut self, index: u32, model: &str, case: &str, what: Measured) {
        match what {
            Measured::Load => out!("window {} = {} load", index, model),
            Measured::Invoke => out!("window {} = {}::{} invoke", index, model, case),
        }
    }

    fn f32_max_diff(&mut self, model: &str, case: &str, max_abs_diff: f32) {
        out!("    {}::{}: float32 max |diff| {}", model, case, max_abs_diff);
    }

    fn pass(&mut self, model: &str, test: &str) {
        out!("test {}::{} ... ok", model, test);
    }

    fn fail(&mut self, model: &str, test: &str, why: Failure) {
        out!("test {}::{} ... FAILED", model, test);
        match why {
            Failure::Engine(e) => out!("    engine error {}: {}", e.code(), e.message()),
            Failure::Exact { output, byte, got, expected } => {
                out!("    output {} differs at byte {}: got {}, expected {}", output, byte, got, expected)
            }
            Failure::F32 { output, index, got, expected } => {
                out!(
                    "    output {}[{}] = {}, expected {} (outside the float32 tolerance)",
                    output,
                    index,
                    got,
                    expected
                )
            }
            Failure::Size { got, expected } => out!("    fixture has {} bytes, the tensor {}", got, expected),
            Failure::WrongStatus { expected, got } => {
                out!("    status {} (0 = accepted), expected {}", got, expected)
            }
        }
    }
}

pub fn line(s: &str) {
    out!("{}", s);
}

pub fn banner(models: usize, kernels: &str, arena: usize, blobs: usize) {
    out!("doppler-cortex-m4: {} models, {}", models, kernels);
    out!("arena {} bytes (static), blobs {} bytes (flash)", arena, blobs);
}

pub fn stack(used: usize, size: usize) {
    out!("stack: {} of {} bytes used", used, size);
}

pub fn summary(passed: u32, failed: u32) {
    out!("{} passed, {} failed", passed, failed);
}

pub fn footprint_ran(blob_bytes: usize, ops: usize, arena: usize, out_bytes: usize, fnv: u32) {
    out!("footprint: ran a {}-byte blob from flash, {} ops, arena {} bytes", blob_bytes, ops, arena);
    out!("footprint: output 0 has {} bytes, FNV-1a {:#x}", out_bytes, fnv);
}

pub fn engine_error(what: &str, code: i32, message: &str) {
    out!("{}: engine error {}: {}", what, code, message);
}

pub fn exception(name: &str, pc: u32, xpsr: u32, cfsr: u32, hfsr: u32, mmfar: u32, bfar: u32) {
    out!("exception: {} at pc={:#x} (xpsr={:#x})", name, pc, xpsr);
    out!("           CFSR={:#x} HFSR={:#x} MMFAR={:#x} BFAR={:#x}", cfsr, hfsr, mmfar, bfar);
}

pub fn unexpected_irq(irqn: i16) {
    out!("exception: unexpected exception/interrupt, IRQn {}", irqn);
}

pub fn panic(info: &core::panic::PanicInfo) {
    #[cfg(feature = "defmt")]
    defmt::println!("panicked: {}", defmt::Display2Format(info));
    #[cfg(not(feature = "defmt"))]
    semihosting::println!("panicked: {}", info);
}
