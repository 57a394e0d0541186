//! 256-entry int8 tables for elementwise int8 ops, computed exactly as the TFLite interpreter
//! computes those ops (an elementwise int8 → int8 function *is* a table, so matching the table
//! matches the op bit for bit).

use doppler_kernels::reference::quant::{multiply_by_quantized_multiplier, quantize_multiplier, Rounding};

/// TFLite int8 LOGISTIC as the TF 2.15 interpreter runs it (both `BUILTIN` and `BUILTIN_REF`):
/// `SigmoidPrepare` fills a table with `LUTPopulate<int8_t>` (`kernels/internal/common.h` /
/// `lut.h`), all in **f32**:
/// `dequantized = s_in · (q − zp_in)`, `transformed = 1 / (1 + expf(−dequantized))`,
/// `rescaled = roundf(transformed · (1 / s_out))`, `quantized = (int)(rescaled + zp_out)`,
/// clamped to int8. `f32::exp` is the platform `expf`, as `std::exp(float)` is in TFLite.
pub fn tflite_logistic_lut(in_scale: f32, in_zp: i32, out_scale: f32, out_zp: i32) -> [i8; 256] {
    let mut lut = [0i8; 256];
    let inverse_scale = 1.0f32 / out_scale;
    for (i, entry) in lut.iter_mut().enumerate() {
        let val = i as i32 - 128;
        let dequantized = in_scale * (val - in_zp) as f32;
        let transformed = 1.0f32 / (1.0f32 + (-dequantized).exp());
        let rescaled = (transformed * inverse_scale).round();
        // `static_cast<int32_t>(float)`: truncation; `as` saturates where C++ is undefined.
        let quantized = (rescaled + out_zp as f32) as i32;
        *entry = quantized.clamp(-128, 127) as i8;
    }
    lut
}

/// TFLite int8 → int8 QUANTIZE (a requantization), `reference_ops::Requantize`:
/// `clamp(MBQM(q − zp_in, M, shift) + zp_out)` with `(M, shift)` from
/// `QuantizeMultiplier(double(s_in) / double(s_out))`, double rounding.
pub fn requantize_lut(in_scale: f32, in_zp: i32, out_scale: f32, out_zp: i32) -> [i8; 256] {
    let (m, shift) = quantize_multiplier(f64::from(in_scale) / f64::from(out_scale));
    let mut lut = [0i8; 256];
    for (i, entry) in lut.iter_mut().enumerate() {
        let val = i as i32 - 128;
        let out =
            multiply_by_quantized_multiplier(val - in_zp, m, shift, Rounding::Double).saturating_add(out_zp);
        *entry = out.clamp(-128, 127) as i8;
    }
    lut
}

/// TFLite int8 RELU / RELU6 / RELU_N1_TO_1 (`QuantizedReluX` → `ReluX`) when input and output
/// quantization differ: `clamp(zp_out + MBQM(q − zp_in, M, shift), act_min, act_max)` with
/// `(M, shift)` from `double(s_in) / double(s_out)`; `act_min/act_max` as the caller computed
/// them (`zp_out + roundf(bound / s_out)`, saturated to int8).
pub fn relu_lut(
    in_scale: f32,
    in_zp: i32,
    out_scale: f32,
    out_zp: i32,
    act_min: i32,
    act_max: i32,
) -> [i8; 256] {
    let (m, shift) = quantize_multiplier(f64::from(in_scale) / f64::from(out_scale));
    let mut lut = [0i8; 256];
    for (i, entry) in lut.iter_mut().enumerate() {
        let val = i as i32 - 128;
        let out =
            multiply_by_quantized_multiplier(val - in_zp, m, shift, Rounding::Double).saturating_add(out_zp);
        *entry = out.max(act_min).min(act_max).clamp(-128, 127) as i8;
    }
    lut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_lut_is_monotone_and_saturates() {
        let t = tflite_logistic_lut(0.1, 0, 1.0 / 256.0, -128);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(t[0], -128); // σ(−12.8) · 256 rounds to 0
        assert_eq!(t[128], 0); // σ(0) = 1/2 → 128 − 128
        assert_eq!(t[255], 127); // σ(12.7) · 256 ≈ 255.99 → 256 − 128, saturated
    }

    #[test]
    fn requantize_identity_is_identity() {
        let t = requantize_lut(0.5, 3, 0.5, 3);
        for (i, &v) in t.iter().enumerate() {
            assert_eq!(i32::from(v), i as i32 - 128);
        }
    }
}
