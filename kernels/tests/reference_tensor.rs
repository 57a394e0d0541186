//! Data-movement kernels (pad, reflect pad, concat, nearest resize) against index-mapping oracles.
//!
//! These kernels only copy elements, so the contract is **exact equality** for every `T: Copy`.
//! Test data tags every element with its own flat index (or input number and index), so a
//! misplaced copy cannot go unnoticed. Each oracle is structured differently from its kernel:
//! constant pad by fill-then-scatter, reflect pad by the periodic mirror sequence, concat by a
//! per-output search for the owning input, resize by TFLite's formula written out per pixel.

use doppler_kernels::reference::tensor::{
    concat_last_axis, pad, pad_reflect, padded_shape, resize_nearest, resize_nearest_source,
};
use proptest::prelude::*;

fn iota(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

fn strides(shape: [usize; 4]) -> [usize; 4] {
    [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1]
}

fn unflat(shape: [usize; 4], mut i: usize) -> [usize; 4] {
    let mut idx = [0; 4];
    for d in (0..4).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

// ---------------------------------------------------------------------------------------------
// Constant pad

fn shape_strategy(max: usize) -> impl Strategy<Value = [usize; 4]> {
    [1usize..=max, 1usize..=max, 1usize..=max, 1usize..=max]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pad_matches_scatter_oracle(
        in_shape in shape_strategy(4),
        pads in [[0usize..=3, 0usize..=3], [0usize..=3, 0usize..=3], [0usize..=3, 0usize..=3], [0usize..=3, 0usize..=3]],
    ) {
        let out_shape = padded_shape(in_shape, pads);
        let n_in: usize = in_shape.iter().product();
        let n_out: usize = out_shape.iter().product();
        let input = iota(n_in);
        let fill = u32::MAX;
        let mut out = vec![0u32; n_out];
        pad(in_shape, pads, fill, &input, &mut out);

        // Oracle: fill with the constant, then scatter every input element to its shifted place.
        let mut want = vec![fill; n_out];
        let os = strides(out_shape);
        for (i, &v) in input.iter().enumerate() {
            let idx = unflat(in_shape, i);
            let at: usize = (0..4).map(|d| (idx[d] + pads[d][0]) * os[d]).sum();
            want[at] = v;
        }
        prop_assert_eq!(out, want);
    }

    #[test]
    fn pad_reflect_matches_mirror_oracle(
        in_shape in shape_strategy(5),
        raw in [[0usize..8, 0usize..8], [0usize..8, 0usize..8], [0usize..8, 0usize..8], [0usize..8, 0usize..8]],
    ) {
        // Precondition: pads[d][i] < in_shape[d].
        let pads = [0, 1, 2, 3].map(|d| [raw[d][0] % in_shape[d], raw[d][1] % in_shape[d]]);
        let out_shape = padded_shape(in_shape, pads);
        let n_out: usize = out_shape.iter().product();
        let input = iota(in_shape.iter().product());
        let mut out = vec![u32::MAX; n_out];
        pad_reflect(in_shape, pads, &input, &mut out);

        // Oracle: reflection without edge repetition is the periodic sequence
        // 0, 1, …, n-1, n-2, …, 1, 0, 1, … with period 2(n-1), indexed from -before.
        let mirror = |o: usize, before: usize, n: usize| -> usize {
            if n == 1 {
                return 0;
            }
            let period = 2 * (n as isize - 1);
            let m = (o as isize - before as isize).rem_euclid(period);
            (if m < n as isize { m } else { period - m }) as usize
        };
        let is = strides(in_shape);
        for (i, &got) in out.iter().enumerate() {
            let o = unflat(out_shape, i);
            let src: usize = (0..4).map(|d| mirror(o[d], pads[d][0], in_shape[d]) * is[d]).sum();
            prop_assert_eq!(got, input[src], "output {:?}", o);
        }
    }
}

#[test]
fn pad_examples_and_other_dtypes() {
    // [2, 3] image, one channel, padded by 1 on all spatial sides with -1 (i8).
    let input: [i8; 6] = [1, 2, 3, 4, 5, 6];
    let mut out = [0i8; 20];
    pad([1, 2, 3, 1], [[0, 0], [1, 1], [1, 1], [0, 0]], -1, &input, &mut out);
    #[rustfmt::skip]
    let want: [i8; 20] = [
        -1, -1, -1, -1, -1,
        -1,  1,  2,  3, -1,
        -1,  4,  5,  6, -1,
        -1, -1, -1, -1, -1,
    ];
    assert_eq!(out, want);

    // Channel padding in f32 (PAD on the last axis), with zero pads elsewhere.
    let mut outf = [9.0f32; 5];
    pad([1, 1, 1, 2], [[0, 0], [0, 0], [0, 0], [1, 2]], 0.0f32, &[1.5, 2.5], &mut outf);
    assert_eq!(outf, [0.0, 1.5, 2.5, 0.0, 0.0]);

    // No padding is a copy.
    let mut same = [0u32; 6];
    pad([1, 2, 3, 1], [[0, 0]; 4], 7, &[1, 2, 3, 4, 5, 6], &mut same);
    assert_eq!(same, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn pad_reflect_examples() {
    // The edge is the mirror axis and is not repeated.
    let mut out = [0i32; 7];
    pad_reflect([1, 1, 1, 3], [[0, 0], [0, 0], [0, 0], [2, 2]], &[1, 2, 3], &mut out);
    assert_eq!(out, [3, 2, 1, 2, 3, 2, 1]);

    // TF MirrorPad REFLECT docs example: [[1,2,3],[4,5,6]], paddings [[1,1],[2,2]].
    let mut out2 = [0i32; 28];
    pad_reflect([1, 1, 2, 3], [[0, 0], [0, 0], [1, 1], [2, 2]], &[1, 2, 3, 4, 5, 6], &mut out2);
    #[rustfmt::skip]
    let want: [i32; 28] = [
        6, 5, 4, 5, 6, 5, 4,
        3, 2, 1, 2, 3, 2, 1,
        6, 5, 4, 5, 6, 5, 4,
        3, 2, 1, 2, 3, 2, 1,
    ];
    assert_eq!(out2, want);

    // f32 on an H axis (style-transfer nets reflect-pad H and W).
    let mut out3 = [0.0f32; 8];
    pad_reflect([1, 4, 1, 1], [[0, 0], [1, 3], [0, 0], [0, 0]], &[0.5, 1.5, 2.5, 3.5], &mut out3);
    assert_eq!(out3, [1.5, 0.5, 1.5, 2.5, 3.5, 2.5, 1.5, 0.5]);
}

// ---------------------------------------------------------------------------------------------
// Concat

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn concat_matches_search_oracle(outer in 0usize..=5, inner in prop::collection::vec(0usize..=6, 1..=5)) {
        let inputs: Vec<Vec<u32>> = inner
            .iter()
            .enumerate()
            .map(|(k, &n)| (0..outer * n).map(|i| (k * 10_000 + i) as u32).collect())
            .collect();
        let refs: Vec<&[u32]> = inputs.iter().map(|v| v.as_slice()).collect();
        let total: usize = inner.iter().sum();
        let mut out = vec![u32::MAX; outer * total];
        concat_last_axis(outer, &refs, &inner, &mut out);

        for o in 0..outer {
            for j in 0..total {
                // Find the input that owns column j.
                let mut k = 0;
                let mut start = 0;
                while j >= start + inner[k] {
                    start += inner[k];
                    k += 1;
                }
                prop_assert_eq!(out[o * total + j], inputs[k][o * inner[k] + (j - start)]);
            }
        }
    }
}

#[test]
fn concat_example() {
    let a = [1.0f32, 2.0, 3.0, 4.0]; // [2][2]
    let b = [9.0f32, 8.0]; // [2][1]
    let mut out = [0.0f32; 6];
    concat_last_axis(2, &[&a, &b], &[2, 1], &mut out);
    assert_eq!(out, [1.0, 2.0, 9.0, 3.0, 4.0, 8.0]);
}

// ---------------------------------------------------------------------------------------------
// Resize nearest

/// TFLite's GetNearestNeighbor, written out independently (std float ops instead of libm).
fn tflite_nearest(o: usize, input: usize, output: usize, align: bool, half: bool) -> usize {
    let scale: f32 = if align && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    };
    let v: f32 = (o as f32 + if half { 0.5 } else { 0.0 }) * scale;
    let r = if align { v.round() } else { v.floor() } as i64;
    r.min(input as i64 - 1).max(0) as usize
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn resize_nearest_matches_tflite_formula(
        batch in 1usize..=2,
        in_h in 1usize..=12,
        in_w in 1usize..=12,
        c in prop_oneof![Just(1usize), Just(3), 1usize..=5],
        out_h in 1usize..=24,
        out_w in 1usize..=24,
        align in any::<bool>(),
        half in any::<bool>(),
    ) {
        let input = iota(batch * in_h * in_w * c);
        let mut out = vec![u32::MAX; batch * out_h * out_w * c];
        resize_nearest(batch, in_h, in_w, c, out_h, out_w, align, half, &input, &mut out);
        for (i, &got) in out.iter().enumerate() {
            let [b, oy, ox, ch] = unflat([batch, out_h, out_w, c], i);
            let iy = tflite_nearest(oy, in_h, out_h, align, half);
            let ix = tflite_nearest(ox, in_w, out_w, align, half);
            prop_assert_eq!(got, input[((b * in_h + iy) * in_w + ix) * c + ch]);
        }
    }
}

#[test]
fn resize_nearest_tflite_examples() {
    // 2x2 -> 3x3, one channel; the three TFLite modes.
    let input = [3u8, 6, 9, 12];
    let mut out = [0u8; 9];
    resize_nearest(1, 2, 2, 1, 3, 3, false, false, &input, &mut out);
    assert_eq!(out, [3, 3, 6, 3, 3, 6, 9, 9, 12]);
    resize_nearest(1, 2, 2, 1, 3, 3, true, false, &input, &mut out);
    assert_eq!(out, [3, 6, 6, 9, 12, 12, 9, 12, 12]);
    resize_nearest(1, 2, 2, 1, 3, 3, false, true, &input, &mut out);
    assert_eq!(out, [3, 6, 6, 9, 12, 12, 9, 12, 12]);

    // 2x upsampling (the style-transfer case): every pixel becomes a 2x2 block.
    let mut up = [0i8; 16];
    resize_nearest(1, 2, 2, 1, 4, 4, false, false, &[1i8, 2, 3, 4], &mut up);
    assert_eq!(up, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    // half_pixel_centers gives the same blocks for an integer factor.
    let mut up_hp = [0i8; 16];
    resize_nearest(1, 2, 2, 1, 4, 4, false, true, &[1i8, 2, 3, 4], &mut up_hp);
    assert_eq!(up_hp, up);
}

#[test]
fn resize_nearest_identity_in_every_mode() {
    for n in 1..=9 {
        // Not (true, true): there o = 0 maps to round(0.5 * 1) = 1 (TF rejects that combination).
        for (align, half) in [(false, false), (true, false), (false, true)] {
            for o in 0..n {
                assert_eq!(resize_nearest_source(o, n, n, align, half), o, "n {n} align {align} half {half}");
            }
        }
    }
}

/// ONNX Resize nearest + asymmetric + floor is `floor(o * in / out)` in exact arithmetic. TFLite's
/// f32 formula agrees with it for every integer upscale factor (checked here for k <= 16,
/// in <= 256; the doc comment records a wider offline check), and for every size pair where the
/// scale `in / out` is exact in binary (powers of two).
#[test]
fn resize_nearest_equals_onnx_asymmetric_floor_for_integer_factors() {
    for input in 1..=256usize {
        for k in 1..=16usize {
            let output = input * k;
            for o in 0..output {
                assert_eq!(resize_nearest_source(o, input, output, false, false), o * input / output);
            }
        }
    }
    for (input, output) in [(64usize, 32usize), (64, 16), (7, 28), (5, 40), (96, 3)] {
        for o in 0..output {
            assert_eq!(resize_nearest_source(o, input, output, false, false), o * input / output);
        }
    }
}

/// The f32 rounding TFLite performs is part of the contract: for in = 2, out = 82 the exact
/// source of o = 41 is 1, but `41 * f32(2/82)` rounds just below 1 and floors to 0.
#[test]
fn resize_nearest_reproduces_f32_rounding() {
    assert_eq!(resize_nearest_source(41, 2, 82, false, false), 0);
    assert_eq!(41 * 2 / 82, 1);
}
