//! Float32 reference kernels against independent f64 oracles.
//!
//! # Tolerance contract (binding for every f32 kernel, reference and NEON alike)
//!
//! Let `u = 2^-24` (f32 unit roundoff). Each kernel output `y` is compared with the f64 value
//! `y64` of the same mathematical expression evaluated on the same f32 inputs, with the same
//! fused clamp applied (clamping is 1-Lipschitz, so it never widens the gap).
//!
//! * **Sums of products** (conv, depthwise conv, fully connected) and **sums** (avg pool, mean):
//!   `|y - y64| <= (1e-5 + n*u) * (S + 1)` where `n` is the number of summed terms (taps + bias)
//!   and `S` the sum of their absolute values (for averages: the sums divided by the count).
//!   Any summation order with or without FMA satisfies `|err| <= (n-1)*u*S` to first order, so
//!   the `n*u` part admits every order; the `1e-5` part is slack for long reductions, and the
//!   `+ 1` absolute part absorbs flushed subnormals (ARMv7 NEON is always flush-to-zero).
//! * **Single operations** (add, mul, clamp, max pool): exactly equal to the correctly rounded
//!   f64 result (`-0.0 == 0.0`), for normal results.
//! * **Softmax**: `|y - y64| <= (1e-5 + (depth + 2|a|)*u) * y64 + 1e-9` with `a = (x - max)*beta`
//!   (the exponent's own rounding is amplified by `|a|`); each row sums to 1 within
//!   `1e-5 + 2*depth*u`.
//! * **Instance norm**: `|y - y64| <= (1e-5 + n*u) * (|gamma| * (|x| + M) / sigma + |beta| + 1)`
//!   with `n = h*w`, `M` the mean of `|x|` over the plane and `sigma = sqrt(var + eps)` (f64).
//!   This is the first-order error of the two-pass f32 statistics: the mean is off by about
//!   `n*u*M`, which the division by `sigma` amplifies.
//! * **Transposed conv** is a sum of products: the first rule, with `n = k_h*k_w*in_c + 1` (an
//!   upper bound on the taps reaching one output, plus the bias) and `S` the sum of the absolute
//!   values of the terms that do reach it. Its oracle is written in *scatter* form (every input
//!   pixel adds its products into a full-size f64 output, which is then cropped), the kernel in
//!   gather form, so the two share no index arithmetic.
//! * **Tanh**: `|y - y64| <= 4*u*|y64| + 2^-126` (libm's `tanhf` is within about 2 ulp; the
//!   absolute part covers flushed subnormals); NaN propagates, `±inf -> ±1`.
//!
//! Shapes are random and include 1x1 images, kernels larger than the input (TFLite SAME padding),
//! strides larger than the kernel, dilation, arbitrary explicit padding, channel counts 1, 3, 17
//! and 33. Data comes from a seeded PRNG so proptest shrinks over shapes and seeds.

use doppler_kernels::reference::f32 as rf;
use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

const U: f64 = 1.0 / (1u64 << 24) as f64;

// ---------------------------------------------------------------------------------------------
// Data

/// SplitMix64: small, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let t = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * t
    }
    fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    /// Values spread over many binades: mantissa in [1, 2), exponent in [-20, 20], random sign.
    fn wide(&mut self) -> f32 {
        let m = self.uniform(1.0, 2.0);
        let e = (self.next_u64() % 41) as i32 - 20;
        let s = if self.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        s * m * 2f32.powi(e)
    }
}

fn clamp64(x: f64, lo: f32, hi: f32) -> f64 {
    x.max(lo as f64).min(hi as f64)
}

fn check(what: &str, i: usize, y: f32, y64: f64, tol: f64) -> Result<(), TestCaseError> {
    let err = (y as f64 - y64).abs();
    prop_assert!(err <= tol, "{what}[{i}]: got {y}, f64 {y64}, err {err:e} > tol {tol:e}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Geometry

#[derive(Clone, Copy, Debug)]
enum Pad {
    Valid,
    Same,
    /// Explicit (top, bottom, left, right), each in [0, effective kernel).
    Explicit(usize, usize, usize, usize),
}

/// One axis with TFLite padding rules: returns (out, pad_before).
fn axis(
    input: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: Option<(usize, usize)>,
    same: bool,
) -> Option<(usize, usize)> {
    let ek = (k - 1) * dil + 1;
    match (pad, same) {
        (Some((before, after)), _) => {
            let total = input + before + after;
            (total >= ek).then(|| ((total - ek) / stride + 1, before))
        }
        (None, true) => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + ek).saturating_sub(input);
            Some((out, total / 2))
        }
        (None, false) => (input >= ek).then(|| ((input - ek) / stride + 1, 0)),
    }
}

#[allow(clippy::too_many_arguments)]
fn window(
    batch: usize,
    in_h: usize,
    in_w: usize,
    in_c: usize,
    out_c: usize,
    k: (usize, usize),
    stride: (usize, usize),
    dil: (usize, usize),
    pad: Pad,
) -> Window2d {
    let (ph, pw, same) = match pad {
        Pad::Valid => (None, None, false),
        Pad::Same => (None, None, true),
        Pad::Explicit(t, b, l, r) => {
            let ekh = (k.0 - 1) * dil.0 + 1;
            let ekw = (k.1 - 1) * dil.1 + 1;
            (Some((t % ekh, b % ekh)), Some((l % ekw, r % ekw)), false)
        }
    };
    // VALID with a kernel larger than the input has no output; fall back to SAME.
    let hy = axis(in_h, k.0, stride.0, dil.0, ph, same)
        .unwrap_or_else(|| axis(in_h, k.0, stride.0, dil.0, None, true).unwrap());
    let wx = axis(in_w, k.1, stride.1, dil.1, pw, same)
        .unwrap_or_else(|| axis(in_w, k.1, stride.1, dil.1, None, true).unwrap());
    Window2d {
        batch,
        in_h,
        in_w,
        in_c,
        out_h: hy.0,
        out_w: wx.0,
        out_c,
        k_h: k.0,
        k_w: k.1,
        stride_h: stride.0,
        stride_w: stride.1,
        dil_h: dil.0,
        dil_w: dil.1,
        pad_top: hy.1,
        pad_left: wx.1,
    }
}

fn channels() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(3), Just(17), Just(33), 1usize..=8]
}

fn pad_strategy() -> impl Strategy<Value = Pad> {
    prop_oneof![
        Just(Pad::Valid),
        Just(Pad::Same),
        (0usize..16, 0usize..16, 0usize..16, 0usize..16).prop_map(|(a, b, c, d)| Pad::Explicit(a, b, c, d)),
    ]
}

fn act_strategy() -> impl Strategy<Value = (f32, f32)> {
    prop_oneof![
        Just((f32::NEG_INFINITY, f32::INFINITY)),
        Just((0.0f32, f32::INFINITY)),
        Just((0.0f32, 6.0)),
        Just((-1.0f32, 1.0)),
    ]
}

/// (batch, in_h, in_w, kernel, stride, dilation, padding).
type ConvGeometry = (usize, usize, usize, (usize, usize), (usize, usize), (usize, usize), Pad);

/// Geometry for conv / depthwise: spatial 1..=9 (1x1 images included), kernel 1..=5 (often larger
/// than the input), stride 1..=4 (often larger than the kernel), dilation 1..=3.
fn conv_geometry() -> impl Strategy<Value = ConvGeometry> {
    (
        1usize..=2,
        prop_oneof![Just(1usize), 1usize..=9],
        prop_oneof![Just(1usize), 1usize..=9],
        (1usize..=5, 1usize..=5),
        (1usize..=4, 1usize..=4),
        prop_oneof![Just((1usize, 1usize)), (1usize..=3, 1usize..=3)],
        pad_strategy(),
    )
}

/// Zero-padded f64 copy of an NHWC input, large enough that every tap of every output lands
/// inside it: the oracle then needs no bounds logic at all.
fn zero_padded(g: &Window2d, input: &[f32]) -> (Vec<f64>, usize, usize) {
    let ph = ((g.out_h - 1) * g.stride_h + (g.k_h - 1) * g.dil_h + 1).max(g.pad_top + g.in_h);
    let pw = ((g.out_w - 1) * g.stride_w + (g.k_w - 1) * g.dil_w + 1).max(g.pad_left + g.in_w);
    let mut p = vec![0.0f64; g.batch * ph * pw * g.in_c];
    for (i, &v) in input.iter().enumerate() {
        let c = i % g.in_c;
        let x = (i / g.in_c) % g.in_w;
        let y = (i / (g.in_c * g.in_w)) % g.in_h;
        let b = i / (g.in_c * g.in_w * g.in_h);
        p[((b * ph + y + g.pad_top) * pw + x + g.pad_left) * g.in_c + c] = v as f64;
    }
    (p, ph, pw)
}

// ---------------------------------------------------------------------------------------------
// Conv, depthwise, fully connected

fn run_conv(g: Window2d, act: (f32, f32), seed: u64, with_bias: bool) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let input = rng.vec(g.in_len(), -2.0, 2.0);
    let filter = rng.vec(g.out_c * g.k_h * g.k_w * g.in_c, -1.0, 1.0);
    let bias = if with_bias { rng.vec(g.out_c, -1.0, 1.0) } else { Vec::new() };
    let mut out = vec![f32::NAN; g.out_len()];
    rf::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut out);

    let (p, ph, pw) = zero_padded(&g, &input);
    let n = g.k_h * g.k_w * g.in_c + 1;
    // Oracle loop order: output channel outermost, then pixels; taps over the padded tensor.
    for oc in 0..g.out_c {
        let w_oc = &filter[oc * g.k_h * g.k_w * g.in_c..(oc + 1) * g.k_h * g.k_w * g.in_c];
        for b in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let b0 = bias.get(oc).copied().unwrap_or(0.0) as f64;
                    let (mut acc, mut s) = (b0, b0.abs());
                    for (t, &w) in w_oc.iter().enumerate() {
                        let ic = t % g.in_c;
                        let kx = (t / g.in_c) % g.k_w;
                        let ky = t / (g.in_c * g.k_w);
                        let y = oy * g.stride_h + ky * g.dil_h;
                        let x = ox * g.stride_w + kx * g.dil_w;
                        let term = p[((b * ph + y) * pw + x) * g.in_c + ic] * w as f64;
                        acc += term;
                        s += term.abs();
                    }
                    let i = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
                    check("conv", i, out[i], clamp64(acc, act.0, act.1), (1e-5 + n as f64 * U) * (s + 1.0))?;
                }
            }
        }
    }
    Ok(())
}

fn run_depthwise(
    g: Window2d,
    mult: usize,
    act: (f32, f32),
    seed: u64,
    with_bias: bool,
) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let input = rng.vec(g.in_len(), -2.0, 2.0);
    let filter = rng.vec(g.k_h * g.k_w * g.out_c, -1.0, 1.0);
    let bias = if with_bias { rng.vec(g.out_c, -1.0, 1.0) } else { Vec::new() };
    let mut out = vec![f32::NAN; g.out_len()];
    rf::depthwise_conv2d_f32(&g, mult, act.0, act.1, &input, &filter, &bias, &mut out);

    let (p, ph, pw) = zero_padded(&g, &input);
    let n = g.k_h * g.k_w + 1;
    for oc in 0..g.out_c {
        let ic = oc / mult;
        for b in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let b0 = bias.get(oc).copied().unwrap_or(0.0) as f64;
                    let (mut acc, mut s) = (b0, b0.abs());
                    for t in 0..g.k_h * g.k_w {
                        let (ky, kx) = (t / g.k_w, t % g.k_w);
                        let y = oy * g.stride_h + ky * g.dil_h;
                        let x = ox * g.stride_w + kx * g.dil_w;
                        let term = p[((b * ph + y) * pw + x) * g.in_c + ic] * filter[t * g.out_c + oc] as f64;
                        acc += term;
                        s += term.abs();
                    }
                    let i = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
                    check(
                        "depthwise",
                        i,
                        out[i],
                        clamp64(acc, act.0, act.1),
                        (1e-5 + n as f64 * U) * (s + 1.0),
                    )?;
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_matches_f64_oracle(
        (batch, in_h, in_w, k, stride, dil, pad) in conv_geometry(),
        in_c in channels(),
        out_c in channels(),
        act in act_strategy(),
        with_bias in prop::bool::weighted(0.85),
        seed in any::<u64>(),
    ) {
        let g = window(batch, in_h, in_w, in_c, out_c, k, stride, dil, pad);
        run_conv(g, act, seed, with_bias)?;
    }

    #[test]
    fn depthwise_matches_f64_oracle(
        (batch, in_h, in_w, k, stride, dil, pad) in conv_geometry(),
        in_c in channels(),
        mult in prop_oneof![Just(1usize), 1usize..=4],
        act in act_strategy(),
        with_bias in prop::bool::weighted(0.85),
        seed in any::<u64>(),
    ) {
        let g = window(batch, in_h, in_w, in_c, in_c * mult, k, stride, dil, pad);
        run_depthwise(g, mult, act, seed, with_bias)?;
    }

    #[test]
    fn fully_connected_matches_f64_oracle(
        batch in 1usize..=3,
        in_len in prop_oneof![Just(1usize), Just(17), Just(33), 1usize..=300],
        out_len in prop_oneof![Just(1usize), Just(3), 1usize..=40],
        act in act_strategy(),
        with_bias in prop::bool::weighted(0.85),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let input = rng.vec(batch * in_len, -2.0, 2.0);
        let weights = rng.vec(out_len * in_len, -1.0, 1.0);
        let bias = if with_bias { rng.vec(out_len, -1.0, 1.0) } else { Vec::new() };
        let mut out = vec![f32::NAN; batch * out_len];
        rf::fully_connected_f32(batch, in_len, out_len, act.0, act.1, &input, &weights, &bias, &mut out);
        // Oracle: a dot product via iterator zip, batch innermost.
        for o in 0..out_len {
            let row = &weights[o * in_len..(o + 1) * in_len];
            for b in 0..batch {
                let x = &input[b * in_len..(b + 1) * in_len];
                let b0 = bias.get(o).copied().unwrap_or(0.0) as f64;
                let acc: f64 = b0 + x.iter().zip(row).map(|(&a, &w)| a as f64 * w as f64).sum::<f64>();
                let s: f64 = b0.abs() + x.iter().zip(row).map(|(&a, &w)| (a as f64 * w as f64).abs()).sum::<f64>();
                let i = b * out_len + o;
                check("fc", i, out[i], clamp64(acc, act.0, act.1), (1e-5 + (in_len + 1) as f64 * U) * (s + 1.0))?;
            }
        }
    }
}

/// Long reductions (K = 3*3*256 + 1 = 2305 terms per output), where the `n*u` part of the
/// tolerance matters, plus a stride-3 dilated depthwise over 33 channels.
#[test]
fn long_reductions() {
    let g = window(1, 6, 6, 256, 8, (3, 3), (1, 1), (1, 1), Pad::Same);
    run_conv(g, (f32::NEG_INFINITY, f32::INFINITY), 1, true).unwrap();
    let g = window(1, 7, 7, 256, 3, (3, 3), (2, 2), (1, 1), Pad::Valid);
    run_conv(g, (0.0, 6.0), 2, true).unwrap();
    let g = window(2, 9, 9, 33, 66, (3, 3), (3, 3), (2, 2), Pad::Same);
    run_depthwise(g, 2, (f32::NEG_INFINITY, f32::INFINITY), 3, true).unwrap();
}

/// A 1x1 image with a 5x5 SAME kernel: only the centre tap is in bounds.
#[test]
fn conv_1x1_image_large_kernel_uses_centre_tap_only() {
    let g = window(1, 1, 1, 2, 1, (5, 5), (1, 1), (1, 1), Pad::Same);
    assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (1, 1, 2, 2));
    let input = [1.5f32, -2.0];
    let mut filter = [100.0f32; 50];
    filter[(2 * 5 + 2) * 2] = 2.0;
    filter[(2 * 5 + 2) * 2 + 1] = 0.5;
    let mut out = [0.0f32];
    rf::conv2d_f32(&g, f32::NEG_INFINITY, f32::INFINITY, &input, &filter, &[0.25], &mut out);
    assert_eq!(out[0], 1.5 * 2.0 - 2.0 * 0.5 + 0.25);
    rf::conv2d_f32(&g, f32::NEG_INFINITY, f32::INFINITY, &input, &filter, &[], &mut out);
    assert_eq!(out[0], 2.0);
}

/// Depthwise output channel `oc = ic * mult + m` reads input channel `ic`.
#[test]
fn depthwise_channel_mapping() {
    let g = window(1, 1, 1, 2, 6, (1, 1), (1, 1), (1, 1), Pad::Valid);
    let input = [10.0f32, 20.0];
    let filter = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut out = [0.0f32; 6];
    rf::depthwise_conv2d_f32(&g, 3, f32::NEG_INFINITY, f32::INFINITY, &input, &filter, &[], &mut out);
    assert_eq!(out, [10.0, 20.0, 30.0, 80.0, 100.0, 120.0]);
}

// ---------------------------------------------------------------------------------------------
// Element-wise

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn add_mul_are_correctly_rounded(len in 0usize..200, act in act_strategy(), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let a: Vec<f32> = (0..len).map(|_| rng.wide()).collect();
        let b: Vec<f32> = (0..len).map(|_| rng.wide()).collect();
        let mut sum = vec![f32::NAN; len];
        let mut prod = vec![f32::NAN; len];
        rf::add_f32(act.0, act.1, &a, &b, &mut sum);
        rf::mul_f32(act.0, act.1, &a, &b, &mut prod);
        for i in 0..len {
            // f64 holds the exact product and (with 53 >= 2*24 + 2 bits) rounds sums innocuously.
            let s = clamp64(a[i] as f64 + b[i] as f64, act.0, act.1) as f32;
            let p = clamp64(a[i] as f64 * b[i] as f64, act.0, act.1) as f32;
            prop_assert_eq!(sum[i], s, "add[{}]", i);
            prop_assert_eq!(prod[i], p, "mul[{}]", i);
        }
    }

    #[test]
    fn clamp_matches_min_max(len in 0usize..200, lo in -3.0f32..1.0, width in 0.0f32..4.0, seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let x = rng.vec(len, -6.0, 6.0);
        let mut y = vec![f32::NAN; len];
        rf::clamp_f32(lo, lo + width, &x, &mut y);
        for i in 0..len {
            prop_assert_eq!(y[i], x[i].max(lo).min(lo + width));
        }
    }
}

#[test]
fn clamp_nan_propagates_and_inf_is_clamped() {
    let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1.0, 3.0, 7.0];
    let mut y = [0.0f32; 6];
    rf::clamp_f32(0.0, 6.0, &x, &mut y);
    assert!(y[0].is_nan());
    assert_eq!(&y[1..], &[6.0, 0.0, 0.0, 3.0, 6.0]);
    rf::clamp_f32(f32::NEG_INFINITY, f32::INFINITY, &x, &mut y);
    assert!(y[0].is_nan());
    assert_eq!(&y[1..], &x[1..]);
    // Fused activations use the same clamp.
    let mut z = [0.0f32; 2];
    rf::add_f32(0.0, f32::INFINITY, &[f32::NAN, -1.0], &[1.0, 0.5], &mut z);
    assert!(z[0].is_nan());
    assert_eq!(z[1], 0.0);
}

// ---------------------------------------------------------------------------------------------
// Pooling and means

/// TFLite-style window bounds: `[start, end)` tap range that stays inside the input.
fn tap_range(o: usize, stride: usize, pad: usize, k: usize, size: usize) -> (usize, usize) {
    let origin = (o * stride) as isize - pad as isize;
    let start = (-origin).max(0) as usize;
    let end = (size as isize - origin).clamp(0, k as isize) as usize;
    (start, end.max(start))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pools_match_oracle(
        batch in 1usize..=2,
        in_h in prop_oneof![Just(1usize), 1usize..=10],
        in_w in prop_oneof![Just(1usize), 1usize..=10],
        c in channels(),
        k in (1usize..=5, 1usize..=5),
        stride in (1usize..=4, 1usize..=4),
        same in any::<bool>(),
        act in act_strategy(),
        seed in any::<u64>(),
    ) {
        // Pools have no dilation; TFLite SAME/VALID never produce an empty window.
        let g = window(batch, in_h, in_w, c, c, k, stride, (1, 1), if same { Pad::Same } else { Pad::Valid });
        let mut rng = Rng(seed);
        let input = rng.vec(g.in_len(), -3.0, 3.0);
        let mut max = vec![f32::NAN; g.out_len()];
        let mut avg = vec![f32::NAN; g.out_len()];
        rf::max_pool_f32(&g, act.0, act.1, &input, &mut max);
        rf::avg_pool_f32(&g, act.0, act.1, &input, &mut avg);
        for b in 0..g.batch {
            for oy in 0..g.out_h {
                let (y0, y1) = tap_range(oy, g.stride_h, g.pad_top, g.k_h, g.in_h);
                for ox in 0..g.out_w {
                    let (x0, x1) = tap_range(ox, g.stride_w, g.pad_left, g.k_w, g.in_w);
                    let count = (y1 - y0) * (x1 - x0);
                    prop_assert!(count > 0);
                    for ch in 0..c {
                        let taps = (y0..y1).flat_map(|ky| (x0..x1).map(move |kx| (ky, kx))).map(|(ky, kx)| {
                            let iy = oy * g.stride_h + ky - g.pad_top;
                            let ix = ox * g.stride_w + kx - g.pad_left;
                            input[((b * g.in_h + iy) * g.in_w + ix) * c + ch] as f64
                        });
                        let m = taps.clone().fold(f64::NEG_INFINITY, f64::max);
                        let sum: f64 = taps.clone().sum();
                        let s: f64 = taps.map(f64::abs).sum();
                        let i = ((b * g.out_h + oy) * g.out_w + ox) * c + ch;
                        prop_assert_eq!(max[i], clamp64(m, act.0, act.1) as f32, "max[{}]", i);
                        let tol = (1e-5 + count as f64 * U) * (s / count as f64 + 1.0);
                        check("avg", i, avg[i], clamp64(sum / count as f64, act.0, act.1), tol)?;
                    }
                }
            }
        }
    }

    #[test]
    fn mean_hw_matches_oracle(
        batch in 1usize..=2,
        h in prop_oneof![Just(1usize), 1usize..=24],
        w in prop_oneof![Just(1usize), 1usize..=24],
        c in channels(),
        offset in -4.0f32..4.0,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let input = rng.vec(batch * h * w * c, offset - 1.0, offset + 1.0);
        let mut out = vec![f32::NAN; batch * c];
        rf::mean_hw_f32(batch, h, w, c, &input, &mut out);
        let n = h * w;
        for b in 0..batch {
            for ch in 0..c {
                let plane = input[b * n * c..(b + 1) * n * c].iter().skip(ch).step_by(c).map(|&v| v as f64);
                let sum: f64 = plane.clone().sum();
                let s: f64 = plane.map(f64::abs).sum();
                check("mean", b * c + ch, out[b * c + ch], sum / n as f64, (1e-5 + n as f64 * U) * (s / n as f64 + 1.0))?;
            }
        }
    }
}

#[test]
fn avg_pool_divides_by_in_bounds_count() {
    // 2x2 input, 3x3 SAME window, stride 1: corner windows see 4 taps, not 9.
    let g = window(1, 2, 2, 1, 1, (3, 3), (1, 1), (1, 1), Pad::Same);
    let mut out = [0.0f32; 4];
    rf::avg_pool_f32(&g, f32::NEG_INFINITY, f32::INFINITY, &[1.0, 2.0, 3.0, 6.0], &mut out);
    assert_eq!(out, [3.0; 4]);
    // Max pool ignores padding even when every value is negative.
    rf::max_pool_f32(&g, f32::NEG_INFINITY, f32::INFINITY, &[-1.0, -2.0, -3.0, -6.0], &mut out);
    assert_eq!(out, [-1.0; 4]);
}

#[test]
fn mean_hw_large_plane() {
    // 64x64 plane: the tolerance's n*u term is what admits the long sequential sum.
    let (h, w, c) = (64, 64, 3);
    let mut rng = Rng(7);
    let input = rng.vec(h * w * c, 0.0, 1.0);
    let mut out = [0.0f32; 3];
    rf::mean_hw_f32(1, h, w, c, &input, &mut out);
    for (ch, &got) in out.iter().enumerate() {
        let plane: Vec<f64> = input.iter().skip(ch).step_by(c).map(|&v| v as f64).collect();
        let m = plane.iter().sum::<f64>() / (h * w) as f64;
        let s = plane.iter().map(|v| v.abs()).sum::<f64>() / (h * w) as f64;
        assert!((got as f64 - m).abs() <= (1e-5 + (h * w) as f64 * U) * (s + 1.0));
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn softmax_matches_oracle_and_rows_sum_to_one(
        rows in 1usize..=4,
        depth in prop_oneof![Just(1usize), Just(10), 1usize..=100],
        beta in prop_oneof![Just(1.0f32), 0.1f32..2.0],
        offset in prop_oneof![Just(0.0f32), -1000.0f32..1000.0],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let input = rng.vec(rows * depth, offset - 10.0, offset + 10.0);
        let mut out = vec![f32::NAN; rows * depth];
        rf::softmax_f32(rows, depth, beta, &input, &mut out);
        for r in 0..rows {
            let x = &input[r * depth..(r + 1) * depth];
            let y = &out[r * depth..(r + 1) * depth];
            let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let args: Vec<f64> = x.iter().map(|&v| (v as f64 - max) * beta as f64).collect();
            let denom: f64 = args.iter().map(|a| a.exp()).sum();
            for i in 0..depth {
                let y64 = args[i].exp() / denom;
                let tol = (1e-5 + (depth as f64 + 2.0 * args[i].abs()) * U) * y64 + 1e-9;
                check("softmax", r * depth + i, y[i], y64, tol)?;
            }
            let total: f64 = y.iter().map(|&v| v as f64).sum();
            prop_assert!((total - 1.0).abs() <= 1e-5 + 2.0 * depth as f64 * U, "row {} sums to {}", r, total);
        }
    }
}

#[test]
fn softmax_is_stable_for_huge_inputs() {
    let x = [1e30f32, 1e30, -1e30, 3e38];
    let mut y = [0.0f32; 4];
    rf::softmax_f32(1, 4, 1.0, &x, &mut y);
    assert_eq!(y, [0.0, 0.0, 0.0, 1.0]);
    rf::softmax_f32(2, 2, 1.0, &[88.0, 88.0, -100.0, -100.0], &mut y);
    assert_eq!(y, [0.5; 4]);
}

// ---------------------------------------------------------------------------------------------
// Instance norm

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn instance_norm_matches_oracle(
        batch in 1usize..=2,
        h in prop_oneof![Just(1usize), 1usize..=20],
        w in prop_oneof![Just(1usize), 1usize..=20],
        c in channels(),
        offset in prop_oneof![Just(0.0f32), -4.0f32..4.0],
        spread in prop_oneof![Just(1.0f32), 0.01f32..2.0],
        epsilon in prop_oneof![Just(1e-5f32), Just(1e-3f32)],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let n = h * w;
        let input = rng.vec(batch * n * c, offset - spread, offset + spread);
        let gamma = rng.vec(c, -2.0, 2.0);
        let beta = rng.vec(c, -1.0, 1.0);
        let mut out = vec![f32::NAN; input.len()];
        rf::instance_norm_f32(batch, h, w, c, epsilon, &gamma, &beta, &input, &mut out);
        // Oracle: gather each (b, c) plane, then textbook statistics in f64.
        for b in 0..batch {
            for ch in 0..c {
                let idx: Vec<usize> = (0..n).map(|p| (b * n + p) * c + ch).collect();
                let xs: Vec<f64> = idx.iter().map(|&i| input[i] as f64).collect();
                let mean = xs.iter().sum::<f64>() / n as f64;
                let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
                let sigma = (var + epsilon as f64).sqrt();
                let m_abs = xs.iter().map(|x| x.abs()).sum::<f64>() / n as f64;
                let (g, be) = (gamma[ch] as f64, beta[ch] as f64);
                for (&i, &x) in idx.iter().zip(&xs) {
                    let y64 = g * (x - mean) / sigma + be;
                    let tol = (1e-5 + n as f64 * U) * (g.abs() * (x.abs() + m_abs) / sigma + be.abs() + 1.0);
                    check("instance_norm", i, out[i], y64, tol)?;
                }
            }
        }
    }
}

#[test]
fn instance_norm_single_pixel_gives_beta() {
    let mut out = [0.0f32; 3];
    rf::instance_norm_f32(
        1,
        1,
        1,
        3,
        1e-5,
        &[2.0, -3.0, 0.5],
        &[0.25, -1.0, 7.0],
        &[123.0, -4.5, 0.0],
        &mut out,
    );
    assert_eq!(out, [0.25, -1.0, 7.0]);
}

#[test]
fn instance_norm_large_offset_two_pass() {
    // |mean| >> std: the one-pass E[x^2] - E[x]^2 formula would lose everything here.
    let (h, w) = (16, 16);
    let mut rng = Rng(11);
    let input: Vec<f32> = (0..h * w).map(|_| 1000.0 + rng.uniform(-0.5, 0.5)).collect();
    let mut out = vec![0.0f32; h * w];
    rf::instance_norm_f32(1, h, w, 1, 1e-5, &[1.0], &[0.0], &input, &mut out);
    let xs: Vec<f64> = input.iter().map(|&v| v as f64).collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    let sigma = (var + 1e-5).sqrt();
    for (y, x) in out.iter().zip(&xs) {
        let tol = (1e-5 + (h * w) as f64 * U) * ((x.abs() + 1000.0) / sigma + 1.0);
        assert!((*y as f64 - (x - mean) / sigma).abs() <= tol);
    }
    // Sharper than the generic bound: the normalized plane has mean 0 and std ~1.
    let ys: Vec<f64> = out.iter().map(|&v| v as f64).collect();
    let ym = ys.iter().sum::<f64>() / ys.len() as f64;
    let ysd = (ys.iter().map(|y| (y - ym).powi(2)).sum::<f64>() / ys.len() as f64).sqrt();
    assert!(ym.abs() < 1e-2, "mean {ym}");
    assert!((ysd - (var / (var + 1e-5)).sqrt()).abs() < 1e-3, "std {ysd}");
}

// ---------------------------------------------------------------------------------------------
// Transposed conv and tanh

/// The transposed-conv kernel against an f64 oracle in scatter form: every input pixel and tap
/// adds its products to the full output `(in - 1)*stride + dil*(k - 1) + 1` rows/columns
/// tall/wide, which is then cropped by `crop_top/left` (the pads before) to `out_h × out_w`.
#[allow(clippy::too_many_arguments)]
fn run_transpose_conv(g: Window2d, act: (f32, f32), seed: u64, with_bias: bool) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let input = rng.vec(g.in_len(), -2.0, 2.0);
    let filter = rng.vec(g.out_c * g.k_h * g.k_w * g.in_c, -1.0, 1.0);
    let bias = if with_bias { rng.vec(g.out_c, -1.0, 1.0) } else { Vec::new() };
    let mut out = vec![f32::NAN; g.out_len()];
    rf::transpose_conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut out);

    let fh = (g.in_h - 1) * g.stride_h + (g.k_h - 1) * g.dil_h + 1;
    let fw = (g.in_w - 1) * g.stride_w + (g.k_w - 1) * g.dil_w + 1;
    let mut full = vec![0.0f64; g.batch * fh * fw * g.out_c];
    let mut abs = vec![0.0f64; full.len()];
    for (i, &x) in input.iter().enumerate() {
        let ic = i % g.in_c;
        let ix = (i / g.in_c) % g.in_w;
        let iy = (i / (g.in_c * g.in_w)) % g.in_h;
        let b = i / (g.in_c * g.in_w * g.in_h);
        for (t, &w) in filter.iter().enumerate() {
            if t % g.in_c != ic {
                continue;
            }
            let kx = (t / g.in_c) % g.k_w;
            let ky = (t / (g.in_c * g.k_w)) % g.k_h;
            let oc = t / (g.in_c * g.k_w * g.k_h);
            let (y, xx) = (iy * g.stride_h + ky * g.dil_h, ix * g.stride_w + kx * g.dil_w);
            let j = ((b * fh + y) * fw + xx) * g.out_c + oc;
            let term = x as f64 * w as f64;
            full[j] += term;
            abs[j] += term.abs();
        }
    }
    let n = g.k_h * g.k_w * g.in_c + 1;
    for (i, &y) in out.iter().enumerate() {
        let oc = i % g.out_c;
        let ox = (i / g.out_c) % g.out_w;
        let oy = (i / (g.out_c * g.out_w)) % g.out_h;
        let b = i / (g.out_c * g.out_w * g.out_h);
        let j = ((b * fh + oy + g.pad_top) * fw + ox + g.pad_left) * g.out_c + oc;
        let b0 = bias.get(oc).copied().unwrap_or(0.0) as f64;
        let (y64, s) = (full[j] + b0, abs[j] + b0.abs());
        check("transpose_conv", i, y, clamp64(y64, act.0, act.1), (1e-5 + n as f64 * U) * (s + 1.0))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random geometry: input 1..=6, kernel 1..=5, stride 1..=4 (often larger than the kernel,
    /// leaving outputs that only get the bias), dilation 1..=3, crops up to the full size − 1.
    #[test]
    fn transpose_conv2d_matches_f64_scatter_oracle(
        batch in 1usize..=2,
        (in_h, in_w) in (1usize..=6, 1usize..=6),
        (k_h, k_w) in (1usize..=5, 1usize..=5),
        (stride_h, stride_w) in (1usize..=4, 1usize..=4),
        (dil_h, dil_w) in prop_oneof![Just((1usize, 1usize)), (1usize..=3, 1usize..=3)],
        crops in (0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0),
        in_c in channels(),
        out_c in channels(),
        act in act_strategy(),
        with_bias in prop::bool::weighted(0.85),
        seed in any::<u64>(),
    ) {
        let fh = (in_h - 1) * stride_h + (k_h - 1) * dil_h + 1;
        let fw = (in_w - 1) * stride_w + (k_w - 1) * dil_w + 1;
        // Crops before/after with before + after <= full − 1.
        let split = |full: usize, a: f64, b: f64| {
            let total = ((full - 1) as f64 * a) as usize;
            let before = (total as f64 * b) as usize;
            (before, total - before)
        };
        let (top, bottom) = split(fh, crops.0, crops.1);
        let (left, right) = split(fw, crops.2, crops.3);
        let g = Window2d {
            batch, in_h, in_w, in_c,
            out_h: fh - top - bottom, out_w: fw - left - right, out_c,
            k_h, k_w, stride_h, stride_w, dil_h, dil_w,
            pad_top: top, pad_left: left,
        };
        run_transpose_conv(g, act, seed, with_bias)?;
    }

    #[test]
    fn tanh_matches_f64(seed in any::<u64>(), len in 1usize..=200) {
        let mut rng = Rng(seed);
        let input: Vec<f32> = (0..len).map(|i| if i % 2 == 0 { rng.wide() } else { rng.uniform(-10.0, 10.0) }).collect();
        let mut out = vec![f32::NAN; len];
        rf::tanh_f32(&input, &mut out);
        for (i, (&x, &y)) in input.iter().zip(&out).enumerate() {
            let y64 = (x as f64).tanh();
            check("tanh", i, y, y64, 4.0 * U * y64.abs() + f64::from(f32::MIN_POSITIVE))?;
        }
    }
}

/// The fast-neural-style upsampling geometry by hand: a single input pixel, 3×3 kernel, stride 2,
/// pads 1 (+ output_padding 1 folded into the end pad: 1 − 1 = 0) gives a 2×2 output that sees
/// the taps (1, 1), (1, 2), (2, 1), (2, 2) of the filter.
#[test]
fn transpose_conv2d_single_pixel_places_taps() {
    let g = Window2d {
        batch: 1,
        in_h: 1,
        in_w: 1,
        in_c: 1,
        out_h: 2,
        out_w: 2,
        out_c: 1,
        k_h: 3,
        k_w: 3,
        stride_h: 2,
        stride_w: 2,
        dil_h: 1,
        dil_w: 1,
        pad_top: 1,
        pad_left: 1,
    };
    let filter: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let mut out = [0.0f32; 4];
    rf::transpose_conv2d_f32(&g, f32::NEG_INFINITY, f32::INFINITY, &[2.0], &filter, &[0.5], &mut out);
    assert_eq!(out, [2.0 * 4.0 + 0.5, 2.0 * 5.0 + 0.5, 2.0 * 7.0 + 0.5, 2.0 * 8.0 + 0.5]);
}

#[test]
fn tanh_nan_propagates_and_inf_saturates() {
    let mut out = [0.0f32; 4];
    rf::tanh_f32(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0], &mut out);
    assert!(out[0].is_nan());
    assert_eq!(&out[1..], &[1.0, -1.0, 0.0]);
}
