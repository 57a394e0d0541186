//! ARMv7-A NEON int8 kernels (stable `asm!`), tuned for the Cortex-A9 (16 Q registers, one
//! NEON pipe, no dot-product instructions).
//!
//! Every public function here has the signature and the **bit-exact** results of its twin in
//! [`crate::reference::int8`]; `best::int8` re-exports them on NEON32 targets. Shapes the fast
//! paths do not cover run the reference kernel (listed per function).
//!
//! # Assembly kernels
//!
//! | kernel | tile | instructions per 16 MACs (inner loop) | used by |
//! |---|---|---|---|
//! | `neon32_conv_i8_4x2` | 4 output pixels × 2 output channels, K in 16-byte steps | 3.875 (6 loads + 24 MAC per 128 MACs, loop unrolled ×2) | [`conv2d_i8`], [`fully_connected_i8`] (≥ 5 rows) |
//! | `neon32_gemv_i8_1x3` | 1 row × 3 output channels, 32-byte steps, Σw fused | 5.0 (4 loads + 18 MAC + 6 Σw + 2 loop per 96 MACs) | [`fully_connected_i8`] (≤ 4 rows) |
//! | `neon32_dwconv3x3_i8_16` | 1 output pixel × 16 channels, 9 taps | 5.8 (+ 55 per 16 outputs for the epilogue) | [`depthwise_conv2d_i8`] |
//! | `neon32_add_i8_8` | 8 elements | — (56 per 8 elements) | [`add_i8`] |
//! | `neon32_rowsum_i8` | 16 bytes | — (6 per 16 bytes) | Σw per output channel, and the filter's minimum |
//!
//! Measured under `qemu-arm -cpu cortex-a9` with the project's instruction-count plugin
//! (whole layer call, requantization included): 3×3 conv 56×56×64→64 SAME 3.69 int8 MACs per
//! instruction, 14×14×256→256 3.96, 1×1 14×14×256→256 3.43, FC 1024→1000 (batch 1) 2.68,
//! depthwise 3×3 56×56×128 1.07; the reference conv runs 0.048.
//!
//! Each asm boundary is one `#[repr(C)]` parameter struct passed by pointer (`r0`); the asm
//! reads its fields through `const` operands equal to `offset_of!`, and the offsets are also
//! asserted at compile time. Every asm block saves `r4-r11` and every D register it uses itself
//! and declares only GPR clobbers (`r1-r3`, `r12`, `lr`): `clobber_abi("C")` would name FP
//! registers that soft-float targets (`armv7a-none-eabi`) lack, and the compiler may hold values
//! in any FP register it knows of. So the kernels are correct whatever FP/NEON features the
//! surrounding Rust code was compiled with; the templates start with `.fpu neon`, so no target
//! feature is needed (hard-float `armv7-unknown-linux-gnueabihf`, soft-float `armv7a-none-eabi`
//! with or without `+neon,+vfp3`).
//!
//! # Arithmetic (why it is bit-exact)
//!
//! * **Dot products** (`neon32_conv_i8_4x2`): 16 MACs are `VMULL.S8` (8 products in i16),
//!   `VMLAL.S8` (8 more added: two products per i16 lane) and `VPADAL.S16` (pairs into i32
//!   accumulators): 3 instructions per 16 MACs. The i16 lane holds `x0·w0 + x1·w1`, which fits
//!   only because weights are in `[−127, 127]` (TFLite spec): `2 · 128 · 127 = 32512 < 32768`.
//!   A weight of −128 (with two inputs of −128) would overflow, so the per-channel Σw pass also
//!   takes the filter's minimum and **a filter containing −128 runs the reference kernel**.
//!   The GEMV kernel checks the other operand instead: an input row without −128 keeps every
//!   pair below `2 · 127 · 128`, whatever the weights; a row containing −128 takes the GEMM path.
//!   Accumulators wrap in `i32`, exactly like the reference's.
//! * **Input zero point**: the kernels multiply the raw int8 inputs and subtract
//!   `zx · Σw[oc]` once per output channel (folded with the bias into one offset):
//!   `Σ (x − zx)·w = Σ x·w − zx·Σ w` holds exactly in wrapping `i32` arithmetic, which is what
//!   the reference's wrapping accumulator computes. Σw comes from one NEON pass over each
//!   block's weights (conv), or is accumulated inside the GEMV kernel (`VPADAL.S8` into i16,
//!   folded in with `VMLAL.S16` by `−zx` every 60 steps, before the i16 lanes could overflow).
//!   Padding taps read a vector filled with the zero point, so they contribute
//!   `(zx − zx)·w = 0`, exactly like the reference skipping them. Input zero points outside
//!   `[−128, 127]` (not valid TFLite) run the reference.
//! * **Requantization** (both [`Rounding`] modes, per output channel):
//!   double rounding is `VSHL` (left shift, wrapping like the reference's `wrapping_shl`),
//!   `VQRDMULH` (= SRDHM exactly, including the `MIN·MIN` saturation) and gemmlowp's
//!   RoundingDivideByPOT: `VRSHL` by `−e` rounds ties towards +∞, so negative values are first
//!   nudged down by one (`fixup = (x & −e) >> 31`, saturating add) to round ties away from zero.
//!   Single rounding is the exact 64-bit product (`VMULL.S32`), one `VRSHL.S64` by
//!   `−(31 − shift)` (round half up) and a saturating narrow (`VQMOVN.S64`). Then a saturating
//!   add of the output zero point, saturating narrows to int8 and `VMAX`/`VMIN` with the
//!   activation bounds (equal to the reference's `i32` clamp because both bounds are int8).
//!
//! # Memory
//!
//! No heap and no scratch from the caller (no im2col: the conv kernel reads the input in place
//! through a table of per-tap pointers). Every buffer lives on the stack; the deepest path
//! (packed rows for small `in_c`) uses about 3.8 KiB including the saved registers and the
//! public function's frame (measured from the optimized build's frames): epilogue parameters
//! for a block of 64 output channels 1 KiB, zero-point vector for padding taps ≤ 1 KiB,
//! pointer table ≤ 1.3 KiB, packed rows ≤ 1.5 KiB, depthwise weights + parameters 2 KiB, and
//! 288 B of registers saved by each asm block.

#![allow(clippy::too_many_arguments)]

use core::arch::asm;
use core::mem::offset_of;

use super::{span, Cursor};
use crate::reference::int8 as reference;
use crate::reference::int8::{AddParams, ConvQuant};
use crate::reference::quant::Rounding;
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

/// Output pixels per conv tile.
const P: usize = 4;
/// Output channels per block: the epilogue parameters of one block live on the stack.
const OB: usize = 64;
/// Maximum segments (filter taps, or rows of taps) per tile in the indirect conv path: 9×9,
/// the style networks' first and last layers (the table is `4 · SEG_MAX` pointers, 1.3 KiB).
const SEG_MAX: usize = 81;
/// Bytes of the zero-point vector that padding taps read.
const PAD_MAX: usize = 1024;
/// Bytes of packed rows per tile in the packed conv path (small `in_c`).
const PACK_MAX: usize = 1536;

/// The per-channel shift as the NEON epilogues consume it: `(left, right)` where, for double
/// rounding, `left = max(s, 0)` and `right = min(s, 0)` (a non-positive `VRSHL` amount) with
/// `s = shift.clamp(−31, 31)`; for single rounding `left = 0` and `right = −(31 − s)` with
/// `s = shift.clamp(−31, 30)` (the reference's clamps).
#[inline]
fn split_shift(shift: i32, rounding: Rounding) -> (i32, i32) {
    match rounding {
        Rounding::Double => {
            let s = shift.clamp(-31, 31);
            (s.max(0), s.min(0))
        }
        Rounding::Single => {
            let s = shift.clamp(-31, 30);
            (0, s - 31)
        }
    }
}

/// `true` when `zp` is a valid int8 zero point (the fast paths store it in an int8 lane).
#[inline]
fn zp_i8(zp: i32) -> Option<i8> {
    i8::try_from(zp).ok()
}

/// Mask selecting the first `r` bytes of a 16-byte chunk (`r` in 1..=16).
fn head_mask(r: usize) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..r].fill(0xff);
    m
}

// =============================================================================================
// neon32_rowsum_i8: Σ of each filter row, and the minimum byte
// =============================================================================================

#[repr(C)]
struct RowSumArgs {
    /// First row.
    src: *const i8,
    /// Number of rows (≥ 1).
    rows: u32,
    /// Bytes consumed by each row's first, masked 16-byte chunk (`len % 16`, or 16).
    head: u32,
    /// Further 16-byte chunks per row.
    n16: u32,
    /// Bytes from one row to the next.
    stride: u32,
    /// One `i32` per row.
    sums: *mut i32,
    mask: [u8; 16],
}
const RS_SRC: usize = offset_of!(RowSumArgs, src);
const RS_ROWS: usize = offset_of!(RowSumArgs, rows);
const RS_HEAD: usize = offset_of!(RowSumArgs, head);
const RS_N16: usize = offset_of!(RowSumArgs, n16);
const RS_STRIDE: usize = offset_of!(RowSumArgs, stride);
const RS_SUMS: usize = offset_of!(RowSumArgs, sums);
const RS_MASK: usize = offset_of!(RowSumArgs, mask);
const _: () = assert!(RS_SRC == 0 && RS_ROWS == 4 && RS_HEAD == 8 && RS_N16 == 12);
const _: () = assert!(RS_STRIDE == 16 && RS_SUMS == 20 && RS_MASK == 24);

/// Writes `sums[j] = Σ rows[j]` (wrapping `i32`) for `rows.len() / len` rows of `len ≥ 16`
/// bytes each, and returns the smallest byte of all rows.
fn rowsum_i8(rows: &[i8], len: usize, sums: &mut [i32]) -> i8 {
    assert!(len >= 16 && !rows.is_empty() && rows.chunks_exact(len).remainder().is_empty());
    let n = rows.len() / len;
    assert!(sums.len() >= n);
    let head = if len & 15 == 0 { 16 } else { len & 15 };
    let mut a = RowSumArgs {
        src: rows.as_ptr(),
        rows: n as u32,
        head: head as u32,
        n16: ((len - head) / 16) as u32,
        stride: len as u32,
        sums: sums.as_mut_ptr(),
        mask: head_mask(head),
    };
    let min: i32;
    // SAFETY: the asm reads `n` rows of `len` bytes starting at `rows.as_ptr()` (the first chunk
    // of each row is bytes 0..16 ⊂ the row since len ≥ 16, then `head + 16·n16 = len` bytes in
    // total), writes `n ≤ sums.len()` i32 to `sums`, and touches only the GPRs declared here
    // (r4, r5 and the D registers it uses are saved and restored inside).
    unsafe {
        asm!(
            fpu_neon!(),
            "push {{r4, r5}}",
            "vpush {{d0-d3}}",
            "vpush {{d16-d17}}",
            "vpush {{d28-d31}}",
            "ldr r1, [r0, #{src}]",
            "ldr r2, [r0, #{rows}]",
            "ldr r3, [r0, #{head}]",
            "ldr r12, [r0, #{sums}]",
            "add lr, r0, #{mask}",
            "vld1.8 {{d30-d31}}, [lr]",
            "vmov.i8 q14, #0x7f",
            "2:",
            "mov lr, r1",
            "vld1.8 {{d0-d1}}, [lr], r3",
            "vand q0, q0, q15",
            "vmin.s8 q14, q14, q0",
            "vpaddl.s8 q1, q0",
            "vpaddl.s16 q8, q1",
            "ldr r4, [r0, #{n16}]",
            "cmp r4, #0",
            "beq 4f",
            "3:",
            "vld1.8 {{d0-d1}}, [lr]!",
            "vmin.s8 q14, q14, q0",
            "vpaddl.s8 q1, q0",
            "vpadal.s16 q8, q1",
            "subs r4, r4, #1",
            "bne 3b",
            "4:",
            "vpadd.i32 d16, d16, d17",
            "vpadd.i32 d16, d16, d16",
            "vst1.32 {{d16[0]}}, [r12]!",
            "ldr r4, [r0, #{stride}]",
            "add r1, r1, r4",
            "subs r2, r2, #1",
            "bne 2b",
            "vpmin.s8 d28, d28, d29",
            "vpmin.s8 d28, d28, d28",
            "vpmin.s8 d28, d28, d28",
            "vpmin.s8 d28, d28, d28",
            "vmov.s8 r1, d28[0]",
            "vpop {{d28-d31}}",
            "vpop {{d16-d17}}",
            "vpop {{d0-d3}}",
            "pop {{r4, r5}}",
            src = const RS_SRC,
            rows = const RS_ROWS,
            head = const RS_HEAD,
            n16 = const RS_N16,
            stride = const RS_STRIDE,
            sums = const RS_SUMS,
            mask = const RS_MASK,
            inout("r0") &mut a as *mut RowSumArgs => _,
            out("r1") min,
            out("r2") _,
            out("r3") _,
            out("r12") _,
            out("lr") _,
        );
    }
    min as i8
}

// =============================================================================================
// neon32_conv_i8_4x2: the conv / GEMM tile
// =============================================================================================

/// One call of the conv tile kernel: 4 output pixels × `n_oc` output channels (in tiles of 2).
///
/// K is `nseg` segments of `seg_len` bytes. Pixel `p` reads segment `s` at `xtab[4·s + p]`
/// (`seg_len` bytes); output channel `j` reads its weights at `w + j·w_stride`, all segments
/// back to back (`nseg · seg_len` bytes). A segment is processed as an optional head chunk (16
/// bytes, weights masked to the first `head` bytes, pointers advanced by `head`) and then
/// `n16 ≥ 1` steps of 16 bytes.
#[repr(C)]
struct ConvTile {
    xtab: *const *const i8,
    nseg: u32,
    /// `seg_len % 16` (0: no head chunk).
    head: u32,
    /// `seg_len / 16` (≥ 1).
    n16: u32,
    w: *const i8,
    /// Bytes from one output channel's weights to the next.
    w_stride: u32,
    /// `2·w_stride − nseg·seg_len` (wrapping): from the end of a tile's first row to the next
    /// tile's first row.
    w_next: u32,
    /// Output channels in this call (≥ 1); an odd last one is a tile of 1.
    n_oc: u32,
    /// Per output channel `[offset, M, left shift, right shift]` (`n_oc` entries, plus a copy of
    /// the last one when `n_oc` is odd); splatted by `VLD4.32 {d[]…}`.
    epi: *const i32,
    /// 0 = double rounding, 1 = single.
    rounding: u32,
    /// Output of pixel `p` for the call's first channel; advanced by the kernel.
    out: [*mut i8; 4],
    zp: [i32; 4],
    /// `act_min` × 8, `act_max` × 8.
    act: [i8; 16],
    mask: [u8; 16],
}
const CT_XTAB: usize = offset_of!(ConvTile, xtab);
const CT_NSEG: usize = offset_of!(ConvTile, nseg);
const CT_HEAD: usize = offset_of!(ConvTile, head);
const CT_N16: usize = offset_of!(ConvTile, n16);
const CT_W: usize = offset_of!(ConvTile, w);
const CT_WSTRIDE: usize = offset_of!(ConvTile, w_stride);
const CT_WNEXT: usize = offset_of!(ConvTile, w_next);
const CT_NOC: usize = offset_of!(ConvTile, n_oc);
const CT_EPI: usize = offset_of!(ConvTile, epi);
const CT_ROUND: usize = offset_of!(ConvTile, rounding);
const CT_OUT: usize = offset_of!(ConvTile, out);
const CT_ZP: usize = offset_of!(ConvTile, zp);
const CT_ACT: usize = offset_of!(ConvTile, act);
const CT_MASK: usize = offset_of!(ConvTile, mask);
const _: () = assert!(CT_XTAB == 0 && CT_NSEG == 4 && CT_HEAD == 8 && CT_N16 == 12 && CT_W == 16);
const _: () = assert!(CT_WSTRIDE == 20 && CT_WNEXT == 24 && CT_NOC == 28 && CT_EPI == 32);
const _: () = assert!(CT_ROUND == 36 && CT_OUT == 40 && CT_ZP == 56 && CT_ACT == 72 && CT_MASK == 88);
// The epilogue loads `zp` and `act` with one 32-byte VLD1.
const _: () = assert!(CT_ACT == CT_ZP + 16);

/// 16 MACs for each of the 8 (pixel, channel) pairs: x in q0-q3 (pixel 0-3), w in q4, q5
/// (channel a, b), accumulators q8-q15 (`p0a p0b p1a p1b p2a p2b p3a p3b`), temps q6, q7.
macro_rules! mac_4x2 {
    () => {
        concat!(
            "vmull.s8 q6, d0, d8\n",
            "vmull.s8 q7, d0, d10\n",
            "vmlal.s8 q6, d1, d9\n",
            "vmlal.s8 q7, d1, d11\n",
            "vpadal.s16 q8, q6\n",
            "vpadal.s16 q9, q7\n",
            "vmull.s8 q6, d2, d8\n",
            "vmull.s8 q7, d2, d10\n",
            "vmlal.s8 q6, d3, d9\n",
            "vmlal.s8 q7, d3, d11\n",
            "vpadal.s16 q10, q6\n",
            "vpadal.s16 q11, q7\n",
            "vmull.s8 q6, d4, d8\n",
            "vmull.s8 q7, d4, d10\n",
            "vmlal.s8 q6, d5, d9\n",
            "vmlal.s8 q7, d5, d11\n",
            "vpadal.s16 q12, q6\n",
            "vpadal.s16 q13, q7\n",
            "vmull.s8 q6, d6, d8\n",
            "vmull.s8 q7, d6, d10\n",
            "vmlal.s8 q6, d7, d9\n",
            "vmlal.s8 q7, d7, d11\n",
            "vpadal.s16 q14, q6\n",
            "vpadal.s16 q15, q7\n",
        )
    };
}

/// One 16-byte step: 6 loads (x of 4 pixels from r1-r4, w of 2 channels from r5, r6) + 24.
macro_rules! step_4x2 {
    () => {
        concat!(
            "vld1.8 {{d0-d1}}, [r1]!\n",
            "vld1.8 {{d8-d9}}, [r5]!\n",
            "vld1.8 {{d10-d11}}, [r6]!\n",
            "vld1.8 {{d2-d3}}, [r2]!\n",
            "vld1.8 {{d4-d5}}, [r3]!\n",
            "vld1.8 {{d6-d7}}, [r4]!\n",
            mac_4x2!(),
        )
    };
}

/// Runs one conv tile call.
///
/// # Safety
/// * `t.xtab` points to `4 · t.nseg` pointers, each valid for reads of the segment length
///   (`16 · n16 + head` bytes, ≥ 16);
/// * `t.w + j · w_stride` is valid for reads of `nseg · seg_len` bytes for `j < n_oc`;
/// * `t.epi` points to `4 · (n_oc + n_oc % 2)` readable `i32`;
/// * each `t.out[p]` is valid for writes of `n_oc` bytes, and no two of them overlap unless
///   they are equal (idle pixel slots share pixel 0's outputs and write the same values);
/// * `nseg ≥ 1`, `n16 ≥ 1`, `n_oc ≥ 1`, `head < 16`, `w_next` as documented.
unsafe fn neon32_conv_i8_4x2(t: &mut ConvTile) {
    // SAFETY: guaranteed by the caller (see above). The asm saves r4-r11 and all D registers itself
    // and only touches memory through the pointers of `t`.
    unsafe {
        asm!(
            fpu_neon!(),
            "push {{r4-r11}}",
            save_neon!(),
            "ldr r5, [r0, #{w}]",
            "ldr r10, [r0, #{epi}]",
            "ldr r11, [r0, #{noc}]",
            "ldr r12, [r0, #{head}]",
            // ---- tile of 2 output channels
            "20:",
            "vmov.i32 q8, #0",
            "vmov.i32 q9, #0",
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
            "ldm r8!, {{r1-r4}}",
            "cmp r12, #0",
            "beq 23f",
            // head chunk: bytes [0, 16) with the weights masked to the first `head` bytes
            "add lr, r0, #{mask}",
            "vld1.8 {{d12-d13}}, [lr]",
            "vld1.8 {{d8-d9}}, [r5], r12",
            "vld1.8 {{d10-d11}}, [r6], r12",
            "vand q4, q4, q6",
            "vand q5, q5, q6",
            "vld1.8 {{d0-d1}}, [r1], r12",
            "vld1.8 {{d2-d3}}, [r2], r12",
            "vld1.8 {{d4-d5}}, [r3], r12",
            "vld1.8 {{d6-d7}}, [r4], r12",
            mac_4x2!(),
            "23:",
            "ldr r7, [r0, #{n16}]",
            "tst r7, #1",
            "beq 24f",
            step_4x2!(),
            "subs r7, r7, #1",
            "beq 25f",
            "24:",
            step_4x2!(),
            step_4x2!(),
            "subs r7, r7, #2",
            "bne 24b",
            "25:",
            "subs r9, r9, #1",
            "bne 22b",
            // ---- epilogue: q0 = [p0a p1a p2a p3a], q1 = [p0b p1b p2b p3b]
            "vpadd.i32 d0, d16, d17",
            "vpadd.i32 d1, d20, d21",
            "vpadd.i32 d2, d24, d25",
            "vpadd.i32 d3, d28, d29",
            "vpadd.i32 d4, d18, d19",
            "vpadd.i32 d5, d22, d23",
            "vpadd.i32 d6, d26, d27",
            "vpadd.i32 d7, d30, d31",
            "vpadd.i32 d0, d0, d1",
            "vpadd.i32 d1, d2, d3",
            "vpadd.i32 d2, d4, d5",
            "vpadd.i32 d3, d6, d7",
            "ldr lr, [r0, #{round}]",
            "cmp lr, #0",
            "bne 26f",
            // double rounding: VSHL, VQRDMULH, RoundingDivideByPOT with gemmlowp's fix-up.
            // q4 = offset, q5 = M, q6 = left shift, q7 = right shift (≤ 0) of channel a, then b.
            "vld4.32 {{d8[], d10[], d12[], d14[]}}, [r10]",
            "vld4.32 {{d9[], d11[], d13[], d15[]}}, [r10]!",
            "vadd.i32 q0, q0, q4",
            "vshl.s32 q0, q0, q6",
            "vqrdmulh.s32 q0, q0, q5",
            "vand q2, q0, q7",
            "vshr.s32 q2, q2, #31",
            "vqadd.s32 q0, q0, q2",
            "vrshl.s32 q0, q0, q7",
            "vld4.32 {{d8[], d10[], d12[], d14[]}}, [r10]",
            "vld4.32 {{d9[], d11[], d13[], d15[]}}, [r10]!",
            "vadd.i32 q1, q1, q4",
            "vshl.s32 q1, q1, q6",
            "vqrdmulh.s32 q1, q1, q5",
            "vand q2, q1, q7",
            "vshr.s32 q2, q2, #31",
            "vqadd.s32 q1, q1, q2",
            "vrshl.s32 q1, q1, q7",
            "b 27f",
            // single rounding: exact 64-bit product, one rounding shift (q7 = −(31 − shift)),
            // saturating narrow
            "26:",
            "vld4.32 {{d8[], d10[], d12[], d14[]}}, [r10]",
            "vld4.32 {{d9[], d11[], d13[], d15[]}}, [r10]!",
            "vadd.i32 q0, q0, q4",
            "vmovl.s32 q6, d14",
            "vmull.s32 q8, d0, d10",
            "vmull.s32 q9, d1, d11",
            "vrshl.s64 q8, q8, q6",
            "vrshl.s64 q9, q9, q6",
            "vqmovn.s64 d0, q8",
            "vqmovn.s64 d1, q9",
            "vld4.32 {{d8[], d10[], d12[], d14[]}}, [r10]",
            "vld4.32 {{d9[], d11[], d13[], d15[]}}, [r10]!",
            "vadd.i32 q1, q1, q4",
            "vmovl.s32 q6, d14",
            "vmull.s32 q8, d2, d10",
            "vmull.s32 q9, d3, d11",
            "vrshl.s64 q8, q8, q6",
            "vrshl.s64 q9, q9, q6",
            "vqmovn.s64 d2, q8",
            "vqmovn.s64 d3, q9",
            "27:",
            "add lr, r0, #{zp}",
            "vld1.32 {{d4-d7}}, [lr]",
            "vqadd.s32 q0, q0, q2",
            "vqadd.s32 q1, q1, q2",
            "vqmovn.s32 d8, q0",
            "vqmovn.s32 d9, q1",
            "vqmovn.s16 d0, q4",
            "vmax.s8 d0, d0, d6",
            "vmin.s8 d0, d0, d7",
            // d0 = [p0a p1a p2a p3a p0b p1b p2b p3b]
            "add lr, r0, #{out}",
            "ldm lr, {{r1-r4}}",
            "cmp r11, #1",
            "beq 28f",
            "vst1.8 {{d0[0]}}, [r1]!",
            "vst1.8 {{d0[4]}}, [r1]!",
            "vst1.8 {{d0[1]}}, [r2]!",
            "vst1.8 {{d0[5]}}, [r2]!",
            "vst1.8 {{d0[2]}}, [r3]!",
            "vst1.8 {{d0[6]}}, [r3]!",
            "vst1.8 {{d0[3]}}, [r4]!",
            "vst1.8 {{d0[7]}}, [r4]!",
            "stm lr, {{r1-r4}}",
            "ldr lr, [r0, #{wnext}]",
            "add r5, r5, lr",
            "subs r11, r11, #2",
            "bne 20b",
            "b 29f",
            "28:",
            "vst1.8 {{d0[0]}}, [r1]",
            "vst1.8 {{d0[1]}}, [r2]",
            "vst1.8 {{d0[2]}}, [r3]",
            "vst1.8 {{d0[3]}}, [r4]",
            "29:",
            restore_neon!(),
            "pop {{r4-r11}}",
            xtab = const CT_XTAB,
            nseg = const CT_NSEG,
            head = const CT_HEAD,
            n16 = const CT_N16,
            w = const CT_W,
            wstride = const CT_WSTRIDE,
            wnext = const CT_WNEXT,
            noc = const CT_NOC,
            epi = const CT_EPI,
            round = const CT_ROUND,
            out = const CT_OUT,
            zp = const CT_ZP,
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
// Where a tile's pixels read their K values from
// ---------------------------------------------------------------------------------------------

/// Fills the indirection table of one tile.
trait TileSource {
    /// Starts again at pixel 0.
    fn reset(&mut self);
    /// Fills the source's table for the next 4 pixels, of which the first `nvalid` are real
    /// (the others repeat pixel 0), and returns `(table, segments, segment length)`: entry
    /// `4·s + p` is where pixel `p` reads segment `s`. Every pointer in the table is valid for
    /// reads of the segment length while `self` lives and is not filled again (checked slices
    /// of the input, of the pad vector or of the source's own buffer).
    fn fill(&mut self, nvalid: usize) -> (*const *const i8, usize, usize);
}

/// Reads the input in place: one segment per filter tap (`in_c` bytes), or per row of taps
/// (`k_w · in_c` contiguous bytes) when every pixel of the tile has that whole row in bounds.
struct Indirect<'a> {
    g: &'a Window2d,
    input: &'a [i8],
    /// The input zero point, repeated (`≥ in_c` bytes if any tap is padding, `≥ k_w·in_c` if
    /// `pad_rows`).
    pad: &'a [i8],
    /// Rows of taps may be merged (`dil_w == 1`, `k_w > 1`).
    merge: bool,
    /// A merged row that is entirely padding can read `pad`.
    pad_rows: bool,
    cur: Cursor,
    xtab: [*const i8; SEG_MAX * P],
}

impl TileSource for Indirect<'_> {
    fn reset(&mut self) {
        self.cur = Cursor::default();
    }

    fn fill(&mut self, nvalid: usize) -> (*const *const i8, usize, usize) {
        let g = self.g;
        let mut org = [(0isize, 0isize, 0usize); P];
        for o in org.iter_mut().take(nvalid) {
            *o = self.cur.origin(g);
            self.cur.advance(g);
        }
        let (in_h, in_w) = (g.in_h as isize, g.in_w as isize);
        let (dy, dx) = (g.dil_h as isize, g.dil_w as isize);
        let x_last = (g.k_w as isize - 1) * dx;
        let y_last = (g.k_h as isize - 1) * dy;
        let merged = self.merge
            && org[..nvalid].iter().all(|&(y, x, _)| {
                x >= 0 && x + x_last < in_w && (self.pad_rows || (y >= 0 && y + y_last < in_h))
            });
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

/// Packs each pixel's whole K vector (`K = k_h · k_w · in_c` bytes, padding taps = zero point)
/// into a stack buffer of `N` bytes (4 rows), for `in_c < 16` where per-tap segments would be
/// shorter than a NEON step. Rows are `max(K, 16)` bytes; `K < 16` is zero-extended (and the
/// weights are copied to 16-byte rows by the driver).
struct Packed<'a, const N: usize> {
    g: &'a Window2d,
    input: &'a [i8],
    zx: i8,
    len: usize,
    buf: [i8; N],
    cur: Cursor,
    xtab: [*const i8; P],
}

impl<const N: usize> TileSource for Packed<'_, N> {
    fn reset(&mut self) {
        self.cur = Cursor::default();
    }

    fn fill(&mut self, nvalid: usize) -> (*const *const i8, usize, usize) {
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
                    dst.fill(self.zx);
                    continue;
                }
                let line = ((img + iy as usize) * g.in_w) as isize;
                if g.dil_w == 1 {
                    // The in-bounds taps of the row are one contiguous run of the input.
                    let lo = (-x0).clamp(0, g.k_w as isize) as usize;
                    let hi = (g.in_w as isize - x0).clamp(lo as isize, g.k_w as isize) as usize;
                    dst[..lo * c].fill(self.zx);
                    if hi > lo {
                        let o = (line + x0 + lo as isize) as usize * c;
                        dst[lo * c..hi * c].copy_from_slice(&self.input[o..o + (hi - lo) * c]);
                    }
                    dst[hi * c..].fill(self.zx);
                } else {
                    for kx in 0..g.k_w {
                        let ix = x0 + (kx * g.dil_w) as isize;
                        let tap = &mut dst[kx * c..(kx + 1) * c];
                        if ix >= 0 && ix < g.in_w as isize {
                            let o = (line + ix) as usize * c;
                            tap.copy_from_slice(&self.input[o..o + c]);
                        } else {
                            tap.fill(self.zx);
                        }
                    }
                }
            }
            row[k..].fill(0);
        }
        for p in 0..P {
            let q = if p < nvalid { p } else { 0 };
            self.xtab[p] = span(&self.buf, q * self.len, self.len);
        }
        (self.xtab.as_ptr(), 1, self.len)
    }
}

/// Weights of the current block as the tile kernel reads them.
enum WeightRows<'a> {
    /// Rows of `K ≥ 16` bytes read in place from the filter.
    InPlace,
    /// `K < 16`: each block's rows are copied, zero-extended to 16 bytes, into this buffer.
    Padded(&'a mut [i8; OB * 16]),
}

/// Runs a convolution (or a fully-connected layer as a 1×1 convolution) through
/// `neon32_conv_i8_4x2`. Returns `false` if a block of weights contains −128, in which case the
/// caller must run the reference kernel (outputs already written are then simply overwritten).
fn conv_driver<S: TileSource>(
    g: &Window2d,
    q: &ConvQuant,
    zx: i8,
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
    src: &mut S,
    mut wrows: WeightRows,
) -> bool {
    let k = g.k_h * g.k_w * g.in_c;
    let npix = g.batch * g.out_h * g.out_w;
    let out_c = g.out_c;
    let out_len = output.len();
    let out_base = output.as_mut_ptr();

    let mut epi = [[0i32; 4]; OB + 1];
    let (lo, hi) = (q.act_min, q.act_max);
    let mut t = ConvTile {
        xtab: core::ptr::null(),
        nseg: 0,
        head: 0,
        n16: 0,
        w: core::ptr::null(),
        w_stride: 0,
        w_next: 0,
        n_oc: 0,
        epi: epi.as_ptr().cast(),
        rounding: match q.rounding {
            Rounding::Double => 0,
            Rounding::Single => 1,
        },
        out: [core::ptr::null_mut(); 4],
        zp: [q.output_zp; 4],
        act: [lo, lo, lo, lo, lo, lo, lo, lo, hi, hi, hi, hi, hi, hi, hi, hi],
        mask: [0; 16],
    };
    let mut oc0 = 0;
    while oc0 < out_c {
        let nb = OB.min(out_c - oc0);
        let rows = &filter[oc0 * k..(oc0 + nb) * k];

        // Σw per channel (and the −128 check), then the epilogue parameters of the block.
        let mut sums = [0i32; OB];
        let (wptr, wstride, wmin) = match &mut wrows {
            WeightRows::InPlace => (rows.as_ptr(), k, rowsum_i8(rows, k, &mut sums)),
            WeightRows::Padded(buf) => {
                let mut m = i8::MAX;
                for (j, row) in rows.chunks_exact(k).enumerate() {
                    sums[j] = row.iter().map(|&w| i32::from(w)).sum();
                    m = m.min(row.iter().copied().min().unwrap_or(0));
                    buf[j * 16..j * 16 + k].copy_from_slice(row);
                    buf[j * 16 + k..(j + 1) * 16].fill(0);
                }
                (buf.as_ptr(), 16, m)
            }
        };
        if wmin == i8::MIN {
            return false;
        }
        for j in 0..nb {
            let oc = oc0 + j;
            let b = if bias.is_empty() { 0 } else { bias[oc] };
            let (left, right) = split_shift(q.shifts[oc], q.rounding);
            epi[j] = [b.wrapping_sub(i32::from(zx).wrapping_mul(sums[j])), q.multipliers[oc], left, right];
        }
        epi[nb] = epi[nb - 1];
        t.w = wptr;
        t.w_stride = wstride as u32;
        t.n_oc = nb as u32;

        src.reset();
        let mut last_len = 0;
        let mut n0 = 0;
        while n0 < npix {
            let nvalid = P.min(npix - n0);
            let (xtab, nseg, len) = src.fill(nvalid);
            assert!((1..=SEG_MAX).contains(&nseg) && len >= 16 && nseg * len == wstride.max(k));
            if len != last_len {
                last_len = len;
                let head = len % 16;
                t.nseg = nseg as u32;
                t.head = head as u32;
                t.n16 = (len / 16) as u32;
                t.w_next = (2 * wstride).wrapping_sub(nseg * len) as u32;
                t.mask = head_mask(head.max(1));
            }
            let o = n0 * out_c + oc0;
            assert!(o + (nvalid - 1) * out_c + nb <= out_len);
            // Idle pixel slots recompute pixel 0 (same pointers, same sums) and write the same
            // values to pixel 0's outputs.
            for p in 0..P {
                t.out[p] = out_base.wrapping_add(if p < nvalid { o + p * out_c } else { o });
            }
            t.xtab = xtab;
            // SAFETY: `xtab` holds 4·nseg pointers from `src.fill`, each valid for `len` bytes
            // (TileSource contract; `src` is not touched until the call returns); weight row
            // j < nb is `rows[j·k ..][..k]` or the padded buffer's `[j·16 ..][..16]`, and
            // `nseg·len` equals that row length (asserted); `epi` has nb + 1 ≤ OB + 1 entries;
            // each `out[p]` is `output[(n0+p)·out_c + oc0 ..][..nb]` (in bounds: asserted),
            // distinct for the real pixels and equal to pixel 0's for idle slots, which write
            // the same values; nseg, n16 = len/16, nb ≥ 1 and head < 16.
            unsafe { neon32_conv_i8_4x2(&mut t) };
            n0 += P;
        }
        oc0 += nb;
    }
    true
}

#[inline(never)]
fn conv_indirect(
    g: &Window2d,
    q: &ConvQuant,
    zx: i8,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) -> bool {
    let mut pad = [0i8; PAD_MAX];
    let pad_rows = g.k_w * g.in_c <= PAD_MAX;
    let pad_len = if pad_rows { g.k_w * g.in_c } else { g.in_c.min(PAD_MAX) };
    pad[..pad_len].fill(zx);
    let mut src = Indirect {
        g,
        input,
        pad: &pad[..pad_len],
        merge: g.dil_w == 1 && g.k_w > 1,
        pad_rows,
        cur: Cursor::default(),
        xtab: [core::ptr::null(); SEG_MAX * P],
    };
    conv_driver(g, q, zx, filter, bias, output, &mut src, WeightRows::InPlace)
}

#[inline(never)]
fn conv_packed(
    g: &Window2d,
    q: &ConvQuant,
    zx: i8,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) -> bool {
    let k = g.k_h * g.k_w * g.in_c;
    let mut src = Packed::<PACK_MAX> {
        g,
        input,
        zx,
        len: k,
        buf: [0; PACK_MAX],
        cur: Cursor::default(),
        xtab: [core::ptr::null(); P],
    };
    conv_driver(g, q, zx, filter, bias, output, &mut src, WeightRows::InPlace)
}

#[inline(never)]
fn conv_small(
    g: &Window2d,
    q: &ConvQuant,
    zx: i8,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) -> bool {
    let mut src = Packed::<{ P * 16 }> {
        g,
        input,
        zx,
        len: 16,
        buf: [0; P * 16],
        cur: Cursor::default(),
        xtab: [core::ptr::null(); P],
    };
    let mut wbuf = [0i8; OB * 16];
    conv_driver(g, q, zx, filter, bias, output, &mut src, WeightRows::Padded(&mut wbuf))
}

/// `true` when some tap of the geometry falls into the padding.
fn has_padding(g: &Window2d) -> bool {
    g.in_y(0, 0).is_none()
        || g.in_y(g.out_h - 1, g.k_h - 1).is_none()
        || g.in_x(0, 0).is_none()
        || g.in_x(g.out_w - 1, g.k_w - 1).is_none()
}

/// The conv paths.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ConvPath {
    /// Input read in place through per-tap pointers (`in_c ≥ 16`).
    Indirect,
    /// K vectors packed on the stack (`16 ≤ K`, `4·K ≤ PACK_MAX`).
    Packed,
    /// `K < 16`: K vectors and weight rows zero-extended to 16 bytes.
    Small,
}

/// Which conv path can run `g` (`None`: the reference).
fn conv_path(g: &Window2d) -> Option<ConvPath> {
    let k = g.k_h * g.k_w * g.in_c;
    if k == 0 || g.batch * g.out_h * g.out_w == 0 || g.out_c == 0 {
        return None;
    }
    if g.in_c >= 16 && g.k_h * g.k_w <= SEG_MAX && (g.in_c <= PAD_MAX || !has_padding(g)) {
        Some(ConvPath::Indirect)
    } else if k < 16 {
        Some(ConvPath::Small)
    } else if P * k <= PACK_MAX {
        Some(ConvPath::Packed)
    } else {
        None
    }
}

/// Runs `g` on the NEON paths; `false` if the reference must run instead.
fn conv_fast(
    g: &Window2d,
    q: &ConvQuant,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) -> bool {
    let Some(zx) = zp_i8(q.input_zp) else { return false };
    match conv_path(g) {
        Some(ConvPath::Indirect) => conv_indirect(g, q, zx, input, filter, bias, output),
        Some(ConvPath::Packed) => conv_packed(g, q, zx, input, filter, bias, output),
        Some(ConvPath::Small) => conv_small(g, q, zx, input, filter, bias, output),
        None => false,
    }
}

/// int8 CONV_2D, bit-exact to [`reference::conv2d_i8`], on `neon32_conv_i8_4x2`.
///
/// Any geometry (kernel size, stride, dilation, padding) runs the NEON kernel when
/// `in_c ≥ 16` and `k_h·k_w ≤ 81` (input read in place through a per-tap pointer table;
/// `in_c ≤ 1024` if any tap is padding), or when `4·max(K, 16) ≤ 1536` with
/// `K = k_h·k_w·in_c` (the tile's K vectors packed on the stack: first layers with few
/// channels). Otherwise, and for an input zero point outside `[−128, 127]` or a weight of −128,
/// it runs the reference kernel.
pub fn conv2d_i8(g: &Window2d, q: &ConvQuant, input: &[i8], filter: &[i8], bias: &[i32], output: &mut [i8]) {
    assert_eq!(input.len(), g.in_len());
    assert_eq!(filter.len(), g.out_c * g.k_h * g.k_w * g.in_c);
    assert!(bias.is_empty() || bias.len() == g.out_c);
    assert_eq!(q.multipliers.len(), g.out_c);
    assert_eq!(q.shifts.len(), g.out_c);
    assert_eq!(output.len(), g.out_len());
    if !conv_fast(g, q, input, filter, bias, output) {
        reference::conv2d_i8(g, q, input, filter, bias, output);
    }
}

// ---------------------------------------------------------------------------------------------
// neon32_gemv_i8_1x3: one input row × 3 output channels, Σw fused
// ---------------------------------------------------------------------------------------------

/// Rows up to which FULLY_CONNECTED runs the GEMV kernel row by row (the 4-row GEMM tile plus
/// the Σw pass is cheaper from about 5 rows on).
const GEMV_MAX_BATCH: usize = 4;

/// One call of the GEMV kernel: `out[j] = requant(Σ x·w_j + (−zx)·Σ w_j + bias_j)` for
/// `j < n_oc`, weights rows of `k` bytes at stride `k`.
///
/// Σw is accumulated in the kernel (`VPADAL.S8` into i16 lanes, folded into the i32
/// accumulators with `VMLAL.S16` by `−zx` every 60 steps of 32 bytes, before the i16 lanes can
/// overflow: 60·512 + 2·256 < 32768), so no Σw pass over the weights is needed. The pair sums
/// of VMULL/VMLAL cannot overflow because the caller checks that `x` has no −128
/// (`2·127·128 < 32768`); weights of −128 are fine here.
#[repr(C)]
struct Gemv {
    x: *const i8,
    w: *const i8,
    k: u32,
    /// `k % 16` (0: no head chunk).
    head: u32,
    /// `(k / 16) & 1`: one 16-byte step.
    odd: u32,
    /// `k / 32` steps of 32 bytes.
    n32: u32,
    /// Output channels (≥ 1), in tiles of 3.
    n_oc: u32,
    /// Per channel `[bias, M, left shift, right shift]`, `n_oc + 2` entries (the last two
    /// repeat channel `n_oc − 1`).
    epi: *const i32,
    rounding: u32,
    out: *mut i8,
    /// `−zx` × 4 (i16).
    mzx: [i16; 4],
    zp: [i32; 4],
    act: [i8; 16],
    mask: [u8; 16],
}
const GV_X: usize = offset_of!(Gemv, x);
const GV_W: usize = offset_of!(Gemv, w);
const GV_K: usize = offset_of!(Gemv, k);
const GV_HEAD: usize = offset_of!(Gemv, head);
const GV_ODD: usize = offset_of!(Gemv, odd);
const GV_N32: usize = offset_of!(Gemv, n32);
const GV_NOC: usize = offset_of!(Gemv, n_oc);
const GV_EPI: usize = offset_of!(Gemv, epi);
const GV_ROUND: usize = offset_of!(Gemv, rounding);
const GV_OUT: usize = offset_of!(Gemv, out);
const GV_MZX: usize = offset_of!(Gemv, mzx);
const GV_ZP: usize = offset_of!(Gemv, zp);
const GV_ACT: usize = offset_of!(Gemv, act);
const GV_MASK: usize = offset_of!(Gemv, mask);
const _: () = assert!(GV_X == 0 && GV_W == 4 && GV_K == 8 && GV_HEAD == 12 && GV_ODD == 16 && GV_N32 == 20);
const _: () = assert!(GV_NOC == 24 && GV_EPI == 28 && GV_ROUND == 32 && GV_OUT == 36 && GV_MZX == 40);
const _: () = assert!(GV_ZP == 48 && GV_ACT == 64 && GV_MASK == 80);
const _: () = assert!(GV_ACT == GV_ZP + 16);

/// 16 bytes: x in q0, w of channels a, b, c in q2, q4, q6; products into q8-q10, Σw into
/// q11-q13 (i16).
macro_rules! gemv_mac16 {
    () => {
        concat!(
            "vmull.s8 q14, d0, d4\n",
            "vmull.s8 q15, d0, d8\n",
            "vmlal.s8 q14, d1, d5\n",
            "vmlal.s8 q15, d1, d9\n",
            "vpadal.s16 q8, q14\n",
            "vpadal.s16 q9, q15\n",
            "vmull.s8 q14, d0, d12\n",
            "vmlal.s8 q14, d1, d13\n",
            "vpadal.s16 q10, q14\n",
            "vpadal.s8 q11, q2\n",
            "vpadal.s8 q12, q4\n",
            "vpadal.s8 q13, q6\n",
        )
    };
}

/// Folds the i16 Σw lanes into the accumulators (`acc += −zx · Σw`) and clears them.
macro_rules! gemv_flush {
    () => {
        concat!(
            "add lr, r0, #{mzx}\n",
            "vld1.16 {{d0}}, [lr]\n",
            "vmlal.s16 q8, d22, d0[0]\n",
            "vmlal.s16 q8, d23, d0[0]\n",
            "vmlal.s16 q9, d24, d0[0]\n",
            "vmlal.s16 q9, d25, d0[0]\n",
            "vmlal.s16 q10, d26, d0[0]\n",
            "vmlal.s16 q10, d27, d0[0]\n",
            "vmov.i32 q11, #0\n",
            "vmov.i32 q12, #0\n",
            "vmov.i32 q13, #0\n",
        )
    };
}

/// Runs one GEMV call.
///
/// # Safety
/// `g.x` valid for reads of `k ≥ 16` bytes, none of them −128; `g.w + j·k` valid for reads of
/// `k` bytes for `j < n_oc`; `g.epi` has `n_oc + 2` entries of 4 `i32`; `g.out` valid for
/// writes of `n_oc` bytes; `n_oc ≥ 1`; `head + 16·odd + 32·n32 = k`, `head < 16`.
unsafe fn neon32_gemv_i8_1x3(g: &mut Gemv) {
    // SAFETY: guaranteed by the caller. The asm saves r4-r11 and all D registers itself.
    unsafe {
        asm!(
            fpu_neon!(),
            "push {{r4-r11}}",
            save_neon!(),
            "ldr r10, [r0, #{w}]",
            "ldr r11, [r0, #{k}]",
            "ldr r12, [r0, #{head}]",
            "ldr r7, [r0, #{epi}]",
            "ldr r8, [r0, #{noc}]",
            "ldr r9, [r0, #{out}]",
            // ---- tile of 3 output channels (fewer at the end: rows repeated)
            "70:",
            "vmov.i32 q8, #0",
            "vmov.i32 q9, #0",
            "vmov.i32 q10, #0",
            "vmov.i32 q11, #0",
            "vmov.i32 q12, #0",
            "vmov.i32 q13, #0",
            "ldr r1, [r0, #{x}]",
            "mov r2, r10",
            "add r3, r2, r11",
            "add r4, r3, r11",
            "cmp r8, #2",
            "bgt 71f",
            "mov r4, r3",
            "beq 71f",
            "mov r3, r2",
            "mov r4, r2",
            "71:",
            "cmp r12, #0",
            "beq 72f",
            // head chunk: 16 bytes, weights masked to the first `head`
            "add lr, r0, #{mask}",
            "vld1.8 {{d2-d3}}, [lr]",
            "vld1.8 {{d0-d1}}, [r1], r12",
            "vld1.8 {{d4-d5}}, [r2], r12",
            "vld1.8 {{d8-d9}}, [r3], r12",
            "vld1.8 {{d12-d13}}, [r4], r12",
            "vand q2, q2, q1",
            "vand q4, q4, q1",
            "vand q6, q6, q1",
            gemv_mac16!(),
            "72:",
            "ldr lr, [r0, #{odd}]",
            "cmp lr, #0",
            "beq 73f",
            "vld1.8 {{d0-d1}}, [r1]!",
            "vld1.8 {{d4-d5}}, [r2]!",
            "vld1.8 {{d8-d9}}, [r3]!",
            "vld1.8 {{d12-d13}}, [r4]!",
            gemv_mac16!(),
            "73:",
            "ldr r5, [r0, #{n32}]",
            "cmp r5, #0",
            "beq 78f",
            "74:",
            "mov r6, #60",
            "cmp r5, r6",
            "bge 75f",
            "mov r6, r5",
            "75:",
            "sub r5, r5, r6",
            "76:",
            "vld1.8 {{d0-d3}}, [r1]!",
            "vld1.8 {{d4-d7}}, [r2]!",
            "vld1.8 {{d8-d11}}, [r3]!",
            "vld1.8 {{d12-d15}}, [r4]!",
            "vmull.s8 q14, d0, d4",
            "vmull.s8 q15, d0, d8",
            "vmlal.s8 q14, d1, d5",
            "vmlal.s8 q15, d1, d9",
            "vpadal.s16 q8, q14",
            "vpadal.s16 q9, q15",
            "vmull.s8 q14, d0, d12",
            "vmull.s8 q15, d2, d6",
            "vmlal.s8 q14, d1, d13",
            "vmlal.s8 q15, d3, d7",
            "vpadal.s16 q10, q14",
            "vpadal.s16 q8, q15",
            "vmull.s8 q14, d2, d10",
            "vmull.s8 q15, d2, d14",
            "vmlal.s8 q14, d3, d11",
            "vmlal.s8 q15, d3, d15",
            "vpadal.s16 q9, q14",
            "vpadal.s16 q10, q15",
            "vpadal.s8 q11, q2",
            "vpadal.s8 q12, q4",
            "vpadal.s8 q13, q6",
            "vpadal.s8 q11, q3",
            "vpadal.s8 q12, q5",
            "vpadal.s8 q13, q7",
            "subs r6, r6, #1",
            "bne 76b",
            "cmp r5, #0",
            "beq 78f",
            gemv_flush!(),
            "b 74b",
            "78:",
            gemv_flush!(),
            // ---- epilogue: q0 = [a b c c]
            "vpadd.i32 d0, d16, d17",
            "vpadd.i32 d1, d18, d19",
            "vpadd.i32 d2, d20, d21",
            "vpadd.i32 d0, d0, d1",
            "vpadd.i32 d1, d2, d2",
            // q4 = bias, q5 = M, q6 = left, q7 = right of channels a, b, c, (c + 1)
            "vld4.32 {{d8, d10, d12, d14}}, [r7]!",
            "vld4.32 {{d9, d11, d13, d15}}, [r7]",
            "add r7, r7, #16",
            "vadd.i32 q0, q0, q4",
            "ldr lr, [r0, #{round}]",
            "cmp lr, #0",
            "bne 79f",
            "vshl.s32 q0, q0, q6",
            "vqrdmulh.s32 q0, q0, q5",
            "vand q2, q0, q7",
            "vshr.s32 q2, q2, #31",
            "vqadd.s32 q0, q0, q2",
            "vrshl.s32 q0, q0, q7",
            "b 80f",
            "79:",
            "vmovl.s32 q2, d14",
            "vmovl.s32 q3, d15",
            "vmull.s32 q8, d0, d10",
            "vmull.s32 q9, d1, d11",
            "vrshl.s64 q8, q8, q2",
            "vrshl.s64 q9, q9, q3",
            "vqmovn.s64 d0, q8",
            "vqmovn.s64 d1, q9",
            "80:",
            "add lr, r0, #{zp}",
            "vld1.32 {{d4-d7}}, [lr]",
            "vqadd.s32 q0, q0, q2",
            "vqmovn.s32 d2, q0",
            "vqmovn.s16 d0, q1",
            "vmax.s8 d0, d0, d6",
            "vmin.s8 d0, d0, d7",
            "vst1.8 {{d0[0]}}, [r9]!",
            "cmp r8, #2",
            "blt 81f",
            "vst1.8 {{d0[1]}}, [r9]!",
            "beq 81f",
            "vst1.8 {{d0[2]}}, [r9]!",
            "add lr, r11, r11, lsl #1",
            "add r10, r10, lr",
            "subs r8, r8, #3",
            "bgt 70b",
            "81:",
            restore_neon!(),
            "pop {{r4-r11}}",
            x = const GV_X,
            w = const GV_W,
            k = const GV_K,
            head = const GV_HEAD,
            odd = const GV_ODD,
            n32 = const GV_N32,
            noc = const GV_NOC,
            epi = const GV_EPI,
            round = const GV_ROUND,
            out = const GV_OUT,
            mzx = const GV_MZX,
            zp = const GV_ZP,
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

/// FULLY_CONNECTED row by row on `neon32_gemv_i8_1x3`. The caller has checked `in_len ≥ 16`
/// and that no input byte is −128.
#[inline(never)]
fn fc_gemv(
    batch: usize,
    in_len: usize,
    out_len: usize,
    q: &ConvQuant,
    zx: i8,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    let k = in_len;
    let mut epi = [[0i32; 4]; OB + 2];
    let (lo, hi) = (q.act_min, q.act_max);
    let mut gv = Gemv {
        x: core::ptr::null(),
        w: core::ptr::null(),
        k: k as u32,
        head: (k % 16) as u32,
        odd: ((k / 16) & 1) as u32,
        n32: (k / 32) as u32,
        n_oc: 0,
        epi: epi.as_ptr().cast(),
        rounding: match q.rounding {
            Rounding::Double => 0,
            Rounding::Single => 1,
        },
        out: core::ptr::null_mut(),
        mzx: [-i16::from(zx); 4],
        zp: [q.output_zp; 4],
        act: [lo, lo, lo, lo, lo, lo, lo, lo, hi, hi, hi, hi, hi, hi, hi, hi],
        mask: head_mask((k % 16).max(1)),
    };
    let mut oc0 = 0;
    while oc0 < out_len {
        let nb = OB.min(out_len - oc0);
        for (j, e) in epi.iter_mut().enumerate().take(nb) {
            let oc = oc0 + j;
            let b = if bias.is_empty() { 0 } else { bias[oc] };
            let (left, right) = split_shift(q.shifts[oc], q.rounding);
            *e = [b, q.multipliers[oc], left, right];
        }
        epi[nb] = epi[nb - 1];
        epi[nb + 1] = epi[nb - 1];
        let rows = &weights[oc0 * k..(oc0 + nb) * k];
        for row in 0..batch {
            let out = &mut output[row * out_len + oc0..row * out_len + oc0 + nb];
            gv.x = input[row * k..(row + 1) * k].as_ptr();
            gv.w = rows.as_ptr();
            gv.n_oc = nb as u32;
            gv.out = out.as_mut_ptr();
            gv.epi = epi.as_ptr().cast();
            // SAFETY: x is `input[row·k ..][..k]` (k ≥ 16, no −128: checked by the caller);
            // weight row j < nb is `rows[j·k ..][..k]`; `epi` has nb + 2 ≤ OB + 2 entries;
            // `out` is `nb` bytes of `output`; nb ≥ 1; head/odd/n32 split k exactly.
            unsafe { neon32_gemv_i8_1x3(&mut gv) };
        }
        oc0 += nb;
    }
}

/// int8 FULLY_CONNECTED, bit-exact to [`reference::fully_connected_i8`].
///
/// Up to 4 batch rows with `in_len ≥ 16` and no input byte equal to −128 run
/// `neon32_gemv_i8_1x3` row by row (Σw fused into the kernel). Otherwise it is a 1×1
/// convolution over `batch` pixels of `in_len` channels on [`conv2d_i8`]'s kernel (`in_len ≥ 16`
/// in place, `in_len < 16` zero-extended to 16 on the stack).
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
    assert_eq!(input.len(), batch * in_len);
    assert_eq!(weights.len(), out_len * in_len);
    assert!(bias.is_empty() || bias.len() == out_len);
    assert_eq!(q.multipliers.len(), out_len);
    assert_eq!(q.shifts.len(), out_len);
    assert_eq!(output.len(), batch * out_len);
    if batch == 0 || out_len == 0 {
        return;
    }
    if let Some(zx) = zp_i8(q.input_zp) {
        if (1..=GEMV_MAX_BATCH).contains(&batch) && in_len >= 16 {
            let mut sums = [0i32; GEMV_MAX_BATCH];
            if rowsum_i8(input, in_len, &mut sums) != i8::MIN {
                fc_gemv(batch, in_len, out_len, q, zx, input, weights, bias, output);
                return;
            }
        }
    }
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
    if !conv_fast(&g, q, input, weights, bias, output) {
        reference::fully_connected_i8(batch, in_len, out_len, q, input, weights, bias, output);
    }
}

// =============================================================================================
// neon32_dwconv3x3_i8_16: depthwise 3×3, depth multiplier 1
// =============================================================================================

/// Channels per depthwise chunk (the chunk's weights and parameters are packed on the stack).
const DW_CHUNK: usize = 64;
/// Output pixels per depthwise asm call.
const DW_RUN: usize = 16;
/// Bytes of one packed 16-channel block: 9 taps × 16 weights, then 64 `i32` of parameters.
const DW_BLOCK: usize = 9 * 16 + 256;
/// Blocks per chunk: 4 full ones and an overlapping last one.
const DW_BLOCKS: usize = DW_CHUNK / 16 + 1;

#[repr(C, align(16))]
struct DwPack([u8; DW_BLOCKS * DW_BLOCK]);

#[repr(C)]
struct DwArgs {
    /// Per pixel, 9 pointers (tap order `ky·3 + kx`) to the chunk's first channel.
    tab: *const *const i8,
    /// Pixels in this call (≥ 1); counted down by the kernel.
    n_pix: u32,
    /// Packed blocks: weights `[9][16]`, then (double rounding) offsets, M, left shifts and
    /// right shifts, 16 `i32` each; (single) offsets, then for lanes 0-7 and 8-15: 8 `M`, 8 `i64`
    /// right shifts.
    pack: *const u8,
    /// Full 16-channel blocks (≥ 1).
    n_blk: u32,
    /// 0, or `16 − chunk % 16`: step back before the extra, overlapping last block.
    tail_back: u32,
    /// Output of the call's first pixel at the chunk's first channel; advanced by the kernel.
    out: *mut i8,
    /// Bytes between consecutive output pixels.
    out_stride: u32,
    rounding: u32,
    zp: [i32; 4],
    /// `act_min` × 16, `act_max` × 16.
    act: [i8; 32],
}
const DW_TAB: usize = offset_of!(DwArgs, tab);
const DW_NPIX: usize = offset_of!(DwArgs, n_pix);
const DW_PACK: usize = offset_of!(DwArgs, pack);
const DW_NBLK: usize = offset_of!(DwArgs, n_blk);
const DW_TAILBACK: usize = offset_of!(DwArgs, tail_back);
const DW_OUT: usize = offset_of!(DwArgs, out);
const DW_OSTRIDE: usize = offset_of!(DwArgs, out_stride);
const DW_ROUND: usize = offset_of!(DwArgs, rounding);
const DW_ZP: usize = offset_of!(DwArgs, zp);
const DW_ACT: usize = offset_of!(DwArgs, act);
const _: () = assert!(DW_TAB == 0 && DW_NPIX == 4 && DW_PACK == 8 && DW_NBLK == 12 && DW_TAILBACK == 16);
const _: () = assert!(DW_OUT == 20 && DW_OSTRIDE == 24 && DW_ROUND == 28 && DW_ZP == 32 && DW_ACT == 48);

/// Two taps of a 16-channel block: x from `$xa`, `$xb`, both weight vectors from r10; the i16
/// pair sums go to q12, q13 and are widened into the accumulators q8-q11 (`$first`: initialise
/// them with VMOVL instead of accumulating).
macro_rules! dw_pair {
    ($xa:literal, $xb:literal, first) => {
        concat!(
            "vld1.8 {{d0-d1}}, [",
            $xa,
            "]!\n",
            "vld1.8 {{d2-d3}}, [",
            $xb,
            "]!\n",
            "vld1.8 {{d4-d7}}, [r10]!\n",
            "vmull.s8 q12, d0, d4\n",
            "vmull.s8 q13, d1, d5\n",
            "vmlal.s8 q12, d2, d6\n",
            "vmlal.s8 q13, d3, d7\n",
            "vmovl.s16 q8, d24\n",
            "vmovl.s16 q9, d25\n",
            "vmovl.s16 q10, d26\n",
            "vmovl.s16 q11, d27\n",
        )
    };
    ($xa:literal, $xb:literal) => {
        concat!(
            "vld1.8 {{d0-d1}}, [",
            $xa,
            "]!\n",
            "vld1.8 {{d2-d3}}, [",
            $xb,
            "]!\n",
            "vld1.8 {{d4-d7}}, [r10]!\n",
            "vmull.s8 q12, d0, d4\n",
            "vmull.s8 q13, d1, d5\n",
            "vmlal.s8 q12, d2, d6\n",
            "vmlal.s8 q13, d3, d7\n",
            "vaddw.s16 q8, q8, d24\n",
            "vaddw.s16 q9, q9, d25\n",
            "vaddw.s16 q10, q10, d26\n",
            "vaddw.s16 q11, q11, d27\n",
        )
    };
}

/// One 16-channel block of one pixel: 9 taps, the requantization, one 16-byte store to lr.
/// `$s`/`$d` are the labels of the single-rounding branch and of the join (unique per use).
macro_rules! dw_block {
    ($s:literal, $d:literal) => {
        concat!(
            dw_pair!("r1", "r2", first),
            dw_pair!("r3", "r4"),
            dw_pair!("r5", "r6"),
            dw_pair!("r7", "r8"),
            "vld1.8 {{d0-d1}}, [r9]!\n",
            "vld1.8 {{d4-d5}}, [r10]!\n",
            "vmull.s8 q12, d0, d4\n",
            "vmull.s8 q13, d1, d5\n",
            "vaddw.s16 q8, q8, d24\n",
            "vaddw.s16 q9, q9, d25\n",
            "vaddw.s16 q10, q10, d26\n",
            "vaddw.s16 q11, q11, d27\n",
            // offsets (bias − zx·Σw)
            "vld1.32 {{d24-d27}}, [r10]!\n",
            "vld1.32 {{d28-d31}}, [r10]!\n",
            "vadd.i32 q8, q8, q12\n",
            "vadd.i32 q9, q9, q13\n",
            "vadd.i32 q10, q10, q14\n",
            "vadd.i32 q11, q11, q15\n",
            "ldr r12, [r0, #{round}]\n",
            "cmp r12, #0\n",
            "bne ",
            $s,
            "f\n",
            // double rounding
            "vld1.32 {{d24-d27}}, [r10]!\n",
            "vld1.32 {{d28-d31}}, [r10]!\n",
            "vld1.32 {{d0-d3}}, [r10]!\n",
            "vld1.32 {{d4-d7}}, [r10]!\n",
            "vshl.s32 q8, q8, q0\n",
            "vshl.s32 q9, q9, q1\n",
            "vshl.s32 q10, q10, q2\n",
            "vshl.s32 q11, q11, q3\n",
            "vqrdmulh.s32 q8, q8, q12\n",
            "vqrdmulh.s32 q9, q9, q13\n",
            "vqrdmulh.s32 q10, q10, q14\n",
            "vqrdmulh.s32 q11, q11, q15\n",
            "vld1.32 {{d0-d3}}, [r10]!\n",
            "vld1.32 {{d4-d7}}, [r10]!\n",
            "vand q12, q8, q0\n",
            "vand q13, q9, q1\n",
            "vand q14, q10, q2\n",
            "vand q15, q11, q3\n",
            "vshr.s32 q12, q12, #31\n",
            "vshr.s32 q13, q13, #31\n",
            "vshr.s32 q14, q14, #31\n",
            "vshr.s32 q15, q15, #31\n",
            "vqadd.s32 q8, q8, q12\n",
            "vqadd.s32 q9, q9, q13\n",
            "vqadd.s32 q10, q10, q14\n",
            "vqadd.s32 q11, q11, q15\n",
            "vrshl.s32 q8, q8, q0\n",
            "vrshl.s32 q9, q9, q1\n",
            "vrshl.s32 q10, q10, q2\n",
            "vrshl.s32 q11, q11, q3\n",
            "b ",
            $d,
            "f\n",
            // single rounding, lanes 0-7 then 8-15
            $s,
            ":\n",
            "vld1.32 {{d24-d27}}, [r10]!\n",
            "vld1.32 {{d0-d3}}, [r10]!\n",
            "vld1.32 {{d4-d7}}, [r10]!\n",
            "vmull.s32 q14, d16, d24\n",
            "vmull.s32 q15, d17, d25\n",
            "vrshl.s64 q14, q14, q0\n",
            "vrshl.s64 q15, q15, q1\n",
            "vqmovn.s64 d16, q14\n",
            "vqmovn.s64 d17, q15\n",
            "vmull.s32 q14, d18, d26\n",
            "vmull.s32 q15, d19, d27\n",
            "vrshl.s64 q14, q14, q2\n",
            "vrshl.s64 q15, q15, q3\n",
            "vqmovn.s64 d18, q14\n",
            "vqmovn.s64 d19, q15\n",
            "vld1.32 {{d24-d27}}, [r10]!\n",
            "vld1.32 {{d0-d3}}, [r10]!\n",
            "vld1.32 {{d4-d7}}, [r10]!\n",
            "vmull.s32 q14, d20, d24\n",
            "vmull.s32 q15, d21, d25\n",
            "vrshl.s64 q14, q14, q0\n",
            "vrshl.s64 q15, q15, q1\n",
            "vqmovn.s64 d20, q14\n",
            "vqmovn.s64 d21, q15\n",
            "vmull.s32 q14, d22, d26\n",
            "vmull.s32 q15, d23, d27\n",
            "vrshl.s64 q14, q14, q2\n",
            "vrshl.s64 q15, q15, q3\n",
            "vqmovn.s64 d22, q14\n",
            "vqmovn.s64 d23, q15\n",
            $d,
            ":\n",
            "vqadd.s32 q8, q8, q4\n",
            "vqadd.s32 q9, q9, q4\n",
            "vqadd.s32 q10, q10, q4\n",
            "vqadd.s32 q11, q11, q4\n",
            "vqmovn.s32 d0, q8\n",
            "vqmovn.s32 d1, q9\n",
            "vqmovn.s32 d2, q10\n",
            "vqmovn.s32 d3, q11\n",
            "vqmovn.s16 d4, q0\n",
            "vqmovn.s16 d5, q1\n",
            "vmax.s8 q2, q2, q5\n",
            "vmin.s8 q2, q2, q6\n",
            "vst1.8 {{d4-d5}}, [lr]!\n",
        )
    };
}

/// Runs the depthwise kernel on `a.n_pix` pixels.
///
/// # Safety
/// `a.tab` holds `9 · n_pix` pointers, each valid for reads of the chunk's `16·n_blk` bytes
/// (plus the overlapping block: `16·n_blk + 16 − tail_back` bytes in total); `a.pack` holds
/// `n_blk + (tail_back != 0)` packed blocks; `a.out + i·out_stride` is valid for writes of the
/// same number of bytes for `i < n_pix`; `n_pix, n_blk ≥ 1`, `tail_back < 16`.
unsafe fn neon32_dwconv3x3_i8_16(a: &mut DwArgs) {
    // SAFETY: guaranteed by the caller. The asm saves r4-r11 and all D registers itself.
    unsafe {
        asm!(
            fpu_neon!(),
            "push {{r4-r11}}",
            save_neon!(),
            "add r12, r0, #{zp}",
            "vld1.32 {{d8-d9}}, [r12]!",
            "vld1.8 {{d10-d13}}, [r12]",
            // ---- pixel
            "40:",
            "ldr r12, [r0, #{tab}]",
            "ldm r12!, {{r1-r9}}",
            "str r12, [r0, #{tab}]",
            "ldr r10, [r0, #{pack}]",
            "ldr lr, [r0, #{out}]",
            "ldr r11, [r0, #{nblk}]",
            "41:",
            dw_block!("42", "43"),
            "subs r11, r11, #1",
            "bne 41b",
            "ldr r12, [r0, #{tailback}]",
            "cmp r12, #0",
            "beq 46f",
            "sub r1, r1, r12",
            "sub r2, r2, r12",
            "sub r3, r3, r12",
            "sub r4, r4, r12",
            "sub r5, r5, r12",
            "sub r6, r6, r12",
            "sub r7, r7, r12",
            "sub r8, r8, r12",
            "sub r9, r9, r12",
            "sub lr, lr, r12",
            dw_block!("44", "45"),
            "46:",
            "ldr r12, [r0, #{out}]",
            "ldr r11, [r0, #{ostride}]",
            "add r12, r12, r11",
            "str r12, [r0, #{out}]",
            "ldr r12, [r0, #{npix}]",
            "subs r12, r12, #1",
            "str r12, [r0, #{npix}]",
            "bne 40b",
            restore_neon!(),
            "pop {{r4-r11}}",
            tab = const DW_TAB,
            npix = const DW_NPIX,
            pack = const DW_PACK,
            nblk = const DW_NBLK,
            tailback = const DW_TAILBACK,
            out = const DW_OUT,
            ostride = const DW_OSTRIDE,
            round = const DW_ROUND,
            zp = const DW_ZP,
            inout("r0") a as *mut DwArgs => _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r12") _,
            out("lr") _,
        );
    }
}

#[inline]
fn put_i32(buf: &mut [u8], at: usize, v: i32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Packs the block of 16 channels starting at `cb`: weights `[9][16]` and the parameters.
fn dw_pack_block(dst: &mut [u8], cb: usize, c: usize, q: &ConvQuant, zx: i8, filter: &[i8], bias: &[i32]) {
    for t in 0..9 {
        for i in 0..16 {
            dst[t * 16 + i] = filter[t * c + cb + i] as u8;
        }
    }
    let e = 9 * 16;
    for i in 0..16 {
        let ch = cb + i;
        let sum: i32 = (0..9).map(|t| i32::from(filter[t * c + ch])).sum();
        let b = if bias.is_empty() { 0 } else { bias[ch] };
        let (left, right) = split_shift(q.shifts[ch], q.rounding);
        let m = q.multipliers[ch];
        put_i32(dst, e + 4 * i, b.wrapping_sub(i32::from(zx).wrapping_mul(sum)));
        match q.rounding {
            Rounding::Double => {
                put_i32(dst, e + 64 + 4 * i, m);
                put_i32(dst, e + 128 + 4 * i, left);
                put_i32(dst, e + 192 + 4 * i, right);
            }
            Rounding::Single => {
                // per half h (lanes 8h..8h+8): 8 M, then 8 i64 shifts
                let (h, l) = (i / 8, i % 8);
                let base = e + 64 + h * 96;
                put_i32(dst, base + 4 * l, m);
                let sh = i64::from(right).to_le_bytes();
                dst[base + 32 + 8 * l..base + 40 + 8 * l].copy_from_slice(&sh);
            }
        }
    }
}

#[inline(never)]
fn dw_fast(
    g: &Window2d,
    q: &ConvQuant,
    zx: i8,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    let c = g.in_c;
    let npix = g.batch * g.out_h * g.out_w;
    let pad = [zx; DW_CHUNK];
    let mut pack = DwPack([0; DW_BLOCKS * DW_BLOCK]);
    let mut tab = [core::ptr::null::<i8>(); DW_RUN * 9];
    let out_base = output.as_mut_ptr();
    // Columns whose 3 taps are all in bounds (the range is contiguous: coordinates grow with ox).
    let (in_h, in_w) = (g.in_h as isize, g.in_w as isize);
    let (y_last, x_last) = (2 * g.dil_h as isize, 2 * g.dil_w as isize);
    // Offsets of the 9 taps from the first one, for pixels whose taps are all in bounds.
    let mut offs = [0usize; 9];
    for (t, o) in offs.iter_mut().enumerate() {
        *o = ((t / 3) * g.dil_h * g.in_w + (t % 3) * g.dil_w) * c;
    }
    let mut a = DwArgs {
        tab: tab.as_ptr(),
        n_pix: 0,
        pack: pack.0.as_ptr(),
        n_blk: 0,
        tail_back: 0,
        out: core::ptr::null_mut(),
        out_stride: c as u32,
        rounding: match q.rounding {
            Rounding::Double => 0,
            Rounding::Single => 1,
        },
        zp: [q.output_zp; 4],
        act: [0; 32],
    };
    a.act[..16].fill(q.act_min);
    a.act[16..].fill(q.act_max);

    let mut c0 = 0;
    while c0 < c {
        let c1 = (c0 + DW_CHUNK).min(c);
        // A chunk has at least 16 channels: a short last chunk overlaps the previous one.
        let cs = if c1 - c0 < 16 { c1 - 16 } else { c0 };
        let nc = c1 - cs;
        let n_blk = nc / 16;
        let tail = nc % 16;
        for blk in 0..n_blk {
            dw_pack_block(
                &mut pack.0[blk * DW_BLOCK..(blk + 1) * DW_BLOCK],
                cs + 16 * blk,
                c,
                q,
                zx,
                filter,
                bias,
            );
        }
        if tail != 0 {
            dw_pack_block(
                &mut pack.0[n_blk * DW_BLOCK..(n_blk + 1) * DW_BLOCK],
                c1 - 16,
                c,
                q,
                zx,
                filter,
                bias,
            );
        }
        let extent = offs[8] + nc;
        a.n_blk = n_blk as u32;
        a.tail_back = if tail == 0 { 0 } else { (16 - tail) as u32 };

        let mut cur = Cursor::default();
        let mut n0 = 0;
        while n0 < npix {
            let run = DW_RUN.min(npix - n0);
            for p in 0..run {
                let row = &mut tab[p * 9..p * 9 + 9];
                let (y0, x0, img) = cur.origin(g);
                cur.advance(g);
                if y0 >= 0 && y0 + y_last < in_h && x0 >= 0 && x0 + x_last < in_w {
                    // All 9 taps in bounds: fixed offsets from one bounds-checked base.
                    let base = span(input, ((img + y0 as usize) * g.in_w + x0 as usize) * c + cs, extent);
                    for (slot, &off) in row.iter_mut().zip(&offs) {
                        *slot = base.wrapping_add(off);
                    }
                } else {
                    for (t, slot) in row.iter_mut().enumerate() {
                        let iy = y0 + ((t / 3) * g.dil_h) as isize;
                        let ix = x0 + ((t % 3) * g.dil_w) as isize;
                        *slot = if iy >= 0 && iy < in_h && ix >= 0 && ix < in_w {
                            span(input, ((img + iy as usize) * g.in_w + ix as usize) * c + cs, nc)
                        } else {
                            pad.as_ptr()
                        };
                    }
                }
            }
            let o = n0 * c + cs;
            assert!(o + (run - 1) * c + nc <= output.len());
            a.tab = tab.as_ptr();
            a.n_pix = run as u32;
            a.pack = pack.0.as_ptr();
            a.out = out_base.wrapping_add(o);
            // SAFETY: every table pointer is valid for `nc` bytes (checked spans of `input`, or
            // the 64-byte pad vector with nc ≤ 64); the kernel reads exactly nc bytes per tap
            // (16·n_blk, then the overlapping block ends at nc); `pack` holds n_blk (+1 if
            // tail) blocks; outputs `o + i·c .. + nc` are in bounds (asserted, i < run);
            // run, n_blk ≥ 1 and tail_back < 16.
            unsafe { neon32_dwconv3x3_i8_16(&mut a) };
            n0 += run;
        }
        c0 = c1;
    }
}

/// int8 DEPTHWISE_CONV_2D, bit-exact to [`reference::depthwise_conv2d_i8`].
///
/// `neon32_dwconv3x3_i8_16` runs 3×3 filters with depth multiplier 1 and `in_c ≥ 16` (any
/// stride, dilation and padding; channel counts that are not a multiple of 16 end with an
/// overlapping block). Other shapes, an input zero point outside `[−128, 127]` and weights of
/// −128 run the reference kernel.
pub fn depthwise_conv2d_i8(
    g: &Window2d,
    depth_multiplier: usize,
    q: &ConvQuant,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    assert_eq!(g.out_c, g.in_c * depth_multiplier);
    assert_eq!(input.len(), g.in_len());
    assert_eq!(filter.len(), g.k_h * g.k_w * g.out_c);
    assert!(bias.is_empty() || bias.len() == g.out_c);
    assert_eq!(q.multipliers.len(), g.out_c);
    assert_eq!(q.shifts.len(), g.out_c);
    assert_eq!(output.len(), g.out_len());
    let fast = depth_multiplier == 1 && g.k_h == 3 && g.k_w == 3 && g.in_c >= 16;
    if let (true, Some(zx)) = (fast, zp_i8(q.input_zp)) {
        if g.batch * g.out_h * g.out_w == 0 {
            return;
        }
        let mut sums = [0i32; 1];
        if rowsum_i8(filter, filter.len(), &mut sums) != i8::MIN {
            dw_fast(g, q, zx, input, filter, bias, output);
            return;
        }
    }
    reference::depthwise_conv2d_i8(g, depth_multiplier, q, input, filter, bias, output);
}

// =============================================================================================
// neon32_add_i8_8: elementwise ADD
// =============================================================================================

#[repr(C)]
struct AddArgs {
    a: *const i8,
    b: *const i8,
    out: *mut i8,
    /// 8-element blocks (≥ 1).
    n8: u32,
    rounding: u32,
    _pad: [u32; 3],
    /// Double: `[sh1, sh2, right1, right2, left_out, right_out, zp_out]` (each × 4, with
    /// `sh_i = left_shift + left_i`), single: `[left_shift, −t1 (i64 × 2), −t2, −t_out, —, —,
    /// zp_out]`; then `[M1, M2, M_out, 0]`, `[zp1 × 8 | zp2 × 8]` (bytes),
    /// `[act_min × 8 | act_max × 8]` (bytes).
    v: [[i32; 4]; 10],
}
const AD_A: usize = offset_of!(AddArgs, a);
const AD_B: usize = offset_of!(AddArgs, b);
const AD_OUT: usize = offset_of!(AddArgs, out);
const AD_N8: usize = offset_of!(AddArgs, n8);
const AD_ROUND: usize = offset_of!(AddArgs, rounding);
const AD_V: usize = offset_of!(AddArgs, v);
const _: () = assert!(AD_A == 0 && AD_B == 4 && AD_OUT == 8 && AD_N8 == 12 && AD_ROUND == 16 && AD_V == 32);

/// Runs the add kernel.
///
/// # Safety
/// `a.a`, `a.b` valid for reads and `a.out` for writes of `8 · n8` bytes, `n8 ≥ 1`.
unsafe fn neon32_add_i8_8(a: &mut AddArgs) {
    // SAFETY: guaranteed by the caller. The asm saves all D registers itself (no callee-saved GPR used).
    unsafe {
        asm!(
            fpu_neon!(),
            save_neon!(),
            "ldr r1, [r0, #{a}]",
            "ldr r2, [r0, #{b}]",
            "ldr r3, [r0, #{out}]",
            "ldr r12, [r0, #{n8}]",
            "ldr lr, [r0, #{round}]",
            "add r0, r0, #{v}",
            "vld1.32 {{d16-d19}}, [r0]!",
            "vld1.32 {{d20-d23}}, [r0]!",
            "vld1.32 {{d24-d27}}, [r0]!",
            "vld1.32 {{d28-d29}}, [r0]!",
            "vld1.32 {{d14-d15}}, [r0]!",
            "vld1.32 {{d30-d31}}, [r0]!",
            "vld1.32 {{d12-d13}}, [r0]",
            "cmp lr, #0",
            "bne 60f",
            // ---- double rounding. q8 sh1, q9 sh2, q10 right1, q11 right2, q12 left_out,
            // q13 right_out, q14 zp_out, d14 = [M1, M2], d15[0] = M_out, d30/d31 zp1/zp2,
            // d12/d13 act bounds.
            "50:",
            "vld1.8 {{d0}}, [r1]!",
            "vld1.8 {{d1}}, [r2]!",
            "vsubl.s8 q1, d0, d30",
            "vsubl.s8 q2, d1, d31",
            "vmovl.s16 q0, d2",
            "vmovl.s16 q3, d3",
            "vmovl.s16 q1, d4",
            "vmovl.s16 q4, d5",
            "vshl.s32 q0, q0, q8",
            "vshl.s32 q3, q3, q8",
            "vqrdmulh.s32 q0, q0, d14[0]",
            "vqrdmulh.s32 q3, q3, d14[0]",
            "vand q2, q0, q10",
            "vand q5, q3, q10",
            "vshr.s32 q2, q2, #31",
            "vshr.s32 q5, q5, #31",
            "vqadd.s32 q0, q0, q2",
            "vqadd.s32 q3, q3, q5",
            "vrshl.s32 q0, q0, q10",
            "vrshl.s32 q3, q3, q10",
            "vshl.s32 q1, q1, q9",
            "vshl.s32 q4, q4, q9",
            "vqrdmulh.s32 q1, q1, d14[1]",
            "vqrdmulh.s32 q4, q4, d14[1]",
            "vand q2, q1, q11",
            "vand q5, q4, q11",
            "vshr.s32 q2, q2, #31",
            "vshr.s32 q5, q5, #31",
            "vqadd.s32 q1, q1, q2",
            "vqadd.s32 q4, q4, q5",
            "vrshl.s32 q1, q1, q11",
            "vrshl.s32 q4, q4, q11",
            "vadd.i32 q0, q0, q1",
            "vadd.i32 q3, q3, q4",
            "vshl.s32 q0, q0, q12",
            "vshl.s32 q3, q3, q12",
            "vqrdmulh.s32 q0, q0, d15[0]",
            "vqrdmulh.s32 q3, q3, d15[0]",
            "vand q2, q0, q13",
            "vand q5, q3, q13",
            "vshr.s32 q2, q2, #31",
            "vshr.s32 q5, q5, #31",
            "vqadd.s32 q0, q0, q2",
            "vqadd.s32 q3, q3, q5",
            "vrshl.s32 q0, q0, q13",
            "vrshl.s32 q3, q3, q13",
            "vqadd.s32 q0, q0, q14",
            "vqadd.s32 q3, q3, q14",
            "vqmovn.s32 d4, q0",
            "vqmovn.s32 d5, q3",
            "vqmovn.s16 d0, q2",
            "vmax.s8 d0, d0, d12",
            "vmin.s8 d0, d0, d13",
            "vst1.8 {{d0}}, [r3]!",
            "subs r12, r12, #1",
            "bne 50b",
            "b 69f",
            // ---- single rounding. q8 left_shift, q9/q10/q11 −t1/−t2/−t_out (i64), q14 zp_out.
            "60:",
            "vld1.8 {{d0}}, [r1]!",
            "vld1.8 {{d1}}, [r2]!",
            "vsubl.s8 q1, d0, d30",
            "vsubl.s8 q2, d1, d31",
            "vmovl.s16 q0, d2",
            "vmovl.s16 q3, d3",
            "vmovl.s16 q1, d4",
            "vmovl.s16 q4, d5",
            "vshl.s32 q0, q0, q8",
            "vshl.s32 q3, q3, q8",
            "vshl.s32 q1, q1, q8",
            "vshl.s32 q4, q4, q8",
            "vmull.s32 q12, d0, d14[0]",
            "vmull.s32 q13, d1, d14[0]",
            "vrshl.s64 q12, q12, q9",
            "vrshl.s64 q13, q13, q9",
            "vqmovn.s64 d0, q12",
            "vqmovn.s64 d1, q13",
            "vmull.s32 q12, d6, d14[0]",
            "vmull.s32 q13, d7, d14[0]",
            "vrshl.s64 q12, q12, q9",
            "vrshl.s64 q13, q13, q9",
            "vqmovn.s64 d6, q12",
            "vqmovn.s64 d7, q13",
            "vmull.s32 q12, d2, d14[1]",
            "vmull.s32 q13, d3, d14[1]",
            "vrshl.s64 q12, q12, q10",
            "vrshl.s64 q13, q13, q10",
            "vqmovn.s64 d2, q12",
            "vqmovn.s64 d3, q13",
            "vmull.s32 q12, d8, d14[1]",
            "vmull.s32 q13, d9, d14[1]",
            "vrshl.s64 q12, q12, q10",
            "vrshl.s64 q13, q13, q10",
            "vqmovn.s64 d8, q12",
            "vqmovn.s64 d9, q13",
            "vadd.i32 q0, q0, q1",
            "vadd.i32 q3, q3, q4",
            "vmull.s32 q12, d0, d15[0]",
            "vmull.s32 q13, d1, d15[0]",
            "vrshl.s64 q12, q12, q11",
            "vrshl.s64 q13, q13, q11",
            "vqmovn.s64 d0, q12",
            "vqmovn.s64 d1, q13",
            "vmull.s32 q12, d6, d15[0]",
            "vmull.s32 q13, d7, d15[0]",
            "vrshl.s64 q12, q12, q11",
            "vrshl.s64 q13, q13, q11",
            "vqmovn.s64 d6, q12",
            "vqmovn.s64 d7, q13",
            "vqadd.s32 q0, q0, q14",
            "vqadd.s32 q3, q3, q14",
            "vqmovn.s32 d4, q0",
            "vqmovn.s32 d5, q3",
            "vqmovn.s16 d0, q2",
            "vmax.s8 d0, d0, d12",
            "vmin.s8 d0, d0, d13",
            "vst1.8 {{d0}}, [r3]!",
            "subs r12, r12, #1",
            "bne 60b",
            "69:",
            restore_neon!(),
            a = const AD_A,
            b = const AD_B,
            out = const AD_OUT,
            n8 = const AD_N8,
            round = const AD_ROUND,
            v = const AD_V,
            inout("r0") a as *mut AddArgs => _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r12") _,
            out("lr") _,
        );
    }
}

/// int8 ADD, bit-exact to [`reference::add_i8`], 8 elements per `neon32_add_i8_8` iteration
/// (a length that is not a multiple of 8 ends with an overlapping block). Inputs shorter than
/// 8 elements or with a zero point outside `[−128, 127]` run the reference kernel.
pub fn add_i8(p: &AddParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    assert_eq!(a.len(), output.len());
    assert_eq!(b.len(), output.len());
    let n = output.len();
    let (Some(z1), Some(z2)) = (zp_i8(p.input1_zp), zp_i8(p.input2_zp)) else {
        return reference::add_i8(p, a, b, output);
    };
    if n < 8 {
        return reference::add_i8(p, a, b, output);
    }
    let left = p.left_shift.clamp(0, 31);
    let mut v = [[0i32; 4]; 10];
    let splat = |x: i32| [x; 4];
    let split64 = |right: i32| {
        let r = i64::from(right);
        [r as i32, (r >> 32) as i32, r as i32, (r >> 32) as i32]
    };
    match p.rounding {
        Rounding::Double => {
            let (l1, r1) = split_shift(p.input1_shift, Rounding::Double);
            let (l2, r2) = split_shift(p.input2_shift, Rounding::Double);
            let (lo, ro) = split_shift(p.output_shift, Rounding::Double);
            // (x << left) << l_i wraps exactly like x << (left + l_i): VSHL gives 0 from 32 on.
            v[0] = splat(left + l1);
            v[1] = splat(left + l2);
            v[2] = splat(r1);
            v[3] = splat(r2);
            v[4] = splat(lo);
            v[5] = splat(ro);
        }
        Rounding::Single => {
            v[0] = splat(left);
            v[1] = split64(split_shift(p.input1_shift, Rounding::Single).1);
            v[2] = split64(split_shift(p.input2_shift, Rounding::Single).1);
            v[3] = split64(split_shift(p.output_shift, Rounding::Single).1);
        }
    }
    v[6] = splat(p.output_zp);
    v[7] = [p.input1_multiplier, p.input2_multiplier, p.output_multiplier, 0];
    let bytes = |lo: i8, hi: i8| {
        let w = |x: i8| i32::from_le_bytes([x as u8; 4]);
        [w(lo), w(lo), w(hi), w(hi)]
    };
    v[8] = bytes(z1, z2);
    v[9] = bytes(p.act_min, p.act_max);
    let mut args = AddArgs {
        a: a.as_ptr(),
        b: b.as_ptr(),
        out: output.as_mut_ptr(),
        n8: (n / 8) as u32,
        rounding: match p.rounding {
            Rounding::Double => 0,
            Rounding::Single => 1,
        },
        _pad: [0; 3],
        v,
    };
    // SAFETY: a, b and output all have n ≥ 8 elements; the kernel touches 8·(n/8) ≤ n of them.
    unsafe { neon32_add_i8_8(&mut args) };
    if n & 7 != 0 {
        // The last 8 elements again (an overlap recomputes identical values).
        args.a = a[n - 8..].as_ptr();
        args.b = b[n - 8..].as_ptr();
        args.out = output[n - 8..].as_mut_ptr();
        args.n8 = 1;
        // SAFETY: the last 8 elements of each slice (n ≥ 8).
        unsafe { neon32_add_i8_8(&mut args) };
    }
}
