//! The example models of `examples/models/`, built from scratch and deterministically.
//!
//! Three small networks, each exercising many ops of one numeric family:
//!
//! * `int8_cnn` — int8 in: Conv2d 3×3 (SAME, ReLU) → DepthwiseConv2d 3×3 stride 2 (ReLU) →
//!   MaxPool2d → Conv2d 1×1 → Add (residual) → Mean → FullyConnected → Softmax. Weights are
//!   quantized per output channel; every activation's scale and zero point is calibrated on a
//!   float32 "shadow" run of the same (dequantized) network with the reference f32 kernels, as
//!   post-training quantization would.
//! * `binary_cnn` — float32 in: Quantize → int8 Conv2d → BPack → BConv2d 3×3 (one-padding,
//!   bit-packed output via thresholds) → MaxPool2d on bits (AND) → BConv2d 3×3 (float output,
//!   LCE output transform) → Mean → FullyConnected f32 → Softmax f32.
//! * `f32_style` — float32 in, a miniature of fast neural style's blocks: Pad (reflect) →
//!   Conv2d → InstanceNorm → Clamp (ReLU) → Conv2d stride 2 → ResizeNearest ×2 → Add (residual)
//!   → Concatenation → Conv2d 1×1 → Clamp.
//!
//! Random numbers come from a fixed-seed SplitMix64 generator and are turned into floats with
//! exact operations only (no transcendental functions), so the blobs and `.npy` files are the
//! same bytes on every platform. The expected outputs are the host engine's outputs (reference
//! kernels) for the sample inputs.

use std::path::{Path, PathBuf};

use doppler_kernels::reference::binary::{self as kbin, words};
use doppler_kernels::reference::f32 as kf32;
use doppler_kernels::reference::int8 as ki8;
use doppler_kernels::reference::quant::{quantize_multiplier, Rounding};
use doppler_kernels::reference::Window2d;
use doppler_model_format::ops::*;
use doppler_model_format::writer::{AlignedBlob, Builder, Quant, TensorId};
use doppler_model_format::{DType, OpCode};

use crate::npy::{self, Array};
use crate::runner;
use crate::{Error, Result};

/// The example names, in the order they are built and listed.
pub const MODELS: [&str; 3] = ["int8_cnn", "binary_cnn", "f32_style"];

/// One example: the blob, a sample input and the host reference output for it.
pub struct Example {
    pub name: &'static str,
    pub summary: &'static str,
    pub blob: AlignedBlob,
    pub input: Array,
    pub expected: Array,
}

impl Example {
    /// `<name>.dpl`, `<name>.input.npy`, `<name>.expected.npy`.
    pub fn file_names(&self) -> [String; 3] {
        file_names(self.name)
    }
}

/// The three files of example `name`.
pub fn file_names(name: &str) -> [String; 3] {
    [format!("{name}.dpl"), format!("{name}.input.npy"), format!("{name}.expected.npy")]
}

/// Builds one example by name.
pub fn build(name: &str) -> Result<Example> {
    let (summary, blob, input) = match name {
        "int8_cnn" => int8_cnn()?,
        "binary_cnn" => binary_cnn()?,
        "f32_style" => f32_style()?,
        _ => return Err(Error(format!("unknown example '{name}' (known: {})", MODELS.join(", ")))),
    };
    let input_name = format!("{name}.input.npy");
    let mut outcome = runner::run(blob.as_bytes(), name, &[(input_name, input.clone())])?;
    let expected = outcome.outputs.remove(0);
    Ok(Example {
        name: MODELS.iter().find(|m| **m == name).copied().unwrap_or("?"),
        summary,
        blob,
        input,
        expected,
    })
}

/// Builds all examples.
pub fn build_all() -> Result<Vec<Example>> {
    MODELS.iter().map(|m| build(m)).collect()
}

/// (Re)writes every example's three files into `dir` (created if needed); returns the paths.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    for ex in build_all()? {
        let [blob_name, input_name, expected_name] = ex.file_names();
        let blob_path = dir.join(blob_name);
        std::fs::write(&blob_path, ex.blob.as_bytes())
            .map_err(|e| Error(format!("cannot write {}: {e}", blob_path.display())))?;
        let input_path = dir.join(input_name);
        npy::write(&input_path, &ex.input)?;
        let expected_path = dir.join(expected_name);
        npy::write(&expected_path, &ex.expected)?;
        written.extend([blob_path, input_path, expected_path]);
    }
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// Deterministic random numbers.
// ---------------------------------------------------------------------------------------------

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 random bits (exact in f32).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: i32, hi: i32) -> i32 {
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        (i64::from(lo) + (self.next_u64() % span) as i64) as i32
    }

    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// A synthetic NHWC "image" in `[-1, 1)`: a diagonal gradient per channel plus noise.
fn image(rng: &mut Rng, h: usize, w: usize, c: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(h * w * c);
    let span = (h + w - 2).max(1) as f32;
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                let t = if ch % 2 == 0 { (y + x) as f32 } else { (y + w - 1 - x) as f32 } / span;
                let g = 2.0 * t - 1.0;
                let s = 0.55 * g + 0.45 * rng.uniform(-1.0, 1.0);
                v.push(s.clamp(-1.0, 0.9921875));
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the builders.
// ---------------------------------------------------------------------------------------------

/// TensorFlow SAME padding along one axis: `(out, pad_before, pad_after)`.
fn same(input: usize, k: usize, stride: usize) -> (usize, u32, u32) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + k).saturating_sub(input);
    (out, (total / 2) as u32, (total - total / 2) as u32)
}

/// Window parameters with no activation (int8 range, ±inf for float).
fn window(k: usize, stride: usize, pads: [u32; 4]) -> WindowParams {
    WindowParams {
        filter_h: k as u32,
        filter_w: k as u32,
        stride_h: stride as u32,
        stride_w: stride as u32,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pads[0],
        pad_bottom: pads[1],
        pad_left: pads[2],
        pad_right: pads[3],
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

/// The kernels' geometry for an NHWC window op.
fn geometry(x: &[usize], y: &[usize], p: &WindowParams) -> Window2d {
    Window2d {
        batch: x[0],
        in_h: x[1],
        in_w: x[2],
        in_c: x[3],
        out_h: y[1],
        out_w: y[2],
        out_c: y[3],
        k_h: p.filter_h as usize,
        k_w: p.filter_w as usize,
        stride_h: p.stride_h as usize,
        stride_w: p.stride_w as usize,
        dil_h: p.dilation_h as usize,
        dil_w: p.dilation_w as usize,
        pad_top: p.pad_top as usize,
        pad_left: p.pad_left as usize,
    }
}

/// Output dims and window params of a k×k window with SAME (or VALID) padding.
fn plan_window(
    x: &[usize],
    out_c: usize,
    k: usize,
    stride: usize,
    same_pad: bool,
) -> (Vec<usize>, WindowParams) {
    let (oh, pt, pb, ow, pl, pr) = if same_pad {
        let (oh, pt, pb) = same(x[1], k, stride);
        let (ow, pl, pr) = same(x[2], k, stride);
        (oh, pt, pb, ow, pl, pr)
    } else {
        ((x[1] - k) / stride + 1, 0, 0, (x[2] - k) / stride + 1, 0, 0)
    };
    (vec![x[0], oh, ow, out_c], window(k, stride, [pt, pb, pl, pr]))
}

/// Post-training calibration: an asymmetric int8 quantization covering `[min(v, 0), max(v, 0)]`.
pub(crate) fn calibrate(values: &[f32]) -> Quant {
    let min = values.iter().fold(0f32, |m, &v| m.min(v));
    let max = values.iter().fold(0f32, |m, &v| m.max(v));
    let scale = ((max - min) / 255.0).max(1e-6);
    let zero_point = (-128.0 - min / scale).round().clamp(-128.0, 127.0) as i32;
    Quant::new(scale, zero_point)
}

fn quantize(v: f32, q: Quant) -> i8 {
    ((v / q.scale).round() as i32 + q.zero_point).clamp(-128, 127) as i8
}

fn dequantize(v: i8, q: Quant) -> f32 {
    q.scale * (i32::from(v) - q.zero_point) as f32
}

/// Symmetric per-channel int8 weights: `(q, scales, dequantized)`; `channel_of(i)` names the
/// output channel of flat element `i`.
pub(crate) fn quantize_weights(
    w: &[f32],
    channels: usize,
    channel_of: impl Fn(usize) -> usize,
) -> (Vec<i8>, Vec<f32>, Vec<f32>) {
    let mut max = vec![0f32; channels];
    for (i, &v) in w.iter().enumerate() {
        let c = channel_of(i);
        max[c] = max[c].max(v.abs());
    }
    let scales: Vec<f32> = max.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
    let q: Vec<i8> = w
        .iter()
        .enumerate()
        .map(|(i, &v)| (v / scales[channel_of(i)]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    let deq = q.iter().enumerate().map(|(i, &v)| f32::from(v) * scales[channel_of(i)]).collect();
    (q, scales, deq)
}

fn builder_err(e: doppler_model_format::writer::BuildError) -> Error {
    Error(format!("building an example model failed: {e}"))
}

// ---------------------------------------------------------------------------------------------
// int8 graphs with a float shadow for calibration.
// ---------------------------------------------------------------------------------------------

/// An int8 activation and its float "shadow" value (the real numbers it approximates).
#[derive(Clone)]
struct QTensor {
    id: TensorId,
    dims: Vec<usize>,
    q: Quant,
    real: Vec<f32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ConvKind {
    Conv,
    Depthwise,
}

struct Int8Graph {
    b: Builder,
    rng: Rng,
}

impl Int8Graph {
    /// An int8 activation calibrated on `real`.
    fn activation(&mut self, dims: &[usize], real: Vec<f32>, q: Option<Quant>) -> QTensor {
        let q = q.unwrap_or_else(|| calibrate(&real));
        let id = self.b.activation(DType::I8, dims, Some(q));
        QTensor { id, dims: dims.to_vec(), q, real }
    }

    /// Per-channel requantization constants `[multipliers, shifts]` of `s_in · s_w[c] / s_out`.
    fn requant(&mut self, s_in: f32, s_w: &[f32], s_out: f32) -> [TensorId; 2] {
        let (m, s): (Vec<i32>, Vec<i32>) = s_w
            .iter()
            .map(|&sw| quantize_multiplier(f64::from(s_in) * f64::from(sw) / f64::from(s_out)))
            .unzip();
        [self.b.constant_i32(&[m.len()], &m), self.b.constant_i32(&[s.len()], &s)]
    }

    /// Weights (quantized per channel) and int32 bias; returns the ids plus the dequantized
    /// weights, bias and scales for the shadow.
    fn conv_constants(
        &mut self,
        wdims: &[usize],
        out_c: usize,
        fan_in: usize,
        s_in: f32,
        channel_of: impl Fn(usize) -> usize,
    ) -> (TensorId, TensorId, Vec<f32>, Vec<f32>, Vec<f32>) {
        let n: usize = wdims.iter().product();
        let a = (6.0 / fan_in as f32).sqrt();
        let w = self.rng.vec(n, -a, a);
        let (wq, s_w, wd) = quantize_weights(&w, out_c, channel_of);
        let s_max = s_w.iter().fold(0f32, |m, &v| m.max(v));
        let wid = self.b.constant_i8(wdims, Quant::new(s_max, 0), &wq);
        let bias_real = self.rng.vec(out_c, -0.1, 0.1);
        let bq: Vec<i32> =
            bias_real.iter().zip(&s_w).map(|(&bv, &sw)| (bv / (s_in * sw)).round() as i32).collect();
        let bd: Vec<f32> = bq.iter().zip(&s_w).map(|(&bv, &sw)| bv as f32 * (s_in * sw)).collect();
        let bid = self.b.constant_i32(&[out_c], &bq);
        (wid, bid, wd, bd, s_w)
    }

    fn conv(
        &mut self,
        x: &QTensor,
        kind: ConvKind,
        out_c: usize,
        k: usize,
        stride: usize,
        relu: bool,
    ) -> QTensor {
        let in_c = x.dims[3];
        let (ydims, mut p) = plan_window(&x.dims, out_c, k, stride, true);
        let (wdims, fan_in) = match kind {
            ConvKind::Conv => (vec![out_c, k, k, in_c], k * k * in_c),
            ConvKind::Depthwise => (vec![1, k, k, out_c], k * k),
        };
        let per_out = k * k * in_c;
        let channel_of = move |i: usize| match kind {
            ConvKind::Conv => i / per_out,
            ConvKind::Depthwise => i % out_c,
        };
        let (wid, bid, wd, bd, s_w) = self.conv_constants(&wdims, out_c, fan_in, x.q.scale, channel_of);

        let g = geometry(&x.dims, &ydims, &p);
        let mut real = vec![0f32; ydims.iter().product()];
        let act_min = if relu { 0.0 } else { f32::NEG_INFINITY };
        match kind {
            ConvKind::Conv => kf32::conv2d_f32(&g, act_min, f32::INFINITY, &x.real, &wd, &bd, &mut real),
            ConvKind::Depthwise => {
                p.depth_multiplier = (out_c / in_c) as u32;
                let m = p.depth_multiplier as usize;
                kf32::depthwise_conv2d_f32(&g, m, act_min, f32::INFINITY, &x.real, &wd, &bd, &mut real)
            }
        }
        let y = self.activation(&ydims, real, None);
        if relu {
            p.act_min = y.q.zero_point.max(-128);
        }
        let [m, s] = self.requant(x.q.scale, &s_w, y.q.scale);
        let opcode = if kind == ConvKind::Conv { OpCode::Conv2d } else { OpCode::DepthwiseConv2d };
        self.b.op(opcode, &[x.id, wid, bid, m, s], &[y.id], &p);
        y
    }

    fn max_pool(&mut self, x: &QTensor, k: usize, stride: usize) -> QTensor {
        let (ydims, p) = plan_window(&x.dims, x.dims[3], k, stride, false);
        let g = geometry(&x.dims, &ydims, &p);
        let mut real = vec![0f32; ydims.iter().product()];
        kf32::max_pool_f32(&g, f32::NEG_INFINITY, f32::INFINITY, &x.real, &mut real);
        let y = self.activation(&ydims, real, Some(x.q));
        self.b.op(OpCode::MaxPool2d, &[x.id], &[y.id], &p);
        y
    }

    fn add(&mut self, a: &QTensor, c: &QTensor) -> QTensor {
        let mut real = vec![0f32; a.real.len()];
        kf32::add_f32(f32::NEG_INFINITY, f32::INFINITY, &a.real, &c.real, &mut real);
        let y = self.activation(&a.dims, real, None);
        let f = |s: f32| f64::from(s);
        let ap = ki8::add_params(
            f(a.q.scale),
            a.q.zero_point,
            f(c.q.scale),
            c.q.zero_point,
            f(y.q.scale),
            y.q.zero_point,
            -128,
            127,
            Rounding::Double,
        );
        let p = ElementwiseParams {
            rounding: ROUNDING_DOUBLE,
            left_shift: ap.left_shift,
            input1_multiplier: ap.input1_multiplier,
            input1_shift: ap.input1_shift,
            input2_multiplier: ap.input2_multiplier,
            input2_shift: ap.input2_shift,
            output_multiplier: ap.output_multiplier,
            output_shift: ap.output_shift,
            act_min: -128,
            act_max: 127,
            act_min_f: f32::NEG_INFINITY,
            act_max_f: f32::INFINITY,
        };
        self.b.op(OpCode::Add, &[a.id, c.id], &[y.id], &p);
        y
    }

    fn mean(&mut self, x: &QTensor) -> QTensor {
        let [n, h, w, c] = [x.dims[0], x.dims[1], x.dims[2], x.dims[3]];
        let mut real = vec![0f32; n * c];
        kf32::mean_hw_f32(n, h, w, c, &x.real, &mut real);
        let y = self.activation(&[n, c], real, None);
        let mp = ki8::mean_params(
            f64::from(x.q.scale),
            x.q.zero_point,
            f64::from(y.q.scale),
            y.q.zero_point,
            Rounding::Double,
        );
        let p = MeanParams {
            rounding: ROUNDING_DOUBLE,
            multiplier: mp.multiplier,
            shift: mp.shift,
            mode: MEAN_DIVIDE,
        };
        self.b.op(OpCode::Mean, &[x.id], &[y.id], &p);
        y
    }

    fn fully_connected(&mut self, x: &QTensor, out: usize) -> QTensor {
        let in_len = *x.dims.last().unwrap_or(&1);
        let batch = x.real.len() / in_len;
        let (wid, bid, wd, bd, s_w) =
            self.conv_constants(&[out, in_len], out, in_len, x.q.scale, |i| i / in_len);
        let mut real = vec![0f32; batch * out];
        kf32::fully_connected_f32(
            batch,
            in_len,
            out,
            f32::NEG_INFINITY,
            f32::INFINITY,
            &x.real,
            &wd,
            &bd,
            &mut real,
        );
        let y = self.activation(&[batch, out], real, None);
        let [m, s] = self.requant(x.q.scale, &s_w, y.q.scale);
        let p = FullyConnectedParams {
            rounding: ROUNDING_DOUBLE,
            act_min: -128,
            act_max: 127,
            act_min_f: f32::NEG_INFINITY,
            act_max_f: f32::INFINITY,
            reserved: [0; 3],
        };
        self.b.op(OpCode::FullyConnected, &[x.id, wid, bid, m, s], &[y.id], &p);
        y
    }

    fn softmax(&mut self, x: &QTensor) -> QTensor {
        let depth = *x.dims.last().unwrap_or(&1);
        let mut real = vec![0f32; x.real.len()];
        kf32::softmax_f32(x.real.len() / depth, depth, 1.0, &x.real, &mut real);
        let y = self.activation(&x.dims, real, Some(Quant::new(1.0 / 256.0, -128)));
        let sp = ki8::softmax_params(1.0, f64::from(x.q.scale));
        let p = SoftmaxParams {
            input_multiplier: sp.input_multiplier,
            input_left_shift: sp.input_left_shift,
            diff_min: sp.diff_min,
            beta: 1.0,
        };
        self.b.op(OpCode::Softmax, &[x.id], &[y.id], &p);
        y
    }
}

/// `int8_cnn`: see the module docs.
fn int8_cnn() -> Result<(&'static str, AlignedBlob, Array)> {
    let mut g = Int8Graph { b: Builder::new(), rng: Rng::new(0x1_2024_0001) };
    let dims = [1, 16, 16, 3];
    let q_in = Quant::new(1.0 / 128.0, 0);
    let pixels = image(&mut g.rng, 16, 16, 3);
    let xq: Vec<i8> = pixels.iter().map(|&v| quantize(v, q_in)).collect();
    let id = g.b.input(DType::I8, &dims, Some(q_in));
    let x =
        QTensor { id, dims: dims.to_vec(), q: q_in, real: xq.iter().map(|&v| dequantize(v, q_in)).collect() };

    let c1 = g.conv(&x, ConvKind::Conv, 16, 3, 1, true); // [1, 16, 16, 16]
    let d1 = g.conv(&c1, ConvKind::Depthwise, 16, 3, 2, true); // [1, 8, 8, 16]
    let p1 = g.max_pool(&d1, 2, 2); // [1, 4, 4, 16]
    let c2 = g.conv(&p1, ConvKind::Conv, 16, 1, 1, false); // [1, 4, 4, 16]
    let r = g.add(&p1, &c2); // residual
    let m = g.mean(&r); // [1, 16]
    let f = g.fully_connected(&m, 10); // [1, 10]
    let s = g.softmax(&f);
    g.b.output(s.id);
    let blob = g.b.finish().map_err(builder_err)?;
    let summary = "int8: Conv2d 3x3 ReLU, DepthwiseConv2d 3x3/2 ReLU, MaxPool2d, Conv2d 1x1, Add, Mean, \
                   FullyConnected, Softmax";
    Ok((summary, blob, Array::i8(&dims, xq)))
}

// ---------------------------------------------------------------------------------------------
// binary_cnn
// ---------------------------------------------------------------------------------------------

/// Random binary conv filter `[out_c][k][k][in_c]`, packed along `in_c`.
fn binary_filter(rng: &mut Rng, out_c: usize, k: usize, in_c: usize) -> Vec<u32> {
    let wpp = words(in_c);
    let mut v = Vec::with_capacity(out_c * k * k * wpp);
    for _ in 0..out_c * k * k {
        for w in 0..wpp {
            let mask = kbin::word_mask(in_c, w);
            v.push((rng.next_u64() as u32) & mask);
        }
    }
    v
}

/// `binary_cnn`: see the module docs.
fn binary_cnn() -> Result<(&'static str, AlignedBlob, Array)> {
    let mut g = Int8Graph { b: Builder::new(), rng: Rng::new(0x1_2024_0002) };
    let dims = [1, 16, 16, 3];
    let pixels = image(&mut g.rng, 16, 16, 3);
    let input = g.b.input(DType::F32, &dims, None);

    // Quantize: float32 → int8.
    let q_in = Quant::new(1.0 / 128.0, 0);
    let xq_real: Vec<f32> = pixels.iter().map(|&v| dequantize(quantize(v, q_in), q_in)).collect();
    let xq = g.activation(&dims, xq_real, Some(q_in));
    g.b.op(OpCode::Quantize, &[input], &[xq.id], &NoParams {});

    // int8 stem, then sign-pack.
    let c1 = g.conv(&xq, ConvKind::Conv, 32, 3, 1, false); // [1, 16, 16, 32]
    let packed = g.b.activation(DType::B1, &c1.dims, None);
    g.b.op(OpCode::BPack, &[c1.id], &[packed], &NoParams {});

    // Binary conv, bit-packed output through per-channel thresholds.
    let (d2, mut p2) = plan_window(&c1.dims, 32, 3, 1, true);
    p2.pad_value = PAD_VALUE_ONE;
    p2.act_min = i32::MIN;
    p2.act_max = i32::MAX;
    let f2 = binary_filter(&mut g.rng, 32, 3, 32);
    let f2 = g.b.constant_b1(&[32, 3, 3, 32], &f2);
    let thresholds: Vec<i32> = (0..32).map(|_| g.rng.int(-6, 6)).collect();
    let t2 = g.b.constant_i32(&[32], &thresholds);
    let b2 = g.b.activation(DType::B1, &d2, None);
    g.b.op(OpCode::BConv2d, &[packed, f2, t2], &[b2], &p2);

    // Max pool on bits (AND).
    let (d3, p3) = plan_window(&d2, 32, 2, 2, false);
    let b3 = g.b.activation(DType::B1, &d3, None);
    g.b.op(OpCode::MaxPool2d, &[b2], &[b3], &p3);

    // Binary conv with float output: LCE output transform of y = γ·acc + β.
    let out_c = 32;
    let (d4, mut p4) = plan_window(&d3, out_c, 3, 1, true);
    p4.pad_value = PAD_VALUE_ONE;
    p4.act_min = i32::MIN;
    p4.act_max = i32::MAX;
    let f4 = binary_filter(&mut g.rng, out_c, 3, 32);
    let f4 = g.b.constant_b1(&[out_c, 3, 3, 32], &f4);
    let gamma = g.rng.vec(out_c, 0.02, 0.08);
    let beta = g.rng.vec(out_c, -0.5, 0.5);
    let (mut mult, mut bias) = (vec![0f32; out_c], vec![0f32; out_c]);
    kbin::lce_output_transform(3 * 3 * 32, &gamma, &beta, 1.0, 0, &mut mult, &mut bias);
    let m4 = g.b.constant_f32(&[out_c], &mult);
    let bias4 = g.b.constant_f32(&[out_c], &bias);
    let y4 = g.b.activation(DType::F32, &d4, None);
    g.b.op(OpCode::BConv2d, &[b3, f4, m4, bias4], &[y4], &p4);

    // Float head: Mean → FullyConnected → Softmax.
    let mean = g.b.activation(DType::F32, &[1, out_c], None);
    g.b.op(OpCode::Mean, &[y4], &[mean], &MeanParams::default());
    let classes = 10;
    let a = (6.0 / out_c as f32).sqrt();
    let w = g.rng.vec(classes * out_c, -a, a);
    let w = g.b.constant_f32(&[classes, out_c], &w);
    let bias = g.rng.vec(classes, -0.1, 0.1);
    let bias = g.b.constant_f32(&[classes], &bias);
    let logits = g.b.activation(DType::F32, &[1, classes], None);
    let fc =
        FullyConnectedParams { act_min_f: f32::NEG_INFINITY, act_max_f: f32::INFINITY, ..Default::default() };
    g.b.op(OpCode::FullyConnected, &[mean, w, bias], &[logits], &fc);
    let probs = g.b.activation(DType::F32, &[1, classes], None);
    g.b.op(OpCode::Softmax, &[logits], &[probs], &SoftmaxParams { beta: 1.0, ..Default::default() });
    g.b.output(probs);

    let blob = g.b.finish().map_err(builder_err)?;
    let summary =
        "f32 in: Quantize, int8 Conv2d, BPack, BConv2d->bits, MaxPool2d (AND), BConv2d->f32, Mean, \
                   FullyConnected, Softmax";
    Ok((summary, blob, Array::f32(&dims, pixels)))
}

// ---------------------------------------------------------------------------------------------
// f32_style
// ---------------------------------------------------------------------------------------------

struct F32Graph {
    b: Builder,
    rng: Rng,
}

impl F32Graph {
    fn act(&mut self, dims: &[usize]) -> TensorId {
        self.b.activation(DType::F32, dims, None)
    }

    /// Conv2d k×k with float weights (He-uniform times `gain`) and bias; `same_pad` picks SAME
    /// or VALID.
    fn conv(
        &mut self,
        x: TensorId,
        out_c: usize,
        k: usize,
        stride: usize,
        same_pad: bool,
        gain: f32,
    ) -> TensorId {
        let xdims = self.b.tensor_dims(x).to_vec();
        let in_c = xdims[3];
        let (ydims, p) = plan_window(&xdims, out_c, k, stride, same_pad);
        let a = gain * (6.0 / (k * k * in_c) as f32).sqrt();
        let w = self.rng.vec(out_c * k * k * in_c, -a, a);
        let w = self.b.constant_f32(&[out_c, k, k, in_c], &w);
        let bias = self.rng.vec(out_c, -0.1, 0.1);
        let bias = self.b.constant_f32(&[out_c], &bias);
        let y = self.act(&ydims);
        self.b.op(OpCode::Conv2d, &[x, w, bias], &[y], &p);
        y
    }

    fn clamp(&mut self, x: TensorId, min: f32, max: f32) -> TensorId {
        let dims = self.b.tensor_dims(x).to_vec();
        let y = self.act(&dims);
        let p = ElementwiseParams { act_min_f: min, act_max_f: max, ..Default::default() };
        self.b.op(OpCode::Clamp, &[x], &[y], &p);
        y
    }
}

/// `f32_style`: see the module docs.
fn f32_style() -> Result<(&'static str, AlignedBlob, Array)> {
    let mut g = F32Graph { b: Builder::new(), rng: Rng::new(0x1_2024_0003) };
    let dims = [1, 16, 16, 3];
    let pixels = image(&mut g.rng, 16, 16, 3);
    let x = g.b.input(DType::F32, &dims, None);

    // Reflection pad by 1, then a VALID 3×3 conv: the style network's "ConvLayer".
    let padded = g.act(&[1, 18, 18, 3]);
    let pad = PadParams { pads: [[0, 0], [1, 1], [1, 1], [0, 0]], mode: PAD_REFLECT, ..Default::default() };
    g.b.op(OpCode::Pad, &[x], &[padded], &pad);
    let c1 = g.conv(padded, 8, 3, 1, false, 1.0); // [1, 16, 16, 8]

    let gamma = g.rng.vec(8, 0.5, 1.5);
    let gamma = g.b.constant_f32(&[8], &gamma);
    let beta = g.rng.vec(8, -0.2, 0.2);
    let beta = g.b.constant_f32(&[8], &beta);
    let n1 = g.act(&[1, 16, 16, 8]);
    g.b.op(
        OpCode::InstanceNorm,
        &[c1, gamma, beta],
        &[n1],
        &InstanceNormParams { epsilon: 1e-5, reserved: [0; 3] },
    );
    let r1 = g.clamp(n1, 0.0, f32::INFINITY); // ReLU

    // Down and up again: stride-2 conv, nearest-neighbour upsampling ×2.
    let c2 = g.conv(r1, 8, 3, 2, true, 1.0); // [1, 8, 8, 8]
    let up = g.act(&[1, 16, 16, 8]);
    g.b.op(OpCode::ResizeNearest, &[c2], &[up], &ResizeParams::default());

    // Residual, then concatenate with the first conv's features.
    let sum = g.act(&[1, 16, 16, 8]);
    let add =
        ElementwiseParams { act_min_f: f32::NEG_INFINITY, act_max_f: f32::INFINITY, ..Default::default() };
    g.b.op(OpCode::Add, &[r1, up], &[sum], &add);
    let cat = g.act(&[1, 16, 16, 16]);
    g.b.op(OpCode::Concatenation, &[sum, c1], &[cat], &NoParams {});

    let c3 = g.conv(cat, 3, 1, 1, false, 0.25); // [1, 16, 16, 3]
    let out = g.clamp(c3, -1.0, 1.0);
    g.b.output(out);

    let blob = g.b.finish().map_err(builder_err)?;
    let summary = "f32: Pad (reflect), Conv2d, InstanceNorm, Clamp, Conv2d/2, ResizeNearest x2, Add, \
                   Concatenation, Conv2d 1x1, Clamp";
    Ok((summary, blob, Array::f32(&dims, pixels)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_splitmix64() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = Rng::new(7);
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            let i = r.int(-6, 6);
            assert!((-6..=6).contains(&i));
        }
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        assert_eq!(same(16, 3, 1), (16, 1, 1));
        assert_eq!(same(16, 3, 2), (8, 0, 1));
        assert_eq!(same(15, 3, 2), (8, 1, 1));
        assert_eq!(same(8, 1, 1), (8, 0, 0));
    }

    #[test]
    fn calibration_covers_zero() {
        let q = calibrate(&[0.0, 2.55]);
        assert_eq!(q.zero_point, -128);
        assert_eq!(quantize(2.55, q), 127);
        let q = calibrate(&[-1.0, 1.0]);
        for v in [-1.0f32, 0.0, 1.0] {
            assert!((dequantize(quantize(v, q), q) - v).abs() <= q.scale, "{v} with {q:?}");
        }
        assert_eq!(dequantize(quantize(0.0, q), q), 0.0);
    }

    #[test]
    fn examples_build_and_are_small() {
        for ex in build_all().unwrap() {
            assert!(ex.blob.len() < 50 * 1024, "{}", ex.name);
            assert_eq!(ex.expected.len() > 0, true);
        }
    }
}
