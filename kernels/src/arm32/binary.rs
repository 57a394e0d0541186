//! ARMv7-A NEON binary (XNOR-popcount) kernels, tuned for Cortex-A9.
//!
//! Every kernel here has the signature and the bit-exact results of its twin in
//! [`crate::reference::binary`]; `best::binary` re-exports them on ARMv7-A.
//!
//! # Binary convolution: im2col of words + a 4×2 binary GEMM
//!
//! `bconv2d_{bits,f32,i8}` run the same pipeline over *groups* of consecutive output pixels
//! (flat index over batch × out_h × out_w; a group is as many 4-row tiles as fit in 16 KiB):
//!
//! 1. **im2col** (`neon32_bim2col_4`, per 4-row tile): each GEMM *row* is one output pixel's
//!    receptive field, the `k_h · k_w` taps of `words(in_c)` words laid end to end (`Kw` words,
//!    zero-extended to `Kq = ceil(Kw / 4)` 128-bit chunks). Out-of-bounds taps read the fill
//!    word (0 = +1, i.e. one-padding); channel padding bits are masked off when
//!    `in_c % 32 != 0`. Four rows form a *pixel tile*, stored chunk-interleaved
//!    (`[Kq][4 rows][16 bytes]`) so that one `vldm` loads the chunk of all four rows. Whole tap
//!    rows of interior pixels are copied as one run; with `in_c % 128 == 0` straight into the
//!    tile, else through a scratch row.
//! 2. **GEMM** (`neon32_bgemm_b1_4x2`, one call per group and 32-channel block): per pair of
//!    output channels, the two filter rows are first chunk-interleaved (`[Kq][2][16 bytes]`,
//!    masked) into a filter tile, then every pixel tile runs against it. Per 128-bit chunk: one
//!    `vldm` (4 rows), one `vld1` (2 channels) and 8 × (`veor`, `vcnt.8`, `vpadal.u8`) into eight
//!    u16×8 accumulators, i.e. **26 instructions per 1024 binary MACs (3.25 per 128)**; the chunk
//!    loop is unrolled ×4 and the first chunk initialises the accumulators (`vpaddl`). Then a
//!    14-`vpadd` tree to the eight mismatch counts, stored as u16 into the group's count matrix
//!    `S[row][oc]` (4 lane stores).
//! 3. **epilogue** over the 32-channel block for every pixel of the group
//!    (`neon32_bepi_bits`, `neon32_bepi_f32`, `neon32_bepi_i8`).
//!
//! # Padding and the accumulator
//!
//! With one-padding a pixel has one row and `acc = K_full − 2·S[row]`. With zero padding a pixel
//! that touches the border gets a *second* row, identical except that its out-of-bounds taps are
//! filled with all-ones: for the in-bounds terms both rows count the same mismatches `pop_in`,
//! and for every out-of-bounds word the two rows count `popcount(w) + popcount(!w) = bits`, so
//! `S[r] + S[r'] = 2·pop_in + n_oob·in_c` and the reference's
//! `acc = K_in − 2·pop_in = K_full − (S[r] + S[r'])`. Every epilogue therefore works on
//! `s = S[rowA] + S[rowB]` (`rowB == rowA` for one row) and `acc = K_full − s`, `0 <= s <= 2K`.
//! (Border pixels of zero-padded layers thus cost two GEMM rows.)
//!
//! Bits: `acc < thr ⇔ s >= K − thr + 1`, one `vcge.u16` per 8 channels against a per-channel
//! bound clamped to `[0, 0xFFFF]` (`s <= 2K <= 65534`, so `0xFFFF` means "never": that is also
//! what keeps output padding bits 0).
//!
//! Float/int8: `x = K − clamp(acc) = max(min(s, K − lo), K − hi)`, computed with `vmin/vmax.u16`
//! on `s`, then `f32(x) * m + b` with separate `vmul`/`vadd` (no fused multiply-add). ARMv7 NEON
//! always flushes subnormals to zero and returns the default NaN, so the float path is used only
//! when every multiplier is zero, normal or infinite and every bias is zero, infinite or at least
//! 2^-100 in magnitude: then no operand or result of the two operations can be subnormal and no
//! NaN payload can arise from the inputs (see `f32_epilogue_is_exact`); otherwise the float
//! epilogue runs in scalar VFP code (IEEE, like the reference). Int8 rounding (half away from
//! zero) is `(t + (t >> 31) + 1) >> 1` (saturating add, rounding shift) on `t = trunc(2y)`
//! (`vcvt` with one fraction bit, saturating), then two saturating narrows; flushing cannot
//! change a rounded int8 value, so it is always exact.
//!
//! # Limits of the fast path (anything else runs the reference kernel)
//!
//! `K = k_h·k_w·in_c <= 32767` (counts are u16 and `s <= 2K`), `Kq <= 128` chunks
//! (`k_h·k_w·words(in_c) <= 512` words), `k_h <= 32`, `k_w <= 31`. Stack use of one conv call
//! is about 30 KiB (im2col 16 KiB, filter tile 4 KiB, scratch and mask rows 4 KiB, counts
//! 4 KiB, row descriptors 1 KiB). Max-pool with dilation runs the reference.
//!
//! # Cost (instructions retired, `qemu-arm -cpu cortex-a9`, whole kernel call)
//!
//! 3×3 conv 14×14×256→256, one-padding, bits output: 3.34 M instructions for 115.6 M binary
//! MACs, 34.6 MACs per instruction (the GEMM loop alone: 39.4).
//!
//! # The asm boundary
//!
//! Each kernel is an AAPCS function in `global_asm!` (so the compiler treats every NEON and
//! general register as a normal call would, whatever FPU features the crate is built with; the
//! functions save d8–d15 and r4–r11 themselves) that takes exactly one pointer to a `#[repr(C)]`
//! argument struct. The field offsets are named constants, asserted against `offset_of!` at
//! compile time and substituted into the asm text. The templates start with `asm_fn_begin!`
//! (the per-object-format directives, ELF or Mach-O, below): `.arm`, and `.fpu neon` on ELF
//! (Mach-O takes NEON from the target's features). The functions are ARM-state code on every
//! target (Thumb-2 callers, e.g. `thumbv7neon-*`, reach them through the linker's interworking
//! `blx`; a Thumb-assembled `global_asm!` label would not get the Thumb bit without
//! `.thumb_func`).

// `x % n == 0` rather than `is_multiple_of` (Rust 1.87; the workspace declares 1.80).
#![allow(clippy::manual_is_multiple_of)]

use core::arch::global_asm;
use core::mem::{offset_of, size_of, MaybeUninit};

use crate::neon_common::binary::{
    self as common, as_bytes_mut_f32, as_bytes_mut_i8, as_bytes_mut_u32, block_params, epilogue_bounds,
    low_bits, scalar_epilogue, Align16, ConvPlan, FilterBlock, Output, PixelCursor, PixelTaps, KQ_MAX,
    OC_BLOCK, RUN,
};
use crate::reference::binary::{self as rb, BConvEpilogue, PadValue};
use crate::reference::Window2d;

// ---------------------------------------------------------------------------------------------
// Object-format directives: the one place the kernels' asm differs per platform.
//
// `asm_fn_begin!("name")` opens the asm function `name` (a global, hidden, 16-byte aligned
// ARM-state NEON symbol in its own code section) and `asm_fn_end!("name")` closes it; the
// instructions between them are the same everywhere.
// - ELF (Linux, bare metal): section `.text.name` (so unused kernels are garbage collected),
//   `.fpu neon`, `.hidden`, `.type name,%function` and `.size`.
// - Mach-O (Apple: the iPad 2 target `targets/ios/armv7-apple-ios.json`): C symbols carry a
//   leading underscore (`extern "C" { fn name(); }` links to `_name`), code goes in
//   `__TEXT,__text`, hidden is `.private_extern`, and there is no `.type`/`.size`. Mach-O
//   assemblers take no `.fpu`: NEON comes from the target's features (`+neon`).

#[cfg(not(target_vendor = "apple"))]
macro_rules! asm_fn_begin {
    ($name:literal) => {
        concat!(
            concat!(".pushsection .text.", $name, ",\"ax\",%progbits\n"),
            ".fpu neon\n",
            ".syntax unified\n",
            ".arm\n",
            concat!(".globl ", $name, "\n"),
            concat!(".hidden ", $name, "\n"),
            concat!(".type ", $name, ",%function\n"),
            ".p2align 4\n",
            concat!($name, ":"),
        )
    };
}
#[cfg(not(target_vendor = "apple"))]
macro_rules! asm_fn_end {
    ($name:literal) => {
        concat!(".size ", $name, ", .-", $name, "\n", ".popsection")
    };
}

#[cfg(target_vendor = "apple")]
macro_rules! asm_fn_begin {
    ($name:literal) => {
        concat!(
            ".pushsection __TEXT,__text,regular,pure_instructions\n",
            ".syntax unified\n",
            ".arm\n",
            concat!(".globl _", $name, "\n"),
            concat!(".private_extern _", $name, "\n"),
            ".p2align 4\n",
            concat!("_", $name, ":"),
        )
    };
}
#[cfg(target_vendor = "apple")]
macro_rules! asm_fn_end {
    ($name:literal) => {
        ".popsection"
    };
}

// ---------------------------------------------------------------------------------------------
// Tiling constants.

/// Rows (output pixels) per GEMM tile.
const TILE_ROWS: usize = 4;
/// Output channels per GEMM tile.
const TILE_OC: usize = 2;
// `OC_BLOCK`, `KQ_MAX` and `K_MAX` are shared with arm64 (`neon_common::binary`).
/// Bytes of the im2col buffer (a group is as many 4-row tiles as fit).
const A_BYTES: usize = 16384;
/// Maximum tiles per group.
const MAX_TILES: usize = 16;
const MAX_ROWS: usize = MAX_TILES * TILE_ROWS;
const _: () = assert!(OC_BLOCK % TILE_OC == 0);

// ---------------------------------------------------------------------------------------------
// GEMM: neon32_bgemm_b1_4x2

/// Arguments of `neon32_bgemm_b1_4x2`: one block of `n_oc` output channels (2 per tile)
/// against `tiles` pixel tiles.
#[repr(C)]
struct GemmArgs {
    /// Pixel tiles: `[tiles][kq][4 rows][4 words]`, 16-byte aligned.
    a: *const u32,
    /// Filter tile buffer `[kq][2 oc][4 words]`, 16-byte aligned; rewritten per channel pair.
    f: *mut u32,
    /// Count matrix entry `S[0][0]` (u16); channel pair `2j` stores `S[r][2j..2j + 2]`.
    s: *mut u16,
    /// Bytes between two rows of `S`.
    s_stride: u32,
    /// Chunks per row (>= 1).
    kq: u32,
    /// Pixel tiles (>= 1).
    tiles: u32,
    /// Filter row of the block's first output channel; the next rows follow `f_stride` bytes
    /// apart. An odd last channel is paired with itself.
    f0: *const u32,
    f_stride: u32,
    /// Output channels in the block (>= 1).
    n_oc: u32,
    /// Full chunks to repack per row (each reads 4 words), `chunks + (tail > 0) <= kq`.
    chunks: u32,
    /// Mask row (16-byte aligned, `4·(chunks + (tail > 0))` words) or null.
    mask: *const u32,
    /// Words (0..=3) of a partial chunk after the full ones, repacked zero-extended.
    tail: u32,
}
const GA_A: usize = 0;
const GA_F: usize = 4;
const GA_S: usize = 8;
const GA_SSTRIDE: usize = 12;
const GA_KQ: usize = 16;
const GA_TILES: usize = 20;
const GA_F0: usize = 24;
const GA_FSTRIDE: usize = 28;
const GA_NOC: usize = 32;
const GA_CHUNKS: usize = 36;
const GA_MASK: usize = 40;
const GA_TAIL: usize = 44;
const _: () = assert!(offset_of!(GemmArgs, a) == GA_A);
const _: () = assert!(offset_of!(GemmArgs, f) == GA_F);
const _: () = assert!(offset_of!(GemmArgs, s) == GA_S);
const _: () = assert!(offset_of!(GemmArgs, s_stride) == GA_SSTRIDE);
const _: () = assert!(offset_of!(GemmArgs, kq) == GA_KQ);
const _: () = assert!(offset_of!(GemmArgs, tiles) == GA_TILES);
const _: () = assert!(offset_of!(GemmArgs, f0) == GA_F0);
const _: () = assert!(offset_of!(GemmArgs, f_stride) == GA_FSTRIDE);
const _: () = assert!(offset_of!(GemmArgs, n_oc) == GA_NOC);
const _: () = assert!(offset_of!(GemmArgs, chunks) == GA_CHUNKS);
const _: () = assert!(offset_of!(GemmArgs, mask) == GA_MASK);
const _: () = assert!(offset_of!(GemmArgs, tail) == GA_TAIL);
const _: () = assert!(size_of::<GemmArgs>() == 48);

/// One 128-bit chunk of the 4×2 tile: A rows in q0–q3, filter channels in q4/q5, temporaries
/// q6/q7, accumulators q8–q15 (`q8 + 2·row + oc`). `$acc` is `vpaddl.u8` for the first chunk
/// (initialises the accumulators) and `vpadal.u8` after.
macro_rules! gemm_chunk {
    ($acc:literal) => {
        concat!(
            "vldm r1!, {{d0-d7}}\n",
            "vld1.32 {{d8-d11}}, [r7:128]!\n",
            "veor q6, q0, q4\n",
            "veor q7, q0, q5\n",
            "vcnt.8 q6, q6\n",
            "vcnt.8 q7, q7\n",
            $acc,
            " q8, q6\n",
            $acc,
            " q9, q7\n",
            "veor q6, q1, q4\n",
            "veor q7, q1, q5\n",
            "vcnt.8 q6, q6\n",
            "vcnt.8 q7, q7\n",
            $acc,
            " q10, q6\n",
            $acc,
            " q11, q7\n",
            "veor q6, q2, q4\n",
            "veor q7, q2, q5\n",
            "vcnt.8 q6, q6\n",
            "vcnt.8 q7, q7\n",
            $acc,
            " q12, q6\n",
            $acc,
            " q13, q7\n",
            "veor q6, q3, q4\n",
            "veor q7, q3, q5\n",
            "vcnt.8 q6, q6\n",
            "vcnt.8 q7, q7\n",
            $acc,
            " q14, q6\n",
            $acc,
            " q15, q7\n",
        )
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon32_bgemm_b1_4x2"),
    "push {{r4-r8, r10, r11, lr}}",
    "vpush {{d8-d15}}",
    // r10: filter row of the pair's first channel, r11: its index in the block.
    "ldr r10, [r0, #{f0}]",
    "mov r11, #0",
    "10:",
    // Repack: chunk-interleave (and mask) the pair's two filter rows into the filter tile.
    "mov r1, r10",
    "ldr lr, [r0, #{fstride}]",
    "add r2, r10, lr",
    "add r12, r11, #1",
    "ldr lr, [r0, #{noc}]",
    "cmp r12, lr",
    "blt 13f",
    "mov r2, r10",
    "13:",

    "ldr r3, [r0, #{f}]",
    "ldr r12, [r0, #{chunks}]",
    "ldr r4, [r0, #{mask}]",
    "cmp r12, #0",
    "beq 16f",
    "cmp r4, #0",
    "bne 15f",
    // unmasked, two chunks per iteration (q0/q1 = row 0, q2/q3 = row 1)
    "subs r12, r12, #2",
    "blt 12f",
    "11:",
    "vld1.32 {{d0-d3}}, [r1]!",
    "vld1.32 {{d4-d7}}, [r2]!",
    "vswp q1, q2",
    "vst1.32 {{d0-d3}}, [r3:128]!",
    "vst1.32 {{d4-d7}}, [r3:128]!",
    "subs r12, r12, #2",
    "bge 11b",
    "12:",
    "tst r12, #1",
    "beq 16f",
    "vld1.32 {{d0-d1}}, [r1]!",
    "vld1.32 {{d2-d3}}, [r2]!",
    "vst1.32 {{d0-d3}}, [r3:128]!",
    "b 16f",
    "15:",
    "vld1.32 {{d0-d1}}, [r1]!",
    "vld1.32 {{d2-d3}}, [r2]!",
    "vld1.32 {{d4-d5}}, [r4:128]!",
    "vand q0, q0, q2",
    "vand q1, q1, q2",
    "vst1.32 {{d0-d3}}, [r3:128]!",
    "subs r12, r12, #1",
    "bne 15b",
    "16:",
    // Partial chunk of 1-3 words, zero-extended (and masked).
    "ldr r12, [r0, #{tail}]",
    "cmp r12, #0",
    "beq 19f",
    "vmov.i32 q0, #0",
    "vmov.i32 q1, #0",
    "tst r12, #2",
    "beq 17f",
    "vld1.32 {{d0}}, [r1]!",
    "vld1.32 {{d2}}, [r2]!",
    "tst r12, #1",
    "beq 18f",
    "vld1.32 {{d1[0]}}, [r1]",
    "vld1.32 {{d3[0]}}, [r2]",
    "b 18f",
    "17:",
    "vld1.32 {{d0[0]}}, [r1]",
    "vld1.32 {{d2[0]}}, [r2]",
    "18:",
    "cmp r4, #0",
    "beq 14f",
    "vld1.32 {{d4-d5}}, [r4:128]",
    "vand q0, q0, q2",
    "vand q1, q1, q2",
    "14:",
    "vst1.32 {{d0-d3}}, [r3:128]",
    "19:",
    "ldr r1, [r0, #{a}]",
    "ldr r2, [r0, #{f}]",
    "ldr r3, [r0, #{s}]",
    "add r3, r3, r11, lsl #1",
    "ldr r4, [r0, #{ss}]",
    "ldr r5, [r0, #{kq}]",
    "ldr r6, [r0, #{tiles}]",
    "1:",
    "mov r7, r2",
    gemm_chunk!("vpaddl.u8"),
    "subs r8, r5, #5",
    "blt 3f",
    "2:",
    gemm_chunk!("vpadal.u8"),
    gemm_chunk!("vpadal.u8"),
    gemm_chunk!("vpadal.u8"),
    gemm_chunk!("vpadal.u8"),
    "subs r8, r8, #4",
    "bge 2b",
    "3:",
    "adds r8, r8, #4",
    "beq 5f",
    "4:",
    gemm_chunk!("vpadal.u8"),
    "subs r8, r8, #1",
    "bne 4b",
    "5:",
    // Reduce each u16x8 accumulator to one lane: [r0o0, r0o1, r1o0, r1o1] in d0,
    // [r2o0, r2o1, r3o0, r3o1] in d1 (lanes are <= K <= 32767, no overflow).
    "vpadd.i16 d0, d16, d17",
    "vpadd.i16 d1, d18, d19",
    "vpadd.i16 d2, d20, d21",
    "vpadd.i16 d3, d22, d23",
    "vpadd.i16 d4, d24, d25",
    "vpadd.i16 d5, d26, d27",
    "vpadd.i16 d6, d28, d29",
    "vpadd.i16 d7, d30, d31",
    "vpadd.i16 d0, d0, d1",
    "vpadd.i16 d1, d2, d3",
    "vpadd.i16 d2, d4, d5",
    "vpadd.i16 d3, d6, d7",
    "vpadd.i16 d0, d0, d1",
    "vpadd.i16 d1, d2, d3",
    "vst1.32 {{d0[0]}}, [r3], r4",
    "vst1.32 {{d0[1]}}, [r3], r4",
    "vst1.32 {{d1[0]}}, [r3], r4",
    "vst1.32 {{d1[1]}}, [r3], r4",
    "subs r6, r6, #1",
    "bne 1b",
    // Next channel pair.
    "ldr lr, [r0, #{fstride}]",
    "add r10, r10, lr, lsl #1",
    "add r11, r11, #2",
    "ldr lr, [r0, #{noc}]",
    "cmp r11, lr",
    "blt 10b",
    "vpop {{d8-d15}}",
    "pop {{r4-r8, r10, r11, pc}}",
    asm_fn_end!("doppler_neon32_bgemm_b1_4x2"),
    a = const GA_A,
    f = const GA_F,
    s = const GA_S,
    ss = const GA_SSTRIDE,
    kq = const GA_KQ,
    tiles = const GA_TILES,
    f0 = const GA_F0,
    fstride = const GA_FSTRIDE,
    noc = const GA_NOC,
    chunks = const GA_CHUNKS,
    mask = const GA_MASK,
    tail = const GA_TAIL,
);

// ---------------------------------------------------------------------------------------------
// im2col: neon32_bim2col_4

/// Where one GEMM row reads its taps from.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RowDesc {
    /// Address of input pixel `(b, iy0, ix0)` of the top-left tap, as an integer: it may lie
    /// outside the input; only in-bounds taps are dereferenced.
    base: usize,
    /// Bit `ky` set iff tap row `ky` is inside the input.
    rowmask: u32,
    /// Bit `kx` set iff tap column `kx` is inside the input; bit 31 (`RUN`) set iff all
    /// `k_w <= 31` columns are and they are contiguous (dilation 1): the tap row is one run.
    colmask: u32,
    /// Word written for out-of-bounds taps (0: +1 / one-padding; !0: the zero-padding twin row).
    fill: u32,
}
const RD_BASE: usize = 0;
const RD_ROWMASK: usize = 4;
const RD_COLMASK: usize = 8;
const RD_FILL: usize = 12;
const _: () = assert!(offset_of!(RowDesc, base) == RD_BASE);
const _: () = assert!(offset_of!(RowDesc, rowmask) == RD_ROWMASK);
const _: () = assert!(offset_of!(RowDesc, colmask) == RD_COLMASK);
const _: () = assert!(offset_of!(RowDesc, fill) == RD_FILL);
const _: () = assert!(size_of::<RowDesc>() == 16);

impl RowDesc {
    /// The row of a pixel's taps, out-of-bounds taps reading `fill`.
    fn new(t: &PixelTaps, fill: u32) -> Self {
        RowDesc { base: t.base, rowmask: t.rowmask, colmask: t.colmask, fill }
    }
}

/// Arguments of `neon32_bim2col_4`.
#[repr(C)]
struct Im2colArgs {
    /// Destination pixel tile `[kq][4][4 words]`, 16-byte aligned.
    dst: *mut u32,
    /// Scratch row of `kq * 4` words, 16-byte aligned, words `[Kw, 4·kq)` zero.
    tmp: *mut u32,
    /// Mask row (`kq * 4` words, 16-byte aligned) or null.
    mask: *const u32,
    /// `rows` row descriptors.
    descs: *const RowDesc,
    kq: u32,
    k_h: u32,
    k_w: u32,
    /// Words per tap (`words(in_c)`).
    tap_words: u32,
    /// `k_w * tap_words`: the words of a tap row copied as one run (`RUN` rows).
    run_words: u32,
    /// Bytes from one tap row to the next (`dil_h · in_w · words · 4`).
    row_step: u32,
    /// Bytes from one tap column to the next (`dil_w · words · 4`).
    col_step: u32,
    /// Rows to build (4).
    rows: u32,
    /// Nonzero: copy taps straight into the tile (needs `tap_words % 4 == 0` and no mask);
    /// zero: build each row in `tmp`, then scatter (and mask) it into the tile.
    direct: u32,
}
const IA_DST: usize = 0;
const IA_TMP: usize = 4;
const IA_MASK: usize = 8;
const IA_DESCS: usize = 12;
const IA_KQ: usize = 16;
const IA_KH: usize = 20;
const IA_KW: usize = 24;
const IA_TAPW: usize = 28;
const IA_RUNW: usize = 32;
const IA_ROWSTEP: usize = 36;
const IA_COLSTEP: usize = 40;
const IA_ROWS: usize = 44;
const IA_DIRECT: usize = 48;
const _: () = assert!(offset_of!(Im2colArgs, dst) == IA_DST);
const _: () = assert!(offset_of!(Im2colArgs, tmp) == IA_TMP);
const _: () = assert!(offset_of!(Im2colArgs, mask) == IA_MASK);
const _: () = assert!(offset_of!(Im2colArgs, descs) == IA_DESCS);
const _: () = assert!(offset_of!(Im2colArgs, kq) == IA_KQ);
const _: () = assert!(offset_of!(Im2colArgs, k_h) == IA_KH);
const _: () = assert!(offset_of!(Im2colArgs, k_w) == IA_KW);
const _: () = assert!(offset_of!(Im2colArgs, tap_words) == IA_TAPW);
const _: () = assert!(offset_of!(Im2colArgs, run_words) == IA_RUNW);
const _: () = assert!(offset_of!(Im2colArgs, row_step) == IA_ROWSTEP);
const _: () = assert!(offset_of!(Im2colArgs, col_step) == IA_COLSTEP);
const _: () = assert!(offset_of!(Im2colArgs, rows) == IA_ROWS);
const _: () = assert!(offset_of!(Im2colArgs, direct) == IA_DIRECT);
const _: () = assert!(size_of::<Im2colArgs>() == 52);

/// The row loop of the im2col, with numeric label prefix `$p`: for each of the tile's rows,
/// for each tap row, either one run copy (all columns in bounds and contiguous), tap-by-tap
/// copies / fills, or one fill of the whole tap row; then `$after` (the scatter of `tmp`, or
/// nothing). `$start` points r1 at the row's destination; `$copy`/`$fill` are the subroutine
/// labels. Registers: r4 descriptor, r5 tap-row cursor, r6 rowmask (shifted), r7 colmask,
/// r8 tap rows left, r10 column bits with a sentinel bit at `k_w`, r11 column cursor, r12 = 64.
macro_rules! im2col_rows {
    ($p:literal, $start:literal, $copy:literal, $fill:literal, $after:expr) => {
        concat!(
            $p,
            "20:\n",
            $start,
            "\n",
            "ldr r5, [r4, #{rd_base}]\n",
            "ldr r6, [r4, #{rd_rowmask}]\n",
            "ldr r7, [r4, #{rd_colmask}]\n",
            "add lr, r4, #{rd_fill}\n",
            "vld1.32 {{d30[], d31[]}}, [lr]\n",
            "vmov q14, q15\n",
            "ldr r8, [r0, #{kh}]\n",
            $p,
            "21:\n",
            "tst r6, #1\n",
            "beq ",
            $p,
            "25f\n",
            "tst r7, #0x80000000\n",
            "beq ",
            $p,
            "22f\n",
            "ldr r3, [r0, #{runw}]\n",
            "mov r2, r5\n",
            "bl ",
            $copy,
            "f\n",
            "b ",
            $p,
            "26f\n",
            $p,
            "22:\n",
            "mov r11, r5\n",
            "ldr lr, [r0, #{kw}]\n",
            "mov r10, #1\n",
            "lsl r10, r10, lr\n",
            "orr r10, r10, r7\n",
            "bic r10, r10, #0x80000000\n",
            $p,
            "23:\n",
            "ldr r3, [r0, #{tapw}]\n",
            "tst r10, #1\n",
            "beq ",
            $p,
            "24f\n",
            "mov r2, r11\n",
            "bl ",
            $copy,
            "f\n",
            "b ",
            $p,
            "27f\n",
            $p,
            "24:\n",
            "bl ",
            $fill,
            "f\n",
            $p,
            "27:\n",
            "ldr lr, [r0, #{colstep}]\n",
            "add r11, r11, lr\n",
            "lsr r10, r10, #1\n",
            "cmp r10, #1\n",
            "bne ",
            $p,
            "23b\n",
            "b ",
            $p,
            "26f\n",
            $p,
            "25:\n",
            "ldr r3, [r0, #{tapw}]\n",
            "ldr lr, [r0, #{kw}]\n",
            "mul r3, r3, lr\n",
            "bl ",
            $fill,
            "f\n",
            $p,
            "26:\n",
            "ldr lr, [r0, #{rowstep}]\n",
            "add r5, r5, lr\n",
            "lsr r6, r6, #1\n",
            "subs r8, r8, #1\n",
            "bne ",
            $p,
            "21b\n",
            $after,
            "ldr r2, [sp, #0]\n",
            "add r2, r2, #16\n",
            "str r2, [sp, #0]\n",
            "add r4, r4, #{rd_size}\n",
            "ldr lr, [sp, #4]\n",
            "subs lr, lr, #1\n",
            "str lr, [sp, #4]\n",
            "bne ",
            $p,
            "20b\n",
            "b 90f\n",
        )
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon32_bim2col_4"),
    "push {{r4-r8, r10, r11, lr}}",
    "sub sp, sp, #8",
    // [sp, #0]: the current row's column in the tile; [sp, #4]: rows left.
    "ldr r4, [r0, #{descs}]",
    "ldr lr, [r0, #{dst}]",
    "str lr, [sp, #0]",
    "ldr lr, [r0, #{rows}]",
    "str lr, [sp, #4]",
    "mov r12, #64",
    "ldr lr, [r0, #{direct}]",
    "cmp lr, #0",
    "bne 300f",
    // Via tmp: contiguous row, then scatter into the column with stride 64, masked if asked.
    im2col_rows!(
        "2",
        "ldr r1, [r0, #{tmp}]",
        "40",
        "50",
        concat!(
            "ldr r1, [r0, #{tmp}]\n",
            "ldr r2, [sp, #0]\n",
            "ldr r3, [r0, #{kq}]\n",
            "ldr lr, [r0, #{mask}]\n",
            "cmp lr, #0\n",
            "beq 231f\n",
            "230:\n",
            "vld1.32 {{d0-d1}}, [r1:128]!\n",
            "vld1.32 {{d2-d3}}, [lr:128]!\n",
            "vand q0, q0, q1\n",
            "vst1.32 {{d0-d1}}, [r2:128], r12\n",
            "subs r3, r3, #1\n",
            "bne 230b\n",
            "b 232f\n",
            "231:\n",
            "vld1.32 {{d0-d1}}, [r1:128]!\n",
            "vst1.32 {{d0-d1}}, [r2:128], r12\n",
            "subs r3, r3, #1\n",
            "bne 231b\n",
            "232:\n",
        )
    ),
    // Direct: every tap is whole chunks, copied into the column with stride 64.
    "300:",
    im2col_rows!("3", "ldr r1, [sp, #0]", "60", "70", ""),
    "90:",
    "add sp, sp, #8",
    "pop {{r4-r8, r10, r11, pc}}",
    // Subroutine: copy r3 words from [r2] to [r1] (both advance). Clobbers r3, q0, q1.
    // After `subs r3, #8` fails, r3 = n - 8 (mod 8) and its low three bits are those of n.
    "40:",
    "subs r3, r3, #8",
    "blt 42f",
    "41:",
    "vld1.32 {{d0-d3}}, [r2]!",
    "vst1.32 {{d0-d3}}, [r1]!",
    "subs r3, r3, #8",
    "bge 41b",
    "42:",
    "tst r3, #4",
    "beq 43f",
    "vld1.32 {{d0-d1}}, [r2]!",
    "vst1.32 {{d0-d1}}, [r1]!",
    "43:",
    "tst r3, #2",
    "beq 44f",
    "vld1.32 {{d0}}, [r2]!",
    "vst1.32 {{d0}}, [r1]!",
    "44:",
    "tst r3, #1",
    "beq 45f",
    "vld1.32 {{d0[0]}}, [r2]!",
    "vst1.32 {{d0[0]}}, [r1]!",
    "45:",
    "bx lr",
    // Subroutine: write r3 fill words (q14 = q15 = fill) to [r1] (advances). Clobbers r3.
    "50:",
    "subs r3, r3, #8",
    "blt 52f",
    "51:",
    "vst1.32 {{d28-d31}}, [r1]!",
    "subs r3, r3, #8",
    "bge 51b",
    "52:",
    "tst r3, #4",
    "beq 53f",
    "vst1.32 {{d30-d31}}, [r1]!",
    "53:",
    "tst r3, #2",
    "beq 54f",
    "vst1.32 {{d30}}, [r1]!",
    "54:",
    "tst r3, #1",
    "beq 55f",
    "vst1.32 {{d30[0]}}, [r1]!",
    "55:",
    "bx lr",
    // Direct subroutine: copy r3 words (a multiple of 4) from [r2] (advances) into 16-byte
    // chunks at r1, r1 + 64, ... (advances). Clobbers r3, q0, q1.
    "60:",
    "subs r3, r3, #8",
    "blt 62f",
    "61:",
    "vld1.32 {{d0-d3}}, [r2]!",
    "vst1.32 {{d0-d1}}, [r1:128], r12",
    "vst1.32 {{d2-d3}}, [r1:128], r12",
    "subs r3, r3, #8",
    "bge 61b",
    "62:",
    "tst r3, #4",
    "beq 63f",
    "vld1.32 {{d0-d1}}, [r2]!",
    "vst1.32 {{d0-d1}}, [r1:128], r12",
    "63:",
    "bx lr",
    // Direct subroutine: r3 fill words (a multiple of 4) as chunks at r1, r1 + 64, ...
    "70:",
    "subs r3, r3, #4",
    "blt 72f",
    "71:",
    "vst1.32 {{d30-d31}}, [r1:128], r12",
    "subs r3, r3, #4",
    "bge 71b",
    "72:",
    "bx lr",
    asm_fn_end!("doppler_neon32_bim2col_4"),
    dst = const IA_DST,
    tmp = const IA_TMP,
    mask = const IA_MASK,
    descs = const IA_DESCS,
    kq = const IA_KQ,
    kh = const IA_KH,
    kw = const IA_KW,
    tapw = const IA_TAPW,
    runw = const IA_RUNW,
    rowstep = const IA_ROWSTEP,
    colstep = const IA_COLSTEP,
    rows = const IA_ROWS,
    direct = const IA_DIRECT,
    rd_base = const RD_BASE,
    rd_rowmask = const RD_ROWMASK,
    rd_colmask = const RD_COLMASK,
    rd_fill = const RD_FILL,
    rd_size = const size_of::<RowDesc>(),
);

// ---------------------------------------------------------------------------------------------
// Epilogues: neon32_bepi_bits / neon32_bepi_f32 / neon32_bepi_i8

/// Arguments of the epilogue kernels (one block of up to 32 output channels, `n_pix` pixels).
#[repr(C)]
struct EpiArgs {
    /// `S[0][block start]`, u16, rows `s_stride` bytes apart, at least 32 entries per row.
    s: *const u16,
    s_stride: u32,
    /// Per pixel: `rowA | rowB << 16`.
    rows: *const u32,
    n_pix: u32,
    /// Output of the first pixel at the block's first channel (bits: its word).
    out: *mut u8,
    /// Bytes between consecutive pixels' outputs.
    out_stride: u32,
    /// Bits: `[u16; 32]` bounds (16-byte aligned). Float/int8: the block's multipliers
    /// (`ceil8(n_oc)` readable).
    c0: *const u8,
    /// Bits: `[u8; 16]` bit weights. Float/int8: the block's biases (`ceil8(n_oc)` readable).
    c1: *const u8,
    /// Channels in the block (float/int8), 1..=32.
    n_oc: u32,
    /// Float/int8: `x = max(min(s, hi), lo)` as `lo | hi << 16`.
    lohi: u32,
}
const EA_S: usize = 0;
const EA_SSTRIDE: usize = 4;
const EA_ROWS: usize = 8;
const EA_NPIX: usize = 12;
const EA_OUT: usize = 16;
const EA_OSTRIDE: usize = 20;
const EA_C0: usize = 24;
const EA_C1: usize = 28;
const EA_NOC: usize = 32;
const EA_LOHI: usize = 36;
const _: () = assert!(offset_of!(EpiArgs, s) == EA_S);
const _: () = assert!(offset_of!(EpiArgs, s_stride) == EA_SSTRIDE);
const _: () = assert!(offset_of!(EpiArgs, rows) == EA_ROWS);
const _: () = assert!(offset_of!(EpiArgs, n_pix) == EA_NPIX);
const _: () = assert!(offset_of!(EpiArgs, out) == EA_OUT);
const _: () = assert!(offset_of!(EpiArgs, out_stride) == EA_OSTRIDE);
const _: () = assert!(offset_of!(EpiArgs, c0) == EA_C0);
const _: () = assert!(offset_of!(EpiArgs, c1) == EA_C1);
const _: () = assert!(offset_of!(EpiArgs, n_oc) == EA_NOC);
const _: () = assert!(offset_of!(EpiArgs, lohi) == EA_LOHI);
const _: () = assert!(size_of::<EpiArgs>() == 40);

global_asm!(
    asm_fn_begin!("doppler_neon32_bepi_bits"),
    "push {{r4-r8, lr}}",
    "vpush {{d8-d15}}",
    "ldr r1, [r0, #{s}]",
    "ldr r2, [r0, #{ss}]",
    "ldr r3, [r0, #{rows}]",
    "ldr r4, [r0, #{npix}]",
    "ldr r5, [r0, #{out}]",
    "ldr r6, [r0, #{os}]",
    "ldr r12, [r0, #{c0}]",
    "vld1.16 {{d16-d19}}, [r12:128]!",
    "vld1.16 {{d20-d23}}, [r12:128]",
    "ldr r12, [r0, #{c1}]",
    "vld1.8 {{d24-d25}}, [r12]",
    "1:",
    "ldr r7, [r3], #4",
    "uxth r8, r7",
    "lsr r7, r7, #16",
    "mla r8, r8, r2, r1",
    "mla r7, r7, r2, r1",
    "vld1.16 {{d0-d3}}, [r8]!",
    "vld1.16 {{d4-d7}}, [r8]",
    "vld1.16 {{d8-d11}}, [r7]!",
    "vld1.16 {{d12-d15}}, [r7]",
    "vadd.i16 q0, q0, q4",
    "vadd.i16 q1, q1, q5",
    "vadd.i16 q2, q2, q6",
    "vadd.i16 q3, q3, q7",
    "vcge.u16 q0, q0, q8",
    "vcge.u16 q1, q1, q9",
    "vcge.u16 q2, q2, q10",
    "vcge.u16 q3, q3, q11",
    "vmovn.i16 d8, q0",
    "vmovn.i16 d9, q1",
    "vmovn.i16 d10, q2",
    "vmovn.i16 d11, q3",
    "vand q4, q4, q12",
    "vand q5, q5, q12",
    "vpadd.i8 d0, d8, d9",
    "vpadd.i8 d1, d10, d11",
    "vpadd.i8 d0, d0, d1",
    "vpadd.i8 d0, d0, d0",
    "vst1.32 {{d0[0]}}, [r5], r6",
    "subs r4, r4, #1",
    "bne 1b",
    "vpop {{d8-d15}}",
    "pop {{r4-r8, pc}}",
    asm_fn_end!("doppler_neon32_bepi_bits"),
    s = const EA_S,
    ss = const EA_SSTRIDE,
    rows = const EA_ROWS,
    npix = const EA_NPIX,
    out = const EA_OUT,
    os = const EA_OSTRIDE,
    c0 = const EA_C0,
    c1 = const EA_C1,
);

/// Per-pixel prologue of the float/int8 epilogues: `r8 = S row A`, `r7 = S row B`, `r10` =
/// multipliers, `lr` = biases, `r12` = channels left minus 8, `r11` = output cursor.
macro_rules! epi_pixel_start {
    () => {
        concat!(
            "ldr r7, [r3], #4\n",
            "uxth r8, r7\n",
            "lsr r7, r7, #16\n",
            "mla r8, r8, r2, r1\n",
            "mla r7, r7, r2, r1\n",
            "ldr r10, [r0, #{c0}]\n",
            "ldr lr, [r0, #{c1}]\n",
            "ldr r12, [r0, #{noc}]\n",
            "mov r11, r5\n",
            "subs r12, r12, #8\n",
        )
    };
}

/// Eight channels up to the float value: `y` in q2 (channels 0–3) and q3 (4–7).
macro_rules! epi_eight_f32 {
    () => {
        concat!(
            "vld1.16 {{d0-d1}}, [r8]!\n",
            "vld1.16 {{d2-d3}}, [r7]!\n",
            "vadd.i16 q0, q0, q1\n",
            "vmin.u16 q0, q0, q15\n",
            "vmax.u16 q0, q0, q14\n",
            "vmovl.u16 q2, d0\n",
            "vmovl.u16 q3, d1\n",
            "vcvt.f32.u32 q2, q2\n",
            "vcvt.f32.u32 q3, q3\n",
            "vld1.32 {{d0-d3}}, [r10]!\n",
            "vmul.f32 q2, q2, q0\n",
            "vmul.f32 q3, q3, q1\n",
            "vld1.32 {{d0-d3}}, [lr]!\n",
            "vadd.f32 q2, q2, q0\n",
            "vadd.f32 q3, q3, q1\n",
        )
    };
}

/// Float → int8, rounding half away from zero with saturation: q2/q3 → d2 (8 bytes).
macro_rules! epi_round_i8 {
    () => {
        concat!(
            "vcvt.s32.f32 q2, q2, #1\n",
            "vcvt.s32.f32 q3, q3, #1\n",
            "vshr.s32 q0, q2, #31\n",
            "vshr.s32 q1, q3, #31\n",
            "vqadd.s32 q2, q2, q0\n",
            "vqadd.s32 q3, q3, q1\n",
            "vrshr.s32 q2, q2, #1\n",
            "vrshr.s32 q3, q3, #1\n",
            "vqmovn.s32 d0, q2\n",
            "vqmovn.s32 d1, q3\n",
            "vqmovn.s16 d2, q0\n",
        )
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon32_bepi_f32"),
    "push {{r4-r8, r10, r11, lr}}",
    "vpush {{d8-d15}}",
    "ldr r1, [r0, #{s}]",
    "ldr r2, [r0, #{ss}]",
    "ldr r3, [r0, #{rows}]",
    "ldr r4, [r0, #{npix}]",
    "ldr r5, [r0, #{out}]",
    "ldr r6, [r0, #{os}]",
    "ldr r12, [r0, #{lohi}]",
    "vdup.16 q14, r12",
    "lsr r12, r12, #16",
    "vdup.16 q15, r12",
    "1:",
    epi_pixel_start!(),
    "blt 3f",
    "2:",
    epi_eight_f32!(),
    "vst1.32 {{d4-d7}}, [r11]!",
    "subs r12, r12, #8",
    "bge 2b",
    "3:",
    "tst r12, #7",
    "beq 9f",
    epi_eight_f32!(),
    "tst r12, #4",
    "beq 4f",
    "vst1.32 {{d4-d5}}, [r11]!",
    "vmov q2, q3",
    "4:",
    "tst r12, #2",
    "beq 5f",
    "vst1.32 {{d4}}, [r11]!",
    "vmov d4, d5",
    "5:",
    "tst r12, #1",
    "beq 9f",
    "vst1.32 {{d4[0]}}, [r11]!",
    "9:",
    "add r5, r5, r6",
    "subs r4, r4, #1",
    "bne 1b",
    "vpop {{d8-d15}}",
    "pop {{r4-r8, r10, r11, pc}}",
    asm_fn_end!("doppler_neon32_bepi_f32"),
    s = const EA_S,
    ss = const EA_SSTRIDE,
    rows = const EA_ROWS,
    npix = const EA_NPIX,
    out = const EA_OUT,
    os = const EA_OSTRIDE,
    c0 = const EA_C0,
    c1 = const EA_C1,
    noc = const EA_NOC,
    lohi = const EA_LOHI,
);

global_asm!(
    asm_fn_begin!("doppler_neon32_bepi_i8"),
    "push {{r4-r8, r10, r11, lr}}",
    "vpush {{d8-d15}}",
    "ldr r1, [r0, #{s}]",
    "ldr r2, [r0, #{ss}]",
    "ldr r3, [r0, #{rows}]",
    "ldr r4, [r0, #{npix}]",
    "ldr r5, [r0, #{out}]",
    "ldr r6, [r0, #{os}]",
    "ldr r12, [r0, #{lohi}]",
    "vdup.16 q14, r12",
    "lsr r12, r12, #16",
    "vdup.16 q15, r12",
    "1:",
    epi_pixel_start!(),
    "blt 3f",
    "2:",
    epi_eight_f32!(),
    epi_round_i8!(),
    "vst1.8 {{d2}}, [r11]!",
    "subs r12, r12, #8",
    "bge 2b",
    "3:",
    "tst r12, #7",
    "beq 9f",
    epi_eight_f32!(),
    epi_round_i8!(),
    "tst r12, #4",
    "beq 4f",
    "vst1.8 {{d2[0]}}, [r11]!",
    "vst1.8 {{d2[1]}}, [r11]!",
    "vst1.8 {{d2[2]}}, [r11]!",
    "vst1.8 {{d2[3]}}, [r11]!",
    "vext.8 d2, d2, d2, #4",
    "4:",
    "tst r12, #2",
    "beq 5f",
    "vst1.8 {{d2[0]}}, [r11]!",
    "vst1.8 {{d2[1]}}, [r11]!",
    "vext.8 d2, d2, d2, #2",
    "5:",
    "tst r12, #1",
    "beq 9f",
    "vst1.8 {{d2[0]}}, [r11]!",
    "9:",
    "add r5, r5, r6",
    "subs r4, r4, #1",
    "bne 1b",
    "vpop {{d8-d15}}",
    "pop {{r4-r8, r10, r11, pc}}",
    asm_fn_end!("doppler_neon32_bepi_i8"),
    s = const EA_S,
    ss = const EA_SSTRIDE,
    rows = const EA_ROWS,
    npix = const EA_NPIX,
    out = const EA_OUT,
    os = const EA_OSTRIDE,
    c0 = const EA_C0,
    c1 = const EA_C1,
    noc = const EA_NOC,
    lohi = const EA_LOHI,
);

// ---------------------------------------------------------------------------------------------
// Bit packing: neon32_pack_f32 / neon32_pack_i8

/// Arguments of `neon32_pack_f32` and `neon32_pack_i8`: `n_words` output words from
/// `32 · n_words` consecutive input values.
#[repr(C)]
struct PackArgs {
    src: *const u8,
    dst: *mut u32,
    n_words: u32,
    /// int8: `zero_point - 1` clamped to `[-128, 127]` (bit = `q <= t`); float: unused.
    t: i32,
    /// int8: the 16 bit weights `1, 2, 4, .. 128, 1, .. 128`; float: unused.
    weights: *const u8,
}
const PA_SRC: usize = 0;
const PA_DST: usize = 4;
const PA_N: usize = 8;
const PA_T: usize = 12;
const PA_W: usize = 16;
const _: () = assert!(offset_of!(PackArgs, src) == PA_SRC);
const _: () = assert!(offset_of!(PackArgs, dst) == PA_DST);
const _: () = assert!(offset_of!(PackArgs, n_words) == PA_N);
const _: () = assert!(offset_of!(PackArgs, t) == PA_T);
const _: () = assert!(offset_of!(PackArgs, weights) == PA_W);
const _: () = assert!(size_of::<PackArgs>() == 20);

/// Bit weights of one byte lane, twice (for `vand` + `vpadd` bit gathering).
static BIT_WEIGHTS: Align16<[u8; 16]> = Align16([1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128]);

global_asm!(
    asm_fn_begin!("doppler_neon32_pack_f32"),
    "vpush {{d8-d15}}",
    "ldr r1, [r0, #{src}]",
    "ldr r2, [r0, #{dst}]",
    "ldr r3, [r0, #{n}]",
    // x < 0.0 (IEEE, subnormals included, NaN and -0.0 excluded) <=>
    // (bits - 0x80000001) as u32 < 0x7F800000.
    "movw r12, #0x0001",
    "movt r12, #0x8000",
    "vdup.32 q14, r12",
    "movw r12, #0x0000",
    "movt r12, #0x7F80",
    "vdup.32 q15, r12",
    "cmp r3, #0",
    "beq 9f",
    "1:",
    // De-interleave so that q_j lane l holds channel 8l + j (q0-q3: j = 0-3, q4-q7: j = 4-7).
    "vld4.32 {{d0, d2, d4, d6}}, [r1]!",
    "vld4.32 {{d8, d10, d12, d14}}, [r1]!",
    "vld4.32 {{d1, d3, d5, d7}}, [r1]!",
    "vld4.32 {{d9, d11, d13, d15}}, [r1]!",
    "vtrn.32 q0, q4",
    "vtrn.32 q1, q5",
    "vtrn.32 q2, q6",
    "vtrn.32 q3, q7",
    "vsub.i32 q0, q0, q14",
    "vsub.i32 q1, q1, q14",
    "vsub.i32 q2, q2, q14",
    "vsub.i32 q3, q3, q14",
    "vsub.i32 q4, q4, q14",
    "vsub.i32 q5, q5, q14",
    "vsub.i32 q6, q6, q14",
    "vsub.i32 q7, q7, q14",
    "vcgt.u32 q0, q15, q0",
    "vcgt.u32 q1, q15, q1",
    "vcgt.u32 q2, q15, q2",
    "vcgt.u32 q3, q15, q3",
    "vcgt.u32 q4, q15, q4",
    "vcgt.u32 q5, q15, q5",
    "vcgt.u32 q6, q15, q6",
    "vcgt.u32 q7, q15, q7",
    // Gather bit j of byte l into bits 31..24 of lane l.
    "vsri.32 q7, q6, #1",
    "vsri.32 q7, q5, #2",
    "vsri.32 q7, q4, #3",
    "vsri.32 q7, q3, #4",
    "vsri.32 q7, q2, #5",
    "vsri.32 q7, q1, #6",
    "vsri.32 q7, q0, #7",
    "vshrn.i32 d0, q7, #16",
    "vshrn.i16 d2, q0, #8",
    "vst1.32 {{d2[0]}}, [r2]!",
    "subs r3, r3, #1",
    "bne 1b",
    "9:",
    "vpop {{d8-d15}}",
    "bx lr",
    asm_fn_end!("doppler_neon32_pack_f32"),
    src = const PA_SRC,
    dst = const PA_DST,
    n = const PA_N,
);

global_asm!(
    asm_fn_begin!("doppler_neon32_pack_i8"),
    "ldr r1, [r0, #{src}]",
    "ldr r2, [r0, #{dst}]",
    "ldr r3, [r0, #{n}]",
    "ldr r12, [r0, #{t}]",
    "vdup.8 q15, r12",
    "ldr r12, [r0, #{w}]",
    "vld1.8 {{d28-d29}}, [r12]",
    "cmp r3, #0",
    "beq 9f",
    "1:",
    "vld1.8 {{d0-d3}}, [r1]!",
    "vcge.s8 q0, q15, q0",
    "vcge.s8 q1, q15, q1",
    "vand q0, q0, q14",
    "vand q1, q1, q14",
    "vpadd.i8 d0, d0, d1",
    "vpadd.i8 d1, d2, d3",
    "vpadd.i8 d0, d0, d1",
    "vpadd.i8 d0, d0, d0",
    "vst1.32 {{d0[0]}}, [r2]!",
    "subs r3, r3, #1",
    "bne 1b",
    "9:",
    "bx lr",
    asm_fn_end!("doppler_neon32_pack_i8"),
    src = const PA_SRC,
    dst = const PA_DST,
    n = const PA_N,
    t = const PA_T,
    w = const PA_W,
);

// ---------------------------------------------------------------------------------------------
// Binary max-pool: neon32_bmaxpool

/// Arguments of `neon32_bmaxpool`: AND of an `n_rows × n_cols` window of pixels.
#[repr(C)]
struct PoolArgs {
    /// First word of the window's top-left (in-bounds) pixel.
    src: *const u32,
    /// The output pixel's words.
    dst: *mut u32,
    n_rows: u32,
    n_cols: u32,
    /// Bytes between window rows / columns.
    row_stride: u32,
    col_stride: u32,
    /// Words per pixel.
    words: u32,
}
const PO_SRC: usize = 0;
const PO_DST: usize = 4;
const PO_ROWS: usize = 8;
const PO_COLS: usize = 12;
const PO_RS: usize = 16;
const PO_CS: usize = 20;
const PO_WORDS: usize = 24;
const _: () = assert!(offset_of!(PoolArgs, src) == PO_SRC);
const _: () = assert!(offset_of!(PoolArgs, dst) == PO_DST);
const _: () = assert!(offset_of!(PoolArgs, n_rows) == PO_ROWS);
const _: () = assert!(offset_of!(PoolArgs, n_cols) == PO_COLS);
const _: () = assert!(offset_of!(PoolArgs, row_stride) == PO_RS);
const _: () = assert!(offset_of!(PoolArgs, col_stride) == PO_CS);
const _: () = assert!(offset_of!(PoolArgs, words) == PO_WORDS);
const _: () = assert!(size_of::<PoolArgs>() == 28);

/// Window AND of one block at r1 into `$acc`, loading with `$ld` into `$tmp`; r3 rows, r4 cols,
/// r5 row stride, r6 column stride. Clobbers r0, r8, r12, lr.
macro_rules! pool_block {
    ($init:literal, $ld:literal, $and:literal, $st:literal, $n:literal) => {
        concat!(
            $init,
            "\nmov r12, r1\n",
            "mov lr, r3\n",
            $n,
            "1:\n",
            "mov r0, r12\n",
            "mov r8, r4\n",
            $n,
            "2:\n",
            $ld,
            "\n",
            $and,
            "\n",
            "subs r8, r8, #1\n",
            "bne ",
            $n,
            "2b\n",
            "add r12, r12, r5\n",
            "subs lr, lr, #1\n",
            "bne ",
            $n,
            "1b\n",
            $st,
            "\n",
        )
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon32_bmaxpool"),
    "push {{r4-r8, lr}}",
    "ldr r1, [r0, #{src}]",
    "ldr r2, [r0, #{dst}]",
    "ldr r3, [r0, #{rows}]",
    "ldr r4, [r0, #{cols}]",
    "ldr r5, [r0, #{rs}]",
    "ldr r6, [r0, #{cs}]",
    "ldr r7, [r0, #{words}]",
    "vmov.i8 q15, #0xff",
    "subs r7, r7, #4",
    "blt 5f",
    "4:",
    pool_block!(
        "vmov q0, q15",
        "vld1.32 {{d2-d3}}, [r0], r6",
        "vand q0, q0, q1",
        "vst1.32 {{d0-d1}}, [r2]!",
        "3"
    ),
    "add r1, r1, #16",
    "subs r7, r7, #4",
    "bge 4b",
    "5:",
    "tst r7, #2",
    "beq 6f",
    pool_block!("vmov d0, d30", "vld1.32 {{d2}}, [r0], r6", "vand d0, d0, d2", "vst1.32 {{d0}}, [r2]!", "7"),
    "add r1, r1, #8",
    "6:",
    "tst r7, #1",
    "beq 9f",
    pool_block!(
        "vmov d0, d30",
        "vld1.32 {{d2[0]}}, [r0], r6",
        "vand d0, d0, d2",
        "vst1.32 {{d0[0]}}, [r2]!",
        "8"
    ),
    "9:",
    "pop {{r4-r8, pc}}",
    asm_fn_end!("doppler_neon32_bmaxpool"),
    src = const PO_SRC,
    dst = const PO_DST,
    rows = const PO_ROWS,
    cols = const PO_COLS,
    rs = const PO_RS,
    cs = const PO_CS,
    words = const PO_WORDS,
);

extern "C" {
    /// Repacks one 2-channel filter tile, then the binary GEMM of `tiles` 4-row tiles against
    /// it (see the module docs).
    fn doppler_neon32_bgemm_b1_4x2(args: *const GemmArgs);
    /// Builds one 4-row pixel tile.
    fn doppler_neon32_bim2col_4(args: *const Im2colArgs);
    fn doppler_neon32_bepi_bits(args: *const EpiArgs);
    fn doppler_neon32_bepi_f32(args: *const EpiArgs);
    fn doppler_neon32_bepi_i8(args: *const EpiArgs);
    fn doppler_neon32_pack_f32(args: *const PackArgs);
    fn doppler_neon32_pack_i8(args: *const PackArgs);
    fn doppler_neon32_bmaxpool(args: *const PoolArgs);
}

// Rust names for the kernels (the documentation above links to these).

/// Safe wrapper of the filter repack + 4×2 binary GEMM of one output-channel block. `a` holds
/// `tiles` pixel tiles built by `neon32_bim2col_4`; `f` is scratch for one filter tile.
fn neon32_bgemm_b1_4x2(
    a: &[MaybeUninit<u32>],
    f: &mut [MaybeUninit<u32>],
    fb: &FilterBlock,
    s: &mut Counts,
    kq: usize,
    tiles: usize,
) {
    let (chunks, tail) = (fb.chunks, fb.tail);
    let span = chunks + usize::from(tail > 0);
    // `span == kq`: every chunk of the filter tile is written before the GEMM reads it.
    assert!(kq >= 1 && tiles >= 1 && tail < 4 && span == kq);
    assert!(a.len() >= tiles * kq * 16 && f.len() >= kq * 8);
    assert!(a.as_ptr() as usize % 16 == 0 && f.as_ptr() as usize % 16 == 0);
    assert!((1..=OC_BLOCK).contains(&fb.n_oc) && 4 * chunks + tail <= fb.row_words);
    assert!(fb.rows.len() >= fb.n_oc * fb.row_words);
    if let Some(m) = fb.mask {
        assert!(m.len() >= 4 * span && m.as_ptr() as usize % 16 == 0);
    }
    assert!(tiles * TILE_ROWS <= MAX_ROWS);
    let args = GemmArgs {
        a: a.as_ptr().cast(),
        f: f.as_mut_ptr().cast(),
        s: s.0.as_mut_ptr(),
        s_stride: (OC_BLOCK * 2) as u32,
        kq: kq as u32,
        tiles: tiles as u32,
        f0: fb.rows.as_ptr(),
        f_stride: (fb.row_words * 4) as u32,
        n_oc: fb.n_oc as u32,
        chunks: chunks as u32,
        mask: fb.mask.map_or(core::ptr::null(), |m| m.as_ptr()),
        tail: tail as u32,
    };
    // SAFETY: per channel pair the asm reads `4·chunks + tail <= row_words` words of two of
    // the block's `n_oc` rows (all inside `rows`) and `4·kq` words of the mask, writes all
    // `32·kq` bytes of `f`, then reads `tiles·kq·64` bytes of `a` (written by the group's
    // im2col) and `kq·32` bytes of `f` (16-byte aligned for the `:128` hints), and writes u16
    // pairs at `S[r][2j]` for r < 4·tiles <= MAX_ROWS and 2j < n_oc <= 32. All checked above.
    unsafe { doppler_neon32_bgemm_b1_4x2(&args) }
}

/// Geometry of the im2col of one call (fixed over all rows).
struct Im2colGeom {
    kq: usize,
    k_h: usize,
    k_w: usize,
    tap_words: usize,
    run_words: usize,
    row_step: usize,
    col_step: usize,
    /// The input slice: every in-bounds tap of every descriptor lies inside it.
    input_start: usize,
    input_end: usize,
}

/// Safe wrapper of the im2col of one 4-row tile. `descs` must describe taps inside the input
/// (checked: every in-bounds tap's words lie within `[input_start, input_end)`).
fn neon32_bim2col_4(
    geo: &Im2colGeom,
    descs: &[RowDesc],
    dst: &mut [MaybeUninit<u32>],
    tmp: &mut [MaybeUninit<u32>],
    mask: Option<&[u32]>,
) {
    assert!(descs.len() == TILE_ROWS);
    assert!(dst.len() >= geo.kq * 16 && tmp.len() >= geo.kq * 4);
    let kw_words = geo.k_h * geo.k_w * geo.tap_words;
    assert!(kw_words <= geo.kq * 4 && geo.kq * 4 < kw_words + 4);
    // The words after the row, up to the chunk boundary, are read as zeros.
    for w in &mut tmp[kw_words..geo.kq * 4] {
        w.write(0);
    }
    assert!(geo.k_h >= 1 && geo.k_h <= 32 && geo.k_w >= 1 && geo.k_w <= 31);
    assert!(dst.as_ptr() as usize % 16 == 0 && tmp.as_ptr() as usize % 16 == 0);
    if let Some(m) = mask {
        assert!(m.len() >= geo.kq * 4 && m.as_ptr() as usize % 16 == 0);
    }
    // Every tap the asm dereferences lies between the first and the last in-bounds tap (the
    // steps are non-negative), so checking those two bounds every access.
    let tap_bytes = geo.tap_words * 4;
    let full_w = low_bits(geo.k_w);
    let run_ok = geo.col_step == tap_bytes && geo.run_words == geo.k_w * geo.tap_words;
    for d in descs {
        // A run copies `run_words` words from the first tap: the same words as the taps.
        assert!(d.colmask & RUN == 0 || (run_ok && d.colmask == RUN | full_w));
        let (rm, cm) = (d.rowmask & low_bits(geo.k_h), d.colmask & low_bits(geo.k_w));
        if rm == 0 || cm == 0 {
            continue;
        }
        let (ky0, ky1) = (rm.trailing_zeros() as usize, 31 - rm.leading_zeros() as usize);
        let (kx0, kx1) = (cm.trailing_zeros() as usize, 31 - cm.leading_zeros() as usize);
        let first = d.base.wrapping_add(ky0 * geo.row_step + kx0 * geo.col_step);
        let last = d.base.wrapping_add(ky1 * geo.row_step + kx1 * geo.col_step);
        assert!(first >= geo.input_start && first % 4 == 0 && first <= last);
        assert!(last.checked_add(tap_bytes).is_some_and(|end| end <= geo.input_end));
    }
    let args = Im2colArgs {
        dst: dst.as_mut_ptr().cast(),
        tmp: tmp.as_mut_ptr().cast(),
        mask: mask.map_or(core::ptr::null(), |m| m.as_ptr()),
        descs: descs.as_ptr(),
        kq: geo.kq as u32,
        k_h: geo.k_h as u32,
        k_w: geo.k_w as u32,
        tap_words: geo.tap_words as u32,
        run_words: geo.run_words as u32,
        row_step: geo.row_step as u32,
        col_step: geo.col_step as u32,
        rows: TILE_ROWS as u32,
        direct: u32::from(mask.is_none() && geo.tap_words % 4 == 0),
    };
    // SAFETY: the asm dereferences only in-bounds taps, all between the first and the last
    // one checked above (a run copy of a tap row happens only when all its columns are in
    // bounds and contiguous, i.e. the same words). It writes `Kw <= 4·kq` words of `tmp` (not
    // in direct mode) and `kq` 16-byte chunks into each of the four columns of `dst`
    // (`64·kq` bytes; in direct mode `Kw == 4·kq`), and reads `16·kq` bytes of `tmp` (the
    // first `Kw` words just written, the rest zeroed above) and of the mask. All lengths and
    // alignments are checked above.
    unsafe { doppler_neon32_bim2col_4(&args) }
}

/// Per-pixel count-row pairs `rowA | rowB << 16`, every index checked `< MAX_ROWS` once at
/// construction (the epilogue wrappers rely on it for every block).
struct RowPairs<'a>(&'a [u32]);

impl<'a> RowPairs<'a> {
    fn new(rows: &'a [u32]) -> Self {
        for &r in rows {
            assert!(((r & 0xFFFF) as usize) < MAX_ROWS && ((r >> 16) as usize) < MAX_ROWS);
        }
        RowPairs(rows)
    }
}

/// The count matrix of a group: `MAX_ROWS` rows of `OC_BLOCK` u16.
type Counts = Align16<[u16; MAX_ROWS * OC_BLOCK]>;

/// Epilogue kernel and its per-block constants.
enum Epi<'c> {
    /// Per-channel bounds (`s >= bound` sets the bit), 32 entries, padding 0xFFFF.
    Bits(&'c Align16<[u16; OC_BLOCK]>),
    /// Multipliers and biases of the block, each at least `ceil8(n_oc)` long.
    F32(&'c [f32], &'c [f32]),
    I8(&'c [f32], &'c [f32]),
}

/// Safe wrapper of the epilogues: pixel `p` uses count rows `rows[p]` and writes
/// `out_bytes` bytes at byte `p·out_stride` of `out`.
#[allow(clippy::too_many_arguments)]
fn neon32_bepi(
    epi: Epi,
    s: &Counts,
    rows: &RowPairs,
    out: &mut [u8],
    out_stride: usize,
    out_bytes: usize,
    n_oc: usize,
    lohi: u32,
) {
    let n_pix = rows.0.len();
    assert!(n_pix >= 1 && (1..=OC_BLOCK).contains(&n_oc));
    assert!((n_pix - 1) * out_stride + out_bytes <= out.len());
    let ceil8 = n_oc.div_ceil(8) * 8;
    let (f, c0, c1): (unsafe extern "C" fn(*const EpiArgs), *const u8, *const u8) = match epi {
        Epi::Bits(bounds) => {
            assert!(out_bytes == 4 && out.as_ptr() as usize % 4 == 0 && out_stride % 4 == 0);
            (doppler_neon32_bepi_bits, bounds.0.as_ptr().cast(), BIT_WEIGHTS.0.as_ptr())
        }
        Epi::F32(m, b) => {
            assert!(out_bytes == 4 * n_oc && m.len() >= ceil8 && b.len() >= ceil8);
            assert!(out.as_ptr() as usize % 4 == 0 && out_stride % 4 == 0);
            (doppler_neon32_bepi_f32, m.as_ptr().cast(), b.as_ptr().cast())
        }
        Epi::I8(m, b) => {
            assert!(out_bytes == n_oc && m.len() >= ceil8 && b.len() >= ceil8);
            (doppler_neon32_bepi_i8, m.as_ptr().cast(), b.as_ptr().cast())
        }
    };
    let args = EpiArgs {
        s: s.0.as_ptr(),
        s_stride: (OC_BLOCK * 2) as u32,
        rows: rows.0.as_ptr(),
        n_pix: n_pix as u32,
        out: out.as_mut_ptr(),
        out_stride: out_stride as u32,
        c0,
        c1,
        n_oc: n_oc as u32,
        lohi,
    };
    // SAFETY: the asm reads 32 u16 of each selected count row (indices < MAX_ROWS by
    // `RowPairs`, `s` has MAX_ROWS rows), 32 bounds + 16 weights (bits; 16-byte aligned by type)
    // or `ceil8(n_oc)` multipliers and biases (checked), and writes `out_bytes` bytes per pixel
    // at `p·out_stride` (checked); 32-bit element stores only to 4-byte aligned outputs
    // (checked).
    unsafe { f(&args) }
}

// ---------------------------------------------------------------------------------------------
// The convolution driver.

/// Whether the NEON float epilogue (flush-to-zero, default NaN) equals IEEE `x * m + b` for
/// every integer `0 <= x <= 65535`: `m` zero, normal or infinite; `b` zero, infinite or
/// `|b| >= 2^-100` (no NaN anywhere). Then `x·m` is zero, normal or infinite, and a sum of two
/// such values cannot be subnormal: if it cancels, both are multiples of 2^-124 and so is the
/// result; a NaN can only come from `0·inf` or `inf − inf`, the default NaN in both.
fn f32_epilogue_is_exact(m: &[f32], b: &[f32]) -> bool {
    let m_ok = m.iter().all(|&v| v == 0.0 || v.is_normal() || v.is_infinite());
    let b_ok = b
        .iter()
        .all(|&v| v == 0.0 || v.is_infinite() || (v.is_finite() && v.abs() >= f32::from_bits(0x0D80_0000)));
    m_ok && b_ok
}

fn bconv_driver(g: &Window2d, pad: PadValue, input: &[u32], filter: &[u32], mut out: Output) {
    let plan = ConvPlan::new(g);
    let (wpp, kq, k_full, n_pix_total, wpo) = (plan.wpp, plan.kq, plan.k_full, plan.n_pix, plan.wpo);
    if n_pix_total == 0 || g.out_c == 0 {
        return;
    }

    // Epilogue set-up that does not depend on the block.
    let (f32_neon, lohi) = match &out {
        Output::Bits(..) => (true, 0),
        Output::F32(e, _) | Output::I8(e, _) => {
            let exact = matches!(out, Output::I8(..))
                || f32_epilogue_is_exact(&e.multiplier[..g.out_c], &e.bias[..g.out_c]);
            match epilogue_bounds(k_full, e.clamp_min, e.clamp_max) {
                Some((lo, hi)) if exact => (true, u32::from(lo) | u32::from(hi) << 16),
                _ => (false, 0),
            }
        }
    };

    // Buffers (stack; see the module docs for the total).
    // The im2col tiles, the filter tile and the row scratch are written before they are read
    // (by the asm), so they are not zeroed.
    let mut a_buf = Align16([const { MaybeUninit::<u32>::uninit() }; A_BYTES / 4]);
    let mut f_buf = Align16([const { MaybeUninit::<u32>::uninit() }; KQ_MAX * 8]);
    let mut tmp = Align16([const { MaybeUninit::<u32>::uninit() }; KQ_MAX * 4]);
    let a: &mut [MaybeUninit<u32>] = &mut a_buf.0;
    let f: &mut [MaybeUninit<u32>] = &mut f_buf.0;
    let mut mask = Align16([0u32; KQ_MAX * 4]);
    let mut s: Counts = Align16([0u16; MAX_ROWS * OC_BLOCK]);
    let mut bounds = Align16([0u16; OC_BLOCK]);
    let (mut pad_m, mut pad_b) = ([0f32; OC_BLOCK], [0f32; OC_BLOCK]);
    let mut descs = [RowDesc::default(); MAX_ROWS];
    let mut pix_rows = [0u32; MAX_ROWS];

    let mask_row = plan.mask_row(g, &mut mask.0);
    let geo = Im2colGeom {
        kq,
        k_h: g.k_h,
        k_w: g.k_w,
        tap_words: wpp,
        run_words: g.k_w * wpp,
        row_step: g.dil_h * g.in_w * wpp * 4,
        col_step: g.dil_w * wpp * 4,
        input_start: input.as_ptr() as usize,
        input_end: input.as_ptr() as usize + g.batch * g.in_h * g.in_w * wpp * 4,
    };
    let input_addr = input.as_ptr() as usize;
    let tiles_cap = (A_BYTES / (64 * kq)).clamp(1, MAX_TILES);
    let rows_cap = tiles_cap * TILE_ROWS;

    let mut cursor = PixelCursor::new(g, input_addr);
    let mut pix0 = 0;
    while pix0 < n_pix_total {
        // --- Rows of this group.
        let (n_rows, n_pix) =
            cursor.gather(pad, n_pix_total - pix0, rows_cap, &mut descs, &mut pix_rows, RowDesc::new);
        let tiles = n_rows.div_ceil(TILE_ROWS);
        for d in &mut descs[n_rows..tiles * TILE_ROWS] {
            *d = RowDesc { base: input_addr, rowmask: 0, colmask: 0, fill: 0 };
        }
        for t in 0..tiles {
            neon32_bim2col_4(
                &geo,
                &descs[t * TILE_ROWS..(t + 1) * TILE_ROWS],
                &mut a[t * kq * 16..(t + 1) * kq * 16],
                &mut tmp.0[..kq * 4],
                mask_row,
            );
        }

        let rows = RowPairs::new(&pix_rows[..n_pix]);

        // --- Output channel blocks.
        for ob in (0..g.out_c).step_by(OC_BLOCK) {
            let nb = OC_BLOCK.min(g.out_c - ob);
            let fb = FilterBlock::new(&plan, filter, ob, nb, mask_row);
            neon32_bgemm_b1_4x2(&a[..tiles * kq * 16], &mut f[..kq * 8], &fb, &mut s, kq, tiles);

            // --- Epilogue of this block for the group's pixels.
            match &mut out {
                Output::Bits(thresholds, o) => {
                    // bit = acc < t  <=>  s >= K − t + 1 (K <= 32767: no overflow in i32 with
                    // saturation); padding channels never.
                    for (i, v) in bounds.0.iter_mut().enumerate() {
                        *v = if i < nb {
                            (k_full as i32)
                                .saturating_sub(thresholds[ob + i])
                                .saturating_add(1)
                                .clamp(0, 0xFFFF) as u16
                        } else {
                            0xFFFF
                        };
                    }
                    let words_out: &mut [u32] = &mut o[pix0 * wpo + ob / 32..];
                    let bytes = as_bytes_mut_u32(words_out);
                    neon32_bepi(Epi::Bits(&bounds), &s, &rows, bytes, wpo * 4, 4, nb, 0);
                }
                Output::F32(e, o) => {
                    let dst = &mut o[pix0 * g.out_c + ob..];
                    if f32_neon {
                        let (m, b) = block_params(e, ob, nb, &mut pad_m, &mut pad_b);
                        let bytes = as_bytes_mut_f32(dst);
                        neon32_bepi(Epi::F32(m, b), &s, &rows, bytes, g.out_c * 4, nb * 4, nb, lohi);
                    } else {
                        scalar_epilogue(&s.0, rows.0, k_full, nb, |p, i, acc| {
                            dst[p * g.out_c + i] = rb::epilogue_f32(e, k_full as i32, acc, ob + i);
                        });
                    }
                }
                Output::I8(e, o) => {
                    let dst = &mut o[pix0 * g.out_c + ob..];
                    if f32_neon {
                        let (m, b) = block_params(e, ob, nb, &mut pad_m, &mut pad_b);
                        let bytes = as_bytes_mut_i8(dst);
                        neon32_bepi(Epi::I8(m, b), &s, &rows, bytes, g.out_c, nb, nb, lohi);
                    } else {
                        scalar_epilogue(&s.0, rows.0, k_full, nb, |p, i, acc| {
                            dst[p * g.out_c + i] = rb::epilogue_i8(e, k_full as i32, acc, ob + i);
                        });
                    }
                }
            }
        }
        pix0 += n_pix;
    }
}

// ---------------------------------------------------------------------------------------------
// Public kernels (same signatures and results as `reference::binary`).

/// NEON [`crate::reference::binary::bconv2d_bits`].
pub fn bconv2d_bits(
    g: &Window2d,
    pad: PadValue,
    thresholds: &[i32],
    input: &[u32],
    filter: &[u32],
    output: &mut [u32],
) {
    common::bconv(g, pad, input, filter, Output::Bits(thresholds, output), bconv_driver);
}

/// NEON [`crate::reference::binary::bconv2d_f32`].
pub fn bconv2d_f32(
    g: &Window2d,
    pad: PadValue,
    e: &BConvEpilogue,
    input: &[u32],
    filter: &[u32],
    output: &mut [f32],
) {
    common::bconv(g, pad, input, filter, Output::F32(e, output), bconv_driver);
}

/// NEON [`crate::reference::binary::bconv2d_i8`].
pub fn bconv2d_i8(
    g: &Window2d,
    pad: PadValue,
    e: &BConvEpilogue,
    input: &[u32],
    filter: &[u32],
    output: &mut [i8],
) {
    common::bconv(g, pad, input, filter, Output::I8(e, output), bconv_driver);
}

/// NEON [`crate::reference::binary::pack_f32`]: 32 floats per 36 instructions.
pub fn pack_f32(pixels: usize, channels: usize, input: &[f32], output: &mut [u32]) {
    let wpp = common::check_pack("pack_f32", pixels, channels, input, output);
    let full = channels / 32;
    let pack_full = |src: &[f32], dst: &mut [u32], n: usize| {
        assert!(src.len() >= 32 * n && dst.len() >= n);
        let args = PackArgs {
            src: src.as_ptr().cast(),
            dst: dst.as_mut_ptr(),
            n_words: n as u32,
            t: 0,
            weights: core::ptr::null(),
        };
        // SAFETY: reads 32·n floats from src and writes n words to dst (checked above).
        unsafe { doppler_neon32_pack_f32(&args) }
    };
    if channels % 32 == 0 {
        if pixels * full > 0 {
            pack_full(input, output, pixels * full);
        }
        return;
    }
    for p in 0..pixels {
        let src = &input[p * channels..(p + 1) * channels];
        let dst = &mut output[p * wpp..(p + 1) * wpp];
        if full > 0 {
            pack_full(src, dst, full);
        }
        dst[full] = common::pack_tail_f32(&src[full * 32..]);
    }
}

/// NEON [`crate::reference::binary::pack_i8`]: 32 values per 12 instructions.
pub fn pack_i8(pixels: usize, channels: usize, zero_point: i32, input: &[i8], output: &mut [u32]) {
    let wpp = common::check_pack("pack_i8", pixels, channels, input, output);
    if zero_point <= -128 {
        // Nothing is below the zero point.
        output[..pixels * wpp].fill(0);
        return;
    }
    // bit = q < zp  <=>  q <= zp − 1 = t, t in [-128, 127] here (zp > 127 gives 127: always).
    let t = (zero_point - 1).min(127);
    let full = channels / 32;
    let pack_full = |src: &[i8], dst: &mut [u32], n: usize| {
        assert!(src.len() >= 32 * n && dst.len() >= n);
        let args = PackArgs {
            src: src.as_ptr().cast(),
            dst: dst.as_mut_ptr(),
            n_words: n as u32,
            t,
            weights: BIT_WEIGHTS.0.as_ptr(),
        };
        // SAFETY: reads 32·n bytes from src and 16 weight bytes, writes n words (checked above).
        unsafe { doppler_neon32_pack_i8(&args) }
    };
    if channels % 32 == 0 {
        if pixels * full > 0 {
            pack_full(input, output, pixels * full);
        }
        return;
    }
    for p in 0..pixels {
        let src = &input[p * channels..(p + 1) * channels];
        let dst = &mut output[p * wpp..(p + 1) * wpp];
        if full > 0 {
            pack_full(src, dst, full);
        }
        dst[full] = common::pack_tail_i8(&src[full * 32..], zero_point);
    }
}

/// NEON [`crate::reference::binary::max_pool_bits`] (dilation 1; other dilations run the
/// reference).
pub fn max_pool_bits(g: &Window2d, input: &[u32], output: &mut [u32]) {
    let wpp = common::check_max_pool(g, input, output);
    if wpp == 0 {
        return;
    }
    if g.dil_h != 1 || g.dil_w != 1 {
        return rb::max_pool_bits(g, input, output);
    }
    let last_mask = rb::word_mask(g.in_c, wpp - 1);
    // Range of in-bounds taps along one axis: [lo, hi) in input coordinates.
    let range = |o: usize, stride: usize, pad: usize, k: usize, size: usize| {
        let start = (o * stride) as isize - pad as isize;
        let lo = start.max(0) as usize;
        let hi = (start + k as isize).clamp(0, size as isize) as usize;
        (lo, hi.max(lo))
    };
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            let (y0, y1) = range(oy, g.stride_h, g.pad_top, g.k_h, g.in_h);
            for ox in 0..g.out_w {
                let (x0, x1) = range(ox, g.stride_w, g.pad_left, g.k_w, g.in_w);
                let o = ((b * g.out_h + oy) * g.out_w + ox) * wpp;
                let dst = &mut output[o..o + wpp];
                if y1 > y0 && x1 > x0 {
                    let first = ((b * g.in_h + y0) * g.in_w + x0) * wpp;
                    let last_end = ((b * g.in_h + y1 - 1) * g.in_w + x1 - 1) * wpp + wpp;
                    let win = &input[first..last_end];
                    let args = PoolArgs {
                        src: win.as_ptr(),
                        dst: dst.as_mut_ptr(),
                        n_rows: (y1 - y0) as u32,
                        n_cols: (x1 - x0) as u32,
                        row_stride: (g.in_w * wpp * 4) as u32,
                        col_stride: (wpp * 4) as u32,
                        words: wpp as u32,
                    };
                    // SAFETY: the asm reads pixels (y0 + r, x0 + c), r < n_rows, c < n_cols, each
                    // `wpp` words, all inside `win` (which ends after pixel (y1−1, x1−1)), and
                    // writes the `wpp` words of `dst`.
                    unsafe { doppler_neon32_bmaxpool(&args) }
                } else {
                    dst.fill(u32::MAX);
                }
                dst[wpp - 1] &= last_mask;
            }
        }
    }
}
