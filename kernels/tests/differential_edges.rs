//! Differential edge cases: `best::*` against `reference::*` (written with the AArch64 kernels in mind, run on every target).
//!
//! int8: bit-exact on every output. Shapes are chosen to hit every microkernel width (pixel
//! counts 1..=13), channel tails (`out_c % 4`), depth tails (`in_c % 16`), the gathered
//! `in_c < 16` path, the fallback shapes, `−128` weights, exact requantization ties in both
//! rounding modes (multipliers `2^30`, small right shifts) and zero points at both ends.
//! f32: within the tolerance documented in `tests/reference_f32.rs`.

use doppler_kernels::best;
use doppler_kernels::reference;
use doppler_kernels::reference::int8::{AddParams, ConvQuant};
use doppler_kernels::reference::quant::Rounding;
use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// mode 0: full range; 1: extremes only; 2: small values.
    fn i8(&mut self, mode: u8) -> i8 {
        match mode {
            0 => self.next() as i8,
            1 => [-128i8, -127, 127, 126, 0][self.below(5) as usize],
            _ => (self.below(7) as i8) - 3,
        }
    }
    fn vec_i8(&mut self, n: usize, mode: u8) -> Vec<i8> {
        (0..n).map(|_| self.i8(mode)).collect()
    }
    /// Weights in [-127, 127]; with `allow_min`, about 1 in 64 is -128.
    fn vec_w(&mut self, n: usize, mode: u8, allow_min: bool) -> Vec<i8> {
        (0..n)
            .map(|_| if allow_min && self.below(64) == 0 { -128 } else { self.i8(mode).max(-127) })
            .collect()
    }
    fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let t = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * t
    }
}

#[derive(Clone, Debug)]
struct Q {
    rounding: Rounding,
    in_zp: i32,
    out_zp: i32,
    act: (i8, i8),
    /// 0: random multipliers; 1: 2^30 with small right shifts (exact ties); 2: wild shifts.
    mult_mode: u8,
    data_mode: u8,
    allow_min_w: bool,
    with_bias: bool,
    seed: u64,
}

fn q_strategy() -> impl Strategy<Value = Q> {
    (
        prop_oneof![Just(Rounding::Double), Just(Rounding::Single)],
        prop_oneof![Just(-128i32), Just(127), Just(0), -128i32..=127],
        prop_oneof![Just(-128i32), Just(127), -128i32..=127],
        prop_oneof![Just((-128i8, 127i8)), Just((0, 127)), Just((-20, 30)), Just((10, -10))],
        0u8..3,
        0u8..3,
        prop::bool::weighted(0.2),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(rounding, in_zp, out_zp, act, mult_mode, data_mode, allow_min_w, with_bias, seed)| Q {
                rounding,
                in_zp,
                out_zp,
                act,
                mult_mode,
                data_mode,
                allow_min_w,
                with_bias,
                seed,
            },
        )
}

impl Q {
    fn params(&self, rng: &mut Rng, n: usize) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
        let mut m = Vec::new();
        let mut s = Vec::new();
        let mut b = Vec::new();
        for _ in 0..n {
            let (mi, si) = match self.mult_mode {
                0 => ((1 << 30) + (rng.below(1 << 30) as i32), -(rng.below(14) as i32) + 1),
                1 => (1 << 30, -(rng.below(6) as i32)),
                _ => (rng.next() as i32 & i32::MAX, (rng.below(70) as i32) - 35),
            };
            m.push(mi);
            s.push(si);
            b.push(if self.with_bias { (rng.next() as i32) >> (rng.below(32) as u32) } else { 0 });
        }
        if !self.with_bias {
            b.clear();
        }
        (m, s, b)
    }
    fn quant<'a>(&self, m: &'a [i32], s: &'a [i32]) -> ConvQuant<'a> {
        ConvQuant {
            input_zp: self.in_zp,
            output_zp: self.out_zp,
            multipliers: m,
            shifts: s,
            rounding: self.rounding,
            act_min: self.act.0,
            act_max: self.act.1,
        }
    }
}

fn same_pad(in_size: usize, k: usize, stride: usize, dil: usize) -> (usize, usize) {
    let eff = (k - 1) * dil + 1;
    let out = in_size.div_ceil(stride);
    let total = ((out - 1) * stride + eff).saturating_sub(in_size);
    (out, total / 2)
}

fn valid_out(in_size: usize, k: usize, stride: usize, dil: usize) -> usize {
    let eff = (k - 1) * dil + 1;
    if in_size < eff {
        1
    } else {
        (in_size - eff) / stride + 1
    }
}

#[derive(Clone, Debug)]
struct Geo {
    g: Window2d,
}

fn geo_strategy(
    chans: &'static [usize],
    out_chans: &'static [usize],
    max_k: usize,
) -> impl Strategy<Value = Geo> {
    (
        1usize..=2,
        1usize..=9,
        1usize..=9,
        prop::sample::select(chans),
        prop::sample::select(out_chans),
        1usize..=max_k,
        1usize..=max_k,
        1usize..=3,
        1usize..=3,
        1usize..=2,
        0u8..3,
    )
        .prop_map(|(batch, in_h, in_w, in_c, out_c, k_h, k_w, sh, sw, dil, pad_mode)| {
            let (out_h, pad_top, out_w, pad_left) = match pad_mode {
                0 => {
                    let (oh, pt) = same_pad(in_h, k_h, sh, dil);
                    let (ow, pl) = same_pad(in_w, k_w, sw, dil);
                    (oh, pt, ow, pl)
                }
                1 => (valid_out(in_h, k_h, sh, dil), 0, valid_out(in_w, k_w, sw, dil), 0),
                // Arbitrary explicit padding, output larger than the input needs.
                _ => (in_h.div_ceil(sh) + 1, k_h, in_w.div_ceil(sw) + 1, k_w - 1),
            };
            Geo {
                g: Window2d {
                    batch,
                    in_h,
                    in_w,
                    in_c,
                    out_h,
                    out_w,
                    out_c,
                    k_h,
                    k_w,
                    stride_h: sh,
                    stride_w: sw,
                    dil_h: dil,
                    dil_w: dil,
                    pad_top,
                    pad_left,
                },
            }
        })
}

fn run_conv(geo: &Geo, q: &Q) -> Result<(), TestCaseError> {
    let g = &geo.g;
    let mut rng = Rng(q.seed);
    let input = rng.vec_i8(g.in_len(), q.data_mode);
    let filter = rng.vec_w(g.out_c * g.k_h * g.k_w * g.in_c, q.data_mode, q.allow_min_w);
    let (m, s, bias) = q.params(&mut rng, g.out_c);
    let cq = q.quant(&m, &s);
    let mut want = vec![0i8; g.out_len()];
    let mut got = vec![0x55i8; g.out_len()];
    reference::int8::conv2d_i8(g, &cq, &input, &filter, &bias, &mut want);
    best::int8::conv2d_i8(g, &cq, &input, &filter, &bias, &mut got);
    prop_assert_eq!(got, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_i8_matches_reference(
        geo in geo_strategy(&[1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 48], &[1, 3, 4, 5, 8, 9, 13], 5),
        q in q_strategy(),
    ) {
        run_conv(&geo, &q)?;
    }

    #[test]
    fn conv2d_i8_3x3_and_1x1(
        geo in geo_strategy(&[16, 32, 40, 64], &[4, 8, 12, 7], 1)
            .prop_flat_map(|geo| (Just(geo), prop_oneof![Just(1usize), Just(3)])),
        q in q_strategy(),
    ) {
        let (mut geo, k) = geo;
        // Recompute a SAME geometry for a k×k kernel.
        let g = &mut geo.g;
        g.k_h = k;
        g.k_w = k;
        g.dil_h = 1;
        g.dil_w = 1;
        let (oh, pt) = same_pad(g.in_h, k, g.stride_h, 1);
        let (ow, pl) = same_pad(g.in_w, k, g.stride_w, 1);
        g.out_h = oh;
        g.pad_top = pt;
        g.out_w = ow;
        g.pad_left = pl;
        run_conv(&geo, &q)?;
    }

    #[test]
    fn depthwise_i8_matches_reference(
        geo in geo_strategy(&[3, 16, 17, 24, 32, 33, 47, 64], &[1], 3),
        dm in prop_oneof![4 => Just(1usize), 1 => Just(2usize)],
        square in prop::bool::weighted(0.8),
        q in q_strategy(),
    ) {
        let mut g = geo.g;
        if square {
            g.k_h = 3;
            g.k_w = 3;
            let (oh, pt) = same_pad(g.in_h, 3, g.stride_h, g.dil_h);
            let (ow, pl) = same_pad(g.in_w, 3, g.stride_w, g.dil_w);
            g.out_h = oh;
            g.pad_top = pt;
            g.out_w = ow;
            g.pad_left = pl;
        }
        g.out_c = g.in_c * dm;
        let mut rng = Rng(q.seed);
        let input = rng.vec_i8(g.in_len(), q.data_mode);
        let filter = rng.vec_w(g.k_h * g.k_w * g.out_c, q.data_mode, q.allow_min_w);
        let (m, s, bias) = q.params(&mut rng, g.out_c);
        let cq = q.quant(&m, &s);
        let mut want = vec![0i8; g.out_len()];
        let mut got = vec![0x55i8; g.out_len()];
        reference::int8::depthwise_conv2d_i8(&g, dm, &cq, &input, &filter, &bias, &mut want);
        best::int8::depthwise_conv2d_i8(&g, dm, &cq, &input, &filter, &bias, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn fully_connected_i8_matches_reference(
        batch in 1usize..=13,
        in_len in prop_oneof![Just(1usize), Just(15), Just(16), Just(17), Just(31), Just(32), Just(100), 1usize..200],
        out_len in 1usize..=13,
        q in q_strategy(),
    ) {
        let mut rng = Rng(q.seed);
        let input = rng.vec_i8(batch * in_len, q.data_mode);
        let weights = rng.vec_w(out_len * in_len, q.data_mode, q.allow_min_w);
        let (m, s, bias) = q.params(&mut rng, out_len);
        let cq = q.quant(&m, &s);
        let mut want = vec![0i8; batch * out_len];
        let mut got = vec![0x55i8; batch * out_len];
        reference::int8::fully_connected_i8(batch, in_len, out_len, &cq, &input, &weights, &bias, &mut want);
        best::int8::fully_connected_i8(batch, in_len, out_len, &cq, &input, &weights, &bias, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn add_i8_matches_reference(
        len in prop_oneof![0usize..40, Just(16), Just(32), 40usize..300],
        scales in (-12.0f64..2.0, -12.0f64..2.0, -12.0f64..2.0),
        zps in (-128i32..=127, -128i32..=127, -128i32..=127),
        wild in prop_oneof![3 => Just(false), 1 => Just(true)],
        q in q_strategy(),
    ) {
        let mut rng = Rng(q.seed);
        let a = rng.vec_i8(len, q.data_mode);
        let b = rng.vec_i8(len, q.data_mode);
        let mut p: AddParams = reference::int8::add_params(
            scales.0.exp2(), zps.0, scales.1.exp2(), zps.1, scales.2.exp2(), zps.2,
            q.act.0, q.act.1, q.rounding,
        );
        if wild {
            // Arbitrary parameters: exact ties, positive shifts, out-of-range zero points.
            p.input1_multiplier = 1 << 30;
            p.input2_multiplier = (rng.next() as i32) & i32::MAX;
            p.input1_shift = -(rng.below(40) as i32);
            p.input2_shift = (rng.below(40) as i32) - 30;
            p.output_multiplier = if rng.below(2) == 0 { 1 << 30 } else { (rng.next() as i32) & i32::MAX };
            p.output_shift = (rng.below(70) as i32) - 35;
            p.left_shift = rng.below(40) as i32 - 4;
            if rng.below(4) == 0 {
                p.input1_zp = 300;
            }
        }
        let mut want = vec![0i8; len];
        let mut got = vec![0x55i8; len];
        reference::int8::add_i8(&p, &a, &b, &mut want);
        best::int8::add_i8(&p, &a, &b, &mut got);
        prop_assert_eq!(got, want);
    }
}

/// Exact ties in both rounding modes on the conv path: acc = k · 2^e ± 2^(e−1) exactly.
#[test]
fn conv_requant_ties_exact() {
    // 1×1 conv, in_c = 16, all weights 1 except one: acc = Σ x chosen to produce ties.
    for rounding in [Rounding::Double, Rounding::Single] {
        for shift in -6..=2 {
            for zx in [-128, -1, 0, 5, 127] {
                let in_c = 16;
                let npix = 13;
                let out_c = 5;
                let mut input = vec![0i8; npix * in_c];
                for (i, x) in input.iter_mut().enumerate() {
                    *x = ((i * 37) % 256) as u8 as i8;
                }
                let filter: Vec<i8> = (0..out_c * in_c).map(|i| [1i8, -1, 3, -127, 127][i % 5]).collect();
                let m = vec![1 << 30; out_c];
                let s = vec![shift; out_c];
                let q = ConvQuant {
                    input_zp: zx,
                    output_zp: 3,
                    multipliers: &m,
                    shifts: &s,
                    rounding,
                    act_min: -128,
                    act_max: 127,
                };
                let g = Window2d {
                    batch: 1,
                    in_h: 1,
                    in_w: npix,
                    in_c,
                    out_h: 1,
                    out_w: npix,
                    out_c,
                    k_h: 1,
                    k_w: 1,
                    stride_h: 1,
                    stride_w: 1,
                    dil_h: 1,
                    dil_w: 1,
                    pad_top: 0,
                    pad_left: 0,
                };
                let mut want = vec![0i8; npix * out_c];
                let mut got = vec![0i8; npix * out_c];
                reference::int8::conv2d_i8(&g, &q, &input, &filter, &[], &mut want);
                best::int8::conv2d_i8(&g, &q, &input, &filter, &[], &mut got);
                assert_eq!(got, want, "rounding {rounding:?} shift {shift} zx {zx}");
            }
        }
    }
}

/// A long reduction whose accumulator wraps in i32: the NEON sum must wrap identically.
#[test]
fn fully_connected_wrapping_accumulator() {
    let in_len = 40_000;
    let input = vec![-128i8; in_len];
    let weights = vec![-127i8; 2 * in_len];
    let bias = vec![i32::MAX, i32::MIN];
    let m = vec![1 << 30; 2];
    let s = vec![-20; 2];
    for zx in [127, -128, 0] {
        let q = ConvQuant {
            input_zp: zx,
            output_zp: 0,
            multipliers: &m,
            shifts: &s,
            rounding: Rounding::Double,
            act_min: -128,
            act_max: 127,
        };
        let mut want = vec![0i8; 2];
        let mut got = vec![0i8; 2];
        reference::int8::fully_connected_i8(1, in_len, 2, &q, &input, &weights, &bias, &mut want);
        best::int8::fully_connected_i8(1, in_len, 2, &q, &input, &weights, &bias, &mut got);
        assert_eq!(got, want, "zx {zx}");
    }
}

/// The benchmark shapes themselves (one pass each, random data).
#[test]
fn benchmark_shapes_i8() {
    let mut rng = Rng(7);
    for (hw, c) in [(14usize, 256usize), (56, 64)] {
        let g = Window2d {
            batch: 1,
            in_h: hw,
            in_w: hw,
            in_c: c,
            out_h: hw,
            out_w: hw,
            out_c: c,
            k_h: 3,
            k_w: 3,
            stride_h: 1,
            stride_w: 1,
            dil_h: 1,
            dil_w: 1,
            pad_top: 1,
            pad_left: 1,
        };
        let input = rng.vec_i8(g.in_len(), 0);
        let filter = rng.vec_w(c * 9 * c, 0, false);
        let m: Vec<i32> = (0..c).map(|_| (1 << 30) + rng.below(1 << 30) as i32).collect();
        let s: Vec<i32> = (0..c).map(|_| -8 - rng.below(4) as i32).collect();
        let bias: Vec<i32> = (0..c).map(|_| rng.below(20000) as i32 - 10000).collect();
        let q = ConvQuant {
            input_zp: -5,
            output_zp: 7,
            multipliers: &m,
            shifts: &s,
            rounding: Rounding::Double,
            act_min: -128,
            act_max: 127,
        };
        let mut want = vec![0i8; g.out_len()];
        let mut got = vec![0i8; g.out_len()];
        reference::int8::conv2d_i8(&g, &q, &input, &filter, &bias, &mut want);
        best::int8::conv2d_i8(&g, &q, &input, &filter, &bias, &mut got);
        assert_eq!(got, want, "{hw}x{hw}x{c}");
    }
    let _ = rng.f32(0.0, 1.0);
}

/// ADD with parameters that make every rescaling step an exact tie for odd differences.
#[test]
fn add_requant_ties_exact() {
    let a: Vec<i8> = (0..=255u8).map(|v| v as i8).collect();
    let b: Vec<i8> = (0..=255u8).rev().map(|v| v as i8).collect();
    for rounding in [Rounding::Double, Rounding::Single] {
        for in_shift in [-21, -20, -19, -1, 0] {
            for out_shift in [-3, -2, -1, 0, 1] {
                let p = AddParams {
                    input1_zp: -3,
                    input2_zp: 100,
                    output_zp: -7,
                    left_shift: 20,
                    input1_multiplier: 1 << 30,
                    input1_shift: in_shift,
                    input2_multiplier: 1 << 30,
                    input2_shift: in_shift - 1,
                    output_multiplier: 1 << 30,
                    output_shift: out_shift,
                    rounding,
                    act_min: -128,
                    act_max: 127,
                };
                let mut want = vec![0i8; a.len()];
                let mut got = vec![0i8; a.len()];
                reference::int8::add_i8(&p, &a, &b, &mut want);
                best::int8::add_i8(&p, &a, &b, &mut got);
                assert_eq!(got, want, "{rounding:?} in_shift {in_shift} out_shift {out_shift}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// f32: against f64, with the tolerance of tests/reference_f32.rs:
// |y − y64| ≤ (1e−5 + n·u)·(S + 1), n = summed terms (taps + bias), S = Σ|terms|.

const U: f64 = 1.0 / (1u64 << 24) as f64;

fn clamp64(x: f64, lo: f32, hi: f32) -> f64 {
    x.max(lo as f64).min(hi as f64)
}

/// (y64, S, n) of every conv output.
fn o_conv_f32(g: &Window2d, input: &[f32], filter: &[f32], bias: &[f32]) -> Vec<(f64, f64, usize)> {
    let mut out = Vec::new();
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let b0 = if bias.is_empty() { 0.0 } else { bias[oc] as f64 };
                    let (mut y, mut s, mut n) = (b0, b0.abs(), 1usize);
                    for ky in 0..g.k_h {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in 0..g.k_w {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            for ic in 0..g.in_c {
                                let x = input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + ic] as f64;
                                let w = filter[((oc * g.k_h + ky) * g.k_w + kx) * g.in_c + ic] as f64;
                                y += x * w;
                                s += (x * w).abs();
                                n += 1;
                            }
                        }
                    }
                    out.push((y, s, n));
                }
            }
        }
    }
    out
}

fn check_f32(got: &[f32], want: &[(f64, f64, usize)], lo: f32, hi: f32) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (&y, &(y64, s, n))) in got.iter().zip(want).enumerate() {
        let y64 = clamp64(y64, lo, hi);
        let tol = (1e-5 + n as f64 * U) * (s + 1.0);
        let err = (y as f64 - y64).abs();
        prop_assert!(err <= tol, "[{}]: got {}, f64 {}, err {:e} > tol {:e}", i, y, y64, err, tol);
    }
    Ok(())
}

fn act_f32() -> impl Strategy<Value = (f32, f32)> {
    prop_oneof![
        Just((f32::NEG_INFINITY, f32::INFINITY)),
        Just((0.0, f32::INFINITY)),
        Just((0.0, 6.0)),
        Just((-1.0, 1.0))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_f32_within_tolerance(
        geo in geo_strategy(&[1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33], &[1, 3, 7, 8, 9, 16, 17], 5),
        big_kernel in prop::bool::weighted(0.1),
        act in act_f32(),
        with_bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut g = geo.g;
        if big_kernel {
            // More than one tap group (> 9 taps) with padding.
            g.k_h = 5;
            g.k_w = 4;
            let (oh, pt) = same_pad(g.in_h, 5, g.stride_h, g.dil_h);
            let (ow, pl) = same_pad(g.in_w, 4, g.stride_w, g.dil_w);
            g.out_h = oh;
            g.pad_top = pt;
            g.out_w = ow;
            g.pad_left = pl;
        }
        let mut rng = Rng(seed);
        let input: Vec<f32> = (0..g.in_len()).map(|_| rng.f32(-2.0, 2.0)).collect();
        let filter: Vec<f32> = (0..g.out_c * g.k_h * g.k_w * g.in_c).map(|_| rng.f32(-1.0, 1.0)).collect();
        let bias: Vec<f32> = if with_bias { (0..g.out_c).map(|_| rng.f32(-3.0, 3.0)).collect() } else { vec![] };
        let mut got = vec![f32::NAN; g.out_len()];
        best::f32::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut got);
        check_f32(&got, &o_conv_f32(&g, &input, &filter, &bias), act.0, act.1)?;
    }

    #[test]
    fn fully_connected_f32_within_tolerance(
        batch in 1usize..=19,
        in_len in prop_oneof![1usize..12, Just(16), Just(64), 1usize..300],
        out_len in 1usize..=19,
        act in act_f32(),
        with_bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let input: Vec<f32> = (0..batch * in_len).map(|_| rng.f32(-2.0, 2.0)).collect();
        let weights: Vec<f32> = (0..out_len * in_len).map(|_| rng.f32(-1.0, 1.0)).collect();
        let bias: Vec<f32> = if with_bias { (0..out_len).map(|_| rng.f32(-3.0, 3.0)).collect() } else { vec![] };
        let mut got = vec![f32::NAN; batch * out_len];
        best::f32::fully_connected_f32(batch, in_len, out_len, act.0, act.1, &input, &weights, &bias, &mut got);
        // FC is a 1×1 conv over a batch×1×1 "image".
        let g = Window2d {
            batch, in_h: 1, in_w: 1, in_c: in_len, out_h: 1, out_w: 1, out_c: out_len,
            k_h: 1, k_w: 1, stride_h: 1, stride_w: 1, dil_h: 1, dil_w: 1, pad_top: 0, pad_left: 0,
        };
        check_f32(&got, &o_conv_f32(&g, &input, &weights, &bias), act.0, act.1)?;
    }
}

/// NaN propagates through the fused clamp like the reference's `clamp_act`.
#[test]
fn f32_nan_propagates() {
    let input = vec![f32::NAN; 20];
    let weights = vec![1.0f32; 3 * 20];
    let mut got = vec![0.0f32; 3];
    best::f32::fully_connected_f32(1, 20, 3, 0.0, 6.0, &input, &weights, &[], &mut got);
    assert!(got.iter().all(|v| v.is_nan()), "{got:?}");
}

/// Depthwise with exact requantization ties in both rounding modes (multiplier 2^30).
#[test]
fn depthwise_requant_ties_exact() {
    let (h, w, c) = (5usize, 7usize, 40usize);
    let input: Vec<i8> = (0..h * w * c).map(|i| ((i * 53 + 11) % 256) as u8 as i8).collect();
    let filter: Vec<i8> = (0..9 * c).map(|i| [1i8, -1, 2, -127, 127, 3, -3][i % 7]).collect();
    let bias: Vec<i32> = (0..c as i32).map(|i| i * 7 - 100).collect();
    for rounding in [Rounding::Double, Rounding::Single] {
        for shift in -6..=2 {
            for zx in [-128, -1, 0, 5, 127] {
                let m = vec![1 << 30; c];
                let s = vec![shift; c];
                let q = ConvQuant {
                    input_zp: zx,
                    output_zp: -2,
                    multipliers: &m,
                    shifts: &s,
                    rounding,
                    act_min: -128,
                    act_max: 127,
                };
                for stride in [1, 2] {
                    let g = Window2d {
                        batch: 1,
                        in_h: h,
                        in_w: w,
                        in_c: c,
                        out_h: h.div_ceil(stride),
                        out_w: w.div_ceil(stride),
                        out_c: c,
                        k_h: 3,
                        k_w: 3,
                        stride_h: stride,
                        stride_w: stride,
                        dil_h: 1,
                        dil_w: 1,
                        pad_top: 1,
                        pad_left: 1,
                    };
                    let mut want = vec![0i8; g.out_len()];
                    let mut got = vec![0i8; g.out_len()];
                    reference::int8::depthwise_conv2d_i8(&g, 1, &q, &input, &filter, &bias, &mut want);
                    best::int8::depthwise_conv2d_i8(&g, 1, &q, &input, &filter, &bias, &mut got);
                    assert_eq!(got, want, "{rounding:?} shift {shift} zx {zx} stride {stride}");
                }
            }
        }
    }
}

/// The fused activation equals the reference's `clamp_act` also for inverted ranges.
#[test]
fn f32_inverted_activation_range() {
    let input: Vec<f32> = (0..16).map(|i| i as f32 * 0.25 - 2.0).collect();
    let weights = vec![1.0f32; 1];
    for (lo, hi) in [(0.5f32, -0.5f32), (-1.0, 1.0), (0.0, 0.0)] {
        let mut got = vec![0.0f32; 16];
        let mut want = vec![0.0f32; 16];
        best::f32::fully_connected_f32(16, 1, 1, lo, hi, &input, &weights, &[], &mut got);
        reference::f32::fully_connected_f32(16, 1, 1, lo, hi, &input, &weights, &[], &mut want);
        assert_eq!(got, want, "({lo}, {hi})");
    }
}
