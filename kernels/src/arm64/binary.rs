//! AArch64 NEON binary (XNOR-popcount) kernels, tuned for Cortex-A53.
//!
//! Every kernel here has the signature and the bit-exact results of its twin in
//! [`crate::reference::binary`]; `best::binary` re-exports them on AArch64.
//!
//! # Binary convolution: im2col of words + an 8×8 binary GEMM
//!
//! The pipeline is the one of the ARMv7 kernels (`arm32::binary`, whose module docs explain the
//! padding rows and the epilogue arithmetic), with AArch64 tiles:
//!
//! 1. **im2col** (`neon64_bim2col`, `global_asm!`): one GEMM row per output pixel (its receptive field,
//!    `Kw = k_h·k_w·words(in_c)` words, zero-extended to `Kq` 128-bit chunks, channel padding
//!    masked), 8 rows per *pixel tile*, chunk-interleaved `[Kq][8 rows][16 bytes]`; a group's
//!    last tile has 4 rows when at most 4 are left.
//! 2. **GEMM** (`neon64_bgemm_b1_8x8`, `global_asm!`): per block of 32 output channels and per
//!    8-channel tile, first the filter rows are chunk-interleaved (`[Kq][8 oc][16 bytes]`,
//!    masked), then every pixel tile runs against them. Per 128-bit chunk: 4 × `ld1` of four
//!    registers (8 rows, 8 channels), and per row 8 × `eor`, 8 × `cnt`, an `addp` tree (7) that
//!    folds the eight per-channel byte counts into one vector, and one `uadalp` into the row's
//!    u16×8 accumulator, whose lane `o` is then the mismatch count of channel `o`: 196
//!    instructions per 64 × 128 binary MACs (3.06 per 128), no reduction after the loop (the
//!    accumulators are stored as they are). The chunk loop is unrolled ×4.
//! 3. **epilogue** per block of 32 channels: bits, f32 or int8 (`global_asm!`). AArch64 NEON
//!    float arithmetic is IEEE (it honours FPCR exactly like scalar code), so the float
//!    epilogue is always vectorised; int8 rounding is `fcvtas` (nearest, ties away, saturating).
//!
//! # Limits of the fast path (anything else runs the reference kernel)
//!
//! `K = k_h·k_w·in_c <= 32767`, `Kq <= 128` chunks, `k_h <= 32`, `k_w <= 31`. Stack use of one
//! conv call is about 64 KiB (im2col 32 KiB, filter tile 16 KiB, counts 8 KiB, scratch and mask
//! rows 4 KiB, row descriptors 3 KiB).
//!
//! # Cost (instructions retired, `qemu-aarch64 -cpu cortex-a53`, whole kernel call)
//!
//! 3×3 conv 14×14×256→256, one-padding, bits output: 2.89 M instructions for 115.6 M binary
//! MACs, 40.1 MACs per instruction (the GEMM loop alone: 41.8).
//!
//! # The asm boundary
//!
//! The im2col, GEMM and epilogues are AAPCS64 functions in `global_asm!`, each taking one
//! pointer to a `#[repr(C)]` argument struct whose field offsets are named constants, asserted
//! against `offset_of!` at compile time and substituted into the asm text. The GEMM saves
//! d8–d15; none uses another callee-saved register or x18. Packing and max-pool use NEON
//! intrinsics. The functions open and close with `asm_fn_begin!`/`asm_fn_end!`, the
//! per-object-format (ELF or Mach-O) directives defined below.

// `x % n == 0` rather than `is_multiple_of` (Rust 1.87; the workspace declares 1.80).
#![allow(clippy::manual_is_multiple_of)]

use core::arch::aarch64::*;
use core::arch::global_asm;
use core::mem::{offset_of, size_of, MaybeUninit};

use crate::neon_common::binary::{
    self as common, as_bytes_mut_f32, as_bytes_mut_i8, as_bytes_mut_u32, block_params, epilogue_bounds,
    low_bits, scalar_epilogue, Align16, ConvPlan, FilterBlock, Output, PixelCursor, PixelTaps, KQ_MAX,
    OC_BLOCK, RUN,
};
use crate::reference::binary::{self as rb, words, BConvEpilogue, PadValue};
use crate::reference::Window2d;

// ---------------------------------------------------------------------------------------------
// Object-format directives: the one place the kernels' asm differs per platform.
//
// `asm_fn_begin!("name")` opens the asm function `name` (a global, hidden, 16-byte aligned
// symbol in its own code section) and `asm_fn_end!("name")` closes it; the instructions between
// them are the same everywhere.
// - ELF (Linux, bare metal): section `.text.name` (so unused kernels are garbage collected),
//   `.hidden`, `.type name,%function` and `.size`.
// - Mach-O (Apple: `aarch64-apple-ios`, `-ios-sim`, …): C symbols carry a leading underscore
//   (`extern "C" { fn name(); }` links to `_name`), code goes in `__TEXT,__text`, hidden is
//   `.private_extern`, and there is no `.type`/`.size`.

#[cfg(not(target_vendor = "apple"))]
macro_rules! asm_fn_begin {
    ($name:literal) => {
        concat!(
            concat!(".pushsection .text.", $name, ",\"ax\",%progbits\n"),
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

/// Rows (output pixels) per GEMM tile (a group's last tile may have `HALF_ROWS`).
const TILE_ROWS: usize = 8;
const HALF_ROWS: usize = 4;
/// Output channels per GEMM tile.
const TILE_OC: usize = 8;
// `OC_BLOCK`, `KQ_MAX` and `K_MAX` are shared with arm32 (`neon_common::binary`).
/// Bytes of the im2col buffer (a group is as many tiles as fit).
const A_BYTES: usize = 32768;
/// Maximum rows per group.
const MAX_ROWS: usize = 128;
const _: () = assert!(OC_BLOCK % TILE_OC == 0 && MAX_ROWS % TILE_ROWS == 0);

// The helpers below call NEON intrinsics inside `#[target_feature(enable = "neon")]`
// functions, entered from safe code; that is sound because the target guarantees NEON.
const _: () = assert!(cfg!(target_feature = "neon"), "the arm64 kernels need a target with NEON");

// ---------------------------------------------------------------------------------------------
// GEMM: neon64_bgemm_b1_8x8

/// Arguments of `neon64_bgemm_b1_8x8`: one block of `n_oc` output channels (8 per tile)
/// against `tiles` 8-row pixel tiles and, if `half`, one 4-row tile after them.
#[repr(C)]
struct GemmArgs {
    /// Pixel tiles: `[tiles][kq][8][4 words]`, then `[kq][4][4 words]` if `half`; 16-aligned.
    a: *const u32,
    /// Filter tile buffer `[kq][8 oc][4 words]`, 16-byte aligned; rewritten per channel tile.
    f: *mut u32,
    /// Count matrix entry `S[0][0]` (u16); channel tile `j` stores `S[r][8j..8j + 8]`.
    s: *mut u16,
    /// Filter row of the block's first output channel; the next rows follow `f_stride` bytes
    /// apart. Missing channels of the last tile repeat its last row.
    f0: *const u32,
    /// Mask row (16-byte aligned, `4·kq` words) or null.
    mask: *const u32,
    /// Bytes between two rows of `S`.
    s_stride: u32,
    /// Chunks per row (>= 1), `== chunks + (tail > 0)`.
    kq: u32,
    /// 8-row pixel tiles.
    tiles: u32,
    /// 1 if a 4-row tile follows.
    half: u32,
    f_stride: u32,
    /// Output channels in the block (1..=32).
    n_oc: u32,
    /// Full chunks to repack per row (each reads 4 words).
    chunks: u32,
    /// Words (0..=3) of a partial chunk after the full ones, repacked zero-extended.
    tail: u32,
}
const GA_A: usize = 0;
const GA_F: usize = 8;
const GA_S: usize = 16;
const GA_F0: usize = 24;
const GA_MASK: usize = 32;
const GA_SSTRIDE: usize = 40;
const GA_KQ: usize = 44;
const GA_TILES: usize = 48;
const GA_HALF: usize = 52;
const GA_FSTRIDE: usize = 56;
const GA_NOC: usize = 60;
const GA_CHUNKS: usize = 64;
const GA_TAIL: usize = 68;
const _: () = assert!(offset_of!(GemmArgs, a) == GA_A);
const _: () = assert!(offset_of!(GemmArgs, f) == GA_F);
const _: () = assert!(offset_of!(GemmArgs, s) == GA_S);
const _: () = assert!(offset_of!(GemmArgs, f0) == GA_F0);
const _: () = assert!(offset_of!(GemmArgs, mask) == GA_MASK);
const _: () = assert!(offset_of!(GemmArgs, s_stride) == GA_SSTRIDE);
const _: () = assert!(offset_of!(GemmArgs, kq) == GA_KQ);
const _: () = assert!(offset_of!(GemmArgs, tiles) == GA_TILES);
const _: () = assert!(offset_of!(GemmArgs, half) == GA_HALF);
const _: () = assert!(offset_of!(GemmArgs, f_stride) == GA_FSTRIDE);
const _: () = assert!(offset_of!(GemmArgs, n_oc) == GA_NOC);
const _: () = assert!(offset_of!(GemmArgs, chunks) == GA_CHUNKS);
const _: () = assert!(offset_of!(GemmArgs, tail) == GA_TAIL);
const _: () = assert!(size_of::<GemmArgs>() == 72);

/// One row of a tile for one chunk: row chunk `$a`, filter chunks v8–v15, temporaries
/// v24–v29, accumulator `$acc` (`$op` is `uaddlp` for the first chunk, `uadalp` after).
macro_rules! gemm_row {
    ($a:literal, $acc:literal, $op:literal) => {
        concat!(
            "eor v24.16b, ",
            $a,
            ".16b, v8.16b\n",
            "eor v25.16b, ",
            $a,
            ".16b, v9.16b\n",
            "eor v26.16b, ",
            $a,
            ".16b, v10.16b\n",
            "eor v27.16b, ",
            $a,
            ".16b, v11.16b\n",
            "cnt v24.16b, v24.16b\n",
            "cnt v25.16b, v25.16b\n",
            "cnt v26.16b, v26.16b\n",
            "cnt v27.16b, v27.16b\n",
            "addp v24.16b, v24.16b, v25.16b\n",
            "addp v26.16b, v26.16b, v27.16b\n",
            "eor v25.16b, ",
            $a,
            ".16b, v12.16b\n",
            "eor v27.16b, ",
            $a,
            ".16b, v13.16b\n",
            "eor v28.16b, ",
            $a,
            ".16b, v14.16b\n",
            "eor v29.16b, ",
            $a,
            ".16b, v15.16b\n",
            "cnt v25.16b, v25.16b\n",
            "cnt v27.16b, v27.16b\n",
            "cnt v28.16b, v28.16b\n",
            "cnt v29.16b, v29.16b\n",
            "addp v25.16b, v25.16b, v27.16b\n",
            "addp v28.16b, v28.16b, v29.16b\n",
            "addp v24.16b, v24.16b, v26.16b\n",
            "addp v25.16b, v25.16b, v28.16b\n",
            "addp v24.16b, v24.16b, v25.16b\n",
            $op,
            " ",
            $acc,
            ".8h, v24.16b\n",
        )
    };
}

/// One chunk of an 8-row tile (A rows v0–v7, accumulators v16–v23).
macro_rules! gemm_chunk8 {
    ($op:literal) => {
        concat!(
            "ld1 {{v0.16b-v3.16b}}, [x1], #64\n",
            "ld1 {{v8.16b-v11.16b}}, [x7], #64\n",
            "ld1 {{v4.16b-v7.16b}}, [x1], #64\n",
            "ld1 {{v12.16b-v15.16b}}, [x7], #64\n",
            gemm_row!("v0", "v16", $op),
            gemm_row!("v1", "v17", $op),
            gemm_row!("v2", "v18", $op),
            gemm_row!("v3", "v19", $op),
            gemm_row!("v4", "v20", $op),
            gemm_row!("v5", "v21", $op),
            gemm_row!("v6", "v22", $op),
            gemm_row!("v7", "v23", $op),
        )
    };
}

/// One chunk of a 4-row tile (A rows v0–v3, accumulators v16–v19).
macro_rules! gemm_chunk4 {
    ($op:literal) => {
        concat!(
            "ld1 {{v0.16b-v3.16b}}, [x1], #64\n",
            "ld1 {{v8.16b-v11.16b}}, [x7], #64\n",
            "ld1 {{v12.16b-v15.16b}}, [x7], #64\n",
            gemm_row!("v0", "v16", $op),
            gemm_row!("v1", "v17", $op),
            gemm_row!("v2", "v18", $op),
            gemm_row!("v3", "v19", $op),
        )
    };
}

/// Chunk loop over one tile: `$chunk` peeled once with `uaddlp`, then ×4 and ×1 loops.
/// `$p` is a label prefix digit. Uses x1 (A), x7 (filter), w5 (kq), w8.
macro_rules! gemm_tile {
    ($p:literal, $chunk:ident) => {
        concat!(
            "mov x7, x2\n",
            $chunk!("uaddlp"),
            "subs w8, w5, #5\n",
            "b.lt ",
            $p,
            "3f\n",
            $p,
            "2:\n",
            $chunk!("uadalp"),
            $chunk!("uadalp"),
            $chunk!("uadalp"),
            $chunk!("uadalp"),
            "subs w8, w8, #4\n",
            "b.ge ",
            $p,
            "2b\n",
            $p,
            "3:\n",
            "adds w8, w8, #4\n",
            "b.eq ",
            $p,
            "5f\n",
            $p,
            "4:\n",
            $chunk!("uadalp"),
            "subs w8, w8, #1\n",
            "b.ne ",
            $p,
            "4b\n",
            $p,
            "5:\n",
        )
    };
}

/// Row pointer `x$r` = x10 + min($o, x16)·x12 (repack of channel `$o` of the tile).
macro_rules! row_ptr {
    ($r:literal, $o:literal) => {
        concat!(
            "mov x17, #",
            $o,
            "\n",
            "cmp x17, x16\n",
            "csel x17, x17, x16, le\n",
            "madd x",
            $r,
            ", x17, x12, x10\n",
        )
    };
}

/// Tail words of one row `x$r` into `q$q` (zero-extended): `$ld` loads them.
macro_rules! tail_rows {
    ($ld:ident) => {
        concat!(
            $ld!("0", "1"),
            $ld!("1", "2"),
            $ld!("2", "3"),
            $ld!("3", "4"),
            $ld!("4", "5"),
            $ld!("5", "6"),
            $ld!("6", "7"),
            $ld!("7", "8"),
        )
    };
}
macro_rules! tail1 {
    ($q:literal, $r:literal) => {
        concat!("ldr s", $q, ", [x", $r, "]\n")
    };
}
macro_rules! tail2 {
    ($q:literal, $r:literal) => {
        concat!("ldr d", $q, ", [x", $r, "]\n")
    };
}
macro_rules! tail3 {
    ($q:literal, $r:literal) => {
        concat!("ldr d", $q, ", [x", $r, "], #8\n", "ld1 {{v", $q, ".s}}[2], [x", $r, "]\n")
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon64_bgemm_b1_8x8"),
    "stp d8, d9, [sp, #-64]!",
    "stp d10, d11, [sp, #16]",
    "stp d12, d13, [sp, #32]",
    "stp d14, d15, [sp, #48]",
    // x10: filter row of the tile's first channel, x11: its index in the block,
    // x12: row stride in bytes, x13: channels in the block.
    "ldr x10, [x0, #{f0}]",
    "mov x11, #0",
    "ldr w12, [x0, #{fstride}]",
    "ldr w13, [x0, #{noc}]",
    "10:",
    // x16 = min(8, n_oc - x11) - 1: the tile's last real channel; rows x1..x8.
    "sub x16, x13, x11",
    "mov x17, #8",
    "cmp x16, x17",
    "csel x16, x16, x17, lt",
    "sub x16, x16, #1",
    "mov x1, x10",
    row_ptr!("2", "1"),
    row_ptr!("3", "2"),
    row_ptr!("4", "3"),
    row_ptr!("5", "4"),
    row_ptr!("6", "5"),
    row_ptr!("7", "6"),
    row_ptr!("8", "7"),
    "ldr x9, [x0, #{f}]",
    "ldr w14, [x0, #{chunks}]",
    "ldr x15, [x0, #{mask}]",
    "cbz w14, 16f",
    "cbnz x15, 13f",
    // Unmasked, four chunks per iteration: row o's chunks in v(4o)..v(4o + 3), then chunk c
    // is v(c), v(4 + c), .., v(28 + c) in channel order, stored by pairs.
    "subs w14, w14, #4",
    "b.lt 12f",
    "110:",
    "ld1 {{v0.16b-v3.16b}}, [x1], #64",
    "ld1 {{v4.16b-v7.16b}}, [x2], #64",
    "ld1 {{v8.16b-v11.16b}}, [x3], #64",
    "ld1 {{v12.16b-v15.16b}}, [x4], #64",
    "ld1 {{v16.16b-v19.16b}}, [x5], #64",
    "ld1 {{v20.16b-v23.16b}}, [x6], #64",
    "ld1 {{v24.16b-v27.16b}}, [x7], #64",
    "ld1 {{v28.16b-v31.16b}}, [x8], #64",
    "stp q0, q4, [x9], #32",
    "stp q8, q12, [x9], #32",
    "stp q16, q20, [x9], #32",
    "stp q24, q28, [x9], #32",
    "stp q1, q5, [x9], #32",
    "stp q9, q13, [x9], #32",
    "stp q17, q21, [x9], #32",
    "stp q25, q29, [x9], #32",
    "stp q2, q6, [x9], #32",
    "stp q10, q14, [x9], #32",
    "stp q18, q22, [x9], #32",
    "stp q26, q30, [x9], #32",
    "stp q3, q7, [x9], #32",
    "stp q11, q15, [x9], #32",
    "stp q19, q23, [x9], #32",
    "stp q27, q31, [x9], #32",
    "subs w14, w14, #4",
    "b.ge 110b",
    "12:",
    "adds w14, w14, #4",
    "b.eq 16f",
    "11:",
    "ldr q0, [x1], #16",
    "ldr q1, [x2], #16",
    "ldr q2, [x3], #16",
    "ldr q3, [x4], #16",
    "ldr q4, [x5], #16",
    "ldr q5, [x6], #16",
    "ldr q6, [x7], #16",
    "ldr q7, [x8], #16",
    "st1 {{v0.16b-v3.16b}}, [x9], #64",
    "st1 {{v4.16b-v7.16b}}, [x9], #64",
    "subs w14, w14, #1",
    "b.ne 11b",
    "b 16f",
    "13:",
    "ldr q0, [x1], #16",
    "ldr q1, [x2], #16",
    "ldr q2, [x3], #16",
    "ldr q3, [x4], #16",
    "ldr q4, [x5], #16",
    "ldr q5, [x6], #16",
    "ldr q6, [x7], #16",
    "ldr q7, [x8], #16",
    "ldr q8, [x15], #16",
    "and v0.16b, v0.16b, v8.16b",
    "and v1.16b, v1.16b, v8.16b",
    "and v2.16b, v2.16b, v8.16b",
    "and v3.16b, v3.16b, v8.16b",
    "and v4.16b, v4.16b, v8.16b",
    "and v5.16b, v5.16b, v8.16b",
    "and v6.16b, v6.16b, v8.16b",
    "and v7.16b, v7.16b, v8.16b",
    "st1 {{v0.16b-v3.16b}}, [x9], #64",
    "st1 {{v4.16b-v7.16b}}, [x9], #64",
    "subs w14, w14, #1",
    "b.ne 13b",
    "16:",
    // Partial chunk: 1-3 words per row, zero-extended (ldr s/d clear the rest), masked.
    "ldr w14, [x0, #{tail}]",
    "cbz w14, 19f",
    "cmp w14, #2",
    "b.lt 171f",
    "b.eq 172f",
    tail_rows!(tail3),
    "b 18f",
    "171:",
    tail_rows!(tail1),
    "b 18f",
    "172:",
    tail_rows!(tail2),
    "18:",
    "cbz x15, 181f",
    "ldr q8, [x15]",
    "and v0.16b, v0.16b, v8.16b",
    "and v1.16b, v1.16b, v8.16b",
    "and v2.16b, v2.16b, v8.16b",
    "and v3.16b, v3.16b, v8.16b",
    "and v4.16b, v4.16b, v8.16b",
    "and v5.16b, v5.16b, v8.16b",
    "and v6.16b, v6.16b, v8.16b",
    "and v7.16b, v7.16b, v8.16b",
    "181:",
    "st1 {{v0.16b-v3.16b}}, [x9], #64",
    "st1 {{v4.16b-v7.16b}}, [x9]",
    "19:",
    // GEMM of every pixel tile against the filter tile.
    "ldr x1, [x0, #{a}]",
    "ldr x2, [x0, #{f}]",
    "ldr x3, [x0, #{s}]",
    "add x3, x3, x11, lsl #1",
    "ldr w4, [x0, #{sstride}]",
    "ldr w5, [x0, #{kq}]",
    "ldr w6, [x0, #{tiles}]",
    "cbz w6, 40f",
    "20:",
    gemm_tile!("2", gemm_chunk8),
    "st1 {{v16.8h}}, [x3], x4",
    "st1 {{v17.8h}}, [x3], x4",
    "st1 {{v18.8h}}, [x3], x4",
    "st1 {{v19.8h}}, [x3], x4",
    "st1 {{v20.8h}}, [x3], x4",
    "st1 {{v21.8h}}, [x3], x4",
    "st1 {{v22.8h}}, [x3], x4",
    "st1 {{v23.8h}}, [x3], x4",
    "subs w6, w6, #1",
    "b.ne 20b",
    "40:",
    "ldr w6, [x0, #{half}]",
    "cbz w6, 50f",
    gemm_tile!("4", gemm_chunk4),
    "st1 {{v16.8h}}, [x3], x4",
    "st1 {{v17.8h}}, [x3], x4",
    "st1 {{v18.8h}}, [x3], x4",
    "st1 {{v19.8h}}, [x3], x4",
    "50:",
    // Next channel tile.
    "add x10, x10, x12, lsl #3",
    "add x11, x11, #8",
    "cmp x11, x13",
    "b.lt 10b",
    "ldp d14, d15, [sp, #48]",
    "ldp d12, d13, [sp, #32]",
    "ldp d10, d11, [sp, #16]",
    "ldp d8, d9, [sp], #64",
    "ret",
    asm_fn_end!("doppler_neon64_bgemm_b1_8x8"),
    a = const GA_A,
    f = const GA_F,
    s = const GA_S,
    f0 = const GA_F0,
    mask = const GA_MASK,
    sstride = const GA_SSTRIDE,
    kq = const GA_KQ,
    tiles = const GA_TILES,
    half = const GA_HALF,
    fstride = const GA_FSTRIDE,
    noc = const GA_NOC,
    chunks = const GA_CHUNKS,
    tail = const GA_TAIL,
);

extern "C" {
    /// Filter repack + binary GEMM of one output-channel block (see the module docs).
    fn doppler_neon64_bgemm_b1_8x8(args: *const GemmArgs);
}

/// The count matrix of a group: `MAX_ROWS` rows of `OC_BLOCK` u16.
type Counts = Align16<[u16; MAX_ROWS * OC_BLOCK]>;

/// Safe wrapper of the filter repack + 8×8 binary GEMM of one output-channel block. `a` holds
/// `tiles` 8-row pixel tiles (and one 4-row tile if `half`) built by the im2col; `f` is
/// scratch for one filter tile.
fn neon64_bgemm_b1_8x8(
    a: &[MaybeUninit<u32>],
    f: &mut [MaybeUninit<u32>],
    fb: &FilterBlock,
    s: &mut Counts,
    kq: usize,
    tiles: usize,
    half: bool,
) {
    let (chunks, tail) = (fb.chunks, fb.tail);
    // `chunks + (tail > 0) == kq`: every chunk of the filter tile is written before it is read.
    assert!(kq >= 1 && tail < 4 && chunks + usize::from(tail > 0) == kq);
    let rows = tiles * TILE_ROWS + if half { HALF_ROWS } else { 0 };
    assert!((1..=MAX_ROWS).contains(&rows) && a.len() >= rows * kq * 4 && f.len() >= kq * 32);
    assert!(a.as_ptr() as usize % 16 == 0 && f.as_ptr() as usize % 16 == 0);
    assert!((1..=OC_BLOCK).contains(&fb.n_oc) && 4 * chunks + tail <= fb.row_words);
    assert!(fb.rows.len() >= fb.n_oc * fb.row_words);
    if let Some(m) = fb.mask {
        assert!(m.len() >= 4 * kq && m.as_ptr() as usize % 16 == 0);
    }
    let args = GemmArgs {
        a: a.as_ptr().cast(),
        f: f.as_mut_ptr().cast(),
        s: s.0.as_mut_ptr(),
        f0: fb.rows.as_ptr(),
        mask: fb.mask.map_or(core::ptr::null(), |m| m.as_ptr()),
        s_stride: (OC_BLOCK * 2) as u32,
        kq: kq as u32,
        tiles: tiles as u32,
        half: u32::from(half),
        f_stride: (fb.row_words * 4) as u32,
        n_oc: fb.n_oc as u32,
        chunks: chunks as u32,
        tail: tail as u32,
    };
    // SAFETY: per channel tile the asm reads `4·chunks + tail <= row_words` words of eight of
    // the block's `n_oc` rows (missing channels repeat the last real row: all inside `rows`)
    // and `4·kq` words of the mask, writes all `128·kq` bytes of `f`, then reads `rows·kq·16`
    // bytes of `a` (written by the group's im2col) and `kq·128` bytes of `f`, and writes u16×8 at
    // `S[r][8j]` for r < rows <= MAX_ROWS and 8j < n_oc <= 32. All checked above.
    unsafe { doppler_neon64_bgemm_b1_8x8(&args) }
}

// ---------------------------------------------------------------------------------------------
// im2col: neon64_bim2col

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
    /// Word written for out-of-bounds taps (0: one-padding; !0: the zero-padding twin row).
    fill: u32,
    _pad: u32,
}
const RD_BASE: usize = 0;
const RD_ROWMASK: usize = 8;
const RD_COLMASK: usize = 12;
const RD_FILL: usize = 16;
const _: () = assert!(offset_of!(RowDesc, base) == RD_BASE);
const _: () = assert!(offset_of!(RowDesc, rowmask) == RD_ROWMASK);
const _: () = assert!(offset_of!(RowDesc, colmask) == RD_COLMASK);
const _: () = assert!(offset_of!(RowDesc, fill) == RD_FILL);
const _: () = assert!(size_of::<RowDesc>() == 24);

impl RowDesc {
    /// The row of a pixel's taps, out-of-bounds taps reading `fill`.
    fn new(t: &PixelTaps, fill: u32) -> Self {
        RowDesc { base: t.base, rowmask: t.rowmask, colmask: t.colmask, fill, _pad: 0 }
    }
}

/// Arguments of `neon64_bim2col`: builds the `rows` (8 or 4) rows of one pixel tile.
#[repr(C)]
struct Im2colArgs {
    /// Destination pixel tile `[kq][rows][4 words]`.
    dst: *mut u32,
    /// Scratch row of `kq * 4` words, words `[Kw, 4·kq)` zero (not used in direct mode).
    tmp: *mut u32,
    /// Mask row (`kq * 4` words) or null.
    mask: *const u32,
    /// `rows` row descriptors.
    descs: *const RowDesc,
    rows: u32,
    kq: u32,
    k_h: u32,
    k_w: u32,
    /// Words per tap (`words(in_c)`).
    tap_words: u32,
    /// `k_w * tap_words`: the words of a `RUN` tap row.
    run_words: u32,
    /// Bytes from one tap row / column to the next.
    row_step: u32,
    col_step: u32,
    /// Nonzero: taps are whole chunks and nothing is masked; copy them straight into the tile.
    direct: u32,
}
const IA_DST: usize = 0;
const IA_TMP: usize = 8;
const IA_MASK: usize = 16;
const IA_DESCS: usize = 24;
const IA_ROWS: usize = 32;
const IA_KQ: usize = 36;
const IA_KH: usize = 40;
const IA_KW: usize = 44;
const IA_TAPW: usize = 48;
const IA_RUNW: usize = 52;
const IA_ROWSTEP: usize = 56;
const IA_COLSTEP: usize = 60;
const IA_DIRECT: usize = 64;
const _: () = assert!(offset_of!(Im2colArgs, dst) == IA_DST);
const _: () = assert!(offset_of!(Im2colArgs, tmp) == IA_TMP);
const _: () = assert!(offset_of!(Im2colArgs, mask) == IA_MASK);
const _: () = assert!(offset_of!(Im2colArgs, descs) == IA_DESCS);
const _: () = assert!(offset_of!(Im2colArgs, rows) == IA_ROWS);
const _: () = assert!(offset_of!(Im2colArgs, kq) == IA_KQ);
const _: () = assert!(offset_of!(Im2colArgs, k_h) == IA_KH);
const _: () = assert!(offset_of!(Im2colArgs, k_w) == IA_KW);
const _: () = assert!(offset_of!(Im2colArgs, tap_words) == IA_TAPW);
const _: () = assert!(offset_of!(Im2colArgs, run_words) == IA_RUNW);
const _: () = assert!(offset_of!(Im2colArgs, row_step) == IA_ROWSTEP);
const _: () = assert!(offset_of!(Im2colArgs, col_step) == IA_COLSTEP);
const _: () = assert!(offset_of!(Im2colArgs, direct) == IA_DIRECT);
const _: () = assert!(size_of::<Im2colArgs>() == 72);

/// Direct copy of w3 words (a multiple of 4) from x2 to chunks at x9, x9 + x17, ...
macro_rules! i2c_copy_direct {
    () => {
        concat!(
            "subs w3, w3, #16\n",
            "b.lt 2f\n",
            "1:\n",
            "ld1 {{v0.4s-v3.4s}}, [x2], #64\n",
            "st1 {{v0.4s}}, [x9], x17\n",
            "st1 {{v1.4s}}, [x9], x17\n",
            "st1 {{v2.4s}}, [x9], x17\n",
            "st1 {{v3.4s}}, [x9], x17\n",
            "subs w3, w3, #16\n",
            "b.ge 1b\n",
            "2:\n",
            // w3 = n − 16 (mod 16): bits 3 and 2 are those of n.
            "tbz w3, #3, 3f\n",
            "ld1 {{v0.4s, v1.4s}}, [x2], #32\n",
            "st1 {{v0.4s}}, [x9], x17\n",
            "st1 {{v1.4s}}, [x9], x17\n",
            "3:\n",
            "tbz w3, #2, 4f\n",
            "ld1 {{v0.4s}}, [x2], #16\n",
            "st1 {{v0.4s}}, [x9], x17\n",
            "4:\n",
        )
    };
}
/// Direct fill of w3 words (a multiple of 4) as chunks at x9, x9 + x17, ...
macro_rules! i2c_fill_direct {
    () => {
        concat!(
            "subs w3, w3, #4\n",
            "b.lt 2f\n",
            "1:\n",
            "st1 {{v30.4s}}, [x9], x17\n",
            "subs w3, w3, #4\n",
            "b.ge 1b\n",
            "2:\n",
        )
    };
}
/// Copy of w3 words from x2 to x9 (both advance). After a failed `subs #8`, w3 = n − 8 (mod 8)
/// and its low three bits are those of n.
macro_rules! i2c_copy_tmp {
    () => {
        concat!(
            "subs w3, w3, #8\n",
            "b.lt 2f\n",
            "1:\n",
            "ld1 {{v0.4s, v1.4s}}, [x2], #32\n",
            "st1 {{v0.4s, v1.4s}}, [x9], #32\n",
            "subs w3, w3, #8\n",
            "b.ge 1b\n",
            "2:\n",
            "tbz w3, #2, 3f\n",
            "ld1 {{v0.4s}}, [x2], #16\n",
            "st1 {{v0.4s}}, [x9], #16\n",
            "3:\n",
            "tbz w3, #1, 4f\n",
            "ld1 {{v0.2s}}, [x2], #8\n",
            "st1 {{v0.2s}}, [x9], #8\n",
            "4:\n",
            "tbz w3, #0, 5f\n",
            "ld1 {{v0.s}}[0], [x2], #4\n",
            "st1 {{v0.s}}[0], [x9], #4\n",
            "5:\n",
        )
    };
}
/// Fill of w3 words at x9 (advances).
macro_rules! i2c_fill_tmp {
    () => {
        concat!(
            "subs w3, w3, #8\n",
            "b.lt 2f\n",
            "1:\n",
            "st1 {{v30.4s, v31.4s}}, [x9], #32\n",
            "subs w3, w3, #8\n",
            "b.ge 1b\n",
            "2:\n",
            "tbz w3, #2, 3f\n",
            "st1 {{v30.4s}}, [x9], #16\n",
            "3:\n",
            "tbz w3, #1, 4f\n",
            "st1 {{v30.2s}}, [x9], #8\n",
            "4:\n",
            "tbz w3, #0, 5f\n",
            "st1 {{v30.s}}[0], [x9], #4\n",
            "5:\n",
        )
    };
}

/// The row loop of the im2col with label prefix `$p` (see `arm32::binary`'s twin). Registers:
/// x1 the row's column in the tile, x4 descriptor, x5 tap-row cursor, w6 rowmask (shifted),
/// w7 colmask, w8 tap rows left, x9 write pointer (`$start`), x10 column cursor, w13 column
/// bits with a sentinel bit at `k_w`, w11 rows left, x17 chunk stride in bytes.
macro_rules! i2c_rows {
    ($p:literal, $start:literal, $copy:ident, $fill:ident, $after:expr) => {
        concat!(
            $p,
            "20:\n",
            "ldr x5, [x4, #{rd_base}]\n",
            "ldr w6, [x4, #{rd_rowmask}]\n",
            "ldr w7, [x4, #{rd_colmask}]\n",
            "add x12, x4, #{rd_fill}\n",
            "ld1r {{v30.4s}}, [x12]\n",
            "mov v31.16b, v30.16b\n",
            $start,
            "\n",
            "ldr w8, [x0, #{kh}]\n",
            $p,
            "21:\n",
            "tbz w6, #0, ",
            $p,
            "25f\n",
            "tbz w7, #31, ",
            $p,
            "22f\n",
            "ldr w3, [x0, #{runw}]\n",
            "mov x2, x5\n",
            $copy!(),
            "b ",
            $p,
            "26f\n",
            $p,
            "22:\n",
            "mov x10, x5\n",
            "ldr w12, [x0, #{kw}]\n",
            "mov w13, #1\n",
            "lsl w13, w13, w12\n",
            "orr w13, w13, w7\n",
            "and w13, w13, #0x7fffffff\n",
            $p,
            "23:\n",
            "ldr w3, [x0, #{tapw}]\n",
            "tbz w13, #0, ",
            $p,
            "24f\n",
            "mov x2, x10\n",
            $copy!(),
            "b ",
            $p,
            "27f\n",
            $p,
            "24:\n",
            $fill!(),
            $p,
            "27:\n",
            "ldr w12, [x0, #{colstep}]\n",
            "add x10, x10, x12\n",
            "lsr w13, w13, #1\n",
            "cmp w13, #1\n",
            "b.ne ",
            $p,
            "23b\n",
            "b ",
            $p,
            "26f\n",
            $p,
            "25:\n",
            "ldr w3, [x0, #{tapw}]\n",
            "ldr w12, [x0, #{kw}]\n",
            "mul w3, w3, w12\n",
            $fill!(),
            $p,
            "26:\n",
            "ldr w12, [x0, #{rowstep}]\n",
            "add x5, x5, x12\n",
            "lsr w6, w6, #1\n",
            "subs w8, w8, #1\n",
            "b.ne ",
            $p,
            "21b\n",
            $after,
            "add x1, x1, #16\n",
            "add x4, x4, #{rd_size}\n",
            "subs w11, w11, #1\n",
            "b.ne ",
            $p,
            "20b\n",
            "ret\n",
        )
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon64_bim2col"),
    "ldr x1, [x0, #{dst}]",
    "ldr x15, [x0, #{tmp}]",
    "ldr x16, [x0, #{mask}]",
    "ldr x4, [x0, #{descs}]",
    "ldr w11, [x0, #{rows}]",
    "lsl x17, x11, #4",
    "ldr w12, [x0, #{direct}]",
    "cbnz w12, 300f",
    i2c_rows!(
        "2",
        "mov x9, x15",
        i2c_copy_tmp,
        i2c_fill_tmp,
        concat!(
            // Scatter the row into its column (stride x17), masked if asked.
            "mov x2, x15\n",
            "mov x9, x1\n",
            "ldr w3, [x0, #{kq}]\n",
            "cbz x16, 231f\n",
            "mov x12, x16\n",
            "230:\n",
            "ld1 {{v0.4s}}, [x2], #16\n",
            "ld1 {{v1.4s}}, [x12], #16\n",
            "and v0.16b, v0.16b, v1.16b\n",
            "st1 {{v0.4s}}, [x9], x17\n",
            "subs w3, w3, #1\n",
            "b.ne 230b\n",
            "b 232f\n",
            "231:\n",
            "ld1 {{v0.4s}}, [x2], #16\n",
            "st1 {{v0.4s}}, [x9], x17\n",
            "subs w3, w3, #1\n",
            "b.ne 231b\n",
            "232:\n",
        )
    ),
    "300:",
    i2c_rows!("3", "mov x9, x1", i2c_copy_direct, i2c_fill_direct, ""),
    asm_fn_end!("doppler_neon64_bim2col"),
    dst = const IA_DST,
    tmp = const IA_TMP,
    mask = const IA_MASK,
    descs = const IA_DESCS,
    rows = const IA_ROWS,
    kq = const IA_KQ,
    kh = const IA_KH,
    kw = const IA_KW,
    tapw = const IA_TAPW,
    runw = const IA_RUNW,
    rowstep = const IA_ROWSTEP,
    colstep = const IA_COLSTEP,
    direct = const IA_DIRECT,
    rd_base = const RD_BASE,
    rd_rowmask = const RD_ROWMASK,
    rd_colmask = const RD_COLMASK,
    rd_fill = const RD_FILL,
    rd_size = const size_of::<RowDesc>(),
);

extern "C" {
    /// Builds one 8- or 4-row pixel tile.
    fn doppler_neon64_bim2col(args: *const Im2colArgs);
}

/// Geometry of the im2col of one call (fixed over all rows).
struct Im2col<'a> {
    input: &'a [u32],
    kq: usize,
    k_h: usize,
    k_w: usize,
    wpp: usize,
    /// Bytes from one tap row / column to the next.
    row_step: usize,
    col_step: usize,
    mask: Option<&'a [u32]>,
}

impl Im2col<'_> {
    /// Safe wrapper of `neon64_bim2col`: builds the tile of `descs.len()` (8 or 4) rows into
    /// `dst` (`[kq][rows][4]`). Every in-bounds tap of every descriptor is checked to lie in
    /// the input.
    fn tile(&self, descs: &[RowDesc], dst: &mut [MaybeUninit<u32>], tmp: &mut [u32]) {
        let (kq, wpp) = (self.kq, self.wpp);
        let n_rows = descs.len();
        let kw_words = self.k_h * self.k_w * wpp;
        assert!(n_rows == TILE_ROWS || n_rows == HALF_ROWS);
        assert!(dst.len() >= kq * 4 * n_rows && tmp.len() >= kq * 4 && kw_words <= kq * 4);
        assert!((1..=32).contains(&self.k_h) && (1..=31).contains(&self.k_w));
        if let Some(m) = self.mask {
            assert!(m.len() >= kq * 4);
        }
        let direct = self.mask.is_none() && wpp % 4 == 0;
        // Every tap read lies between the first and the last in-bounds tap (the steps are
        // non-negative); a run copies exactly the taps of its row.
        let (start, end) =
            (self.input.as_ptr() as usize, self.input.as_ptr() as usize + self.input.len() * 4);
        let tap_bytes = wpp * 4;
        let (full_h, full_w) = (low_bits(self.k_h), low_bits(self.k_w));
        let run_ok = self.col_step == tap_bytes;
        // Offset of the end of the last tap when every tap is in bounds.
        let span = (self.k_h - 1) * self.row_step + (self.k_w - 1) * self.col_step + tap_bytes;
        for d in descs {
            assert!(d.colmask & RUN == 0 || (run_ok && d.colmask == RUN | full_w));
            if d.rowmask == full_h && d.colmask & !RUN == full_w {
                // Interior pixel: the first tap is `base`, the last ends `span` bytes later.
                assert!(
                    d.base >= start && d.base % 4 == 0 && d.base.checked_add(span).is_some_and(|e| e <= end)
                );
                continue;
            }
            let (rm, cm) = (d.rowmask & full_h, d.colmask & full_w);
            if rm == 0 || cm == 0 {
                continue;
            }
            let (ky0, ky1) = (rm.trailing_zeros() as usize, 31 - rm.leading_zeros() as usize);
            let (kx0, kx1) = (cm.trailing_zeros() as usize, 31 - cm.leading_zeros() as usize);
            let first = d.base.wrapping_add(ky0 * self.row_step + kx0 * self.col_step);
            let last = d.base.wrapping_add(ky1 * self.row_step + kx1 * self.col_step);
            assert!(first >= start && first % 4 == 0 && first <= last);
            assert!(last.checked_add(tap_bytes).is_some_and(|e| e <= end));
        }
        tmp[kw_words..kq * 4].fill(0);
        let args = Im2colArgs {
            dst: dst.as_mut_ptr().cast(),
            tmp: tmp.as_mut_ptr(),
            mask: self.mask.map_or(core::ptr::null(), |m| m.as_ptr()),
            descs: descs.as_ptr(),
            rows: n_rows as u32,
            kq: kq as u32,
            k_h: self.k_h as u32,
            k_w: self.k_w as u32,
            tap_words: wpp as u32,
            run_words: (self.k_w * wpp) as u32,
            row_step: self.row_step as u32,
            col_step: self.col_step as u32,
            direct: u32::from(direct),
        };
        // SAFETY: the asm dereferences only in-bounds taps, all between the first and the last
        // one checked above (a run is the same words as its row's taps). It writes `Kw` words
        // of `tmp` (not in direct mode) and `kq` 16-byte chunks into each of the rows' columns
        // of `dst` (`16·rows·kq` bytes; in direct mode `Kw == 4·kq`), and reads `16·kq` bytes of
        // `tmp` (the row just written, then the zeroed tail) and of the mask. All checked above.
        unsafe { doppler_neon64_bim2col(&args) }
    }
}

// ---------------------------------------------------------------------------------------------
// Epilogues: neon64_bepi_bits / neon64_bepi_bits1 / neon64_bepi_f32 / neon64_bepi_i8

/// Per-pixel count-row pairs `rowA | rowB << 16`, every index checked `< MAX_ROWS`.
struct RowPairs<'a> {
    rows: &'a [u32],
    /// Every pixel has a single row (`rowA == rowB`).
    single: bool,
}

impl<'a> RowPairs<'a> {
    fn new(rows: &'a [u32]) -> Self {
        let mut single = true;
        for &r in rows {
            let (a, b) = (r & 0xFFFF, r >> 16);
            assert!((a as usize) < MAX_ROWS && (b as usize) < MAX_ROWS);
            single &= a == b;
        }
        RowPairs { rows, single }
    }
}

const BIT_WEIGHTS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];

/// Arguments of the epilogue kernels (one block of up to 32 output channels, `n_pix` pixels).
#[repr(C)]
struct EpiArgs {
    /// `S[0][0]`: rows of 32 u16, 64 bytes apart.
    s: *const u16,
    /// Per pixel: `rowA | rowB << 16`.
    rows: *const u32,
    /// Output of the first pixel at the block's first channel (bits: its word).
    out: *mut u8,
    /// Bits: `[u16; 32]` bounds. Float/int8: the block's multipliers (`ceil8(n_oc)` readable).
    c0: *const u8,
    /// Bits: `[u8; 16]` bit weights. Float/int8: the block's biases (`ceil8(n_oc)` readable).
    c1: *const u8,
    n_pix: u32,
    /// Bytes between consecutive pixels' outputs.
    out_stride: u32,
    /// Channels in the block (float/int8), 1..=32.
    n_oc: u32,
    /// Float/int8: `x = max(min(s, hi), lo)` as `lo | hi << 16`.
    lohi: u32,
}
const EA_S: usize = 0;
const EA_ROWS: usize = 8;
const EA_OUT: usize = 16;
const EA_C0: usize = 24;
const EA_C1: usize = 32;
const EA_NPIX: usize = 40;
const EA_OSTRIDE: usize = 44;
const EA_NOC: usize = 48;
const EA_LOHI: usize = 52;
const _: () = assert!(offset_of!(EpiArgs, s) == EA_S);
const _: () = assert!(offset_of!(EpiArgs, rows) == EA_ROWS);
const _: () = assert!(offset_of!(EpiArgs, out) == EA_OUT);
const _: () = assert!(offset_of!(EpiArgs, c0) == EA_C0);
const _: () = assert!(offset_of!(EpiArgs, c1) == EA_C1);
const _: () = assert!(offset_of!(EpiArgs, n_pix) == EA_NPIX);
const _: () = assert!(offset_of!(EpiArgs, out_stride) == EA_OSTRIDE);
const _: () = assert!(offset_of!(EpiArgs, n_oc) == EA_NOC);
const _: () = assert!(offset_of!(EpiArgs, lohi) == EA_LOHI);
const _: () = assert!(size_of::<EpiArgs>() == 56);
// The asm addresses count rows as `S + 64·row`.
const _: () = assert!(OC_BLOCK * 2 == 64);

/// Per-pixel prologue: x10 = S row A, x9 = S row B (from the next row pair at x3).
macro_rules! epi_rows {
    () => {
        concat!(
            "ldr w9, [x3], #4\n",
            "and w10, w9, #0xffff\n",
            "lsr w9, w9, #16\n",
            "add x10, x1, x10, lsl #6\n",
            "add x9, x1, x9, lsl #6\n",
        )
    };
}

/// Eight channels to float: `y` in v4 (channels 0-3) and v5 (4-7); x13/x14 multipliers/biases.
macro_rules! epi_eight {
    () => {
        concat!(
            "ldr q0, [x10], #16\n",
            "ldr q1, [x9], #16\n",
            "add v0.8h, v0.8h, v1.8h\n",
            "umin v0.8h, v0.8h, v17.8h\n",
            "umax v0.8h, v0.8h, v16.8h\n",
            "uxtl v4.4s, v0.4h\n",
            "uxtl2 v5.4s, v0.8h\n",
            "ucvtf v4.4s, v4.4s\n",
            "ucvtf v5.4s, v5.4s\n",
            "ld1 {{v2.4s, v3.4s}}, [x13], #32\n",
            "fmul v4.4s, v4.4s, v2.4s\n",
            "fmul v5.4s, v5.4s, v3.4s\n",
            "ld1 {{v2.4s, v3.4s}}, [x14], #32\n",
            "fadd v4.4s, v4.4s, v2.4s\n",
            "fadd v5.4s, v5.4s, v3.4s\n",
        )
    };
}

/// Float/int8 epilogue prologue: registers from the arguments, v16 = lo, v17 = hi.
macro_rules! epi_float_prologue {
    () => {
        concat!(
            "ldr x1, [x0, #{s}]\n",
            "ldr x3, [x0, #{rows}]\n",
            "ldr x5, [x0, #{out}]\n",
            "ldr x7, [x0, #{c0}]\n",
            "ldr x8, [x0, #{c1}]\n",
            "ldr w4, [x0, #{npix}]\n",
            "ldr w6, [x0, #{os}]\n",
            "ldr w11, [x0, #{noc}]\n",
            "ldr w12, [x0, #{lohi}]\n",
            "dup v16.8h, w12\n",
            "lsr w12, w12, #16\n",
            "dup v17.8h, w12\n",
        )
    };
}

global_asm!(
    asm_fn_begin!("doppler_neon64_bepi_bits"),
    "ldr x1, [x0, #{s}]",
    "ldr x3, [x0, #{rows}]",
    "ldr x5, [x0, #{out}]",
    "ldr x7, [x0, #{c0}]",
    "ldr x8, [x0, #{c1}]",
    "ldr w4, [x0, #{npix}]",
    "ldr w6, [x0, #{os}]",
    "ld1 {{v16.8h-v19.8h}}, [x7]",
    "ld1 {{v20.16b}}, [x8]",
    "1:",
    epi_rows!(),
    "ld1 {{v0.8h-v3.8h}}, [x10]",
    "ld1 {{v4.8h-v7.8h}}, [x9]",
    "add v0.8h, v0.8h, v4.8h",
    "add v1.8h, v1.8h, v5.8h",
    "add v2.8h, v2.8h, v6.8h",
    "add v3.8h, v3.8h, v7.8h",
    "cmhs v0.8h, v0.8h, v16.8h",
    "cmhs v1.8h, v1.8h, v17.8h",
    "cmhs v2.8h, v2.8h, v18.8h",
    "cmhs v3.8h, v3.8h, v19.8h",
    "uzp1 v0.16b, v0.16b, v1.16b",
    "uzp1 v2.16b, v2.16b, v3.16b",
    "and v0.16b, v0.16b, v20.16b",
    "and v2.16b, v2.16b, v20.16b",
    "addp v0.16b, v0.16b, v2.16b",
    "addp v0.16b, v0.16b, v0.16b",
    "addp v0.16b, v0.16b, v0.16b",
    "str s0, [x5]",
    "add x5, x5, x6",
    "subs w4, w4, #1",
    "b.ne 1b",
    "ret",
    asm_fn_end!("doppler_neon64_bepi_bits"),
    s = const EA_S,
    rows = const EA_ROWS,
    out = const EA_OUT,
    c0 = const EA_C0,
    c1 = const EA_C1,
    npix = const EA_NPIX,
    os = const EA_OSTRIDE,
);

global_asm!(
    asm_fn_begin!("doppler_neon64_bepi_f32"),
    epi_float_prologue!(),
    "1:",
    epi_rows!(),
    "mov x13, x7",
    "mov x14, x8",
    "mov x15, x5",
    "subs w12, w11, #8",
    "b.lt 3f",
    "2:",
    epi_eight!(),
    "st1 {{v4.4s, v5.4s}}, [x15], #32",
    "subs w12, w12, #8",
    "b.ge 2b",
    "3:",
    // w12 = left - 8: its low three bits are the channels left.
    "tst w12, #7",
    "b.eq 9f",
    epi_eight!(),
    "tst w12, #4",
    "b.eq 4f",
    "st1 {{v4.4s}}, [x15], #16",
    "mov v4.16b, v5.16b",
    "4:",
    "tst w12, #2",
    "b.eq 5f",
    "st1 {{v4.2s}}, [x15], #8",
    "ext v4.16b, v4.16b, v4.16b, #8",
    "5:",
    "tst w12, #1",
    "b.eq 9f",
    "st1 {{v4.s}}[0], [x15]",
    "9:",
    "add x5, x5, x6",
    "subs w4, w4, #1",
    "b.ne 1b",
    "ret",
    asm_fn_end!("doppler_neon64_bepi_f32"),
    s = const EA_S,
    rows = const EA_ROWS,
    out = const EA_OUT,
    c0 = const EA_C0,
    c1 = const EA_C1,
    npix = const EA_NPIX,
    os = const EA_OSTRIDE,
    noc = const EA_NOC,
    lohi = const EA_LOHI,
);

global_asm!(
    asm_fn_begin!("doppler_neon64_bepi_i8"),
    epi_float_prologue!(),
    "1:",
    epi_rows!(),
    "mov x13, x7",
    "mov x14, x8",
    "mov x15, x5",
    "subs w12, w11, #8",
    "b.lt 3f",
    "2:",
    epi_eight!(),
    "fcvtas v4.4s, v4.4s",
    "fcvtas v5.4s, v5.4s",
    "sqxtn v4.4h, v4.4s",
    "sqxtn2 v4.8h, v5.4s",
    "sqxtn v4.8b, v4.8h",
    "st1 {{v4.8b}}, [x15], #8",
    "subs w12, w12, #8",
    "b.ge 2b",
    "3:",
    "tst w12, #7",
    "b.eq 9f",
    epi_eight!(),
    "fcvtas v4.4s, v4.4s",
    "fcvtas v5.4s, v5.4s",
    "sqxtn v4.4h, v4.4s",
    "sqxtn2 v4.8h, v5.4s",
    "sqxtn v4.8b, v4.8h",
    "tst w12, #4",
    "b.eq 4f",
    "st1 {{v4.b}}[0], [x15], #1",
    "st1 {{v4.b}}[1], [x15], #1",
    "st1 {{v4.b}}[2], [x15], #1",
    "st1 {{v4.b}}[3], [x15], #1",
    "ext v4.8b, v4.8b, v4.8b, #4",
    "4:",
    "tst w12, #2",
    "b.eq 5f",
    "st1 {{v4.b}}[0], [x15], #1",
    "st1 {{v4.b}}[1], [x15], #1",
    "ext v4.8b, v4.8b, v4.8b, #2",
    "5:",
    "tst w12, #1",
    "b.eq 9f",
    "st1 {{v4.b}}[0], [x15]",
    "9:",
    "add x5, x5, x6",
    "subs w4, w4, #1",
    "b.ne 1b",
    "ret",
    asm_fn_end!("doppler_neon64_bepi_i8"),
    s = const EA_S,
    rows = const EA_ROWS,
    out = const EA_OUT,
    c0 = const EA_C0,
    c1 = const EA_C1,
    npix = const EA_NPIX,
    os = const EA_OSTRIDE,
    noc = const EA_NOC,
    lohi = const EA_LOHI,
);

global_asm!(
    asm_fn_begin!("doppler_neon64_bepi_bits1"),
    // Every pixel has one count row (rowA == rowB): bit = 2·S >= bound <=> S >= ceil(bound / 2),
    // with the halved bounds precomputed.
    "ldr x1, [x0, #{s}]",
    "ldr x3, [x0, #{rows}]",
    "ldr x5, [x0, #{out}]",
    "ldr x7, [x0, #{c0}]",
    "ldr x8, [x0, #{c1}]",
    "ldr w4, [x0, #{npix}]",
    "ldr w6, [x0, #{os}]",
    "ld1 {{v16.8h-v19.8h}}, [x7]",
    "ld1 {{v20.16b}}, [x8]",
    "1:",
    "ldr w9, [x3], #4",
    "and w10, w9, #0xffff",
    "add x10, x1, x10, lsl #6",
    "ld1 {{v0.8h-v3.8h}}, [x10]",
    "cmhs v0.8h, v0.8h, v16.8h",
    "cmhs v1.8h, v1.8h, v17.8h",
    "cmhs v2.8h, v2.8h, v18.8h",
    "cmhs v3.8h, v3.8h, v19.8h",
    "uzp1 v0.16b, v0.16b, v1.16b",
    "uzp1 v2.16b, v2.16b, v3.16b",
    "and v0.16b, v0.16b, v20.16b",
    "and v2.16b, v2.16b, v20.16b",
    "addp v0.16b, v0.16b, v2.16b",
    "addp v0.16b, v0.16b, v0.16b",
    "addp v0.16b, v0.16b, v0.16b",
    "str s0, [x5]",
    "add x5, x5, x6",
    "subs w4, w4, #1",
    "b.ne 1b",
    "ret",
    asm_fn_end!("doppler_neon64_bepi_bits1"),
    s = const EA_S,
    rows = const EA_ROWS,
    out = const EA_OUT,
    c0 = const EA_C0,
    c1 = const EA_C1,
    npix = const EA_NPIX,
    os = const EA_OSTRIDE,
);

extern "C" {
    fn doppler_neon64_bepi_bits(args: *const EpiArgs);
    fn doppler_neon64_bepi_bits1(args: *const EpiArgs);
    fn doppler_neon64_bepi_f32(args: *const EpiArgs);
    fn doppler_neon64_bepi_i8(args: *const EpiArgs);
}

/// Epilogue kernel and its per-block constants.
enum Epi<'c> {
    /// Per-channel bounds (`s >= bound` sets the bit), 32 entries, padding 0xFFFF.
    Bits(&'c [u16; OC_BLOCK]),
    /// The same when every pixel has a single count row: `S >= ceil(bound / 2)`.
    Bits1(&'c [u16; OC_BLOCK]),
    /// Multipliers and biases of the block, each at least `ceil8(n_oc)` long.
    F32(&'c [f32], &'c [f32]),
    I8(&'c [f32], &'c [f32]),
}

/// Safe wrapper of the epilogues: pixel `p` uses count rows `rows[p]` and writes
/// `out_bytes` bytes at byte `p·out_stride` of `out`.
#[allow(clippy::too_many_arguments)]
fn neon64_bepi(
    epi: Epi,
    s: &Counts,
    rows: &RowPairs,
    out: &mut [u8],
    out_stride: usize,
    out_bytes: usize,
    n_oc: usize,
    lohi: u32,
) {
    let n_pix = rows.rows.len();
    assert!(n_pix >= 1 && (1..=OC_BLOCK).contains(&n_oc));
    assert!((n_pix - 1) * out_stride + out_bytes <= out.len());
    let ceil8 = n_oc.div_ceil(8) * 8;
    let (f, c0, c1): (unsafe extern "C" fn(*const EpiArgs), *const u8, *const u8) = match epi {
        Epi::Bits(bounds) => {
            assert!(out_bytes == 4 && out.as_ptr() as usize % 4 == 0 && out_stride % 4 == 0);
            (doppler_neon64_bepi_bits, bounds.as_ptr().cast(), BIT_WEIGHTS.as_ptr())
        }
        Epi::Bits1(half_bounds) => {
            assert!(out_bytes == 4 && out.as_ptr() as usize % 4 == 0 && out_stride % 4 == 0);
            assert!(rows.single, "bepi_bits1: a pixel has two count rows");
            (doppler_neon64_bepi_bits1, half_bounds.as_ptr().cast(), BIT_WEIGHTS.as_ptr())
        }
        Epi::F32(m, b) => {
            assert!(out_bytes == 4 * n_oc && m.len() >= ceil8 && b.len() >= ceil8);
            assert!(out.as_ptr() as usize % 4 == 0 && out_stride % 4 == 0);
            (doppler_neon64_bepi_f32, m.as_ptr().cast(), b.as_ptr().cast())
        }
        Epi::I8(m, b) => {
            assert!(out_bytes == n_oc && m.len() >= ceil8 && b.len() >= ceil8);
            (doppler_neon64_bepi_i8, m.as_ptr().cast(), b.as_ptr().cast())
        }
    };
    let args = EpiArgs {
        s: s.0.as_ptr(),
        rows: rows.rows.as_ptr(),
        out: out.as_mut_ptr(),
        c0,
        c1,
        n_pix: n_pix as u32,
        out_stride: out_stride as u32,
        n_oc: n_oc as u32,
        lohi,
    };
    // SAFETY: the asm reads 32 u16 of each selected count row (indices < MAX_ROWS by
    // `RowPairs`, `s` has MAX_ROWS rows of 32), 32 bounds + 16 weights (bits) or `ceil8(n_oc)`
    // multipliers and biases (checked), and writes `out_bytes` bytes per pixel at
    // `p·out_stride` (checked); 32-bit element stores only to 4-byte aligned outputs (checked).
    unsafe { f(&args) }
}

/// Bits bounds of one block: `bound = sat_u16(K − t + 1)` (bit = `acc < t` ⇔ `s >= bound`)
/// for the `thresholds.len() <= 32` channels, 0xFFFF (never) for the padding ones. With
/// `halve` (single count rows, `s = 2·S`): `ceil(bound / 2)` (0x8000 > K: never).
#[target_feature(enable = "neon")]
fn bits_bounds(k_full: usize, thresholds: &[i32], halve: bool, bounds: &mut [u16; OC_BLOCK]) {
    let n = thresholds.len();
    assert!(n <= OC_BLOCK);
    let mut t = [i32::MIN; OC_BLOCK]; // i32::MIN: K − t saturates to i32::MAX: 0xFFFF
    t[..n].copy_from_slice(thresholds);
    let (k, one) = (vdupq_n_s32(k_full as i32), vdupq_n_s32(1));
    for i in (0..OC_BLOCK).step_by(8) {
        // SAFETY: `t` and `bounds` have 32 elements, i + 8 <= 32.
        unsafe {
            let lo = vqaddq_s32(vqsubq_s32(k, vld1q_s32(t.as_ptr().add(i))), one);
            let hi = vqaddq_s32(vqsubq_s32(k, vld1q_s32(t.as_ptr().add(i + 4))), one);
            let v = vqmovun_high_s32(vqmovun_s32(lo), hi);
            // ceil(v / 2) = (v + 1) >> 1 without overflow: urhadd(v, 0)... = rounding halving add.
            let v = if halve { vrhaddq_u16(v, vdupq_n_u16(0)) } else { v };
            vst1q_u16(bounds.as_mut_ptr().add(i), v);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The convolution driver.

fn bconv_driver(g: &Window2d, pad: PadValue, input: &[u32], filter: &[u32], mut out: Output) {
    let plan = ConvPlan::new(g);
    let (wpp, kq, k_full, n_pix_total, wpo) = (plan.wpp, plan.kq, plan.k_full, plan.n_pix, plan.wpo);
    if n_pix_total == 0 {
        return;
    }
    let lohi = match &out {
        Output::Bits(..) => None,
        Output::F32(e, _) | Output::I8(e, _) => epilogue_bounds(k_full, e.clamp_min, e.clamp_max),
    };

    // Buffers: the im2col tiles and the filter tile are written before they are read.
    let mut a_buf = Align16([const { MaybeUninit::<u32>::uninit() }; A_BYTES / 4]);
    let mut f_buf = Align16([const { MaybeUninit::<u32>::uninit() }; KQ_MAX * 32]);
    let a: &mut [MaybeUninit<u32>] = &mut a_buf.0;
    let f: &mut [MaybeUninit<u32>] = &mut f_buf.0;
    let mut tmp = [0u32; KQ_MAX * 4];
    let mut mask = Align16([0u32; KQ_MAX * 4]);
    let mut s: Counts = Align16([0u16; MAX_ROWS * OC_BLOCK]);
    let mut bounds = [0u16; OC_BLOCK];
    let (mut pad_m, mut pad_b) = ([0f32; OC_BLOCK], [0f32; OC_BLOCK]);
    let mut descs = [RowDesc::default(); MAX_ROWS];
    let mut pix_rows = [0u32; MAX_ROWS];

    let mask_row = plan.mask_row(g, &mut mask.0);
    let im = Im2col {
        input,
        kq,
        k_h: g.k_h,
        k_w: g.k_w,
        wpp,
        row_step: g.dil_h * g.in_w * wpp * 4,
        col_step: g.dil_w * wpp * 4,
        mask: mask_row,
    };
    let rows_cap = (A_BYTES / (16 * kq)).min(MAX_ROWS) / TILE_ROWS * TILE_ROWS;
    let rows_cap = rows_cap.max(TILE_ROWS);
    assert!(rows_cap * kq * 4 <= a.len());

    let mut cursor = PixelCursor::new(g, input.as_ptr() as usize);
    let mut pix0 = 0;
    while pix0 < n_pix_total {
        // --- Rows of this group.
        let (n_rows, n_pix) =
            cursor.gather(pad, n_pix_total - pix0, rows_cap, &mut descs, &mut pix_rows, RowDesc::new);
        // Full 8-row tiles, then one 4-row tile if at most 4 rows are left, else a padded
        // 8-row tile (dummy rows read nothing and are never used).
        let mut tiles = n_rows / TILE_ROWS;
        let rest = n_rows % TILE_ROWS;
        let half = rest > 0 && rest <= HALF_ROWS;
        let built = if half {
            tiles * TILE_ROWS + HALF_ROWS
        } else {
            tiles += usize::from(rest > 0);
            tiles * TILE_ROWS
        };
        for d in &mut descs[n_rows..built] {
            *d = RowDesc { base: input.as_ptr() as usize, ..RowDesc::default() };
        }
        for t in 0..tiles {
            let rows = &descs[t * TILE_ROWS..(t + 1) * TILE_ROWS];
            im.tile(rows, &mut a[t * TILE_ROWS * kq * 4..(t + 1) * TILE_ROWS * kq * 4], &mut tmp);
        }
        if half {
            let t0 = tiles * TILE_ROWS;
            im.tile(&descs[t0..t0 + HALF_ROWS], &mut a[t0 * kq * 4..(t0 + HALF_ROWS) * kq * 4], &mut tmp);
        }
        let rows = RowPairs::new(&pix_rows[..n_pix]);

        // --- Output channel blocks.
        for ob in (0..g.out_c).step_by(OC_BLOCK) {
            let nb = OC_BLOCK.min(g.out_c - ob);
            let fb = FilterBlock::new(&plan, filter, ob, nb, mask_row);
            neon64_bgemm_b1_8x8(&a[..built * kq * 4], &mut f[..kq * 32], &fb, &mut s, kq, tiles, half);

            // --- Epilogue of this block for the group's pixels.
            match &mut out {
                Output::Bits(thresholds, o) => {
                    // SAFETY: NEON is present (asserted at compile time).
                    unsafe { bits_bounds(k_full, &thresholds[ob..ob + nb], rows.single, &mut bounds) };
                    let bytes = as_bytes_mut_u32(&mut o[pix0 * wpo + ob / 32..]);
                    let epi = if rows.single { Epi::Bits1(&bounds) } else { Epi::Bits(&bounds) };
                    neon64_bepi(epi, &s, &rows, bytes, wpo * 4, 4, nb, 0);
                }
                Output::F32(e, o) => {
                    let dst = &mut o[pix0 * g.out_c + ob..];
                    if let Some(lh) = lohi {
                        let (m, b) = block_params(e, ob, nb, &mut pad_m, &mut pad_b);
                        let lohi = u32::from(lh.0) | u32::from(lh.1) << 16;
                        neon64_bepi(
                            Epi::F32(m, b),
                            &s,
                            &rows,
                            as_bytes_mut_f32(dst),
                            g.out_c * 4,
                            nb * 4,
                            nb,
                            lohi,
                        );
                    } else {
                        scalar_epilogue(&s.0, rows.rows, k_full, nb, |p, i, acc| {
                            dst[p * g.out_c + i] = rb::epilogue_f32(e, k_full as i32, acc, ob + i);
                        });
                    }
                }
                Output::I8(e, o) => {
                    let dst = &mut o[pix0 * g.out_c + ob..];
                    if let Some(lh) = lohi {
                        let (m, b) = block_params(e, ob, nb, &mut pad_m, &mut pad_b);
                        let lohi = u32::from(lh.0) | u32::from(lh.1) << 16;
                        neon64_bepi(Epi::I8(m, b), &s, &rows, as_bytes_mut_i8(dst), g.out_c, nb, nb, lohi);
                    } else {
                        scalar_epilogue(&s.0, rows.rows, k_full, nb, |p, i, acc| {
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

/// One word from 32 lane masks (`u32x4` each, channel `4i + l` in mask `i` lane `l`).
#[inline]
#[target_feature(enable = "neon")]
fn gather_bits32(m: [uint32x4_t; 8], w: uint8x16_t) -> u32 {
    let h0 = vuzp1q_u16(vreinterpretq_u16_u32(m[0]), vreinterpretq_u16_u32(m[1]));
    let h1 = vuzp1q_u16(vreinterpretq_u16_u32(m[2]), vreinterpretq_u16_u32(m[3]));
    let h2 = vuzp1q_u16(vreinterpretq_u16_u32(m[4]), vreinterpretq_u16_u32(m[5]));
    let h3 = vuzp1q_u16(vreinterpretq_u16_u32(m[6]), vreinterpretq_u16_u32(m[7]));
    let b0 = vandq_u8(vuzp1q_u8(vreinterpretq_u8_u16(h0), vreinterpretq_u8_u16(h1)), w);
    let b1 = vandq_u8(vuzp1q_u8(vreinterpretq_u8_u16(h2), vreinterpretq_u8_u16(h3)), w);
    let x = vpaddq_u8(b0, b1);
    let x = vpaddq_u8(x, x);
    let x = vpaddq_u8(x, x);
    vgetq_lane_u32(vreinterpretq_u32_u8(x), 0)
}

/// NEON [`crate::reference::binary::pack_f32`]: bit = `x < 0.0` as the integer test
/// `bits − 0x80000001 < 0x7F800000` (unsigned), exact for subnormals, -0.0 and NaN whatever
/// the FPCR flush mode.
pub fn pack_f32(pixels: usize, channels: usize, input: &[f32], output: &mut [u32]) {
    common::check_pack("pack_f32", pixels, channels, input, output);
    // SAFETY: NEON is present (asserted at compile time).
    unsafe { pack_f32_neon(pixels, channels, input, output) }
}

#[target_feature(enable = "neon")]
fn pack_f32_neon(pixels: usize, channels: usize, input: &[f32], output: &mut [u32]) {
    let wpp = words(channels);
    let full = channels / 32;
    // SAFETY: loads 16 bytes from a 16-byte array.
    let w = unsafe { vld1q_u8(BIT_WEIGHTS.as_ptr()) };
    let (c1, c2) = (vdupq_n_u32(0x8000_0001), vdupq_n_u32(0x7F80_0000));
    for p in 0..pixels {
        let src = &input[p * channels..(p + 1) * channels];
        let dst = &mut output[p * wpp..(p + 1) * wpp];
        for (j, d) in dst[..full].iter_mut().enumerate() {
            let chunk = &src[32 * j..32 * j + 32];
            let mut m = [vdupq_n_u32(0); 8];
            for (i, mi) in m.iter_mut().enumerate() {
                // SAFETY: `chunk[4i..4i + 4]` exists (i < 8, 32 elements).
                let v = unsafe { vld1q_u32(chunk.as_ptr().add(4 * i).cast()) };
                *mi = vcltq_u32(vsubq_u32(v, c1), c2);
            }
            *d = gather_bits32(m, w);
        }
        if channels % 32 != 0 {
            dst[full] = common::pack_tail_f32(&src[full * 32..]);
        }
    }
}

/// NEON [`crate::reference::binary::pack_i8`].
pub fn pack_i8(pixels: usize, channels: usize, zero_point: i32, input: &[i8], output: &mut [u32]) {
    let wpp = common::check_pack("pack_i8", pixels, channels, input, output);
    if zero_point <= -128 {
        output[..pixels * wpp].fill(0);
        return;
    }
    // SAFETY: NEON is present (asserted at compile time).
    unsafe { pack_i8_neon(pixels, channels, zero_point, input, output) }
}

#[target_feature(enable = "neon")]
fn pack_i8_neon(pixels: usize, channels: usize, zero_point: i32, input: &[i8], output: &mut [u32]) {
    let wpp = words(channels);
    // bit = q < zp  <=>  q <= zp − 1 = t, t in [-128, 127] here (zp > 127: always).
    let t = vdupq_n_s8((zero_point - 1).min(127) as i8);
    // SAFETY: loads 16 bytes from a 16-byte array.
    let w = unsafe { vld1q_u8(BIT_WEIGHTS.as_ptr()) };
    let full = channels / 32;
    for p in 0..pixels {
        let src = &input[p * channels..(p + 1) * channels];
        let dst = &mut output[p * wpp..(p + 1) * wpp];
        for (j, d) in dst[..full].iter_mut().enumerate() {
            let s = &src[32 * j..32 * j + 32];
            // SAFETY: `s` has 32 bytes.
            let (q0, q1) = unsafe { (vld1q_s8(s.as_ptr()), vld1q_s8(s.as_ptr().add(16))) };
            let b0 = vandq_u8(vcleq_s8(q0, t), w);
            let b1 = vandq_u8(vcleq_s8(q1, t), w);
            let x = vpaddq_u8(b0, b1);
            let x = vpaddq_u8(x, x);
            let x = vpaddq_u8(x, x);
            *d = vgetq_lane_u32(vreinterpretq_u32_u8(x), 0);
        }
        if channels % 32 != 0 {
            dst[full] = common::pack_tail_i8(&src[full * 32..], zero_point);
        }
    }
}

/// NEON [`crate::reference::binary::max_pool_bits`]: the AND of the in-bounds window, four
/// words per `and`.
pub fn max_pool_bits(g: &Window2d, input: &[u32], output: &mut [u32]) {
    let wpp = common::check_max_pool(g, input, output);
    if wpp == 0 {
        return;
    }
    // SAFETY: NEON is present (asserted at compile time).
    unsafe { max_pool_neon(g, input, output) }
}

#[target_feature(enable = "neon")]
fn max_pool_neon(g: &Window2d, input: &[u32], output: &mut [u32]) {
    let wpp = words(g.in_c);
    let last_mask = rb::word_mask(g.in_c, wpp - 1);
    let range = |o: usize, stride: usize, pad: usize, k: usize, dil: usize, size: usize| {
        // In-bounds taps t with 0 <= start + t·dil < size, as [lo, hi) of t — computed, not
        // searched: a search costs O(k) per output, and a window far larger than the input
        // (valid when most of it is padding) made that quadratic (fuzz finding 2's pattern).
        let start = (o * stride) as isize - pad as isize;
        let dil = dil.max(1) as isize;
        let lo = if start >= 0 { 0 } else { ((-start + dil - 1) / dil) as usize };
        let end = size as isize - start;
        let hi = if end <= 0 { 0 } else { ((end + dil - 1) / dil) as usize };
        let lo = lo.min(k);
        (start, lo, hi.clamp(lo, k))
    };
    let nq = wpp / 4;
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            let (sy, ky0, ky1) = range(oy, g.stride_h, g.pad_top, g.k_h, g.dil_h, g.in_h);
            for ox in 0..g.out_w {
                let (sx, kx0, kx1) = range(ox, g.stride_w, g.pad_left, g.k_w, g.dil_w, g.in_w);
                let o = ((b * g.out_h + oy) * g.out_w + ox) * wpp;
                let dst = &mut output[o..o + wpp];
                dst.fill(u32::MAX);
                for ky in ky0..ky1 {
                    let y = (sy + (ky * g.dil_h) as isize) as usize;
                    for kx in kx0..kx1 {
                        let x = (sx + (kx * g.dil_w) as isize) as usize;
                        let i = ((b * g.in_h + y) * g.in_w + x) * wpp;
                        let src = &input[i..i + wpp];
                        for c in 0..nq {
                            // SAFETY: `src[4c..4c + 4]` and `dst[4c..4c + 4]` exist (c < wpp / 4).
                            unsafe {
                                let v = vandq_u32(
                                    vld1q_u32(dst.as_ptr().add(4 * c)),
                                    vld1q_u32(src.as_ptr().add(4 * c)),
                                );
                                vst1q_u32(dst.as_mut_ptr().add(4 * c), v);
                            }
                        }
                        for j in nq * 4..wpp {
                            dst[j] &= src[j];
                        }
                    }
                }
                dst[wpp - 1] &= last_mask;
            }
        }
    }
}
