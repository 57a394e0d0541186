//! Float32 reference kernels.
//!
//! Plain loops, f32 arithmetic throughout, no fused multiply-add (Rust never contracts `a * b + c`).
//! Every reduction runs in a fixed, documented order:
//!
//! * conv / depthwise / fully-connected: `acc = bias`, then `acc += x * w` over the taps in
//!   `(ky, kx, ic)` order (row-major over the filter), then the fused activation clamp;
//! * pools and means: sequential sums in memory order, one division at the end.
//!
//! Optimized kernels may sum in any order (lanes, blocks, FMA). The tolerance they must meet
//! relative to an f64 evaluation is documented at the top of `tests/reference_f32.rs`:
//! `|y - y64| <= (1e-5 + n * 2^-24) * (S + 1)` where `S` is the sum of the absolute values of
//! the `n` summed terms. That bound holds for *any* summation order, since the worst-case
//! rounding error of an n-term sum is `(n - 1) * 2^-24 * S` to first order.
//!
//! # Activation clamp and NaN
//!
//! The fused activation is [`clamp_act`]: `x < min -> min`, `x > max -> max`, otherwise `x`.
//! ReLU is `[0, +inf]`, ReLU6 `[0, 6]`, no activation `[-inf, +inf]`. **NaN propagates**
//! (both comparisons are false), as in TFLite (`std::min(std::max(x, lo), hi)`) and in the NEON
//! instructions `VMAX/VMIN` (ARMv7) and `FMAX/FMIN` (AArch64). Infinities are clamped like any
//! other value. The sign of a zero result is not part of the contract (`max(-0.0, 0.0)` may be
//! either zero on NEON).
//!
//! # Subnormals
//!
//! ARMv7 NEON always flushes subnormals to zero; the reference does not. Results whose exact
//! value is subnormal are therefore only specified up to the absolute slack in the tolerance.
//!
//! # Bias
//!
//! For conv, depthwise conv and fully-connected an **empty** `bias` slice means "no bias"
//! (all zeros), as TFLite allows an absent bias tensor. Otherwise it must have `out_c` entries.

use super::Window2d;

/// Fused activation clamp to `[min, max]`; NaN propagates. See the module docs.
#[inline]
pub fn clamp_act(x: f32, min: f32, max: f32) -> f32 {
    if x < min {
        min
    } else if x > max {
        max
    } else {
        x
    }
}

#[inline]
fn bias_at(bias: &[f32], i: usize) -> f32 {
    if bias.is_empty() {
        0.0
    } else {
        bias[i]
    }
}

/// 2-D convolution. Input NHWC `[batch][in_h][in_w][in_c]`, filter OHWI
/// `[out_c][k_h][k_w][in_c]`, bias `[out_c]` (or empty), output NHWC `[batch][out_h][out_w][out_c]`.
///
/// Taps that fall into the padding contribute 0 (they are skipped).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_f32(
    g: &Window2d,
    act_min: f32,
    act_max: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(filter.len(), g.out_c * g.k_h * g.k_w * g.in_c);
    debug_assert!(bias.is_empty() || bias.len() == g.out_c);
    debug_assert_eq!(output.len(), g.out_len());

    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let mut acc = bias_at(bias, oc);
                    for ky in 0..g.k_h {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in 0..g.k_w {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            for ic in 0..g.in_c {
                                let x = input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + ic];
                                let w = filter[((oc * g.k_h + ky) * g.k_w + kx) * g.in_c + ic];
                                acc += x * w;
                            }
                        }
                    }
                    output[((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc] =
                        clamp_act(acc, act_min, act_max);
                }
            }
        }
    }
}

/// Depthwise 2-D convolution. Filter `[k_h][k_w][in_c * depth_multiplier]`; output channel
/// `oc = ic * depth_multiplier + m` reads input channel `ic`. `g.out_c` must equal
/// `g.in_c * depth_multiplier`. Padding taps contribute 0.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d_f32(
    g: &Window2d,
    depth_multiplier: usize,
    act_min: f32,
    act_max: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    debug_assert_eq!(g.out_c, g.in_c * depth_multiplier);
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(filter.len(), g.k_h * g.k_w * g.out_c);
    debug_assert!(bias.is_empty() || bias.len() == g.out_c);
    debug_assert_eq!(output.len(), g.out_len());

    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for ic in 0..g.in_c {
                    for m in 0..depth_multiplier {
                        let oc = ic * depth_multiplier + m;
                        let mut acc = bias_at(bias, oc);
                        for ky in 0..g.k_h {
                            let Some(iy) = g.in_y(oy, ky) else { continue };
                            for kx in 0..g.k_w {
                                let Some(ix) = g.in_x(ox, kx) else { continue };
                                let x = input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + ic];
                                let w = filter[(ky * g.k_w + kx) * g.out_c + oc];
                                acc += x * w;
                            }
                        }
                        output[((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc] =
                            clamp_act(acc, act_min, act_max);
                    }
                }
            }
        }
    }
}

/// Fully connected: `output[b][o] = clamp(bias[o] + Σ_i input[b][i] * weights[o][i])`.
/// Input `[batch][in_len]`, weights `[out_len][in_len]`, bias `[out_len]` (or empty), output
/// `[batch][out_len]`.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_f32(
    batch: usize,
    in_len: usize,
    out_len: usize,
    act_min: f32,
    act_max: f32,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    debug_assert_eq!(input.len(), batch * in_len);
    debug_assert_eq!(weights.len(), out_len * in_len);
    debug_assert!(bias.is_empty() || bias.len() == out_len);
    debug_assert_eq!(output.len(), batch * out_len);

    for b in 0..batch {
        for o in 0..out_len {
            let mut acc = bias_at(bias, o);
            for i in 0..in_len {
                acc += input[b * in_len + i] * weights[o * in_len + i];
            }
            output[b * out_len + o] = clamp_act(acc, act_min, act_max);
        }
    }
}

/// Element-wise `clamp(a + b)`; `a`, `b` and `output` have the same length (no broadcasting).
pub fn add_f32(act_min: f32, act_max: f32, a: &[f32], b: &[f32], output: &mut [f32]) {
    debug_assert_eq!(a.len(), output.len());
    debug_assert_eq!(b.len(), output.len());
    for i in 0..output.len() {
        output[i] = clamp_act(a[i] + b[i], act_min, act_max);
    }
}

/// Element-wise `clamp(a * b)`; `a`, `b` and `output` have the same length (no broadcasting).
pub fn mul_f32(act_min: f32, act_max: f32, a: &[f32], b: &[f32], output: &mut [f32]) {
    debug_assert_eq!(a.len(), output.len());
    debug_assert_eq!(b.len(), output.len());
    for i in 0..output.len() {
        output[i] = clamp_act(a[i] * b[i], act_min, act_max);
    }
}

/// Max pooling over the in-bounds taps only (padding never wins). `g.out_c == g.in_c`.
///
/// A NaN tap makes the result NaN (like NEON `VMAX`/`FMAX`). A window with no in-bounds tap
/// (which the validator rejects) yields `clamp(-inf)`.
pub fn max_pool_f32(g: &Window2d, act_min: f32, act_max: f32, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(g.out_c, g.in_c);
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(output.len(), g.out_len());

    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for c in 0..g.in_c {
                    let mut m = f32::NEG_INFINITY;
                    for ky in g.taps_y(oy) {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in g.taps_x(ox) {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            let x = input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + c];
                            // Once `m` is NaN neither branch replaces it.
                            if x > m || x.is_nan() {
                                m = x;
                            }
                        }
                    }
                    output[((b * g.out_h + oy) * g.out_w + ox) * g.in_c + c] = clamp_act(m, act_min, act_max);
                }
            }
        }
    }
}

/// Average pooling: the sum of the in-bounds taps divided by **their count** (padding is not
/// counted, as in TFLite's AVERAGE_POOL_2D). `g.out_c == g.in_c`.
///
/// A window with no in-bounds tap (which the validator rejects) yields `clamp(0)`.
pub fn avg_pool_f32(g: &Window2d, act_min: f32, act_max: f32, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(g.out_c, g.in_c);
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(output.len(), g.out_len());

    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for c in 0..g.in_c {
                    let mut sum = 0.0f32;
                    let mut count = 0usize;
                    for ky in g.taps_y(oy) {
                        let Some(iy) = g.in_y(oy, ky) else { continue };
                        for kx in g.taps_x(ox) {
                            let Some(ix) = g.in_x(ox, kx) else { continue };
                            sum += input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + c];
                            count += 1;
                        }
                    }
                    let avg = if count == 0 { 0.0 } else { sum / count as f32 };
                    output[((b * g.out_h + oy) * g.out_w + ox) * g.in_c + c] =
                        clamp_act(avg, act_min, act_max);
                }
            }
        }
    }
}

/// Mean over the spatial axes: input NHWC `[batch][h][w][c]`, output `[batch][c]`
/// (TFLite MEAN over axes {1, 2}; ONNX GlobalAveragePool with NHWC data). Sequential f32 sum in
/// memory order, then one division by `h * w`. With `h * w == 0` the output is NaN (0/0).
pub fn mean_hw_f32(batch: usize, h: usize, w: usize, c: usize, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), batch * h * w * c);
    debug_assert_eq!(output.len(), batch * c);

    let n = (h * w) as f32;
    for b in 0..batch {
        for ch in 0..c {
            let mut sum = 0.0f32;
            for p in 0..h * w {
                sum += input[(b * h * w + p) * c + ch];
            }
            output[b * c + ch] = sum / n;
        }
    }
}

/// Element-wise clamp to `[min, max]` (standalone RELU, RELU6, RELU_N1_TO_1, CLIP).
///
/// NaN inputs propagate to the output unchanged; ±inf are clamped. See [`clamp_act`].
pub fn clamp_f32(min: f32, max: f32, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), output.len());
    for i in 0..output.len() {
        output[i] = clamp_act(input[i], min, max);
    }
}

/// Softmax over the last axis of a `[rows][depth]` tensor:
/// `y_i = exp((x_i - max) * beta) / Σ_j exp((x_j - max) * beta)`.
///
/// The row maximum is subtracted first (TFLite's order: subtract, then scale by `beta`), so every
/// exponent is `<= 0` for `beta >= 0` and nothing overflows; `beta` must be `>= 0` (validator).
/// `exp` is `libm::expf`; the sum is sequential in f32 and each output is one correctly rounded
/// division. A row containing +inf or NaN, or consisting only of -inf, yields NaN.
pub fn softmax_f32(rows: usize, depth: usize, beta: f32, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), rows * depth);
    debug_assert_eq!(output.len(), rows * depth);

    for r in 0..rows {
        let x = &input[r * depth..(r + 1) * depth];
        let y = &mut output[r * depth..(r + 1) * depth];
        let mut max = f32::NEG_INFINITY;
        for &v in x {
            if v > max || v.is_nan() {
                max = v;
            }
        }
        let mut sum = 0.0f32;
        for i in 0..depth {
            let e = libm::expf((x[i] - max) * beta);
            y[i] = e;
            sum += e;
        }
        for v in y.iter_mut() {
            *v /= sum;
        }
    }
}

/// ONNX InstanceNormalization on NHWC data: for each `(n, c)`, over the `h * w` positions,
/// `y = gamma[c] * (x - mean) / sqrt(var + epsilon) + beta[c]` with the biased variance
/// (divide by `h * w`).
///
/// Statistics are computed in **f32 with two passes**: first `mean = Σx / (h*w)`, then
/// `var = Σ(x - mean)² / (h*w)`. The two-pass form avoids the catastrophic cancellation of
/// `E[x²] - E[x]²` when `|mean| >> std`. f64 would be more accurate still, but the Cortex-M4F has
/// a single-precision FPU only (f64 is soft-float there) and NEON has no f64 on ARMv7. The per-element
/// expression is evaluated literally (`gamma * (x - mean)`, then `/ sqrtf(var + eps)`, then
/// `+ beta`); optimized kernels may fold `gamma / sqrt(var + eps)` into one scale.
#[allow(clippy::too_many_arguments)]
pub fn instance_norm_f32(
    batch: usize,
    h: usize,
    w: usize,
    c: usize,
    epsilon: f32,
    gamma: &[f32],
    beta: &[f32],
    input: &[f32],
    output: &mut [f32],
) {
    debug_assert_eq!(gamma.len(), c);
    debug_assert_eq!(beta.len(), c);
    debug_assert_eq!(input.len(), batch * h * w * c);
    debug_assert_eq!(output.len(), batch * h * w * c);

    let hw = h * w;
    let n = hw as f32;
    for b in 0..batch {
        for ch in 0..c {
            let at = |p: usize| (b * hw + p) * c + ch;
            let mut sum = 0.0f32;
            for p in 0..hw {
                sum += input[at(p)];
            }
            let mean = sum / n;
            let mut sq = 0.0f32;
            for p in 0..hw {
                let d = input[at(p)] - mean;
                sq += d * d;
            }
            let var = sq / n;
            let denom = libm::sqrtf(var + epsilon);
            for p in 0..hw {
                output[at(p)] = gamma[ch] * (input[at(p)] - mean) / denom + beta[ch];
            }
        }
    }
}

/// Elementwise hyperbolic tangent, `libm::tanhf` per element. NaN propagates, `±inf → ±1`.
pub fn tanh_f32(input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), output.len());
    for (y, &x) in output.iter_mut().zip(input) {
        *y = libm::tanhf(x);
    }
}

/// Transposed 2-D convolution (ONNX ConvTranspose with group 1). Input NHWC
/// `[batch][in_h][in_w][in_c]`, filter OHWI `[out_c][k_h][k_w][in_c]`, bias `[out_c]` (or
/// empty), output NHWC `[batch][out_h][out_w][out_c]`.
///
/// The geometry reuses [`Window2d`] with `in_*` the input, `out_*` the output and `pad_top` /
/// `pad_left` the number of rows / columns **cropped** from the start of the full output: input
/// pixel `(iy, ix)` at tap `(ky, kx)` lands on output
/// `(iy·stride_h + ky·dil_h − pad_top, ix·stride_w + kx·dil_w − pad_left)` (dropped when outside
/// the output). The output size is the caller's (validated by the blob:
/// `out = (in − 1)·stride + dil·(k − 1) + 1 − pad_before − pad_after`).
///
/// Computed in **gather form**, so each output has its own accumulator in a fixed order, the same
/// as [`conv2d_f32`]: `acc = bias`, then `acc += x · w` over the taps `(ky, kx, ic)` in row-major
/// order (skipping taps that no input pixel reaches: `oy + pad_top − ky·dil_h` negative, not a
/// multiple of `stride_h`, or past the input; likewise along x), then the fused activation clamp.
#[allow(clippy::too_many_arguments)]
pub fn transpose_conv2d_f32(
    g: &Window2d,
    act_min: f32,
    act_max: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    debug_assert_eq!(input.len(), g.in_len());
    debug_assert_eq!(filter.len(), g.out_c * g.k_h * g.k_w * g.in_c);
    debug_assert!(bias.is_empty() || bias.len() == g.out_c);
    debug_assert_eq!(output.len(), g.out_len());

    // Input coordinate whose tap `k` lands on output coordinate `o`, if any.
    let src = |o: usize, k: usize, stride: usize, dil: usize, pad: usize, size: usize| -> Option<usize> {
        let t = (o + pad).checked_sub(k * dil)?;
        if t % stride != 0 {
            return None;
        }
        let i = t / stride;
        (i < size).then_some(i)
    };
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for oc in 0..g.out_c {
                    let mut acc = bias_at(bias, oc);
                    for ky in 0..g.k_h {
                        let Some(iy) = src(oy, ky, g.stride_h, g.dil_h, g.pad_top, g.in_h) else { continue };
                        for kx in 0..g.k_w {
                            let Some(ix) = src(ox, kx, g.stride_w, g.dil_w, g.pad_left, g.in_w) else {
                                continue;
                            };
                            for ic in 0..g.in_c {
                                let x = input[((b * g.in_h + iy) * g.in_w + ix) * g.in_c + ic];
                                let w = filter[((oc * g.k_h + ky) * g.k_w + kx) * g.in_c + ic];
                                acc += x * w;
                            }
                        }
                    }
                    output[((b * g.out_h + oy) * g.out_w + ox) * g.out_c + oc] =
                        clamp_act(acc, act_min, act_max);
                }
            }
        }
    }
}
