//! Reference int8 kernels: TFLite's `reference_integer_ops` arithmetic, bit for bit.
//!
//! Quantization follows the TFLite spec: `real = scale · (q − zero_point)`. Every kernel mirrors
//! the loop structure and integer formula of the TFLite / TFLM reference kernel it names, so that
//! a model runs bit-exactly; the doc comment of each says which one and where Doppler has to
//! pick a behaviour that TFLite leaves undefined.
//!
//! Conventions shared by all kernels here:
//! * Accumulators are `i32` and wrap on overflow (`wrapping_add`/`wrapping_mul`). In TFLite's C
//!   these are signed overflows (undefined); the converter's bounds keep real models far from
//!   them, and wrapping makes the sum independent of summation order, which the NEON kernels
//!   need in order to be bit-exact with any blocking.
//! * Adding the output zero point after requantization saturates in `i32` (TFLite: plain `+`,
//!   undefined on overflow); since the result is clamped to the int8 range right after, this
//!   equals "clamp the mathematically exact sum", and NEON's saturating narrowing reproduces it.
//! * The fused activation clamp is applied as TFLite does it, `min(act_max, max(act_min, v))`;
//!   an inverted range (`act_min > act_max`) therefore yields `act_max` and never panics
//!   (unlike `Ord::clamp`).
//! * Slice lengths are only `debug_assert!`ed (the engine validates shapes at load); indexing is
//!   checked, so inconsistent slices panic rather than read out of bounds.

use super::quant::{
    exp_on_negative_values_q5_26, get_reciprocal, multiply_by_quantized_multiplier, quantize_multiplier,
    rdbpot, rdbpot_wide, srdhm, Rounding,
};
use super::Window2d;

/// Requantization parameters of conv / depthwise conv / fully connected.
///
/// `multipliers` / `shifts` hold one entry per output channel (the engine expands a per-tensor
/// scale to per-channel), as produced by [`quantize_multiplier`] from `s_in · s_w[c] / s_out`.
/// `act_min` / `act_max` are the fused activation's clamp in the output's quantized domain
/// (`[-128, 127]` for no activation). Weights are symmetric (zero point 0), per the TFLite
/// int8 spec, so there is no filter zero point.
#[derive(Clone, Copy, Debug)]
pub struct ConvQuant<'a> {
    pub input_zp: i32,
    pub output_zp: i32,
    pub multipliers: &'a [i32],
    pub shifts: &'a [i32],
    pub rounding: Rounding,
    pub act_min: i8,
    pub act_max: i8,
}

/// TFLite's fused-activation clamp: `max` with the lower bound first, then `min` with the upper.
#[inline]
fn clamp_act(v: i32, act_min: i8, act_max: i8) -> i8 {
    // The result lies in [min(act_min, act_max), act_max] ⊂ i8, so the cast is lossless.
    v.max(i32::from(act_min)).min(i32::from(act_max)) as i8
}

/// Saturates an `i32` to the int8 range (TFLite's final clamp in ops without a fused activation).
#[inline]
pub(crate) fn saturate_i8(v: i32) -> i8 {
    v.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

/// The common epilogue of conv / depthwise / FC: `clamp(output_zp + MBQM(acc, M, shift))`.
#[inline]
fn requantize(acc: i32, multiplier: i32, shift: i32, q: &ConvQuant) -> i8 {
    let scaled = multiply_by_quantized_multiplier(acc, multiplier, shift, q.rounding);
    clamp_act(scaled.saturating_add(q.output_zp), q.act_min, q.act_max)
}

/// Bias of channel `c`, or 0 when the op has no bias (`bias` empty), as TFLite's optional bias.
#[inline]
fn bias_at(bias: &[i32], c: usize) -> i32 {
    if bias.is_empty() {
        0
    } else {
        bias[c]
    }
}

/// int8 CONV_2D, TFLite `reference_integer_ops::ConvPerChannel`.
///
/// For each output `(b, oy, ox, oc)`:
/// `acc = Σ_{ky,kx,ic in-bounds} (x − input_zp) · w[oc][ky][kx][ic]`, then `acc += bias[oc]`,
/// then `out = clamp(output_zp + MBQM(acc, M[oc], shift[oc]))`. Taps that fall into the padding
/// are skipped, i.e. they contribute exactly 0 (TFLite pads with the *zero point*, not with 0 in
/// the quantized domain). The accumulator wraps in `i32` (see the module docs).
///
/// Layouts: `input` NHWC `[batch][in_h][in_w][in_c]`, `filter` OHWI `[out_c][k_h][k_w][in_c]`,
/// `bias` `[out_c]` (or empty for no bias), `output` NHWC. Grouped convolution (TFLite's
/// `filter_input_depth < input_depth`) is not supported: the filter's depth is `g.in_c`.
pub fn conv2d_i8(g: &Window2d, q: &ConvQuant, input: &[i8], filter: &[i8], bias: &[i32], output: &mut [i8]) {
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(filter.len(), g.out_c * g.k_h * g.k_w * g.in_c);
    debug_assert!(bias.is_empty() || bias.len() == g.out_c);
    debug_assert_eq!(q.multipliers.len(), g.out_c);
    debug_assert_eq!(q.shifts.len(), g.out_c);
    debug_assert_eq!(output.len(), g.out_len());

    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let mut acc: i32 = 0;
                    for ky in 0..g.k_h {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in 0..g.k_w {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            let in_base = ((b * g.in_h + iy) * g.in_w + ix) * g.in_c;
                            let w_base = ((oc * g.k_h + ky) * g.k_w + kx) * g.in_c;
                            for ic in 0..g.in_c {
                                let x = i32::from(input[in_base + ic]).wrapping_sub(q.input_zp);
                                let w = i32::from(filter[w_base + ic]);
                                acc = acc.wrapping_add(x.wrapping_mul(w));
                            }
                        }
                    }
                    acc = acc.wrapping_add(bias_at(bias, oc));
                    let o = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
                    output[o] = requantize(acc, q.multipliers[oc], q.shifts[oc], q);
                }
            }
        }
    }
}

/// int8 DEPTHWISE_CONV_2D, TFLite `reference_integer_ops::DepthwiseConvPerChannel`.
///
/// Output channel `oc = ic · depth_multiplier + m` reads only input channel `ic`:
/// `acc = Σ_{ky,kx in-bounds} (x[ic] − input_zp) · w[ky][kx][oc] + bias[oc]`, requantized with
/// `M[oc]`, `shift[oc]` exactly like [`conv2d_i8`] (padding contributes 0, `i32` wraps).
///
/// Layouts: `filter` `[k_h][k_w][in_c · depth_multiplier]` (TFLite's `[1][k_h][k_w][out_c]`),
/// `bias` `[out_c]` or empty; requires `g.out_c == g.in_c · depth_multiplier`.
pub fn depthwise_conv2d_i8(
    g: &Window2d,
    depth_multiplier: usize,
    q: &ConvQuant,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    debug_assert_eq!(g.out_c, g.in_c * depth_multiplier);
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(filter.len(), g.k_h * g.k_w * g.out_c);
    debug_assert!(bias.is_empty() || bias.len() == g.out_c);
    debug_assert_eq!(q.multipliers.len(), g.out_c);
    debug_assert_eq!(q.shifts.len(), g.out_c);
    debug_assert_eq!(output.len(), g.out_len());

    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for ic in 0..g.in_c {
                    for m in 0..depth_multiplier {
                        let oc = ic * depth_multiplier + m;
                        let mut acc: i32 = 0;
                        for ky in 0..g.k_h {
                            let Some(iy) = g.in_y(oy, ky) else { continue };
                            for kx in 0..g.k_w {
                                let Some(ix) = g.in_x(ox, kx) else { continue };
                                let x = i32::from(input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + ic])
                                    .wrapping_sub(q.input_zp);
                                let w = i32::from(filter[(ky * g.k_w + kx) * g.out_c + oc]);
                                acc = acc.wrapping_add(x.wrapping_mul(w));
                            }
                        }
                        acc = acc.wrapping_add(bias_at(bias, oc));
                        let o = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
                        output[o] = requantize(acc, q.multipliers[oc], q.shifts[oc], q);
                    }
                }
            }
        }
    }
}

/// int8 FULLY_CONNECTED, TFLite `reference_integer_ops::FullyConnected` (per-channel variant
/// when the multipliers differ; the engine expands per-tensor ones).
///
/// `out[b][o] = clamp(output_zp + MBQM(Σ_d (x[b][d] − input_zp) · w[o][d] + bias[o], M[o], shift[o]))`.
/// Weights are symmetric, so TFLite's `filter_offset` is 0. `input` `[batch][in_len]`,
/// `weights` `[out_len][in_len]`, `bias` `[out_len]` or empty, `output` `[batch][out_len]`.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8(
    batch: usize,
    in_len: usize,
    out_len: usize,
    q: &ConvQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    debug_assert_eq!(input.len(), batch * in_len);
    debug_assert_eq!(weights.len(), out_len * in_len);
    debug_assert!(bias.is_empty() || bias.len() == out_len);
    debug_assert_eq!(q.multipliers.len(), out_len);
    debug_assert_eq!(q.shifts.len(), out_len);
    debug_assert_eq!(output.len(), batch * out_len);

    for b in 0..batch {
        for o in 0..out_len {
            let mut acc: i32 = 0;
            for d in 0..in_len {
                let x = i32::from(input[b * in_len + d]).wrapping_sub(q.input_zp);
                let w = i32::from(weights[o * in_len + d]);
                acc = acc.wrapping_add(x.wrapping_mul(w));
            }
            acc = acc.wrapping_add(bias_at(bias, o));
            output[b * out_len + o] = requantize(acc, q.multipliers[o], q.shifts[o], q);
        }
    }
}

/// int8 CLAMP (a standalone RELU / RELU6 / RELU_N1_TO_1, or MIN/MAX against constants) when
/// input and output share scale and zero point: `out = min(act_max, max(act_min, x))`, the same
/// clamp TFLite applies (`ReluX` in the quantized domain, no requantization needed). With
/// different input/output quantization TFLite requantizes first; the converter expresses that
/// as a [`lut_i8`] table instead.
pub fn clamp_i8(act_min: i8, act_max: i8, input: &[i8], output: &mut [i8]) {
    debug_assert_eq!(input.len(), output.len());
    for (o, &x) in output.iter_mut().zip(input) {
        *o = clamp_act(i32::from(x), act_min, act_max);
    }
}

/// Parameters of int8 ADD, as TFLite's `ArithmeticParams` for the general quantized path.
///
/// Zero points are stored as zero points (TFLite stores `input_offset = −zp`). Build them with
/// [`add_params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddParams {
    pub input1_zp: i32,
    pub input2_zp: i32,
    pub output_zp: i32,
    /// 20 for int8 (TFLite's `left_shift`); headroom so the rescaled inputs keep precision.
    pub left_shift: i32,
    pub input1_multiplier: i32,
    pub input1_shift: i32,
    pub input2_multiplier: i32,
    pub input2_shift: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub rounding: Rounding,
    pub act_min: i8,
    pub act_max: i8,
}

/// int8 ADD (same shapes, no broadcast), TFLite `reference_integer_ops::AddFunc`.
///
/// Both inputs are brought to a common scale with 20 bits of headroom and summed, then the sum
/// is scaled to the output:
/// `xi = (qi − zp_i) · 2^left_shift`, `si = MBQM(xi, Mi, shift_i)`,
/// `out = clamp(output_zp + MBQM(s1 + s2, M_out, shift_out))`.
/// TFLite calls `MultiplyByQuantizedMultiplierSmallerThanOneExp` here, which for the
/// non-positive shifts that [`add_params`] produces is identical to
/// [`multiply_by_quantized_multiplier`] in either rounding mode (the latter also stays defined
/// for a positive shift). `left_shift` is clamped to `0..=31`; the shift and the sum wrap.
pub fn add_i8(p: &AddParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    debug_assert_eq!(a.len(), output.len());
    debug_assert_eq!(b.len(), output.len());
    let left_shift = p.left_shift.clamp(0, 31) as u32;
    for ((o, &x1), &x2) in output.iter_mut().zip(a).zip(b) {
        let shifted1 = i32::from(x1).wrapping_sub(p.input1_zp).wrapping_shl(left_shift);
        let shifted2 = i32::from(x2).wrapping_sub(p.input2_zp).wrapping_shl(left_shift);
        let scaled1 =
            multiply_by_quantized_multiplier(shifted1, p.input1_multiplier, p.input1_shift, p.rounding);
        let scaled2 =
            multiply_by_quantized_multiplier(shifted2, p.input2_multiplier, p.input2_shift, p.rounding);
        let raw_sum = scaled1.wrapping_add(scaled2);
        let raw_output =
            multiply_by_quantized_multiplier(raw_sum, p.output_multiplier, p.output_shift, p.rounding)
                .saturating_add(p.output_zp);
        *o = clamp_act(raw_output, p.act_min, p.act_max);
    }
}

/// Offline: TFLite's int8 ADD prepare (`PrepareGeneralSubOp` / add `Prepare`), in f64.
///
/// `left_shift = 20`; `twice_max_input_scale = 2 · max(s1, s2)`;
/// `real_input_i = s_i / twice_max_input_scale` (≤ 1/2);
/// `real_output = twice_max_input_scale / (2^20 · s_out)`; each quantized with
/// [`quantize_multiplier`] (TFLite's `QuantizeMultiplierSmallerThanOneExp` gives the same
/// result, but `CHECK`-fails when `real_output ≥ 1`, i.e. `s_out ≤ 2·max(s1,s2) / 2^20`; here a
/// positive output shift is returned instead). TFLite holds scales as `f32`; pass the `f32`
/// scales widened to f64 to reproduce it exactly (its float intermediate `2 · max` and
/// `2^20 · s_out` are exact power-of-two scalings).
#[allow(clippy::too_many_arguments)]
pub fn add_params(
    in1_scale: f64,
    in1_zp: i32,
    in2_scale: f64,
    in2_zp: i32,
    out_scale: f64,
    out_zp: i32,
    act_min: i8,
    act_max: i8,
    rounding: Rounding,
) -> AddParams {
    const LEFT_SHIFT: i32 = 20;
    // std::max(a, b) == (a < b) ? b : a
    let max_input_scale = if in1_scale < in2_scale { in2_scale } else { in1_scale };
    let twice_max_input_scale = 2.0 * max_input_scale;
    let real_input1_multiplier = in1_scale / twice_max_input_scale;
    let real_input2_multiplier = in2_scale / twice_max_input_scale;
    let real_output_multiplier = twice_max_input_scale / (f64::from(1u32 << LEFT_SHIFT) * out_scale);
    let (input1_multiplier, input1_shift) = quantize_multiplier(real_input1_multiplier);
    let (input2_multiplier, input2_shift) = quantize_multiplier(real_input2_multiplier);
    let (output_multiplier, output_shift) = quantize_multiplier(real_output_multiplier);
    AddParams {
        input1_zp: in1_zp,
        input2_zp: in2_zp,
        output_zp: out_zp,
        left_shift: LEFT_SHIFT,
        input1_multiplier,
        input1_shift,
        input2_multiplier,
        input2_shift,
        output_multiplier,
        output_shift,
        rounding,
        act_min,
        act_max,
    }
}

/// Parameters of int8 MUL; build with [`mul_params`] or from [`quantize_multiplier`] of
/// `s1 · s2 / s_out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MulParams {
    pub input1_zp: i32,
    pub input2_zp: i32,
    pub output_zp: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub rounding: Rounding,
    pub act_min: i8,
    pub act_max: i8,
}

/// int8 MUL (same shapes, no broadcast), TFLite `reference_integer_ops::MulElementwise`:
/// `out = clamp(output_zp + MBQM((a − zp1) · (b − zp2), M, shift))`.
pub fn mul_i8(p: &MulParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    debug_assert_eq!(a.len(), output.len());
    debug_assert_eq!(b.len(), output.len());
    for ((o, &x1), &x2) in output.iter_mut().zip(a).zip(b) {
        let v1 = i32::from(x1).wrapping_sub(p.input1_zp);
        let v2 = i32::from(x2).wrapping_sub(p.input2_zp);
        let raw = multiply_by_quantized_multiplier(
            v1.wrapping_mul(v2),
            p.output_multiplier,
            p.output_shift,
            p.rounding,
        )
        .saturating_add(p.output_zp);
        *o = clamp_act(raw, p.act_min, p.act_max);
    }
}

/// Offline: MUL's multiplier as TFLM computes it, `quantize_multiplier(s1 · s2 / s_out)` in f64.
///
/// Note: the TFLite interpreter (`kernels/mul.cc`) evaluates `s1 · s2 / s_out` in **f32**
/// before widening to double, which can change `M` in its last bit. To match that runtime, call
/// [`quantize_multiplier`] with `f64::from(s1 * s2 / s_out)` computed on `f32` scales instead.
#[allow(clippy::too_many_arguments)]
pub fn mul_params(
    in1_scale: f64,
    in1_zp: i32,
    in2_scale: f64,
    in2_zp: i32,
    out_scale: f64,
    out_zp: i32,
    act_min: i8,
    act_max: i8,
    rounding: Rounding,
) -> MulParams {
    let (output_multiplier, output_shift) = quantize_multiplier(in1_scale * in2_scale / out_scale);
    MulParams {
        input1_zp: in1_zp,
        input2_zp: in2_zp,
        output_zp: out_zp,
        output_multiplier,
        output_shift,
        rounding,
        act_min,
        act_max,
    }
}

/// int8 MAX_POOL_2D, TFLite `reference_integer_ops::MaxPool`.
///
/// Maximum over the in-bounds taps of each window (padding is ignored, not treated as a value),
/// starting from −128, then clamped to `[act_min, act_max]`. Input and output share scale and
/// zero point, so no requantization. A window with no in-bounds tap therefore yields
/// `clamp(−128) = act_min`, which is also what TFLite computes (it has no special case).
/// Requires `g.in_c == g.out_c`; `g.k_*`, `g.stride_*`, `g.pad_*` as for conv (TFLite pooling
/// has dilation 1; another dilation is honoured through [`Window2d::in_y`] but is not a TFLite
/// behaviour).
pub fn max_pool_i8(g: &Window2d, act_min: i8, act_max: i8, input: &[i8], output: &mut [i8]) {
    debug_assert_eq!(g.in_c, g.out_c);
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(output.len(), g.out_len());
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for c in 0..g.out_c {
                    let mut max = i32::from(i8::MIN);
                    for ky in g.taps_y(oy) {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in g.taps_x(ox) {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            max = max.max(i32::from(input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + c]));
                        }
                    }
                    output[((b * g.out_h + oy) * g.out_w + ox) * g.out_c + c] =
                        clamp_act(max, act_min, act_max);
                }
            }
        }
    }
}

/// int8 AVERAGE_POOL_2D, TFLite `reference_integer_ops::AveragePool`.
///
/// `sum` of the in-bounds taps, `count` = number of in-bounds taps (padding is excluded from
/// the divisor, as in TFLite), `avg = (sum ± count/2) / count` with truncating division, i.e.
/// rounded half away from zero (`+` when `sum > 0`), then clamped to `[act_min, act_max]`.
///
/// Sums are kept in `i64`: identical to TFLite's `int32` whenever that does not overflow (any
/// window under 2^24 taps), and never overflowing here.
///
/// A window with **no** in-bounds tap makes TFLite return an error (`filter_count == 0`); the
/// validator rejects such geometry. Should one reach this kernel anyway, it writes
/// `clamp(0, act_min, act_max)`, i.e. the formula with the division by zero replaced by 0.
pub fn avg_pool_i8(g: &Window2d, act_min: i8, act_max: i8, input: &[i8], output: &mut [i8]) {
    debug_assert_eq!(g.in_c, g.out_c);
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(output.len(), g.out_len());
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for c in 0..g.out_c {
                    let mut sum: i64 = 0;
                    let mut count: i64 = 0;
                    for ky in g.taps_y(oy) {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in g.taps_x(ox) {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            sum += i64::from(input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + c]);
                            count += 1;
                        }
                    }
                    let avg = if count == 0 {
                        0
                    } else if sum > 0 {
                        (sum + count / 2) / count
                    } else {
                        (sum - count / 2) / count
                    };
                    // |avg| <= 128, so the narrowing is exact.
                    output[((b * g.out_h + oy) * g.out_w + ox) * g.out_c + c] =
                        clamp_act(avg as i32, act_min, act_max);
                }
            }
        }
    }
}

/// Parameters of int8 MEAN over H and W; build with [`mean_params`] (TFLM) or
/// [`mean_params_folded`] (TFLite interpreter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeanParams {
    pub input_zp: i32,
    pub output_zp: i32,
    /// `divide_by_count`: from [`quantize_multiplier`]`(s_in / s_out)`, the 1/n of the mean is
    /// applied separately. Otherwise it already includes 1/n (see [`fold_mean_count`]).
    pub multiplier: i32,
    pub shift: i32,
    pub rounding: Rounding,
    /// `true`: TFLM (requantize, then a rounded division by `n = h · w`); `false`: the TFLite
    /// interpreter (requantize only, the multiplier is already divided by `n`).
    pub divide_by_count: bool,
}

/// Offline: TFLM's MEAN prepare, `quantize_multiplier(s_in / s_out)` in f64; `divide_by_count`.
pub fn mean_params(in_scale: f64, in_zp: i32, out_scale: f64, out_zp: i32, rounding: Rounding) -> MeanParams {
    let (multiplier, shift) = quantize_multiplier(in_scale / out_scale);
    MeanParams { input_zp: in_zp, output_zp: out_zp, multiplier, shift, rounding, divide_by_count: true }
}

/// Offline: the TFLite interpreter's MEAN (TF 2.15 `reference_ops::QuantizedMeanOrSum`, int8):
/// `(M, s) = quantize_multiplier(s_in / s_out)` in f64 (TFLite divides the f32 scales as
/// doubles), then [`fold_mean_count`]`(M, s, count)` with `count = h · w`; not
/// `divide_by_count`.
pub fn mean_params_folded(
    in_scale: f64,
    in_zp: i32,
    out_scale: f64,
    out_zp: i32,
    count: u64,
    rounding: Rounding,
) -> MeanParams {
    let (m, s) = quantize_multiplier(in_scale / out_scale);
    let (multiplier, shift) = fold_mean_count(m, s, count);
    MeanParams { input_zp: in_zp, output_zp: out_zp, multiplier, shift, rounding, divide_by_count: false }
}

/// Folds `1 / count` into a quantized multiplier as the TFLite interpreter's MEAN does:
/// `k = min(⌊log2 count⌋, 32, 31 + shift)`, `M' = (M << k) / count` (in `i64`, truncating),
/// `shift' = shift − k`. Then `|M'| ≤ |M|` and `shift' ≥ min(shift, −31)`.
///
/// Outside TFLite's domain (where its C++ would shift by a negative amount): `count == 0`
/// returns `(multiplier, shift)` unchanged and `k` is floored at 0 when `shift < −31`.
pub fn fold_mean_count(multiplier: i32, shift: i32, count: u64) -> (i32, i32) {
    if count == 0 {
        return (multiplier, shift);
    }
    let log2 = 63 - count.leading_zeros() as i32;
    let k = log2.min(32).min(shift.saturating_add(31)).max(0);
    // |M| <= 2^31 and k <= 32: the shift fits in i64; count >= 2^k, so |M'| <= |M| and the
    // narrowing is exact. (count > i64::MAX > |M << k|: the quotient is 0.)
    let folded = match i64::try_from(count) {
        Ok(n) => (i64::from(multiplier) << k) / n,
        Err(_) => 0,
    };
    (folded as i32, shift - k)
}

/// int8 MEAN over the spatial axes of an NHWC tensor (`axis = [1, 2]`, keep_dims). Output
/// `[batch][c]`. `acc = Σ_{h,w} (x − input_zp)` (`i32`, wrapping), then with `n = h · w`:
///
/// * `divide_by_count` — TFLM's `reference_integer_ops::Mean` (`M` from `s_in / s_out`):
///   `acc = MBQM(acc, M, shift)`, `acc = (acc ± n/2) / n` (half away from zero, `+` when
///   `acc > 0`), `out = saturate_i8(acc + output_zp)`.
/// * otherwise — the TFLite interpreter's `reference_ops::QuantizedMeanOrSum` (TF 2.15,
///   `M`/`shift` from [`mean_params_folded`], 1/n already in the multiplier):
///   `out = saturate_i8(MBQM(acc, M, shift) + output_zp)`.
///
/// The two round differently (the folded multiplier is truncated, and one rounding replaces
/// two), so each matches its own runtime only.
///
/// The division step is done in `i64`, so it cannot overflow (TFLM's `acc ± n/2` can, near
/// `i32::MAX`; identical otherwise); `+ output_zp` saturates (TFLite's can overflow, identical
/// otherwise). `n == 0` (an empty plane; the validator rejects it) writes
/// `saturate_i8(output_zp)`.
pub fn mean_hw_i8(
    batch: usize,
    h: usize,
    w: usize,
    c: usize,
    p: &MeanParams,
    input: &[i8],
    output: &mut [i8],
) {
    debug_assert_eq!(input.len(), batch * h * w * c);
    debug_assert_eq!(output.len(), batch * c);
    let n = i64::try_from(h.saturating_mul(w)).unwrap_or(i64::MAX);
    for b in 0..batch {
        for ch in 0..c {
            let mut acc: i32 = 0;
            for y in 0..h {
                for x in 0..w {
                    let v = i32::from(input[((b * h + y) * w + x) * c + ch]);
                    acc = acc.wrapping_add(v.wrapping_sub(p.input_zp));
                }
            }
            output[b * c + ch] = mean_output(acc, n, p);
        }
    }
}

/// The output of [`mean_hw_i8`] for one channel from its sum `acc = Σ (x − input_zp)` (wrapping)
/// over a plane of `n` pixels: requantization, optional division by `n`, output zero point,
/// saturation. Shared with the optimized kernels, which only sum differently.
#[inline]
pub fn mean_output(acc: i32, n: i64, p: &MeanParams) -> i8 {
    let scaled = i64::from(multiply_by_quantized_multiplier(acc, p.multiplier, p.shift, p.rounding));
    let mean = if n == 0 {
        0
    } else if !p.divide_by_count {
        scaled
    } else if scaled > 0 {
        (scaled + n / 2) / n
    } else {
        (scaled - n / 2) / n
    };
    // |mean| <= |scaled| <= 2^31: the i64 sum cannot overflow.
    (mean + i64::from(p.output_zp)).clamp(-128, 127) as i8
}

/// Parameters of the int8 softmax (TFLite `SoftmaxParams` for the reference quantized path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// Q0.31 multiplier of `β · s_in · 2^26`, applied to input differences.
    pub input_multiplier: i32,
    /// Its power of two (a left shift, ≥ 0 for any sane `β · s_in`).
    pub input_left_shift: i32,
    /// Input differences `x − max` below this are treated as `exp = 0`.
    pub diff_min: i32,
}

/// Fixed-point integer bits of the scaled input differences (TFLite `kScaledDiffIntegerBits`):
/// differences are Q5.26, so `β · s_in · (x − max)` must stay above −32.
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (TFLite `kAccumulationIntegerBits`): Q12.19.
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// Offline: TFLite's softmax prepare for the reference int8 kernel.
///
/// `PreprocessSoftmaxScaling(β, s_in, 5)`: `real = min(β · s_in · 2^26, 2^31 − 1)`, quantized
/// with `QuantizeMultiplierGreaterThanOne` (= [`quantize_multiplier`], which TFLite additionally
/// `CHECK`s to be > 1). `diff_min = −CalculateInputRadius(5, left_shift)` with
/// `CalculateInputRadius = floor((2^5 − 1) · 2^26 / 2^left_shift)`, computed here with integer
/// shifts (the f64 division in TFLite is exact, by a power of two; a negative shift, outside
/// TFLite's domain, saturates the radius to `i32::MAX`).
///
/// This is the double-rounding build's prepare; `TFLITE_SINGLE_ROUNDING` caps `real` at
/// `2^30 − 1` instead, which differs only when `β · s_in > 16`.
pub fn softmax_params(beta: f64, input_scale: f64) -> SoftmaxParams {
    let max_real_multiplier = ((1i64 << 31) - 1) as f64;
    let scaled = beta * input_scale * f64::from(1i32 << (31 - SCALED_DIFF_INTEGER_BITS));
    // std::min<double>(scaled, max) == (max < scaled) ? max : scaled
    let real = if max_real_multiplier < scaled { max_real_multiplier } else { scaled };
    let (input_multiplier, input_left_shift) = quantize_multiplier(real);
    SoftmaxParams { input_multiplier, input_left_shift, diff_min: -calculate_input_radius(input_left_shift) }
}

/// TFLite `CalculateInputRadius(5, left_shift)` with `total_signed_bits = 31`.
fn calculate_input_radius(input_left_shift: i32) -> i32 {
    let max_input_rescaled: i64 = ((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS);
    if input_left_shift < 0 {
        // 31 · 2^26 · 2^k already exceeds i32::MAX for k = 1.
        return i32::MAX;
    }
    // floor(m / 2^s) for m >= 0 is an arithmetic shift; shifts >= 63 give 0.
    max_input_rescaled.checked_shr(input_left_shift as u32).unwrap_or(0) as i32
}

/// Scaled input difference in Q5.26: TFLite `MultiplyByQuantizedMultiplierGreaterThanOne`,
/// i.e. `SRDHM(diff · 2^left_shift, M)`, which is [`multiply_by_quantized_multiplier`] in
/// double-rounding mode for `left_shift ≥ 0` (and rounds sanely for a negative one). For the
/// differences that pass `diff_min`, both of TFLite's rounding builds give the same value here
/// (a single rounding either way, and no overflow).
#[inline]
fn softmax_scaled_diff(diff: i32, p: &SoftmaxParams) -> i32 {
    multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift, Rounding::Double)
}

/// int8 → int8 SOFTMAX along the last axis, TFLite `reference_ops::Softmax` (the gemmlowp
/// fixed-point path used by `BUILTIN_REF` and TFLM). Output scale is 1/256, zero point −128.
///
/// Per row: `max` of the row; for every `x` with `d = x − max ≥ diff_min`, the scaled
/// difference `a = SRDHM(d · 2^left_shift, M)` (Q5.26) goes through gemmlowp
/// `exp_on_negative_values`; the Q0.31 exponentials are rescaled to Q12.19 (`rdbpot` by 12) and
/// summed; [`get_reciprocal`] normalises the sum to `(recip, num_bits_over_unit)`; each output is
/// `clamp(RDBPOT(SRDHM(recip, exp(a)), num_bits_over_unit + 23) − 128, −128, 127)`. Elements
/// below `diff_min` output −128.
///
/// Where TFLite is undefined, Doppler's choice:
/// * The Q12.19 sum wraps in `i32` and is read back as `u32`, as TFLite's `GetReciprocal`
///   does; the result is exact while the sum of `exp` stays below 8192 (rows of fewer than 8192
///   elements always qualify). Longer rows should be rejected by the validator.
/// * When the sum of `exp` reaches 512, the final exponent `num_bits_over_unit + 23` exceeds
///   31, where gemmlowp's `RoundingDivideByPOT` is undefined (x86 and ARM give different
///   garbage: a near-uniform 1000-class row hits this). Here the division keeps its meaning
///   (round half away from zero of `x / 2^e` for any `e`), which yields the correct 0 probability → −128.
pub fn softmax_i8(rows: usize, depth: usize, p: &SoftmaxParams, input: &[i8], output: &mut [i8]) {
    debug_assert_eq!(input.len(), rows * depth);
    debug_assert_eq!(output.len(), rows * depth);
    for r in 0..rows {
        let row_in = &input[r * depth..(r + 1) * depth];
        let row_out = &mut output[r * depth..(r + 1) * depth];

        let max_in_row = i32::from(row_in.iter().copied().fold(i8::MIN, i8::max));

        // Q12.19 sum of exponentials.
        let mut sum_of_exps: i32 = 0;
        for &x in row_in {
            let diff = i32::from(x) - max_in_row;
            if diff >= p.diff_min {
                let exp_q0_31 = exp_on_negative_values_q5_26(softmax_scaled_diff(diff, p));
                // Rescale<12>: Q0.31 -> Q12.19.
                sum_of_exps = sum_of_exps.wrapping_add(rdbpot(exp_q0_31, ACCUMULATION_INTEGER_BITS));
            }
        }

        let (shifted_scale, num_bits_over_unit) = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
        // 31 - 8: the output is an 8-bit probability with scale 1/256.
        let output_exponent = num_bits_over_unit + 31 - 8;

        for (o, &x) in row_out.iter_mut().zip(row_in) {
            let diff = i32::from(x) - max_in_row;
            *o = if diff >= p.diff_min {
                let exp_q0_31 = exp_on_negative_values_q5_26(softmax_scaled_diff(diff, p));
                let unsat_output = rdbpot_wide(srdhm(shifted_scale, exp_q0_31), output_exponent);
                saturate_i8(unsat_output.saturating_add(i32::from(i8::MIN)))
            } else {
                i8::MIN
            };
        }
    }
}

/// Elementwise int8 → int8 lookup: `output[i] = table[input[i] as i32 + 128]`.
///
/// The table is indexed by the input's value offset to `0..=255` (entry 0 is the output for
/// −128, entry 255 for 127), not by its bit pattern. Any elementwise int8 function (logistic,
/// tanh, hard-swish, …) is exactly such a table, so one kernel serves them all; on NEON it is a
/// `VTBL`/`TBL` chain after adding 128.
pub fn lut_i8(table: &[i8; 256], input: &[i8], output: &mut [i8]) {
    debug_assert_eq!(input.len(), output.len());
    for (o, &x) in output.iter_mut().zip(input) {
        let index = (i32::from(x) + 128) as usize; // 0..=255
        *o = table[index];
    }
}

/// Offline: the 256-entry table of int8 LOGISTIC for [`lut_i8`], in f64:
/// `table[x + 128] = saturate_i8(round(σ(s_in · (x − zp_in)) / s_out) + zp_out)` with
/// `σ(v) = 1 / (1 + e^(−v))` and `round` half away from zero.
///
/// This is the mathematically correctly rounded logistic, not any particular runtime's
/// fixed-point approximation: since an elementwise int8 op is exactly a 256-entry table, the
/// converter can instead fill the table by evaluating the target runtime's own kernel on all
/// 256 inputs when bit-exactness with that runtime is required. A NaN intermediate (only from
/// NaN scales) yields `saturate_i8(zp_out)`.
pub fn logistic_table(in_scale: f64, in_zp: i32, out_scale: f64, out_zp: i32) -> [i8; 256] {
    let mut table = [0i8; 256];
    for (i, entry) in table.iter_mut().enumerate() {
        let q = i as i64 - 128;
        let real_in = in_scale * (q - i64::from(in_zp)) as f64;
        let y = 1.0 / (1.0 + libm::exp(-real_in));
        // `as` saturates (NaN -> 0); then add the zero point without overflow.
        let rounded = libm::round(y / out_scale) as i64;
        let v = rounded.saturating_add(i64::from(out_zp));
        *entry = v.clamp(i64::from(i8::MIN), i64::from(i8::MAX)) as i8;
    }
    table
}

/// f32 → int8 QUANTIZE, TFLite `reference_ops::AffineQuantize`:
/// `q = saturate_i8(round(x / scale) + zero_point)`.
///
/// The division is in **f32** (TFLite divides the float input by `static_cast<float>(scale)`)
/// and `round` is `TfLiteRound` = `roundf`, half away from zero. TFLite's `int32` conversion is
/// undefined for huge quotients; here it saturates (±∞ → 127 / −128 after the zero point).
/// NaN quantizes to `saturate_i8(zero_point)`, i.e. to real 0.
pub fn quantize_f32_i8(scale: f32, zero_point: i32, input: &[f32], output: &mut [i8]) {
    debug_assert_eq!(input.len(), output.len());
    for (o, &x) in output.iter_mut().zip(input) {
        let rounded = libm::roundf(x / scale);
        // f32 -> i32 `as` saturates and maps NaN to 0.
        let q = (rounded as i32).saturating_add(zero_point);
        *o = saturate_i8(q);
    }
}

/// int8 → f32 DEQUANTIZE, TFLite `reference_ops::Dequantize`: `scale · (q − zero_point)`.
///
/// TFLite multiplies in double (`const double scale`) and converts to float. For
/// `|q − zero_point| ≤ 2^24` (every valid zero point) the double product is exact, so the
/// result equals the correctly rounded f32 product `scale * (q − zp) as f32`, which is what an
/// optimized kernel may compute instead.
pub fn dequantize_i8_f32(scale: f32, zero_point: i32, input: &[i8], output: &mut [f32]) {
    debug_assert_eq!(input.len(), output.len());
    for (o, &q) in output.iter_mut().zip(input) {
        let diff = i64::from(q) - i64::from(zero_point);
        *o = (f64::from(scale) * diff as f64) as f32;
    }
}
