//! The `portable` kernels against their reference twins: **bit-identical** output, for the
//! float instance normalization too (they reorder memory accesses, never arithmetic).
//!
//! The same checks run through `best::` on every target, so the kernels the engine calls are the
//! ones tested; under `force-reference` they compare the reference with itself.

use doppler_kernels::best::{f32 as best_f32, tensor as best_tensor};
use doppler_kernels::reference::{f32 as ref_f32, tensor as ref_tensor};
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
}
