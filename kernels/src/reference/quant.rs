//! Integer requantization and gemmlowp fixed-point arithmetic, exactly as TFLite does it.
//!
//! Every int8 kernel ends with the same step: an `i32` accumulator is scaled by a real factor
//! `s_in · s_w / s_out < 1` (or `> 1`) that was turned offline into a Q0.31 multiplier `M` and
//! a power-of-two `shift` ([`quantize_multiplier`]). The device then computes
//! [`multiply_by_quantized_multiplier`]. TFLite has two bit-different definitions of that
//! function, selected at compile time by `TFLITE_SINGLE_ROUNDING`; both are here, chosen per op
//! by [`Rounding`], so that a model can be matched whichever way its reference was built.
//!
//! The building blocks [`srdhm`] and [`rdbpot`] are gemmlowp's `SaturatingRoundingDoublingHighMul`
//! and `RoundingDivideByPOT`. The softmax helpers at the end of this file
//! ([`exp_on_negative_values_q5_26`], [`one_over_one_plus_x_for_x_in_0_1`], [`get_reciprocal`])
//! are gemmlowp's fixed-point `exp` / Newton–Raphson reciprocal, which TFLite's reference int8
//! softmax is built from.
//!
//! Contract for out-of-range arguments: none of these functions panics for any input. Where the
//! C code would have undefined behaviour (shift amounts ≥ 32, signed overflow), the behaviour
//! chosen here is documented on each function; the engine's validator keeps real models inside
//! the ranges where the C code is defined, and there the results are bit-identical to TFLite.

/// Which of TFLite's two `MultiplyByQuantizedMultiplier` definitions an op uses.
///
/// Stored per op in the blob (as this `u8`), because the two differ on ties and a model must be
/// run the way its reference runtime runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rounding {
    /// gemmlowp "double rounding": `RDBPOT(SRDHM(x · 2^left, M), right)`. TFLite's and TFLM's
    /// default build; checked bit-exact against TF 2.15's `BUILTIN_REF` CONV_2D/DEPTHWISE.
    Double = 0,
    /// `TFLITE_SINGLE_ROUNDING`: one 64-bit multiply and one round-half-up shift.
    Single = 1,
}

impl Rounding {
    /// Decodes the blob encoding (`0` = [`Rounding::Double`], `1` = [`Rounding::Single`]).
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Rounding::Double),
            1 => Some(Rounding::Single),
            _ => None,
        }
    }
}

/// gemmlowp `SaturatingRoundingDoublingHighMul`: `round(a · b / 2^31)`, ties rounded up
/// (towards +∞), the single overflowing case `i32::MIN · i32::MIN` saturated to `i32::MAX`.
///
/// Written the way gemmlowp writes it (a sign-dependent nudge followed by a division that
/// truncates towards zero); that is the same as `floor((a·b + 2^30) / 2^31)`. This is exactly
/// what NEON `VQRDMULH` computes.
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // |ab + nudge| / 2^31 < 2^31 for every pair except MIN·MIN (handled above): no truncation.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero.
///
/// Uses gemmlowp's mask/threshold formulation (the remainder is compared against half the
/// divisor, one more for negative `x`), which is branch-free on SIMD. `exponent` is defined for
/// `0..=31`; values outside are clamped into that range (gemmlowp asserts).
pub fn rdbpot(x: i32, exponent: i32) -> i32 {
    let e = exponent.clamp(0, 31);
    // (1 << e) - 1 computed in 64 bits, as gemmlowp does, so that e = 31 gives 0x7fff_ffff.
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> e) + i32::from(remainder > threshold)
}

/// `x / 2^exponent` rounded half away from zero, for any `exponent >= 0`.
///
/// Equal to [`rdbpot`] for `exponent <= 31`. Above 31 gemmlowp's `RoundingDivideByPOT` is
/// undefined in C (its shift amount exceeds the width; the result differs between x86 and ARM);
/// here it keeps its mathematical meaning, which for `|x| <= 2^31` is `0`, or `-1` for
/// `x = i32::MIN, exponent = 32`. Negative exponents are treated as `0`.
pub(crate) fn rdbpot_wide(x: i32, exponent: i32) -> i32 {
    if exponent <= 31 {
        return rdbpot(x, exponent);
    }
    let e = exponent.min(62);
    let d = 1i64 << e;
    let x = i64::from(x);
    let q = if x >= 0 { (x + d / 2) / d } else { (x - d / 2) / d };
    q as i32
}

/// TFLite `MultiplyByQuantizedMultiplier(x, M, shift)`: `x · M · 2^shift / 2^31`, rounded,
/// in integers only. `M` is a Q0.31 multiplier in `[2^30, 2^31)` (or 0) and `shift` the power
/// of two from [`quantize_multiplier`].
///
/// * [`Rounding::Double`] (TFLite/TFLM default, gemmlowp):
///   `RDBPOT(SRDHM(x · 2^max(shift,0), M), max(−shift,0))`. The pre-multiplication
///   `x · 2^left` is done with **wrapping** `i32` arithmetic: in C it is a signed overflow for
///   large `x`, which on every real target (and in NEON `VSHL`) wraps. Rounding happens twice
///   (once in SRDHM, once in RDBPOT), so ties can round differently from the exact result.
///   `shift` is clamped to `[-31, 31]` (31 occurs legitimately in softmax's
///   `MultiplyByQuantizedMultiplierGreaterThanOne`).
/// * [`Rounding::Single`] (`TFLITE_SINGLE_ROUNDING`):
///   `(x · M + 2^(t−1)) >> t` with `t = 31 − shift`, in 64 bits (exact: `|x·M| ≤ 2^62`), i.e.
///   the exact product rounded half up, once. TFLite only `DCHECK`s that the result fits in
///   `i32`; here it is saturated. `shift` is clamped to `[-31, 30]` (so `1 ≤ t ≤ 62`).
///
/// Valid ranges (enforced by the engine's validator, not here): `M ∈ [0, i32::MAX]`,
/// `shift ∈ [−31, 30]`. Any `i32` arguments are accepted without panicking.
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32, rounding: Rounding) -> i32 {
    match rounding {
        Rounding::Double => {
            let shift = shift.clamp(-31, 31);
            let left_shift = shift.max(0) as u32;
            let right_shift = (-shift).max(0);
            // x * (1 << left_shift) with the wrap-around of the C code on real hardware.
            let shifted = x.wrapping_shl(left_shift);
            rdbpot(srdhm(shifted, multiplier), right_shift)
        }
        Rounding::Single => {
            let shift = shift.clamp(-31, 30);
            let total_shift = 31 - shift; // 1..=62
            let round = 1i64 << (total_shift - 1);
            let result = (i64::from(x) * i64::from(multiplier) + round) >> total_shift;
            result.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        }
    }
}

/// TFLite `QuantizeMultiplier` (offline, f64): splits a positive real multiplier into a Q0.31
/// fixed-point `M` and a power of two, `real ≈ M · 2^shift / 2^31`. Returns `(M, shift)`.
///
/// `frexp` gives `real = q · 2^shift` with `q ∈ [0.5, 1)`; `M = round(q · 2^31)` (half away
/// from zero, like `TfLiteRound`). If rounding reaches `2^31`, `M` is halved and `shift`
/// incremented. `real == 0` gives `(0, 0)`. If `shift < −31` (real below about `2^-32`) the
/// multiplier is flushed to `(0, 0)` as TFLite does (every result would round to zero anyway).
///
/// Outside TFLite's domain: a non-finite `real` (NaN, ±∞) returns `(0, 0)` where TFLite would
/// `CHECK`-fail; a negative `real` gives a negative `M` exactly as TFLite computes it (the
/// validator rejects such multipliers). A very large `real` gives a `shift` above 30, which
/// TFLite also returns and the validator rejects (`TFLITE_SINGLE_ROUNDING` builds of TFLite
/// additionally saturate it to `(i32::MAX, 30)`; not replicated here).
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(real);
    let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    // |q| < 1 so |q_fixed| <= 2^31, and +2^31 was handled above: fits in i32.
    (q_fixed as i32, shift)
}

// ---------------------------------------------------------------------------------------------
// gemmlowp fixed-point helpers used by TFLite's reference int8 softmax.
//
// Notation: a `Qm.n` value is an `i32` raw integer `r` meaning `r / 2^n` with `m` integer bits,
// `m + n = 31`. gemmlowp's fixed-point `*` is `srdhm` on the raw values (the integer bits add
// up), `+`/`-`/`&` act on raw values (with the hardware's wrap-around, which gemmlowp relies on
// never happening in these functions), and `Rescale` / `SaturatingRoundingMultiplyByPOT` are a
// saturating left shift or a `rdbpot`.
// ---------------------------------------------------------------------------------------------

/// gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>` on a raw value: for `exponent > 0` a
/// left shift saturated to `[i32::MIN, i32::MAX]`; for `exponent < 0` [`rdbpot`] by
/// `−exponent`; identity for 0.
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent > 0 {
        let e = exponent.min(32) as u32;
        let wide = i64::from(x) << e;
        wide.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    } else {
        rdbpot(x, -exponent)
    }
}

/// gemmlowp `RoundingHalfSum` for `i32`: `(a + b) / 2` computed in 64 bits, rounded half away
/// from zero (`(sum ± 1) / 2` with truncating division).
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl`: `exp(a)` for a Q0.31
/// `a ∈ [−1/4, 0)`, result Q0.31.
///
/// A 4th-order Taylor expansion around −1/8: with `x = a + 1/8`,
/// `exp(a) = e^(−1/8) · (1 + x + x²/2 + x³/6 + x⁴/24)`, evaluated with gemmlowp's exact
/// operation order and constants (`e^(−1/8)` = 1895147668, `1/3` = 715827883 in Q0.31).
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8), Q0.31
    const CONSTANT_1_OVER_3: i32 = 715_827_883; // 1/3, Q0.31
    let x = a.wrapping_add(1 << 28); // + 1/8 (ConstantPOT<-3>)
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), CONSTANT_1_OVER_3).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(x4_over_24_plus_x3_over_6_plus_x2_over_2)))
}

/// gemmlowp `exp_on_negative_values` for a Q5.26 input (`FixedPoint<int32_t, 5>`, the
/// `kScaledDiffIntegerBits = 5` format of TFLite's softmax): `exp(a)` for `a ≤ 0`, Q0.31 result.
///
/// `a` is split into `a mod 1/4 − 1/4 ∈ [−1/4, 0)`, evaluated by the Taylor polynomial, and a
/// non-negative multiple of 1/4 whose bits select constant factors `exp(−2^k)` for
/// `k = −2..=4` (a "barrel shifter", one `srdhm` per set bit). `a == 0` returns `i32::MAX`
/// (gemmlowp's `One()` in Q0.31). For 5 integer bits gemmlowp's "clamp below −32" branch is
/// compiled out, so it is absent here too. Positive `a` is outside the domain (the result is
/// whatever the same bit manipulation produces, as in gemmlowp).
pub fn exp_on_negative_values_q5_26(a: i32) -> i32 {
    const FRACTIONAL_BITS: i32 = 26;
    const INTEGER_BITS: i32 = 5;
    let one_quarter: i32 = 1 << (FRACTIONAL_BITS - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    // Rescale<0>: Q5.26 -> Q0.31 is a saturating left shift by 5.
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, INTEGER_BITS),
    );
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);

    // (exponent k, exp(-2^k) in Q0.31); all k < INTEGER_BITS, so every stage is present.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947), // exp(-1/4)
        (-1, 1_302_514_674), // exp(-1/2)
        (0, 790_015_084),    // exp(-1)
        (1, 290_630_308),    // exp(-2)
        (2, 39_332_535),     // exp(-4)
        (3, 720_401),        // exp(-8)
        (4, 242),            // exp(-16)
    ];
    for (exponent, multiplier) in BARREL {
        let bit = 1i32 << (FRACTIONAL_BITS + exponent);
        if remainder & bit != 0 {
            result = srdhm(result, multiplier);
        }
    }

    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// gemmlowp `one_over_one_plus_x_for_x_in_0_1`: `1 / (1 + a)` for a Q0.31 `a ∈ [0, 1)`,
/// Q0.31 result.
///
/// Newton–Raphson on the half denominator `d = (1 + a) / 2 ∈ [1/2, 1)` in Q2.29, starting from
/// `48/17 − 32/17 · d` and iterating `x += x · (1 − d·x)` three times, then `1/(1+a) = x / 2`.
/// Same constants (`48/17` = 1515870810, `−32/17` = −1010580540 in Q2.29) and operation order
/// as gemmlowp.
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810; // Q2.29
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540; // Q2.29
    const F2_ONE: i32 = 1 << 29; // 1.0 in Q2.29
    let half_denominator = rounding_half_sum(a, i32::MAX); // Q0.31 (One() is i32::MAX)
    let mut x = CONSTANT_48_OVER_17.wrapping_add(srdhm(half_denominator, CONSTANT_NEG_32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x); // Q0 * Q2 -> Q2
        let one_minus_half_denominator_times_x = F2_ONE.wrapping_sub(half_denominator_times_x);
        // Q2 * Q2 -> Q4, Rescale<2>: saturating left shift by 2.
        let correction = saturating_rounding_multiply_by_pot(srdhm(x, one_minus_half_denominator_times_x), 2);
        x = x.wrapping_add(correction);
    }
    // ExactMulByPot<-1> (Q2.29 -> Q1.30, raw unchanged) then Rescale<0>: saturating shift by 1.
    saturating_rounding_multiply_by_pot(x, 1)
}

/// TFLite `GetReciprocal(x, x_integer_digits, &num_bits_over_unit)`: for a positive
/// fixed-point `x` with `x_integer_digits` integer bits, returns `(r, num_bits_over_unit)` with
/// `1/x ≈ r / 2^31 / 2^num_bits_over_unit` (`r` Q0.31 in `(1/2, 1]`).
///
/// `x` is normalised by its leading zeros (as a `u32`, exactly like TFLite, which is why a sum
/// that has wrapped past `i32::MAX` but not past `u32::MAX` still works), `1.0` is subtracted,
/// and [`one_over_one_plus_x_for_x_in_0_1`] gives the reciprocal. `x == 0` (undefined in C: a
/// shift by 32) is taken as a normalised value of 0 here.
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let ux = x as u32;
    let headroom_plus_one = ux.leading_zeros();
    let num_bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    let normalised = ux.checked_shl(headroom_plus_one).unwrap_or(0);
    let shifted_sum_minus_one = normalised.wrapping_sub(1u32 << 31) as i32;
    (one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit)
}
