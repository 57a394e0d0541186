//! Differential tests: `best::int8` (the NEON kernels on ARMv7 / AArch64, the reference itself
//! elsewhere) against `reference::int8`, **bit-exact**.
//!
//! Architecture-agnostic: run them under `qemu-arm -cpu cortex-a9` and `qemu-aarch64 -cpu
//! cortex-a53` (the cargo runners) to test the NEON kernels.
//!
//! What the shapes and parameters cover, per kernel family:
//! * tails of every tile: channel counts, K and widths of 1, 3, 7, 15, 16, 17, 33, 65, …;
//!   1×1 images, kernels larger than the input (SAME padding), stride 2 and 3, dilation,
//!   batch 2, FC with `batch < 4` and `in_len < 16`;
//! * quantization at the edges: input / output zero points −128 and 127 (and invalid ones, which
//!   must fall back), multipliers near 2^31 and at 2^30, shifts over all of −31..30 (and wild
//!   ones, which the reference clamps), both rounding modes, inverted activation ranges, biases
//!   that wrap the accumulator, extreme data (all ±128/127), weights of −128 (outside the TFLite
//!   spec: the NEON paths must detect them and still agree);
//! * exact ties of both rounding modes, swept deterministically through the bias
//!   ([`requantization_ties_and_edges`]) and hit often by the tie-prone ADD parameters.

use doppler_kernels::best::int8 as best;
use doppler_kernels::reference::int8 as refk;
use doppler_kernels::reference::int8::{AddParams, ConvQuant};
use doppler_kernels::reference::quant::Rounding;
use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

// =============================================================================================
// Data
// =============================================================================================

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// 0: uniform; 1: only −128 / 127 (accumulator stress); 2: small values; 3: uniform in
    /// [−127, 127] and extremes ±127 (inputs without −128 take the int8 GEMV path of FC).
    fn i8(&mut self, mode: u8) -> i8 {
        let r = self.next();
        match mode {
            1 => {
                if r & 1 == 0 {
                    -128
                } else {
                    127
                }
            }
            2 => ((r % 7) as i32 - 3) as i8,
            3 => {
                if r & 3 == 0 {
                    if r & 4 == 0 {
                        -127
                    } else {
                        127
                    }
                } else {
                    (r as u8 as i8).max(-127)
                }
            }
            _ => r as u8 as i8,
        }
    }
    fn vec_i8(&mut self, n: usize, mode: u8) -> Vec<i8> {
        (0..n).map(|_| self.i8(mode)).collect()
    }
    /// Weights in [−127, 127] (TFLite spec), unless `minus128`: then a few −128 are planted.
    fn vec_w(&mut self, n: usize, mode: u8, minus128: bool) -> Vec<i8> {
        let mut w: Vec<i8> = (0..n).map(|_| self.i8(mode).max(-127)).collect();
        if minus128 && n > 0 {
            for _ in 0..1 + n / 50 {
                let i = (self.next() % n as u64) as usize;
                w[i] = -128;
            }
        }
        w
    }
}

// =============================================================================================
// Strategies
// =============================================================================================

/// Output size and leading padding of one axis (TFLite: VALID, or SAME when asked or when VALID
/// would leave no output).
fn tfl_padding(in_size: usize, k: usize, stride: usize, dil: usize, same: bool) -> (usize, usize) {
    let eff = (k - 1) * dil + 1;
    if !same && in_size >= eff {
        ((in_size - eff) / stride + 1, 0)
    } else {
        let out = in_size.div_ceil(stride);
        let total = ((out - 1) * stride + eff).saturating_sub(in_size);
        (out, total / 2)
    }
}

fn window(
    batch: usize,
    (in_h, in_w): (usize, usize),
    (in_c, out_c): (usize, usize),
    (k_h, k_w): (usize, usize),
    (stride_h, stride_w): (usize, usize),
    (dil_h, dil_w): (usize, usize),
    same: bool,
) -> Window2d {
    let (out_h, pad_top) = tfl_padding(in_h, k_h, stride_h, dil_h, same);
    let (out_w, pad_left) = tfl_padding(in_w, k_w, stride_w, dil_w, same);
    Window2d {
        batch,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        k_h,
        k_w,
        stride_h,
        stride_w,
        dil_h,
        dil_w,
        pad_top,
        pad_left,
    }
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![Just(Rounding::Double), Just(Rounding::Single)]
}

/// Valid int8 zero points with the extremes over-represented, and rarely an invalid one.
fn zero_point() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => Just(-128),
        3 => Just(127),
        2 => Just(0),
        8 => -128i32..=127,
        1 => prop_oneof![Just(-129), Just(128), Just(1000), Just(-70000)],
    ]
}

/// Q0.31 multipliers, edges over-represented; rarely outside the valid range.
fn multiplier() -> impl Strategy<Value = i32> {
    prop_oneof![
        8 => (1i32 << 30)..=i32::MAX,
        2 => Just(1i32 << 30),
        2 => Just(i32::MAX),
        1 => Just(i32::MAX - 1),
        1 => Just(3 << 29),
        1 => prop_oneof![Just(0), Just(i32::MIN), Just(-1), Just(1)],
    ]
}

/// Mostly shifts that keep conv outputs in range; also all of −31..30 and a few wild ones.
fn shift() -> impl Strategy<Value = i32> {
    prop_oneof![10 => -14i32..=-2, 4 => -31i32..=30, 1 => prop_oneof![Just(31), Just(-32), Just(40), Just(-100)]]
}

fn act_range() -> impl Strategy<Value = (i8, i8)> {
    prop_oneof![
        4 => Just((-128i8, 127i8)),
        2 => (any::<i8>(), any::<i8>()).prop_map(|(a, b)| (a.min(b), a.max(b))),
        1 => (any::<i8>(), any::<i8>()).prop_map(|(a, b)| (a.max(b), a.min(b))), // inverted
    ]
}

#[derive(Debug, Clone)]
struct QCase {
    input_zp: i32,
    output_zp: i32,
    rounding: Rounding,
    act: (i8, i8),
    mults: Vec<i32>,
    shifts: Vec<i32>,
    /// 0: no bias, 1: small bias, 2: any i32 (wraps the accumulator).
    bias_kind: u8,
    mode: u8,
    minus128: bool,
    seed: u64,
}

/// Enough per-channel parameters for the largest channel count below.
const MAX_CH: usize = 130;

prop_compose! {
    fn qcase()(
        input_zp in zero_point(),
        output_zp in prop_oneof![8 => zero_point(), 1 => Just(300i32)],
        rounding in rounding(),
        act in act_range(),
        mults in prop::collection::vec(multiplier(), MAX_CH),
        shifts in prop::collection::vec(shift(), MAX_CH),
        bias_kind in prop_oneof![1 => Just(0u8), 4 => Just(1u8), 1 => Just(2u8)],
        mode in prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 2 => Just(3u8)],
        minus128 in prop::bool::weighted(0.08),
        seed in any::<u64>(),
    ) -> QCase {
        QCase { input_zp, output_zp, rounding, act, mults, shifts, bias_kind, mode, minus128, seed }
    }
}

impl QCase {
    fn bias(&self, rng: &mut Rng, n: usize) -> Vec<i32> {
        match self.bias_kind {
            0 => Vec::new(),
            1 => (0..n).map(|_| (rng.next() % 40001) as i32 - 20000).collect(),
            _ => (0..n).map(|_| rng.next() as u32 as i32).collect(),
        }
    }
}

/// The quantization parameters of a case, for `n` output channels.
fn conv_quant<'a>(c: &QCase, mults: &'a [i32], shifts: &'a [i32]) -> ConvQuant<'a> {
    ConvQuant {
        input_zp: c.input_zp,
        output_zp: c.output_zp,
        multipliers: mults,
        shifts,
        rounding: c.rounding,
        act_min: c.act.0,
        act_max: c.act.1,
    }
}

/// Input-channel counts: tails of 16 (and of 8) everywhere.
const IN_C: &[usize] = &[1, 3, 7, 8, 15, 16, 17, 32, 33, 65];
/// Output-channel counts: tails of the 2-channel tile and of the 32-channel block.
const OUT_C: &[usize] = &[1, 2, 3, 7, 17, 33, 65];

fn conv_macs(g: &Window2d) -> usize {
    g.batch * g.out_h * g.out_w * g.out_c * g.k_h * g.k_w * g.in_c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, max_global_rejects: 4096, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_matches_reference(
        batch in prop_oneof![4 => Just(1usize), 1 => Just(2usize)],
        in_hw in (1usize..=9, 1usize..=9),
        chans in (prop::sample::select(IN_C), prop::sample::select(OUT_C)),
        k in prop_oneof![3 => Just((3usize, 3usize)), 2 => Just((1, 1)), 2 => (1usize..=5, 1usize..=5), 1 => Just((9, 9))],
        stride in prop_oneof![2 => Just((1usize, 1usize)), 2 => Just((2, 2)), 1 => (1usize..=3, 1usize..=3)],
        dil in prop_oneof![5 => Just((1usize, 1usize)), 1 => (1usize..=2, 1usize..=2)],
        same in any::<bool>(),
        c in qcase(),
    ) {
        let g = window(batch, in_hw, chans, k, stride, dil, same);
        prop_assume!(conv_macs(&g) <= 300_000);
        let mut rng = Rng(c.seed);
        let input = rng.vec_i8(g.in_len(), c.mode);
        let filter = rng.vec_w(g.out_c * g.k_h * g.k_w * g.in_c, c.mode, c.minus128);
        let bias = c.bias(&mut rng, g.out_c);
        let q = conv_quant(&c, &c.mults[..g.out_c], &c.shifts[..g.out_c]);
        let mut want = vec![0i8; g.out_len()];
        let mut got = vec![0x55i8; g.out_len()];
        refk::conv2d_i8(&g, &q, &input, &filter, &bias, &mut want);
        best::conv2d_i8(&g, &q, &input, &filter, &bias, &mut got);
        prop_assert_eq!(got, want, "{:?}", g);
    }

    #[test]
    fn depthwise_matches_reference(
        batch in prop_oneof![4 => Just(1usize), 1 => Just(2usize)],
        in_hw in (1usize..=9, 1usize..=9),
        in_c in prop::sample::select(&[1usize, 3, 15, 16, 17, 20, 33, 48, 64, 65, 80, 130][..]),
        dm in prop_oneof![6 => Just(1usize), 1 => Just(2usize)],
        k in prop_oneof![6 => Just((3usize, 3usize)), 1 => (1usize..=5, 1usize..=5)],
        stride in prop_oneof![2 => Just((1usize, 1usize)), 2 => Just((2, 2)), 1 => (1usize..=3, 1usize..=3)],
        dil in prop_oneof![5 => Just((1usize, 1usize)), 1 => (1usize..=2, 1usize..=2)],
        same in any::<bool>(),
        c in qcase(),
    ) {
        let out_c = in_c * dm;
        prop_assume!(out_c <= MAX_CH);
        let g = window(batch, in_hw, (in_c, out_c), k, stride, dil, same);
        let mut rng = Rng(c.seed);
        let input = rng.vec_i8(g.in_len(), c.mode);
        let filter = rng.vec_w(g.k_h * g.k_w * out_c, c.mode, c.minus128);
        let bias = c.bias(&mut rng, out_c);
        let q = conv_quant(&c, &c.mults[..out_c], &c.shifts[..out_c]);
        let mut want = vec![0i8; g.out_len()];
        let mut got = vec![0x55i8; g.out_len()];
        refk::depthwise_conv2d_i8(&g, dm, &q, &input, &filter, &bias, &mut want);
        best::depthwise_conv2d_i8(&g, dm, &q, &input, &filter, &bias, &mut got);
        prop_assert_eq!(got, want, "{:?} dm {}", g, dm);
    }

    #[test]
    fn fully_connected_matches_reference(
        batch in prop_oneof![3 => 1usize..=3, 2 => 4usize..=9],
        in_len in prop::sample::select(&[1usize, 3, 7, 15, 16, 17, 33, 64, 65, 100, 257, 1000, 1936, 4100][..]),
        out_len in prop::sample::select(&[1usize, 2, 3, 7, 17, 32, 33, 65, 130][..]),
        c in qcase(),
    ) {
        let mut rng = Rng(c.seed);
        let input = rng.vec_i8(batch * in_len, c.mode);
        let weights = rng.vec_w(out_len * in_len, c.mode, c.minus128);
        let bias = c.bias(&mut rng, out_len);
        let q = conv_quant(&c, &c.mults[..out_len], &c.shifts[..out_len]);
        let mut want = vec![0i8; batch * out_len];
        let mut got = vec![0x55i8; batch * out_len];
        refk::fully_connected_i8(batch, in_len, out_len, &q, &input, &weights, &bias, &mut want);
        best::fully_connected_i8(batch, in_len, out_len, &q, &input, &weights, &bias, &mut got);
        prop_assert_eq!(got, want, "batch {} in {} out {}", batch, in_len, out_len);
    }
}

// =============================================================================================
// ADD
// =============================================================================================

/// ADD parameters: from real scales (`add_params`), or built directly from tie-prone values
/// (multipliers 1/2 and 3/4, small shifts, any left shift), or wild (any shift).
fn add_case() -> impl Strategy<Value = AddParams> {
    let scales = (
        (-10.0f64..2.0).prop_map(f64::exp2),
        (-10.0f64..2.0).prop_map(f64::exp2),
        (-10.0f64..2.0).prop_map(f64::exp2),
        zero_point(),
        zero_point(),
        zero_point(),
        act_range(),
        rounding(),
    )
        .prop_map(|(s1, s2, so, z1, z2, zo, (lo, hi), r)| {
            refk::add_params(s1, z1, s2, z2, so, zo, lo, hi, r)
        });
    let ties = (
        prop::sample::select(&[1i32 << 30, 3 << 29, i32::MAX][..]),
        prop::sample::select(&[1i32 << 30, 3 << 29, i32::MAX][..]),
        prop::sample::select(&[1i32 << 30, 3 << 29][..]),
        (-4i32..=0, -4i32..=0, -24i32..=0),
        0i32..=20,
        (zero_point(), zero_point(), zero_point()),
        act_range(),
        rounding(),
    )
        .prop_map(|(m1, m2, mo, (s1, s2, so), left, (z1, z2, zo), (lo, hi), r)| AddParams {
            input1_zp: z1,
            input2_zp: z2,
            output_zp: zo,
            left_shift: left,
            input1_multiplier: m1,
            input1_shift: s1,
            input2_multiplier: m2,
            input2_shift: s2,
            output_multiplier: mo,
            output_shift: so,
            rounding: r,
            act_min: lo,
            act_max: hi,
        });
    let wild = (
        (multiplier(), multiplier(), multiplier()),
        (shift(), shift(), shift()),
        prop_oneof![Just(20i32), -3i32..=40],
        (zero_point(), zero_point(), zero_point()),
        act_range(),
        rounding(),
    )
        .prop_map(|((m1, m2, mo), (s1, s2, so), left, (z1, z2, zo), (lo, hi), r)| AddParams {
            input1_zp: z1,
            input2_zp: z2,
            output_zp: zo,
            left_shift: left,
            input1_multiplier: m1,
            input1_shift: s1,
            input2_multiplier: m2,
            input2_shift: s2,
            output_multiplier: mo,
            output_shift: so,
            rounding: r,
            act_min: lo,
            act_max: hi,
        });
    prop_oneof![3 => scales, 2 => ties, 1 => wild]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn add_matches_reference(
        p in add_case(),
        len in prop_oneof![3 => 1usize..=40, 1 => Just(8usize), 1 => Just(16usize), 1 => 100usize..=300],
        mode in 0u8..3,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let a = rng.vec_i8(len, mode);
        let b = rng.vec_i8(len, mode);
        let mut want = vec![0i8; len];
        let mut got = vec![0x55i8; len];
        refk::add_i8(&p, &a, &b, &mut want);
        best::add_i8(&p, &a, &b, &mut got);
        prop_assert_eq!(got, want, "{:?}", p);
    }
}

// =============================================================================================
// Deterministic sweeps
// =============================================================================================

/// Every accumulator in −600..=600 (and the i32 extremes), through the conv epilogue, for
/// multipliers and shifts that put many of them on exact ties of SRDHM and of RDBPOT, in both
/// rounding modes: the input equals its zero point, so the accumulator is exactly the bias.
#[test]
fn requantization_ties_and_edges() {
    let mut accs: Vec<i32> = (-600..=600).collect();
    accs.extend([i32::MIN, i32::MIN + 1, -(1 << 30), (1 << 30) - 1, 1 << 30, i32::MAX - 1, i32::MAX]);
    let params: &[(i32, i32)] = &[
        (1 << 30, 0),
        (1 << 30, -1),
        (1 << 30, -2),
        (1 << 30, -3),
        (1 << 30, -5),
        (3 << 29, -1),
        (3 << 29, -4),
        (i32::MAX, -1),
        (i32::MAX, -31),
        (1 << 30, 1),
        (1 << 30, 30),
        (i32::MIN, 0),
        (i32::MIN, -2),
        (0, 0),
        (1, 31),
        (1 << 30, -32),
        (5 << 28, 40),
    ];
    for rounding in [Rounding::Double, Rounding::Single] {
        for &(m, s) in params {
            for (zx, zo, lo, hi) in [(0, 0, -128i8, 127i8), (-128, 5, -128, 127), (127, -128, -20, 90)] {
                // FC with in_len 16 (NEON path) and 1 batch row; one output channel per accumulator.
                let n = accs.len();
                let input = vec![zx as i8; 16];
                let mut rng = Rng(m as u64 ^ s as u64);
                let weights = rng.vec_w(n * 16, 0, false);
                // Σ (x − zx)·w = 0, so acc = bias.
                let bias = accs.clone();
                let mults = vec![m; n];
                let shifts = vec![s; n];
                let q = ConvQuant {
                    input_zp: zx,
                    output_zp: zo,
                    multipliers: &mults,
                    shifts: &shifts,
                    rounding,
                    act_min: lo,
                    act_max: hi,
                };
                let mut want = vec![0i8; n];
                let mut got = vec![0x55i8; n];
                refk::fully_connected_i8(1, 16, n, &q, &input, &weights, &bias, &mut want);
                best::fully_connected_i8(1, 16, n, &q, &input, &weights, &bias, &mut got);
                assert_eq!(got, want, "M {m} shift {s} {rounding:?} zx {zx}");
            }
        }
    }
}

/// ADD with inputs on exact ties of each stage: `x − zp` odd with multiplier 1/2.
#[test]
fn add_ties() {
    let a: Vec<i8> = (-128..=127).collect();
    let b: Vec<i8> = (-128..=127).rev().collect();
    for rounding in [Rounding::Double, Rounding::Single] {
        for left in [0, 1, 20] {
            for (s1, s2, so) in [(0, 0, 0), (-1, -1, -1), (-1, -2, -3), (0, -1, 0)] {
                for (m1, m2, mo) in [(1 << 30, 1 << 30, 1 << 30), (3 << 29, 1 << 30, 3 << 29)] {
                    let p = AddParams {
                        input1_zp: 3,
                        input2_zp: -128,
                        output_zp: -7,
                        left_shift: left,
                        input1_multiplier: m1,
                        input1_shift: s1 - left,
                        input2_multiplier: m2,
                        input2_shift: s2 - left,
                        output_multiplier: mo,
                        output_shift: so,
                        rounding,
                        act_min: -128,
                        act_max: 127,
                    };
                    let mut want = vec![0i8; 256];
                    let mut got = vec![0x55i8; 256];
                    refk::add_i8(&p, &a, &b, &mut want);
                    best::add_i8(&p, &a, &b, &mut got);
                    assert_eq!(got, want, "{p:?}");
                }
            }
        }
    }
}

/// Layer-sized shapes the engine runs (bigger than the random ones): 3×3 SAME over 256
/// channels, 1×1 over 64, FC 1024→10, depthwise 3×3 stride 2.
#[test]
fn layer_shapes() {
    let mut rng = Rng(42);
    let mults: Vec<i32> = (0..256).map(|_| (1 << 30) + (rng.next() % (1 << 30)) as i32).collect();
    let shifts: Vec<i32> = (0..256).map(|_| -9 - (rng.next() % 4) as i32).collect();
    for rounding in [Rounding::Double, Rounding::Single] {
        let q = ConvQuant {
            input_zp: -3,
            output_zp: 9,
            multipliers: &mults,
            shifts: &shifts,
            rounding,
            act_min: -128,
            act_max: 127,
        };
        let cases = [
            window(1, (5, 6), (256, 40), (3, 3), (1, 1), (1, 1), true),
            window(1, (7, 7), (64, 64), (1, 1), (1, 1), (1, 1), false),
            window(1, (8, 8), (24, 48), (3, 3), (2, 2), (1, 1), true),
            // First layers on one channel (K = 9 < 16): the study's stride-2 stem and a
            // stride-1 one, SAME (padding taps) and VALID.
            window(1, (28, 28), (1, 32), (3, 3), (2, 2), (1, 1), true),
            window(1, (28, 28), (1, 32), (3, 3), (1, 1), (1, 1), true),
            window(1, (13, 11), (1, 64), (3, 3), (1, 1), (1, 1), false),
            window(1, (9, 9), (3, 5), (2, 2), (1, 1), (1, 1), true),
            // 9×9 windows (81 taps, the style networks' last layer, 32 → 3): VALID after an
            // explicit reflect pad (merged rows of taps), and SAME (padding taps, one segment each).
            window(1, (12, 11), (32, 3), (9, 9), (1, 1), (1, 1), false),
            window(1, (10, 10), (32, 3), (9, 9), (1, 1), (1, 1), true),
            // 9×9 on three channels (K = 243, the style networks' first layer, 3 → 32).
            window(1, (12, 11), (3, 32), (9, 9), (1, 1), (1, 1), false),
            window(1, (9, 9), (3, 8), (9, 9), (2, 2), (1, 1), true),
        ];
        for g in cases {
            let q = ConvQuant { multipliers: &mults[..g.out_c], shifts: &shifts[..g.out_c], ..q };
            let input = rng.vec_i8(g.in_len(), 0);
            let filter = rng.vec_w(g.out_c * g.k_h * g.k_w * g.in_c, 0, false);
            let bias: Vec<i32> = (0..g.out_c).map(|_| (rng.next() % 2001) as i32 - 1000).collect();
            let mut want = vec![0i8; g.out_len()];
            let mut got = vec![0i8; g.out_len()];
            refk::conv2d_i8(&g, &q, &input, &filter, &bias, &mut want);
            best::conv2d_i8(&g, &q, &input, &filter, &bias, &mut got);
            assert_eq!(got, want, "{g:?}");
        }
        let g = window(1, (9, 9), (96, 96), (3, 3), (2, 2), (1, 1), true);
        let qd = ConvQuant { multipliers: &mults[..96], shifts: &shifts[..96], ..q };
        let input = rng.vec_i8(g.in_len(), 0);
        let filter = rng.vec_w(9 * 96, 0, false);
        let mut want = vec![0i8; g.out_len()];
        let mut got = vec![0i8; g.out_len()];
        refk::depthwise_conv2d_i8(&g, 1, &qd, &input, &filter, &[], &mut want);
        best::depthwise_conv2d_i8(&g, 1, &qd, &input, &filter, &[], &mut got);
        assert_eq!(got, want);
        // FC, GEMV path (no −128 in the input; weights of −128 allowed there) and GEMM path.
        for (batch, in_len, mode) in [(1usize, 1024usize, 3u8), (2, 4000, 3), (3, 1024, 0)] {
            let qf = ConvQuant { multipliers: &mults[..10], shifts: &shifts[..10], ..q };
            let input = rng.vec_i8(batch * in_len, mode);
            let weights = rng.vec_w(10 * in_len, 1, mode == 3);
            let mut want = vec![0i8; batch * 10];
            let mut got = vec![0i8; batch * 10];
            refk::fully_connected_i8(batch, in_len, 10, &qf, &input, &weights, &[], &mut want);
            best::fully_connected_i8(batch, in_len, 10, &qf, &input, &weights, &[], &mut got);
            assert_eq!(got, want, "fc {batch}x{in_len}");
        }
    }
}

/// Long FC rows of constant extreme weights (127, −127, −128) against inputs without −128:
/// the worst case for the i16 lanes in which the GEMV kernel accumulates Σw (and for its
/// periodic flush), and rows that must leave the GEMV path (an input of −128).
#[test]
fn fc_extreme_rows() {
    let mut rng = Rng(9);
    for in_len in [1936usize, 1937, 4100] {
        let out_len = 7;
        let mut weights = Vec::with_capacity(out_len * in_len);
        for fill in [127i8, -127, -128, 127, -128, 1, -1] {
            weights.extend_from_slice(&vec![fill; in_len]);
        }
        let mults = vec![1 << 30; out_len];
        let shifts = vec![-20; out_len];
        for (zx, x_mode) in [(-128, 3u8), (127, 3), (0, 0)] {
            for rounding in [Rounding::Double, Rounding::Single] {
                let q = ConvQuant {
                    input_zp: zx,
                    output_zp: 0,
                    multipliers: &mults,
                    shifts: &shifts,
                    rounding,
                    act_min: -128,
                    act_max: 127,
                };
                for batch in [1usize, 2] {
                    let mut input = rng.vec_i8(batch * in_len, x_mode);
                    if x_mode == 3 {
                        input[..in_len].fill(127);
                    }
                    let mut want = vec![0i8; batch * out_len];
                    let mut got = vec![0x55i8; batch * out_len];
                    refk::fully_connected_i8(batch, in_len, out_len, &q, &input, &weights, &[], &mut want);
                    best::fully_connected_i8(batch, in_len, out_len, &q, &input, &weights, &[], &mut got);
                    assert_eq!(got, want, "in_len {in_len} zx {zx} mode {x_mode} {rounding:?} batch {batch}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// MEAN over H×W: channel counts around the 8-channel groups of the optimized kernel, both
    /// runtimes' variants (TFLM divide-by-count, TFLite folded multiplier), extreme data and
    /// zero points (including invalid ones: the sums wrap like the reference's).
    #[test]
    fn mean_matches_reference(
        batch in 1usize..=2,
        h in 1usize..=9,
        w in 1usize..=9,
        c in prop::sample::select(&[1usize, 3, 7, 8, 9, 15, 16, 17, 33, 64, 128, 130][..]),
        input_zp in zero_point(),
        output_zp in zero_point(),
        multiplier in multiplier(),
        shift in shift(),
        rounding in rounding(),
        divide_by_count in any::<bool>(),
        mode in 0u8..4,
        seed in any::<u64>(),
    ) {
        let p = refk::MeanParams { input_zp, output_zp, multiplier, shift, rounding, divide_by_count };
        let input = Rng(seed).vec_i8(batch * h * w * c, mode);
        let mut want = vec![0i8; batch * c];
        let mut got = vec![0x55i8; batch * c];
        refk::mean_hw_i8(batch, h, w, c, &p, &input, &mut want);
        best::mean_hw_i8(batch, h, w, c, &p, &input, &mut got);
        prop_assert_eq!(got, want);
    }
}

/// MEAN over the study models' last feature map (7×7×128) and a large plane.
#[test]
fn mean_layer_shapes() {
    let mut rng = Rng(7);
    for (h, w, c, zp) in
        [(7usize, 7usize, 128usize, -128i32), (7, 7, 128, 5), (56, 56, 24, 127), (1, 1, 10, 0)]
    {
        for divide_by_count in [false, true] {
            let p = refk::MeanParams {
                input_zp: zp,
                output_zp: -3,
                multiplier: 1_518_500_250,
                shift: -5,
                rounding: Rounding::Double,
                divide_by_count,
            };
            let input = rng.vec_i8(h * w * c, 0);
            let mut want = vec![0i8; c];
            let mut got = vec![0i8; c];
            refk::mean_hw_i8(1, h, w, c, &p, &input, &mut want);
            best::mean_hw_i8(1, h, w, c, &p, &input, &mut got);
            assert_eq!(got, want, "{h}x{w}x{c}");
        }
    }
}
