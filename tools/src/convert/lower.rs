//! Reading the verified flatbuffer into plain structs, and lowering each op onto the blob
//! [`Builder`]. See `docs/CONVERTER.md` for the per-op decisions.

use std::collections::HashMap;
use std::fmt;

use doppler_kernels::reference::binary;
use doppler_kernels::reference::int8 as kint8;
use doppler_kernels::reference::quant::{quantize_multiplier, Rounding};
use doppler_model_format::ops::*;
use doppler_model_format::writer::{Builder, Quant, TensorId};
use doppler_model_format::{DType, OpCode};

use super::schema_generated::tflite as fb;
use super::{flex, tables};
use super::{ConvertError, ConvertOptions, ConvertedModel, OpReport};

type Result<T> = std::result::Result<T, ConvertError>;

fn malformed(msg: impl Into<String>) -> ConvertError {
    ConvertError::Malformed(msg.into())
}

/// Shift range of the blob's requantization multipliers (`op_rules::SHIFT_RANGE`).
const SHIFT_MIN: i32 = -31;
const SHIFT_MAX: i32 = 30;

// ------------------------------------------------------------------------------------------------
// The source model, read once from the verified flatbuffer.
// ------------------------------------------------------------------------------------------------

struct STensor<'a> {
    name: String,
    shape: Vec<usize>,
    ty: fb::TensorType,
    data: Option<&'a [u8]>,
    scales: Vec<f32>,
    zero_points: Vec<i64>,
    quantized_dimension: usize,
}

impl STensor<'_> {
    /// Element count (saturating: an absurd shape compares unequal to any real data length).
    fn elements(&self) -> usize {
        self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX)
    }
}

/// Largest constant the converter materializes itself (broadcast operands): the
/// blob format stores sizes in 32 bits anyway; this keeps a hostile shape from allocating.
pub(super) const MAX_MATERIALIZED: usize = 1 << 28;

pub(super) fn checked_elements(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

struct SOp<'a> {
    index: usize,
    name: String,
    builtin: Option<fb::BuiltinOperator>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    raw: fb::Operator<'a>,
}

struct Source<'a> {
    tensors: Vec<STensor<'a>>,
    ops: Vec<SOp<'a>>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
}

fn type_name(t: fb::TensorType) -> String {
    t.variant_name().map(str::to_string).unwrap_or_else(|| format!("type {}", t.0))
}

fn read_source(bytes: &[u8]) -> Result<Source<'_>> {
    if bytes.len() < 8 {
        return Err(malformed(format!("{} bytes is too short for a flatbuffer", bytes.len())));
    }
    if !fb::model_buffer_has_identifier(bytes) {
        return Err(malformed("missing the TFLite file identifier \"TFL3\""));
    }
    let opts = flatbuffers::VerifierOptions { max_depth: 64, max_tables: 10_000_000, ..Default::default() };
    let model =
        fb::root_as_model_with_opts(&opts, bytes).map_err(|e| malformed(format!("flatbuffer: {e}")))?;
    if model.version() != 3 {
        return Err(ConvertError::Unsupported {
            op: None,
            what: format!("schema version {} (expected 3)", model.version()),
        });
    }
    let subgraphs = model.subgraphs().ok_or_else(|| malformed("no subgraphs"))?;
    if subgraphs.is_empty() {
        return Err(malformed("no subgraphs"));
    }
    let sg = subgraphs.get(0);
    let buffers = model.buffers();
    let codes = model.operator_codes();

    let mut tensors = Vec::new();
    for (i, t) in sg.tensors().into_iter().flatten().enumerate() {
        let name = t.name().unwrap_or("").to_string();
        let mut shape = Vec::new();
        for d in t.shape().into_iter().flatten() {
            if d < 0 {
                return Err(ConvertError::Unsupported {
                    op: None,
                    what: format!("tensor {i} ({name}) has a dynamic shape"),
                });
            }
            shape.push(d as usize);
        }
        if t.is_variable() {
            return Err(ConvertError::Unsupported {
                op: None,
                what: format!("tensor {i} ({name}) is a variable"),
            });
        }
        if t.sparsity().is_some() {
            return Err(ConvertError::Unsupported {
                op: None,
                what: format!("tensor {i} ({name}) is sparse"),
            });
        }
        let b = t.buffer() as usize;
        let data = if b == 0 {
            None
        } else {
            let buffers =
                buffers.ok_or_else(|| malformed(format!("tensor {i}: buffer {b} but no buffers")))?;
            if b >= buffers.len() {
                return Err(malformed(format!(
                    "tensor {i}: buffer index {b} out of range ({})",
                    buffers.len()
                )));
            }
            let buf = buffers.get(b);
            match buf.data() {
                Some(d) if !d.is_empty() => Some(d.bytes()),
                _ if buf.offset() > 1 => {
                    let start = usize::try_from(buf.offset()).map_err(|_| malformed("buffer offset"))?;
                    let len = usize::try_from(buf.size()).map_err(|_| malformed("buffer size"))?;
                    let end = start.checked_add(len).filter(|&e| e <= bytes.len());
                    match end {
                        Some(end) => Some(&bytes[start..end]),
                        None => {
                            return Err(malformed(format!(
                                "tensor {i}: external buffer {b} outside the file"
                            )))
                        }
                    }
                }
                _ => None,
            }
        };
        let (mut scales, mut zero_points, mut qdim) = (Vec::new(), Vec::new(), 0usize);
        if let Some(q) = t.quantization() {
            if q.details_type() != fb::QuantizationDetails::NONE {
                return Err(ConvertError::Unsupported {
                    op: None,
                    what: format!("tensor {i} ({name}) uses custom quantization"),
                });
            }
            scales = q.scale().into_iter().flatten().collect();
            zero_points = q.zero_point().into_iter().flatten().collect();
            qdim = usize::try_from(q.quantized_dimension())
                .map_err(|_| malformed(format!("tensor {i}: quantized_dimension")))?;
        }
        tensors.push(STensor {
            name,
            shape,
            ty: t.type_(),
            data,
            scales,
            zero_points,
            quantized_dimension: qdim,
        });
    }
    let n = tensors.len();
    let index = |v: i32, what: &str| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v < n)
            .ok_or_else(|| malformed(format!("{what}: tensor index {v} out of range ({n})")))
    };
    let inputs =
        sg.inputs().into_iter().flatten().map(|v| index(v, "subgraph input")).collect::<Result<Vec<_>>>()?;
    let outputs = sg
        .outputs()
        .into_iter()
        .flatten()
        .map(|v| index(v, "subgraph output"))
        .collect::<Result<Vec<_>>>()?;

    let mut ops = Vec::new();
    for (k, op) in sg.operators().into_iter().flatten().enumerate() {
        let ci = op.opcode_index() as usize;
        let codes = codes.ok_or_else(|| malformed("no operator codes"))?;
        if ci >= codes.len() {
            return Err(malformed(format!("op {k}: opcode index {ci} out of range ({})", codes.len())));
        }
        let code = codes.get(ci);
        // TFLite's GetBuiltinCode: the larger of the two fields.
        let b = fb::BuiltinOperator(code.builtin_code().0.max(i32::from(code.deprecated_builtin_code())));
        let (name, builtin) = if b == fb::BuiltinOperator::CUSTOM {
            (code.custom_code().unwrap_or("<unnamed custom op>").to_string(), None)
        } else {
            (b.variant_name().map(str::to_string).unwrap_or_else(|| format!("builtin {}", b.0)), Some(b))
        };
        let ins: Vec<i32> = op.inputs().into_iter().flatten().collect();
        let outs: Vec<i32> = op.outputs().into_iter().flatten().collect();
        for &v in &ins {
            if v != -1 {
                index(v, &format!("op {k} ({name}) input"))?;
            }
        }
        for &v in &outs {
            index(v, &format!("op {k} ({name}) output"))?;
        }
        ops.push(SOp { index: k, name, builtin, inputs: ins, outputs: outs, raw: op });
    }
    Ok(Source { tensors, ops, inputs, outputs })
}

// ------------------------------------------------------------------------------------------------
// Lowering.
// ------------------------------------------------------------------------------------------------

/// A Doppler activation standing for a source tensor.
#[derive(Clone, Debug)]
struct Val {
    id: TensorId,
    dtype: DType,
    /// Logical dims (for bit-packed tensors: channels, not words).
    dims: Vec<usize>,
    quant: Option<Quant>,
}

struct Ctx<'s, 'a> {
    src: &'s Source<'a>,
    b: Builder,
    vals: HashMap<usize, Val>,
    /// Number of readers of each source tensor (ops, plus 1 for a graph output).
    readers: Vec<usize>,
    /// Doppler ops emitted for the current source op.
    emitted: Vec<&'static str>,
    note: Option<String>,
}

/// An error about the current op.
struct OpErr<'o> {
    index: usize,
    name: &'o str,
}

impl OpErr<'_> {
    fn unsupported(&self, what: impl Into<String>) -> ConvertError {
        ConvertError::Unsupported { op: Some((self.index, self.name.to_string())), what: what.into() }
    }
    fn malformed(&self, what: impl fmt::Display) -> ConvertError {
        ConvertError::Malformed(format!("op {} ({}): {what}", self.index, self.name))
    }
}

fn e<'o>(op: &'o SOp) -> OpErr<'o> {
    OpErr { index: op.index, name: &op.name }
}

fn act_i8(a: fb::ActivationFunctionType, q: Quant) -> std::result::Result<(i32, i32), String> {
    // TFLite CalculateActivationRangeQuantized: zp + (int)roundf(bound / scale), saturated.
    let quantize = |f: f32| q.zero_point.saturating_add((f / q.scale).round() as i32);
    let (lo, hi) = match a {
        fb::ActivationFunctionType::NONE => (-128, 127),
        fb::ActivationFunctionType::RELU => (quantize(0.0).max(-128), 127),
        fb::ActivationFunctionType::RELU6 => (quantize(0.0).max(-128), quantize(6.0).min(127)),
        fb::ActivationFunctionType::RELU_N1_TO_1 => (quantize(-1.0).max(-128), quantize(1.0).min(127)),
        other => return Err(format!("fused activation {}", other.variant_name().unwrap_or("?"))),
    };
    if lo > hi {
        return Err(format!("fused activation range [{lo}, {hi}] is empty at this output scale"));
    }
    Ok((lo, hi))
}

fn act_f32(a: fb::ActivationFunctionType) -> std::result::Result<(f32, f32), String> {
    Ok(match a {
        fb::ActivationFunctionType::NONE => (f32::NEG_INFINITY, f32::INFINITY),
        fb::ActivationFunctionType::RELU => (0.0, f32::INFINITY),
        fb::ActivationFunctionType::RELU6 => (0.0, 6.0),
        fb::ActivationFunctionType::RELU_N1_TO_1 => (-1.0, 1.0),
        other => return Err(format!("fused activation {}", other.variant_name().unwrap_or("?"))),
    })
}

/// One spatial axis of a TFLite SAME/VALID window: `(out, pad_before, pad_after)` exactly as
/// TFLite's `ComputeOutSize` / `ComputePaddingWithOffset`, made explicit for the blob.
fn axis(input: usize, k: usize, stride: usize, dil: usize, same: bool) -> Option<(usize, u32, u32)> {
    let ext = dil.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    let out = if same {
        input.checked_add(stride - 1)? / stride
    } else {
        (input + stride).checked_sub(ext)? / stride
    };
    if out == 0 {
        return None;
    }
    let total = ((out - 1) * stride + ext).saturating_sub(input);
    let before = total / 2;
    let after = total - before;
    Some((out, u32::try_from(before).ok()?, u32::try_from(after).ok()?))
}

#[allow(clippy::too_many_arguments)]
fn window(
    op: &SOp,
    x: &[usize],
    y: &[usize],
    k: (usize, usize),
    stride: (i32, i32),
    dil: (i32, i32),
    padding: fb::Padding,
) -> Result<WindowParams> {
    let pos = |v: i32, what: &str| {
        usize::try_from(v).ok().filter(|&v| v >= 1).ok_or_else(|| e(op).malformed(format!("{what} {v}")))
    };
    let (sh, sw) = (pos(stride.0, "stride")?, pos(stride.1, "stride")?);
    let (dh, dw) = (pos(dil.0, "dilation")?, pos(dil.1, "dilation")?);
    let same = match padding {
        fb::Padding::SAME => true,
        fb::Padding::VALID => false,
        p => return Err(e(op).unsupported(format!("padding {}", p.0))),
    };
    let (oh, pt, pb) =
        axis(x[1], k.0, sh, dh, same).ok_or_else(|| e(op).malformed("window does not fit the input"))?;
    let (ow, pl, pr) =
        axis(x[2], k.1, sw, dw, same).ok_or_else(|| e(op).malformed("window does not fit the input"))?;
    if y.len() != 4 || y[1] != oh || y[2] != ow {
        return Err(e(op).malformed(format!("output shape {y:?} does not match the window ({oh}x{ow})")));
    }
    Ok(WindowParams {
        filter_h: k.0 as u32,
        filter_w: k.1 as u32,
        stride_h: sh as u32,
        stride_w: sw as u32,
        dilation_h: dh as u32,
        dilation_w: dw as u32,
        pad_top: pt,
        pad_bottom: pb,
        pad_left: pl,
        pad_right: pr,
        depth_multiplier: 1,
        rounding: ROUNDING_DOUBLE,
        pad_value: PAD_VALUE_ONE,
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        reserved: 0,
    })
}

fn le_chunks<const N: usize, T>(data: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    data.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect()
}

impl<'s, 'a> Ctx<'s, 'a> {
    fn tensor(&self, i: usize) -> &'s STensor<'a> {
        &self.src.tensors[i]
    }

    fn input_index(&self, op: &SOp, k: usize) -> Result<Option<usize>> {
        match op.inputs.get(k) {
            None | Some(-1) => Ok(None),
            Some(&v) => Ok(Some(v as usize)),
        }
    }

    fn need_inputs(&self, op: &SOp, lo: usize, hi: usize) -> Result<()> {
        if op.inputs.len() < lo || op.inputs.len() > hi {
            return Err(e(op).malformed(format!("{} inputs (expected {lo}..={hi})", op.inputs.len())));
        }
        if op.outputs.len() != 1 {
            return Err(e(op).unsupported(format!("{} outputs (expected 1)", op.outputs.len())));
        }
        Ok(())
    }

    /// Input `k`, which must be an activation produced earlier (or a graph input).
    fn act(&self, op: &SOp, k: usize) -> Result<Val> {
        let i = self.input_index(op, k)?.ok_or_else(|| e(op).malformed(format!("input {k} is missing")))?;
        if let Some(v) = self.vals.get(&i) {
            return Ok(v.clone());
        }
        if self.tensor(i).data.is_some() {
            return Err(
                e(op).unsupported(format!("input {k} is a constant; this op needs an activation there"))
            );
        }
        Err(e(op).malformed(format!("input {k} (tensor {i}) is read before any op writes it")))
    }

    /// Input `k` as a value: an activation, or a constant materialized as a blob constant.
    fn value(&mut self, op: &SOp, k: usize) -> Result<Val> {
        let i = self.input_index(op, k)?.ok_or_else(|| e(op).malformed(format!("input {k} is missing")))?;
        if let Some(v) = self.vals.get(&i) {
            return Ok(v.clone());
        }
        let t = self.tensor(i);
        let Some(data) = t.data else { return self.act(op, k) };
        let dims = if t.shape.is_empty() { vec![1] } else { t.shape.clone() };
        if dims.len() > 4 {
            return Err(e(op).unsupported(format!("constant input {k} has rank {}", dims.len())));
        }
        let (dtype, quant) = match t.ty {
            fb::TensorType::INT8 => (DType::I8, Some(self.quant(op, i)?)),
            fb::TensorType::FLOAT32 => (DType::F32, None),
            other => {
                return Err(e(op).unsupported(format!("constant input {k} of type {}", type_name(other))))
            }
        };
        let want = t.elements().saturating_mul(if dtype == DType::F32 { 4 } else { 1 });
        if data.len() != want {
            return Err(e(op).malformed(format!(
                "constant input {k}: {} bytes for {} elements",
                data.len(),
                t.elements()
            )));
        }
        let id = self.b.constant_bytes(dtype, &dims, quant, data.to_vec());
        Ok(Val { id, dtype, dims, quant })
    }

    /// Input `k`, which must be a constant.
    fn constant(&self, op: &SOp, k: usize) -> Result<Option<(usize, &'s STensor<'a>)>> {
        let Some(i) = self.input_index(op, k)? else { return Ok(None) };
        let t = self.tensor(i);
        if t.data.is_none() {
            return Err(
                e(op).unsupported(format!("input {k} must be a constant (it is computed at run time)"))
            );
        }
        Ok(Some((i, t)))
    }

    fn quant(&self, op: &SOp, i: usize) -> Result<Quant> {
        let t = self.tensor(i);
        if t.scales.len() != 1 || t.zero_points.len() > 1 {
            return Err(e(op).unsupported(format!(
                "tensor {i} ({}) needs per-tensor quantization, has {} scales",
                t.name,
                t.scales.len()
            )));
        }
        let scale = t.scales[0];
        let zp = t.zero_points.first().copied().unwrap_or(0);
        if !(scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zp)) {
            return Err(
                e(op).unsupported(format!("tensor {i} ({}): int8 scale {scale} / zero point {zp}", t.name))
            );
        }
        Ok(Quant::new(scale, zp as i32))
    }

    fn data<const N: usize, T>(
        &self,
        op: &SOp,
        i: usize,
        ty: fb::TensorType,
        f: impl Fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let t = self.tensor(i);
        if t.ty != ty {
            return Err(e(op).unsupported(format!(
                "tensor {i} ({}) has type {}, expected {}",
                t.name,
                type_name(t.ty),
                type_name(ty)
            )));
        }
        let d = t.data.ok_or_else(|| e(op).malformed(format!("tensor {i} has no data")))?;
        if d.len() != t.elements().saturating_mul(N) {
            return Err(e(op).malformed(format!(
                "tensor {i}: {} bytes for {} elements",
                d.len(),
                t.elements()
            )));
        }
        Ok(le_chunks(d, f))
    }

    fn i8s(&self, op: &SOp, i: usize) -> Result<Vec<i8>> {
        self.data::<1, i8>(op, i, fb::TensorType::INT8, |b| b[0] as i8)
    }
    fn i32s(&self, op: &SOp, i: usize) -> Result<Vec<i32>> {
        self.data::<4, i32>(op, i, fb::TensorType::INT32, i32::from_le_bytes)
    }
    fn f32s(&self, op: &SOp, i: usize) -> Result<Vec<f32>> {
        self.data::<4, f32>(op, i, fb::TensorType::FLOAT32, f32::from_le_bytes)
    }
    /// An integer constant (shape operands: int32 or int64).
    fn ints(&self, op: &SOp, i: usize) -> Result<Vec<i64>> {
        match self.tensor(i).ty {
            fb::TensorType::INT64 => self.data::<8, i64>(op, i, fb::TensorType::INT64, i64::from_le_bytes),
            _ => Ok(self.i32s(op, i)?.into_iter().map(i64::from).collect()),
        }
    }

    /// The dtype and quantization a source activation tensor maps to.
    fn act_type(&self, op: &SOp, i: usize) -> Result<(DType, Option<Quant>)> {
        match self.tensor(i).ty {
            fb::TensorType::FLOAT32 => Ok((DType::F32, None)),
            fb::TensorType::INT8 => Ok((DType::I8, Some(self.quant(op, i)?))),
            other => Err(e(op).unsupported(format!(
                "tensor {i} ({}) of type {}",
                self.tensor(i).name,
                type_name(other)
            ))),
        }
    }

    /// Creates the Doppler activation for output `k` (logical `dims`, which must equal the
    /// source shape unless `packed`).
    fn output(
        &mut self,
        op: &SOp,
        k: usize,
        dtype: DType,
        dims: &[usize],
        quant: Option<Quant>,
    ) -> Result<Val> {
        let i = op.outputs[k] as usize;
        let t = self.tensor(i);
        if t.data.is_some() {
            return Err(e(op).malformed(format!("output {k} is a constant tensor")));
        }
        if self.vals.contains_key(&i) {
            return Err(e(op).malformed(format!("output {k} (tensor {i}) is written twice")));
        }
        if dtype != DType::B1 && t.shape != dims {
            return Err(e(op).malformed(format!("output shape {:?}, expected {:?}", t.shape, dims)));
        }
        if dims.is_empty() || dims.len() > 4 || dims.contains(&0) {
            return Err(e(op).unsupported(format!(
                "output shape {dims:?} (Doppler tensors have rank 1..=4, no empty dims)"
            )));
        }
        let id = self.b.activation(dtype, dims, quant);
        let v = Val { id, dtype, dims: dims.to_vec(), quant };
        self.vals.insert(i, v.clone());
        Ok(v)
    }

    /// The source output `k`'s type-derived Doppler output with the source shape.
    fn plain_output(&mut self, op: &SOp, k: usize) -> Result<Val> {
        let i = op.outputs[k] as usize;
        let (dtype, quant) = self.act_type(op, i)?;
        let dims = self.tensor(i).shape.clone();
        self.output(op, k, dtype, &dims, quant)
    }

    fn emit<P: bytemuck::Pod>(
        &mut self,
        opcode: OpCode,
        inputs: &[TensorId],
        outputs: &[TensorId],
        params: &P,
    ) {
        self.b.op(opcode, inputs, outputs, params);
        self.emitted.push(opcode.name());
    }

    fn lut(&mut self, x: &Val, y: &Val, table: &[i8; 256]) {
        let t = self.b.constant_i8(&[256], Quant::new(1.0, 0), table);
        self.emit(OpCode::Lut, &[x.id, t], &[y.id], &NoParams {});
    }

    fn per_channel(&self, op: &SOp, i: usize, channels: usize, dim: usize) -> Result<Vec<f32>> {
        let t = self.tensor(i);
        if t.zero_points.iter().any(|&z| z != 0) {
            return Err(
                e(op).unsupported(format!("tensor {i} ({}): weights with a non-zero zero point", t.name))
            );
        }
        match t.scales.len() {
            1 => Ok(vec![t.scales[0]; channels]),
            n if n == channels && t.quantized_dimension == dim => Ok(t.scales.clone()),
            n => Err(e(op).unsupported(format!(
                "tensor {i} ({}): {n} scales along dimension {} (expected 1, or {channels} along {dim})",
                t.name, t.quantized_dimension
            ))),
        }
    }

    fn multipliers(&mut self, op: &SOp, real: impl Iterator<Item = f64>) -> Result<(TensorId, TensorId)> {
        let (mut ms, mut ss) = (Vec::new(), Vec::new());
        for r in real {
            let (m, s) = quantize_multiplier(r);
            if m < 0 || !(SHIFT_MIN..=SHIFT_MAX).contains(&s) {
                return Err(
                    e(op).unsupported(format!("requantization scale {r:e} is outside the format's range"))
                );
            }
            ms.push(m);
            ss.push(s);
        }
        let n = ms.len();
        Ok((self.b.constant_i32(&[n], &ms), self.b.constant_i32(&[n], &ss)))
    }
}

/// Converts a `.tflite` model (TFLite builtin ops and Larq Compute Engine custom ops) into a
/// Doppler blob. Never panics on any input.
pub fn convert_tflite(bytes: &[u8]) -> Result<ConvertedModel> {
    convert_tflite_with(bytes, &ConvertOptions::default())
}

/// [`convert_tflite`] with options.
pub fn convert_tflite_with(bytes: &[u8], options: &ConvertOptions) -> Result<ConvertedModel> {
    let src = read_source(bytes)?;
    let mut readers = vec![0usize; src.tensors.len()];
    for op in &src.ops {
        for &i in &op.inputs {
            if i >= 0 {
                readers[i as usize] += 1;
            }
        }
    }
    for &o in &src.outputs {
        readers[o] += 1;
    }
    let mut cx =
        Ctx { src: &src, b: Builder::new(), vals: HashMap::new(), readers, emitted: Vec::new(), note: None };

    for &i in &src.inputs {
        let t = &src.tensors[i];
        if t.data.is_some() {
            continue; // a constant listed as input: not something the caller fills
        }
        let dims = t.shape.clone();
        if dims.is_empty() || dims.len() > 4 || dims.contains(&0) {
            return Err(ConvertError::Unsupported {
                op: None,
                what: format!("graph input {i} has shape {dims:?}"),
            });
        }
        let (dtype, quant) = match t.ty {
            fb::TensorType::FLOAT32 => (DType::F32, None),
            fb::TensorType::INT8 => {
                let q = t.scales.first().copied().zip(Some(t.zero_points.first().copied().unwrap_or(0)));
                match q {
                    Some((s, z))
                        if s.is_finite() && s > 0.0 && (-128..=127).contains(&z) && t.scales.len() == 1 =>
                    {
                        (DType::I8, Some(Quant::new(s, z as i32)))
                    }
                    _ => {
                        return Err(ConvertError::Unsupported {
                            op: None,
                            what: format!(
                                "graph input {i} ({}): int8 without valid per-tensor quantization",
                                t.name
                            ),
                        })
                    }
                }
            }
            other => {
                return Err(ConvertError::Unsupported {
                    op: None,
                    what: format!("graph input {i} ({}) of type {}", t.name, type_name(other)),
                })
            }
        };
        let id = cx.b.input(dtype, &dims, quant);
        cx.vals.insert(i, Val { id, dtype, dims, quant });
    }

    let mut reports = Vec::new();
    let mut folded: HashMap<usize, usize> = HashMap::new(); // op index → op it was folded into
    for op in &src.ops {
        cx.emitted.clear();
        cx.note = None;
        if let Some(&into) = folded.get(&op.index) {
            reports.push(OpReport {
                index: op.index,
                name: op.name.clone(),
                lowered: Vec::new(),
                note: Some(format!("folded into op {into}")),
            });
            continue;
        }
        let extra = lower_op(&mut cx, op)?;
        for f in extra {
            folded.insert(f, op.index);
        }
        reports.push(OpReport {
            index: op.index,
            name: op.name.clone(),
            lowered: cx.emitted.clone(),
            note: cx.note.clone(),
        });
    }

    for &o in &src.outputs {
        let v = cx.vals.get(&o).ok_or_else(|| ConvertError::Unsupported {
            op: None,
            what: format!("graph output {o} ({}) is not computed by any op", src.tensors[o].name),
        })?;
        if src.inputs.contains(&o) {
            return Err(ConvertError::Unsupported {
                op: None,
                what: format!("graph output {o} is also a graph input"),
            });
        }
        cx.b.output(v.id);
    }
    let mut output_tensors = src.outputs.clone();
    if options.expose_intermediates {
        let mut extra: Vec<(usize, TensorId)> = cx
            .vals
            .iter()
            .filter(|(i, _)| !src.inputs.contains(i) && !src.outputs.contains(i))
            .map(|(&i, v)| (i, v.id))
            .collect();
        extra.sort_unstable();
        for (i, id) in extra {
            cx.b.output(id);
            output_tensors.push(i);
        }
    }

    Ok(ConvertedModel::finish(&cx.b, bytes.len(), reports, output_tensors)?)
}

/// Lowers one op; returns the indices of later ops it absorbed.
fn lower_op(cx: &mut Ctx, op: &SOp) -> Result<Vec<usize>> {
    use fb::BuiltinOperator as B;
    let Some(code) = op.builtin else {
        return match op.name.as_str() {
            "LceQuantize" => lce_quantize(cx, op),
            "LceDequantize" => lce_dequantize(cx, op),
            "LceBconv2d" => lce_bconv2d(cx, op),
            "LceBMaxPool2d" => lce_bmaxpool(cx, op),
            _ => Err(e(op).unsupported("custom op not supported by Doppler")),
        }
        .map(|()| Vec::new());
    };
    match code {
        B::CONV_2D | B::DEPTHWISE_CONV_2D => conv(cx, op, None).map(|()| Vec::new()),
        B::SPACE_TO_BATCH_ND => dilated_conv(cx, op),
        B::FULLY_CONNECTED => fully_connected(cx, op).map(|()| Vec::new()),
        B::ADD | B::MUL => add_mul(cx, op).map(|()| Vec::new()),
        B::MAX_POOL_2D | B::AVERAGE_POOL_2D => pool(cx, op).map(|()| Vec::new()),
        B::MEAN => mean(cx, op).map(|()| Vec::new()),
        B::PAD | B::PADV2 | B::MIRROR_PAD => pad(cx, op).map(|()| Vec::new()),
        B::CONCATENATION => concat(cx, op).map(|()| Vec::new()),
        B::RESHAPE | B::SQUEEZE | B::EXPAND_DIMS => reshape(cx, op).map(|()| Vec::new()),
        B::SOFTMAX => softmax(cx, op).map(|()| Vec::new()),
        B::LOGISTIC => logistic(cx, op).map(|()| Vec::new()),
        B::QUANTIZE | B::DEQUANTIZE => quantize(cx, op).map(|()| Vec::new()),
        B::RELU | B::RELU6 | B::RELU_N1_TO_1 => relu(cx, op).map(|()| Vec::new()),
        _ => Err(e(op).unsupported("op not supported by Doppler")),
    }
}

/// The dilated-convolution pattern TensorFlow leaves behind for SAME dilated convolutions:
/// `SPACE_TO_BATCH_ND → CONV_2D | DEPTHWISE_CONV_2D (VALID, stride 1) → BATCH_TO_SPACE_ND`.
/// Each output element of the three is exactly one output element of a dilated convolution of
/// the original input (padded taps read the zero point, i.e. contribute 0), so it becomes one
/// dilated Conv2d/DepthwiseConv2d with explicit padding, bit for bit.
fn dilated_conv(cx: &mut Ctx, op: &SOp) -> Result<Vec<usize>> {
    use fb::BuiltinOperator as B;
    let src = cx.src;
    let err =
        || e(op).unsupported("SPACE_TO_BATCH_ND outside the dilated-convolution pattern (STB → conv → BTS)");
    cx.need_inputs(op, 3, 3)?;
    let stb_out = op.outputs[0] as usize;
    let consumer = |t: usize, after: usize| -> Option<&SOp> {
        if cx.readers[t] != 1 {
            return None;
        }
        src.ops.iter().skip(after + 1).find(|o| o.inputs.first() == Some(&(t as i32)))
    };
    let conv_op = consumer(stb_out, op.index).ok_or_else(err)?;
    if !matches!(conv_op.builtin, Some(B::CONV_2D | B::DEPTHWISE_CONV_2D)) || conv_op.outputs.len() != 1 {
        return Err(err());
    }
    let conv_out = conv_op.outputs[0] as usize;
    let bts = consumer(conv_out, conv_op.index).ok_or_else(err)?;
    if bts.builtin != Some(B::BATCH_TO_SPACE_ND) || bts.inputs.len() != 3 || bts.outputs.len() != 1 {
        return Err(err());
    }
    let int_input = |o: &SOp, k: usize| -> Result<Vec<i64>> {
        let (i, _) = cx.constant(o, k)?.ok_or_else(|| e(o).malformed(format!("input {k} is missing")))?;
        cx.ints(o, i)
    };
    let block = int_input(op, 1)?;
    let pads = int_input(op, 2)?;
    let block2 = int_input(bts, 1)?;
    let crops = int_input(bts, 2)?;
    let x = cx.act(op, 0)?;
    if block.len() != 2 || block != block2 || pads.len() != 4 || crops.len() != 4 || x.dims.len() != 4 {
        return Err(e(op).unsupported("SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND with other than 2 spatial dims"));
    }
    if pads.iter().chain(&crops).any(|&v| v < 0) || block.iter().any(|&v| v < 1) {
        return Err(e(op).malformed("negative paddings/crops or block"));
    }
    let y_dims = cx.tensor(bts.outputs[0] as usize).shape.clone();
    let info = DilatedInfo {
        dil: (block[0] as usize, block[1] as usize),
        pad_before: (pads[0] - crops[0], pads[2] - crops[2]),
        out_dims: y_dims,
        bts_output: bts.outputs[0] as usize,
        stb: op.index,
    };
    if info.pad_before.0 < 0 || info.pad_before.1 < 0 {
        return Err(e(op).unsupported("BATCH_TO_SPACE_ND crops more than SPACE_TO_BATCH_ND padded"));
    }
    conv(cx, conv_op, Some((x, info)))?;
    cx.note = Some(format!("with ops {} and {}: one dilated convolution", conv_op.index, bts.index));
    Ok(vec![conv_op.index, bts.index])
}

struct DilatedInfo {
    dil: (usize, usize),
    pad_before: (i64, i64),
    out_dims: Vec<usize>,
    bts_output: usize,
    stb: usize,
}

/// CONV_2D and DEPTHWISE_CONV_2D, int8 (per-channel or per-tensor weights) or float32.
fn conv(cx: &mut Ctx, op: &SOp, dilated: Option<(Val, DilatedInfo)>) -> Result<()> {
    let depthwise = op.builtin == Some(fb::BuiltinOperator::DEPTHWISE_CONV_2D);
    cx.need_inputs(op, 2, 3)?;
    let (stride, dil, padding, act) = if depthwise {
        let o = op
            .raw
            .builtin_options_as_depthwise_conv_2_doptions()
            .ok_or_else(|| e(op).malformed("missing options"))?;
        (
            (o.stride_h(), o.stride_w()),
            (o.dilation_h_factor(), o.dilation_w_factor()),
            o.padding(),
            o.fused_activation_function(),
        )
    } else {
        let o =
            op.raw.builtin_options_as_conv_2_doptions().ok_or_else(|| e(op).malformed("missing options"))?;
        // 0 (FLOAT32) means "not set"; int32 is what the int8 kernels use anyway.
        let qbt = o.quantized_bias_type();
        if qbt != fb::TensorType::FLOAT32 && qbt != fb::TensorType::INT32 {
            return Err(e(op).unsupported(format!("quantized_bias_type {}", type_name(qbt))));
        }
        (
            (o.stride_h(), o.stride_w()),
            (o.dilation_h_factor(), o.dilation_w_factor()),
            o.padding(),
            o.fused_activation_function(),
        )
    };
    let (x, dinfo) = match dilated {
        Some((x, info)) => (x, Some(info)),
        None => (cx.act(op, 0)?, None),
    };
    let (wi, w) = cx.constant(op, 1)?.ok_or_else(|| e(op).malformed("filter is missing"))?;
    if x.dims.len() != 4 || w.shape.len() != 4 {
        return Err(e(op).unsupported("convolution on other than 4D NHWC input and filter"));
    }
    let y_index = op.outputs[0] as usize;
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    let (kh, kw) = (w.shape[1], w.shape[2]);
    let in_c = x.dims[3];
    let (out_c, mult) = if depthwise {
        if w.shape[0] != 1 {
            return Err(e(op).unsupported(format!("depthwise filter shape {:?}", w.shape)));
        }
        let oc = w.shape[3];
        if in_c == 0 || oc % in_c != 0 {
            return Err(e(op).unsupported(format!(
                "depthwise output channels {oc} not a multiple of input channels {in_c}"
            )));
        }
        (oc, oc / in_c)
    } else {
        if w.shape[3] != in_c {
            return Err(e(op).unsupported(format!(
                "grouped convolution (filter depth {} ≠ input channels {in_c})",
                w.shape[3]
            )));
        }
        (w.shape[0], 1)
    };

    // Geometry: the op's own, or the dilated pattern's (VALID stride-1 inner convolution).
    let mut p = match &dinfo {
        None => {
            let y_dims = cx.tensor(y_index).shape.clone();
            window(op, &x.dims, &y_dims, (kh, kw), stride, dil, padding)?
        }
        Some(info) => {
            if stride != (1, 1) || dil != (1, 1) || padding != fb::Padding::VALID {
                return Err(e(op).unsupported(
                    "dilated-convolution pattern with a strided/dilated/SAME inner convolution",
                ));
            }
            let y = &info.out_dims;
            if y.len() != 4 {
                return Err(e(op).malformed("BATCH_TO_SPACE_ND output is not 4D"));
            }
            let axis = |input: usize, k: usize, d: usize, before: i64, out: usize| -> Option<(u32, u32)> {
                let ext = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
                let after =
                    i64::try_from(out.checked_add(ext - 1)?).ok()? - i64::try_from(input).ok()? - before;
                let ok = after >= 0 && (after as usize) < ext && (before as usize) < ext;
                ok.then_some((before as u32, after as u32))
            };
            let (pt, pb) = axis(x.dims[1], kh, info.dil.0, info.pad_before.0, y[1]).ok_or_else(|| {
                e(op).unsupported("dilated-convolution pattern with padding outside the window")
            })?;
            let (pl, pr) = axis(x.dims[2], kw, info.dil.1, info.pad_before.1, y[2]).ok_or_else(|| {
                e(op).unsupported("dilated-convolution pattern with padding outside the window")
            })?;
            WindowParams {
                filter_h: kh as u32,
                filter_w: kw as u32,
                stride_h: 1,
                stride_w: 1,
                dilation_h: info.dil.0 as u32,
                dilation_w: info.dil.1 as u32,
                pad_top: pt,
                pad_bottom: pb,
                pad_left: pl,
                pad_right: pr,
                depth_multiplier: 1,
                rounding: ROUNDING_DOUBLE,
                pad_value: PAD_VALUE_ONE,
                act_min: -128,
                act_max: 127,
                act_min_f: f32::NEG_INFINITY,
                act_max_f: f32::INFINITY,
                reserved: 0,
            }
        }
    };
    p.pad_value = 0;
    p.depth_multiplier = mult as u32;
    let y_dims = match &dinfo {
        None => cx.tensor(y_index).shape.clone(),
        Some(info) => info.out_dims.clone(),
    };
    if y_dims.len() != 4 || y_dims[3] != out_c || y_dims[0] != x.dims[0] {
        return Err(e(op).malformed(format!("output shape {y_dims:?}")));
    }
    let opcode = if depthwise { OpCode::DepthwiseConv2d } else { OpCode::Conv2d };
    let bias_i = cx.constant(op, 2)?.map(|(i, _)| i);

    match x.dtype {
        DType::I8 => {
            let xq = x.quant.ok_or_else(|| e(op).malformed("int8 input without quantization"))?;
            let yq = y_quant
                .filter(|_| y_dtype == DType::I8)
                .ok_or_else(|| e(op).unsupported("int8 input with a non-int8 output"))?;
            let (lo, hi) = act_i8(act, yq).map_err(|m| e(op).unsupported(m))?;
            p.act_min = lo;
            p.act_max = hi;
            let weights = cx.i8s(op, wi)?;
            let ws = cx.per_channel(op, wi, out_c, if depthwise { 3 } else { 0 })?;
            let bias = match bias_i {
                Some(bi) => {
                    let b = cx.i32s(op, bi)?;
                    if b.len() != out_c {
                        return Err(
                            e(op).malformed(format!("bias has {} entries for {out_c} channels", b.len()))
                        );
                    }
                    b
                }
                None => vec![0; out_c],
            };
            // TFLite PopulateConvolutionQuantizationParams: double(s_in) * double(s_w) / double(s_out).
            let reals: Vec<f64> =
                ws.iter().map(|&s| f64::from(xq.scale) * f64::from(s) / f64::from(yq.scale)).collect();
            let (m, s) = cx.multipliers(op, reals.into_iter())?;
            let wt = cx.b.constant_i8(&w.shape, Quant::new(1.0, 0), &weights);
            let bt = cx.b.constant_i32(&[out_c], &bias);
            let y = match &dinfo {
                None => cx.output(op, 0, DType::I8, &y_dims, Some(yq))?,
                Some(info) => out_for(cx, op, info, DType::I8, Some(yq))?,
            };
            cx.emit(opcode, &[x.id, wt, bt, m, s], &[y.id], &p);
        }
        DType::F32 => {
            if y_dtype != DType::F32 {
                return Err(e(op).unsupported("float input with a non-float output"));
            }
            let (lo, hi) = act_f32(act).map_err(|m| e(op).unsupported(m))?;
            p.act_min_f = lo;
            p.act_max_f = hi;
            let weights = cx.f32s(op, wi)?;
            let bias = match bias_i {
                Some(bi) => cx.f32s(op, bi)?,
                None => vec![0.0; out_c],
            };
            if bias.len() != out_c {
                return Err(e(op).malformed("bias length"));
            }
            let wt = cx.b.constant_f32(&w.shape, &weights);
            let bt = cx.b.constant_f32(&[out_c], &bias);
            let y = match &dinfo {
                None => cx.output(op, 0, DType::F32, &y_dims, None)?,
                Some(info) => out_for(cx, op, info, DType::F32, None)?,
            };
            cx.emit(opcode, &[x.id, wt, bt], &[y.id], &p);
        }
        other => return Err(e(op).unsupported(format!("convolution on {other:?} input"))),
    }
    Ok(())
}

/// The output of a folded dilated convolution: the BATCH_TO_SPACE_ND output tensor.
fn out_for(cx: &mut Ctx, op: &SOp, info: &DilatedInfo, dtype: DType, quant: Option<Quant>) -> Result<Val> {
    let i = info.bts_output;
    let (t_dtype, t_quant) = cx.act_type(op, i)?;
    if t_dtype != dtype || t_quant != quant {
        return Err(e(op).unsupported(format!(
            "dilated-convolution pattern (from op {}) whose BATCH_TO_SPACE_ND requantizes",
            info.stb
        )));
    }
    let id = cx.b.activation(dtype, &info.out_dims, quant);
    let v = Val { id, dtype, dims: info.out_dims.clone(), quant };
    cx.vals.insert(i, v.clone());
    Ok(v)
}

#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` is newer than the workspace's rust-version
fn fully_connected(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 2, 3)?;
    let o = op
        .raw
        .builtin_options_as_fully_connected_options()
        .ok_or_else(|| e(op).malformed("missing options"))?;
    if o.weights_format() != fb::FullyConnectedOptionsWeightsFormat::DEFAULT {
        return Err(e(op).unsupported("shuffled weights format"));
    }
    let x = cx.act(op, 0)?;
    let (wi, w) = cx.constant(op, 1)?.ok_or_else(|| e(op).malformed("weights are missing"))?;
    if w.shape.len() != 2 {
        return Err(e(op).unsupported(format!("weights of shape {:?}", w.shape)));
    }
    let (out_n, in_n) = (w.shape[0], w.shape[1]);
    let x_elems: usize = checked_elements(&x.dims).unwrap_or(usize::MAX);
    if in_n == 0 || x_elems % in_n != 0 {
        return Err(e(op).malformed(format!("input of {x_elems} elements is not a multiple of {in_n}")));
    }
    let y_index = op.outputs[0] as usize;
    let y_dims = cx.tensor(y_index).shape.clone();
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    let bias_i = cx.constant(op, 2)?.map(|(i, _)| i);
    let mut p = FullyConnectedParams {
        rounding: ROUNDING_DOUBLE,
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        reserved: [0; 3],
    };
    match x.dtype {
        DType::I8 => {
            if w.ty != fb::TensorType::INT8 {
                return Err(e(op).unsupported(format!("int8 input with {} weights", type_name(w.ty))));
            }
            let xq = x.quant.ok_or_else(|| e(op).malformed("int8 input without quantization"))?;
            let yq = y_quant
                .filter(|_| y_dtype == DType::I8)
                .ok_or_else(|| e(op).unsupported("int8 input with a non-int8 output"))?;
            let (lo, hi) = act_i8(o.fused_activation_function(), yq).map_err(|m| e(op).unsupported(m))?;
            p.act_min = lo;
            p.act_max = hi;
            let weights = cx.i8s(op, wi)?;
            let ws = cx.per_channel(op, wi, out_n, 0)?;
            let bias = match bias_i {
                Some(bi) => cx.i32s(op, bi)?,
                None => vec![0; out_n],
            };
            if bias.len() != out_n {
                return Err(e(op).malformed("bias length"));
            }
            // TFLite GetQuantizedConvolutionMultipler: double(s_in) * double(s_w) / double(s_out).
            let reals: Vec<f64> =
                ws.iter().map(|&s| f64::from(xq.scale) * f64::from(s) / f64::from(yq.scale)).collect();
            let (m, s) = cx.multipliers(op, reals.into_iter())?;
            let wt = cx.b.constant_i8(&[out_n, in_n], Quant::new(1.0, 0), &weights);
            let bt = cx.b.constant_i32(&[out_n], &bias);
            let y = cx.output(op, 0, DType::I8, &y_dims, Some(yq))?;
            cx.emit(OpCode::FullyConnected, &[x.id, wt, bt, m, s], &[y.id], &p);
        }
        DType::F32 => {
            if w.ty != fb::TensorType::FLOAT32 {
                return Err(e(op).unsupported(format!(
                    "float input with {} weights (hybrid / dynamic-range quantization)",
                    type_name(w.ty)
                )));
            }
            if y_dtype != DType::F32 {
                return Err(e(op).unsupported("float input with a non-float output"));
            }
            let (lo, hi) = act_f32(o.fused_activation_function()).map_err(|m| e(op).unsupported(m))?;
            p.act_min_f = lo;
            p.act_max_f = hi;
            let weights = cx.f32s(op, wi)?;
            let bias = match bias_i {
                Some(bi) => cx.f32s(op, bi)?,
                None => vec![0.0; out_n],
            };
            if bias.len() != out_n {
                return Err(e(op).malformed("bias length"));
            }
            let wt = cx.b.constant_f32(&[out_n, in_n], &weights);
            let bt = cx.b.constant_f32(&[out_n], &bias);
            let y = cx.output(op, 0, DType::F32, &y_dims, None)?;
            cx.emit(OpCode::FullyConnected, &[x.id, wt, bt], &[y.id], &p);
        }
        other => return Err(e(op).unsupported(format!("fully connected on {other:?} input"))),
    }
    Ok(())
}

/// numpy-style broadcast of `data` (shape `from`) to shape `to`.
#[allow(clippy::manual_repeat_n)] // `repeat_n` is newer than the workspace's rust-version
pub(super) fn broadcast<T: Copy>(data: &[T], from: &[usize], to: &[usize]) -> Option<Vec<T>> {
    if from.len() > to.len() {
        return None;
    }
    let pad = to.len() - from.len();
    let f: Vec<usize> = std::iter::repeat(1).take(pad).chain(from.iter().copied()).collect();
    if f.iter().zip(to).any(|(&a, &b)| a != 1 && a != b) {
        return None;
    }
    let n = checked_elements(to).filter(|&n| n <= MAX_MATERIALIZED)?;
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; to.len()];
    for _ in 0..n {
        let mut off = 0;
        for d in 0..to.len() {
            off = off * f[d] + if f[d] == 1 { 0 } else { idx[d] };
        }
        out.push(*data.get(off)?);
        for d in (0..to.len()).rev() {
            idx[d] += 1;
            if idx[d] < to[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(out)
}

/// An ADD/MUL operand: an activation, or a constant broadcast to the output shape.
fn operand(cx: &mut Ctx, op: &SOp, k: usize, y_dims: &[usize]) -> Result<Val> {
    let i = cx.input_index(op, k)?.ok_or_else(|| e(op).malformed(format!("input {k} is missing")))?;
    let t = cx.tensor(i);
    if cx.vals.contains_key(&i) || t.data.is_none() {
        let v = cx.act(op, k)?;
        if v.dims != y_dims {
            return Err(
                e(op).unsupported(format!("broadcasting between activations ({:?} to {y_dims:?})", v.dims))
            );
        }
        return Ok(v);
    }
    if t.shape == y_dims {
        return cx.value(op, k);
    }
    let bad =
        || e(op).unsupported(format!("constant of shape {:?} does not broadcast to {y_dims:?}", t.shape));
    match t.ty {
        fb::TensorType::INT8 => {
            let q = cx.quant(op, i)?;
            let d = broadcast(&cx.i8s(op, i)?, &t.shape, y_dims).ok_or_else(bad)?;
            let id = cx.b.constant_i8(y_dims, q, &d);
            Ok(Val { id, dtype: DType::I8, dims: y_dims.to_vec(), quant: Some(q) })
        }
        fb::TensorType::FLOAT32 => {
            let d = broadcast(&cx.f32s(op, i)?, &t.shape, y_dims).ok_or_else(bad)?;
            let id = cx.b.constant_f32(y_dims, &d);
            Ok(Val { id, dtype: DType::F32, dims: y_dims.to_vec(), quant: None })
        }
        other => Err(e(op).unsupported(format!("constant operand of type {}", type_name(other)))),
    }
}

fn add_mul(cx: &mut Ctx, op: &SOp) -> Result<()> {
    let is_add = op.builtin == Some(fb::BuiltinOperator::ADD);
    cx.need_inputs(op, 2, 2)?;
    let act = if is_add {
        op.raw.builtin_options_as_add_options().map(|o| o.fused_activation_function())
    } else {
        op.raw.builtin_options_as_mul_options().map(|o| o.fused_activation_function())
    }
    .unwrap_or(fb::ActivationFunctionType::NONE);
    let y_index = op.outputs[0] as usize;
    let y_dims = cx.tensor(y_index).shape.clone();
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    let a = operand(cx, op, 0, &y_dims)?;
    let b = operand(cx, op, 1, &y_dims)?;
    if a.dtype != y_dtype || b.dtype != y_dtype {
        return Err(e(op).unsupported("mixed input/output types"));
    }
    let mut p = ElementwiseParams {
        rounding: ROUNDING_DOUBLE,
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        ..Default::default()
    };
    let opcode = if is_add { OpCode::Add } else { OpCode::Mul };
    match y_dtype {
        DType::I8 => {
            let (qa, qb, qy) = (
                a.quant.unwrap_or(Quant::new(1.0, 0)),
                b.quant.unwrap_or(Quant::new(1.0, 0)),
                y_quant.unwrap_or(Quant::new(1.0, 0)),
            );
            let (lo, hi) = act_i8(act, qy).map_err(|m| e(op).unsupported(m))?;
            p.act_min = lo;
            p.act_max = hi;
            if is_add {
                let ap = kint8::add_params(
                    f64::from(qa.scale),
                    qa.zero_point,
                    f64::from(qb.scale),
                    qb.zero_point,
                    f64::from(qy.scale),
                    qy.zero_point,
                    lo as i8,
                    hi as i8,
                    Rounding::Double,
                );
                p.left_shift = ap.left_shift;
                p.input1_multiplier = ap.input1_multiplier;
                p.input1_shift = ap.input1_shift;
                p.input2_multiplier = ap.input2_multiplier;
                p.input2_shift = ap.input2_shift;
                p.output_multiplier = ap.output_multiplier;
                p.output_shift = ap.output_shift;
            } else {
                // The TFLite interpreter (kernels/mul.cc) computes s1 · s2 / s_out in f32.
                let (m, s) = quantize_multiplier(f64::from(qa.scale * qb.scale / qy.scale));
                p.output_multiplier = m;
                p.output_shift = s;
            }
            for (m, s) in [
                (p.input1_multiplier, p.input1_shift),
                (p.input2_multiplier, p.input2_shift),
                (p.output_multiplier, p.output_shift),
            ] {
                if m < 0 || !(SHIFT_MIN..=SHIFT_MAX).contains(&s) {
                    return Err(e(op).unsupported("requantization scale outside the format's range"));
                }
            }
        }
        DType::F32 => {
            let (lo, hi) = act_f32(act).map_err(|m| e(op).unsupported(m))?;
            p.act_min_f = lo;
            p.act_max_f = hi;
        }
        other => return Err(e(op).unsupported(format!("{other:?} operands"))),
    }
    let y = cx.output(op, 0, y_dtype, &y_dims, y_quant)?;
    cx.emit(opcode, &[a.id, b.id], &[y.id], &p);
    Ok(())
}

fn same_quant(op: &SOp, a: &Val, b_dtype: DType, b: Option<Quant>, what: &str) -> Result<()> {
    if a.dtype != b_dtype {
        return Err(e(op).unsupported(format!("{what}: input and output types differ")));
    }
    if a.dtype == DType::I8 && a.quant != b {
        return Err(e(op).unsupported(format!(
            "{what}: input and output quantization differ ({:?} vs {:?}); this op does not requantize",
            a.quant, b
        )));
    }
    Ok(())
}

fn pool(cx: &mut Ctx, op: &SOp) -> Result<()> {
    let max = op.builtin == Some(fb::BuiltinOperator::MAX_POOL_2D);
    cx.need_inputs(op, 1, 1)?;
    let o = op.raw.builtin_options_as_pool_2_doptions().ok_or_else(|| e(op).malformed("missing options"))?;
    let x = cx.act(op, 0)?;
    if x.dims.len() != 4 {
        return Err(e(op).unsupported("pooling on other than 4D NHWC input"));
    }
    let y_index = op.outputs[0] as usize;
    let y_dims = cx.tensor(y_index).shape.clone();
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    same_quant(op, &x, y_dtype, y_quant, "pooling")?;
    let kh = usize::try_from(o.filter_height())
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| e(op).malformed("filter height"))?;
    let kw = usize::try_from(o.filter_width())
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| e(op).malformed("filter width"))?;
    let mut p = window(op, &x.dims, &y_dims, (kh, kw), (o.stride_h(), o.stride_w()), (1, 1), o.padding())?;
    if y_dims[3] != x.dims[3] || y_dims[0] != x.dims[0] {
        return Err(e(op).malformed(format!("output shape {y_dims:?}")));
    }
    match x.dtype {
        DType::I8 => {
            let (lo, hi) = act_i8(o.fused_activation_function(), y_quant.unwrap_or(Quant::new(1.0, 0)))
                .map_err(|m| e(op).unsupported(m))?;
            p.act_min = lo;
            p.act_max = hi;
        }
        _ => {
            let (lo, hi) = act_f32(o.fused_activation_function()).map_err(|m| e(op).unsupported(m))?;
            p.act_min_f = lo;
            p.act_max_f = hi;
        }
    }
    let y = cx.output(op, 0, y_dtype, &y_dims, y_quant)?;
    cx.emit(if max { OpCode::MaxPool2d } else { OpCode::AvgPool2d }, &[x.id], &[y.id], &p);
    Ok(())
}

/// MEAN over H and W of a 4D tensor.
///
/// int8 follows the TFLite interpreter (`reduce.cc` → `reference_ops::QuantizedMeanOrSum`),
/// which folds 1/n into the multiplier: `M, s` from `double(s_in)/double(s_out)`, then
/// `k = min(floor(log2 n), 32, 31 + s)`, `M' = (M << k) / n` (truncating), `s' = s − k`, and
/// `y = clamp(MBQM(Σ(x − zp_in), M', s') + zp_out)` (`kint8::mean_params_folded`). That is
/// Doppler's Mean op in mode `MEAN_FOLDED` (mode `MEAN_DIVIDE` is TFLM's formula, which rounds
/// differently).
fn mean(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 2, 2)?;
    let keep = op.raw.builtin_options_as_reducer_options().map(|o| o.keep_dims()).unwrap_or(false);
    let x = cx.act(op, 0)?;
    let (ai, _) = cx.constant(op, 1)?.ok_or_else(|| e(op).malformed("axis is missing"))?;
    let mut axes: Vec<i64> = cx.ints(op, ai)?;
    for a in &mut axes {
        if *a < 0 {
            *a += x.dims.len() as i64;
        }
    }
    axes.sort_unstable();
    axes.dedup();
    if x.dims.len() != 4 || axes != [1, 2] {
        return Err(e(op).unsupported(format!(
            "mean over axes {axes:?} of a rank-{} tensor (only H and W of NHWC)",
            x.dims.len()
        )));
    }
    let [n, h, w, c] = [x.dims[0], x.dims[1], x.dims[2], x.dims[3]];
    let y_index = op.outputs[0] as usize;
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    let y_dims = if keep { vec![n, 1, 1, c] } else { vec![n, c] };
    match x.dtype {
        DType::F32 => {
            if y_dtype != DType::F32 {
                return Err(e(op).unsupported("mixed types"));
            }
            let y = cx.output(op, 0, DType::F32, &y_dims, None)?;
            cx.emit(OpCode::Mean, &[x.id], &[y.id], &MeanParams::default());
        }
        DType::I8 => {
            let (xq, yq) = (
                x.quant.unwrap_or(Quant::new(1.0, 0)),
                y_quant.filter(|_| y_dtype == DType::I8).ok_or_else(|| e(op).unsupported("mixed types"))?,
            );
            if checked_elements(&[h, w, c]).filter(|&v| v > 0).is_none() {
                return Err(e(op).unsupported(format!("mean over a {h}x{w}x{c} plane")));
            }
            let count = h * w;
            let mp = kint8::mean_params_folded(
                f64::from(xq.scale),
                xq.zero_point,
                f64::from(yq.scale),
                yq.zero_point,
                count as u64,
                Rounding::Double,
            );
            if mp.multiplier < 0 || !(SHIFT_MIN..=SHIFT_MAX).contains(&mp.shift) {
                return Err(e(op).unsupported("mean requantization outside the format's range"));
            }
            let y = cx.output(op, 0, DType::I8, &y_dims, Some(yq))?;
            let p = MeanParams {
                rounding: ROUNDING_DOUBLE,
                multiplier: mp.multiplier,
                shift: mp.shift,
                mode: MEAN_FOLDED,
            };
            cx.emit(OpCode::Mean, &[x.id], &[y.id], &p);
            cx.note = Some("TFLite interpreter MEAN: 1/n folded into the multiplier".into());
        }
        other => return Err(e(op).unsupported(format!("mean of {other:?}"))),
    }
    Ok(())
}

fn pad(cx: &mut Ctx, op: &SOp) -> Result<()> {
    use fb::BuiltinOperator as B;
    let code = op.builtin.unwrap_or(B::PAD);
    cx.need_inputs(op, 2, if code == B::PADV2 { 3 } else { 2 })?;
    let x = cx.act(op, 0)?;
    let y_index = op.outputs[0] as usize;
    let y_dims = cx.tensor(y_index).shape.clone();
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    same_quant(op, &x, y_dtype, y_quant, "pad")?;
    let (pi, _) = cx.constant(op, 1)?.ok_or_else(|| e(op).malformed("paddings are missing"))?;
    let pads = cx.ints(op, pi)?;
    let r = x.dims.len();
    if pads.len() != 2 * r || r > 4 {
        return Err(e(op).malformed(format!("{} paddings for rank {r}", pads.len())));
    }
    let mut p = PadParams::default();
    for d in 0..r {
        let (b, a) = (pads[2 * d], pads[2 * d + 1]);
        if b < 0 || a < 0 {
            return Err(e(op).unsupported("negative padding"));
        }
        p.pads[4 - r + d] = [b as u32, a as u32];
    }
    match code {
        B::MIRROR_PAD => {
            let mode = op
                .raw
                .builtin_options_as_mirror_pad_options()
                .map(|o| o.mode())
                .unwrap_or(fb::MirrorPadMode::REFLECT);
            if mode != fb::MirrorPadMode::REFLECT {
                return Err(e(op).unsupported("MIRROR_PAD mode SYMMETRIC"));
            }
            p.mode = PAD_REFLECT;
        }
        B::PADV2 => {
            let (vi, vt) = cx.constant(op, 2)?.ok_or_else(|| e(op).malformed("constant value is missing"))?;
            if vt.elements() != 1 {
                return Err(e(op).malformed("PADV2 value is not a scalar"));
            }
            match x.dtype {
                DType::I8 => {
                    // TFLite uses the raw int8 value (its quantization must equal the output's).
                    if Some(cx.quant(op, vi)?) != y_quant {
                        return Err(e(op).unsupported("PADV2 value quantized differently from the output"));
                    }
                    p.value_i8 = i32::from(cx.i8s(op, vi)?[0]);
                }
                _ => p.value_f32 = cx.f32s(op, vi)?[0],
            }
        }
        _ => {
            // PAD: int8 pads with the output zero point (real 0), float with 0.0.
            p.value_i8 = y_quant.map_or(0, |q| q.zero_point);
        }
    }
    let y = cx.output(op, 0, y_dtype, &y_dims, y_quant)?;
    cx.emit(OpCode::Pad, &[x.id], &[y.id], &p);
    Ok(())
}

fn concat(cx: &mut Ctx, op: &SOp) -> Result<()> {
    if op.inputs.is_empty() || op.outputs.len() != 1 {
        return Err(e(op).malformed("arity"));
    }
    if op.inputs.len() > 16 {
        return Err(e(op).unsupported(format!("{} inputs (at most 16)", op.inputs.len())));
    }
    let o = op
        .raw
        .builtin_options_as_concatenation_options()
        .ok_or_else(|| e(op).malformed("missing options"))?;
    if o.fused_activation_function() != fb::ActivationFunctionType::NONE {
        return Err(e(op).unsupported("fused activation on CONCATENATION"));
    }
    let y_index = op.outputs[0] as usize;
    let y_dims = cx.tensor(y_index).shape.clone();
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    let rank = y_dims.len() as i64;
    let axis = if o.axis() < 0 { i64::from(o.axis()) + rank } else { i64::from(o.axis()) };
    if axis != rank - 1 {
        return Err(e(op)
            .unsupported(format!("concatenation along axis {} of rank {rank} (only the last)", o.axis())));
    }
    let mut ids = Vec::new();
    for k in 0..op.inputs.len() {
        let v = cx.value(op, k)?;
        same_quant(op, &v, y_dtype, y_quant, &format!("concatenation input {k}"))?;
        ids.push(v.id);
    }
    let y = cx.output(op, 0, y_dtype, &y_dims, y_quant)?;
    cx.emit(OpCode::Concatenation, &ids, &[y.id], &NoParams {});
    Ok(())
}

fn reshape(cx: &mut Ctx, op: &SOp) -> Result<()> {
    if op.inputs.is_empty() || op.outputs.len() != 1 {
        return Err(e(op).malformed("arity"));
    }
    let x = cx.act(op, 0)?;
    if x.dtype == DType::B1 {
        return Err(e(op).unsupported("reshape of a bit-packed tensor"));
    }
    let y_index = op.outputs[0] as usize;
    let y_dims = cx.tensor(y_index).shape.clone();
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    same_quant(op, &x, y_dtype, y_quant, "reshape")?;
    if checked_elements(&y_dims).is_none() || checked_elements(&y_dims) != checked_elements(&x.dims) {
        return Err(e(op).malformed("reshape changes the element count"));
    }
    let y = cx.output(op, 0, y_dtype, &y_dims, y_quant)?;
    cx.emit(OpCode::Reshape, &[x.id], &[y.id], &NoParams {});
    Ok(())
}

fn softmax(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 1, 1)?;
    let beta = op
        .raw
        .builtin_options_as_softmax_options()
        .map(|o| o.beta())
        .ok_or_else(|| e(op).malformed("missing options"))?;
    let x = cx.act(op, 0)?;
    let y_index = op.outputs[0] as usize;
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    if y_dtype != x.dtype {
        return Err(e(op).unsupported("softmax with different input and output types"));
    }
    let mut p = SoftmaxParams { beta, ..Default::default() };
    if x.dtype == DType::I8 {
        if y_quant != Some(Quant::new(1.0 / 256.0, -128)) {
            return Err(e(op).unsupported(format!(
                "int8 softmax output quantization {y_quant:?} (needs scale 1/256, zero point -128)"
            )));
        }
        let xq = x.quant.unwrap_or(Quant::new(1.0, 0));
        let sp = kint8::softmax_params(f64::from(beta), f64::from(xq.scale));
        if sp.input_multiplier < 0 || !(0..=31).contains(&sp.input_left_shift) || sp.diff_min > 0 {
            return Err(e(op).unsupported("softmax input scaling outside the format's range"));
        }
        p.input_multiplier = sp.input_multiplier;
        p.input_left_shift = sp.input_left_shift;
        p.diff_min = sp.diff_min;
        if x.dims.last().copied().unwrap_or(0) >= 8192 {
            return Err(e(op).unsupported("int8 softmax over 8192 or more classes"));
        }
    }
    let dims = x.dims.clone();
    let y = cx.output(op, 0, y_dtype, &dims, y_quant)?;
    cx.emit(OpCode::Softmax, &[x.id], &[y.id], &p);
    Ok(())
}

fn logistic(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 1, 1)?;
    let x = cx.act(op, 0)?;
    if x.dtype != DType::I8 {
        return Err(e(op)
            .unsupported("float32 LOGISTIC: the Doppler 1.0 format has no float elementwise-function op"));
    }
    let y = cx.plain_output(op, 0)?;
    let (xq, yq) = (
        x.quant.unwrap_or(Quant::new(1.0, 0)),
        y.quant.ok_or_else(|| e(op).unsupported("int8 input, non-int8 output"))?,
    );
    let table = tables::tflite_logistic_lut(xq.scale, xq.zero_point, yq.scale, yq.zero_point);
    cx.lut(&x, &y, &table);
    cx.note = Some("TFLite LUTPopulate table (f32 expf)".into());
    Ok(())
}

fn quantize(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 1, 1)?;
    if let Some((i, t)) = cx.input_index(op, 0)?.map(|i| (i, cx.tensor(i))).filter(|(_, t)| t.data.is_some())
    {
        return Err(e(op).unsupported(format!(
            "{} of the constant tensor {i} ({}, {}): weights stored in reduced precision (e.g. float16) are not supported",
            op.name,
            t.name,
            type_name(t.ty)
        )));
    }
    let x = cx.act(op, 0)?;
    let y = cx.plain_output(op, 0)?;
    match (x.dtype, y.dtype, op.builtin == Some(fb::BuiltinOperator::QUANTIZE)) {
        (DType::F32, DType::I8, true) => cx.emit(OpCode::Quantize, &[x.id], &[y.id], &NoParams {}),
        (DType::I8, DType::I8, true) => {
            let (xq, yq) = (x.quant.unwrap_or(Quant::new(1.0, 0)), y.quant.unwrap_or(Quant::new(1.0, 0)));
            let table = tables::requantize_lut(xq.scale, xq.zero_point, yq.scale, yq.zero_point);
            cx.lut(&x, &y, &table);
            cx.note = Some("int8 requantization as a table".into());
        }
        (DType::I8, DType::F32, false) => cx.emit(OpCode::Dequantize, &[x.id], &[y.id], &NoParams {}),
        (a, b, _) => return Err(e(op).unsupported(format!("{a:?} → {b:?}"))),
    }
    Ok(())
}

fn relu(cx: &mut Ctx, op: &SOp) -> Result<()> {
    use fb::BuiltinOperator as B;
    cx.need_inputs(op, 1, 1)?;
    let x = cx.act(op, 0)?;
    let (lo, hi) = match op.builtin {
        Some(B::RELU) => (0.0f32, f32::INFINITY),
        Some(B::RELU6) => (0.0, 6.0),
        _ => (-1.0, 1.0),
    };
    let y = cx.plain_output(op, 0)?;
    if x.dtype != y.dtype {
        return Err(e(op).unsupported("different input and output types"));
    }
    let mut p =
        ElementwiseParams { act_min: -128, act_max: 127, act_min_f: lo, act_max_f: hi, ..Default::default() };
    if x.dtype == DType::I8 {
        let (xq, yq) = (x.quant.unwrap_or(Quant::new(1.0, 0)), y.quant.unwrap_or(Quant::new(1.0, 0)));
        // TFLite QuantizedReluX: zp + (int)roundf(bound / scale), saturated to int8.
        let q = |f: f32| yq.zero_point.saturating_add((f / yq.scale).round() as i32);
        let amin = q(lo).max(-128);
        let amax = if hi.is_infinite() { 127 } else { q(hi).min(127) };
        if xq == yq && amin <= amax {
            p.act_min = amin;
            p.act_max = amax;
            cx.emit(OpCode::Clamp, &[x.id], &[y.id], &p);
        } else {
            let table = tables::relu_lut(xq.scale, xq.zero_point, yq.scale, yq.zero_point, amin, amax);
            cx.lut(&x, &y, &table);
            cx.note = Some("requantizing ReLU as a table".into());
        }
    } else {
        cx.emit(OpCode::Clamp, &[x.id], &[y.id], &p);
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Larq Compute Engine custom ops.
// ------------------------------------------------------------------------------------------------

/// The flexbuffer map of a custom op's options, as `(key, integer)` pairs.
fn lce_options(op: &SOp) -> Result<HashMap<String, i64>> {
    let raw = op.raw.custom_options().map(|v| v.bytes()).unwrap_or(&[]);
    if raw.is_empty() {
        return Ok(HashMap::new());
    }
    if op.raw.custom_options_format() != fb::CustomOptionsFormat::FLEXBUFFERS {
        return Err(e(op).unsupported("custom options not in flexbuffer format"));
    }
    // A bounds-checked reader of our own: the `flexbuffers` crate panics on malformed nested
    // offsets (fuzz finding 1, docs/SECURITY.md).
    flex::int_map(raw).map_err(|err| e(op).malformed(format!("custom options: {err}")))
}

fn opt(op: &SOp, m: &HashMap<String, i64>, key: &str, default: Option<i64>) -> Result<i64> {
    m.get(key)
        .copied()
        .or(default)
        .ok_or_else(|| e(op).malformed(format!("custom option `{key}` is missing")))
}

/// The logical dims of a bit-packed source tensor: its shape with the last dim (words) replaced
/// by `channels`; checks the word count.
fn packed_dims(op: &SOp, t: &STensor, channels: usize) -> Result<Vec<usize>> {
    if t.ty != fb::TensorType::INT32 {
        return Err(e(op).unsupported(format!("bit-packed tensor of type {}", type_name(t.ty))));
    }
    let mut dims = t.shape.clone();
    match dims.last_mut() {
        Some(last) if *last == binary::words(channels) => *last = channels,
        _ => return Err(e(op).malformed(format!("bit-packed shape {:?} for {channels} channels", t.shape))),
    }
    Ok(dims)
}

fn lce_quantize(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 1, 1)?;
    let x = cx.act(op, 0)?;
    if !matches!(x.dtype, DType::F32 | DType::I8) {
        return Err(e(op).unsupported(format!("LceQuantize of {:?}", x.dtype)));
    }
    let c = *x.dims.last().unwrap_or(&0);
    let dims = packed_dims(op, cx.tensor(op.outputs[0] as usize), c)?;
    if dims != x.dims {
        return Err(e(op).malformed("output shape"));
    }
    let y = cx.output(op, 0, DType::B1, &dims, None)?;
    cx.emit(OpCode::BPack, &[x.id], &[y.id], &NoParams {});
    Ok(())
}

fn lce_dequantize(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 1, 1)?;
    let x = cx.act(op, 0)?;
    if x.dtype != DType::B1 {
        return Err(e(op).unsupported("LceDequantize of a tensor that is not bit-packed"));
    }
    let y = cx.plain_output(op, 0)?;
    if y.dims != x.dims {
        return Err(e(op).malformed("output shape differs from the input's logical shape"));
    }
    cx.emit(OpCode::BUnpack, &[x.id], &[y.id], &NoParams {});
    Ok(())
}

fn lce_padding(op: &SOp, v: i64) -> Result<fb::Padding> {
    match v {
        0 => Ok(fb::Padding::SAME),
        1 => Ok(fb::Padding::VALID),
        _ => Err(e(op).malformed(format!("padding {v}"))),
    }
}

fn lce_bconv2d(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 2, 5)?;
    let m = lce_options(op)?;
    let channels_in = opt(op, &m, "channels_in", None)?;
    let stride =
        (opt(op, &m, "stride_height", Some(1))? as i32, opt(op, &m, "stride_width", Some(1))? as i32);
    let dil = (
        opt(op, &m, "dilation_height_factor", Some(1))? as i32,
        opt(op, &m, "dilation_width_factor", Some(1))? as i32,
    );
    let padding = lce_padding(op, opt(op, &m, "padding", Some(1))?)?;
    let pad_values = opt(op, &m, "pad_values", Some(0))?;
    let act = fb::ActivationFunctionType(opt(op, &m, "fused_activation_function", Some(0))? as i8);
    let x = cx.act(op, 0)?;
    if x.dtype != DType::B1 || x.dims.len() != 4 {
        return Err(e(op).unsupported("LceBconv2d input that is not a bit-packed 4D tensor"));
    }
    let in_c = x.dims[3];
    if channels_in != in_c as i64 {
        return Err(e(op).malformed(format!("channels_in {channels_in} but the input has {in_c} channels")));
    }
    let (wi, w) = cx.constant(op, 1)?.ok_or_else(|| e(op).malformed("filter is missing"))?;
    if w.ty != fb::TensorType::INT32 {
        return Err(
            e(op).unsupported(format!("filter of type {} (expected bit-packed int32)", type_name(w.ty)))
        );
    }
    let wdims = packed_dims(op, w, in_c)?;
    // A bit-packed OHWI filter: anything but rank 4 is malformed (fuzz finding 3 indexed past a
    // rank-1 filter here).
    let &[out_c, kh, kw, _] = wdims.as_slice() else {
        return Err(e(op).malformed(format!("filter shape {:?} (expected 4D OHWI)", w.shape)));
    };
    let mut words: Vec<u32> = cx.i32s(op, wi)?.into_iter().map(|v| v as u32).collect();
    let wpp = binary::words(in_c);
    for (k, word) in words.iter_mut().enumerate() {
        *word &= binary::word_mask(in_c, k % wpp);
    }
    let y_index = op.outputs[0] as usize;
    let yt = cx.tensor(y_index);
    let packed_out = yt.ty == fb::TensorType::INT32;
    let y_shape = if packed_out { packed_dims(op, yt, out_c)? } else { yt.shape.clone() };
    let mut p = window(op, &x.dims, &y_shape, (kh, kw), stride, dil, padding)?;
    if y_shape.get(3) != Some(&out_c) {
        return Err(e(op).malformed("output channels differ from the filter's"));
    }
    p.pad_value = match (padding, pad_values) {
        (fb::Padding::SAME, 0) => PAD_VALUE_ZERO,
        (_, 0 | 1) => PAD_VALUE_ONE,
        (_, v) => return Err(e(op).malformed(format!("pad_values {v}"))),
    };
    let k_full = checked_elements(&[kh, kw, in_c])
        .filter(|&k| k <= i32::MAX as usize / 2)
        .ok_or_else(|| e(op).unsupported("binary convolution window too large"))?;
    let filter = cx.b.constant_b1(&[out_c, kh, kw, in_c], &words);
    let gamma_i = cx.constant(op, 2)?.map(|(i, _)| i);
    let beta_i = cx.constant(op, 3)?.map(|(i, _)| i);
    let thr_i = cx.constant(op, 4)?.map(|(i, _)| i);
    if packed_out {
        if p.pad_value == PAD_VALUE_ZERO {
            return Err(e(op).unsupported("bit-packed output with zero padding (LCE never emits it)"));
        }
        let ti = thr_i.ok_or_else(|| e(op).malformed("bit-packed output without output_threshold"))?;
        let tau = cx.i32s(op, ti)?;
        if tau.len() != out_c {
            return Err(e(op).malformed("threshold length"));
        }
        // LCE: bit = popcount(x XOR w) > τ; Doppler: bit = acc < K − 2τ (acc = K − 2·popcount).
        let t: Vec<i32> = tau.iter().map(|&tau| binary::acc_threshold_from_lce(k_full, tau)).collect();
        p.act_min = i32::MIN;
        p.act_max = i32::MAX;
        let tt = cx.b.constant_i32(&[out_c], &t);
        let y = cx.output(op, 0, DType::B1, &y_shape, None)?;
        cx.emit(OpCode::BConv2d, &[x.id, filter, tt], &[y.id], &p);
        return Ok(());
    }
    let (y_dtype, y_quant) = cx.act_type(op, y_index)?;
    let gamma = match gamma_i {
        Some(i) => cx.f32s(op, i)?,
        None => vec![1.0; out_c],
    };
    let beta = match beta_i {
        Some(i) => cx.f32s(op, i)?,
        None => vec![0.0; out_c],
    };
    if gamma.len() != out_c || beta.len() != out_c {
        return Err(e(op).malformed("post-activation multiplier/bias length"));
    }
    // LCE's clamp of the ±1 dot product for the fused activation.
    let (lo, hi) = match act {
        fb::ActivationFunctionType::NONE => (i32::MIN, i32::MAX),
        fb::ActivationFunctionType::RELU => (0, i32::MAX),
        fb::ActivationFunctionType::RELU6 => (0, 6),
        fb::ActivationFunctionType::RELU_N1_TO_1 => (-1, 1),
        other => return Err(e(op).unsupported(format!("fused activation {}", other.0))),
    };
    p.act_min = lo;
    p.act_max = hi;
    let (scale, zp) = match y_dtype {
        DType::F32 => (1.0, 0),
        DType::I8 => {
            let q = y_quant.unwrap_or(Quant::new(1.0, 0));
            (q.scale, q.zero_point)
        }
        other => return Err(e(op).unsupported(format!("{other:?} output"))),
    };
    let (mut mult, mut bias) = (vec![0.0f32; out_c], vec![0.0f32; out_c]);
    binary::lce_output_transform(k_full, &gamma, &beta, scale, zp, &mut mult, &mut bias);
    let mt = cx.b.constant_f32(&[out_c], &mult);
    let bt = cx.b.constant_f32(&[out_c], &bias);
    let y = cx.output(op, 0, y_dtype, &y_shape, y_quant)?;
    cx.emit(OpCode::BConv2d, &[x.id, filter, mt, bt], &[y.id], &p);
    Ok(())
}

fn lce_bmaxpool(cx: &mut Ctx, op: &SOp) -> Result<()> {
    cx.need_inputs(op, 1, 1)?;
    let m = lce_options(op)?;
    let x = cx.act(op, 0)?;
    if x.dtype != DType::B1 || x.dims.len() != 4 {
        return Err(e(op).unsupported("LceBMaxPool2d input that is not a bit-packed 4D tensor"));
    }
    let kh =
        usize::try_from(opt(op, &m, "filter_height", None)?).map_err(|_| e(op).malformed("filter_height"))?;
    let kw =
        usize::try_from(opt(op, &m, "filter_width", None)?).map_err(|_| e(op).malformed("filter_width"))?;
    if kh == 0 || kw == 0 {
        return Err(e(op).malformed("empty pooling window"));
    }
    let stride =
        (opt(op, &m, "stride_height", Some(1))? as i32, opt(op, &m, "stride_width", Some(1))? as i32);
    let padding = lce_padding(op, opt(op, &m, "padding", Some(1))?)?;
    let dims = packed_dims(op, cx.tensor(op.outputs[0] as usize), x.dims[3])?;
    let p = window(op, &x.dims, &dims, (kh, kw), stride, (1, 1), padding)?;
    let y = cx.output(op, 0, DType::B1, &dims, None)?;
    cx.emit(OpCode::MaxPool2d, &[x.id], &[y.id], &p);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_and_valid_axes_match_tflite() {
        // SAME, stride 2, k 3 on 12: out 6, total = 5·2 + 3 − 12 = 1 → (0, 1).
        assert_eq!(axis(12, 3, 2, 1, true), Some((6, 0, 1)));
        // VALID, k 3 on 12, stride 2: out = (12 + 2 − 3) / 2 = 5, no padding.
        assert_eq!(axis(12, 3, 2, 1, false), Some((5, 0, 0)));
        // SAME dilated: k 3, dil 2 (extent 5) on 7: total 4 → (2, 2).
        assert_eq!(axis(7, 3, 1, 2, true), Some((7, 2, 2)));
        // VALID window larger than the input.
        assert_eq!(axis(2, 3, 1, 1, false), None);
    }

    #[test]
    fn broadcast_bias_over_nhwc() {
        let b = broadcast(&[1, 2], &[2], &[1, 2, 2, 2]).unwrap();
        assert_eq!(b, vec![1, 2, 1, 2, 1, 2, 1, 2]);
        assert!(broadcast(&[1, 2, 3], &[3], &[1, 2, 2, 2]).is_none());
    }
}
