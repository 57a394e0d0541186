//! QUANTIZE and DEQUANTIZE without the reference's per-element library calls; the same outputs
//! as [`crate::reference::int8::quantize_f32_i8`] and
//! [`crate::reference::int8::dequantize_i8_f32`], bit for bit.
//!
//! In the style networks every int8 convolution sits between a Quantize and a Dequantize (instance
//! norm stays float), so on the Cortex-A9 these two cost 15 M and 25 M instructions per
//! 64×64×128 tensor in the reference form (`libm::roundf` and an f64 product per element).

use crate::reference::int8::saturate_i8;

/// `saturate(round_half_away(x / scale) + zero_point)`, as the reference.
///
/// The reference's `libm::roundf` is replaced by truncation plus a correction: for `|t| < 2^23`
/// the fraction `t − trunc(t)` is exact in f32, and `|frac| ≥ 0.5` moves one step away from zero
/// — which is round-half-away. `t` is first clamped to ±1024: beyond that every zero point in
/// `[−128, 127]` saturates to the same int8 as the reference (which saturates the `i32` first);
/// NaN stays NaN through the clamp and converts to 0, as in the reference.
pub fn quantize_f32_i8(scale: f32, zero_point: i32, input: &[f32], output: &mut [i8]) {
    if !(-128..=127).contains(&zero_point) {
        return crate::reference::int8::quantize_f32_i8(scale, zero_point, input, output);
    }
    debug_assert_eq!(input.len(), output.len());
    for (o, &x) in output.iter_mut().zip(input) {
        let t = (x / scale).clamp(-1024.0, 1024.0);
        let mut q = t as i32;
        let frac = t - q as f32;
        if frac >= 0.5 {
            q += 1;
        } else if frac <= -0.5 {
            q -= 1;
        }
        *o = saturate_i8(q + zero_point);
    }
}

/// `scale · (q − zero_point)` through a 256-entry table computed by the reference itself.
pub fn dequantize_i8_f32(scale: f32, zero_point: i32, input: &[i8], output: &mut [f32]) {
    debug_assert_eq!(input.len(), output.len());
    if input.len() < 512 {
        return crate::reference::int8::dequantize_i8_f32(scale, zero_point, input, output);
    }
    let mut codes = [0i8; 256];
    for (k, c) in codes.iter_mut().enumerate() {
        *c = (k as i32 - 128) as i8;
    }
    let mut table = [0f32; 256];
    crate::reference::int8::dequantize_i8_f32(scale, zero_point, &codes, &mut table);
    for (o, &q) in output.iter_mut().zip(input) {
        *o = table[(i32::from(q) + 128) as usize];
    }
}
