//! Small valid models shared by the model-format integration tests, built with the public
//! `writer::Builder` API through a thin recorder (`Net`) that remembers what was written, so
//! tests can name tensors and ops and compare what the parser reads back.
#![allow(dead_code)]

use bytemuck::Pod;
use doppler_model_format::layout::{Header, OpRecord, Section, HEADER_BYTES};
use doppler_model_format::ops::*;
use doppler_model_format::writer::{fix_crc, AlignedBlob, Builder, Quant, TensorId};
use doppler_model_format::{DType, Error, Model, OpCode};

/// A tensor as it was declared.
#[derive(Clone, Debug)]
pub struct TensorSpec {
    pub name: &'static str,
    pub dtype: DType,
    pub dims: Vec<usize>,
    pub quant: Option<Quant>,
    /// `Some` for constants.
    pub data: Option<Vec<u8>>,
}

/// An op as it was declared.
#[derive(Clone, Debug)]
pub struct OpSpec {
    pub name: &'static str,
    pub opcode: OpCode,
    pub inputs: Vec<u32>,
    pub outputs: Vec<u32>,
    pub scratch: Option<u32>,
    pub params: Vec<u8>,
}

/// A `Builder` plus a record of every call made on it.
#[derive(Clone, Debug, Default)]
pub struct Net {
    pub b: Builder,
    pub tensors: Vec<TensorSpec>,
    pub ops: Vec<OpSpec>,
    pub inputs: Vec<u32>,
    pub outputs: Vec<u32>,
}

impl Net {
    pub fn new() -> Net {
        Net::default()
    }

    fn record(&mut self, id: TensorId, spec: TensorSpec) -> TensorId {
        assert_eq!(id.0 as usize, self.tensors.len(), "builder ids are sequential");
        self.tensors.push(spec);
        id
    }

    pub fn input(
        &mut self,
        name: &'static str,
        dtype: DType,
        dims: &[usize],
        quant: Option<Quant>,
    ) -> TensorId {
        let id = self.b.input(dtype, dims, quant);
        self.inputs.push(id.0);
        self.record(id, TensorSpec { name, dtype, dims: dims.to_vec(), quant, data: None })
    }

    pub fn act(
        &mut self,
        name: &'static str,
        dtype: DType,
        dims: &[usize],
        quant: Option<Quant>,
    ) -> TensorId {
        let id = self.b.activation(dtype, dims, quant);
        self.record(id, TensorSpec { name, dtype, dims: dims.to_vec(), quant, data: None })
    }

    pub fn const_i8(&mut self, name: &'static str, dims: &[usize], quant: Quant, data: &[i8]) -> TensorId {
        let id = self.b.constant_i8(dims, quant, data);
        let data = bytemuck::cast_slice(data).to_vec();
        self.record(
            id,
            TensorSpec { name, dtype: DType::I8, dims: dims.to_vec(), quant: Some(quant), data: Some(data) },
        )
    }

    pub fn const_i32(&mut self, name: &'static str, dims: &[usize], data: &[i32]) -> TensorId {
        let id = self.b.constant_i32(dims, data);
        let data = bytemuck::cast_slice(data).to_vec();
        self.record(
            id,
            TensorSpec { name, dtype: DType::I32, dims: dims.to_vec(), quant: None, data: Some(data) },
        )
    }

    pub fn const_f32(&mut self, name: &'static str, dims: &[usize], data: &[f32]) -> TensorId {
        let id = self.b.constant_f32(dims, data);
        let data = bytemuck::cast_slice(data).to_vec();
        self.record(
            id,
            TensorSpec { name, dtype: DType::F32, dims: dims.to_vec(), quant: None, data: Some(data) },
        )
    }

    pub fn const_b1(&mut self, name: &'static str, dims: &[usize], words: &[u32]) -> TensorId {
        let id = self.b.constant_b1(dims, words);
        let data = bytemuck::cast_slice(words).to_vec();
        self.record(
            id,
            TensorSpec { name, dtype: DType::B1, dims: dims.to_vec(), quant: None, data: Some(data) },
        )
    }

    pub fn op<P: Pod>(
        &mut self,
        name: &'static str,
        opcode: OpCode,
        inputs: &[TensorId],
        outputs: &[TensorId],
        params: &P,
    ) -> usize {
        let i = self.b.op(opcode, inputs, outputs, params);
        assert_eq!(i, self.ops.len());
        self.ops.push(OpSpec {
            name,
            opcode,
            inputs: inputs.iter().map(|t| t.0).collect(),
            outputs: outputs.iter().map(|t| t.0).collect(),
            scratch: None,
            params: bytemuck::bytes_of(params).to_vec(),
        });
        i
    }

    pub fn scratch(&mut self, name: &'static str, op: usize, bytes: usize) -> TensorId {
        let id = self.b.scratch(op, bytes);
        self.ops[op].scratch = Some(id.0);
        self.record(
            id,
            TensorSpec {
                name,
                dtype: DType::I8,
                dims: vec![bytes],
                quant: Some(Quant::new(1.0, 0)),
                data: None,
            },
        )
    }

    pub fn output(&mut self, t: TensorId) {
        self.b.output(t);
        self.outputs.push(t.0);
    }

    /// Index of the tensor called `name`.
    pub fn t(&self, name: &str) -> u32 {
        self.tensors.iter().position(|t| t.name == name).unwrap_or_else(|| panic!("no tensor {name}")) as u32
    }

    /// Index of the op called `name`.
    pub fn o(&self, name: &str) -> usize {
        self.ops.iter().position(|o| o.name == name).unwrap_or_else(|| panic!("no op {name}"))
    }

    /// The validated blob.
    pub fn blob(&self) -> AlignedBlob {
        self.b.finish().expect("test model is valid")
    }

    /// The blob as written, without the builder's own validation.
    pub fn unchecked(&self) -> AlignedBlob {
        AlignedBlob::from_bytes(&self.b.write_unchecked().expect("writable").0)
    }
}

/// Deterministic pseudo-random values (xorshift32).
pub struct Rng(pub u32);

impl Rng {
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    /// Symmetric int8 weights in [−127, 127].
    pub fn weights(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| (self.next() % 255) as i32 - 127).map(|v| v as i8).collect()
    }
    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
    pub fn i32s(&mut self, n: usize, range: i32) -> Vec<i32> {
        (0..n).map(|_| (self.next() % (2 * range as u32 + 1)) as i32 - range).collect()
    }
    pub fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0).collect()
    }
    pub fn words(&mut self, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// A window with a square `k`×`k` kernel, equal stride and padding on all sides, no dilation,
/// full int8 activation range and no float clamp.
pub fn window(k: u32, stride: u32, pad: u32) -> WindowParams {
    WindowParams {
        filter_h: k,
        filter_w: k,
        stride_h: stride,
        stride_w: stride,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad,
        pad_bottom: pad,
        pad_left: pad,
        pad_right: pad,
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

pub const HALF: i32 = 1 << 30;

/// int8: Conv2d (with scratch) → DepthwiseConv2d → MaxPool2d → Pad → AvgPool2d → Reshape →
/// FullyConnected → Softmax.
pub fn int8_conv_model() -> Net {
    let mut rng = Rng(11);
    let mut n = Net::new();
    let (xq, aq, wq) = (Quant::new(0.05, -3), Quant::new(0.1, -128), Quant::new(0.02, 0));
    let x = n.input("x", DType::I8, &[1, 6, 6, 3], Some(xq));
    let w1 = n.const_i8("w1", &[4, 3, 3, 3], wq, &rng.weights(4 * 27));
    let b1 = n.const_i32("b1", &[4], &rng.i32s(4, 500));
    let m1 = n.const_i32("m1", &[4], &[HALF, HALF + 1, HALF + 2, HALF + 3]);
    let s1 = n.const_i32("s1", &[4], &[-5, -4, -3, -2]);
    let c1 = n.act("c1", DType::I8, &[1, 6, 6, 4], Some(aq));
    let conv = n.op("conv", OpCode::Conv2d, &[x, w1, b1, m1, s1], &[c1], &window(3, 1, 1));
    n.scratch("scratch", conv, 64);

    let w2 = n.const_i8("w2", &[1, 3, 3, 8], wq, &rng.weights(72));
    let b2 = n.const_i32("b2", &[8], &rng.i32s(8, 500));
    let m2 = n.const_i32("m2", &[8], &[HALF; 8]);
    let s2 = n.const_i32("s2", &[8], &[-6; 8]);
    let d1 = n.act("d1", DType::I8, &[1, 6, 6, 8], Some(aq));
    let mut p = window(3, 1, 1);
    p.depth_multiplier = 2;
    p.rounding = ROUNDING_SINGLE;
    p.act_min = -128;
    p.act_max = 100;
    n.op("dw", OpCode::DepthwiseConv2d, &[c1, w2, b2, m2, s2], &[d1], &p);

    let p1 = n.act("p1", DType::I8, &[1, 3, 3, 8], Some(aq));
    n.op("maxpool", OpCode::MaxPool2d, &[d1], &[p1], &window(2, 2, 0));

    let pd = n.act("pd", DType::I8, &[1, 5, 5, 8], Some(aq));
    let pad = PadParams {
        pads: [[0, 0], [1, 1], [1, 1], [0, 0]],
        mode: PAD_CONSTANT,
        value_i8: -128,
        ..Default::default()
    };
    n.op("pad", OpCode::Pad, &[p1], &[pd], &pad);

    let ap = n.act("ap", DType::I8, &[1, 3, 3, 8], Some(aq));
    n.op("avgpool", OpCode::AvgPool2d, &[pd], &[ap], &window(3, 1, 0));

    let r = n.act("r", DType::I8, &[1, 72], Some(aq));
    n.op("reshape", OpCode::Reshape, &[ap], &[r], &NoParams {});

    let w3 = n.const_i8("w3", &[10, 72], wq, &rng.weights(720));
    let b3 = n.const_i32("b3", &[10], &rng.i32s(10, 500));
    let m3 = n.const_i32("m3", &[10], &[HALF; 10]);
    let s3 = n.const_i32("s3", &[10], &[-7; 10]);
    let fc = n.act("fc", DType::I8, &[1, 10], Some(Quant::new(0.2, 5)));
    let fcp = FullyConnectedParams { act_min: -128, act_max: 127, ..Default::default() };
    n.op("fc", OpCode::FullyConnected, &[r, w3, b3, m3, s3], &[fc], &fcp);

    let y = n.act("y", DType::I8, &[1, 10], Some(Quant::new(1.0 / 256.0, -128)));
    let sp = SoftmaxParams { input_multiplier: HALF, input_left_shift: 20, diff_min: -100, beta: 0.0 };
    n.op("softmax", OpCode::Softmax, &[fc], &[y], &sp);
    n.output(y);
    n
}

/// float32: Conv2d → Clamp (ReLU6) → Pad (reflect) → ResizeNearest → InstanceNorm → Mean →
/// FullyConnected → Quantize → Dequantize.
pub fn float_model() -> Net {
    let mut rng = Rng(23);
    let mut n = Net::new();
    let x = n.input("x", DType::F32, &[1, 4, 4, 2], None);
    let w = n.const_f32("w", &[3, 3, 3, 2], &rng.f32s(54));
    let bias = n.const_f32("bias", &[3], &rng.f32s(3));
    let c = n.act("c", DType::F32, &[1, 4, 4, 3], None);
    n.op("conv", OpCode::Conv2d, &[x, w, bias], &[c], &window(3, 1, 1));

    let r = n.act("r", DType::F32, &[1, 4, 4, 3], None);
    let relu6 = ElementwiseParams { act_min_f: 0.0, act_max_f: 6.0, ..Default::default() };
    n.op("relu6", OpCode::Clamp, &[c], &[r], &relu6);

    let pd = n.act("pd", DType::F32, &[1, 6, 6, 3], None);
    let pad = PadParams { pads: [[0, 0], [1, 1], [1, 1], [0, 0]], mode: PAD_REFLECT, ..Default::default() };
    n.op("pad", OpCode::Pad, &[r], &[pd], &pad);

    let z = n.act("z", DType::F32, &[1, 12, 12, 3], None);
    n.op(
        "resize",
        OpCode::ResizeNearest,
        &[pd],
        &[z],
        &ResizeParams { half_pixel_centers: 1, ..Default::default() },
    );

    let gamma = n.const_f32("gamma", &[3], &[1.0, 0.5, 2.0]);
    let beta = n.const_f32("beta", &[3], &[0.0, 0.1, -0.1]);
    let nz = n.act("n", DType::F32, &[1, 12, 12, 3], None);
    n.op(
        "inorm",
        OpCode::InstanceNorm,
        &[z, gamma, beta],
        &[nz],
        &InstanceNormParams { epsilon: 1e-5, ..Default::default() },
    );

    let mn = n.act("mn", DType::F32, &[1, 3], None);
    n.op("mean", OpCode::Mean, &[nz], &[mn], &MeanParams::default());

    let fw = n.const_f32("fw", &[4, 3], &rng.f32s(12));
    let fb = n.const_f32("fb", &[4], &rng.f32s(4));
    let fy = n.act("fy", DType::F32, &[1, 4], None);
    let fcp =
        FullyConnectedParams { act_min_f: f32::NEG_INFINITY, act_max_f: f32::INFINITY, ..Default::default() };
    n.op("fc", OpCode::FullyConnected, &[mn, fw, fb], &[fy], &fcp);

    let q = n.act("q", DType::I8, &[1, 4], Some(Quant::new(0.05, 1)));
    n.op("quantize", OpCode::Quantize, &[fy], &[q], &NoParams {});
    let out = n.act("out", DType::F32, &[1, 4], None);
    n.op("dequantize", OpCode::Dequantize, &[q], &[out], &NoParams {});
    n.output(out);
    n
}

/// binary: BPack → BConv2d (bitpacked out) → MaxPool2d on B1 → BUnpack (output 0), and a second
/// BConv2d with float epilogue from the pooled bits (output 1).
pub fn binary_model() -> Net {
    let mut rng = Rng(37);
    let mut n = Net::new();
    let x = n.input("x", DType::F32, &[1, 6, 6, 40], None);
    let xb = n.act("xb", DType::B1, &[1, 6, 6, 40], None);
    n.op("pack", OpCode::BPack, &[x], &[xb], &NoParams {});

    // 40 channels pack into 2 words per pixel; padding bits are zero.
    let w1: Vec<u32> = rng.words(8 * 9 * 2).chunks(2).flat_map(|c| [c[0], c[1] & 0xff]).collect();
    let w1 = n.const_b1("w1", &[8, 3, 3, 40], &w1);
    let th = n.const_i32("th", &[8], &rng.i32s(8, 40));
    let yb = n.act("yb", DType::B1, &[1, 6, 6, 8], None);
    let mut p = window(3, 1, 1);
    p.pad_value = PAD_VALUE_ONE;
    p.act_min = -360;
    p.act_max = 360;
    n.op("bconv", OpCode::BConv2d, &[xb, w1, th], &[yb], &p);

    let pb = n.act("pb", DType::B1, &[1, 3, 3, 8], None);
    n.op("bpool", OpCode::MaxPool2d, &[yb], &[pb], &window(2, 2, 0));

    let u = n.act("u", DType::F32, &[1, 3, 3, 8], None);
    n.op("unpack", OpCode::BUnpack, &[pb], &[u], &NoParams {});

    let w2: Vec<u32> = rng.words(4).iter().map(|w| w & 0xff).collect();
    let w2 = n.const_b1("w2", &[4, 1, 1, 8], &w2);
    let mul = n.const_f32("mul", &[4], &[0.5, 0.25, 1.0, 2.0]);
    let add = n.const_f32("add", &[4], &[0.0, 1.0, -1.0, 0.5]);
    let f = n.act("f", DType::F32, &[1, 3, 3, 4], None);
    let mut p2 = window(1, 1, 0);
    p2.pad_value = PAD_VALUE_ZERO;
    p2.act_min = i32::MIN;
    p2.act_max = i32::MAX;
    n.op("bconv_f", OpCode::BConv2d, &[pb, w2, mul, add], &[f], &p2);
    n.output(u);
    n.output(f);
    n
}

/// int8, two inputs: Add → Lut → Concatenation(add, lut) → Reshape → Softmax (output 0), and
/// Mean of the concatenation (output 1).
pub fn concat_model() -> Net {
    let mut n = Net::new();
    let (iq, sq) = (Quant::new(0.1, 0), Quant::new(0.2, 0));
    let a = n.input("a", DType::I8, &[1, 4, 4, 2], Some(iq));
    let b = n.input("b", DType::I8, &[1, 4, 4, 2], Some(iq));
    let s = n.act("s", DType::I8, &[1, 4, 4, 2], Some(sq));
    let add = ElementwiseParams {
        rounding: ROUNDING_DOUBLE,
        left_shift: 20,
        input1_multiplier: HALF,
        input1_shift: 0,
        input2_multiplier: HALF,
        input2_shift: 0,
        output_multiplier: HALF,
        output_shift: -19,
        act_min: -128,
        act_max: 127,
        ..Default::default()
    };
    n.op("add", OpCode::Add, &[a, b], &[s], &add);

    let table: Vec<i8> = (0..256i32).map(|i| ((i - 128) / 2) as i8).collect();
    let table = n.const_i8("table", &[256], sq, &table);
    let l = n.act("l", DType::I8, &[1, 4, 4, 2], Some(sq));
    n.op("lut", OpCode::Lut, &[s, table], &[l], &NoParams {});

    let c = n.act("c", DType::I8, &[1, 4, 4, 4], Some(sq));
    n.op("concat", OpCode::Concatenation, &[s, l], &[c], &NoParams {});

    let r = n.act("r", DType::I8, &[1, 64], Some(sq));
    n.op("reshape", OpCode::Reshape, &[c], &[r], &NoParams {});

    let y = n.act("y", DType::I8, &[1, 64], Some(Quant::new(1.0 / 256.0, -128)));
    let sp = SoftmaxParams { input_multiplier: HALF, input_left_shift: 22, diff_min: -64, beta: 0.0 };
    n.op("softmax", OpCode::Softmax, &[r], &[y], &sp);

    let mn = n.act("mn", DType::I8, &[1, 4], Some(sq));
    n.op(
        "mean",
        OpCode::Mean,
        &[c],
        &[mn],
        &MeanParams { rounding: ROUNDING_DOUBLE, multiplier: HALF, shift: 1, mode: MEAN_DIVIDE },
    );
    n.output(y);
    n.output(mn);
    n
}

/// float32 upsampling tail: TransposeConv2d (k3, stride 2, pads 1/0 — ONNX's pads 1 with
/// output_padding 1) → Tanh.
pub fn transpose_model() -> Net {
    let mut rng = Rng(31);
    let mut n = Net::new();
    let x = n.input("x", DType::F32, &[1, 3, 4, 2], None);
    let w = n.const_f32("w", &[3, 3, 3, 2], &rng.f32s(54));
    let bias = n.const_f32("bias", &[3], &rng.f32s(3));
    // (in − 1)·2 + 3 − 1 − 0: H 3 → 6, W 4 → 8.
    let u = n.act("u", DType::F32, &[1, 6, 8, 3], None);
    let mut p = window(3, 2, 1);
    (p.pad_bottom, p.pad_right, p.act_min, p.act_max) = (0, 0, 0, 0);
    n.op("tconv", OpCode::TransposeConv2d, &[x, w, bias], &[u], &p);
    let y = n.act("y", DType::F32, &[1, 6, 8, 3], None);
    n.op("tanh", OpCode::Tanh, &[u], &[y], &NoParams {});
    n.output(y);
    n
}

/// Every test model, by name.
pub fn all_models() -> Vec<(&'static str, Net)> {
    vec![
        ("transpose", transpose_model()),
        ("int8_conv", int8_conv_model()),
        ("float", float_model()),
        ("binary", binary_model()),
        ("concat", concat_model()),
    ]
}

/// `Model::parse`, with the model dropped.
pub fn parse(bytes: &[u8]) -> Result<(), Error> {
    Model::parse(bytes).map(|_| ())
}

/// Parses a copy of `blob` after `f` edited it (the `writer::patch_*` helpers fix the CRC).
pub fn parse_patched(blob: &AlignedBlob, f: impl FnOnce(&mut [u8])) -> Result<(), Error> {
    let mut b = blob.clone();
    f(b.as_bytes_mut());
    parse(b.as_bytes())
}

pub fn header(blob: &[u8]) -> Header {
    bytemuck::pod_read_unaligned(&blob[..HEADER_BYTES])
}

pub fn op_record(blob: &[u8], op: usize) -> OpRecord {
    let at = header(blob).sections[Section::Ops as usize].offset as usize + op * 32;
    bytemuck::pod_read_unaligned(&blob[at..at + 32])
}

/// Edits the parameter record of `op` (read as `P`) and fixes the CRC.
pub fn patch_params<P: Pod>(blob: &mut [u8], op: usize, f: impl FnOnce(&mut P)) {
    let r = op_record(blob, op);
    assert_eq!(r.params_len as usize, core::mem::size_of::<P>(), "params type of op {op}");
    let at = header(blob).sections[Section::Params as usize].offset as usize + r.params_offset as usize;
    let bytes = &mut blob[at..at + r.params_len as usize];
    let mut p: P = bytemuck::pod_read_unaligned(bytes);
    f(&mut p);
    bytes.copy_from_slice(bytemuck::bytes_of(&p));
    fix_crc(blob);
}

/// Overwrites element `k` of constant tensor `tensor` (as `T`) and fixes the CRC.
pub fn patch_constant<T: Pod>(blob: &mut [u8], tensor: u32, k: usize, value: T) {
    let rec = Model::parse(blob).expect("patch_constant needs a valid blob").tensor(tensor).expect("tensor");
    assert!(rec.is_constant());
    let size = core::mem::size_of::<T>();
    let at = header(blob).sections[Section::Data as usize].offset as usize + rec.offset + k * size;
    blob[at..at + size].copy_from_slice(bytemuck::bytes_of(&value));
    fix_crc(blob);
}

/// The index-section position of input `k` (or, with `k >= n_inputs`, output `k − n_inputs`)
/// of `op`, for `writer::patch_u32(blob, Section::Indices, …)`.
pub fn io_slot(blob: &[u8], op: usize, k: usize) -> usize {
    op_record(blob, op).io_start as usize + k
}
