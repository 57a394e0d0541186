//! Differential tests: `best::f32` (the NEON kernels on ARMv7 / AArch64, the reference itself
//! elsewhere) against an f64 oracle and against `reference::f32`.
//!
//! Tolerance — the contract documented at the top of `tests/reference_f32.rs`, binding for every
//! f32 kernel: for sums of products, `|y − y64| ≤ (1e-5 + n·u)·(S + 1)` with `u = 2^-24`, `n`
//! the number of summed terms (taps + bias), `S` the sum of their absolute values and `y64`
//! the same expression in f64 on the same f32 inputs, clamped. It admits any summation order,
//! with or without FMA, and the flush-to-zero of ARMv7 NEON (absolute part). Since the reference
//! meets the same bound, best and reference are also checked to agree within twice it.
//!
//! Non-finite inputs: NaN and ±∞ in the input must give the same class of result as the
//! reference (NaN, +∞, −∞ or a finite value) — summation order cannot change that.
//!
//! Architecture-agnostic: run under `qemu-arm -cpu cortex-a9` / `qemu-aarch64 -cpu cortex-a53`
//! to test the NEON kernels. Shapes have tails everywhere (channels / K 1, 3, 7, 8, 9, 15, 17,
//! 33, 65, …), 1×1 images, kernels larger than the input, strides 2 and 3, dilation, FC with
//! `batch < 3` and `in_len < 8`.

use doppler_kernels::best::f32 as best;
use doppler_kernels::reference::f32 as refk;
use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

const U: f64 = 1.0 / (1u64 << 24) as f64;

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
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    /// 0: uniform in [−2, 2); 1: many binades (2^−20 .. 2^20, random sign); 2: tiny values
    /// whose products are subnormal (flushed on ARMv7 NEON).
    fn value(&mut self, mode: u8) -> f32 {
        match mode {
            1 => {
                let m = self.uniform(1.0, 2.0);
                let e = (self.next() % 41) as i32 - 20;
                let s = if self.next() & 1 == 0 { 1.0 } else { -1.0 };
                s * m * 2f32.powi(e)
            }
            2 => self.uniform(-1.0, 1.0) * 1e-20,
            _ => self.uniform(-2.0, 2.0),
        }
    }
    fn vec(&mut self, n: usize, mode: u8) -> Vec<f32> {
        (0..n).map(|_| self.value(mode)).collect()
    }
}

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

fn act_range() -> impl Strategy<Value = (f32, f32)> {
    prop_oneof![
        3 => Just((f32::NEG_INFINITY, f32::INFINITY)),
        1 => Just((0.0f32, f32::INFINITY)),
        1 => Just((0.0f32, 6.0)),
        1 => Just((-1.0f32, 1.0)),
        1 => Just((0.5f32, -0.5)), // inverted: the reference's `x < lo ? lo : x > hi ? hi : x`
    ]
}

/// The reference's clamp, in f64.
fn clamp64(x: f64, lo: f32, hi: f32) -> f64 {
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// f64 oracle of conv: `(y64, S, n)` per output, taps in bounds only.
fn conv_oracle(g: &Window2d, input: &[f32], filter: &[f32], bias: &[f32]) -> Vec<(f64, f64, usize)> {
    let mut r = Vec::with_capacity(g.out_len());
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let b0 = bias.get(oc).map_or(0.0, |&v| f64::from(v));
                    let (mut acc, mut s, mut n) = (b0, b0.abs(), 1);
                    for ky in 0..g.k_h {
                        let y = (oy * g.stride_h + ky * g.dil_h) as i64 - g.pad_top as i64;
                        for kx in 0..g.k_w {
                            let x = (ox * g.stride_w + kx * g.dil_w) as i64 - g.pad_left as i64;
                            if y < 0 || x < 0 || y >= g.in_h as i64 || x >= g.in_w as i64 {
                                continue;
                            }
                            for ic in 0..g.in_c {
                                let xi =
                                    input[((b * g.in_h + y as usize) * g.in_w + x as usize) * g.in_c + ic];
                                let wi = filter[((oc * g.k_h + ky) * g.k_w + kx) * g.in_c + ic];
                                let term = f64::from(xi) * f64::from(wi);
                                acc += term;
                                s += term.abs();
                                n += 1;
                            }
                        }
                    }
                    r.push((acc, s, n));
                }
            }
        }
    }
    r
}

/// Checks `got` (best) and `refr` (reference) against the oracle.
fn check_all(
    what: &str,
    got: &[f32],
    refr: &[f32],
    oracle: &[(f64, f64, usize)],
    act: (f32, f32),
) -> Result<(), TestCaseError> {
    for (i, ((&y, &r), &(acc, s, n))) in got.iter().zip(refr).zip(oracle).enumerate() {
        let y64 = clamp64(acc, act.0, act.1);
        let tol = (1e-5 + n as f64 * U) * (s + 1.0);
        let err = (f64::from(y) - y64).abs();
        prop_assert!(err <= tol, "{}[{}]: got {} f64 {} err {:e} > tol {:e}", what, i, y, y64, err, tol);
        let d = (f64::from(y) - f64::from(r)).abs();
        prop_assert!(d <= 2.0 * tol, "{}[{}]: best {} reference {} differ by {:e}", what, i, y, r, d);
    }
    Ok(())
}

const IN_C: &[usize] = &[1, 3, 7, 8, 9, 15, 16, 17, 33, 65];
const OUT_C: &[usize] = &[1, 2, 3, 5, 17, 33, 65, 70];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_global_rejects: 4096, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_within_tolerance(
        batch in prop_oneof![4 => Just(1usize), 1 => Just(2usize)],
        in_hw in (1usize..=9, 1usize..=9),
        chans in (prop::sample::select(IN_C), prop::sample::select(OUT_C)),
        k in prop_oneof![3 => Just((3usize, 3usize)), 1 => Just((1, 1)), 2 => (1usize..=5, 1usize..=5), 1 => Just((9, 9))],
        stride in prop_oneof![2 => Just((1usize, 1usize)), 2 => Just((2, 2)), 1 => (1usize..=3, 1usize..=3)],
        dil in prop_oneof![5 => Just((1usize, 1usize)), 1 => (1usize..=2, 1usize..=2)],
        same in any::<bool>(),
        act in act_range(),
        with_bias in any::<bool>(),
        mode in prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        seed in any::<u64>(),
    ) {
        let g = window(batch, in_hw, chans, k, stride, dil, same);
        prop_assume!(g.batch * g.out_h * g.out_w * g.out_c * g.k_h * g.k_w * g.in_c <= 200_000);
        let mut rng = Rng(seed);
        let input = rng.vec(g.in_len(), mode);
        let filter = rng.vec(g.out_c * g.k_h * g.k_w * g.in_c, if mode == 2 { 0 } else { mode });
        let bias = if with_bias { rng.vec(g.out_c, 0) } else { Vec::new() };
        let mut got = vec![f32::NAN; g.out_len()];
        let mut refr = vec![f32::NAN; g.out_len()];
        best::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut got);
        refk::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut refr);
        check_all("conv", &got, &refr, &conv_oracle(&g, &input, &filter, &bias), act)?;
    }

    #[test]
    fn fully_connected_within_tolerance(
        batch in prop_oneof![3 => 1usize..=3, 1 => 4usize..=7],
        in_len in prop::sample::select(&[1usize, 3, 7, 8, 9, 15, 16, 17, 33, 65, 100, 257, 1000][..]),
        out_len in prop::sample::select(&[1usize, 2, 3, 7, 17, 64, 65, 130][..]),
        act in act_range(),
        with_bias in any::<bool>(),
        mode in prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let input = rng.vec(batch * in_len, mode);
        let weights = rng.vec(out_len * in_len, if mode == 2 { 0 } else { mode });
        let bias = if with_bias { rng.vec(out_len, 0) } else { Vec::new() };
        let mut got = vec![f32::NAN; batch * out_len];
        let mut refr = vec![f32::NAN; batch * out_len];
        best::fully_connected_f32(batch, in_len, out_len, act.0, act.1, &input, &weights, &bias, &mut got);
        refk::fully_connected_f32(batch, in_len, out_len, act.0, act.1, &input, &weights, &bias, &mut refr);
        // FC = 1×1 conv over `batch` pixels of `in_len` channels.
        let g = window(batch, (1, 1), (in_len, out_len), (1, 1), (1, 1), (1, 1), false);
        check_all("fc", &got, &refr, &conv_oracle(&g, &input, &weights, &bias), act)?;
    }
}

/// Class of a float for the non-finite comparison.
fn class(x: f32) -> i8 {
    if x.is_nan() {
        2
    } else if x == f32::INFINITY {
        1
    } else if x == f32::NEG_INFINITY {
        -1
    } else {
        0
    }
}

/// NaN / ±∞ planted in the input propagate exactly as in the reference (every path: indirect,
/// merged rows, packed, small K, head chunks), finite outputs stay within the tolerance.
#[test]
fn non_finite_inputs() {
    let mut rng = Rng(7);
    let shapes = [
        window(1, (6, 7), (17, 9), (3, 3), (1, 1), (1, 1), true),
        window(1, (5, 5), (3, 4), (3, 3), (2, 2), (1, 1), true),
        window(1, (4, 4), (2, 3), (1, 1), (1, 1), (1, 1), false),
        window(2, (3, 8), (12, 5), (2, 3), (1, 2), (1, 1), false),
    ];
    for g in shapes {
        for plant in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut input = rng.vec(g.in_len(), 0);
            for _ in 0..3 {
                let i = (rng.next() % input.len() as u64) as usize;
                input[i] = plant;
            }
            let filter = rng.vec(g.out_c * g.k_h * g.k_w * g.in_c, 0);
            let bias = rng.vec(g.out_c, 0);
            for act in [(f32::NEG_INFINITY, f32::INFINITY), (0.0, 6.0)] {
                let mut got = vec![0f32; g.out_len()];
                let mut refr = vec![0f32; g.out_len()];
                best::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut got);
                refk::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut refr);
                for (i, (&y, &r)) in got.iter().zip(&refr).enumerate() {
                    assert_eq!(class(y), class(r), "{g:?} {plant} [{i}]: best {y} reference {r}");
                    if class(r) == 0 {
                        assert!((y - r).abs() <= 1e-3 * (1.0 + r.abs()), "[{i}] {y} vs {r}");
                    }
                }
            }
        }
    }
}

/// Layer-sized shapes: 3×3 SAME over 64 channels, the 9×9×3 first layer of the fast style
/// transfer networks, 1×1 over 128, FC 1024→10.
#[test]
fn layer_shapes() {
    let mut rng = Rng(42);
    let shapes = [
        window(1, (8, 8), (64, 64), (3, 3), (1, 1), (1, 1), true),
        window(1, (12, 12), (3, 32), (9, 9), (1, 1), (1, 1), true),
        window(1, (6, 6), (128, 40), (1, 1), (1, 1), (1, 1), false),
        window(1, (10, 10), (32, 64), (3, 3), (2, 2), (1, 1), true),
        window(1, (1, 1), (1024, 10), (1, 1), (1, 1), (1, 1), false),
    ];
    for g in shapes {
        let input = rng.vec(g.in_len(), 0);
        let filter = rng.vec(g.out_c * g.k_h * g.k_w * g.in_c, 0);
        let bias = rng.vec(g.out_c, 0);
        let act = (f32::NEG_INFINITY, f32::INFINITY);
        let mut got = vec![f32::NAN; g.out_len()];
        let mut refr = vec![f32::NAN; g.out_len()];
        best::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut got);
        refk::conv2d_f32(&g, act.0, act.1, &input, &filter, &bias, &mut refr);
        let oracle = conv_oracle(&g, &input, &filter, &bias);
        if let Err(e) = check_all("layer", &got, &refr, &oracle, act) {
            panic!("{g:?}: {e}");
        }
    }
}
