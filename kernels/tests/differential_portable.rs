//! The `portable` kernels against their reference twins: **bit-identical** output, for the
//! float instance normalization too (they reorder memory accesses, never arithmetic).
//!
//! The same checks run through `best::` on every target, so the kernels the engine calls are the
//! ones tested; under `force-reference` they compare the reference with itself.

use doppler_kernels::best::{f32 as best_f32, int8 as best_i8, tensor as best_tensor};
use doppler_kernels::reference::{f32 as ref_f32, int8 as ref_i8, tensor as ref_tensor};
use proptest::prelude::*;

/// A 4-D shape with per-axis pads; `reflect` keeps every pad below its axis size.
fn shape_and_pads(reflect: bool) -> impl Strategy<Value = ([usize; 4], [[usize; 2]; 4])> {
    let lo = if reflect { 1 } else { 0 };
    prop::array::uniform4(lo..6usize).prop_flat_map(move |shape| {
        let pad = move |d: usize| {
            let hi = if reflect { shape[d] } else { 4 };
            prop::array::uniform2(0..hi)
        };
        (Just(shape), [pad(0), pad(1), pad(2), pad(3)])
    })
}

/// Fills with distinct tags so that a misplaced copy shows.
fn tagged(n: usize) -> Vec<u32> {
    (1..=n as u32).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pad_constant_matches_reference((shape, pads) in shape_and_pads(false)) {
        let x = tagged(shape.iter().product());
        let n = ref_tensor::padded_shape(shape, pads).iter().product();
        let (mut want, mut got) = (vec![7u32; n], vec![9u32; n]);
        ref_tensor::pad(shape, pads, 0, &x, &mut want);
        best_tensor::pad(shape, pads, 0, &x, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn pad_reflect_matches_reference((shape, pads) in shape_and_pads(true)) {
        let x = tagged(shape.iter().product());
        let n = ref_tensor::padded_shape(shape, pads).iter().product();
        let (mut want, mut got) = (vec![7u32; n], vec![9u32; n]);
        ref_tensor::pad_reflect(shape, pads, &x, &mut want);
        best_tensor::pad_reflect(shape, pads, &x, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn instance_norm_is_bit_identical(
        (batch, h, w, c) in (1..3usize, 1..9usize, 1..9usize, prop_oneof![Just(8usize), Just(16), Just(32), 1..20usize]),
        seed in any::<u64>(),
        offset in -100.0f32..100.0,
    ) {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 8.0 - 4.0
        };
        let x: Vec<f32> = (0..batch * h * w * c).map(|_| next() + offset).collect();
        let gamma: Vec<f32> = (0..c).map(|_| next()).collect();
        let beta: Vec<f32> = (0..c).map(|_| next()).collect();
        let (mut want, mut got) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
        ref_f32::instance_norm_f32(batch, h, w, c, 1e-5, &gamma, &beta, &x, &mut want);
        best_f32::instance_norm_f32(batch, h, w, c, 1e-5, &gamma, &beta, &x, &mut got);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got), bits(&want));
    }

    #[test]
    fn quantize_matches_reference(
        scale in prop_oneof![Just(1.0f32), Just(0.5), 1e-3f32..10.0, Just(f32::MIN_POSITIVE)],
        zp in -128i32..=127,
        xs in prop::collection::vec(
            prop_oneof![
                4 => -300.0f32..300.0,
                // Ties and their neighbours: k + 0.5 and one ulp either side.
                2 => (-300i32..300).prop_flat_map(|k| {
                    let t = k as f32 + 0.5;
                    prop::sample::select(vec![t, f32::from_bits(t.to_bits() + 1), f32::from_bits(t.to_bits() - 1)])
                }),
                1 => prop::sample::select(vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e30, -1e30, 0.49999997, -0.49999997]),
                1 => any::<f32>(),
            ],
            0..300,
        ),
    ) {
        // Scale 1: the ties above are ties of `x / scale`; other scales test the division.
        let (mut want, mut got) = (vec![7i8; xs.len()], vec![9i8; xs.len()]);
        ref_i8::quantize_f32_i8(scale, zp, &xs, &mut want);
        best_i8::quantize_f32_i8(scale, zp, &xs, &mut got);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn dequantize_matches_reference(
        scale in prop_oneof![1e-6f32..100.0, any::<f32>().prop_filter("finite > 0", |s| s.is_finite() && *s > 0.0)],
        zp in -128i32..=127,
        qs in prop::collection::vec(any::<i8>(), 0..2000),
    ) {
        let (mut want, mut got) = (vec![0f32; qs.len()], vec![1f32; qs.len()]);
        ref_i8::dequantize_i8_f32(scale, zp, &qs, &mut want);
        best_i8::dequantize_i8_f32(scale, zp, &qs, &mut got);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got), bits(&want));
    }
}
