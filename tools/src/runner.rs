//! Loading and running a blob on the host: the engine of `doppler run` and `make-examples`.

use std::path::Path;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use doppler_engine::{DType, Interpreter, Model, TensorInfo};
use doppler_model_format::writer::AlignedBlob;

use crate::npy::{Array, Data, Kind};
use crate::{bail, fmt_dims, Error, Result};

/// Absolute tolerance of float32 output comparisons (see [`compare`]).
pub const F32_ATOL: f32 = 1e-5;
/// Relative tolerance of float32 output comparisons (see [`compare`]).
pub const F32_RTOL: f32 = 1e-4;

/// 16 bytes with 16-byte alignment on every target (`u128` is only 8-byte aligned on 32-bit ARM).
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);

/// A zeroed heap buffer that starts on a 16-byte boundary on every target: the arena
/// (`Vec<u128>` would not do, `u128` is 8-byte aligned on 32-bit ARM).
#[derive(Clone)]
pub struct Aligned {
    chunks: Vec<Chunk>,
    len: usize,
}

impl Aligned {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Aligned {
        Aligned { chunks: vec![Chunk([0; 16]); len.div_ceil(16)], len }
    }

    /// A 16-byte-aligned copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Aligned {
        let mut a = Aligned::zeroed(bytes.len());
        a.as_bytes_mut().copy_from_slice(bytes);
        a
    }

    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<Chunk, u8>(&self.chunks)[..self.len]
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<Chunk, u8>(&mut self.chunks)[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Reads a blob file into a 16-byte-aligned buffer, as [`Model::parse`] requires.
pub fn load_blob(path: &Path) -> Result<AlignedBlob> {
    let bytes = std::fs::read(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    Ok(AlignedBlob::from_bytes(&bytes))
}

/// Validates a blob; errors name `what` (usually the file).
pub fn parse<'b>(blob: &'b [u8], what: &str) -> Result<Model<'b>> {
    Model::parse(blob).map_err(|e| Error(format!("{what}: invalid model: {e} (code {})", e.code())))
}

/// The `.npy` element type that carries a tensor of `dtype`.
pub fn npy_kind(dtype: DType) -> Option<Kind> {
    match dtype {
        DType::I8 => Some(Kind::I8),
        DType::F32 => Some(Kind::F32),
        DType::B1 => Some(Kind::U32),
        DType::I32 => None,
    }
}

/// The `.npy` shape of a tensor: its dims, with the last replaced by the word count for
/// bit-packed tensors.
pub fn npy_shape(t: &TensorInfo) -> Vec<u64> {
    let mut shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
    if t.dtype == DType::B1 {
        if let Some(last) = shape.last_mut() {
            *last = last.div_ceil(32);
        }
    }
    shape
}

/// `int8 (npy 'i1') [1, 16, 16, 3]` for a tensor.
pub fn describe_tensor(t: &TensorInfo) -> String {
    match npy_kind(t.dtype) {
        Some(k) => format!("{} {}", k.describe(), fmt_dims(&npy_shape(t))),
        None => format!("{} {}", t.dtype.name(), fmt_dims(t.shape())),
    }
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub outputs: Vec<Array>,
    pub output_info: Vec<TensorInfo>,
    pub arena_bytes: usize,
    pub invoke_time: Duration,
}

/// Binds `blob` to a fresh arena of exactly the planned size (16-byte aligned), fills the
/// inputs (`(name, array)` in graph-input order; names only label errors), invokes once and
/// returns the outputs as arrays. A blob that is not 16-byte aligned in memory is copied first.
pub fn run(blob: &[u8], what: &str, inputs: &[(String, Array)]) -> Result<Outcome> {
    let copy;
    let blob = if blob.as_ptr() as usize % 16 == 0 {
        blob
    } else {
        copy = AlignedBlob::from_bytes(blob);
        copy.as_bytes()
    };
    let model = parse(blob, what)?;
    if inputs.len() != model.input_count() {
        bail!(
            "{what} has {} input{}, {} given (pass one --input per graph input, in order)",
            model.input_count(),
            plural(model.input_count()),
            inputs.len()
        );
    }
    let arena_bytes = model.arena_bytes();
    let mut arena = Aligned::zeroed(arena_bytes);
    let engine_err = |e: doppler_engine::Error| Error(format!("{what}: {e} (code {})", e.code()));
    let mut interp = Interpreter::new(blob, arena.as_bytes_mut()).map_err(engine_err)?;

    for (k, (name, array)) in inputs.iter().enumerate() {
        let info = interp.input_info(k).map_err(engine_err)?;
        let want_kind = npy_kind(info.dtype);
        let want_shape = npy_shape(&info);
        if want_kind != Some(array.kind()) || want_shape != array.shape {
            bail!(
                "input {k} of {what} (tensor {}) expects {}, but {name} holds {}",
                info.index,
                describe_tensor(&info),
                array.describe()
            );
        }
        match &array.data {
            Data::I8(v) => interp.set_input::<i8>(k, v),
            Data::F32(v) => interp.set_input::<f32>(k, v),
            Data::U32(v) => interp.set_input::<u32>(k, v),
        }
        .map_err(engine_err)?;
    }

    let start = Instant::now();
    interp.invoke().map_err(engine_err)?;
    let invoke_time = start.elapsed();

    let mut outputs = Vec::new();
    let mut output_info = Vec::new();
    for k in 0..interp.output_count() {
        let info = interp.output_info(k).map_err(engine_err)?;
        let shape: Vec<usize> = npy_shape(&info).iter().map(|&d| d as usize).collect();
        let array = match info.dtype {
            DType::I8 => Array::i8(&shape, interp.output::<i8>(k).map_err(engine_err)?.to_vec()),
            DType::F32 => Array::f32(&shape, interp.output::<f32>(k).map_err(engine_err)?.to_vec()),
            DType::B1 => Array::u32(&shape, interp.output::<u32>(k).map_err(engine_err)?.to_vec()),
            DType::I32 => bail!("output {k} of {what} is int32, which .npy output does not support"),
        };
        outputs.push(array);
        output_info.push(info);
    }
    Ok(Outcome { outputs, output_info, arena_bytes, invoke_time })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// How an output compared with its expected array.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Match {
    /// Byte for byte.
    Identical,
    /// float32 only: every element within `F32_ATOL + F32_RTOL · |expected|`.
    WithinTolerance { max_abs_diff: f32 },
}

/// Compares `actual` with `expected`: int8 and bit-packed outputs must be identical (the numeric
/// contract is bit-exactness); float32 outputs may differ by summation order, so each element
/// must satisfy `|a − e| ≤ F32_ATOL + F32_RTOL · |e|` (NaN only matches NaN).
pub fn compare(actual: &Array, expected: &Array) -> std::result::Result<Match, String> {
    if actual.kind() != expected.kind() || actual.shape != expected.shape {
        return Err(format!("expected {}, got {}", expected.describe(), actual.describe()));
    }
    if actual.le_bytes() == expected.le_bytes() {
        return Ok(Match::Identical);
    }
    let (differing, first) = match (&actual.data, &expected.data) {
        (Data::F32(a), Data::F32(e)) => {
            let mut max_abs_diff = 0f32;
            let mut bad = Vec::new();
            for (i, (&x, &y)) in a.iter().zip(e).enumerate() {
                let ok = (x.is_nan() && y.is_nan()) || (x - y).abs() <= F32_ATOL + F32_RTOL * y.abs();
                if ok {
                    max_abs_diff = max_abs_diff.max((x - y).abs());
                } else {
                    bad.push(i);
                }
            }
            if bad.is_empty() {
                return Ok(Match::WithinTolerance { max_abs_diff });
            }
            let i = bad[0];
            (bad.len(), format!("element {i}: {} vs expected {}", a[i], e[i]))
        }
        (Data::I8(a), Data::I8(e)) => first_diff(a, e),
        (Data::U32(a), Data::U32(e)) => first_diff(a, e),
        _ => unreachable!("kinds were compared above"),
    };
    Err(format!("{differing} of {} elements differ (first: {first})", actual.len()))
}

fn first_diff<T: PartialEq + std::fmt::Display>(a: &[T], e: &[T]) -> (usize, String) {
    let bad: Vec<usize> = (0..a.len()).filter(|&i| a[i] != e[i]).collect();
    let i = bad[0];
    (bad.len(), format!("element {i}: {} vs expected {}", a[i], e[i]))
}

/// The arg-max of a classifier-shaped output (one row: every dim but the last is 1) and its
/// real value (int8 dequantized with the tensor's scale and zero point). `None` for bit-packed
/// tensors and for outputs with more than one row (images, feature maps).
pub fn top1(a: &Array, info: &TensorInfo) -> Option<(usize, f64)> {
    let rows: u64 = a.shape.iter().rev().skip(1).product();
    if rows != 1 || a.is_empty() {
        return None;
    }
    let values: Vec<f64> = match &a.data {
        Data::I8(v) => {
            v.iter().map(|&q| f64::from(info.scale) * (f64::from(q) - f64::from(info.zero_point))).collect()
        }
        Data::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Data::U32(_) => return None,
    };
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    Some((best, values[best]))
}

/// min / max / mean of an output, for outputs without a meaningful top-1.
pub fn stats(a: &Array, info: &TensorInfo) -> Option<(f64, f64, f64)> {
    let values: Vec<f64> = match &a.data {
        Data::I8(v) => {
            v.iter().map(|&q| f64::from(info.scale) * (f64::from(q) - f64::from(info.zero_point))).collect()
        }
        Data::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Data::U32(_) => return None,
    };
    if values.is_empty() {
        return None;
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some((min, max, mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_start_on_16_bytes() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let a = Aligned::zeroed(len);
            assert_eq!(a.as_bytes().len(), len);
            assert_eq!(a.as_bytes().as_ptr() as usize % 16, 0);
            let b = Aligned::from_bytes(&vec![7u8; len]);
            assert_eq!(b.as_bytes(), &vec![7u8; len][..]);
            assert_eq!(b.as_bytes().as_ptr() as usize % 16, 0);
        }
    }
}
