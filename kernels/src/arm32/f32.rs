//! ARMv7-A NEON f32 kernels (stable `asm!`), tuned for the Cortex-A9.
//!
//! [`conv2d_f32`] and [`fully_connected_f32`] have the signatures of their twins in
//! [`crate::reference::f32`] and agree with them within the tolerance documented at the top of
//! `kernels/tests/reference_f32.rs` (`|y − y64| ≤ (1e-5 + n·2^-24)·(S + 1)`): they only sum in
//! another order.
//!
//! # Kernels
//!
//! `neon32_conv_f32_3x2`: 3 output pixels × 2 output channels, K in steps of 8 floats. Both
//! operands are read along K (the filter is OHWI, so each output channel's weights are
//! contiguous: a dot-product GEMM, no packing of the weights): per step 5 loads of 32 bytes
//! (3 pixels, 2 channels) and 12 `VMLA.F32` on Q registers (48 MACs), into 6 accumulators of 4
//! partial sums each, reduced with `VPADD.F32` at the end: 5.67 instructions per 16 MACs
//! (6.0 with the loop branch, unrolled ×2). `VMLA.F32` is the non-fused multiply-accumulate (product rounded, then
//! added); the tolerance admits fused and unfused orders alike.
//!
//! `neon32_gemv_f32_1x4`: 1 row × 4 output channels, 8-float steps (5 loads + 8 `VMLA.F32` per
//! 32 MACs), for fully-connected layers with 1 or 2 batch rows.
//!
//! Measured under `qemu-arm -cpu cortex-a9` (whole layer call): 3×3 conv 56×56×64→64 SAME 2.43
//! MACs per instruction, 14×14×256→256 2.56, 9×9×3→32 (packed) 1.59, FC 1024→1000 2.07; the
//! reference conv runs 0.071.
//!
//! The input is read in place through a table of per-tap pointers (one segment per filter tap,
//! or per row of taps when the row is contiguous and in bounds), exactly like the int8 kernel;
//! a segment that is not a multiple of 8 floats starts with one masked chunk. Inputs with
//! fewer than 8 channels pack each pixel's K vector on the stack instead.
//!
//! # Numerics
//!
//! * ARMv7 NEON always flushes subnormal inputs and results to zero (and returns the default
//!   NaN); the tolerance's absolute part covers the flushed values.
//! * Padding taps read a zero vector instead of being skipped: `0 · w = 0` for every finite
//!   weight. With an infinite or NaN weight next to padding the reference skips the tap while
//!   this kernel produces NaN — outside the kernels' contract (weights are finite).
//! * The fused clamp is the reference's exactly: `x < lo → lo`, else `min(x, hi)`; NaN
//!   propagates.
//!
//! # Memory
//!
//! No heap; everything on the stack, at most about 3.9 KiB on the deepest path (packed rows
//! for small `in_c`: 2.9 KiB, plus the per-block bias, the saved registers and the public
//! function's frame; measured from the optimized build). The zero vector for padding taps is
//! ≤ 2 KiB, the pointer table ≤ 1 KiB (9×9 windows).

#![allow(clippy::too_many_arguments)]

use core::arch::asm;
use core::mem::offset_of;

use super::{span, Cursor};
use crate::reference::f32 as reference;
use crate::reference::Window2d;

/// Saves / restores all 32 D registers around an asm kernel. The compiler may keep values in
/// any FP register across an `asm!` block, and `clobber_abi("C")` cannot be used because it
/// names FP registers that soft-float targets (`armv7a-none-eabi`) do not have; so each kernel
/// preserves every NEON register itself and declares only GPR clobbers.
macro_rules! save_neon {
    () => {
        "vpush {{d0-d15}}\nvpush {{d16-d31}}\n"
    };
}
macro_rules! restore_neon {
    () => {
        "vpop {{d16-d31}}\nvpop {{d0-d15}}\n"
    };
}

/// Output pixels per tile.
const P: usize = 3;
/// Output channels per block (the block's bias lives on the stack).
const OB: usize = 32;
/// Maximum segments per tile in the indirect path: 9×9 windows (the table is `3 · SEG_MAX`
/// pointers, about 1 KiB).
const SEG_MAX: usize = 81;
/// Floats of the zero vector that padding taps read.
const PAD_MAX: usize = 512;
/// Floats of packed rows per tile in the packed path (small `in_c`): 3 rows of K ≤ 243 (the
/// 9×9×3 first layer of the fast style-transfer networks).
const PACK_MAX: usize = 729;

#[repr(C)]
struct ConvTile {
    /// `3 · nseg` pointers, segment-major.
    xtab: *const *const f32,
    nseg: u32,
    /// Bytes of the head chunk (`4 · (seg_len % 8)`; 0: none).
    head: u32,
    /// `seg_len / 8` (≥ 1).
    n8: u32,
    w: *const f32,
    /// Bytes from one output channel's weights to the next.
    w_stride: u32,
    /// `2·w_stride − 4·nseg·seg_len` (wrapping).
    w_next: u32,
    /// Output channels in this call (≥ 1).
    n_oc: u32,
    /// One bias per channel (`n_oc` entries, plus a copy of the last one when `n_oc` is odd).
    bias: *const f32,
    /// Output of pixel `p` at the call's first channel; advanced by the kernel.
    out: [*mut f32; 3],
    /// `lo` × 4, `hi` × 4.
    act: [f32; 8],
    /// Head mask: all-ones in the first `seg_len % 8` lanes.
    mask: [u32; 8],
}
const CT_XTAB: usize = offset_of!(ConvTile, xtab);
const CT_NSEG: usize = offset_of!(ConvTile, nseg);
const CT_HEAD: usize = offset_of!(ConvTile, head);
const CT_N8: usize = offset_of!(ConvTile, n8);
const CT_W: usize = offset_of!(ConvTile, w);
const CT_WSTRIDE: usize = offset_of!(ConvTile, w_stride);
const CT_WNEXT: usize = offset_of!(ConvTile, w_next);
const CT_NOC: usize = offset_of!(ConvTile, n_oc);
const CT_BIAS: usize = offset_of!(ConvTile, bias);
const CT_OUT: usize = offset_of!(ConvTile, out);
const CT_ACT: usize = offset_of!(ConvTile, act);
const CT_MASK: usize = offset_of!(ConvTile, mask);
const _: () = assert!(CT_XTAB == 0 && CT_NSEG == 4 && CT_HEAD == 8 && CT_N8 == 12 && CT_W == 16);
const _: () = assert!(CT_WSTRIDE == 20 && CT_WNEXT == 24 && CT_NOC == 28 && CT_BIAS == 32);
const _: () = assert!(CT_OUT == 36 && CT_ACT == 48 && CT_MASK == 80);

/// One step of 8 floats: x of pixels 0-2 from r1-r3 (q0:q1, q2:q3, q4:q5), w of channels a, b
/// from r5, r6 (q6:q7, q8:q9), accumulators q10-q15 = `p0a p0b p1a p1b p2a p2b`.
macro_rules! step_3x2 {
    () => {
        concat!(
            "vld1.32 {{d0-d3}}, [r1]!\n",
            "vld1.32 {{d12-d15}}, [r5]!\n",
            "vld1.32 {{d16-d19}}, [r6]!\n",
            "vld1.32 {{d4-d7}}, [r2]!\n",
            "vld1.32 {{d8-d11}}, [r3]!\n",
            "vmla.f32 q10, q0, q6\n",
            "vmla.f32 q11, q0, q8\n",
            "vmla.f32 q12, q2, q6\n",
            "vmla.f32 q13, q2, q8\n",
            "vmla.f32 q14, q4, q6\n",
            "vmla.f32 q15, q4, q8\n",
            "vmla.f32 q10, q1, q7\n",
            "vmla.f32 q11, q1, q9\n",
            "vmla.f32 q12, q3, q7\n",
            "vmla.f32 q13, q3, q9\n",
            "vmla.f32 q14, q5, q7\n",
            "vmla.f32 q15, q5, q9\n",
        )
    };
}

/// Head chunk for pixel `$x` into accumulators `$a`, `$b`: x masked like the weights (so an
/// infinite input in a masked lane cannot turn into NaN).
macro_rules! head_px {
    ($x:literal, $a:literal, $b:literal) => {
        concat!(
            "vld1.32 {{d4-d7}}, [",
            $x,
            "], r12\n",
            "vand q2, q2, q0\n",
            "vand q3, q3, q1\n",
            "vmla.f32 ",
            $a,
            ", q2, q6\n",
            "vmla.f32 ",
            $b,
            ", q2, q8\n",
            "vmla.f32 ",
            $a,
            ", q3, q7\n",
            "vmla.f32 ",
            $b,
            ", q3, q9\n",
        )
    };
}

/// Runs one tile call.
///
/// # Safety
/// * `t.xtab` points to `3 · nseg` pointers, each valid for reads of the segment length
///   (`8·n8 + head/4` floats, ≥ 8);
/// * `t.w + j · w_stride` (bytes) is valid for reads of `nseg · seg_len` floats for `j < n_oc`;
/// * `t.bias` points to `n_oc + n_oc % 2` floats;
/// * each `t.out[p]` is valid for writes of `n_oc` floats, and no two overlap unless equal
///   (idle pixel slots share pixel 0's outputs and write the same values);
/// * `nseg, n8, n_oc ≥ 1`, `head < 32`.
unsafe fn neon32_conv_f32_3x2(t: &mut ConvTile) {
    // SAFETY: guaranteed by the caller. The asm saves r4-r11 and all D registers itself.
    unsafe {
        asm!(
            fpu_neon!(),
            "push {{r4-r11}}",
            save_neon!(),
            "ldr r5, [r0, #{w}]",
            "ldr r10, [r0, #{bias}]",
            "ldr r11, [r0, #{noc}]",
            "ldr r12, [r0, #{head}]",
            // ---- tile of 2 output channels
            "20:",
            "vmov.i32 q10, #0",
            "vmov.i32 q11, #0",
            "vmov.i32 q12, #0",
            "vmov.i32 q13, #0",
            "vmov.i32 q14, #0",
            "vmov.i32 q15, #0",
            "ldr lr, [r0, #{wstride}]",
            "add r6, r5, lr",
            "cmp r11, #1",
            "bne 21f",
            "mov r6, r5",
            "21:",
            "ldr r8, [r0, #{xtab}]",
            "ldr r9, [r0, #{nseg}]",
            // ---- segment
            "22:",
            "ldm r8!, {{r1-r3}}",
            "cmp r12, #0",
            "beq 23f",
            "add lr, r0, #{mask}",
            "vld1.32 {{d0-d3}}, [lr]",
            "vld1.32 {{d12-d15}}, [r5], r12",
            "vld1.32 {{d16-d19}}, [r6], r12",
            "vand q6, q6, q0",
            "vand q7, q7, q1",
            "vand q8, q8, q0",
            "vand q9, q9, q1",
            head_px!("r1", "q10", "q11"),
            head_px!("r2", "q12", "q13"),
            head_px!("r3", "q14", "q15"),
            "23:",
            "ldr r7, [r0, #{n8}]",
            "tst r7, #1",
            "beq 24f",
            step_3x2!(),
            "subs r7, r7, #1",
            "beq 25f",
            "24:",
            step_3x2!(),
            step_3x2!(),
            "subs r7, r7, #2",
            "bne 24b",
            "25:",
            "subs r9, r9, #1",
            "bne 22b",
            // ---- epilogue: q0 = [p0a p1a p2a p2a], q1 = [p0b p1b p2b p2b]
            "vpadd.f32 d0, d20, d21",
            "vpadd.f32 d1, d24, d25",
            "vpadd.f32 d2, d28, d29",
            "vpadd.f32 d3, d22, d23",
            "vpadd.f32 d4, d26, d27",
            "vpadd.f32 d5, d30, d31",
            "vpadd.f32 d0, d0, d1",
            "vpadd.f32 d1, d2, d2",
            "vpadd.f32 d2, d3, d4",
            "vpadd.f32 d3, d5, d5",
            "vld1.32 {{d4[], d5[]}}, [r10]!",
            "vld1.32 {{d6[], d7[]}}, [r10]!",
            "vadd.f32 q0, q0, q2",
            "vadd.f32 q1, q1, q3",
            // clamp exactly like the reference: x < lo ? lo : min(x, hi) (NaN propagates)
            "add lr, r0, #{act}",
            "vld1.32 {{d8-d11}}, [lr]",
            "vcgt.f32 q6, q4, q0",
            "vmin.f32 q0, q0, q5",
            "vbsl q6, q4, q0",
            "vcgt.f32 q7, q4, q1",
            "vmin.f32 q1, q1, q5",
            "vbsl q7, q4, q1",
            // q6 = [a0 b0 a1 b1], q7 = [a2 b2 a3 b3]
            "vzip.32 q6, q7",
            "add lr, r0, #{out}",
            "ldm lr, {{r1-r3}}",
            "cmp r11, #1",
            "beq 28f",
            "vst1.32 {{d12}}, [r1]!",
            "vst1.32 {{d13}}, [r2]!",
            "vst1.32 {{d14}}, [r3]!",
            "stm lr, {{r1-r3}}",
            "ldr lr, [r0, #{wnext}]",
            "add r5, r5, lr",
            "subs r11, r11, #2",
            "bne 20b",
            "b 29f",
            "28:",
            "vst1.32 {{d12[0]}}, [r1]",
            "vst1.32 {{d13[0]}}, [r2]",
            "vst1.32 {{d14[0]}}, [r3]",
            "29:",
            restore_neon!(),
            "pop {{r4-r11}}",
            xtab = const CT_XTAB,
            nseg = const CT_NSEG,
            head = const CT_HEAD,
            n8 = const CT_N8,
            w = const CT_W,
            wstride = const CT_WSTRIDE,
            wnext = const CT_WNEXT,
            noc = const CT_NOC,
            bias = const CT_BIAS,
            out = const CT_OUT,
            act = const CT_ACT,
            mask = const CT_MASK,
            inout("r0") t as *mut ConvTile => _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r12") _,
            out("lr") _,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------------------------

/// Fills the indirection table of one tile (see the int8 module for the contract).
trait TileSource {
    fn reset(&mut self);
    /// Fills the source's table for the next 3 pixels (`nvalid` real, the rest repeat pixel 0)
    /// and returns `(table, segments, segment length in floats)`: entry `3·s + p` is where
    /// pixel `p` reads segment `s`, valid for reads of the segment length while `self` lives
    /// and is not filled again.
    fn fill(&mut self, nvalid: usize) -> (*const *const f32, usize, usize);
}

struct Indirect<'a> {
    g: &'a Window2d,
    input: &'a [f32],
    /// Zeros (`≥ in_c`, `≥ k_w·in_c` if `pad_rows`).
    pad: &'a [f32],
    merge: bool,
    pad_rows: bool,
    cur: Cursor,
    xtab: [*const f32; SEG_MAX * P],
}

impl Indirect<'_> {
    /// Whether the pixels with these origins can read whole rows of taps.
    fn mergeable(&self, org: &[(isize, isize, usize)]) -> bool {
        let g = self.g;
        let x_last = (g.k_w as isize - 1) * g.dil_w as isize;
        let y_last = (g.k_h as isize - 1) * g.dil_h as isize;
        self.merge
            && org.iter().all(|&(y, x, _)| {
                x >= 0
                    && x + x_last < g.in_w as isize
                    && (self.pad_rows || (y >= 0 && y + y_last < g.in_h as isize))
            })
    }
}

impl TileSource for Indirect<'_> {
    fn reset(&mut self) {
        self.cur = Cursor::default();
    }

    fn fill(&mut self, nvalid: usize) -> (*const *const f32, usize, usize) {
        let g = self.g;
        let mut org = [(0isize, 0isize, 0usize); P];
        for o in org.iter_mut().take(nvalid) {
            *o = self.cur.origin(g);
            self.cur.advance(g);
        }
        let merged = self.mergeable(&org[..nvalid]);
        let (in_h, in_w) = (g.in_h as isize, g.in_w as isize);
        let (dy, dx) = (g.dil_h as isize, g.dil_w as isize);
        let (nseg, len, kw) =
            if merged { (g.k_h, g.k_w * g.in_c, 1) } else { (g.k_h * g.k_w, g.in_c, g.k_w) };
        let mut s = 0;
        for ky in 0..g.k_h as isize {
            for kx in 0..kw as isize {
                for (p, &(y0, x0, img)) in org.iter().enumerate().take(nvalid) {
                    let (iy, ix) = (y0 + ky * dy, x0 + kx * dx);
                    self.xtab[s * P + p] = if iy >= 0 && iy < in_h && ix >= 0 && ix < in_w {
                        span(self.input, ((img + iy as usize) * g.in_w + ix as usize) * g.in_c, len)
                    } else {
                        span(self.pad, 0, len)
                    };
                }
                for p in nvalid..P {
                    self.xtab[s * P + p] = self.xtab[s * P];
                }
                s += 1;
            }
        }
        (self.xtab.as_ptr(), nseg, len)
    }
}

/// Packs each pixel's whole K vector (zeros for padding taps) into `N` floats of stack: rows of
/// `max(K, 8)` floats (K < 8 zero-extended; the driver then pads the weights too).
struct Packed<'a, const N: usize> {
    g: &'a Window2d,
    input: &'a [f32],
    len: usize,
    buf: [f32; N],
    cur: Cursor,
    xtab: [*const f32; P],
}

impl<const N: usize> TileSource for Packed<'_, N> {
    fn reset(&mut self) {
        self.cur = Cursor::default();
    }

    fn fill(&mut self, nvalid: usize) -> (*const *const f32, usize, usize) {
        let g = self.g;
        let c = g.in_c;
        let k = g.k_h * g.k_w * c;
        for p in 0..nvalid {
            let (y0, x0, img) = self.cur.origin(g);
            self.cur.advance(g);
            let row = &mut self.buf[p * self.len..(p + 1) * self.len];
            let rowlen = g.k_w * c;
            for ky in 0..g.k_h {
                let dst = &mut row[ky * rowlen..(ky + 1) * rowlen];
                let iy = y0 + (ky * g.dil_h) as isize;
                if iy < 0 || iy >= g.in_h as isize {
                    dst.fill(0.0);
                    continue;
                }
                let line = ((img + iy as usize) * g.in_w) as isize;
                if g.dil_w == 1 {
                    // The in-bounds taps of the row are one contiguous run of the input.
                    let lo = (-x0).clamp(0, g.k_w as isize) as usize;
                    let hi = (g.in_w as isize - x0).clamp(lo as isize, g.k_w as isize) as usize;
                    dst[..lo * c].fill(0.0);
                    if hi > lo {
                        let o = (line + x0 + lo as isize) as usize * c;
                        dst[lo * c..hi * c].copy_from_slice(&self.input[o..o + (hi - lo) * c]);
                    }
                    dst[hi * c..].fill(0.0);
                } else {
                    for kx in 0..g.k_w {
                        let ix = x0 + (kx * g.dil_w) as isize;
                        let tap = &mut dst[kx * c..(kx + 1) * c];
                        if ix >= 0 && ix < g.in_w as isize {
                            let o = (line + ix) as usize * c;
                            tap.copy_from_slice(&self.input[o..o + c]);
                        } else {
                            tap.fill(0.0);
                        }
                    }
                }
            }
            row[k..].fill(0.0);
        }
        for p in 0..P {
            let q = if p < nvalid { p } else { 0 };
            self.xtab[p] = span(&self.buf, q * self.len, self.len);
        }
        (self.xtab.as_ptr(), 1, self.len)
    }
}

/// Weights of the current block as the kernel reads them.
enum WeightRows<'a> {
    /// Rows of `K ≥ 8` floats read in place.
    InPlace,
    /// `K < 8`: each block's rows copied, zero-extended to 8 floats.
    Padded(&'a mut [f32; OB * 8]),
}

/// Mask with all-ones in the first `r` of 8 lanes.
fn head_mask(r: usize) -> [u32; 8] {
    let mut m = [0u32; 8];
    m[..r].fill(u32::MAX);
    m
}

fn conv_driver<S: TileSource>(
    g: &Window2d,
    act_min: f32,
    act_max: f32,
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
    src: &mut S,
    mut wrows: WeightRows,
) {
    let k = g.k_h * g.k_w * g.in_c;
    let npix = g.batch * g.out_h * g.out_w;
    let out_c = g.out_c;
    let out_len = output.len();
    let out_base = output.as_mut_ptr();

    let mut bblk = [0f32; OB + 1];
    let mut t = ConvTile {
        xtab: core::ptr::null(),
        nseg: 0,
        head: 0,
        n8: 0,
        w: core::ptr::null(),
        w_stride: 0,
        w_next: 0,
        n_oc: 0,
        bias: bblk.as_ptr(),
        out: [core::ptr::null_mut(); 3],
        act: [act_min, act_min, act_min, act_min, act_max, act_max, act_max, act_max],
        mask: [0; 8],
    };
    let mut oc0 = 0;
    while oc0 < out_c {
        let nb = OB.min(out_c - oc0);
        let rows = &filter[oc0 * k..(oc0 + nb) * k];
        let (wptr, wstride) = match &mut wrows {
            WeightRows::InPlace => (rows.as_ptr(), k),
            WeightRows::Padded(buf) => {
                for (j, row) in rows.chunks_exact(k).enumerate() {
                    buf[j * 8..j * 8 + k].copy_from_slice(row);
                    buf[j * 8 + k..(j + 1) * 8].fill(0.0);
                }
                (buf.as_ptr(), 8)
            }
        };
        for (j, b) in bblk.iter_mut().enumerate().take(nb) {
            *b = if bias.is_empty() { 0.0 } else { bias[oc0 + j] };
        }
        bblk[nb] = bblk[nb - 1];
        t.w = wptr;
        t.w_stride = (4 * wstride) as u32;
        t.n_oc = nb as u32;

        src.reset();
        let mut last_len = 0;
        let mut n0 = 0;
        while n0 < npix {
            let nvalid = P.min(npix - n0);
            let (xtab, nseg, len) = src.fill(nvalid);
            assert!((1..=SEG_MAX).contains(&nseg) && len >= 8 && nseg * len == wstride.max(k));
            if len != last_len {
                last_len = len;
                t.nseg = nseg as u32;
                t.head = (4 * (len % 8)) as u32;
                t.n8 = (len / 8) as u32;
                t.w_next = (8 * wstride).wrapping_sub(4 * nseg * len) as u32;
                t.mask = head_mask(len % 8);
            }
            let o = n0 * out_c + oc0;
            assert!(o + (nvalid - 1) * out_c + nb <= out_len);
            // Idle pixel slots recompute pixel 0 (same pointers, same sums) and write the same
            // values to pixel 0's outputs.
            for p in 0..P {
                t.out[p] = out_base.wrapping_add(if p < nvalid { o + p * out_c } else { o });
            }
            t.xtab = xtab;
            // SAFETY: `xtab` holds 3·nseg pointers from `src.fill`, each valid for `len`
            // floats (TileSource contract; `src` untouched until the call returns); weight row
            // j < nb is `rows[j·k ..][..k]` or the padded buffer's `[j·8 ..][..8]` and
            // `nseg·len` equals that row length (asserted); `bblk` has nb + 1 entries; each
            // `out[p]` is `output[(n0+p)·out_c + oc0 ..][..nb]` (asserted in bounds), distinct
            // for real pixels, pixel 0's (same values) for idle slots; nseg, n8 = len/8,
            // nb ≥ 1, head < 32.
            unsafe { neon32_conv_f32_3x2(&mut t) };
            n0 += P;
        }
        oc0 += nb;
    }
}

/// `true` when some tap of the geometry falls into the padding.
fn has_padding(g: &Window2d) -> bool {
    g.in_y(0, 0).is_none()
        || g.in_y(g.out_h - 1, g.k_h - 1).is_none()
        || g.in_x(0, 0).is_none()
        || g.in_x(g.out_w - 1, g.k_w - 1).is_none()
}

#[inline(never)]
fn conv_indirect(
    g: &Window2d,
    lo: f32,
    hi: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let pad = [0f32; PAD_MAX];
    let pad_rows = g.k_w * g.in_c <= PAD_MAX;
    let pad_len = if pad_rows { g.k_w * g.in_c } else { g.in_c.min(PAD_MAX) };
    let mut src = Indirect {
        g,
        input,
        pad: &pad[..pad_len],
        merge: g.dil_w == 1 && g.k_w > 1,
        pad_rows,
        cur: Cursor::default(),
        xtab: [core::ptr::null(); SEG_MAX * P],
    };
    conv_driver(g, lo, hi, filter, bias, output, &mut src, WeightRows::InPlace);
}

#[inline(never)]
fn conv_packed(
    g: &Window2d,
    lo: f32,
    hi: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let k = g.k_h * g.k_w * g.in_c;
    let mut src = Packed::<PACK_MAX> {
        g,
        input,
        len: k,
        buf: [0.0; PACK_MAX],
        cur: Cursor::default(),
        xtab: [core::ptr::null(); P],
    };
    conv_driver(g, lo, hi, filter, bias, output, &mut src, WeightRows::InPlace);
}

#[inline(never)]
fn conv_small(
    g: &Window2d,
    lo: f32,
    hi: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let mut src = Packed::<{ P * 8 }> {
        g,
        input,
        len: 8,
        buf: [0.0; P * 8],
        cur: Cursor::default(),
        xtab: [core::ptr::null(); P],
    };
    let mut wbuf = [0f32; OB * 8];
    conv_driver(g, lo, hi, filter, bias, output, &mut src, WeightRows::Padded(&mut wbuf));
}

/// Runs `g` on a NEON path; `false` if the reference must run instead.
fn conv_fast(
    g: &Window2d,
    lo: f32,
    hi: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) -> bool {
    let k = g.k_h * g.k_w * g.in_c;
    if k == 0 || g.batch * g.out_h * g.out_w == 0 || g.out_c == 0 {
        return false;
    }
    let pad_ok = g.in_c <= PAD_MAX || !has_padding(g);
    if g.in_c >= 8 && g.k_h * g.k_w <= SEG_MAX && pad_ok {
        conv_indirect(g, lo, hi, input, filter, bias, output);
    } else if k < 8 {
        conv_small(g, lo, hi, input, filter, bias, output);
    } else if P * k <= PACK_MAX {
        conv_packed(g, lo, hi, input, filter, bias, output);
    } else {
        return false;
    }
    true
}

/// 2-D convolution, within the documented tolerance of [`reference::conv2d_f32`], on
/// `neon32_conv_f32_3x2`.
///
/// Runs the NEON kernel for any geometry when `in_c ≥ 8` and `k_h·k_w ≤ 81` (`in_c ≤ 512` if
/// any tap is padding), or when `K = k_h·k_w·in_c` satisfies `K < 8` or `K ≤ 243` (packed);
/// otherwise the reference.
pub fn conv2d_f32(
    g: &Window2d,
    act_min: f32,
    act_max: f32,
    input: &[f32],
    filter: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    assert_eq!(input.len(), g.in_len());
    assert_eq!(filter.len(), g.out_c * g.k_h * g.k_w * g.in_c);
    assert!(bias.is_empty() || bias.len() == g.out_c);
    assert_eq!(output.len(), g.out_len());
    if !conv_fast(g, act_min, act_max, input, filter, bias, output) {
        reference::conv2d_f32(g, act_min, act_max, input, filter, bias, output);
    }
}

// ---------------------------------------------------------------------------------------------
// neon32_gemv_f32_1x4: one input row × 4 output channels
// ---------------------------------------------------------------------------------------------

/// Rows up to which FULLY_CONNECTED runs the GEMV kernel row by row (from 3 rows on the 3×2
/// tile is fully used and faster).
const GEMV_MAX_BATCH: usize = 2;

#[repr(C)]
struct Gemv {
    x: *const f32,
    w: *const f32,
    /// Row length in bytes (= weight row stride).
    k: u32,
    /// `4 · (k % 8)` bytes of head chunk (0: none).
    head: u32,
    /// `k / 8` steps (≥ 1).
    n8: u32,
    /// Output channels (≥ 1), in tiles of 4.
    n_oc: u32,
    /// `n_oc + 3` biases (the last three repeat channel `n_oc − 1`).
    bias: *const f32,
    out: *mut f32,
    /// `lo` × 4, `hi` × 4.
    act: [f32; 8],
    mask: [u32; 8],
}
const GV_X: usize = offset_of!(Gemv, x);
const GV_W: usize = offset_of!(Gemv, w);
const GV_K: usize = offset_of!(Gemv, k);
const GV_HEAD: usize = offset_of!(Gemv, head);
const GV_N8: usize = offset_of!(Gemv, n8);
const GV_NOC: usize = offset_of!(Gemv, n_oc);
const GV_BIAS: usize = offset_of!(Gemv, bias);
const GV_OUT: usize = offset_of!(Gemv, out);
const GV_ACT: usize = offset_of!(Gemv, act);
const GV_MASK: usize = offset_of!(Gemv, mask);
const _: () = assert!(GV_X == 0 && GV_W == 4 && GV_K == 8 && GV_HEAD == 12 && GV_N8 == 16 && GV_NOC == 20);
const _: () = assert!(GV_BIAS == 24 && GV_OUT == 28 && GV_ACT == 32 && GV_MASK == 64);

/// Runs one GEMV call: x in q0:q1, w of channels a-d in q2:q3 … q8:q9, accumulators q10-q13.
///
/// # Safety
/// `g.x` valid for reads of `k/4 ≥ 8` floats; `g.w + j·k` (bytes) valid for reads of `k/4`
/// floats for `j < n_oc`; `g.bias` has `n_oc + 3` floats; `g.out` valid for writes of `n_oc`
/// floats; `n_oc, n8 ≥ 1`; `head + 32·n8 = k`, `head < 32`.
unsafe fn neon32_gemv_f32_1x4(g: &mut Gemv) {
    // SAFETY: guaranteed by the caller. The asm saves r4-r11 and all D registers itself.
    unsafe {
        asm!(
            fpu_neon!(),
            "push {{r4-r11}}",
            save_neon!(),
            "ldr r10, [r0, #{w}]",
            "ldr r11, [r0, #{k}]",
            "ldr r12, [r0, #{head}]",
            "ldr r7, [r0, #{bias}]",
            "ldr r8, [r0, #{noc}]",
            "ldr r9, [r0, #{out}]",
            // ---- tile of 4 output channels (fewer at the end: rows repeated)
            "70:",
            "vmov.i32 q10, #0",
            "vmov.i32 q11, #0",
            "vmov.i32 q12, #0",
            "vmov.i32 q13, #0",
            "ldr r1, [r0, #{x}]",
            "mov r2, r10",
            "mov r3, r10",
            "mov r4, r10",
            "mov r5, r10",
            "cmp r8, #2",
            "blt 71f",
            "add r3, r2, r11",
            "mov r4, r3",
            "mov r5, r3",
            "beq 71f",
            "add r4, r3, r11",
            "mov r5, r4",
            "cmp r8, #3",
            "beq 71f",
            "add r5, r4, r11",
            "71:",
            "cmp r12, #0",
            "beq 72f",
            // head chunk: 8 floats, x and w masked to the first `head / 4`
            "add lr, r0, #{mask}",
            "vld1.32 {{d28-d31}}, [lr]",
            "vld1.32 {{d0-d3}}, [r1], r12",
            "vld1.32 {{d4-d7}}, [r2], r12",
            "vld1.32 {{d8-d11}}, [r3], r12",
            "vld1.32 {{d12-d15}}, [r4], r12",
            "vld1.32 {{d16-d19}}, [r5], r12",
            "vand q0, q0, q14",
            "vand q1, q1, q15",
            "vand q2, q2, q14",
            "vand q3, q3, q15",
            "vand q4, q4, q14",
            "vand q5, q5, q15",
            "vand q6, q6, q14",
            "vand q7, q7, q15",
            "vand q8, q8, q14",
            "vand q9, q9, q15",
            "vmla.f32 q10, q0, q2",
            "vmla.f32 q11, q0, q4",
            "vmla.f32 q12, q0, q6",
            "vmla.f32 q13, q0, q8",
            "vmla.f32 q10, q1, q3",
            "vmla.f32 q11, q1, q5",
            "vmla.f32 q12, q1, q7",
            "vmla.f32 q13, q1, q9",
            "72:",
            "ldr r6, [r0, #{n8}]",
            "73:",
            "vld1.32 {{d0-d3}}, [r1]!",
            "vld1.32 {{d4-d7}}, [r2]!",
            "vld1.32 {{d8-d11}}, [r3]!",
            "vld1.32 {{d12-d15}}, [r4]!",
            "vld1.32 {{d16-d19}}, [r5]!",
            "vmla.f32 q10, q0, q2",
            "vmla.f32 q11, q0, q4",
            "vmla.f32 q12, q0, q6",
            "vmla.f32 q13, q0, q8",
            "vmla.f32 q10, q1, q3",
            "vmla.f32 q11, q1, q5",
            "vmla.f32 q12, q1, q7",
            "vmla.f32 q13, q1, q9",
            "subs r6, r6, #1",
            "bne 73b",
            // ---- epilogue: q0 = [a b c d] + bias, clamped like the reference
            "vpadd.f32 d0, d20, d21",
            "vpadd.f32 d1, d22, d23",
            "vpadd.f32 d2, d24, d25",
            "vpadd.f32 d3, d26, d27",
            "vpadd.f32 d0, d0, d1",
            "vpadd.f32 d1, d2, d3",
            "vld1.32 {{d2-d3}}, [r7]",
            "add r7, r7, #16",
            "vadd.f32 q0, q0, q1",
            "add lr, r0, #{act}",
            "vld1.32 {{d8-d11}}, [lr]",
            "vcgt.f32 q6, q4, q0",
            "vmin.f32 q0, q0, q5",
            "vbsl q6, q4, q0",
            "cmp r8, #4",
            "blt 74f",
            "vst1.32 {{d12-d13}}, [r9]!",
            "add lr, r11, r11",
            "add r10, r10, lr, lsl #1",
            "subs r8, r8, #4",
            "bgt 70b",
            "b 75f",
            "74:",
            "vst1.32 {{d12[0]}}, [r9]!",
            "cmp r8, #2",
            "blt 75f",
            "vst1.32 {{d12[1]}}, [r9]!",
            "beq 75f",
            "vst1.32 {{d13[0]}}, [r9]!",
            "75:",
            restore_neon!(),
            "pop {{r4-r11}}",
            x = const GV_X,
            w = const GV_W,
            k = const GV_K,
            head = const GV_HEAD,
            n8 = const GV_N8,
            noc = const GV_NOC,
            bias = const GV_BIAS,
            out = const GV_OUT,
            act = const GV_ACT,
            mask = const GV_MASK,
            inout("r0") g as *mut Gemv => _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r12") _,
            out("lr") _,
        );
    }
}

/// FULLY_CONNECTED row by row on `neon32_gemv_f32_1x4`; the caller checked `in_len ≥ 8`.
#[inline(never)]
fn fc_gemv(
    batch: usize,
    in_len: usize,
    out_len: usize,
    lo: f32,
    hi: f32,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    let k = in_len;
    let mut bblk = [0f32; OB + 3];
    let mut gv = Gemv {
        x: core::ptr::null(),
        w: core::ptr::null(),
        k: (4 * k) as u32,
        head: (4 * (k % 8)) as u32,
        n8: (k / 8) as u32,
        n_oc: 0,
        bias: bblk.as_ptr(),
        out: core::ptr::null_mut(),
        act: [lo, lo, lo, lo, hi, hi, hi, hi],
        mask: head_mask(k % 8),
    };
    let mut oc0 = 0;
    while oc0 < out_len {
        let nb = OB.min(out_len - oc0);
        for (j, b) in bblk.iter_mut().enumerate().take(nb) {
            *b = if bias.is_empty() { 0.0 } else { bias[oc0 + j] };
        }
        let last = bblk[nb - 1];
        bblk[nb..nb + 3].fill(last);
        let rows = &weights[oc0 * k..(oc0 + nb) * k];
        for row in 0..batch {
            let out = &mut output[row * out_len + oc0..row * out_len + oc0 + nb];
            gv.x = input[row * k..(row + 1) * k].as_ptr();
            gv.w = rows.as_ptr();
            gv.n_oc = nb as u32;
            gv.bias = bblk.as_ptr();
            gv.out = out.as_mut_ptr();
            // SAFETY: x is `input[row·k ..][..k]` (k ≥ 8); weight row j < nb is
            // `rows[j·k ..][..k]`; `bblk` has nb + 3 ≤ OB + 3 floats; `out` is nb floats of
            // `output`; nb ≥ 1 and n8 = k/8 ≥ 1; head + 32·n8 = 4k.
            unsafe { neon32_gemv_f32_1x4(&mut gv) };
        }
        oc0 += nb;
    }
}

/// Fully connected, within the documented tolerance of [`reference::fully_connected_f32`].
///
/// One or two batch rows with `in_len ≥ 8` run `neon32_gemv_f32_1x4` row by row (1 row × 4
/// channels, 8-float steps); otherwise it is a 1×1 convolution over `batch` pixels on
/// [`conv2d_f32`]'s kernel.
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
    assert_eq!(input.len(), batch * in_len);
    assert_eq!(weights.len(), out_len * in_len);
    assert!(bias.is_empty() || bias.len() == out_len);
    assert_eq!(output.len(), batch * out_len);
    let g = Window2d {
        batch,
        in_h: 1,
        in_w: 1,
        in_c: in_len,
        out_h: 1,
        out_w: 1,
        out_c: out_len,
        k_h: 1,
        k_w: 1,
        stride_h: 1,
        stride_w: 1,
        dil_h: 1,
        dil_w: 1,
        pad_top: 0,
        pad_left: 0,
    };
    if batch == 0 || out_len == 0 {
        return;
    }
    if batch <= GEMV_MAX_BATCH && in_len >= 8 {
        fc_gemv(batch, in_len, out_len, act_min, act_max, input, weights, bias, output);
        return;
    }
    if !conv_fast(&g, act_min, act_max, input, weights, bias, output) {
        reference::fully_connected_f32(
            batch, in_len, out_len, act_min, act_max, input, weights, bias, output,
        );
    }
}
