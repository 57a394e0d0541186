//! The test set of Doppler's bare-metal firmwares (Cortex-A9 and Cortex-M4), shared by both.
//!
//! The fixtures are made on the host at build time (see `build.rs`): each example model's blob,
//! its sample input with the committed expected output, and generated inputs whose expected
//! outputs the host engine (reference kernels) computed. They are embedded in `.rodata` with
//! `include_bytes!`; the blobs are 16-byte aligned so constants are read where they lie.
//!
//! [`run`] binds each model to the caller's arena, runs every case, compares the outputs
//! (int8 and bit-packed outputs byte for byte, float32 within [`F32_ATOL`] + [`F32_RTOL`]·|e|,
//! the tolerance of `doppler run --expect`), checks that bad arenas and a corrupted blob are
//! refused with the right typed error, and reports through a [`Report`] the firmware implements
//! (so this crate knows nothing of semihosting or defmt).
//!
//! Every `Interpreter::new` and every `invoke` runs inside a `doppler_window::measure` window,
//! in a fixed order, and is announced to the [`Report`] first with its window number, so the
//! instruction counts of the `doppler-qemu-count` plugin (`window N: COUNT`) can be attributed.
#![no_std]

use core::hint::black_box;

use doppler_engine::{Error, Interpreter};

/// `T` on a 16-byte boundary (blobs, arenas).
#[repr(C, align(16))]
pub struct Aligned<T: ?Sized>(pub T);

/// One embedded model.
pub struct ModelFixture {
    pub name: &'static str,
    /// The blob (16-byte aligned, in `.rodata`).
    pub blob: &'static [u8],
    /// The blob header's `arena_bytes`, read at build time.
    pub arena_bytes: usize,
    pub cases: &'static [CaseFixture],
}

/// One input set with its expected outputs.
pub struct CaseFixture {
    pub name: &'static str,
    /// Bytes of each graph input, in order.
    pub inputs: &'static [&'static [u8]],
    pub outputs: &'static [OutputFixture],
}

/// How an output is compared with its expected bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Byte for byte (int8, int32, bit-packed): optimized kernels are bit-exact.
    Exact,
    /// float32 within `F32_ATOL + F32_RTOL · |expected|` (summation order may differ).
    F32,
}

pub struct OutputFixture {
    pub compare: Compare,
    pub bytes: &'static [u8],
}

mod fixtures {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
pub use fixtures::{ARENA_BYTES, MAX_BLOB_BYTES, MODELS, TOTAL_BLOB_BYTES};

/// Absolute float32 tolerance (as `doppler run --expect`).
pub const F32_ATOL: f32 = 1e-5;
/// Relative float32 tolerance (as `doppler run --expect`).
pub const F32_RTOL: f32 = 1e-4;

/// What a window measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measured {
    /// `Interpreter::new`: parse, validate (CRC included) and bind.
    Load,
    /// One `invoke`: an inference.
    Invoke,
}

impl Measured {
    pub const fn name(self) -> &'static str {
        match self {
            Measured::Load => "load",
            Measured::Invoke => "invoke",
        }
    }
}

/// Why a test failed.
#[derive(Clone, Copy, Debug)]
pub enum Failure {
    /// The engine refused or failed.
    Engine(Error),
    /// An exactly compared output differs at `byte`.
    Exact { output: usize, byte: usize, got: u8, expected: u8 },
    /// A float32 output is outside the tolerance at element `index`.
    F32 { output: usize, index: usize, got: f32, expected: f32 },
    /// The fixture's input or output size does not match the model's tensor.
    Size { got: usize, expected: usize },
    /// A refusal test was accepted (`got` = 0) or refused with another status code.
    WrongStatus { expected: &'static str, got: i32 },
}

/// Where the suite's results go (semihosting text, defmt, …).
pub trait Report {
    /// Window `index` (numbered from 0 in execution order) is about to measure `what` for
    /// `model::case`.
    fn window(&mut self, index: u32, model: &str, case: &str, what: Measured);
    /// Largest |got − expected| of a float32 comparison that passed (0 means bit-identical).
    fn f32_max_diff(&mut self, model: &str, case: &str, max_abs_diff: f32);
    fn pass(&mut self, model: &str, test: &str);
    fn fail(&mut self, model: &str, test: &str, why: Failure);
}

/// Totals of one [`run`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: u32,
    pub failed: u32,
    pub windows: u32,
}

impl Summary {
    fn record<R: Report>(&mut self, r: &mut R, model: &str, test: &str, result: Result<(), Failure>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                r.pass(model, test);
            }
            Err(why) => {
                self.failed += 1;
                r.fail(model, test, why);
            }
        }
    }

    fn window<R: Report>(&mut self, r: &mut R, model: &str, case: &str, what: Measured) {
        r.window(self.windows, model, case, what);
        self.windows += 1;
    }
}

/// Runs the whole test set. `arena` must be 16-byte aligned and at least [`ARENA_BYTES`] long,
/// `blob_copy` at least [`MAX_BLOB_BYTES`] (16-byte aligned; the corrupted-blob test uses it).
pub fn run<R: Report>(arena: &mut [u8], blob_copy: &mut [u8], r: &mut R) -> Summary {
    let mut s = Summary::default();
    for m in MODELS.iter() {
        // Bind (validation included) inside a window: the boot-time cost of a model.
        s.window(r, m.name, "load", Measured::Load);
        let a = &mut *arena;
        let bound = doppler_window::measure(move || Interpreter::new(black_box(m.blob), a));
        match bound {
            Ok(mut interp) => {
                s.record(r, m.name, "load", Ok(()));
                for case in m.cases {
                    let result = run_case(&mut s, r, m.name, &mut interp, case);
                    s.record(r, m.name, case.name, result);
                }
            }
            Err(e) => {
                s.record(r, m.name, "load", Err(Failure::Engine(e)));
                for case in m.cases {
                    s.record(r, m.name, case.name, Err(Failure::Engine(e)));
                }
            }
        }
        let result = refusals::small_arena(m, arena);
        s.record(r, m.name, "rejects_small_arena", result);
        let result = refusals::misaligned_arena(m, arena);
        s.record(r, m.name, "rejects_misaligned_arena", result);
        let result = refusals::corrupt_blob(m, arena, blob_copy);
        s.record(r, m.name, "rejects_corrupt_blob", result);
    }
    s
}

fn run_case<R: Report>(
    s: &mut Summary,
    r: &mut R,
    model: &str,
    interp: &mut Interpreter<'_, '_>,
    case: &CaseFixture,
) -> Result<(), Failure> {
    for (k, bytes) in case.inputs.iter().enumerate() {
        let dst = interp.input_bytes_mut(k).map_err(Failure::Engine)?;
        if dst.len() != bytes.len() {
            return Err(Failure::Size { got: bytes.len(), expected: dst.len() });
        }
        dst.copy_from_slice(bytes);
    }
    s.window(r, model, case.name, Measured::Invoke);
    doppler_window::measure(|| black_box(&mut *interp).invoke()).map_err(Failure::Engine)?;
    for (k, want) in case.outputs.iter().enumerate() {
        let got = interp.output_bytes(k).map_err(Failure::Engine)?;
        if got.len() != want.bytes.len() {
            return Err(Failure::Size { got: got.len(), expected: want.bytes.len() });
        }
        match want.compare {
            Compare::Exact => {
                if let Some(byte) = got.iter().zip(want.bytes).position(|(g, e)| g != e) {
                    return Err(Failure::Exact {
                        output: k,
                        byte,
                        got: got[byte],
                        expected: want.bytes[byte],
                    });
                }
            }
            Compare::F32 => {
                let max = compare_f32(k, got, want.bytes)?;
                r.f32_max_diff(model, case.name, max);
            }
        }
    }
    Ok(())
}

/// Largest |got − expected|, or the first element outside the tolerance.
fn compare_f32(output: usize, got: &[u8], expected: &[u8]) -> Result<f32, Failure> {
    let mut max = 0.0f32;
    for (index, (g, e)) in got.chunks_exact(4).zip(expected.chunks_exact(4)).enumerate() {
        let g = f32::from_le_bytes([g[0], g[1], g[2], g[3]]);
        let e = f32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        if g.is_nan() && e.is_nan() {
            continue;
        }
        let diff = (g - e).abs();
        // A NaN on one side only gives a NaN difference: not within tolerance.
        let within = diff <= F32_ATOL + F32_RTOL * e.abs();
        if !within {
            return Err(Failure::F32 { output, index, got: g, expected: e });
        }
        max = max.max(diff);
    }
    Ok(max)
}

/// The engine must refuse what it cannot run, with a typed error, never a panic.
mod refusals {
    use super::*;

    fn expect(
        result: Result<(), Error>,
        wanted: fn(&Error) -> bool,
        what: &'static str,
    ) -> Result<(), Failure> {
        match result {
            Err(e) if wanted(&e) => Ok(()),
            Err(e) => Err(Failure::WrongStatus { expected: what, got: e.code() }),
            Ok(()) => Err(Failure::WrongStatus { expected: what, got: 0 }),
        }
    }

    /// One byte short of the planned arena.
    pub(super) fn small_arena(m: &ModelFixture, arena: &mut [u8]) -> Result<(), Failure> {
        let Some(short) = m.arena_bytes.checked_sub(1) else { return Ok(()) };
        let result = Interpreter::new(m.blob, &mut arena[..short]).map(|_| ());
        expect(result, |e| matches!(e, Error::ArenaTooSmall { .. }), "ArenaTooSmall (-601)")
    }

    /// The arena shifted by one byte.
    pub(super) fn misaligned_arena(m: &ModelFixture, arena: &mut [u8]) -> Result<(), Failure> {
        let result = Interpreter::new(m.blob, &mut arena[1..]).map(|_| ());
        expect(result, |e| matches!(e, Error::ArenaMisaligned), "ArenaMisaligned (-602)")
    }

    /// The blob copied to RAM with one byte flipped in the middle (covered by the CRC).
    pub(super) fn corrupt_blob(m: &ModelFixture, arena: &mut [u8], copy: &mut [u8]) -> Result<(), Failure> {
        let copy = &mut copy[..m.blob.len()];
        copy.copy_from_slice(m.blob);
        // Unchanged, the copy must load: it proves the refusal below is about the flipped byte.
        Interpreter::new(copy, arena).map_err(Failure::Engine)?;
        copy[m.blob.len() / 2] ^= 0x40;
        let result = Interpreter::new(copy, arena).map(|_| ());
        expect(result, |e| matches!(e, Error::Model(_)), "a blob error (-1xx..-5xx)")
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Failure::Engine(e) => write!(f, "engine error {}: {e}", e.code()),
            Failure::Exact { output, byte, got, expected } => {
                write!(f, "output {output} differs at byte {byte}: got {got:#04x}, expected {expected:#04x}")
            }
            Failure::F32 { output, index, got, expected } => write!(
                f,
                "output {output}[{index}] = {got:e}, expected {expected:e} (tolerance {F32_ATOL:e} + {F32_RTOL:e}·|e|)"
            ),
            Failure::Size { got, expected } => write!(f, "fixture has {got} bytes, the tensor {expected}"),
            Failure::WrongStatus { expected, got: 0 } => write!(f, "accepted, expected a refusal ({expected})"),
            Failure::WrongStatus { expected, got } => write!(f, "refused with status {got}, expected {expected}"),
        }
    }
}
