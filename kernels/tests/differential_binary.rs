//! `best::binary` against `reference::binary`, bit for bit, on randomized shapes.
//!
//! On the host `best` *is* the reference, so this is cheap and trivially green; under
//! `qemu-arm -cpu cortex-a9` / `qemu-aarch64 -cpu cortex-a53` it checks the NEON kernels.
//! Inputs are random packed words **with dirty padding bits** (the kernels must ignore them),
//! output buffers are pre-filled with garbage and compared whole (so a kernel writing out of
//! its range is caught too). The shapes cover the tails of every tile: channel counts that are
//! not multiples of 32/64/128, output channels that are not multiples of the tile or of 32,
//! widths that are not multiples of the pixel tile, 1×1 images, strides, dilations, kernels
//! larger than the input, both paddings and all three conv outputs, and epilogue parameters
//! that force the scalar float fallback (subnormal / NaN multipliers, tiny biases, constant
//! clamps).

use doppler_kernels::best::binary as best;
use doppler_kernels::reference::binary as reference;
use doppler_kernels::reference::binary::{words, BConvEpilogue, PadValue};
use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

mod common;
use common::binary::{arb_pool_geometry, geometry, Rng};

/// This file's activation values (the shared `Rng` has the rest).
trait Values {
    fn value(&mut self) -> f32;
}

impl Values for Rng {
    /// A float activation including the values `x < 0` must get right.
    fn value(&mut self) -> f32 {
        match self.below(20) {
            0 => 0.0,
            1 => -0.0,
            2 => -1e-40,
            3 => 1e-40,
            4 => -f32::MIN_POSITIVE,
            5 => f32::NAN,
            6 => -f32::NAN,
            7 => f32::NEG_INFINITY,
            8 => f32::INFINITY,
            9 => f32::from_bits(0xFF80_0001), // -NaN with payload
            10 => -f32::from_bits(1),         // smallest negative subnormal
            _ => self.unit() as f32,
        }
    }
}

/// Epilogue parameters: mostly LCE-like, sometimes hostile to NEON's flush-to-zero float.
fn epilogue_params(rng: &mut Rng, out_c: usize, k: usize) -> (Vec<f32>, Vec<f32>, i32, i32) {
    let hostile = rng.below(4) == 0;
    let mut m = Vec::with_capacity(out_c);
    let mut b = Vec::with_capacity(out_c);
    for _ in 0..out_c {
        let (mut mv, mut bv) = ((rng.unit() * 2.0) as f32, (rng.unit() * 1.5 * k as f64) as f32);
        if rng.below(8) == 0 {
            // exact .5 ties for the int8 rounding
            mv = [0.5f32, -0.5, 0.25, -1.0][rng.below(4) as usize];
            bv = (rng.below(64) as f32 - 32.0) / 4.0;
        }
        if hostile {
            match rng.below(8) {
                0 => mv = 1e-39,                       // subnormal multiplier
                1 => bv = -1e-41,                      // subnormal bias
                2 => bv = 1e-35,                       // tiny normal bias
                3 => mv = f32::from_bits(0x7FC0_1234), // NaN with payload
                4 => bv = f32::INFINITY,
                5 => mv = f32::NEG_INFINITY,
                6 => mv = 0.0,
                _ => {}
            }
        }
        m.push(mv);
        b.push(bv);
    }
    let kk = k as i32;
    let (lo, hi) = match rng.below(8) {
        0 => (i32::MIN, i32::MAX),
        1 => (0, i32::MAX),
        2 => (0, 6),
        3 => (-1, 1),
        4 => (kk + 3, kk + 5),             // constant output, x < 0
        5 => (3, -3),                      // empty range: constant
        6 => (i32::MIN, -2 * kk - 70_000), // constant, x far outside u16
        _ => {
            let a = rng.below(2 * k as u64 + 3) as i32 - kk - 1;
            let c = rng.below(2 * k as u64 + 3) as i32 - kk - 1;
            (a.min(c), a.max(c))
        }
    };
    (m, b, lo, hi)
}

fn thresholds(rng: &mut Rng, out_c: usize, k: usize) -> Vec<i32> {
    (0..out_c)
        .map(|_| match rng.below(10) {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => -(k as i32) - 1,
            3 => k as i32 + 1,
            _ => rng.below(2 * k as u64 + 3) as i32 - k as i32 - 1,
        })
        .collect()
}

/// All three conv outputs, both kernels, bit-exact.
fn check_conv(g: Window2d, pad: PadValue, seed: u64) {
    let mut rng = Rng(seed);
    let wpp = words(g.in_c);
    let input = rng.words(g.batch * g.in_h * g.in_w * wpp);
    let filter = rng.words(g.out_c * g.k_h * g.k_w * wpp);
    let k = g.k_h * g.k_w * g.in_c;
    let pixels = g.batch * g.out_h * g.out_w;
    let ctx = format!("{g:?} {pad:?} seed {seed}");

    let th = thresholds(&mut rng, g.out_c, k);
    let garbage = rng.next_u64() as u32;
    let n_bits = pixels * words(g.out_c) + 3;
    let mut want = vec![garbage; n_bits];
    let mut got = vec![garbage; n_bits];
    reference::bconv2d_bits(&g, pad, &th, &input, &filter, &mut want);
    best::bconv2d_bits(&g, pad, &th, &input, &filter, &mut got);
    assert_eq!(got, want, "bits: {ctx}");

    let (m, b, lo, hi) = epilogue_params(&mut rng, g.out_c, k);
    let e = BConvEpilogue { clamp_min: lo, clamp_max: hi, multiplier: &m, bias: &b };
    let mut want = vec![f32::from_bits(garbage); g.out_len() + 3];
    let mut got = want.clone();
    reference::bconv2d_f32(&g, pad, &e, &input, &filter, &mut want);
    best::bconv2d_f32(&g, pad, &e, &input, &filter, &mut got);
    let (wb, gb): (Vec<u32>, Vec<u32>) =
        (want.iter().map(|v| v.to_bits()).collect(), got.iter().map(|v| v.to_bits()).collect());
    assert_eq!(gb, wb, "f32: {ctx} clamp ({lo}, {hi})");

    let (m, b, lo, hi) = epilogue_params(&mut rng, g.out_c, k);
    let e = BConvEpilogue { clamp_min: lo, clamp_max: hi, multiplier: &m, bias: &b };
    let mut want = vec![garbage as i8; g.out_len() + 3];
    let mut got = want.clone();
    reference::bconv2d_i8(&g, pad, &e, &input, &filter, &mut want);
    best::bconv2d_i8(&g, pad, &e, &input, &filter, &mut got);
    assert_eq!(got, want, "i8: {ctx} clamp ({lo}, {hi})");
}

fn check_max_pool(g: Window2d, seed: u64) {
    let mut rng = Rng(seed);
    let wpp = words(g.in_c);
    // Mostly -1 bits so that ANDs are not all zero; padding bits dirty.
    let input: Vec<u32> =
        (0..g.batch * g.in_h * g.in_w * wpp).map(|_| (rng.next_u64() | rng.next_u64()) as u32).collect();
    let n = g.batch * g.out_h * g.out_w * wpp + 2;
    let mut want = vec![0x5A5A_5A5A; n];
    let mut got = want.clone();
    reference::max_pool_bits(&g, &input, &mut want);
    best::max_pool_bits(&g, &input, &mut got);
    assert_eq!(got, want, "max_pool {g:?}");
}

/// Windows far larger than the input, mostly padding (valid: every window touches the input):
/// the kernels must visit only in-bounds taps (fuzz finding 2 was this pattern in the
/// reference average pool: O(window) work per output, quadratic overall).
#[test]
fn max_pool_bits_huge_windows_match_reference() {
    let base = Window2d {
        batch: 1,
        in_h: 2,
        in_w: 3,
        in_c: 33,
        out_h: 1,
        out_w: 1,
        out_c: 33,
        k_h: 1,
        k_w: 1,
        stride_h: 1,
        stride_w: 1,
        dil_h: 1,
        dil_w: 1,
        pad_top: 0,
        pad_left: 0,
    };
    // out = in + 2·pad − extent + 1 with pad = extent − 1 (the largest valid pad).
    for (k, dil) in [(20_000usize, 1usize), (7_001, 3)] {
        let extent = dil * (k - 1) + 1;
        let g = Window2d { k_w: k, dil_w: dil, pad_left: extent - 1, out_w: base.in_w + extent - 1, ..base };
        check_max_pool(g, k as u64);
        let g = Window2d { k_h: k, dil_h: dil, pad_top: extent - 1, out_h: base.in_h + extent - 1, ..base };
        check_max_pool(g, k as u64 + 1);
    }
}

const IN_C: [usize; 10] = [1, 2, 31, 32, 33, 64, 65, 100, 128, 257];
const OUT_C: [usize; 10] = [1, 2, 3, 7, 31, 32, 33, 40, 65, 100];

/// Random geometries over this file's channel counts.
fn arb_geometry() -> impl Strategy<Value = Window2d> {
    common::binary::arb_geometry(&IN_C, &OUT_C, 7)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn bconv2d_matches_reference(g in arb_geometry(), seed in any::<u64>()) {
        check_conv(g, PadValue::One, seed);
        check_conv(g, PadValue::Zero, seed ^ 0x5555);
    }

    #[test]
    fn max_pool_bits_matches_reference(g in arb_pool_geometry(&IN_C[..]), seed in any::<u64>()) {
        check_max_pool(g, seed);
    }

    #[test]
    fn pack_f32_matches_reference(
        pixels in 0usize..=5,
        channels in prop::sample::select(&[1usize, 5, 31, 32, 33, 64, 65, 100, 257][..]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let x: Vec<f32> = (0..pixels * channels).map(|_| rng.value()).collect();
        let n = pixels * words(channels) + 2;
        let mut want = vec![0xA5A5_A5A5; n];
        let mut got = want.clone();
        reference::pack_f32(pixels, channels, &x, &mut want);
        best::pack_f32(pixels, channels, &x, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn pack_i8_matches_reference(
        pixels in 0usize..=5,
        channels in prop::sample::select(&[1usize, 5, 31, 32, 33, 64, 65, 100, 257][..]),
        zp in prop_oneof![-300i32..=300, -130i32..=-126, 125i32..=130],
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let q: Vec<i8> = (0..pixels * channels).map(|_| rng.next_u64() as i8).collect();
        let n = pixels * words(channels) + 2;
        let mut want = vec![0xA5A5_A5A5; n];
        let mut got = want.clone();
        reference::pack_i8(pixels, channels, zp, &q, &mut want);
        best::pack_i8(pixels, channels, zp, &q, &mut got);
        prop_assert_eq!(got, want);
    }
}

/// Hand-picked shapes: the edges named in the brief and realistic layer shapes (several pixel
/// groups, several output-channel blocks, long K, K-tail chunks, the reference fallback).
#[test]
fn conv_edge_and_layer_shapes() {
    let cases = [
        // 1x1 image, 3x3 SAME: 8 of 9 taps are padding.
        geometry(1, 1, 1, 33, 31, (3, 3), (1, 1), (1, 1), true),
        geometry(1, 1, 1, 1, 1, (1, 1), (1, 1), (1, 1), false),
        // kernel larger than the input
        geometry(1, 2, 2, 3, 33, (5, 5), (1, 1), (1, 1), true),
        geometry(2, 2, 3, 65, 1, (4, 5), (2, 1), (1, 1), true),
        // stride 2 and stride larger than the kernel
        geometry(1, 9, 9, 64, 33, (3, 3), (2, 2), (1, 1), true),
        geometry(1, 7, 7, 31, 40, (1, 1), (3, 3), (1, 1), false),
        // dilation
        geometry(1, 6, 6, 32, 32, (3, 3), (1, 1), (2, 2), true),
        // 1x1 convs
        geometry(1, 5, 6, 256, 65, (1, 1), (1, 1), (1, 1), false),
        geometry(1, 6, 5, 100, 7, (1, 1), (2, 2), (1, 1), false),
        // realistic: K = 2304 (18 chunks), several groups and oc blocks; with zero padding the
        // border pixels' twin rows push the rows over several groups
        geometry(1, 7, 7, 256, 70, (3, 3), (1, 1), (1, 1), true),
        geometry(1, 12, 12, 256, 40, (3, 3), (1, 1), (1, 1), true),
        geometry(2, 10, 9, 128, 96, (3, 3), (2, 2), (1, 1), true),
        // K tail (3x3x64 = 18 words = 4.5 chunks), wide rows
        geometry(1, 11, 13, 64, 64, (3, 3), (1, 1), (1, 1), true),
        // 5x5, 7x7 kernels
        geometry(1, 8, 8, 96, 34, (5, 5), (1, 1), (1, 1), true),
        geometry(1, 9, 9, 32, 3, (7, 7), (2, 2), (1, 1), true),
        // long K near the fast-path limit (Kq = 126), and past it (reference fallback)
        geometry(1, 3, 3, 1792, 5, (3, 3), (1, 1), (1, 1), true),
        geometry(1, 2, 2, 3641, 3, (3, 3), (1, 1), (1, 1), true),
    ];
    for (i, g) in cases.into_iter().enumerate() {
        check_conv(g, PadValue::One, 1000 + i as u64);
        check_conv(g, PadValue::Zero, 2000 + i as u64);
    }
}

#[test]
fn max_pool_edge_shapes() {
    let cases = [
        geometry(1, 14, 14, 256, 256, (2, 2), (2, 2), (1, 1), false),
        geometry(1, 7, 7, 65, 65, (3, 3), (2, 2), (1, 1), true),
        geometry(2, 1, 1, 1, 1, (3, 3), (1, 1), (1, 1), true),
        geometry(1, 5, 5, 33, 33, (5, 5), (1, 1), (1, 1), true),
        // dilated windows run the reference
        geometry(1, 6, 6, 40, 40, (2, 2), (1, 1), (2, 2), true),
    ];
    for (i, g) in cases.into_iter().enumerate() {
        check_max_pool(g, 3000 + i as u64);
    }
}

#[test]
fn pack_special_values() {
    let x = [
        0.0f32,
        -0.0,
        -1e-45,
        1e-45,
        -f32::MIN_POSITIVE,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1.0,
        1.0,
        -f32::MAX,
        f32::from_bits(0xFF80_0001),
        f32::from_bits(0x8000_0001),
        f32::from_bits(0xFF7F_FFFF),
        f32::from_bits(0x807F_FFFF),
    ];
    let vals: Vec<f32> = x.iter().cycle().take(64 * 3).copied().collect();
    for channels in [16usize, 32, 64, 96] {
        let pixels = vals.len() / channels;
        let mut want = vec![0u32; pixels * words(channels)];
        let mut got = vec![1u32; pixels * words(channels)];
        reference::pack_f32(pixels, channels, &vals, &mut want);
        best::pack_f32(pixels, channels, &vals, &mut got);
        assert_eq!(got, want, "channels {channels}");
    }
}
