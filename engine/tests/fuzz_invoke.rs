//! Validator-hole hunting: mutate valid blobs (one record field, param word or index at a time,
//! CRC fixed so the mutation reaches the deep rules), and whenever the loader still accepts the
//! blob, run it. Nothing a blob can contain may make `invoke` panic: a panic here means a rule is
//! missing from `Model::parse`.

use doppler_engine::Interpreter;
use doppler_kernels::reference::{int8, quant};
use doppler_model_format::layout::{Header, Section, HEADER_BYTES};
use doppler_model_format::ops::*;
use doppler_model_format::writer::{fix_crc, AlignedBlob, Builder, Quant};
use doppler_model_format::{DType, Model, OpCode};
use proptest::prelude::*;

fn win(k: u32, s: u32, pad: u32) -> WindowParams {
    WindowParams {
        filter_h: k,
        filter_w: k,
        stride_h: s,
        stride_w: s,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad,
        pad_bottom: pad,
        pad_left: pad,
        pad_right: pad,
        depth_multiplier: 1,
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        ..Default::default()
    }
}

/// An int8 graph touching most int8 ops.
fn int8_model() -> AlignedBlob {
    let q = Quant::new(0.05, 3);
    let wq = Quant::new(0.01, 0);
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 6, 6, 3], None);
    let xq = b.activation(DType::I8, &[1, 6, 6, 3], Some(q));
    b.op(OpCode::Quantize, &[x], &[xq], &NoParams {});
    let (m, s) = quant::quantize_multiplier(0.05 * 0.01 / 0.05);
    let w = b.constant_i8(&[4, 3, 3, 3], wq, &[5; 108]);
    let bias = b.constant_i32(&[4], &[1, -2, 3, -4]);
    let mt = b.constant_i32(&[4], &[m; 4]);
    let st = b.constant_i32(&[4], &[s; 4]);
    let c = b.activation(DType::I8, &[1, 6, 6, 4], Some(q));
    b.op(OpCode::Conv2d, &[xq, w, bias, mt, st], &[c], &win(3, 1, 1));
    let dw = b.constant_i8(&[1, 3, 3, 4], wq, &[-7; 36]);
    let dwo = b.activation(DType::I8, &[1, 3, 3, 4], Some(q));
    b.op(
        OpCode::DepthwiseConv2d,
        &[c, dw, bias, mt, st],
        &[dwo],
        &WindowParams { pad_bottom: 0, pad_right: 0, ..win(3, 2, 1) },
    );
    let mp = b.activation(DType::I8, &[1, 3, 3, 4], Some(q));
    b.op(OpCode::MaxPool2d, &[dwo], &[mp], &win(3, 1, 1));
    let ap = b.activation(DType::I8, &[1, 3, 3, 4], Some(q));
    b.op(OpCode::AvgPool2d, &[mp], &[ap], &win(3, 1, 1));
    let add = int8::add_params(0.05, 3, 0.05, 3, 0.05, 3, -128, 127, quant::Rounding::Double);
    let sum = b.activation(DType::I8, &[1, 3, 3, 4], Some(q));
    let ep = ElementwiseParams {
        left_shift: add.left_shift,
        input1_multiplier: add.input1_multiplier,
        input1_shift: add.input1_shift,
        input2_multiplier: add.input2_multiplier,
        input2_shift: add.input2_shift,
        output_multiplier: add.output_multiplier,
        output_shift: add.output_shift,
        act_min: -128,
        act_max: 127,
        ..Default::default()
    };
    b.op(OpCode::Add, &[ap, mp], &[sum], &ep);
    let prod = b.activation(DType::I8, &[1, 3, 3, 4], Some(q));
    let mul = int8::mul_params(0.05, 3, 0.05, 3, 0.05, 3, -128, 127, quant::Rounding::Single);
    b.op(
        OpCode::Mul,
        &[sum, ap],
        &[prod],
        &ElementwiseParams {
            rounding: ROUNDING_SINGLE,
            output_multiplier: mul.output_multiplier,
            output_shift: mul.output_shift,
            act_min: -128,
            act_max: 127,
            ..Default::default()
        },
    );
    let cl = b.activation(DType::I8, &[1, 3, 3, 4], Some(q));
    b.op(
        OpCode::Clamp,
        &[prod],
        &[cl],
        &ElementwiseParams { act_min: -10, act_max: 100, ..Default::default() },
    );
    let padded = b.activation(DType::I8, &[1, 4, 5, 4], Some(q));
    b.op(
        OpCode::Pad,
        &[cl],
        &[padded],
        &PadParams { pads: [[0, 0], [1, 0], [1, 1], [0, 0]], value_i8: 3, ..Default::default() },
    );
    let up = b.activation(DType::I8, &[1, 8, 10, 4], Some(q));
    b.op(OpCode::ResizeNearest, &[padded], &[up], &ResizeParams::default());
    let cat = b.activation(DType::I8, &[1, 8, 10, 8], Some(q));
    b.op(OpCode::Concatenation, &[up, up], &[cat], &NoParams {});
    let mean = b.activation(DType::I8, &[1, 8], Some(q));
    let mp_ = int8::mean_params(0.05, 3, 0.05, 3, quant::Rounding::Double);
    b.op(
        OpCode::Mean,
        &[cat],
        &[mean],
        &MeanParams { multiplier: mp_.multiplier, shift: mp_.shift, ..Default::default() },
    );
    let fw = b.constant_i8(&[5, 8], wq, &[9; 40]);
    let fb = b.constant_i32(&[5], &[0; 5]);
    let fm = b.constant_i32(&[5], &[m; 5]);
    let fs = b.constant_i32(&[5], &[s; 5]);
    let fc = b.activation(DType::I8, &[1, 5], Some(q));
    b.op(
        OpCode::FullyConnected,
        &[mean, fw, fb, fm, fs],
        &[fc],
        &FullyConnectedParams { act_min: -128, act_max: 127, ..Default::default() },
    );
    let table = b.constant_i8(&[256], Quant::new(1.0, 0), &int8::logistic_table(0.05, 3, 1.0 / 256.0, -128));
    let lg = b.activation(DType::I8, &[1, 5], Some(Quant::new(1.0 / 256.0, -128)));
    b.op(OpCode::Lut, &[fc, table], &[lg], &NoParams {});
    let rs = b.activation(DType::I8, &[5], Some(Quant::new(1.0 / 256.0, -128)));
    b.op(OpCode::Reshape, &[lg], &[rs], &NoParams {});
    let sm = b.activation(DType::I8, &[5], Some(Quant::new(1.0 / 256.0, -128)));
    let sp = int8::softmax_params(1.0, 1.0 / 256.0);
    b.op(
        OpCode::Softmax,
        &[rs],
        &[sm],
        &SoftmaxParams {
            input_multiplier: sp.input_multiplier,
            input_left_shift: sp.input_left_shift,
            diff_min: sp.diff_min,
            beta: 1.0,
        },
    );
    let y = b.activation(DType::F32, &[5], None);
    b.op(OpCode::Dequantize, &[sm], &[y], &NoParams {});
    b.output(y);
    b.finish().unwrap()
}

/// A binary + float graph touching the binary ops and the float-only ops.
fn binary_model() -> AlignedBlob {
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 4, 4, 8], None);
    let p = b.activation(DType::F32, &[1, 6, 6, 8], None);
    b.op(
        OpCode::Pad,
        &[x],
        &[p],
        &PadParams { pads: [[0, 0], [1, 1], [1, 1], [0, 0]], mode: PAD_REFLECT, ..Default::default() },
    );
    let g = b.constant_f32(&[8], &[1.0; 8]);
    let be = b.constant_f32(&[8], &[0.5; 8]);
    let n = b.activation(DType::F32, &[1, 6, 6, 8], None);
    b.op(
        OpCode::InstanceNorm,
        &[p, g, be],
        &[n],
        &InstanceNormParams { epsilon: 1e-5, ..Default::default() },
    );
    let packed = b.activation(DType::B1, &[1, 6, 6, 8], None);
    b.op(OpCode::BPack, &[n], &[packed], &NoParams {});
    let w = b.constant_b1(&[40, 3, 3, 8], &[0x5a; 360]);
    let th = b.constant_i32(&[40], &[3; 40]);
    let c1 = b.activation(DType::B1, &[1, 6, 6, 40], None);
    b.op(
        OpCode::BConv2d,
        &[packed, w, th],
        &[c1],
        &WindowParams { act_min: i32::MIN, act_max: i32::MAX, ..win(3, 1, 1) },
    );
    let mp = b.activation(DType::B1, &[1, 3, 3, 40], None);
    b.op(OpCode::MaxPool2d, &[c1], &[mp], &win(2, 2, 0));
    let w2 = b.constant_b1(&[6, 3, 3, 40], &[0x0f0f_0f0f; 6 * 9 * 2]);
    let (mul, add) = (b.constant_f32(&[6], &[0.25; 6]), b.constant_f32(&[6], &[-1.0; 6]));
    let c2 = b.activation(DType::I8, &[1, 2, 2, 6], Some(Quant::new(0.1, -5)));
    b.op(
        OpCode::BConv2d,
        &[mp, w2, mul, add],
        &[c2],
        &WindowParams {
            act_min: -50,
            act_max: 50,
            pad_value: PAD_VALUE_ZERO,
            pad_bottom: 1,
            pad_right: 1,
            pad_top: 1,
            pad_left: 1,
            ..win(3, 2, 1)
        },
    );
    let packed2 = b.activation(DType::B1, &[1, 2, 2, 6], None);
    b.op(OpCode::BPack, &[c2], &[packed2], &NoParams {});
    let un = b.activation(DType::F32, &[1, 2, 2, 6], None);
    b.op(OpCode::BUnpack, &[packed2], &[un], &NoParams {});
    let fw = b.constant_f32(&[1, 3, 3, 6], &[0.1; 54]);
    let fb = b.constant_f32(&[1], &[0.0]);
    let conv = b.activation(DType::F32, &[1, 2, 2, 1], None);
    b.op(OpCode::Conv2d, &[un, fw, fb], &[conv], &win(3, 1, 1));
    let avg = b.activation(DType::F32, &[1, 1, 1, 1], None);
    b.op(OpCode::AvgPool2d, &[conv], &[avg], &win(2, 2, 0));
    let sm = b.activation(DType::F32, &[1, 1, 1, 1], None);
    b.op(OpCode::Softmax, &[avg], &[sm], &SoftmaxParams { beta: 1.0, ..Default::default() });
    b.output(sm);
    b.finish().unwrap()
}

/// A float upsampling tail: TransposeConv2d (k3, stride 2, crops 1/0) → Tanh → TransposeConv2d
/// (k4, stride 2, dilation 2, crops 1/1).
fn transpose_model() -> AlignedBlob {
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 3, 4, 2], None);
    let w = b.constant_f32(&[3, 3, 3, 2], &[0.1; 54]);
    let bias = b.constant_f32(&[3], &[0.5; 3]);
    let u = b.activation(DType::F32, &[1, 6, 8, 3], None);
    let p = WindowParams { pad_bottom: 0, pad_right: 0, act_min: 0, act_max: 0, ..win(3, 2, 1) };
    b.op(OpCode::TransposeConv2d, &[x, w, bias], &[u], &p);
    let t = b.activation(DType::F32, &[1, 6, 8, 3], None);
    b.op(OpCode::Tanh, &[u], &[t], &NoParams {});
    let w2 = b.constant_f32(&[2, 4, 4, 3], &[-0.2; 96]);
    let b2 = b.constant_f32(&[2], &[0.0; 2]);
    // (6 − 1)·2 + 2·3 + 1 − 2 = 15, (8 − 1)·2 + 7 − 2 = 19.
    let y = b.activation(DType::F32, &[1, 15, 19, 2], None);
    let p2 = WindowParams {
        dilation_h: 2,
        dilation_w: 2,
        act_min: 0,
        act_max: 0,
        act_min_f: -1.0,
        act_max_f: 1.0,
        ..win(4, 2, 1)
    };
    b.op(OpCode::TransposeConv2d, &[t, w2, b2], &[y], &p2);
    b.output(y);
    b.finish().unwrap()
}

/// Which 32-bit word of the blob a mutation overwrites: a record field, a param, or an index.
#[derive(Debug, Clone)]
struct Mutation {
    section: usize,
    word: usize,
    value: u32,
}

fn values() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..64,
        Just(u32::MAX),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        any::<u32>(),
        (0u32..0x1_0000).prop_map(|v| v << 4),
    ]
}

fn mutate(blob: &AlignedBlob, m: &Mutation) -> AlignedBlob {
    let mut bytes = blob.as_bytes().to_vec();
    let h: Header = bytemuck::pod_read_unaligned(&bytes[..HEADER_BYTES]);
    let sec =
        [Section::Tensors, Section::Ops, Section::Indices, Section::Params, Section::Inputs][m.section % 5];
    let d = h.sections[sec as usize];
    let len = d.count as usize * sec.unit();
    if len >= 4 {
        let at = d.offset as usize + (m.word % (len / 4)) * 4;
        bytes[at..at + 4].copy_from_slice(&m.value.to_le_bytes());
        fix_crc(&mut bytes);
    }
    AlignedBlob::from_bytes(&bytes)
}

fn run_if_valid(blob: &AlignedBlob) {
    let Ok(model) = Model::parse(blob.as_bytes()) else { return };
    // Bound the arena so a mutation cannot ask for gigabytes.
    if model.arena_bytes() > 1 << 22 {
        return;
    }
    let mut arena = vec![Chunk([0; 16]); model.arena_bytes().div_ceil(16).max(1)];
    let mut it = Interpreter::new(blob.as_bytes(), bytemuck::cast_slice_mut(&mut arena)).unwrap();
    for i in 0..it.input_count() {
        for (k, byte) in it.input_bytes_mut(i).unwrap().iter_mut().enumerate() {
            *byte = (k * 37 % 251) as u8;
        }
    }
    it.invoke().unwrap();
}

#[test]
fn unmutated_models_run() {
    run_if_valid(&int8_model());
    run_if_valid(&binary_model());
    run_if_valid(&transpose_model());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn mutated_int8_model_never_panics(section in 0usize..5, word in any::<usize>(), value in values()) {
        run_if_valid(&mutate(&int8_model(), &Mutation { section, word, value }));
    }

    #[test]
    fn mutated_binary_model_never_panics(section in 0usize..5, word in any::<usize>(), value in values()) {
        run_if_valid(&mutate(&binary_model(), &Mutation { section, word, value }));
    }

    #[test]
    fn mutated_transpose_model_never_panics(section in 0usize..5, word in any::<usize>(), value in values()) {
        run_if_valid(&mutate(&transpose_model(), &Mutation { section, word, value }));
    }
}

/// 16 bytes on a 16-byte boundary (`u128` is only 8-aligned on 32-bit ARM).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);
