//! Reference binary (XNOR-Net / Larq) kernels with Larq Compute Engine (LCE) semantics.
//!
//! These are the oracles for the NEON binary kernels: deliberately naive, one output element at a
//! time, every rule spelled out. Every optimized binary kernel must be bit-exact to them.
//!
//! # Bit-packing
//!
//! Tensors are NHWC and bit-packed along channels into little-endian `u32` words: bit `c % 32` of
//! word `c / 32` of a pixel is 1 when the value is −1 (`x < 0`), 0 when it is +1. `sign(0) = +1`,
//! `-0.0` packs as +1 and so does NaN (the comparison `x < 0.0` is false) — exactly LCE's
//! `bitpack_bitfield` (`larq_compute_engine/core/bitpacking/bitpack.h`). A pixel of `c` channels
//! takes [`words`]`(c) = ceil(c / 32)` words; the padding bits of its last word are 0 in every
//! tensor these kernels write. Kernels that read packed data *ignore* the padding bits of their
//! inputs (they are masked off), so a stray 1 there cannot change a result.
//!
//! Binary conv filters are OHWI packed along `in_c`: `[out_c][k_h][k_w][words(in_c)]`.
//!
//! # The accumulator
//!
//! Every binary conv epilogue starts from the same integer, [`bconv_acc`]:
//! `acc = K − 2 · popcount(a XOR w)` summed over the taps of one output element — the exact
//! ±1 dot product. What `K` and the taps are depends on [`PadValue`]:
//! * [`PadValue::One`] (LCE's "one-padding", `pad_values = 1`): an out-of-bounds tap reads
//!   the value +1 (packed word 0) and is a real term, so `K = k_h · k_w · in_c` for every pixel.
//! * [`PadValue::Zero`] (`pad_values = 0`): out-of-bounds taps contribute nothing;
//!   `K = (in-bounds taps) · in_c`. This is what a float SAME convolution with zero padding gives.
//!
//! For VALID geometry both modes are identical.
//!
//! LCE itself counts mismatches, `pop = popcount(a XOR w)`, and applies its output transform to
//! `2 · pop` with the constant `K_full = k_h · k_w · in_c` (`backtransform_add`) for every pixel.
//! With one-padding `2 · pop = K_full − acc` exactly. For zero padding the epilogues use the same
//! `K_full − acc`: that is the value whose back-transformation `K_full − 2 · pop` is the
//! zero-padded result, i.e. as if each padded tap counted `in_c / 2` mismatches (LCE's reference
//! kernel accepts zero padding only for even `in_c`, consistent with that). LCE's *optimized*
//! kernels instead add a float correction to the one-padded float output afterwards
//! (`core/bconv2d/zero_padding_correction.h`, float output without activation only), which can
//! differ from this by float rounding.
//!
//! # Epilogues
//!
//! * float / int8 — [`BConvEpilogue`], [`epilogue_f32`], [`epilogue_i8`]: LCE's
//!   `OutputTransform<float>` / `OutputTransform<int8_t>`
//!   (`larq_compute_engine/core/bconv2d/output_transform.h`) with the parameters LCE's
//!   `OneTimeSetup` derives (`larq_compute_engine/tflite/kernels/bconv2d.cc`); see
//!   [`lce_output_transform`].
//! * bitpacked — [`bconv2d_bits`]: one integer comparison per output channel; see
//!   [`bits_thresholds`] and [`lce_bits_thresholds`].

use super::Window2d;

/// Number of `u32` words that hold `channels` packed channels: `ceil(channels / 32)`.
pub const fn words(channels: usize) -> usize {
    channels.div_ceil(32)
}

/// Mask of the real (non-padding) bits of word `w` of a pixel with `channels` channels.
#[inline]
pub const fn word_mask(channels: usize, w: usize) -> u32 {
    let start = w * 32;
    if start >= channels {
        0
    } else if channels - start >= 32 {
        u32::MAX
    } else {
        (1u32 << (channels - start)) - 1
    }
}

/// Packs `pixels` rows of `channels` values each, by `is_negative(pixel, channel)`.
fn pack_by(pixels: usize, channels: usize, output: &mut [u32], is_negative: impl Fn(usize, usize) -> bool) {
    let wpp = words(channels);
    debug_assert!(output.len() >= pixels * wpp);
    for p in 0..pixels {
        for w in 0..wpp {
            let mut word = 0u32;
            for bit in 0..32 {
                let c = w * 32 + bit;
                if c < channels && is_negative(p, c) {
                    word |= 1 << bit;
                }
            }
            output[p * wpp + w] = word;
        }
    }
}

/// Packs float activations `[pixels][channels]` into `[pixels][words(channels)]`.
///
/// Bit = 1 iff `x < 0.0`: `0.0`, `-0.0` and NaN pack as +1, any negative number (however tiny,
/// subnormals included) and `-inf` as −1. Padding bits are written 0. This is LCE's float
/// `bitpack_bitfield` (`fptr[i] < 0`).
pub fn pack_f32(pixels: usize, channels: usize, input: &[f32], output: &mut [u32]) {
    debug_assert!(input.len() >= pixels * channels);
    pack_by(pixels, channels, output, |p, c| input[p * channels + c] < 0.0);
}

/// Packs an OHWI float filter `[out_c][k_h][k_w][in_c]` into `[out_c][k_h][k_w][words(in_c)]`.
///
/// This is exactly [`pack_f32`] with `pixels = out_c · k_h · k_w` and `channels = in_c` (each
/// filter tap is one "pixel"); it exists only to name the layout.
pub fn pack_filter_f32(
    out_c: usize,
    k_h: usize,
    k_w: usize,
    in_c: usize,
    filter: &[f32],
    output: &mut [u32],
) {
    pack_f32(out_c * k_h * k_w, in_c, filter, output);
}

/// Packs int8 activations `[pixels][channels]` with the given zero point.
///
/// The real value is `scale · (q − zero_point)` with `scale > 0`, so it is negative iff
/// `q < zero_point`: bit = `(q as i32) < zero_point` (a real 0, `q == zero_point`, packs as +1).
/// This is LCE's `bitpack_bitfield_quantized` (`in[i] < zero_point`) together with the two
/// out-of-range shortcuts of its `bitpack_matrix` (`larq_compute_engine/core/bitpacking/bitpack.h`):
/// a zero point `<= -128` gives all +1 and one `> 127` all −1 (padding bits still 0), both of
/// which fall out of comparing in `i32`. LCE's `LceQuantize` passes the input tensor's zero point.
pub fn pack_i8(pixels: usize, channels: usize, zero_point: i32, input: &[i8], output: &mut [u32]) {
    debug_assert!(input.len() >= pixels * channels);
    pack_by(pixels, channels, output, |p, c| i32::from(input[p * channels + c]) < zero_point);
}

/// Unpacks `[pixels][words(channels)]` into `[pixels][channels]` of `+1.0` (bit 0) / `-1.0` (bit 1).
/// Padding bits are ignored. (LCE `LceDequantize` to float.)
pub fn unpack_f32(pixels: usize, channels: usize, input: &[u32], output: &mut [f32]) {
    let wpp = words(channels);
    debug_assert!(input.len() >= pixels * wpp);
    debug_assert!(output.len() >= pixels * channels);
    for p in 0..pixels {
        for c in 0..channels {
            let bit = (input[p * wpp + c / 32] >> (c % 32)) & 1;
            output[p * channels + c] = if bit == 1 { -1.0 } else { 1.0 };
        }
    }
}

/// Unpacks `[pixels][words(channels)]` into int8 `[pixels][channels]`: bit 0 (+1) → `q_plus`,
/// bit 1 (−1) → `q_minus`. Padding bits are ignored. See [`lce_dequantize_levels`] for the two
/// levels LCE's `LceDequantize` uses.
pub fn unpack_i8(pixels: usize, channels: usize, q_plus: i8, q_minus: i8, input: &[u32], output: &mut [i8]) {
    let wpp = words(channels);
    debug_assert!(input.len() >= pixels * wpp);
    debug_assert!(output.len() >= pixels * channels);
    for p in 0..pixels {
        for c in 0..channels {
            let bit = (input[p * wpp + c / 32] >> (c % 32)) & 1;
            output[p * channels + c] = if bit == 1 { q_minus } else { q_plus };
        }
    }
}

/// The int8 levels LCE's `LceDequantize` writes for +1 and −1 given the output's quantization
/// (`larq_compute_engine/tflite/kernels/quantization.cc`):
/// `offset = round(1.0f / scale)` (f32 division, `std::round`: ties away from zero),
/// `q_plus = min(127, zero_point + offset)`, `q_minus = max(-128, zero_point - offset)`.
/// Returns `(q_plus, q_minus)` for [`unpack_i8`]. (Offline helper; arithmetic saturates.)
pub fn lce_dequantize_levels(scale: f32, zero_point: i32) -> (i8, i8) {
    let offset = libm::roundf(1.0f32 / scale) as i64;
    let zp = i64::from(zero_point);
    let plus = (zp + offset).clamp(-128, 127);
    let minus = (zp - offset).clamp(-128, 127);
    (plus as i8, minus as i8)
}

/// What an out-of-bounds conv tap reads. The discriminants are Doppler's encoding, not LCE's
/// `pad_values` attribute (there `1` is one-padding and `0` zero-padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PadValue {
    /// LCE "one-padding": the tap reads +1 (packed 0) and counts as a real term;
    /// `K = k_h · k_w · in_c` for every output pixel.
    One = 0,
    /// Zero padding: the tap contributes nothing; `K = (in-bounds taps) · in_c`.
    Zero = 1,
}

/// `K_full = k_h · k_w · in_c`: the term count of an interior pixel, LCE's `backtransform_add`.
/// The float / int8 epilogues are defined in terms of it (in both padding modes).
#[inline]
pub fn full_depth(g: &Window2d) -> usize {
    g.k_h * g.k_w * g.in_c
}

/// The ±1 dot product of output element `(b, oy, ox, oc)`:
/// `acc = K − 2 · Σ popcount(a XOR w)` over the taps (see the module doc for `K` and padding).
///
/// `input` is `[batch][in_h][in_w][words(in_c)]`, `filter` `[out_c][k_h][k_w][words(in_c)]`.
/// Padding bits of both are masked off. The result lies in `[-K, K]` and has the parity of `K`.
#[allow(clippy::too_many_arguments)] // the engine-facing signature: geometry + one element
pub fn bconv_acc(
    g: &Window2d,
    pad: PadValue,
    input: &[u32],
    filter: &[u32],
    b: usize,
    oy: usize,
    ox: usize,
    oc: usize,
) -> i32 {
    let wpp = words(g.in_c);
    let mut terms: i64 = 0;
    let mut mismatches: i64 = 0;
    for ky in 0..g.k_h {
        for kx in 0..g.k_w {
            let in_base = match (g.in_y(oy, ky), g.in_x(ox, kx)) {
                (Some(y), Some(x)) => Some(((b * g.in_h + y) * g.in_w + x) * wpp),
                _ => None,
            };
            if in_base.is_none() && pad == PadValue::Zero {
                continue;
            }
            let f_base = ((oc * g.k_h + ky) * g.k_w + kx) * wpp;
            terms += g.in_c as i64;
            for w in 0..wpp {
                // One-padding: an out-of-bounds tap is all +1, i.e. packed word 0.
                let a = match in_base {
                    Some(base) => input[base + w],
                    None => 0,
                };
                let x = (a ^ filter[f_base + w]) & word_mask(g.in_c, w);
                mismatches += i64::from(x.count_ones());
            }
        }
    }
    (terms - 2 * mismatches) as i32
}

/// Per-output-channel float / int8 epilogue of a binary conv (LCE's output transform).
///
/// For output channel `c` and accumulator `acc` ([`bconv_acc`]):
/// ```text
/// t = min(max(acc, clamp_min), clamp_max)          // fused activation, in the ±1 domain (i32)
/// x = (K_full - t) as f32                            // = LCE's clamped `accum << 1`
/// y = x * multiplier[c] + bias[c]                    // f32, two roundings (no FMA)
/// ```
/// `clamp_min/clamp_max` are the activation's range on the dot product: none
/// `(i32::MIN, i32::MAX)`, ReLU `(0, i32::MAX)`, ReLU6 `(0, 6)`, ReLU_N1_TO_1 `(-1, 1)`.
///
/// **`multiplier`/`bias` are LCE's *effective* output-transform values, not the layer's
/// post-activation multiplier γ and bias β**: `multiplier = −γ / s_out`,
/// `bias = (β + K_full · γ) / s_out + z_out`, computed in f64 and rounded to f32 once
/// ([`lce_output_transform`] computes them; for float output `s_out = 1, z_out = 0`). In exact
/// arithmetic `y = t · γ / s_out + β / s_out + z_out`; evaluating it LCE's way, through
/// `x = K_full − t`, is what makes the f32 result bit-identical to LCE's.
///
/// LCE writes `float(x) * multiplier + bias` in C++; a compiler that contracts it into a fused
/// multiply-add (clang/GCC on AArch64 may) rounds once and can differ from this in the last bit.
/// Doppler defines it as two roundings (what ARMv7 NEON `vmul`+`vadd` compute).
#[derive(Clone, Copy, Debug)]
pub struct BConvEpilogue<'a> {
    pub clamp_min: i32,
    pub clamp_max: i32,
    /// `[out_c]`, LCE effective multiplier (see the type doc).
    pub multiplier: &'a [f32],
    /// `[out_c]`, LCE effective bias (output zero point folded in for int8).
    pub bias: &'a [f32],
}

/// The float epilogue of one element: see [`BConvEpilogue`]. `k_full` is [`full_depth`].
#[inline]
pub fn epilogue_f32(e: &BConvEpilogue, k_full: i32, acc: i32, oc: usize) -> f32 {
    let t = acc.max(e.clamp_min).min(e.clamp_max);
    // i64 so that a clamp range outside [-K, K] cannot overflow; `as f32` rounds to nearest,
    // like LCE's `static_cast<float>(int32)` for every value LCE can represent.
    let x = (i64::from(k_full) - i64::from(t)) as f32;
    x * e.multiplier[oc] + e.bias[oc]
}

/// The int8 epilogue of one element: `saturate_i8(round_half_away_from_zero(epilogue_f32(..)))`.
///
/// LCE's `OutputTransform<int8_t>::Run` rounds with `tflite::TfLiteRound` (= `std::round`, ties
/// away from zero) and saturates to `[-128, 127]`; the output scale and zero point are already
/// folded into the multiplier/bias ([`lce_output_transform`]), so there is no separate zero
/// point here. Values beyond the i32 range saturate (LCE's float→int conversion is undefined
/// there: x86-64 gives `INT_MIN`, i.e. −128, for huge positive values). NaN gives 0.
///
/// LCE builds for Thumb with hard float (`__thumb__ && __VFP_FP__`, e.g. Android armv7) round
/// with `vcvtr`, ties to *even*; every other LCE build, including the Python interpreter used to
/// make fixtures, rounds ties away from zero. Doppler always rounds ties away from zero.
#[inline]
pub fn epilogue_i8(e: &BConvEpilogue, k_full: i32, acc: i32, oc: usize) -> i8 {
    let y = epilogue_f32(e, k_full, acc, oc);
    (libm::roundf(y) as i32).clamp(-128, 127) as i8
}

/// Binary conv with float output `[batch][out_h][out_w][out_c]`: [`bconv_acc`] then
/// [`epilogue_f32`] (see [`BConvEpilogue`] for the exact arithmetic).
pub fn bconv2d_f32(
    g: &Window2d,
    pad: PadValue,
    e: &BConvEpilogue,
    input: &[u32],
    filter: &[u32],
    output: &mut [f32],
) {
    debug_assert!(input.len() >= g.batch * g.in_h * g.in_w * words(g.in_c));
    debug_assert!(filter.len() >= g.out_c * g.k_h * g.k_w * words(g.in_c));
    debug_assert!(output.len() >= g.out_len());
    debug_assert!(e.multiplier.len() >= g.out_c && e.bias.len() >= g.out_c);
    let k_full = full_depth(g) as i32;
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let base = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c;
                for oc in 0..g.out_c {
                    let acc = bconv_acc(g, pad, input, filter, b, oy, ox, oc);
                    output[base + oc] = epilogue_f32(e, k_full, acc, oc);
                }
            }
        }
    }
}

/// Binary conv with int8 output `[batch][out_h][out_w][out_c]`: [`bconv_acc`] then
/// [`epilogue_i8`].
///
/// LCE's int8 path is "float, then round": the output scale and zero point are folded into the
/// effective multiplier/bias offline (in f64, see [`lce_output_transform`]); the device computes
/// the f32 value and rounds it half away from zero, then saturates. Hence no zero-point argument.
pub fn bconv2d_i8(
    g: &Window2d,
    pad: PadValue,
    e: &BConvEpilogue,
    input: &[u32],
    filter: &[u32],
    output: &mut [i8],
) {
    debug_assert!(input.len() >= g.batch * g.in_h * g.in_w * words(g.in_c));
    debug_assert!(filter.len() >= g.out_c * g.k_h * g.k_w * words(g.in_c));
    debug_assert!(output.len() >= g.out_len());
    debug_assert!(e.multiplier.len() >= g.out_c && e.bias.len() >= g.out_c);
    let k_full = full_depth(g) as i32;
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let base = ((b * g.out_h + oy) * g.out_w + ox) * g.out_c;
                for oc in 0..g.out_c {
                    let acc = bconv_acc(g, pad, input, filter, b, oy, ox, oc);
                    output[base + oc] = epilogue_i8(e, k_full, acc, oc);
                }
            }
        }
    }
}

/// Binary conv with bitpacked output `[batch][out_h][out_w][words(out_c)]`:
/// bit `oc` = 1 (value −1) iff `acc < thresholds[oc]`. Output padding bits are 0.
///
/// The comparison is on the ±1 dot product `acc` of [`bconv_acc`], so a bit is 1 when the dot
/// product is *small*: that is the sign of `acc · γ + β` for a positive multiplier γ. Channels
/// with a negative γ use a filter whose bits are inverted for that channel
/// ([`negate_filter_channels`]), exactly as LCE's converter multiplies the filter by `sign(γ)`.
/// Thresholds come from [`bits_thresholds`] (to agree with the float epilogue) or
/// [`lce_bits_thresholds`] / [`acc_threshold_from_lce`] (to agree with an LCE model).
///
/// LCE compares its mismatch count instead: bit = `pop > τ`. With `acc = K − 2·pop` that is
/// `acc < K − 2τ` ([`acc_threshold_from_lce`]); `i32::MAX` means "always −1", `i32::MIN`
/// "always +1".
pub fn bconv2d_bits(
    g: &Window2d,
    pad: PadValue,
    thresholds: &[i32],
    input: &[u32],
    filter: &[u32],
    output: &mut [u32],
) {
    debug_assert!(input.len() >= g.batch * g.in_h * g.in_w * words(g.in_c));
    debug_assert!(filter.len() >= g.out_c * g.k_h * g.k_w * words(g.in_c));
    debug_assert!(thresholds.len() >= g.out_c);
    let wpo = words(g.out_c);
    debug_assert!(output.len() >= g.batch * g.out_h * g.out_w * wpo);
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let base = ((b * g.out_h + oy) * g.out_w + ox) * wpo;
                for w in 0..wpo {
                    let mut word = 0u32;
                    for bit in 0..32 {
                        let oc = w * 32 + bit;
                        if oc < g.out_c && bconv_acc(g, pad, input, filter, b, oy, ox, oc) < thresholds[oc] {
                            word |= 1 << bit;
                        }
                    }
                    output[base + w] = word;
                }
            }
        }
    }
}

/// Offline: the effective multiplier/bias of [`BConvEpilogue`] from a layer's post-activation
/// multiplier γ and bias β, exactly as LCE's `OneTimeSetup`
/// (`larq_compute_engine/tflite/kernels/bconv2d.cc`) computes them:
/// ```text
/// multiplier[c] = (f32) ( -γ[c] / s_out )                       // in f64
/// bias[c]       = (f32) ( (β[c] + K_full · γ[c]) / s_out + z_out )  // in f64
/// ```
/// For float output pass `output_scale = 1.0, output_zero_point = 0`. `k_full` is
/// [`full_depth`] (`k_h · k_w · in_c`, whatever the padding). The clamp range is *not* folded:
/// [`BConvEpilogue::clamp_min`]/`clamp_max` are the activation's range as is.
pub fn lce_output_transform(
    k_full: usize,
    post_multiplier: &[f32],
    post_bias: &[f32],
    output_scale: f32,
    output_zero_point: i32,
    multiplier: &mut [f32],
    bias: &mut [f32],
) {
    let s = f64::from(output_scale);
    let zp = f64::from(output_zero_point);
    let k = k_full as f64;
    for c in 0..post_multiplier.len() {
        let gamma = f64::from(post_multiplier[c]);
        let beta = f64::from(post_bias[c]);
        multiplier[c] = (-gamma / s) as f32;
        bias[c] = ((beta + k * gamma) / s + zp) as f32;
    }
}

/// Offline: thresholds for [`bconv2d_bits`] that reproduce `pack_f32(bconv2d_f32(e))` exactly.
///
/// For each channel the float epilogue `y(acc)` ([`epilogue_f32`] with this `k_full` and `e`) is
/// a monotone function of `acc` (clamp, int→f32, multiply and add by constants all round
/// monotonically), so the set `{acc in [-K, K] : y(acc) < 0}` is empty, everything, a lower or an
/// upper half-line. This function finds its end by binary search on the float epilogue itself,
/// rounding included, and writes:
/// * lower half-line `acc < t`: `thresholds[c] = t`, `negate[c] = false` (γ > 0: LCE's effective
///   multiplier is negative);
/// * upper half-line `acc > u`: `thresholds[c] = −u`, `negate[c] = true` — the channel's filter
///   bits must be inverted ([`negate_filter_channels`]), which turns `acc` into `−acc` (γ < 0);
/// * constant sign (γ = 0, or a clamp range on which `y` does not change sign): `i32::MAX`
///   (always −1) or `i32::MIN` (always +1), `negate[c] = false`.
///
/// Because it is derived from the f32 arithmetic and not from exact arithmetic, it can differ from
/// LCE's own thresholds ([`lce_bits_thresholds`]) where `y` is within rounding of 0.
pub fn bits_thresholds(k_full: usize, e: &BConvEpilogue, thresholds: &mut [i32], negate: &mut [bool]) {
    let k = k_full as i32;
    for c in 0..thresholds.len() {
        let neg = |acc: i32| epilogue_f32(e, k, acc, c) < 0.0;
        let (mut lo, mut hi) = (-k, k);
        let (neg_lo, neg_hi) = (neg(lo), neg(hi));
        if neg_lo == neg_hi {
            thresholds[c] = if neg_lo { i32::MAX } else { i32::MIN };
            negate[c] = false;
        } else {
            // Invariant: neg(lo) == neg_lo, neg(hi) == neg_hi, lo < hi.
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if neg(mid) == neg_lo {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            if neg_lo {
                // Negative exactly for acc <= lo, i.e. acc < hi.
                thresholds[c] = hi;
                negate[c] = false;
            } else {
                // Negative exactly for acc > lo; with the filter negated, -acc' > lo <=> acc' < -lo.
                thresholds[c] = -lo;
                negate[c] = true;
            }
        }
    }
}

/// Offline: LCE's thresholds for bitpacked output, converted to [`bconv2d_bits`]'s convention.
///
/// Reproduces `ComputeWriteBitpackedOutputThresholds` of LCE's converter
/// (`larq_compute_engine/mlir/transforms/optimize.cc`), which works in exact-arithmetic terms of
/// `y = clamp(acc, c, C) · γ + β` (1-bit iff `y < 0`):
/// * `(c, C)` = the activation range with an unbounded end (`i32::MIN`/`i32::MAX`) replaced by
///   `∓K` (LCE: none `(−K, K)`, ReLU `(0, K)`, ReLU6 `(0, 6)`, ReLU_N1_TO_1 `(−1, 1)`);
///   if `γ < 0` it becomes `(−C, −c)` and the channel's weights are negated (LCE multiplies the
///   filter by `sign(γ)` with `sign(x) = x >= 0 ? +1 : −1`, so `−0.0` is not negated);
/// * `γ == 0`: always −1 if `β < 0`, else always +1;
/// * if `c·|γ| + β` and `C·|γ| + β` (f32) are both `< 0`: always −1; both `>= 0`: always +1;
/// * else `τ = floor(0.5 · (β / |γ| + K))`, with `β / |γ| + K` in f32, and bit = `pop > τ`.
///
/// `τ` is then mapped to `acc < K − 2τ` by [`acc_threshold_from_lce`]. Valid for VALID and
/// one-padded layers, the only ones LCE writes bitpacked output for (`acc = K − 2·pop` holds
/// there); for zero padding with odd `in_c` use [`bits_thresholds`].
pub fn lce_bits_thresholds(
    k_full: usize,
    clamp_min: i32,
    clamp_max: i32,
    post_multiplier: &[f32],
    post_bias: &[f32],
    thresholds: &mut [i32],
    negate: &mut [bool],
) {
    let k = k_full as i32;
    let a = k as f32;
    // LCE's table: none -> (-K, K), ReLU -> (0, K), ReLU6 -> (0, 6), ReLU_N1_TO_1 -> (-1, 1);
    // i.e. only the "unbounded" ends become ±K.
    let c_lo = if clamp_min == i32::MIN { -k } else { clamp_min } as f32;
    let c_hi = if clamp_max == i32::MAX { k } else { clamp_max } as f32;
    for c in 0..post_multiplier.len() {
        let mult = post_multiplier[c];
        let bias = post_bias[c];
        // LCE: sign = (γ >= 0) ? +1 : -1, so NaN negates and -0.0 does not.
        negate[c] = mult.is_nan() || mult < 0.0;
        let tau = if mult == 0.0 {
            if bias < 0.0 {
                i32::MIN
            } else {
                i32::MAX
            }
        } else {
            let (eff_lo, eff_hi) = if mult > 0.0 { (c_lo, c_hi) } else { (-c_hi, -c_lo) };
            let abs = libm::fabsf(mult);
            let start = eff_lo * abs + bias;
            let end = eff_hi * abs + bias;
            if start < 0.0 && end < 0.0 {
                i32::MIN
            } else if start >= 0.0 && end >= 0.0 {
                i32::MAX
            } else {
                libm::floor(0.5 * f64::from(bias / abs + a)) as i32
            }
        };
        thresholds[c] = acc_threshold_from_lce(k_full, tau);
    }
}

/// Converts an LCE bitpacked-output threshold `τ` (bit = `pop > τ`, `pop` = mismatch count,
/// as stored in an LCE `.tflite` model) into [`bconv2d_bits`]'s `acc < t`: `t = K − 2τ`,
/// saturated to `i32` (so LCE's `i32::MIN` "always −1" becomes `i32::MAX` and vice versa).
pub fn acc_threshold_from_lce(k_full: usize, tau: i32) -> i32 {
    let t = k_full as i64 - 2 * i64::from(tau);
    t.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Offline: inverts the filter bits of every output channel with `negate[oc]` (padding bits stay
/// 0). `filter` is `[out_c][k_h][k_w][words(in_c)]`. Inverting a channel's weights negates its
/// `acc`, which is how [`bconv2d_bits`] handles negative multipliers.
pub fn negate_filter_channels(
    out_c: usize,
    k_h: usize,
    k_w: usize,
    in_c: usize,
    negate: &[bool],
    filter: &mut [u32],
) {
    let wpp = words(in_c);
    let per_oc = k_h * k_w * wpp;
    debug_assert!(negate.len() >= out_c && filter.len() >= out_c * per_oc);
    for (oc, _) in negate.iter().enumerate().take(out_c).filter(|(_, &neg)| neg) {
        for tap in 0..k_h * k_w {
            for w in 0..wpp {
                let i = oc * per_oc + tap * wpp + w;
                filter[i] = !filter[i] & word_mask(in_c, w);
            }
        }
    }
}

/// Binary max-pool on packed data: `[batch][in_h][in_w][words(c)]` → `[batch][out_h][out_w][words(c)]`
/// with `c = g.in_c == g.out_c`.
///
/// The max of ±1 values is +1 unless every tap is −1, so the result is the bitwise AND of the
/// in-bounds taps (out-of-bounds taps are skipped, as in TFLite's max-pool; `g.k_h/k_w` is the
/// pool window, `g.dil_*` is honoured but is 1 for a real pool). LCE's `BMaxPool`
/// (`larq_compute_engine/core/bmaxpool.h`) does the same, starting from all ones; here the start
/// is the mask of real bits, so output padding bits are 0 even for a window with no in-bounds
/// tap (whose channels are then all −1, as in LCE).
pub fn max_pool_bits(g: &Window2d, input: &[u32], output: &mut [u32]) {
    debug_assert_eq!(g.in_c, g.out_c);
    let wpp = words(g.in_c);
    debug_assert!(input.len() >= g.batch * g.in_h * g.in_w * wpp);
    debug_assert!(output.len() >= g.batch * g.out_h * g.out_w * wpp);
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let out_base = ((b * g.out_h + oy) * g.out_w + ox) * wpp;
                for w in 0..wpp {
                    let mut acc = word_mask(g.in_c, w);
                    for ky in g.taps_y(oy) {
                        for kx in g.taps_x(ox) {
                            if let (Some(y), Some(x)) = (g.in_y(oy, ky), g.in_x(ox, kx)) {
                                acc &= input[((b * g.in_h + y) * g.in_w + x) * wpp + w];
                            }
                        }
                    }
                    output[out_base + w] = acc;
                }
            }
        }
    }
}
