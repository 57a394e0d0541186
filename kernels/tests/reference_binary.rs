//! Reference binary kernels against independent naive oracles.
//!
//! The oracles never look at packed bits: they take the original float tensors, map them to ±1
//! with `sign(x) = -1 if x < 0 else +1`, and convolve in i64/f64 with explicit signed coordinates
//! (padding taps read +1 for `PadValue::One` and are skipped for `PadValue::Zero`). The epilogue
//! oracles are re-derived here from LCE's formulas (see `kernels/src/reference/binary.rs`).

use doppler_kernels::reference::binary::*;
use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Small deterministic PRNG so that proptest only has to shrink a seed and the shape, and the
// TFLite-style geometry (shared with `differential_binary`).

mod common;
use common::binary::{arb_pool_geometry, geometry, Rng};

/// This file's activation/weight values (the shared `Rng` has the rest).
trait Values {
    fn value(&mut self) -> f32;
}

impl Values for Rng {
    /// An activation/weight value: mostly random, with the special cases mixed in.
    fn value(&mut self) -> f32 {
        match self.below(16) {
            0 => 0.0,
            1 => -0.0,
            2 => -1e-40, // negative subnormal
            3 => -f32::MIN_POSITIVE,
            4 => f32::MIN_POSITIVE,
            _ => self.unit() as f32,
        }
    }
}

fn sign(x: f32) -> i64 {
    if x < 0.0 {
        -1
    } else {
        1
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry.

/// Input coordinate with signed arithmetic, independent of `Window2d::in_coord`.
fn coord(o: usize, k: usize, stride: usize, dil: usize, pad: usize, size: usize) -> Option<usize> {
    let p = (o * stride + k * dil) as isize - pad as isize;
    if p >= 0 && (p as usize) < size {
        Some(p as usize)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Oracles.

/// ±1 convolution of one output element on the unpacked float tensors. Returns (acc, K).
#[allow(clippy::too_many_arguments)]
fn oracle_acc(
    g: &Window2d,
    pad: PadValue,
    x: &[f32],
    w: &[f32],
    b: usize,
    oy: usize,
    ox: usize,
    oc: usize,
) -> (i64, i64) {
    let mut acc = 0i64;
    let mut k = 0i64;
    for ky in 0..g.k_h {
        for kx in 0..g.k_w {
            let iy = coord(oy, ky, g.stride_h, g.dil_h, g.pad_top, g.in_h);
            let ix = coord(ox, kx, g.stride_w, g.dil_w, g.pad_left, g.in_w);
            for ci in 0..g.in_c {
                let wv = sign(w[((oc * g.k_h + ky) * g.k_w + kx) * g.in_c + ci]);
                match (iy, ix) {
                    (Some(y), Some(xx)) => {
                        acc += sign(x[((b * g.in_h + y) * g.in_w + xx) * g.in_c + ci]) * wv;
                        k += 1;
                    }
                    _ => {
                        if pad == PadValue::One {
                            acc += wv; // the pad value is +1
                            k += 1;
                        }
                    }
                }
            }
        }
    }
    (acc, k)
}

/// Every output element's oracle (accumulator, K), `[b][oy][ox][oc]`.
fn oracle_accs(g: &Window2d, pad: PadValue, x: &[f32], w: &[f32]) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(g.out_len());
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    out.push(oracle_acc(g, pad, x, w, b, oy, ox, oc));
                }
            }
        }
    }
    out
}

/// LCE's float output transform on the true accumulator, written out from scratch:
/// `x = (K_full - clamp(acc))` (= LCE's clamped `2 * popcount`), `y = f32(x) * m + b`.
fn oracle_epilogue(k_full: i64, lo: i32, hi: i32, m: f32, bias: f32, acc: i64) -> f32 {
    let t = acc.max(i64::from(lo)).min(i64::from(hi));
    let x = (k_full - t) as f32;
    let p = x * m; // separate roundings
    p + bias
}

/// Round half away from zero, then saturate to int8 — computed in f64 without libm.
fn oracle_round_i8(y: f32) -> i8 {
    let y = f64::from(y);
    let r = if y >= 0.0 { (y + 0.5).floor() } else { (y - 0.5).ceil() };
    r.clamp(-128.0, 127.0) as i8
}

/// LCE's `OneTimeSetup` fusion, re-derived: (effective multiplier, effective bias).
fn oracle_fuse(k_full: i64, gamma: f32, beta: f32, scale: f32, zp: i32) -> (f32, f32) {
    let (g, b, s) = (f64::from(gamma), f64::from(beta), f64::from(scale));
    ((-g / s) as f32, ((b + k_full as f64 * g) / s + f64::from(zp)) as f32)
}

fn bit(words_: &[u32], pixel: usize, channels: usize, c: usize) -> bool {
    (words_[pixel * words(channels) + c / 32] >> (c % 32)) & 1 == 1
}

fn assert_padding_bits_zero(words_: &[u32], pixels: usize, channels: usize) {
    let wpp = words(channels);
    for p in 0..pixels {
        for c in channels..wpp * 32 {
            assert!(!bit(words_, p, channels, c), "padding bit {c} of pixel {p} is set");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The per-shape check of every conv kernel.

const CLAMPS: [(i32, i32); 4] = [(i32::MIN, i32::MAX), (0, i32::MAX), (0, 6), (-1, 1)];

struct Case {
    x: Vec<f32>,
    w: Vec<f32>,
    packed_x: Vec<u32>,
    packed_w: Vec<u32>,
}

impl Case {
    fn new(g: Window2d, rng: &mut Rng) -> Case {
        let x: Vec<f32> = (0..g.in_len()).map(|_| rng.value()).collect();
        let w: Vec<f32> = (0..g.out_c * g.k_h * g.k_w * g.in_c).map(|_| rng.value()).collect();
        let mut packed_x = vec![0xDEAD_BEEF; g.batch * g.in_h * g.in_w * words(g.in_c)];
        pack_f32(g.batch * g.in_h * g.in_w, g.in_c, &x, &mut packed_x);
        let mut packed_w = vec![0xDEAD_BEEF; g.out_c * g.k_h * g.k_w * words(g.in_c)];
        pack_filter_f32(g.out_c, g.k_h, g.k_w, g.in_c, &w, &mut packed_w);
        Case { x, w, packed_x, packed_w }
    }
}

fn random_clamp(rng: &mut Rng, k: i32) -> (i32, i32) {
    if rng.below(3) == 0 {
        let a = rng.below(2 * k as u64 + 1) as i32 - k;
        let b = rng.below(2 * k as u64 + 1) as i32 - k;
        (a.min(b), a.max(b))
    } else {
        CLAMPS[rng.below(4) as usize]
    }
}

/// Random γ (both signs, sometimes 0) and β on the scale of the accumulator.
fn random_gamma_beta(rng: &mut Rng, k: i64) -> (f32, f32) {
    let gamma = match rng.below(10) {
        0 => 0.0,
        1 => -0.0,
        _ => (rng.unit() * 2.0) as f32,
    };
    let beta = (rng.unit() * 1.2 * k as f64 * f64::from(gamma.abs().max(0.1))) as f32;
    (gamma, beta)
}

fn check_case(g: Window2d, pad: PadValue, seed: u64) {
    let mut rng = Rng(seed);
    let case = Case::new(g, &mut rng);
    let k_full = (g.k_h * g.k_w * g.in_c) as i64;
    assert_eq!(full_depth(&g) as i64, k_full);

    // --- bconv_acc against the oracle, including K for the Zero mode (acc ≡ K mod 2, |acc| <= K).
    let oracle = oracle_accs(&g, pad, &case.x, &case.w);
    let accs: Vec<i64> = oracle.iter().map(|&(acc, _)| acc).collect();
    let mut i = 0;
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let got = bconv_acc(&g, pad, &case.packed_x, &case.packed_w, b, oy, ox, oc);
                    let (want, k) = oracle[i];
                    assert_eq!(i64::from(got), want, "acc at b{b} y{oy} x{ox} c{oc} {g:?} {pad:?}");
                    assert!(want.abs() <= k && (k - want) % 2 == 0);
                    if pad == PadValue::One {
                        assert_eq!(k, k_full);
                    }
                    i += 1;
                }
            }
        }
    }

    // --- float output: LCE-fused parameters, bit-exact, and close to the exact value.
    let clamp = random_clamp(&mut rng, k_full as i32);
    let (mut gammas, mut betas) = (vec![], vec![]);
    for _ in 0..g.out_c {
        let (gm, bt) = random_gamma_beta(&mut rng, k_full);
        gammas.push(gm);
        betas.push(bt);
    }
    let mut mult = vec![0f32; g.out_c];
    let mut bias = vec![0f32; g.out_c];
    lce_output_transform(k_full as usize, &gammas, &betas, 1.0, 0, &mut mult, &mut bias);
    for c in 0..g.out_c {
        let (m, b) = oracle_fuse(k_full, gammas[c], betas[c], 1.0, 0);
        assert_eq!((mult[c].to_bits(), bias[c].to_bits()), (m.to_bits(), b.to_bits()));
    }
    let e = BConvEpilogue { clamp_min: clamp.0, clamp_max: clamp.1, multiplier: &mult, bias: &bias };
    let mut out_f = vec![f32::NAN; g.out_len()];
    bconv2d_f32(&g, pad, &e, &case.packed_x, &case.packed_w, &mut out_f);
    for (i, (&y, &acc)) in out_f.iter().zip(&accs).enumerate() {
        let c = i % g.out_c;
        let want = oracle_epilogue(k_full, clamp.0, clamp.1, mult[c], bias[c], acc);
        assert_eq!(y.to_bits(), want.to_bits(), "f32 out {i}: {y} vs {want}");
        let t = acc.max(i64::from(clamp.0)).min(i64::from(clamp.1)) as f64;
        let (gm, bt) = (f64::from(gammas[c]), f64::from(betas[c]));
        let exact = t * gm + bt;
        let tol = 2f64.powi(-21) * (bt.abs() + 3.0 * k_full as f64 * gm.abs() + exact.abs()) + 1e-30;
        assert!((f64::from(y) - exact).abs() <= tol, "f32 out {i}: {y} vs exact {exact}");
    }

    // --- int8 output: scale and zero point folded in f64, round half away, saturate.
    //     Half the time with power-of-two parameters, so that exact .5 ties occur.
    let zp = rng.below(256) as i32 - 128;
    let (gammas, betas, scale) = if rng.below(2) == 0 {
        let nice = [0.5f32, -0.5, 1.0, -1.0, 0.25, -0.25];
        let gm: Vec<f32> = (0..g.out_c).map(|_| nice[rng.below(6) as usize]).collect();
        let bt: Vec<f32> = (0..g.out_c).map(|_| (rng.below(16) as f32 - 8.0) / 4.0).collect();
        (gm, bt, [0.5f32, 1.0, 2.0, 4.0][rng.below(4) as usize])
    } else {
        (gammas, betas, ((k_full as f64 * 1.5 + 1.0) / 200.0 * (0.3 + rng.unit().abs())) as f32)
    };
    let mut mult8 = vec![0f32; g.out_c];
    let mut bias8 = vec![0f32; g.out_c];
    lce_output_transform(k_full as usize, &gammas, &betas, scale, zp, &mut mult8, &mut bias8);
    for c in 0..g.out_c {
        let (m, b) = oracle_fuse(k_full, gammas[c], betas[c], scale, zp);
        assert_eq!((mult8[c].to_bits(), bias8[c].to_bits()), (m.to_bits(), b.to_bits()));
    }
    let e8 = BConvEpilogue { clamp_min: clamp.0, clamp_max: clamp.1, multiplier: &mult8, bias: &bias8 };
    let mut out_q = vec![0x55i8; g.out_len()];
    bconv2d_i8(&g, pad, &e8, &case.packed_x, &case.packed_w, &mut out_q);
    for (i, (&q, &acc)) in out_q.iter().zip(&accs).enumerate() {
        let c = i % g.out_c;
        let y = oracle_epilogue(k_full, clamp.0, clamp.1, mult8[c], bias8[c], acc);
        assert_eq!(q, oracle_round_i8(y), "i8 out {i}: y = {y}");
        // ... and within one step of the ideal quantized value.
        let t = acc.max(i64::from(clamp.0)).min(i64::from(clamp.1)) as f64;
        let ideal = (t * f64::from(gammas[c]) + f64::from(betas[c])) / f64::from(scale) + f64::from(zp);
        let ideal = ideal.round().clamp(-128.0, 127.0);
        assert!((f64::from(q) - ideal).abs() <= 1.0, "i8 out {i}: {q} vs ideal {ideal}");
    }

    // --- bitpacked output == pack_f32(float output), thresholds from the float epilogue.
    let mut thresholds = vec![0i32; g.out_c];
    let mut negate = vec![false; g.out_c];
    bits_thresholds(k_full as usize, &e, &mut thresholds, &mut negate);
    for c in 0..g.out_c {
        // A γ < 0 channel (positive effective multiplier) whose sign is not constant must be negated.
        if negate[c] {
            assert!(mult[c] > 0.0);
        }
    }
    let mut w_bits = case.packed_w.clone();
    negate_filter_channels(g.out_c, g.k_h, g.k_w, g.in_c, &negate, &mut w_bits);
    assert_padding_bits_zero(&w_bits, g.out_c * g.k_h * g.k_w, g.in_c);
    let pixels_out = g.batch * g.out_h * g.out_w;
    let mut out_bits = vec![u32::MAX; pixels_out * words(g.out_c)];
    bconv2d_bits(&g, pad, &thresholds, &case.packed_x, &w_bits, &mut out_bits);
    let mut expected_bits = vec![0u32; pixels_out * words(g.out_c)];
    pack_f32(pixels_out, g.out_c, &out_f, &mut expected_bits);
    assert_eq!(out_bits, expected_bits, "bits vs pack_f32(f32): thresholds {thresholds:?} negate {negate:?}");
    assert_padding_bits_zero(&out_bits, pixels_out, g.out_c);
    // Independently of pack_f32: the sign of the oracle float output.
    for (i, &acc) in accs.iter().enumerate() {
        let c = i % g.out_c;
        let y = oracle_epilogue(k_full, clamp.0, clamp.1, mult[c], bias[c], acc);
        assert_eq!(bit(&out_bits, i / g.out_c, g.out_c, c), y < 0.0);
    }

    // --- LCE's own thresholds (exact-arithmetic derivation), for one-padding / VALID. Use
    //     γ, β that are exact in f32 so the exact sign is unambiguous.
    if pad == PadValue::One {
        let nice_g = [0.5f32, -0.5, 1.0, -1.0, 2.0, -2.0, 0.25, -0.25, 0.0];
        let gam: Vec<f32> = (0..g.out_c).map(|_| nice_g[rng.below(9) as usize]).collect();
        let bet: Vec<f32> = (0..g.out_c)
            .map(|_| (rng.below(8 * k_full as u64 + 9) as i64 - 4 * k_full - 4) as f32 / 8.0)
            .collect();
        let mut th = vec![0i32; g.out_c];
        let mut neg = vec![false; g.out_c];
        lce_bits_thresholds(k_full as usize, clamp.0, clamp.1, &gam, &bet, &mut th, &mut neg);
        let mut w_l = case.packed_w.clone();
        negate_filter_channels(g.out_c, g.k_h, g.k_w, g.in_c, &neg, &mut w_l);
        let mut out_l = vec![u32::MAX; pixels_out * words(g.out_c)];
        bconv2d_bits(&g, pad, &th, &case.packed_x, &w_l, &mut out_l);
        assert_padding_bits_zero(&out_l, pixels_out, g.out_c);
        for (i, &acc) in accs.iter().enumerate() {
            let c = i % g.out_c;
            assert_eq!(neg[c], gam[c] < 0.0);
            let t = acc.max(i64::from(clamp.0)).min(i64::from(clamp.1)) as f64;
            let y = t * f64::from(gam[c]) + f64::from(bet[c]);
            assert_eq!(bit(&out_l, i / g.out_c, g.out_c, c), y < 0.0, "lce bits {i}: y = {y}, t {}", th[c]);
        }
    }
}

fn check_all_pads(g: Window2d, seed: u64) {
    check_case(g, PadValue::One, seed);
    check_case(g, PadValue::Zero, seed ^ 0x5555);
}

// ---------------------------------------------------------------------------------------------
// Property tests over random geometries.

const IN_C: [usize; 8] = [1, 2, 3, 31, 32, 33, 65, 100];
const OUT_C: [usize; 8] = [1, 3, 8, 31, 32, 33, 40, 65];

/// Random geometries over this file's channel counts.
fn arb_geometry() -> impl Strategy<Value = Window2d> {
    common::binary::arb_geometry(&IN_C, &OUT_C, 6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn conv_kernels_match_oracles(g in arb_geometry(), seed in any::<u64>()) {
        check_all_pads(g, seed);
    }

    #[test]
    fn max_pool_matches_oracle(g in arb_pool_geometry(&IN_C[..]), seed in any::<u64>()) {
        check_max_pool(g, seed);
    }

    #[test]
    fn pack_i8_matches_oracle(
        pixels in 1usize..=4,
        channels in prop::sample::select(&IN_C[..]),
        zp in -300i32..=300,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let q: Vec<i8> = (0..pixels * channels).map(|_| rng.next_u64() as i8).collect();
        let mut packed = vec![u32::MAX; pixels * words(channels)];
        pack_i8(pixels, channels, zp, &q, &mut packed);
        for p in 0..pixels {
            for c in 0..channels {
                prop_assert_eq!(bit(&packed, p, channels, c), i32::from(q[p * channels + c]) < zp);
            }
        }
        assert_padding_bits_zero(&packed, pixels, channels);
        // Unpack back to the LCE dequantize levels.
        let mut un = vec![0i8; pixels * channels];
        unpack_i8(pixels, channels, 100, -100, &packed, &mut un);
        for (i, &v) in un.iter().enumerate() {
            prop_assert_eq!(v, if i32::from(q[i]) < zp { -100 } else { 100 });
        }
    }

    #[test]
    fn pack_unpack_f32_roundtrip(
        pixels in 1usize..=4,
        channels in prop::sample::select(&IN_C[..]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let x: Vec<f32> = (0..pixels * channels).map(|_| rng.value()).collect();
        let mut packed = vec![u32::MAX; pixels * words(channels)];
        pack_f32(pixels, channels, &x, &mut packed);
        assert_padding_bits_zero(&packed, pixels, channels);
        let mut un = vec![0f32; pixels * channels];
        unpack_f32(pixels, channels, &packed, &mut un);
        for (i, &v) in un.iter().enumerate() {
            prop_assert_eq!(v, sign(x[i]) as f32);
        }
    }

    /// The threshold helper agrees with the float epilogue on every reachable accumulator.
    #[test]
    fn bits_thresholds_exhaustive(k in 1usize..=300, seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let n = 16;
        let clamp = random_clamp(&mut rng, k as i32);
        let (mut mult, mut bias) = (vec![], vec![]);
        for _ in 0..n {
            let (gm, bt) = random_gamma_beta(&mut rng, k as i64);
            let (m, b) = oracle_fuse(k as i64, gm, bt, 1.0, 0);
            mult.push(m);
            bias.push(b);
        }
        // Boundary-hugging channels: y == 0 exactly at some accumulator.
        mult[0] = -1.0;
        bias[0] = (k as f32) - 1.0;
        mult[1] = 1.0;
        bias[1] = -(k as f32);
        let e = BConvEpilogue { clamp_min: clamp.0, clamp_max: clamp.1, multiplier: &mult, bias: &bias };
        let mut th = vec![0i32; n];
        let mut neg = vec![false; n];
        bits_thresholds(k, &e, &mut th, &mut neg);
        for c in 0..n {
            for acc in -(k as i64)..=(k as i64) {
                let y = oracle_epilogue(k as i64, clamp.0, clamp.1, mult[c], bias[c], acc);
                let eff = if neg[c] { -acc } else { acc };
                prop_assert_eq!(eff < i64::from(th[c]), y < 0.0, "c {} acc {} t {} neg {}", c, acc, th[c], neg[c]);
            }
        }
    }
}

fn check_max_pool(g: Window2d, seed: u64) {
    let mut rng = Rng(seed);
    let c = g.in_c;
    let x: Vec<f32> = (0..g.in_len()).map(|_| if rng.below(3) == 0 { 1.0 } else { -1.0 }).collect();
    let mut packed = vec![0u32; g.batch * g.in_h * g.in_w * words(c)];
    pack_f32(g.batch * g.in_h * g.in_w, c, &x, &mut packed);
    let pixels_out = g.batch * g.out_h * g.out_w;
    let mut out = vec![u32::MAX; pixels_out * words(c)];
    max_pool_bits(&g, &packed, &mut out);
    assert_padding_bits_zero(&out, pixels_out, c);
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for ch in 0..c {
                    let mut m = -1.0f32; // max over an empty window: all -1, as LCE
                    for ky in 0..g.k_h {
                        for kx in 0..g.k_w {
                            let iy = coord(oy, ky, g.stride_h, 1, g.pad_top, g.in_h);
                            let ix = coord(ox, kx, g.stride_w, 1, g.pad_left, g.in_w);
                            if let (Some(y), Some(xx)) = (iy, ix) {
                                m = m.max(x[((b * g.in_h + y) * g.in_w + xx) * c + ch]);
                            }
                        }
                    }
                    let p = (b * g.out_h + oy) * g.out_w + ox;
                    assert_eq!(bit(&out, p, c, ch), m < 0.0, "pool b{b} y{oy} x{ox} c{ch} {g:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-picked shapes (the edges the brief names), run deterministically.

#[test]
fn edge_geometries() {
    let cases = [
        // 1x1 image, 3x3 kernel SAME: 8 of 9 taps are padding.
        geometry(1, 1, 1, 33, 31, (3, 3), (1, 1), (1, 1), true),
        // kernel larger than the input.
        geometry(1, 2, 2, 3, 33, (5, 5), (1, 1), (1, 1), true),
        geometry(2, 2, 3, 65, 1, (4, 5), (2, 1), (1, 1), true),
        // stride larger than the kernel.
        geometry(1, 7, 7, 31, 40, (1, 1), (3, 3), (1, 1), false),
        geometry(1, 7, 5, 100, 65, (2, 2), (3, 4), (1, 1), true),
        // dilation.
        geometry(1, 6, 6, 32, 32, (3, 3), (1, 1), (2, 2), true),
        geometry(1, 7, 6, 1, 3, (3, 2), (2, 1), (2, 3), false),
        // plain VALID 3x3.
        geometry(2, 5, 5, 64, 96, (3, 3), (1, 1), (1, 1), false),
        // 1x1 everything.
        geometry(1, 1, 1, 1, 1, (1, 1), (1, 1), (1, 1), false),
    ];
    for (i, g) in cases.into_iter().enumerate() {
        check_all_pads(g, 1000 + i as u64);
        let p = geometry(
            g.batch,
            g.in_h,
            g.in_w,
            g.in_c,
            g.in_c,
            (g.k_h, g.k_w),
            (g.stride_h, g.stride_w),
            (1, 1),
            true,
        );
        check_max_pool(p, 2000 + i as u64);
    }
}

#[test]
fn valid_geometry_pad_modes_agree() {
    let g = geometry(1, 6, 5, 33, 40, (3, 2), (2, 1), (1, 2), false);
    let mut rng = Rng(7);
    let case = Case::new(g, &mut rng);
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    assert_eq!(
                        bconv_acc(&g, PadValue::One, &case.packed_x, &case.packed_w, b, oy, ox, oc),
                        bconv_acc(&g, PadValue::Zero, &case.packed_x, &case.packed_w, b, oy, ox, oc)
                    );
                }
            }
        }
    }
}

/// One- vs zero-padding on a tiny hand-computed example.
#[test]
fn padding_modes_by_hand() {
    // 1x1 input, 1 channel, value -1; 3x3 SAME kernel of all -1 weights.
    let g = geometry(1, 1, 1, 1, 1, (3, 3), (1, 1), (1, 1), true);
    assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (1, 1, 1, 1));
    let mut x = [0u32; 1];
    pack_f32(1, 1, &[-1.0], &mut x);
    let mut w = [0u32; 9];
    pack_filter_f32(1, 3, 3, 1, &[-1.0; 9], &mut w);
    // One: centre (-1)(-1) = +1, eight pads (+1)(-1) = -8  → -7.  Zero: only the centre → +1.
    assert_eq!(bconv_acc(&g, PadValue::One, &x, &w, 0, 0, 0, 0), -7);
    assert_eq!(bconv_acc(&g, PadValue::Zero, &x, &w, 0, 0, 0, 0), 1);
}

/// Stray 1s in input/filter padding bits are ignored.
#[test]
fn padding_bits_of_inputs_are_ignored() {
    let g = geometry(1, 3, 3, 5, 2, (3, 3), (1, 1), (1, 1), true);
    let mut rng = Rng(99);
    let case = Case::new(g, &mut rng);
    let dirty_x: Vec<u32> = case.packed_x.iter().map(|w| w | !0b11111).collect();
    let dirty_w: Vec<u32> = case.packed_w.iter().map(|w| w | !0b11111).collect();
    for pad in [PadValue::One, PadValue::Zero] {
        for oy in 0..3 {
            for ox in 0..3 {
                for oc in 0..2 {
                    assert_eq!(
                        bconv_acc(&g, pad, &case.packed_x, &case.packed_w, 0, oy, ox, oc),
                        bconv_acc(&g, pad, &dirty_x, &dirty_w, 0, oy, ox, oc)
                    );
                }
            }
        }
    }
    let mut out = [0u32; 9];
    max_pool_bits(&Window2d { out_c: 5, ..g }, &dirty_x, &mut out);
    assert_padding_bits_zero(&out, 9, 5);
}

#[test]
fn words_and_masks() {
    assert_eq!(words(0), 0);
    assert_eq!(words(1), 1);
    assert_eq!(words(31), 1);
    assert_eq!(words(32), 1);
    assert_eq!(words(33), 2);
    assert_eq!(words(64), 2);
    assert_eq!(words(65), 3);
    assert_eq!(words(100), 4);
    assert_eq!(word_mask(100, 0), u32::MAX);
    assert_eq!(word_mask(100, 3), 0xF);
    assert_eq!(word_mask(64, 1), u32::MAX);
    assert_eq!(word_mask(3, 0), 0b111);
}

#[test]
fn pack_f32_special_values() {
    let values = [
        0.0f32,
        -0.0,
        -1e-45, // smallest negative subnormal
        1e-45,
        -f32::MIN_POSITIVE,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1.0,
        1.0,
        -f32::MAX,
    ];
    let expect_neg = [false, false, true, false, true, false, false, false, true, true, false, true];
    let mut packed = [u32::MAX; 1];
    pack_f32(1, values.len(), &values, &mut packed);
    for (c, &neg) in expect_neg.iter().enumerate() {
        assert_eq!(bit(&packed, 0, values.len(), c), neg, "value {:?}", values[c]);
    }
    assert_eq!(packed[0] >> values.len(), 0, "padding bits");
    // Bit order: channel c -> bit c % 32 of word c / 32.
    let mut x = [1.0f32; 70];
    x[0] = -1.0;
    x[33] = -1.0;
    x[69] = -1.0;
    let mut p = [0u32; 3];
    pack_f32(1, 70, &x, &mut p);
    assert_eq!(p, [1, 2, 1 << 5]);
}

#[test]
fn pack_i8_zero_point_edges() {
    let q: Vec<i8> = vec![-128, -1, 0, 1, 127];
    let mut p = [0u32; 1];
    pack_i8(1, 5, 0, &q, &mut p);
    assert_eq!(p[0], 0b00011); // -128, -1 are negative; q == zp is +1
    pack_i8(1, 5, -128, &q, &mut p);
    assert_eq!(p[0], 0);
    pack_i8(1, 5, -500, &q, &mut p);
    assert_eq!(p[0], 0);
    pack_i8(1, 5, 128, &q, &mut p);
    assert_eq!(p[0], 0b11111); // all negative, padding bits still 0
    pack_i8(1, 5, 127, &q, &mut p);
    assert_eq!(p[0], 0b01111);
}

#[test]
fn unpack_f32_values() {
    let mut out = [0f32; 35];
    unpack_f32(1, 35, &[0x8000_0001, 0b100 | 0xFFFF_FFF8], &mut out);
    for (c, &v) in out.iter().enumerate() {
        let neg = c == 0 || c == 31 || c == 34;
        assert_eq!(v, if neg { -1.0 } else { 1.0 }, "channel {c}");
    }
}

#[test]
fn dequantize_levels_match_lce() {
    // offset = round(1/scale), ties away from zero; levels saturate.
    assert_eq!(lce_dequantize_levels(0.5, 0), (2, -2));
    assert_eq!(lce_dequantize_levels(1.0 / 3.0, -5), (-2, -8));
    assert_eq!(lce_dequantize_levels(0.4, 0), (3, -3)); // 1/0.4 = 2.5 -> 3
    assert_eq!(lce_dequantize_levels(0.1, 120), (127, 110));
    assert_eq!(lce_dequantize_levels(0.001, -128), (127, -128));
    assert_eq!(lce_dequantize_levels(2.0, 0), (1, -1)); // 0.5 rounds away from zero
}

#[test]
fn int8_rounding_is_half_away_from_zero() {
    // K = 1 (1x1 conv, one channel): acc = ±1, x = K - acc in {0, 2}; y = x * m + b.
    let mult = [0.25f32, 0.25, 0.25, 0.25, 1000.0, -1000.0];
    let bias = [0.0f32, -1.0, 2.0, -3.0, 0.0, 0.0];
    let e = BConvEpilogue { clamp_min: i32::MIN, clamp_max: i32::MAX, multiplier: &mult, bias: &bias };
    // acc = -1 -> x = 2 -> y = 0.5 + b
    let got: Vec<i8> = (0..6).map(|c| epilogue_i8(&e, 1, -1, c)).collect();
    // 0.5 -> 1, -0.5 -> -1, 2.5 -> 3, -2.5 -> -3, 2000 -> 127, -2000 -> -128
    assert_eq!(got, vec![1, -1, 3, -3, 127, -128]);
    // NaN -> 0
    let m = [f32::NAN];
    let b = [0.0f32];
    let e = BConvEpilogue { clamp_min: i32::MIN, clamp_max: i32::MAX, multiplier: &m, bias: &b };
    assert_eq!(epilogue_i8(&e, 1, -1, 0), 0);
}

#[test]
fn clamp_is_applied_in_the_accumulator_domain() {
    // K = 9, float output with γ = 1, β = 0 (multiplier -1, bias 9): y == clamp(acc).
    let (mut m, mut b) = ([0f32; 1], [0f32; 1]);
    lce_output_transform(9, &[1.0], &[0.0], 1.0, 0, &mut m, &mut b);
    assert_eq!((m[0], b[0]), (-1.0, 9.0));
    for (lo, hi) in CLAMPS {
        let e = BConvEpilogue { clamp_min: lo, clamp_max: hi, multiplier: &m, bias: &b };
        for acc in -9..=9 {
            assert_eq!(epilogue_f32(&e, 9, acc, 0), acc.clamp(lo, hi) as f32);
        }
    }
}

#[test]
fn lce_threshold_mapping() {
    // pop > tau  <=>  acc < K - 2 tau, acc = K - 2 pop.
    let k = 27usize;
    for tau in -3..=30 {
        let t = acc_threshold_from_lce(k, tau);
        for pop in 0..=k as i32 {
            let acc = k as i32 - 2 * pop;
            assert_eq!(acc < t, pop > tau);
        }
    }
    assert_eq!(acc_threshold_from_lce(k, i32::MIN), i32::MAX); // always -1
    assert_eq!(acc_threshold_from_lce(k, i32::MAX), i32::MIN); // always +1

    // LCE's special cases: γ = 0 -> sign of β; clamp range that does not cross 0.
    let mut th = [0i32; 4];
    let mut neg = [false; 4];
    lce_bits_thresholds(
        k,
        i32::MIN,
        i32::MAX,
        &[0.0, -0.0, 1.0, -1.0],
        &[-1.0, 0.0, 0.5, 0.5],
        &mut th,
        &mut neg,
    );
    assert_eq!(th[0], i32::MAX);
    assert_eq!(th[1], i32::MIN);
    assert_eq!(neg, [false, false, false, true]);
    // γ = 1, β = 0.5: y < 0 <=> acc < -0.5 <=> acc <= -1; tau = floor(0.5 * (0.5 + 27)) = 13.
    assert_eq!(th[2], acc_threshold_from_lce(k, 13));
    // ReLU with β > 0: y = max(acc, 0) + β >= β > 0 always -> always +1.
    lce_bits_thresholds(k, 0, i32::MAX, &[1.0], &[0.5], &mut th[..1], &mut neg[..1]);
    assert_eq!(th[0], i32::MIN);
}
