//! Whole-graph tests: models built with the writer, run by the interpreter, compared with the
//! same kernels called by hand on separate buffers (this checks the plumbing: arena planning and
//! reuse, parameter mapping, input/output binding), plus hand-computed answers for tiny graphs.

use doppler_engine::{Error, Interpreter};
use doppler_kernels::reference::{binary, f32 as kf32, int8, quant, tensor, Window2d};
use doppler_model_format::ops::*;
use doppler_model_format::writer::{AlignedBlob, Builder, Quant};
use doppler_model_format::{DType, OpCode};

/// A 16-byte-aligned arena of `n` bytes.
fn arena(n: usize) -> Vec<Chunk> {
    vec![Chunk([0; 16]); n.div_ceil(16).max(1)]
}

fn bytes(a: &mut [Chunk]) -> &mut [u8] {
    bytemuck::cast_slice_mut(a)
}

/// Deterministic pseudo-random values (xorshift32).
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
    fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0).collect()
    }
}

fn run<T: doppler_engine::Element, U: doppler_engine::Element>(blob: &AlignedBlob, input: &[T]) -> Vec<U> {
    let model = doppler_model_format::Model::parse(blob.as_bytes()).unwrap();
    let mut mem = arena(model.arena_bytes());
    let mut it = Interpreter::new(blob.as_bytes(), bytes(&mut mem)).unwrap();
    it.set_input(0, input).unwrap();
    it.invoke().unwrap();
    it.output::<U>(0).unwrap().to_vec()
}

fn same_window(k: u32, stride: u32, pad: u32) -> WindowParams {
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
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        ..Default::default()
    }
}

fn geom(
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    oh: usize,
    ow: usize,
    oc: usize,
    k: usize,
    s: usize,
    p: usize,
) -> Window2d {
    Window2d {
        batch: n,
        in_h: h,
        in_w: w,
        in_c: c,
        out_h: oh,
        out_w: ow,
        out_c: oc,
        k_h: k,
        k_w: k,
        stride_h: s,
        stride_w: s,
        dil_h: 1,
        dil_w: 1,
        pad_top: p,
        pad_left: p,
    }
}

#[test]
fn int8_conv_pool_fc_matches_hand_called_kernels() {
    let mut rng = Rng(7);
    let (xq, yq, wq) = (Quant::new(0.05, -3), Quant::new(0.1, -128), Quant::new(0.02, 0));
    let mut b = Builder::new();
    let x = b.input(DType::I8, &[1, 6, 6, 3], Some(xq));
    let w = rng.i8s(4 * 3 * 3 * 3);
    let bias: Vec<i32> = (0..4).map(|i| i * 100 - 150).collect();
    let (m, s): (Vec<i32>, Vec<i32>) =
        (0..4).map(|c| quant::quantize_multiplier(0.05 * 0.02 * (1.0 + c as f64 * 0.3) / 0.1)).unzip();
    let wt = b.constant_i8(&[4, 3, 3, 3], wq, &w);
    let bt = b.constant_i32(&[4], &bias);
    let mt = b.constant_i32(&[4], &m);
    let st = b.constant_i32(&[4], &s);
    let c1 = b.activation(DType::I8, &[1, 6, 6, 4], Some(yq));
    let mut p = same_window(3, 1, 1);
    p.act_min = -128; // ReLU with zero point −128
    b.op(OpCode::Conv2d, &[x, wt, bt, mt, st], &[c1], &p);
    let pool = b.activation(DType::I8, &[1, 3, 3, 4], Some(yq));
    b.op(OpCode::MaxPool2d, &[c1], &[pool], &same_window(2, 2, 0));
    let fw = rng.i8s(5 * 36);
    let fwt = b.constant_i8(&[5, 36], wq, &fw);
    let fbt = b.constant_i32(&[5], &[1, 2, 3, 4, 5]);
    let (fm, fs) = quant::quantize_multiplier(0.1 * 0.02 / 0.2);
    let fmt = b.constant_i32(&[5], &[fm; 5]);
    let fst = b.constant_i32(&[5], &[fs; 5]);
    let y = b.activation(DType::I8, &[1, 5], Some(Quant::new(0.2, 4)));
    b.op(
        OpCode::FullyConnected,
        &[pool, fwt, fbt, fmt, fst],
        &[y],
        &FullyConnectedParams { act_min: -128, act_max: 127, ..Default::default() },
    );
    b.output(y);
    let blob = b.finish().unwrap();

    let input = rng.i8s(6 * 6 * 3);
    let got: Vec<i8> = run(&blob, &input);

    let q = int8::ConvQuant {
        input_zp: -3,
        output_zp: -128,
        multipliers: &m,
        shifts: &s,
        rounding: quant::Rounding::Double,
        act_min: -128,
        act_max: 127,
    };
    let mut c1v = vec![0i8; 6 * 6 * 4];
    int8::conv2d_i8(&geom(1, 6, 6, 3, 6, 6, 4, 3, 1, 1), &q, &input, &w, &bias, &mut c1v);
    let mut pv = vec![0i8; 36];
    int8::max_pool_i8(&geom(1, 6, 6, 4, 3, 3, 4, 2, 2, 0), -128, 127, &c1v, &mut pv);
    let fq = int8::ConvQuant {
        input_zp: -128,
        output_zp: 4,
        multipliers: &[fm; 5],
        shifts: &[fs; 5],
        rounding: quant::Rounding::Double,
        act_min: -128,
        act_max: 127,
    };
    let mut want = vec![0i8; 5];
    int8::fully_connected_i8(1, 36, 5, &fq, &pv, &fw, &[1, 2, 3, 4, 5], &mut want);
    assert_eq!(got, want);
}

#[test]
fn f32_tiny_graph_hand_computed() {
    // x (1×2×2×1) → 1×1 conv (weight 2, bias 1) → ReLU6 → Add(itself via a second conv) …
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 2, 2, 1], None);
    let w = b.constant_f32(&[1, 1, 1, 1], &[2.0]);
    let bias = b.constant_f32(&[1], &[1.0]);
    let c = b.activation(DType::F32, &[1, 2, 2, 1], None);
    let mut p = same_window(1, 1, 0);
    p.act_min_f = 0.0;
    p.act_max_f = 6.0;
    b.op(OpCode::Conv2d, &[x, w, bias], &[c], &p);
    let y = b.activation(DType::F32, &[1, 2, 2, 1], None);
    b.op(
        OpCode::Add,
        &[c, x],
        &[y],
        &ElementwiseParams { act_min_f: f32::NEG_INFINITY, act_max_f: f32::INFINITY, ..Default::default() },
    );
    b.output(y);
    let blob = b.finish().unwrap();
    let got: Vec<f32> = run(&blob, &[-1.0f32, 0.0, 1.0, 4.0]);
    // conv: 2x+1 clamped to [0,6] → [0, 1, 3, 6]; + x → [-1, 1, 4, 10]
    assert_eq!(got, vec![-1.0, 1.0, 4.0, 10.0]);
}

#[test]
fn binary_graph_matches_hand_called_kernels() {
    let mut rng = Rng(99);
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 5, 5, 40], None);
    let packed = b.activation(DType::B1, &[1, 5, 5, 40], None);
    b.op(OpCode::BPack, &[x], &[packed], &NoParams {});
    let wf = rng.f32s(33 * 9 * 40);
    let mut ww = vec![0u32; 33 * 9 * 2];
    binary::pack_f32(33 * 9, 40, &wf, &mut ww);
    let wt = b.constant_b1(&[33, 3, 3, 40], &ww);
    let th: Vec<i32> = (0..33).map(|c| c * 7 - 100).collect();
    let tht = b.constant_i32(&[33], &th);
    let c1 = b.activation(DType::B1, &[1, 5, 5, 33], None);
    let mut p = same_window(3, 1, 1);
    p.act_min = i32::MIN;
    p.act_max = i32::MAX;
    b.op(OpCode::BConv2d, &[packed, wt, tht], &[c1], &p);
    let pooled = b.activation(DType::B1, &[1, 3, 3, 33], None);
    b.op(
        OpCode::MaxPool2d,
        &[c1],
        &[pooled],
        &WindowParams { pad_bottom: 1, pad_right: 1, ..same_window(2, 2, 0) },
    );
    let w2f = rng.f32s(7 * 9 * 33);
    let mut w2 = vec![0u32; 7 * 9 * 2];
    binary::pack_f32(7 * 9, 33, &w2f, &mut w2);
    let w2t = b.constant_b1(&[7, 3, 3, 33], &w2);
    let mul: Vec<f32> = (0..7).map(|c| 0.5 + c as f32 * 0.1).collect();
    let add: Vec<f32> = (0..7).map(|c| c as f32 - 3.0).collect();
    let (mt, at) = (b.constant_f32(&[7], &mul), b.constant_f32(&[7], &add));
    let y = b.activation(DType::F32, &[1, 1, 1, 7], None);
    let mut p2 = same_window(3, 1, 0);
    p2.act_min = -100;
    p2.act_max = 100;
    p2.pad_value = PAD_VALUE_ZERO;
    b.op(OpCode::BConv2d, &[pooled, w2t, mt, at], &[y], &p2);
    b.output(y);
    let blob = b.finish().unwrap();

    let input = rng.f32s(5 * 5 * 40);
    let got: Vec<f32> = run(&blob, &input);

    let mut xv = vec![0u32; 25 * 2];
    binary::pack_f32(25, 40, &input, &mut xv);
    let mut c1v = vec![0u32; 25 * 2];
    binary::bconv2d_bits(
        &geom(1, 5, 5, 40, 5, 5, 33, 3, 1, 1),
        binary::PadValue::One,
        &th,
        &xv,
        &ww,
        &mut c1v,
    );
    let mut pv = vec![0u32; 9 * 2];
    binary::max_pool_bits(&geom(1, 5, 5, 33, 3, 3, 33, 2, 2, 0), &c1v, &mut pv);
    let e = binary::BConvEpilogue { clamp_min: -100, clamp_max: 100, multiplier: &mul, bias: &add };
    let mut want = vec![0f32; 7];
    binary::bconv2d_f32(
        &geom(1, 3, 3, 33, 1, 1, 7, 3, 1, 0),
        binary::PadValue::Zero,
        &e,
        &pv,
        &w2,
        &mut want,
    );
    assert_eq!(got, want);
}

#[test]
fn long_chain_reuses_the_arena_and_stays_correct() {
    // 30 ops ping-pong: the plan needs two buffers, not thirty.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 4, 4, 8], None);
    let mut prev = x;
    for i in 0..30 {
        let y = b.activation(DType::F32, &[1, 4, 4, 8], None);
        let (lo, hi) = if i % 2 == 0 { (-0.5, 10.0) } else { (-10.0, 0.75) };
        b.op(
            OpCode::Clamp,
            &[prev],
            &[y],
            &ElementwiseParams { act_min_f: lo, act_max_f: hi, ..Default::default() },
        );
        prev = y;
    }
    b.output(prev);
    let (blob, report) = b.finish_with_report().unwrap();
    assert_eq!(report.plan.arena_bytes, 2 * 4 * 4 * 8 * 4);
    let input: Vec<f32> = (0..128).map(|i| i as f32 / 16.0 - 4.0).collect();
    let got: Vec<f32> = run(&blob, &input);
    let want: Vec<f32> = input.iter().map(|v| v.clamp(-0.5, 0.75)).collect();
    assert_eq!(got, want);
}

#[test]
fn tensor_ops_graph_matches_hand_called_kernels() {
    let mut rng = Rng(3);
    let q = Quant::new(0.1, 2);
    let mut b = Builder::new();
    let x = b.input(DType::I8, &[1, 3, 3, 2], Some(q));
    let padded = b.activation(DType::I8, &[1, 5, 4, 2], Some(q));
    b.op(
        OpCode::Pad,
        &[x],
        &[padded],
        &PadParams { pads: [[0, 0], [1, 1], [0, 1], [0, 0]], value_i8: 2, ..Default::default() },
    );
    let up = b.activation(DType::I8, &[1, 10, 8, 2], Some(q));
    b.op(OpCode::ResizeNearest, &[padded], &[up], &ResizeParams::default());
    let cat = b.activation(DType::I8, &[1, 10, 8, 4], Some(q));
    b.op(OpCode::Concatenation, &[up, up], &[cat], &NoParams {});
    let flat = b.activation(DType::I8, &[80, 4], Some(q));
    b.op(OpCode::Reshape, &[cat], &[flat], &NoParams {});
    let sm = b.activation(DType::I8, &[80, 4], Some(Quant::new(1.0 / 256.0, -128)));
    let sp = int8::softmax_params(1.0, 0.1);
    b.op(
        OpCode::Softmax,
        &[flat],
        &[sm],
        &SoftmaxParams {
            input_multiplier: sp.input_multiplier,
            input_left_shift: sp.input_left_shift,
            diff_min: sp.diff_min,
            beta: 1.0,
        },
    );
    b.output(sm);
    let blob = b.finish().unwrap();
    let input = rng.i8s(18);
    let got: Vec<i8> = run(&blob, &input);

    let mut pv = vec![0i8; 40];
    tensor::pad([1, 3, 3, 2], [[0, 0], [1, 1], [0, 1], [0, 0]], 2i8, &input, &mut pv);
    let mut uv = vec![0i8; 160];
    tensor::resize_nearest(1, 5, 4, 2, 10, 8, false, false, &pv, &mut uv);
    let mut cv = vec![0i8; 320];
    tensor::concat_last_axis(80, &[&uv, &uv], &[2, 2], &mut cv);
    let mut want = vec![0i8; 320];
    int8::softmax_i8(80, 4, &sp, &cv, &mut want);
    assert_eq!(got, want);
    let _ = kf32::clamp_f32; // the f32 module is exercised by the other tests
}

#[test]
fn arena_and_io_errors_are_typed() {
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 4], None);
    let y = b.activation(DType::F32, &[1, 4], None);
    b.op(
        OpCode::Clamp,
        &[x],
        &[y],
        &ElementwiseParams { act_min_f: 0.0, act_max_f: 1.0, ..Default::default() },
    );
    b.output(y);
    let blob = b.finish().unwrap();
    let need = doppler_engine::required_arena_bytes(blob.as_bytes()).unwrap();
    assert_eq!(need, 32);

    let mut mem = arena(need + 32);
    let small = &mut bytes(&mut mem)[..need - 1];
    assert!(matches!(
        Interpreter::new(blob.as_bytes(), small),
        Err(Error::ArenaTooSmall { needed: 32, got: 31 })
    ));
    let shifted = &mut bytes(&mut mem)[4..4 + need];
    assert_eq!(Interpreter::new(blob.as_bytes(), shifted).err(), Some(Error::ArenaMisaligned));
    let mut bad = blob.as_bytes().to_vec();
    bad[0] = b'X';
    let bad = AlignedBlob::from_bytes(&bad);
    assert_eq!(
        Interpreter::new(bad.as_bytes(), bytes(&mut mem)).err(),
        Some(Error::Model(doppler_model_format::Error::BadMagic))
    );

    let mut it = Interpreter::new(blob.as_bytes(), bytes(&mut mem)).unwrap();
    assert_eq!(it.set_input(0, &[1i8; 4]).err(), Some(Error::WrongDtype));
    assert_eq!(it.set_input(0, &[1.0f32; 3]).err(), Some(Error::WrongSize { expected: 4, got: 3 }));
    assert_eq!(it.set_input(1, &[1.0f32; 4]).err(), Some(Error::IndexOutOfRange));
    assert_eq!(it.output::<f32>(1).err(), Some(Error::IndexOutOfRange));
    it.set_input(0, &[-1.0f32, 0.5, 2.0, 0.25]).unwrap();
    it.invoke().unwrap();
    assert_eq!(it.output::<f32>(0).unwrap(), &[0.0, 0.5, 1.0, 0.25]);
    // Invoking again gives the same answer (no hidden state).
    it.invoke().unwrap();
    assert_eq!(it.output::<f32>(0).unwrap(), &[0.0, 0.5, 1.0, 0.25]);
    let codes = [
        Error::ArenaTooSmall { needed: 1, got: 0 },
        Error::ArenaMisaligned,
        Error::IndexOutOfRange,
        Error::WrongDtype,
        Error::WrongSize { expected: 1, got: 0 },
        Error::Internal,
    ];
    for (i, a) in codes.iter().enumerate() {
        assert!(a.code() < 0);
        for b in &codes[i + 1..] {
            assert_ne!(a.code(), b.code());
        }
    }
}

/// 16 bytes on a 16-byte boundary (`u128` is only 8-aligned on 32-bit ARM).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);
