//! Shared by `reference_binary` and `differential_binary`: the deterministic PRNG (so that
//! proptest only has to shrink a seed and the shape) and the TFLite-style geometries.
#![allow(dead_code)]

use doppler_kernels::reference::Window2d;
use proptest::prelude::*;

/// Small deterministic PRNG (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    /// `n` random words (padding bits included: kernels must ignore them).
    pub fn words(&mut self, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.next_u64() as u32).collect()
    }
}

/// A conv/pool geometry, TFLite style: SAME or VALID padding.
#[allow(clippy::too_many_arguments)]
pub fn geometry(
    batch: usize,
    in_h: usize,
    in_w: usize,
    in_c: usize,
    out_c: usize,
    k: (usize, usize),
    stride: (usize, usize),
    dil: (usize, usize),
    same: bool,
) -> Window2d {
    let eff_h = (k.0 - 1) * dil.0 + 1;
    let eff_w = (k.1 - 1) * dil.1 + 1;
    let same = same || in_h < eff_h || in_w < eff_w; // VALID impossible: fall back to SAME
    let (out_h, out_w, pad_top, pad_left) = if same {
        let out_h = in_h.div_ceil(stride.0);
        let out_w = in_w.div_ceil(stride.1);
        let pad_h = ((out_h - 1) * stride.0 + eff_h).saturating_sub(in_h);
        let pad_w = ((out_w - 1) * stride.1 + eff_w).saturating_sub(in_w);
        (out_h, out_w, pad_h / 2, pad_w / 2)
    } else {
        ((in_h - eff_h) / stride.0 + 1, (in_w - eff_w) / stride.1 + 1, 0, 0)
    };
    Window2d {
        batch,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        k_h: k.0,
        k_w: k.1,
        stride_h: stride.0,
        stride_w: stride.1,
        dil_h: dil.0,
        dil_w: dil.1,
        pad_top,
        pad_left,
    }
}

prop_compose! {
    /// Random geometries: batch 1–2, images up to `max_hw` square, channel counts from the
    /// given lists, kernels up to 4×4, strides up to 3, dilations up to 2, SAME or VALID.
    pub fn arb_geometry(in_cs: &'static [usize], out_cs: &'static [usize], max_hw: usize)(
        batch in 1usize..=2,
        in_h in 1usize..=max_hw,
        in_w in 1usize..=max_hw,
        in_c in prop::sample::select(in_cs),
        out_c in prop::sample::select(out_cs),
        k_h in 1usize..=4,
        k_w in 1usize..=4,
        s_h in 1usize..=3,
        s_w in 1usize..=3,
        d_h in 1usize..=2,
        d_w in 1usize..=2,
        same in any::<bool>(),
    ) -> Window2d {
        geometry(batch, in_h, in_w, in_c, out_c, (k_h, k_w), (s_h, s_w), (d_h, d_w), same)
    }
}

prop_compose! {
    /// Random max-pool geometries (`in_c == out_c`, dilation 1): batch 1–2, images up to 7×7,
    /// windows up to 4×4, strides up to 4, SAME or VALID.
    pub fn arb_pool_geometry(channels: &'static [usize])(
        batch in 1usize..=2,
        in_h in 1usize..=7,
        in_w in 1usize..=7,
        c in prop::sample::select(channels),
        k_h in 1usize..=4,
        k_w in 1usize..=4,
        s_h in 1usize..=4,
        s_w in 1usize..=4,
        same in any::<bool>(),
    ) -> Window2d {
        geometry(batch, in_h, in_w, c, c, (k_h, k_w), (s_h, s_w), (1, 1), same)
    }
}
