//! The architecture-independent half of the NEON binary convolution drivers
//! (`arm32::binary`, `arm64::binary`): limits of the fast path, slice checks, the walk over the
//! output pixels, the grouping of their GEMM rows, and the scalar parts of the epilogue. See
//! the module docs of `arm32::binary` for the pipeline, the padding rows and the epilogue
//! arithmetic these helpers serve.

// `x % n == 0` rather than `is_multiple_of` (Rust 1.87; the workspace declares 1.80).
#![allow(clippy::manual_is_multiple_of)]

use crate::reference::binary::{self as rb, words, BConvEpilogue, PadValue};
use crate::reference::Window2d;

// ---------------------------------------------------------------------------------------------
// Limits shared by both pipelines.

/// Output channels per epilogue block (one output word of bits).
pub(crate) const OC_BLOCK: usize = 32;
/// Maximum 128-bit chunks per row.
pub(crate) const KQ_MAX: usize = 128;
/// Maximum `K` (terms per output), so that `s = S[a] + S[b] <= 2K` fits in u16 below 0xFFFF.
pub(crate) const K_MAX: usize = 32767;

/// `RowDesc::colmask` flag: the whole tap row is one contiguous run of words.
pub(crate) const RUN: u32 = 1 << 31;

/// 16-byte aligned storage (NEON loads/stores; on ARMv7 the `:128` alignment hints).
#[repr(C, align(16))]
pub(crate) struct Align16<T>(pub(crate) T);

/// `(1 << n) - 1` for `n <= 32`.
pub(crate) fn low_bits(n: usize) -> u32 {
    ((1u64 << n) - 1) as u32
}

// ---------------------------------------------------------------------------------------------
// Entry checks.

/// What the conv writes.
pub(crate) enum Output<'o, 'e> {
    Bits(&'o [i32], &'o mut [u32]),
    F32(&'o BConvEpilogue<'e>, &'o mut [f32]),
    I8(&'o BConvEpilogue<'e>, &'o mut [i8]),
}

/// An architecture's convolution pipeline, run once [`bconv`] has accepted the geometry.
pub(crate) type ConvDriver = fn(&Window2d, PadValue, &[u32], &[u32], Output);

/// The body of the public `bconv2d_{bits,f32,i8}`: checks the slice lengths against the
/// geometry (the engine validates them at load time), then runs `driver` on the geometries the
/// NEON pipeline handles and the reference kernel on the others.
pub(crate) fn bconv(
    g: &Window2d,
    pad: PadValue,
    input: &[u32],
    filter: &[u32],
    out: Output,
    driver: ConvDriver,
) {
    check_conv(g, input, filter);
    match &out {
        Output::Bits(thresholds, output) => {
            assert!(thresholds.len() >= g.out_c, "bconv2d_bits: thresholds too short");
            assert!(
                output.len() >= g.batch * g.out_h * g.out_w * words(g.out_c),
                "bconv2d_bits: output too short"
            );
        }
        Output::F32(e, output) => {
            assert!(
                e.multiplier.len() >= g.out_c && e.bias.len() >= g.out_c,
                "bconv2d_f32: epilogue too short"
            );
            assert!(output.len() >= g.out_len(), "bconv2d_f32: output too short");
        }
        Output::I8(e, output) => {
            assert!(
                e.multiplier.len() >= g.out_c && e.bias.len() >= g.out_c,
                "bconv2d_i8: epilogue too short"
            );
            assert!(output.len() >= g.out_len(), "bconv2d_i8: output too short");
        }
    }
    if conv_fast_path(g) {
        return driver(g, pad, input, filter, out);
    }
    match out {
        Output::Bits(thresholds, output) => rb::bconv2d_bits(g, pad, thresholds, input, filter, output),
        Output::F32(e, output) => rb::bconv2d_f32(g, pad, e, input, filter, output),
        Output::I8(e, output) => rb::bconv2d_i8(g, pad, e, input, filter, output),
    }
}

/// Checks slice lengths against the geometry (the engine validates them at load time).
fn check_conv(g: &Window2d, input: &[u32], filter: &[u32]) {
    let wpp = words(g.in_c);
    assert!(input.len() >= g.batch * g.in_h * g.in_w * wpp, "bconv2d: input too short");
    assert!(filter.len() >= g.out_c * g.k_h * g.k_w * wpp, "bconv2d: filter too short");
}

/// Whether the NEON conv pipeline handles this geometry (else the reference kernel runs).
fn conv_fast_path(g: &Window2d) -> bool {
    let taps = g.k_h * g.k_w;
    let tap_bytes = words(g.in_c) * 4;
    // The byte steps between tap rows / columns travel in u32 argument fields.
    let fits = |v: Option<usize>| v.is_some_and(|v| v <= u32::MAX as usize);
    g.in_c >= 1
        && g.out_c >= 1
        && (1..=32).contains(&g.k_h)
        && (1..=31).contains(&g.k_w)
        && taps.checked_mul(g.in_c).is_some_and(|k| k <= K_MAX)
        && (taps * words(g.in_c)).div_ceil(4) <= KQ_MAX
        && fits(g.dil_h.checked_mul(g.in_w).and_then(|v| v.checked_mul(tap_bytes)))
        && fits(g.dil_w.checked_mul(tap_bytes))
}

/// Checks the slices of `pack_f32` / `pack_i8` (named `kernel` in the panic) and returns the
/// words per pixel.
pub(crate) fn check_pack<T>(
    kernel: &str,
    pixels: usize,
    channels: usize,
    input: &[T],
    output: &[u32],
) -> usize {
    let wpp = words(channels);
    assert!(input.len() >= pixels * channels && output.len() >= pixels * wpp, "{kernel}: slice too short");
    wpp
}

/// Checks the slices of `max_pool_bits` and returns the words per pixel.
pub(crate) fn check_max_pool(g: &Window2d, input: &[u32], output: &[u32]) -> usize {
    assert_eq!(g.in_c, g.out_c, "max_pool_bits: in_c != out_c");
    let wpp = words(g.in_c);
    assert!(input.len() >= g.batch * g.in_h * g.in_w * wpp, "max_pool_bits: input too short");
    assert!(output.len() >= g.batch * g.out_h * g.out_w * wpp, "max_pool_bits: output too short");
    wpp
}

// ---------------------------------------------------------------------------------------------
// Planning of one conv call.

/// The sizes of one conv call's GEMM.
pub(crate) struct ConvPlan {
    /// Words per input pixel (`words(in_c)`, one tap).
    pub(crate) wpp: usize,
    /// Words per GEMM row: `k_h · k_w` taps laid end to end.
    pub(crate) kw_words: usize,
    /// 128-bit chunks per GEMM row (`kw_words` zero-extended).
    pub(crate) kq: usize,
    /// `K = k_h · k_w · in_c`, the terms of every output.
    pub(crate) k_full: usize,
    /// Output pixels over batch × out_h × out_w.
    pub(crate) n_pix: usize,
    /// Words per output pixel of the bits output.
    pub(crate) wpo: usize,
}

impl ConvPlan {
    pub(crate) fn new(g: &Window2d) -> Self {
        let wpp = words(g.in_c);
        let taps = g.k_h * g.k_w;
        let kw_words = taps * wpp;
        ConvPlan {
            wpp,
            kw_words,
            kq: kw_words.div_ceil(4),
            k_full: taps * g.in_c,
            n_pix: g.batch * g.out_h * g.out_w,
            wpo: words(g.out_c),
        }
    }

    /// The channel-padding mask of a GEMM row (`kq · 4` words, written into `mask`), or `None`
    /// when `in_c % 32 == 0` and no word has padding bits.
    pub(crate) fn mask_row<'m>(&self, g: &Window2d, mask: &'m mut [u32]) -> Option<&'m [u32]> {
        if g.in_c % 32 == 0 {
            return None;
        }
        for (k, m) in mask[..self.kw_words].iter_mut().enumerate() {
            *m = rb::word_mask(g.in_c, k % self.wpp);
        }
        Some(&mask[..self.kq * 4])
    }
}

/// The filter rows of one GEMM call (one output-channel block) and how to repack them.
pub(crate) struct FilterBlock<'a> {
    /// `n_oc` rows of `row_words` words each, back to back.
    pub(crate) rows: &'a [u32],
    pub(crate) row_words: usize,
    pub(crate) n_oc: usize,
    /// Full 4-word chunks to repack from each row, then `tail` (0..=3) more words.
    pub(crate) chunks: usize,
    pub(crate) tail: usize,
    pub(crate) mask: Option<&'a [u32]>,
}

impl<'a> FilterBlock<'a> {
    /// The block of output channels `[ob, ob + nb)`.
    pub(crate) fn new(
        plan: &ConvPlan,
        filter: &'a [u32],
        ob: usize,
        nb: usize,
        mask: Option<&'a [u32]>,
    ) -> Self {
        let kw_words = plan.kw_words;
        FilterBlock {
            rows: &filter[ob * kw_words..(ob + nb) * kw_words],
            row_words: kw_words,
            n_oc: nb,
            chunks: kw_words / 4,
            tail: kw_words % 4,
            mask,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The walk over the output pixels.

/// Where one output pixel's taps are: the architecture's `RowDesc` without the fill word.
#[derive(Clone, Copy)]
pub(crate) struct PixelTaps {
    /// Address of input pixel `(b, iy0, ix0)` of the top-left tap, as an integer: it may lie
    /// outside the input; only in-bounds taps are dereferenced.
    pub(crate) base: usize,
    /// Bit `ky` set iff tap row `ky` is inside the input.
    pub(crate) rowmask: u32,
    /// Bit `kx` set iff tap column `kx` is inside the input, plus [`RUN`] iff all `k_w <= 31`
    /// columns are and they are contiguous (dilation 1): the tap row is one run.
    pub(crate) colmask: u32,
    /// Whether some tap is out of bounds (then zero padding needs a twin row).
    pub(crate) oob: bool,
}

/// Walks the output pixels in flat order (batch × out_h × out_w) and yields their taps,
/// without divisions (Cortex-A9 has no integer divide instruction).
pub(crate) struct PixelCursor<'g> {
    g: &'g Window2d,
    input_addr: usize,
    b: usize,
    oy: usize,
    ox: usize,
    /// Tap rows in bounds for (b, oy), and the input row of tap row 0.
    rowmask: u32,
    iy0: isize,
}

impl<'g> PixelCursor<'g> {
    pub(crate) fn new(g: &'g Window2d, input_addr: usize) -> Self {
        let mut c = PixelCursor { g, input_addr, b: 0, oy: 0, ox: 0, rowmask: 0, iy0: 0 };
        c.start_row();
        c
    }

    fn start_row(&mut self) {
        let g = self.g;
        self.iy0 = (self.oy * g.stride_h) as isize - g.pad_top as isize;
        self.rowmask = 0;
        for ky in 0..g.k_h {
            let y = self.iy0 + (ky * g.dil_h) as isize;
            if y >= 0 && (y as usize) < g.in_h {
                self.rowmask |= 1 << ky;
            }
        }
    }

    /// The current pixel's taps.
    pub(crate) fn taps(&self) -> PixelTaps {
        let g = self.g;
        let ix0 = (self.ox * g.stride_w) as isize - g.pad_left as isize;
        let mut colmask = if g.dil_w == 1 {
            // Columns kx with 0 <= ix0 + kx < in_w: [lo, hi).
            let lo = (-ix0).clamp(0, g.k_w as isize) as usize;
            let hi = (g.in_w as isize - ix0).clamp(0, g.k_w as isize) as usize;
            low_bits(hi) & !low_bits(lo)
        } else {
            let mut m = 0u32;
            for kx in 0..g.k_w {
                let x = ix0 + (kx * g.dil_w) as isize;
                if x >= 0 && (x as usize) < g.in_w {
                    m |= 1 << kx;
                }
            }
            m
        };
        let pixel = ((self.b * g.in_h) as isize + self.iy0) * g.in_w as isize + ix0;
        let base = self.input_addr.wrapping_add((pixel * (words(g.in_c) * 4) as isize) as usize);
        let full_cols = colmask == low_bits(g.k_w);
        let oob = self.rowmask != low_bits(g.k_h) || !full_cols;
        if full_cols && g.dil_w == 1 {
            colmask |= RUN;
        }
        PixelTaps { base, rowmask: self.rowmask, colmask, oob }
    }

    fn advance(&mut self) {
        self.ox += 1;
        if self.ox == self.g.out_w {
            self.ox = 0;
            self.oy += 1;
            if self.oy == self.g.out_h {
                self.oy = 0;
                self.b += 1;
            }
            self.start_row();
        }
    }

    /// Gathers the GEMM rows of the next group: up to `remaining` pixels whose rows fit in
    /// `rows_cap` (one row, plus the all-ones-filled twin when zero padding meets an
    /// out-of-bounds tap). Writes the rows to `descs` (built by `desc(taps, fill)`) and each
    /// pixel's row pair `rowA | rowB << 16` to `pix_rows`; returns `(rows, pixels)`.
    pub(crate) fn gather<D>(
        &mut self,
        pad: PadValue,
        remaining: usize,
        rows_cap: usize,
        descs: &mut [D],
        pix_rows: &mut [u32],
        desc: impl Fn(&PixelTaps, u32) -> D,
    ) -> (usize, usize) {
        let (mut n_rows, mut n_pix) = (0usize, 0usize);
        while n_pix < remaining {
            let t = self.taps();
            let twin = t.oob && pad == PadValue::Zero;
            let need = 1 + twin as usize;
            if n_rows + need > rows_cap {
                break;
            }
            descs[n_rows] = desc(&t, 0);
            if twin {
                descs[n_rows + 1] = desc(&t, u32::MAX);
            }
            pix_rows[n_pix] = (n_rows | (n_rows + need - 1) << 16) as u32;
            n_rows += need;
            n_pix += 1;
            self.advance();
        }
        (n_rows, n_pix)
    }
}

// ---------------------------------------------------------------------------------------------
// Epilogue helpers.

/// The clamp of the float/int8 epilogue as `x = max(min(s, hi), lo)` on `0 <= s <= 2K`, or
/// `None` if `x` is a constant outside `[0, 0xFFFF]` (then the scalar epilogue runs).
pub(crate) fn epilogue_bounds(k_full: usize, clamp_min: i32, clamp_max: i32) -> Option<(u16, u16)> {
    let k = k_full as i64;
    let upper = k - i64::from(clamp_min); // x = max(min(s, K − lo), K − hi)
    let lower = k - i64::from(clamp_max);
    let constant = if lower >= upper {
        Some(lower)
    } else if upper <= 0 {
        Some(upper)
    } else if lower >= 2 * k {
        Some(lower)
    } else {
        None
    };
    match constant {
        Some(c) => u16::try_from(c).ok().map(|c| (c, c)),
        None => Some((lower.max(0) as u16, upper.min(2 * k) as u16)),
    }
}

/// The multipliers and biases of block `[ob, ob + nb)`, readable for `ceil8(nb)` entries:
/// straight from the epilogue when it is long enough, else zero-padded copies.
pub(crate) fn block_params<'a>(
    e: &'a BConvEpilogue,
    ob: usize,
    nb: usize,
    pad_m: &'a mut [f32; OC_BLOCK],
    pad_b: &'a mut [f32; OC_BLOCK],
) -> (&'a [f32], &'a [f32]) {
    let end = ob + nb.div_ceil(8) * 8;
    if e.multiplier.len() >= end && e.bias.len() >= end {
        return (&e.multiplier[ob..end], &e.bias[ob..end]);
    }
    pad_m.fill(0.0);
    pad_b.fill(0.0);
    pad_m[..nb].copy_from_slice(&e.multiplier[ob..ob + nb]);
    pad_b[..nb].copy_from_slice(&e.bias[ob..ob + nb]);
    (&pad_m[..], &pad_b[..])
}

/// Scalar epilogue on the counts `s` (rows of `OC_BLOCK`), for where the NEON epilogue cannot
/// run: a clamp whose constant value does not fit u16 or, on ARMv7, float arithmetic that would
/// not be exact. Calls `f(pixel, channel, acc)` for the `nb` channels of every pixel.
pub(crate) fn scalar_epilogue(
    s: &[u16],
    rows: &[u32],
    k_full: usize,
    nb: usize,
    mut f: impl FnMut(usize, usize, i32),
) {
    for (p, &r) in rows.iter().enumerate() {
        let (a, b) = ((r & 0xFFFF) as usize, (r >> 16) as usize);
        for i in 0..nb {
            let sum = i32::from(s[a * OC_BLOCK + i]) + i32::from(s[b * OC_BLOCK + i]);
            f(p, i, k_full as i32 - sum);
        }
    }
}

/// The partial last word of a pixel's bits from `pack_f32` (bit = `x < 0.0`).
pub(crate) fn pack_tail_f32(src: &[f32]) -> u32 {
    let mut w = 0u32;
    for (bit, &x) in src.iter().enumerate() {
        w |= u32::from(x < 0.0) << bit;
    }
    w
}

/// The partial last word of a pixel's bits from `pack_i8` (bit = `q < zero_point`).
pub(crate) fn pack_tail_i8(src: &[i8], zero_point: i32) -> u32 {
    let mut w = 0u32;
    for (bit, &q) in src.iter().enumerate() {
        w |= u32::from(i32::from(q) < zero_point) << bit;
    }
    w
}

pub(crate) fn as_bytes_mut_u32(v: &mut [u32]) -> &mut [u8] {
    // SAFETY: u8 has no alignment or validity requirements; same memory, 4× the length.
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len() * 4) }
}

pub(crate) fn as_bytes_mut_f32(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern written by the asm is a valid f32.
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len() * 4) }
}

pub(crate) fn as_bytes_mut_i8(v: &mut [i8]) -> &mut [u8] {
    // SAFETY: i8 and u8 have the same layout and no invalid values.
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len()) }
}
