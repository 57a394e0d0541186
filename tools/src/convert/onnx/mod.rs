//! `doppler convert IN.onnx`: ONNX (float, QDQ int8, and the binary `Pad → Sign → Conv` pattern)
//! → Doppler blobs, for the fast-neural-style family of networks (issue 8).
//!
//! The protobuf is decoded with `prost` ([`proto`]); the graph is lowered node by node, in the
//! file's (topological) order, onto the same [`Builder`] as the TFLite importer, sharing its
//! error and report types. ONNX is NCHW, Doppler NHWC: activations are kept NHWC (the blob's
//! input is `[1, H, W, C]`), filters are transposed OIHW → OHWI, and every axis-dependent
//! attribute (pads, resize scales) is permuted. Shapes are made static: the one image input's
//! H and W are given by [`OnnxOptions`] and every other shape follows from them.
//!
//! Copy-like ops (Pad, Resize, Relu, DequantizeLinear of activations, Sign) are *deferred*:
//! each is emitted when a consumer asks for its output, in the dtype that consumer wants
//! (float32, int8 or — for `Sign` — bit-packed). That is how int8 and binary convolutions
//! get their padding and upsampling done in int8 (or before bit-packing) without an extra
//! float copy, and how a ReLU folds into the Quantize in front of an int8 convolution.
//!
//! Three ways to get int8 convolutions:
//! * QDQ (`QuantizeLinear`/`DequantizeLinear` around `Conv`, what onnxruntime's static
//!   quantizer emits): the model's own scales and zero points (uint8 activations are shifted to
//!   int8 exactly) and its int8 per-channel weights;
//! * Doppler's calibration ([`OnnxOptions::calibration`]): activation ranges recorded on float
//!   runs, symmetric per-channel weights, TFLite requantization;
//! * both leave InstanceNormalization, the residual Adds, Clip, Tanh and ConvTranspose in
//!   float32.
//!
//! Anything else is an error naming the node (`unsupported: op N (OpType 'name'): …`).

#[allow(clippy::all, clippy::pedantic, dead_code)]
#[rustfmt::skip]
pub mod proto;

use std::collections::HashMap;

use doppler_kernels::reference::binary as kbin;
use doppler_kernels::reference::quant::quantize_multiplier;
use doppler_kernels::reference::tensor::resize_nearest_source;
use doppler_model_format::ops::*;
use doppler_model_format::writer::{Builder, Quant, TensorId};
use doppler_model_format::{DType, OpCode};
use prost::Message;

use super::{ConvertError, ConvertedModel, OpReport};
use proto::{attribute_type as at, data_type as dt};

type Result<T> = std::result::Result<T, ConvertError>;

/// Options of the ONNX importer.
#[derive(Clone, Debug)]
pub struct OnnxOptions {
    /// Static input height and width (the graph input's H and W are usually dynamic).
    pub height: usize,
    pub width: usize,
    /// int8 convolutions from recorded activation ranges (`None`: float, or QDQ as the model says).
    pub calibration: Option<Calibration>,
    /// With `calibration`: Conv nodes that stay float32, by their position among the model's Conv
    /// nodes (0 = first; −1 = last).
    pub float_convs: Vec<i64>,
    /// Make every float32 activation that stands for an ONNX tensor a graph output too (after
    /// the model's outputs; names in [`OnnxConverted::output_names`]): calibration reads them.
    pub expose_intermediates: bool,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions {
            height: 256,
            width: 256,
            calibration: None,
            float_convs: Vec::new(),
            expose_intermediates: false,
        }
    }
}

/// Activation ranges per ONNX tensor name (`(min, max)` over the calibration set).
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub ranges: HashMap<String, (f32, f32)>,
    /// Per-channel `(min, max)` (last NHWC axis) of the same tensors, where recorded: they let a
    /// convolution feeding InstanceNormalization equalize its output channels (see
    /// [`equalize_for_instance_norm`]).
    pub channel_ranges: HashMap<String, Vec<(f32, f32)>>,
}

/// A converted ONNX model.
#[derive(Clone, Debug)]
pub struct OnnxConverted {
    pub model: ConvertedModel,
    /// The ONNX tensor each blob output holds, in order.
    pub output_names: Vec<String>,
    /// Number of convolutions lowered as float32, int8 and binary.
    pub convs: [usize; 3],
}

fn malformed(msg: impl Into<String>) -> ConvertError {
    ConvertError::Malformed(msg.into())
}

fn unsupported(msg: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported { op: None, what: msg.into() }
}

// ------------------------------------------------------------------------------------------------
// Constants.
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    /// INT8 and UINT8 (shifted by −128 with the zero point: see [`Const::u8_shifted`]).
    I8(Vec<i8>),
    U8(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Const {
    dims: Vec<usize>,
    data: Data,
}

impl Const {
    fn f32s(&self) -> Option<Vec<f32>> {
        match &self.data {
            Data::F32(v) => Some(v.clone()),
            _ => None,
        }
    }
    fn ints(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::I64(v) => Some(v.clone()),
            Data::I32(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            Data::I8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            Data::U8(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            Data::F32(_) => None,
        }
    }
    /// A one-element float (scales).
    fn scalar_f32(&self) -> Option<f32> {
        match &self.data {
            Data::F32(v) if v.len() == 1 => Some(v[0]),
            _ => None,
        }
    }
}

fn decode_tensor(t: &proto::TensorProto) -> Result<Const> {
    let what = || format!("initializer '{}'", t.name);
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(unsupported(format!(
            "{}: external data (save the model with its weights inside)",
            what()
        )));
    }
    let mut dims = Vec::new();
    for &d in &t.dims {
        dims.push(usize::try_from(d).map_err(|_| malformed(format!("{}: dim {d}", what())))?);
    }
    let n = super::lower::checked_elements(&dims)
        .filter(|&n| n <= super::lower::MAX_MATERIALIZED)
        .ok_or_else(|| malformed(format!("{}: shape {dims:?} too large", what())))?;
    let raw = &t.raw_data;
    let bad = |have: usize| malformed(format!("{}: {have} values for shape {dims:?}", what()));
    let data = match t.data_type {
        dt::FLOAT => {
            let v: Vec<f32> = if !raw.is_empty() {
                raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            } else {
                t.float_data.clone()
            };
            if v.len() != n || (!raw.is_empty() && raw.len() != 4 * n) {
                return Err(bad(v.len()));
            }
            Data::F32(v)
        }
        dt::INT64 => {
            let v: Vec<i64> = if !raw.is_empty() {
                raw.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect()
            } else {
                t.int64_data.clone()
            };
            if v.len() != n || (!raw.is_empty() && raw.len() != 8 * n) {
                return Err(bad(v.len()));
            }
            Data::I64(v)
        }
        dt::INT32 => {
            let v: Vec<i32> = if !raw.is_empty() {
                raw.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            } else {
                t.int32_data.clone()
            };
            if v.len() != n || (!raw.is_empty() && raw.len() != 4 * n) {
                return Err(bad(v.len()));
            }
            Data::I32(v)
        }
        dt::INT8 | dt::UINT8 => {
            let v: Vec<i32> = if !raw.is_empty() {
                raw.iter().map(|&b| i32::from(b)).collect()
            } else {
                t.int32_data.clone()
            };
            if v.len() != n {
                return Err(bad(v.len()));
            }
            if t.data_type == dt::INT8 {
                let v: Vec<i8> =
                    v.iter().map(|&x| if raw.is_empty() { x as i8 } else { x as u8 as i8 }).collect();
                Data::I8(v)
            } else {
                Data::U8(v.iter().map(|&x| x as u8).collect())
            }
        }
        dt::DOUBLE => {
            let v: Vec<f32> = if !raw.is_empty() {
                raw.chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
                    .collect()
            } else {
                t.double_data.iter().map(|&x| x as f32).collect()
            };
            if v.len() != n {
                return Err(bad(v.len()));
            }
            Data::F32(v)
        }
        other => return Err(unsupported(format!("{}: element type {}", what(), dt::name(other)))),
    };
    Ok(Const { dims, data })
}

// ------------------------------------------------------------------------------------------------
// Attributes.
// ------------------------------------------------------------------------------------------------

struct Node<'a> {
    index: usize,
    n: &'a proto::NodeProto,
}

impl Node<'_> {
    fn err(&self, what: impl Into<String>) -> ConvertError {
        ConvertError::Unsupported { op: Some((self.index, self.label())), what: what.into() }
    }
    fn bad(&self, what: impl std::fmt::Display) -> ConvertError {
        malformed(format!("node {} ({}): {what}", self.index, self.label()))
    }
    fn label(&self) -> String {
        if self.n.name.is_empty() {
            self.n.op_type.clone()
        } else {
            format!("{} '{}'", self.n.op_type, self.n.name)
        }
    }
    /// Refuses any attribute not in `known`, and function-body references.
    fn only_attrs(&self, known: &[&str]) -> Result<()> {
        for a in &self.n.attribute {
            if !a.ref_attr_name.is_empty() {
                return Err(self.err(format!("attribute '{}' refers to a function attribute", a.name)));
            }
            if !known.contains(&a.name.as_str()) {
                return Err(self.err(format!("attribute '{}' is not supported", a.name)));
            }
        }
        Ok(())
    }
    fn attr(&self, name: &str) -> Option<&proto::AttributeProto> {
        self.n.attribute.iter().find(|a| a.name == name)
    }
    fn int(&self, name: &str, default: i64) -> Result<i64> {
        match self.attr(name) {
            None => Ok(default),
            Some(a) if a.r#type == at::INT || a.r#type == at::UNDEFINED => Ok(a.i),
            Some(_) => Err(self.bad(format!("attribute '{name}' is not an integer"))),
        }
    }
    fn float(&self, name: &str, default: f32) -> Result<f32> {
        match self.attr(name) {
            None => Ok(default),
            Some(a) if a.r#type == at::FLOAT || a.r#type == at::UNDEFINED => Ok(a.f),
            Some(_) => Err(self.bad(format!("attribute '{name}' is not a float"))),
        }
    }
    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) if a.r#type == at::INTS || (a.r#type == at::UNDEFINED && !a.ints.is_empty()) => {
                Ok(Some(a.ints.clone()))
            }
            Some(_) => Err(self.bad(format!("attribute '{name}' is not a list of integers"))),
        }
    }
    /// A two-element spatial attribute (strides, dilations, output_padding), each in `range`.
    fn int_pair(
        &self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<[usize; 2]> {
        match self.ints(name)? {
            None => Ok([default; 2]),
            Some(v) if v.len() == 2 && v.iter().all(|s| range.contains(s)) => {
                Ok([v[0] as usize, v[1] as usize])
            }
            Some(v) => Err(self.err(format!("{name} {v:?}"))),
        }
    }
    /// Explicit `pads` `[top, left, bottom, right]` (absent: zeros), each at most 4096.
    fn pads(&self) -> Result<[usize; 4]> {
        match self.ints("pads")? {
            None => Ok([0; 4]),
            Some(v) if v.len() == 4 && v.iter().all(|&p| (0..=4096).contains(&p)) => {
                Ok([v[0] as usize, v[1] as usize, v[2] as usize, v[3] as usize])
            }
            Some(v) => Err(self.err(format!("pads {v:?}"))),
        }
    }
    fn floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) if a.r#type == at::FLOATS || (a.r#type == at::UNDEFINED && !a.floats.is_empty()) => {
                Ok(Some(a.floats.clone()))
            }
            Some(_) => Err(self.bad(format!("attribute '{name}' is not a list of floats"))),
        }
    }
    fn string(&self, name: &str, default: &str) -> Result<String> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(a) if a.r#type == at::STRING || a.r#type == at::UNDEFINED => String::from_utf8(a.s.clone())
                .map_err(|_| self.bad(format!("attribute '{name}' is not UTF-8"))),
            Some(_) => Err(self.bad(format!("attribute '{name}' is not a string"))),
        }
    }
    /// Input `k`'s name, `None` when absent or empty (an omitted optional input).
    fn input(&self, k: usize) -> Option<&str> {
        self.n.input.get(k).map(String::as_str).filter(|s| !s.is_empty())
    }
    fn need(&self, lo: usize, hi: usize) -> Result<()> {
        let n = self.n.input.len();
        if n < lo || n > hi {
            return Err(self.bad(format!("{n} inputs (expected {lo}..={hi})")));
        }
        if self.n.output.len() != 1 {
            return Err(self.err(format!("{} outputs (expected 1)", self.n.output.len())));
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// Activations.
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Val {
    id: TensorId,
    quant: Option<Quant>,
}

/// What an ONNX tensor is at this point of the lowering.
#[derive(Clone, Debug, Default)]
struct Entry {
    /// NCHW logical shape (rank 4).
    shape: [usize; 4],
    f32: Option<Val>,
    i8: Option<Val>,
    /// A deferred node (index) that computes it on demand.
    deferred: Option<usize>,
    /// The int8 form stands for an ONNX UINT8 tensor (values and zero point shifted by −128).
    from_u8: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    F32,
    I8,
}

struct Cx<'m> {
    nodes: &'m [proto::NodeProto],
    consts: HashMap<String, Const>,
    /// int8 constants behind `DequantizeLinear`: (values, per-axis scales, zero points, axis).
    qconsts: HashMap<String, (Const, Vec<f32>, Vec<i64>, usize)>,
    entries: HashMap<String, Entry>,
    /// Number of consumer nodes of each tensor name.
    consumers: HashMap<String, Vec<usize>>,
    /// Nodes already lowered as part of a neighbour (QuantizeLinear after an int8 Conv).
    absorbed: Vec<bool>,
    b: Builder,
    calib: Option<&'m Calibration>,
    emitted: Vec<&'static str>,
    note: Option<String>,
    convs: [usize; 3],
    /// Guards deferred materialization against cycles in a malformed graph.
    depth: usize,
    /// The image input's name (its range is 0..255 unless calibrated otherwise).
    input_name: String,
    /// Conv nodes seen so far, the model's total, and those to keep float (see
    /// [`OnnxOptions::float_convs`]).
    conv_seen: usize,
    conv_total: usize,
    float_convs: Vec<i64>,
    /// While a QuantizeLinear pulls its quantization up through copy ops (Pad, Resize, Relu):
    /// the quantization to use instead of a calibrated one.
    force_q: Option<Quant>,
}

/// NCHW dims → the blob's NHWC dims.
fn nhwc(s: [usize; 4]) -> [usize; 4] {
    [s[0], s[2], s[3], s[1]]
}

fn quant_from_range(lo: f32, hi: f32) -> Quant {
    crate::examples::calibrate(&[lo, hi])
}

impl<'m> Cx<'m> {
    fn node(&self, i: usize) -> Node<'m> {
        let nodes: &'m [proto::NodeProto] = self.nodes;
        Node { index: i, n: &nodes[i] }
    }

    fn emit<P: bytemuck::Pod>(&mut self, op: OpCode, inputs: &[TensorId], outputs: &[TensorId], p: &P) {
        self.b.op(op, inputs, outputs, p);
        self.emitted.push(op.name());
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries.get(name).ok_or_else(|| {
            if self.consts.contains_key(name) || self.qconsts.contains_key(name) {
                unsupported(format!("tensor '{name}' is a constant where an activation is needed"))
            } else {
                malformed(format!("tensor '{name}' is read before any node computes it"))
            }
        })
    }

    fn shape(&self, name: &str) -> Result<[usize; 4]> {
        Ok(self.entry(name)?.shape)
    }

    fn new_act(&mut self, dtype: DType, shape: [usize; 4], quant: Option<Quant>) -> Val {
        Val { id: self.b.activation(dtype, &nhwc(shape), quant), quant }
    }

    fn set(&mut self, name: &str, shape: [usize; 4], want: Want, v: Val) -> Result<()> {
        let e = self.entries.entry(name.to_string()).or_insert_with(|| Entry { shape, ..Default::default() });
        match want {
            Want::F32 => e.f32 = Some(v),
            Want::I8 => e.i8 = Some(v),
        }
        Ok(())
    }

    fn define(&mut self, node: &Node, shape: [usize; 4]) -> Result<String> {
        let name = node.n.output[0].clone();
        if self.entries.contains_key(&name) || self.consts.contains_key(&name) {
            return Err(node.bad(format!("output '{name}' is written twice")));
        }
        if shape.contains(&0) {
            return Err(node.err(format!("empty output shape {shape:?}")));
        }
        self.entries.insert(name.clone(), Entry { shape, ..Default::default() });
        Ok(name)
    }

    fn calibrated(&self, name: &str) -> Result<Quant> {
        if let Some(q) = self.force_q {
            return Ok(q);
        }
        let c = self.calib.ok_or_else(|| {
            unsupported(format!(
                "tensor '{name}' must be int8 here but has no quantization (QDQ) and no calibration was given"
            ))
        })?;
        let input_range = (name == self.input_name).then_some((0.0f32, 255.0f32));
        let (lo, hi) = c
            .ranges
            .get(name)
            .copied()
            .or(input_range)
            .ok_or_else(|| unsupported(format!("no calibration range recorded for tensor '{name}'")))?;
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(unsupported(format!("calibration range of '{name}' is not finite")));
        }
        Ok(quant_from_range(lo, hi))
    }

    /// Tensor `name` as a blob activation of dtype `want` (emitting a deferred node, a Quantize
    /// or a Dequantize if needed).
    fn get(&mut self, name: &str, want: Want) -> Result<Val> {
        let e = self.entry(name)?.clone();
        match want {
            Want::F32 if e.f32.is_some() => return Ok(e.f32.unwrap_or(Val { id: TensorId(0), quant: None })),
            Want::I8 if e.i8.is_some() => return Ok(e.i8.unwrap_or(Val { id: TensorId(0), quant: None })),
            _ => {}
        }
        if let Some(k) = e.deferred {
            self.depth += 1;
            if self.depth > 10_000 {
                return Err(malformed("deferred nodes nest too deeply (a cycle?)"));
            }
            let v = materialize(self, k, want)?;
            self.depth -= 1;
            if let Some(v) = v {
                self.set(name, e.shape, want, v)?;
                return Ok(v);
            }
        }
        let v = match want {
            Want::F32 => {
                let src = e.i8.ok_or_else(|| malformed(format!("tensor '{name}' has no value")))?;
                let v = self.new_act(DType::F32, e.shape, None);
                self.emit(OpCode::Dequantize, &[src.id], &[v.id], &NoParams {});
                v
            }
            Want::I8 => {
                let src = match e.f32 {
                    Some(v) => v,
                    None => self.get(name, Want::F32)?,
                };
                let q = self.calibrated(name)?;
                let v = self.new_act(DType::I8, e.shape, Some(q));
                self.emit(OpCode::Quantize, &[src.id], &[v.id], &NoParams {});
                v
            }
        };
        self.set(name, e.shape, want, v)?;
        Ok(v)
    }

    fn const_of(&self, node: &Node, k: usize) -> Result<Option<&Const>> {
        match node.input(k) {
            None => Ok(None),
            Some(n) => self
                .consts
                .get(n)
                .map(Some)
                .ok_or_else(|| node.err(format!("input {k} ('{n}') must be a constant"))),
        }
    }

    fn act_input(&self, node: &Node, k: usize) -> Result<String> {
        let n = node.input(k).ok_or_else(|| node.bad(format!("input {k} is missing")))?;
        if !self.entries.contains_key(n) {
            self.entry(n).map_err(|e| match e {
                ConvertError::Unsupported { what, .. } => node.err(what),
                other => other,
            })?;
        }
        Ok(n.to_string())
    }
}

// ------------------------------------------------------------------------------------------------
// Entry point.
// ------------------------------------------------------------------------------------------------

/// Converts an ONNX model. Never panics on any input.
pub fn convert_onnx(bytes: &[u8], options: &OnnxOptions) -> Result<OnnxConverted> {
    let m = proto::ModelProto::decode(bytes).map_err(|e| malformed(format!("not an ONNX model: {e}")))?;
    if !m.functions.is_empty() {
        return Err(unsupported("model-local functions"));
    }
    let mut opset = 0;
    for o in &m.opset_import {
        // Other domains (ai.onnx.ml, com.microsoft, …) may be imported; a node that uses one
        // is refused by name.
        if matches!(o.domain.as_str(), "" | "ai.onnx") {
            opset = o.version;
        }
    }
    if opset == 0 {
        return Err(malformed("no ai.onnx operator set import (is this an ONNX model?)"));
    }
    if !(7..=22).contains(&opset) {
        return Err(unsupported(format!("opset {opset} (supported: 7..=22)")));
    }
    let g = m.graph.as_ref().ok_or_else(|| malformed("no graph"))?;
    if !g.sparse_initializer.is_empty() {
        return Err(unsupported("sparse initializers"));
    }
    if options.height == 0 || options.width == 0 || options.height > 8192 || options.width > 8192 {
        return Err(unsupported(format!("input size {}x{}", options.height, options.width)));
    }

    let mut cx = Cx {
        nodes: &g.node,
        consts: HashMap::new(),
        qconsts: HashMap::new(),
        entries: HashMap::new(),
        consumers: HashMap::new(),
        absorbed: vec![false; g.node.len()],
        b: Builder::new(),
        calib: options.calibration.as_ref(),
        emitted: Vec::new(),
        note: None,
        convs: [0; 3],
        depth: 0,
        input_name: String::new(),
        force_q: None,
        conv_seen: 0,
        conv_total: g.node.iter().filter(|n| n.op_type == "Conv").count(),
        float_convs: options.float_convs.clone(),
    };
    for t in &g.initializer {
        cx.consts.insert(t.name.clone(), decode_tensor(t)?);
    }
    for (i, n) in g.node.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            cx.consumers.entry(inp.clone()).or_default().push(i);
        }
    }

    // The image input: the one graph input that is not an initializer.
    let inputs: Vec<&proto::ValueInfoProto> =
        g.input.iter().filter(|v| !cx.consts.contains_key(&v.name)).collect();
    if inputs.len() != 1 {
        return Err(unsupported(format!("{} graph inputs (expected one image input)", inputs.len())));
    }
    let input = inputs[0];
    cx.input_name = input.name.clone();
    let tt = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| unsupported(format!("graph input '{}' is not a tensor", input.name)))?;
    if tt.elem_type != dt::FLOAT {
        return Err(unsupported(format!("graph input '{}' of type {}", input.name, dt::name(tt.elem_type))));
    }
    let dims = tt.shape.as_ref().map(|s| s.dim.clone()).unwrap_or_default();
    if dims.len() != 4 {
        return Err(unsupported(format!(
            "graph input '{}' of rank {} (expected NCHW)",
            input.name,
            dims.len()
        )));
    }
    let fixed = |d: &proto::Dimension| d.dim_value.filter(|&v| v > 0).map(|v| v as usize);
    if fixed(&dims[0]).is_some_and(|n| n != 1) {
        return Err(unsupported("batch size other than 1"));
    }
    let channels = fixed(&dims[1]).ok_or_else(|| unsupported("graph input with a dynamic channel count"))?;
    if channels > 4096 {
        return Err(unsupported(format!("{channels} input channels")));
    }
    for (d, want) in [(&dims[2], options.height), (&dims[3], options.width)] {
        if let Some(v) = fixed(d) {
            if v != want {
                return Err(unsupported(format!(
                    "the model's input is fixed at {v} along H or W; convert with that size"
                )));
            }
        }
    }
    let in_shape = [1, channels, options.height, options.width];
    let x = cx.b.input(DType::F32, &nhwc(in_shape), None);
    cx.entries.insert(
        input.name.clone(),
        Entry { shape: in_shape, f32: Some(Val { id: x, quant: None }), ..Default::default() },
    );

    let mut reports = Vec::new();
    for i in 0..g.node.len() {
        if cx.absorbed[i] {
            continue;
        }
        cx.emitted.clear();
        cx.note = None;
        lower_node(&mut cx, i)?;
        let node = cx.node(i);
        reports.push(OpReport {
            index: i,
            name: node.label(),
            lowered: std::mem::take(&mut cx.emitted),
            note: cx.note.take(),
        });
    }

    let mut output_names = Vec::new();
    let mut out_ids = Vec::new();
    for o in &g.output {
        let v = cx.get(&o.name, Want::F32).map_err(|e| match e {
            ConvertError::Malformed(_) => unsupported(format!("graph output '{}' is not computed", o.name)),
            e => e,
        })?;
        if out_ids.contains(&v.id)
            || cx.entries.get(&input.name).and_then(|e| e.f32).is_some_and(|i| i.id == v.id)
        {
            return Err(unsupported(format!(
                "graph output '{}' repeats another output or the input",
                o.name
            )));
        }
        cx.b.output(v.id);
        out_ids.push(v.id);
        output_names.push(o.name.clone());
    }
    if options.expose_intermediates {
        let mut extra: Vec<(String, TensorId)> = cx
            .entries
            .iter()
            .filter(|(n, _)| **n != input.name && !output_names.contains(n))
            .filter_map(|(n, e)| e.f32.map(|v| (n.clone(), v.id)))
            .filter(|(_, id)| !out_ids.contains(id))
            .collect();
        extra.sort();
        for (n, id) in extra {
            cx.b.output(id);
            out_ids.push(id);
            output_names.push(n);
        }
    }
    let model = ConvertedModel::finish(&cx.b, bytes.len(), reports, Vec::new())?;
    Ok(OnnxConverted { model, output_names, convs: cx.convs })
}

// ------------------------------------------------------------------------------------------------
// Nodes.
// ------------------------------------------------------------------------------------------------

fn lower_node(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    if !node.n.domain.is_empty() && node.n.domain != "ai.onnx" {
        return Err(node.err(format!("operator domain '{}'", node.n.domain)));
    }
    match node.n.op_type.as_str() {
        "Constant" => constant(cx, i),
        "Identity" => identity(cx, i),
        "Conv" => conv(cx, i),
        "Pad" | "Resize" | "Upsample" | "Relu" | "Sign" => defer(cx, i),
        "DequantizeLinear" => dequantize_linear(cx, i),
        "QuantizeLinear" => quantize_linear(cx, i),
        "InstanceNormalization" => instance_norm(cx, i),
        "Add" | "Mul" => add_mul(cx, i),
        "Clip" => clip(cx, i),
        "Tanh" => tanh(cx, i),
        "ConvTranspose" => conv_transpose(cx, i),
        other => Err(node.err(format!("op {other} is not supported by Doppler"))),
    }
}

fn constant(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.only_attrs(&["value"])?;
    let t = node
        .attr("value")
        .and_then(|a| a.t.as_ref())
        .ok_or_else(|| node.err("Constant without a tensor 'value'"))?;
    let c = decode_tensor(t)?;
    if node.n.output.len() != 1 {
        return Err(node.bad("Constant with other than one output"));
    }
    cx.consts.insert(node.n.output[0].clone(), c);
    Ok(())
}

fn identity(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(1, 1)?;
    let x = node.input(0).ok_or_else(|| node.bad("no input"))?.to_string();
    let y = node.n.output[0].clone();
    if let Some(c) = cx.consts.get(&x).cloned() {
        cx.consts.insert(y, c);
        return Ok(());
    }
    let e = cx.entry(&x)?.clone();
    cx.entries.insert(y, e);
    Ok(())
}

/// Pad, Resize, Upsample, Relu, Sign: shape now, ops when a consumer asks.
fn defer(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    let op = node.n.op_type.clone();
    let (shape, _) = match op.as_str() {
        "Pad" => pad_params(cx, i)?,
        "Resize" | "Upsample" => {
            let s = resize_shape(cx, i)?;
            (s, PadParams::default())
        }
        _ => {
            node.need(1, 1)?;
            node.only_attrs(&[])?;
            let x = cx.act_input(&node, 0)?;
            (cx.shape(&x)?, PadParams::default())
        }
    };
    let name = cx.define(&node, shape)?;
    if let Some(e) = cx.entries.get_mut(&name) {
        e.deferred = Some(i);
    }
    cx.note = Some("deferred: emitted where a consumer needs it".into());
    Ok(())
}

/// Emits deferred node `i` producing dtype `want`; `None` if it cannot produce that dtype
/// directly (the caller then converts).
fn materialize(cx: &mut Cx, i: usize, want: Want) -> Result<Option<Val>> {
    let node = cx.node(i);
    let op = node.n.op_type.clone();
    let x = cx.act_input(&node, 0)?;
    let y_name = node.n.output[0].clone();
    let shape = cx.shape(&y_name)?;
    match op.as_str() {
        "Pad" => {
            let (_, mut p) = pad_params(cx, i)?;
            let xv = cx.get(&x, want)?;
            if want == Want::I8 {
                let q = xv.quant.unwrap_or(Quant::new(1.0, 0));
                let v = (p.value_f32 / q.scale).round() + q.zero_point as f32;
                if !(-128.0..=127.0).contains(&v) || q.scale * (v - q.zero_point as f32) != p.value_f32 {
                    return Err(cx.node(i).err(format!(
                        "constant pad value {} is not exactly representable in int8",
                        p.value_f32
                    )));
                }
                p.value_i8 = v as i32;
            }
            let y = cx.new_act(if want == Want::I8 { DType::I8 } else { DType::F32 }, shape, xv.quant);
            cx.emit(OpCode::Pad, &[xv.id], &[y.id], &p);
            Ok(Some(y))
        }
        "Resize" | "Upsample" => {
            resize_check(cx, i)?;
            let xv = cx.get(&x, want)?;
            let y = cx.new_act(if want == Want::I8 { DType::I8 } else { DType::F32 }, shape, xv.quant);
            cx.emit(OpCode::ResizeNearest, &[xv.id], &[y.id], &ResizeParams::default());
            Ok(Some(y))
        }
        "Relu" => match want {
            Want::F32 => {
                let xv = cx.get(&x, Want::F32)?;
                let y = cx.new_act(DType::F32, shape, None);
                let p = ElementwiseParams { act_min_f: 0.0, act_max_f: f32::INFINITY, ..Default::default() };
                cx.emit(OpCode::Clamp, &[xv.id], &[y.id], &p);
                Ok(Some(y))
            }
            Want::I8 => {
                let have_i8 = cx.entry(&x)?.i8;
                let (src, q) = match have_i8 {
                    // Already int8 (QDQ): clamp at its zero point.
                    Some(v) => (v, v.quant.unwrap_or(Quant::new(1.0, 0))),
                    None => {
                        // Quantize straight to the ReLU output's range: values below 0 saturate
                        // at the zero point when the range starts at 0 (zero point −128).
                        let q = cx.calibrated(&y_name)?;
                        let xf = cx.get(&x, Want::F32)?;
                        let v = cx.new_act(DType::I8, shape, Some(q));
                        cx.emit(OpCode::Quantize, &[xf.id], &[v.id], &NoParams {});
                        if q.zero_point == -128 {
                            return Ok(Some(v));
                        }
                        (v, q)
                    }
                };
                let y = cx.new_act(DType::I8, shape, Some(q));
                let p = ElementwiseParams { act_min: q.zero_point, act_max: 127, ..Default::default() };
                cx.emit(OpCode::Clamp, &[src.id], &[y.id], &p);
                Ok(Some(y))
            }
        },
        "Sign" => Err(cx.node(i).err(
            "Sign is supported only in the binary-convolution pattern Pad(reflect) → Sign → Conv (weights ±α per channel)",
        )),
        "DequantizeLinear" => Ok(None),
        other => Err(cx.node(i).err(format!("cannot emit deferred {other}"))),
    }
}

fn pad_params(cx: &Cx, i: usize) -> Result<([usize; 4], PadParams)> {
    let node = cx.node(i);
    node.need(1, 4)?;
    node.only_attrs(&["mode", "pads", "value"])?;
    let x = cx.act_input(&node, 0)?;
    let s = cx.shape(&x)?;
    let mode = node.string("mode", "constant")?;
    let pads = match node.input(1) {
        Some(_) => {
            cx.const_of(&node, 1)?.and_then(Const::ints).ok_or_else(|| node.bad("pads are not integers"))?
        }
        None => node.ints("pads")?.ok_or_else(|| node.bad("no pads"))?,
    };
    if node.input(3).is_some() {
        return Err(node.err("Pad with an 'axes' input"));
    }
    if pads.len() != 8 {
        return Err(node.err(format!("{} pads (expected 8 for NCHW)", pads.len())));
    }
    if pads.iter().any(|&p| !(0..=4096).contains(&p)) {
        return Err(node.err(format!("pads {pads:?} (negative pads crop; not supported)")));
    }
    let value = match node.input(2) {
        Some(_) => cx
            .const_of(&node, 2)?
            .and_then(Const::f32s)
            .filter(|v| v.len() == 1)
            .ok_or_else(|| node.err("constant_value must be a float scalar"))?[0],
        None => node.float("value", 0.0)?,
    };
    if value.is_nan() {
        return Err(node.err("NaN pad value"));
    }
    let p = |a: usize| [pads[a] as u32, pads[a + 4] as u32];
    // NCHW → NHWC: [N, H, W, C].
    let pp = [p(0), p(2), p(3), p(1)];
    let mut params = PadParams { pads: pp, mode: PAD_CONSTANT, value_i8: 0, value_f32: value, reserved: 0 };
    match mode.as_str() {
        "constant" => {}
        "reflect" => {
            params.mode = PAD_REFLECT;
            let d = nhwc(s);
            for (k, [b, a]) in pp.iter().enumerate() {
                if *b as usize >= d[k] || *a as usize >= d[k] {
                    return Err(node.err("reflect pad as wide as the dimension"));
                }
            }
        }
        other => return Err(node.err(format!("Pad mode '{other}'"))),
    }
    let y = [0, 1, 2, 3].map(|k| s[k] + (pads[k] + pads[k + 4]) as usize);
    Ok((y, params))
}

/// The (integer) scale factors of a Resize/Upsample node and its output shape.
fn resize_shape(cx: &Cx, i: usize) -> Result<[usize; 4]> {
    let node = cx.node(i);
    let x = cx.act_input(&node, 0)?;
    let s = cx.shape(&x)?;
    let (scales, sizes): (Option<Vec<f32>>, Option<Vec<i64>>) = if node.n.op_type == "Upsample" {
        node.only_attrs(&["mode", "scales"])?;
        match node.input(1) {
            Some(_) => (cx.const_of(&node, 1)?.and_then(Const::f32s), None),
            None => (node.floats("scales")?, None),
        }
    } else {
        node.only_attrs(&[
            "mode",
            "coordinate_transformation_mode",
            "nearest_mode",
            "cubic_coeff_a",
            "exclude_outside",
            "extrapolation_value",
        ])?;
        node.need(1, 4)?;
        // opset 10: (X, scales); opset 11+: (X, roi, scales, sizes).
        let (si, zi) = if node.n.input.len() == 2 { (1, 9) } else { (2, 3) };
        let scales = cx.const_of(&node, si)?.and_then(Const::f32s).filter(|v| !v.is_empty());
        let sizes = cx.const_of(&node, zi)?.and_then(Const::ints).filter(|v| !v.is_empty());
        (scales, sizes)
    };
    let out: Vec<usize> = match (scales, sizes) {
        (Some(sc), None) if sc.len() == 4 => {
            let mut o = Vec::new();
            for k in 0..4 {
                let v = (s[k] as f64 * f64::from(sc[k])).floor();
                if !(1.0..=65536.0).contains(&v) {
                    return Err(node.err(format!("scales {sc:?}")));
                }
                o.push(v as usize);
            }
            o
        }
        (None, Some(sz)) if sz.len() == 4 && sz.iter().all(|&v| (1..=65536).contains(&v)) => {
            sz.iter().map(|&v| v as usize).collect()
        }
        _ => return Err(node.err("Resize needs constant 4-element scales or sizes")),
    };
    if out[0] != s[0] || out[1] != s[1] {
        return Err(node.err("Resize of the batch or channel axis"));
    }
    Ok([out[0], out[1], out[2], out[3]])
}

/// ONNX Resize/Upsample nearest semantics checked index by index against the engine's
/// ResizeNearest (TFLite, no align-corners, no half-pixel): anything else is refused.
fn resize_check(cx: &Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    let x = cx.act_input(&node, 0)?;
    let s = cx.shape(&x)?;
    let y = cx.shape(&node.n.output[0])?;
    let mode = node.string("mode", "nearest")?;
    if mode != "nearest" {
        return Err(node.err(format!("Resize mode '{mode}' (only nearest)")));
    }
    let (ctm, nm) = if node.n.op_type == "Upsample" {
        ("asymmetric".to_string(), "floor".to_string())
    } else {
        (
            node.string("coordinate_transformation_mode", "half_pixel")?,
            node.string("nearest_mode", "round_prefer_floor")?,
        )
    };
    for (inp, out) in [(s[2], y[2]), (s[3], y[3])] {
        let scale = out as f64 / inp as f64;
        for o in 0..out {
            let of = o as f64;
            let xo = match ctm.as_str() {
                "half_pixel" => (of + 0.5) / scale - 0.5,
                "pytorch_half_pixel" => {
                    if out > 1 {
                        (of + 0.5) / scale - 0.5
                    } else {
                        0.0
                    }
                }
                "asymmetric" => of / scale,
                "align_corners" => {
                    if out > 1 {
                        of * (inp as f64 - 1.0) / (out as f64 - 1.0)
                    } else {
                        0.0
                    }
                }
                "tf_half_pixel_for_nn" => (of + 0.5) / scale,
                other => return Err(node.err(format!("coordinate_transformation_mode '{other}'"))),
            };
            let src = match nm.as_str() {
                "floor" => xo.floor(),
                "ceil" => xo.ceil(),
                "round_prefer_floor" => {
                    if xo - xo.floor() == 0.5 {
                        xo.floor()
                    } else {
                        xo.round()
                    }
                }
                "round_prefer_ceil" => xo.round(),
                other => return Err(node.err(format!("nearest_mode '{other}'"))),
            };
            let src = src.clamp(0.0, inp as f64 - 1.0) as usize;
            if src != resize_nearest_source(o, inp, out, false, false) {
                return Err(node.err(format!(
                    "nearest resize {inp}→{out} with '{ctm}'/'{nm}' picks other pixels than the engine's (floor(o·in/out))"
                )));
            }
        }
    }
    Ok(())
}

fn dequantize_linear(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(2, 3)?;
    node.only_attrs(&["axis"])?;
    let x = node.input(0).ok_or_else(|| node.bad("no input"))?.to_string();
    let scales =
        cx.const_of(&node, 1)?.and_then(Const::f32s).ok_or_else(|| node.err("x_scale must be float"))?;
    let zps = match cx.const_of(&node, 2)? {
        Some(c) => c.ints().ok_or_else(|| node.err("x_zero_point must be an integer constant"))?,
        None => vec![0; scales.len()],
    };
    if zps.len() != scales.len() || scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(node.err("x_scale / x_zero_point"));
    }
    if let Some(c) = cx.consts.get(&x).cloned() {
        // A quantized constant (weights, bias): folded into its consumer.
        let rank = c.dims.len() as i64;
        let axis = node.int("axis", 1)?;
        let axis = if axis < 0 { axis + rank } else { axis };
        let axis = if scales.len() == 1 { 0 } else { axis as usize };
        if scales.len() != 1 && c.dims.get(axis) != Some(&scales.len()) {
            return Err(node.err("per-axis scales do not match the axis"));
        }
        let name = node.n.output[0].clone();
        cx.qconsts.insert(name.clone(), (c.clone(), scales.clone(), zps.clone(), axis));
        // Also as a float constant, for consumers that want real values.
        let real =
            dequantize_const(&c, &scales, &zps, axis).ok_or_else(|| node.err("quantized constant type"))?;
        cx.consts.insert(name, Const { dims: c.dims.clone(), data: Data::F32(real) });
        cx.note = Some("constant: folded".into());
        return Ok(());
    }
    if scales.len() != 1 {
        return Err(node.err("per-axis DequantizeLinear of an activation"));
    }
    let src = cx.entry(&x)?.clone();
    let v = src.i8.ok_or_else(|| node.err("DequantizeLinear of a tensor that is not int8"))?;
    let q = v.quant.unwrap_or(Quant::new(1.0, 0));
    let (s, z) = (scales[0], zps[0]);
    let z8 = if src.from_u8 { z - 128 } else { z };
    if q.scale != s || i64::from(q.zero_point) != z8 {
        return Err(node.err("DequantizeLinear with other parameters than the QuantizeLinear before it"));
    }
    let name = cx.define(&node, src.shape)?;
    if let Some(e) = cx.entries.get_mut(&name) {
        e.i8 = Some(v);
        e.deferred = Some(i);
        e.from_u8 = src.from_u8;
    }
    cx.note = Some("int8 → float32 where a consumer needs float".into());
    Ok(())
}

fn dequantize_const(c: &Const, scales: &[f32], zps: &[i64], axis: usize) -> Option<Vec<f32>> {
    let vals = c.ints()?;
    let inner: usize = c.dims.iter().skip(axis + 1).product();
    let n_axis = if scales.len() == 1 { 1 } else { c.dims.get(axis).copied()? };
    Some(
        vals.iter()
            .enumerate()
            .map(|(k, &q)| {
                let ch = if scales.len() == 1 { 0 } else { (k / inner.max(1)) % n_axis };
                scales[ch] * (q - zps[ch]) as f32
            })
            .collect(),
    )
}

fn quantize_linear(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(2, 3)?;
    node.only_attrs(&["axis", "saturate"])?;
    let x = cx.act_input(&node, 0)?;
    let scale = cx
        .const_of(&node, 1)?
        .and_then(Const::scalar_f32)
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| node.err("y_scale must be one positive float (per-tensor)"))?;
    let (zp, is_u8) = match cx.const_of(&node, 2)? {
        Some(Const { data: Data::U8(v), .. }) if v.len() == 1 => (i32::from(v[0]) - 128, true),
        Some(Const { data: Data::I8(v), .. }) if v.len() == 1 => (i32::from(v[0]), false),
        None => (0, true),
        Some(_) => return Err(node.err("y_zero_point must be one int8 or uint8")),
    };
    let q = Quant::new(scale, zp);
    let shape = cx.shape(&x)?;
    let name = cx.define(&node, shape)?;
    if let Some(e) = cx.entries.get_mut(&name) {
        e.from_u8 = is_u8;
    }
    let src = cx.entry(&x)?.clone();
    // Q(DQ(t)) with the same parameters is t.
    if let Some(v) = src.i8.filter(|v| v.quant == Some(q)) {
        if let Some(e) = cx.entries.get_mut(&name) {
            e.i8 = Some(v);
        }
        cx.note = Some("same quantization as its input: no op".into());
        return Ok(());
    }
    // Quantize before copy ops (Pad, Resize, Relu) rather than after: the same values, and the
    // copies then move int8.
    let copy = producer_of(cx, &x)
        .is_some_and(|k| matches!(cx.nodes[k].op_type.as_str(), "Pad" | "Resize" | "Upsample" | "Relu"));
    let v = if copy && src.i8.is_none() && src.f32.is_none() {
        cx.force_q = Some(q);
        let v = cx.get(&x, Want::I8);
        cx.force_q = None;
        let v = v?;
        if v.quant != Some(q) {
            return Err(node.bad("quantization pulled through copy ops changed"));
        }
        v
    } else {
        let xf = cx.get(&x, Want::F32)?;
        let v = cx.new_act(DType::I8, shape, Some(q));
        cx.emit(OpCode::Quantize, &[xf.id], &[v.id], &NoParams {});
        v
    };
    if let Some(e) = cx.entries.get_mut(&name) {
        e.i8 = Some(v);
    }
    if is_u8 {
        cx.note = Some("uint8 quantization as int8 (q − 128, zero point − 128)".into());
    }
    Ok(())
}

fn instance_norm(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(3, 3)?;
    node.only_attrs(&["epsilon"])?;
    let x = cx.act_input(&node, 0)?;
    let s = cx.shape(&x)?;
    let eps = node.float("epsilon", 1e-5)?;
    let gamma =
        cx.const_of(&node, 1)?.and_then(Const::f32s).ok_or_else(|| node.err("scale must be float"))?;
    let beta = cx.const_of(&node, 2)?.and_then(Const::f32s).ok_or_else(|| node.err("B must be float"))?;
    if gamma.len() != s[1] || beta.len() != s[1] {
        return Err(node.bad("scale/B length differs from the channel count"));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(node.err(format!("epsilon {eps}")));
    }
    let xv = cx.get(&x, Want::F32)?;
    let g = cx.b.constant_f32(&[s[1]], &gamma);
    let bt = cx.b.constant_f32(&[s[1]], &beta);
    let name = cx.define(&node, s)?;
    let y = cx.new_act(DType::F32, s, None);
    cx.emit(
        OpCode::InstanceNorm,
        &[xv.id, g, bt],
        &[y.id],
        &InstanceNormParams { epsilon: eps, reserved: [0; 3] },
    );
    cx.set(&name, s, Want::F32, y)
}

fn add_mul(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(2, 2)?;
    node.only_attrs(&[])?;
    let is_add = node.n.op_type == "Add";
    // Shape: that of the activation operand(s).
    let names: Vec<String> = (0..2).map(|k| node.input(k).unwrap_or("").to_string()).collect();
    let shape = names
        .iter()
        .find_map(|n| cx.entries.get(n).map(|e| e.shape))
        .ok_or_else(|| node.err("both operands are constants"))?;
    let mut ids = Vec::new();
    for (k, n) in names.iter().enumerate() {
        if cx.entries.contains_key(n) {
            if cx.shape(n)? != shape {
                return Err(node.err("broadcasting between two activations"));
            }
            ids.push(cx.get(n, Want::F32)?.id);
        } else {
            let c = cx.const_of(&node, k)?.cloned().ok_or_else(|| node.bad("missing operand"))?;
            let v = c.f32s().ok_or_else(|| node.err("non-float constant operand"))?;
            // Broadcast in NCHW, then permute to NHWC.
            let full = super::lower::broadcast(&v, &c.dims, &shape).ok_or_else(|| {
                node.err(format!("constant of shape {:?} does not broadcast to {shape:?}", c.dims))
            })?;
            let [n0, c0, h0, w0] = shape;
            let mut t = vec![0f32; full.len()];
            for n_ in 0..n0 {
                for c_ in 0..c0 {
                    for h_ in 0..h0 {
                        for w_ in 0..w0 {
                            t[((n_ * h0 + h_) * w0 + w_) * c0 + c_] =
                                full[((n_ * c0 + c_) * h0 + h_) * w0 + w_];
                        }
                    }
                }
            }
            ids.push(cx.b.constant_f32(&nhwc(shape), &t));
        }
    }
    let name = cx.define(&node, shape)?;
    let y = cx.new_act(DType::F32, shape, None);
    let p =
        ElementwiseParams { act_min_f: f32::NEG_INFINITY, act_max_f: f32::INFINITY, ..Default::default() };
    cx.emit(if is_add { OpCode::Add } else { OpCode::Mul }, &[ids[0], ids[1]], &[y.id], &p);
    cx.set(&name, shape, Want::F32, y)
}

fn clip(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(1, 3)?;
    node.only_attrs(&["min", "max"])?;
    let x = cx.act_input(&node, 0)?;
    let s = cx.shape(&x)?;
    let bound = |k: usize, attr: &str, default: f32| -> Result<f32> {
        match node.input(k) {
            Some(_) => cx
                .const_of(&node, k)?
                .and_then(Const::scalar_f32)
                .ok_or_else(|| node.err(format!("Clip {attr} must be a float scalar constant"))),
            None => node.float(attr, default),
        }
    };
    let lo = bound(1, "min", f32::NEG_INFINITY)?;
    let hi = bound(2, "max", f32::INFINITY)?;
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(node.err(format!("Clip range [{lo}, {hi}]")));
    }
    let xv = cx.get(&x, Want::F32)?;
    let name = cx.define(&node, s)?;
    let y = cx.new_act(DType::F32, s, None);
    let p = ElementwiseParams { act_min_f: lo, act_max_f: hi, ..Default::default() };
    cx.emit(OpCode::Clamp, &[xv.id], &[y.id], &p);
    cx.set(&name, s, Want::F32, y)
}

fn tanh(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(1, 1)?;
    node.only_attrs(&[])?;
    let x = cx.act_input(&node, 0)?;
    let s = cx.shape(&x)?;
    let xv = cx.get(&x, Want::F32)?;
    let name = cx.define(&node, s)?;
    let y = cx.new_act(DType::F32, s, None);
    cx.emit(OpCode::Tanh, &[xv.id], &[y.id], &NoParams {});
    cx.set(&name, s, Want::F32, y)
}

/// ConvTranspose (group 1, explicit pads) → float32 TransposeConv2d, in every conversion mode.
/// ONNX's filter `[C_in, C_out, kH, kW]` becomes OHWI `[C_out, kH, kW, C_in]`; `output_padding`
/// extends the end of each axis, i.e. is subtracted from the end pad (the blob's pads crop the
/// full output `(in − 1)·stride + dil·(k − 1) + 1`).
fn conv_transpose(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(2, 3)?;
    node.only_attrs(&[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "output_padding",
        "pads",
        "strides",
    ])?;
    let x = cx.act_input(&node, 0)?;
    let xs = cx.shape(&x)?;
    let wc = cx.const_of(&node, 1)?.cloned().ok_or_else(|| node.bad("no filter"))?;
    let w = wc.dims.clone();
    if w.len() != 4 {
        return Err(node.err(format!("filter of rank {} (only 2-D transposed convolutions)", w.len())));
    }
    if node.int("group", 1)? != 1 {
        return Err(node.err("grouped transposed convolution (group ≠ 1)"));
    }
    let auto = node.string("auto_pad", "NOTSET")?;
    if auto != "NOTSET" {
        return Err(node.err(format!("auto_pad '{auto}' (only NOTSET, explicit pads)")));
    }
    if w[0] != xs[1] {
        return Err(node.bad(format!("filter has {} input channels for {} input channels", w[0], xs[1])));
    }
    let (oc, kh, kw) = (w[1], w[2], w[3]);
    if oc == 0 || kh == 0 || kw == 0 {
        return Err(node.bad(format!("empty filter {w:?}")));
    }
    if let Some(ks) = node.ints("kernel_shape")? {
        if ks != [kh as i64, kw as i64] {
            return Err(node.bad(format!("kernel_shape {ks:?} differs from the filter's {kh}x{kw}")));
        }
    }
    let strides = node.int_pair("strides", 1, 1..=64)?;
    let dil = node.int_pair("dilations", 1, 1..=64)?;
    let out_pad = node.int_pair("output_padding", 0, 0..=64)?;
    // ONNX pads: [top, left, bottom, right].
    let pads = node.pads()?;
    let mut out = [1, oc, 0, 0];
    let mut end = [0usize; 2];
    for a in 0..2 {
        end[a] = pads[a + 2].checked_sub(out_pad[a]).ok_or_else(|| {
            node.err(format!(
                "output_padding {} larger than the end pad {} (a negative effective pad)",
                out_pad[a],
                pads[a + 2]
            ))
        })?;
        let k = [kh, kw][a];
        let full = (xs[2 + a] - 1) * strides[a] + dil[a] * (k - 1) + 1;
        out[2 + a] = full
            .checked_sub(pads[a] + end[a])
            .filter(|&o| o > 0)
            .ok_or_else(|| node.err(format!("pads {pads:?} crop the whole output")))?;
    }
    let wf = wc.f32s().ok_or_else(|| node.err("filter must be float"))?;
    let bias: Vec<f32> = match cx.const_of(&node, 2)? {
        Some(c) => {
            c.f32s().filter(|v| v.len() == oc).ok_or_else(|| node.bad("bias must be float [C_out]"))?
        }
        None => vec![0.0; oc],
    };
    // [C_in, C_out, kH, kW] → [C_out, kH, kW, C_in].
    let ci = w[0];
    let mut wt = Vec::with_capacity(wf.len());
    for o in 0..oc {
        for y in 0..kh {
            for x_ in 0..kw {
                for c in 0..ci {
                    wt.push(wf[((c * oc + o) * kh + y) * kw + x_]);
                }
            }
        }
    }
    // Only float32: no requantization, no int8 clamp (the validator wants those fields zero).
    let p = WindowParams {
        rounding: 0,
        act_min: 0,
        act_max: 0,
        ..window_params([kh, kw], strides, dil, [pads[0], end[0], pads[1], end[1]])
    };
    let xv = cx.get(&x, Want::F32)?;
    let wid = cx.b.constant_f32(&[oc, kh, kw, ci], &wt);
    let bid = cx.b.constant_f32(&[oc], &bias);
    let name = cx.define(&node, out)?;
    let y = cx.new_act(DType::F32, out, None);
    cx.emit(OpCode::TransposeConv2d, &[xv.id, wid, bid], &[y.id], &p);
    cx.set(&name, out, Want::F32, y)
}

// ------------------------------------------------------------------------------------------------
// Conv: float, int8 (QDQ or calibrated), binary.
// ------------------------------------------------------------------------------------------------

struct ConvGeom {
    p: WindowParams,
    out: [usize; 4],
}

fn conv_geometry(node: &Node, x: [usize; 4], w: &[usize]) -> Result<ConvGeom> {
    node.only_attrs(&["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"])?;
    if w.len() != 4 {
        return Err(node.err(format!("filter of rank {} (only 2-D convolutions)", w.len())));
    }
    if node.int("group", 1)? != 1 {
        return Err(node.err("grouped convolution (group ≠ 1)"));
    }
    if w[1] != x[1] {
        return Err(node.bad(format!("filter depth {} for {} input channels", w[1], x[1])));
    }
    let (kh, kw) = (w[2], w[3]);
    if let Some(ks) = node.ints("kernel_shape")? {
        if ks != [kh as i64, kw as i64] {
            return Err(node.bad(format!("kernel_shape {ks:?} differs from the filter's {kh}x{kw}")));
        }
    }
    let strides = node.int_pair("strides", 1, 1..=64)?;
    let dil = node.int_pair("dilations", 1, 1..=64)?;
    let ext = [dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1];
    let auto = node.string("auto_pad", "NOTSET")?;
    let pads: [usize; 4] = match auto.as_str() {
        "NOTSET" => node.pads()?,
        "VALID" => [0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut p = [0; 4];
            for a in 0..2 {
                let inp = x[2 + a];
                let out = inp.div_ceil(strides[a]);
                let total = ((out - 1) * strides[a] + ext[a]).saturating_sub(inp);
                let small = total / 2;
                let (b, e) =
                    if auto == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
                p[a] = b;
                p[a + 2] = e;
            }
            p
        }
        other => return Err(node.err(format!("auto_pad '{other}'"))),
    };
    // ONNX pads: [top, left, bottom, right].
    let mut out = [1, w[0], 0, 0];
    for a in 0..2 {
        let padded = x[2 + a] + pads[a] + pads[a + 2];
        if padded < ext[a] {
            return Err(node.bad("the window does not fit the input"));
        }
        if pads[a] >= ext[a] || pads[a + 2] >= ext[a] {
            return Err(node.err("padding as wide as the kernel"));
        }
        out[2 + a] = (padded - ext[a]) / strides[a] + 1;
    }
    let p = window_params([kh, kw], strides, dil, [pads[0], pads[2], pads[1], pads[3]]);
    Ok(ConvGeom { p, out })
}

/// A window op's parameters: kernel, strides, dilations, pads `[top, bottom, left, right]`; the
/// int8 defaults (double rounding, clamp to the int8 range) and no float clamp.
fn window_params(k: [usize; 2], strides: [usize; 2], dil: [usize; 2], pads: [usize; 4]) -> WindowParams {
    WindowParams {
        filter_h: k[0] as u32,
        filter_w: k[1] as u32,
        stride_h: strides[0] as u32,
        stride_w: strides[1] as u32,
        dilation_h: dil[0] as u32,
        dilation_w: dil[1] as u32,
        pad_top: pads[0] as u32,
        pad_bottom: pads[1] as u32,
        pad_left: pads[2] as u32,
        pad_right: pads[3] as u32,
        depth_multiplier: 1,
        rounding: ROUNDING_DOUBLE,
        pad_value: 0,
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        reserved: 0,
    }
}

/// OIHW → OHWI.
fn ohwi<T: Copy>(v: &[T], w: &[usize]) -> Vec<T> {
    let (o, ci, kh, kw) = (w[0], w[1], w[2], w[3]);
    let mut r = Vec::with_capacity(v.len());
    for a in 0..o {
        for y in 0..kh {
            for x in 0..kw {
                for c in 0..ci {
                    r.push(v[((a * ci + c) * kh + y) * kw + x]);
                }
            }
        }
    }
    r
}

fn producer_of(cx: &Cx, name: &str) -> Option<usize> {
    cx.entries.get(name).and_then(|e| e.deferred)
}

fn conv(cx: &mut Cx, i: usize) -> Result<()> {
    let r = conv_inner(cx, i);
    cx.conv_seen += 1;
    r
}

fn conv_inner(cx: &mut Cx, i: usize) -> Result<()> {
    let node = cx.node(i);
    node.need(2, 3)?;
    let x = cx.act_input(&node, 0)?;
    let xs = cx.shape(&x)?;
    let wname = node.input(1).ok_or_else(|| node.bad("no filter"))?.to_string();
    let wc = cx.consts.get(&wname).cloned().ok_or_else(|| node.err("the filter must be a constant"))?;
    let g = conv_geometry(&node, xs, &wc.dims)?;
    let oc = wc.dims[0];
    let bias: Vec<f32> = match cx.const_of(&node, 2)? {
        Some(c) => c.f32s().filter(|v| v.len() == oc).ok_or_else(|| node.bad("bias must be float [O]"))?,
        None => vec![0.0; oc],
    };

    // Binary: Sign(x) as input.
    if let Some(k) = producer_of(cx, &x).filter(|&k| cx.nodes[k].op_type == "Sign") {
        return binary_conv(cx, i, k, &wc, &bias, g);
    }
    // QDQ: int8 input available and quantized weights.
    // QDQ: int8 input and quantized weights. int8 when the output is quantized too (by a
    // QuantizeLinear, or by calibration); else the float convolution of the dequantized values,
    // which is what the QDQ graph means.
    let qdq_in = cx.entry(&x)?.i8.is_some() && cx.qconsts.contains_key(&wname);
    if qdq_in && (quantized_by(cx, &node.n.output[0]).is_some() || cx.calib.is_some()) {
        return qdq_conv(cx, i, &x, &wname, g);
    }
    let wf = wc.f32s().ok_or_else(|| node.err("filter must be float"))?;
    let ordinal = cx.conv_seen as i64;
    let total = cx.conv_total as i64;
    let keep_float = cx.float_convs.iter().any(|&k| k == ordinal || k == ordinal - total);
    if cx.calib.is_some() && !keep_float {
        return calibrated_conv(cx, i, &x, &wf, &wc.dims, &bias, g);
    }
    let xv = cx.get(&x, Want::F32)?;
    let wt = cx.b.constant_f32(&[oc, wc.dims[2], wc.dims[3], wc.dims[1]], &ohwi(&wf, &wc.dims));
    let bt = cx.b.constant_f32(&[oc], &bias);
    let name = cx.define(&node, g.out)?;
    let y = cx.new_act(DType::F32, g.out, None);
    cx.emit(OpCode::Conv2d, &[xv.id, wt, bt], &[y.id], &g.p);
    cx.convs[0] += 1;
    cx.set(&name, g.out, Want::F32, y)
}

/// Emits an int8 Conv2d: `x` int8 input, `wq` OIHW int8 weights with per-channel scales,
/// bias int32, output quantization `yq`.
#[allow(clippy::too_many_arguments)]
fn emit_int8_conv(
    cx: &mut Cx,
    node_i: usize,
    xv: Val,
    wq: &[i8],
    wdims: &[usize],
    ws: &[f32],
    bias: &[i32],
    yq: Quant,
    g: &ConvGeom,
) -> Result<Val> {
    let node = cx.node(node_i);
    let xq = xv.quant.ok_or_else(|| node.bad("int8 input without quantization"))?;
    let oc = wdims[0];
    let (mut ms, mut ss) = (Vec::new(), Vec::new());
    for &s in ws {
        let real = f64::from(xq.scale) * f64::from(s) / f64::from(yq.scale);
        let (m, sh) = quantize_multiplier(real);
        if m < 0 || !(-31..=30).contains(&sh) {
            return Err(node.err(format!("requantization scale {real:e} outside the format's range")));
        }
        ms.push(m);
        ss.push(sh);
    }
    let wt = cx.b.constant_i8(&[oc, wdims[2], wdims[3], wdims[1]], Quant::new(1.0, 0), &ohwi(wq, wdims));
    let bt = cx.b.constant_i32(&[oc], bias);
    let mt = cx.b.constant_i32(&[oc], &ms);
    let st = cx.b.constant_i32(&[oc], &ss);
    let y = cx.new_act(DType::I8, g.out, Some(yq));
    cx.emit(OpCode::Conv2d, &[xv.id, wt, bt, mt, st], &[y.id], &g.p);
    Ok(y)
}

fn calibrated_conv(
    cx: &mut Cx,
    i: usize,
    x: &str,
    wf: &[f32],
    wdims: &[usize],
    bias: &[f32],
    g: ConvGeom,
) -> Result<()> {
    let node = cx.node(i);
    let oc = wdims[0];
    let per = wf.len() / oc.max(1);
    let equalized = equalize_for_instance_norm(cx, &node.n.output[0], oc);
    let (wf, bias) = match &equalized {
        Some(eq) => {
            let w: Vec<f32> = wf.iter().enumerate().map(|(k, &v)| v * eq[k / per.max(1)].1).collect();
            let b: Vec<f32> = bias.iter().zip(eq).map(|(&b, &(m, s))| (b - m) * s).collect();
            (w, b)
        }
        None => (wf.to_vec(), bias.to_vec()),
    };
    let (wf, bias) = (&wf[..], &bias[..]);
    let (wq, ws, _) = crate::examples::quantize_weights(wf, oc, |k| k / per.max(1));
    let xv = cx.get(x, Want::I8)?;
    let xq = xv.quant.ok_or_else(|| node.bad("int8 input without quantization"))?;
    let bq: Vec<i32> = bias
        .iter()
        .zip(&ws)
        .map(|(&b, &s)| (f64::from(b) / (f64::from(xq.scale) * f64::from(s))).round().clamp(-2e9, 2e9) as i32)
        .collect();
    let name = node.n.output[0].clone();
    let yq = match equalized {
        Some(_) => quant_from_range(-EQUALIZED_RANGE, EQUALIZED_RANGE),
        None => cx.calibrated(&name)?,
    };
    let y = emit_int8_conv(cx, i, xv, &wq, wdims, &ws, &bq, yq, &g)?;
    cx.define(&cx.node(i), g.out)?;
    cx.set(&name, g.out, Want::I8, y)?;
    cx.convs[1] += 1;
    cx.note = Some("int8 (calibrated ranges, per-channel symmetric weights)".into());
    Ok(())
}

/// Half-width of the int8 range of an equalized convolution output (see
/// [`equalize_for_instance_norm`]). Large enough that InstanceNormalization's epsilon, which
/// the channel scaling effectively divides by `s²`, stays negligible against the variances.
const EQUALIZED_RANGE: f32 = 16.0;

/// Per-channel `(center, scale)` that maps each calibrated output channel of a convolution onto
/// `[−EQUALIZED_RANGE, EQUALIZED_RANGE]` — when InstanceNormalization is the output's only
/// consumer, else `None`.
///
/// Why: the convolution's int8 output has one scale for all channels, and with min/max
/// calibration a channel whose values span a hundredth of the widest channel's gets two or
/// three int8 levels — which InstanceNormalization then stretches back to unit variance,
/// amplifying the rounding error. InstanceNormalization is invariant to a per-channel affine map
/// `x ↦ s·(x − m)` with `s > 0` (it removes each instance's mean and divides by its standard
/// deviation; only epsilon sees the scale, as `ε/s²`), so folding `s` into the channel's
/// weights and `−s·m` into its bias changes nothing but the rounding: every channel then uses
/// the full int8 range.
fn equalize_for_instance_norm(cx: &Cx, name: &str, oc: usize) -> Option<Vec<(f32, f32)>> {
    let only = match cx.consumers.get(name).map(Vec::as_slice) {
        Some(&[k]) => k,
        _ => return None,
    };
    if cx.nodes.get(only)?.op_type != "InstanceNormalization" {
        return None;
    }
    let ranges = cx.calib?.channel_ranges.get(name).filter(|r| r.len() == oc)?;
    let widest = ranges.iter().map(|&(lo, hi)| hi - lo).fold(0.0f32, f32::max);
    if !(widest.is_finite() && widest > 0.0) {
        return None;
    }
    Some(
        ranges
            .iter()
            .map(|&(lo, hi)| {
                // A constant channel keeps its width relative to the widest, not 1/0.
                let half = ((hi - lo) / 2.0).max(widest * 1e-4);
                ((lo + hi) / 2.0, EQUALIZED_RANGE / half)
            })
            .collect(),
    )
}

/// The QuantizeLinear node that is the only consumer of `name`, if so.
fn quantized_by(cx: &Cx, name: &str) -> Option<usize> {
    match cx.consumers.get(name).map(Vec::as_slice) {
        Some([k]) if cx.nodes[*k].op_type == "QuantizeLinear" => Some(*k),
        _ => None,
    }
}

fn qdq_conv(cx: &mut Cx, i: usize, x: &str, wname: &str, g: ConvGeom) -> Result<()> {
    let node = cx.node(i);
    let xv = cx.get(x, Want::I8)?;
    let xq = xv.quant.ok_or_else(|| node.bad("int8 input without quantization"))?;
    let (wc, ws, wz, axis) = cx.qconsts.get(wname).cloned().ok_or_else(|| node.bad("weights"))?;
    let oc = wc.dims[0];
    let wq: Vec<i8> = match &wc.data {
        Data::I8(v) => v.clone(),
        _ => return Err(node.err("QDQ weights must be INT8 (symmetric)")),
    };
    if wz.iter().any(|&z| z != 0) {
        return Err(node.err("QDQ weights with a non-zero zero point"));
    }
    let ws = match ws.len() {
        1 => vec![ws[0]; oc],
        n if n == oc && axis == 0 => ws,
        n => return Err(node.err(format!("{n} weight scales along axis {axis}"))),
    };
    if wq.iter().any(|&v| v == -128) {
        return Err(node.err("weights use −128 (the engine's int8 weights are within ±127)"));
    }
    // Bias: int32 from DequantizeLinear (scale s_in·s_w), or float (quantized here).
    let bias: Vec<i32> = match node.input(2) {
        None => vec![0; oc],
        Some(bn) => match cx.qconsts.get(bn).cloned() {
            Some((bc, bs, _bz, _)) => {
                let vals = bc.ints().ok_or_else(|| node.err("bias type"))?;
                let bs = if bs.len() == 1 { vec![bs[0]; oc] } else { bs };
                vals.iter()
                    .zip(bs.iter().zip(&ws))
                    .map(|(&q, (&s, &sw))| {
                        let real = q as f64 * f64::from(s);
                        (real / (f64::from(xq.scale) * f64::from(sw))).round() as i32
                    })
                    .collect()
            }
            None => {
                let b = cx.const_of(&node, 2)?.and_then(Const::f32s).ok_or_else(|| node.err("bias"))?;
                b.iter()
                    .zip(&ws)
                    .map(|(&b, &s)| (f64::from(b) / (f64::from(xq.scale) * f64::from(s))).round() as i32)
                    .collect()
            }
        },
    };
    if bias.len() != oc {
        return Err(node.bad("bias length"));
    }
    // The output: quantized by its only consumer, a QuantizeLinear, or calibrated.
    let out = node.n.output[0].clone();
    let Some(qn) = quantized_by(cx, &out) else {
        let yq = cx.calibrated(&out)?;
        let y = emit_int8_conv(cx, i, xv, &wq, &wc.dims, &ws, &bias, yq, &g)?;
        cx.define(&cx.node(i), g.out)?;
        cx.set(&out, g.out, Want::I8, y)?;
        cx.convs[1] += 1;
        cx.note = Some("int8 (QDQ input and weights, calibrated output range)".into());
        return Ok(());
    };
    let q = cx.node(qn);
    let scale = cx.const_of(&q, 1)?.and_then(Const::scalar_f32).ok_or_else(|| q.err("y_scale"))?;
    let (zp, is_u8) = match cx.const_of(&q, 2)? {
        Some(Const { data: Data::U8(v), .. }) if v.len() == 1 => (i32::from(v[0]) - 128, true),
        Some(Const { data: Data::I8(v), .. }) if v.len() == 1 => (i32::from(v[0]), false),
        None => (0, true),
        Some(_) => return Err(q.err("y_zero_point")),
    };
    let yq = Quant::new(scale, zp);
    let y = emit_int8_conv(cx, i, xv, &wq, &wc.dims, &ws, &bias, yq, &g)?;
    cx.define(&cx.node(i), g.out)?;
    let qname = cx.nodes[qn].output[0].clone();
    cx.entries.insert(qname, Entry { shape: g.out, i8: Some(y), from_u8: is_u8, ..Default::default() });
    cx.absorbed[qn] = true;
    cx.convs[1] += 1;
    cx.note = Some(format!("int8 (QDQ, with QuantizeLinear node {qn})"));
    Ok(())
}

/// `Pad → Sign → Conv` with weights ±α_c: BPack → BConv2d, epilogue `α_c · acc + bias_c`.
fn binary_conv(cx: &mut Cx, i: usize, sign: usize, wc: &Const, bias: &[f32], mut g: ConvGeom) -> Result<()> {
    let node = cx.node(i);
    let w = wc.f32s().ok_or_else(|| node.err("binary filter must be float"))?;
    let (oc, ic, kh, kw) = (wc.dims[0], wc.dims[1], wc.dims[2], wc.dims[3]);
    let per = ic * kh * kw;
    let mut alpha = vec![0f32; oc];
    for c in 0..oc {
        let ch = &w[c * per..(c + 1) * per];
        let a = ch[0].abs();
        if !(a > 0.0 && a.is_finite()) || ch.iter().any(|v| (v.abs() - a).abs() > a * 1e-6) {
            return Err(node.err(format!(
                "Sign → Conv: output channel {c}'s weights are not ±α (one magnitude per channel)"
            )));
        }
        alpha[c] = a;
    }
    // Filter bits (bit 1 = −1), OHWI packed along I.
    let wpp = kbin::words(ic);
    let ohw = ohwi(&w, &wc.dims);
    let mut words = vec![0u32; oc * kh * kw * wpp];
    for (k, px) in ohw.chunks(ic).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            if v < 0.0 {
                words[k * wpp + c / 32] |= 1 << (c % 32);
            }
        }
    }
    let sign_in = cx.act_input(&cx.node(sign), 0)?;
    let xs = cx.shape(&sign_in)?;
    let xf = cx.get(&sign_in, Want::F32)?;
    let packed = cx.b.activation(DType::B1, &nhwc(xs), None);
    cx.emit(OpCode::BPack, &[xf.id], &[packed], &NoParams {});
    // ONNX zero-pads the *signs* (taps contribute 0): Doppler's zero-padding mode.
    g.p.pad_value = if g.p.pad_top + g.p.pad_bottom + g.p.pad_left + g.p.pad_right > 0 {
        PAD_VALUE_ZERO
    } else {
        PAD_VALUE_ONE
    };
    g.p.act_min = i32::MIN;
    g.p.act_max = i32::MAX;
    let k_full = kh * kw * ic;
    let (mut m, mut b) = (vec![0f32; oc], vec![0f32; oc]);
    kbin::lce_output_transform(k_full, &alpha, bias, 1.0, 0, &mut m, &mut b);
    let ft = cx.b.constant_b1(&[oc, kh, kw, ic], &words);
    let mt = cx.b.constant_f32(&[oc], &m);
    let bt = cx.b.constant_f32(&[oc], &b);
    let name = cx.define(&cx.node(i), g.out)?;
    let y = cx.new_act(DType::F32, g.out, None);
    cx.emit(OpCode::BConv2d, &[packed, ft, mt, bt], &[y.id], &g.p);
    cx.convs[2] += 1;
    cx.note = Some(format!("binary (Sign node {sign}; sign(0) = +1, ONNX's Sign(0) = 0)"));
    cx.set(&name, g.out, Want::F32, y)
}

#[cfg(test)]
mod tests;
