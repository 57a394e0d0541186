//! `doppler convert`: TensorFlow Lite and Larq Compute Engine `.tflite` models → Doppler blobs.
//!
//! The flatbuffer is read with the `flatbuffers` crate through code that `flatc` generated from
//! TensorFlow's own `schema.fbs` ([`schema_generated`]), with the verifier on: a malformed file
//! is an error, never a panic. LCE's custom ops carry flexbuffer options, read by [`flex`], a
//! bounds-checked reader of their one shape (an int/bool map).
//!
//! Lowering works op by op, in the model's execution order, onto
//! [`doppler_model_format::writer::Builder`], which plans the arena and validates the blob with
//! the loader before handing it out. Everything that depends on the source runtime is decided
//! here, offline, and documented in `docs/CONVERTER.md`: requantization multipliers in f64 the
//! way the TFLite interpreter computes them (f32 where it does), double rounding, the TFLite
//! interpreter's MEAN and LOGISTIC, LCE's output transform and thresholds.
//!
//! Anything the converter cannot reproduce exactly is an error naming the op, its index and
//! what is unsupported ([`ConvertError::Unsupported`]); it never emits a silently different
//! model.

#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code, non_camel_case_types, non_snake_case)]
#[rustfmt::skip]
mod schema_generated;

mod flex;
mod lower;
pub mod onnx;
mod tables;

use std::fmt;

use doppler_model_format::writer::{AlignedBlob, BuildError, Builder};

pub use lower::{convert_tflite, convert_tflite_with};

/// A converted model: the blob and what the converter did.
#[derive(Clone, Debug)]
pub struct ConvertedModel {
    pub blob: AlignedBlob,
    pub report: ConvertReport,
}

/// What the converter decided, for `doppler convert` to print and for tests.
#[derive(Clone, Debug, Default)]
pub struct ConvertReport {
    /// Size of the source model (`.tflite` or `.onnx`).
    pub source_bytes: usize,
    /// Size of the blob.
    pub blob_bytes: usize,
    /// Arena the blob needs (the chosen plan).
    pub arena_bytes: usize,
    /// What TFLM's greedy planner would need on the same lifetimes.
    pub greedy_arena_bytes: usize,
    /// Most bytes live at one step (no plan can beat it).
    pub peak_live_bytes: usize,
    /// One line per source op: index, name, and the Doppler ops it became.
    pub ops: Vec<OpReport>,
    /// For each graph output of the blob, in order, the `.tflite` tensor it holds.
    pub output_tensors: Vec<usize>,
}

impl ConvertedModel {
    /// Writes and validates the blob of `b` and reports it: the tail both importers share.
    fn finish(
        b: &Builder,
        source_bytes: usize,
        ops: Vec<OpReport>,
        output_tensors: Vec<usize>,
    ) -> Result<ConvertedModel, BuildError> {
        let (blob, r) = b.finish_with_report()?;
        let report = ConvertReport {
            source_bytes,
            blob_bytes: blob.len(),
            arena_bytes: r.plan.arena_bytes,
            greedy_arena_bytes: r.greedy_arena_bytes,
            peak_live_bytes: r.peak_live_bytes,
            ops,
            output_tensors,
        };
        Ok(ConvertedModel { blob, report })
    }
}

/// Conversion options (the defaults are what `doppler convert` uses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Also make every intermediate activation that stands for a `.tflite` tensor a graph output
    /// (after the model's own outputs; see [`ConvertReport::output_tensors`]), so that each
    /// layer can be compared with a reference interpreter. Costs arena: nothing is reused.
    pub expose_intermediates: bool,
}

/// How one source op was lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpReport {
    /// Index of the op in the `.tflite` subgraph.
    pub index: usize,
    /// Its name (`CONV_2D`, `LceBconv2d`, …).
    pub name: String,
    /// The Doppler ops it became (empty when folded into a neighbour).
    pub lowered: Vec<&'static str>,
    /// How, when it is not the obvious one-to-one mapping.
    pub note: Option<String>,
}

impl fmt::Display for ConvertReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ops:")?;
        for op in &self.ops {
            let lowered = if op.lowered.is_empty() { "(folded)".to_string() } else { op.lowered.join(" + ") };
            write!(f, "  {:>3}  {:<22} -> {}", op.index, op.name, lowered)?;
            if let Some(n) = &op.note {
                write!(f, "  [{n}]")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "source size:   {} bytes", self.source_bytes)?;
        writeln!(f, "blob size:     {} bytes", self.blob_bytes)?;
        writeln!(
            f,
            "arena:         {} bytes (TFLM greedy planner: {} bytes, peak live: {} bytes)",
            self.arena_bytes, self.greedy_arena_bytes, self.peak_live_bytes
        )
    }
}

/// Why a `.tflite` file could not be converted.
#[derive(Clone, Debug, PartialEq)]
pub enum ConvertError {
    /// Not a valid TFLite flatbuffer, or inconsistent inside (bad index, shape, buffer size).
    Malformed(String),
    /// A valid model that uses something Doppler does not reproduce. `op` is the op's index
    /// and name when the problem belongs to one op.
    Unsupported { op: Option<(usize, String)>, what: String },
    /// The lowered graph was rejected by the blob builder/validator (a converter bug, or a
    /// model outside the format's limits).
    Build(BuildError),
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::Malformed(m) => write!(f, "malformed .tflite: {m}"),
            ConvertError::Unsupported { op: Some((i, name)), what } => {
                write!(f, "unsupported: op {i} ({name}): {what}")
            }
            ConvertError::Unsupported { op: None, what } => write!(f, "unsupported: {what}"),
            ConvertError::Build(e) => write!(f, "the converted graph is not a valid blob: {e}"),
        }
    }
}

impl std::error::Error for ConvertError {}

impl From<BuildError> for ConvertError {
    fn from(e: BuildError) -> Self {
        ConvertError::Build(e)
    }
}

#[cfg(test)]
mod tests;
