//! AArch64 NEON f32 kernels (Cortex-A53 and later): conv and fully connected.
//!
//! Same signatures and semantics as [`crate::reference::f32`]; results differ only by rounding,
//! within the tolerance of `tests/reference_f32.rs`.
//!
//! # FMA
//!
//! The microkernels use `FMLA` (fused multiply-add, one rounding per tap instead of two) and sum
//! in a different order than the reference (bias first, then taps tap-major with four depth
//! steps in flight). The tolerance contract explicitly admits any summation order with or
//! without FMA: every such evaluation of an `n`-term sum with absolute sum `S` has an error of
//! at most `(n − 1) · 2^−24 · S` to first order, under the documented bound
//! `(1e−5 + n · 2^−24) · (S + 1)`. The differential tests check it on random shapes.
//!
//! # Technique
//!
//! Output pixels × output channels are a GEMM with depth `K = k_h · k_w · in_c`, contiguous in
//! the NHWC input (per tap) and in the OHWI filter (per channel), so nothing is packed:
//!
//! * `neon64_conv_f32_8x8`: 8 pixels × 8 channels = 16 accumulator vectors (v16–v31, 4 channels
//!   each). Per 4 steps of depth: 8 `LD4` single-lane loads read 4 consecutive weights of each
//!   channel into lane `c` of 4 registers — the 4×8 weight block arrives transposed (v8–v15) —
//!   8 `LD1` read 4 inputs of each pixel (v0–v7), and 64 `FMLA Vd.4S, Vn.4S, Vm.S[k]` do the
//!   256 MACs: **82 instructions per 256 MACs** including the loop (3.1 MACs per instruction).
//! * `_4x8`, `_2x8`, `_1x8` take the remaining pixels (`_1x8` is the GEMV of a batch-1 FC);
//!   `neon64_conv_f32_{8,4,2,1}x4` take channel tails of at most 4 (46 instructions per
//!   128 MACs), e.g. the 3-channel last layer of a style-transfer network.
//! * Depth not a multiple of 4: up to 3 single steps per tap with single-lane loads.
//! * Taps: a table of per-tap, per-pixel input pointers (≤ 9 taps per call; more taps run in
//!   groups, the partial sums parked in the output). A padding tap points at 16 zero bytes and
//!   does not advance, so it adds `0 · w` — identical to the reference's skip for finite
//!   weights (an infinite or NaN weight in a padded tap would give NaN here; non-finite weights
//!   are outside the tolerance contract anyway).
//! * Row mode: when `dil_w = 1` and every pixel of a tile has its whole kernel row inside the
//!   input (always, for the VALID convs behind an explicit Pad), a kernel row is one tap of
//!   depth `k_w · in_c` (contiguous in both operands): fewer taps and, for small `in_c` such as
//!   an RGB first layer, full 4-step loops instead of single steps (9×9×3: 2.4 instead of 0.7
//!   MACs per instruction).
//! * The fused activation is `FMIN` with the upper bound, then the lower bound selected where
//!   `x < lo` (`FCMGT` + `BSL`): exactly the reference's `clamp_act`, NaN propagation and
//!   inverted ranges included (the sign of a zero result is not part of the contract).
//!
//! Measured (`qemu-aarch64 -cpu cortex-a53`, one call): fully connected 64×576→1024 3.0 MACs
//! per instruction, 3×3 conv 56×56×64→64 SAME 2.9, 64×64×128→128 3.0.
//!
//! No heap; stack: the tap table (9 × 128 B) and the parameter block (352 B), about 2.2 KiB
//! deepest.

use core::arch::aarch64::*;
use core::arch::asm;
use core::mem::{offset_of, size_of};

use crate::reference::f32 as reference;
use crate::reference::Window2d;

const _: () = assert!(cfg!(target_feature = "neon"), "the arm64 kernels need a target with NEON");

/// Pixels of the widest microkernel.
const PX: usize = 8;
/// Taps per microkernel call.
const TAP_GROUP: usize = 9;

/// One tap of a pixel tile: each pixel's input pointer and its advance per 4-float step
/// (16 bytes, or 0 for a padding tap pointing at zeros).
#[repr(C)]
#[derive(Clone, Copy)]
struct F32TapRow {
    a: [*const f32; PX],
    inc: [usize; PX],
}

impl F32TapRow {
    const EMPTY: F32TapRow = F32TapRow { a: [core::ptr::null(); PX], inc: [0; PX] };
}

/// Parameters of one `neon64_conv_f32_Px8` call.
#[repr(C, align(16))]
struct F32Tile {
    tab: *const F32TapRow,
    n_taps: usize,
    /// Weights of the 8 channels at the first tap of the table.
    w: [*const f32; 8],
    /// 4-float steps per tap.
    n4: usize,
    /// Single steps per tap after them (`in_c % 4`).
    rem: usize,
    /// In: initial accumulators, out: results; `acc[8 · p + c]` for pixel `p`, channel `c`.
    acc: [f32; 8 * PX],
}

const _: () = {
    assert!(offset_of!(F32TapRow, a) == 0);
    assert!(offset_of!(F32TapRow, inc) == 64);
    assert!(size_of::<F32TapRow>() == 128);
    assert!(offset_of!(F32Tile, tab) == 0);
    assert!(offset_of!(F32Tile, n_taps) == 8);
    assert!(offset_of!(F32Tile, w) == 16);
    assert!(offset_of!(F32Tile, n4) == 80);
    assert!(offset_of!(F32Tile, rem) == 88);
    assert!(offset_of!(F32Tile, acc) == 96);
    assert!(size_of::<F32Tile>() == 352);
};

/// The common frame of the f32 microkernels: load the accumulators, walk the taps, run the
/// 4-step loop and the single steps, store the accumulators.
/// Registers: x0 = `&mut F32Tile`, x1 table, x2 taps left, x3 steps left, x4–x11 weight
/// pointers, x12–x17/x20/x21 A pointers, x22–x28/x30 A increments; v0–v7 inputs, v8–v15
/// transposed weights, v16–v31 accumulators.
#[rustfmt::skip]
macro_rules! f32_frame {
    ($(#[$meta:meta])* $name:ident, taps: $taps:expr, load: $load:expr, main: $main:expr,
     tail: $tail:expr, store: $store:expr) => {
        $(#[$meta])*
        /// # Safety
        /// See [`run_tile`].
        unsafe fn $name(args: &mut F32Tile) {
            // SAFETY: the caller guarantees the pointer ranges documented at `run_tile`; the
            // asm reads only those and the parameter block, writes only `args.acc`, uses no
            // stack, and declares every register it touches.
            unsafe {
                asm!(
                    concat!(
                        $load,
                        "ldr x1, [x0, #{tab}]\n",
                        "ldr x2, [x0, #{ntaps}]\n",
                        "ldp x4, x5, [x0, #{w}]\n",
                        "ldp x6, x7, [x0, #{w}+16]\n",
                        "ldp x8, x9, [x0, #{w}+32]\n",
                        "ldp x10, x11, [x0, #{w}+48]\n",
                        // ---- per tap
                        "2:\n",
                        $taps,
                        "add x1, x1, #128\n",
                        "ldr x3, [x0, #{n4}]\n",
                        "cbz x3, 4f\n",
                        // ---- per 4 steps of depth
                        "3:\n",
                        $main,
                        "subs x3, x3, #1\n",
                        "b.ne 3b\n",
                        // ---- single steps (depth % 4)
                        "4:\n",
                        "ldr x3, [x0, #{rem}]\n",
                        "cbz x3, 6f\n",
                        "5:\n",
                        $tail,
                        "subs x3, x3, #1\n",
                        "b.ne 5b\n",
                        "6:\n",
                        "subs x2, x2, #1\n",
                        "b.ne 2b\n",
                        $store,
                    ),
                    tab = const offset_of!(F32Tile, tab),
                    ntaps = const offset_of!(F32Tile, n_taps),
                    w = const offset_of!(F32Tile, w),
                    n4 = const offset_of!(F32Tile, n4),
                    rem = const offset_of!(F32Tile, rem),
                    acc = const offset_of!(F32Tile, acc),
                    in("x0") args as *mut F32Tile,
                    out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _,
                    out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _,
                    out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                    out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _, out("x25") _,
                    out("x26") _, out("x27") _, out("x28") _, out("x30") _,
                    out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
                    out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
                    out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _, out("v17") _,
                    out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
                    out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
                    out("v30") _, out("v31") _,
                    options(nostack),
                );
            }
        }
    };
}

/// A `P`-pixel × 8-channel kernel. Each pixel is
/// `(A pointer, A increment, A vector, acc 0-3, acc 4-7, byte offset in acc)`.
#[rustfmt::skip]
macro_rules! f32_kernel_x8 {
    ($(#[$meta:meta])* $name:ident, taps: $taps:expr,
     [$(($a:literal, $i:literal, $va:literal, $c0:literal, $c1:literal, $o:literal)),+]) => {
        f32_frame!(
            $(#[$meta])* $name,
            taps: $taps,
            load: concat!($( "ldp q", $c0, ", q", $c1, ", [x0, #{acc}+", $o, "]\n", )+),
            main: concat!(
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[0], [x4], #16\n",
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[1], [x5], #16\n",
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[2], [x6], #16\n",
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[3], [x7], #16\n",
                "ld4 {{v12.s, v13.s, v14.s, v15.s}}[0], [x8], #16\n",
                "ld4 {{v12.s, v13.s, v14.s, v15.s}}[1], [x9], #16\n",
                "ld4 {{v12.s, v13.s, v14.s, v15.s}}[2], [x10], #16\n",
                "ld4 {{v12.s, v13.s, v14.s, v15.s}}[3], [x11], #16\n",
                $( "ld1 {{", $va, ".4s}}, [", $a, "], ", $i, "\n", )+
                $( "fmla v", $c0, ".4s, v8.4s, ", $va, ".s[0]\n",
                   "fmla v", $c1, ".4s, v12.4s, ", $va, ".s[0]\n", )+
                $( "fmla v", $c0, ".4s, v9.4s, ", $va, ".s[1]\n",
                   "fmla v", $c1, ".4s, v13.4s, ", $va, ".s[1]\n", )+
                $( "fmla v", $c0, ".4s, v10.4s, ", $va, ".s[2]\n",
                   "fmla v", $c1, ".4s, v14.4s, ", $va, ".s[2]\n", )+
                $( "fmla v", $c0, ".4s, v11.4s, ", $va, ".s[3]\n",
                   "fmla v", $c1, ".4s, v15.4s, ", $va, ".s[3]\n", )+
            ),
            tail: concat!(
                "ld1 {{v8.s}}[0], [x4], #4\n",
                "ld1 {{v8.s}}[1], [x5], #4\n",
                "ld1 {{v8.s}}[2], [x6], #4\n",
                "ld1 {{v8.s}}[3], [x7], #4\n",
                "ld1 {{v12.s}}[0], [x8], #4\n",
                "ld1 {{v12.s}}[1], [x9], #4\n",
                "ld1 {{v12.s}}[2], [x10], #4\n",
                "ld1 {{v12.s}}[3], [x11], #4\n",
                $( "ld1 {{", $va, ".s}}[0], [", $a, "], #4\n", )+
                $( "fmla v", $c0, ".4s, v8.4s, ", $va, ".s[0]\n",
                   "fmla v", $c1, ".4s, v12.4s, ", $va, ".s[0]\n", )+
            ),
            store: concat!($( "stp q", $c0, ", q", $c1, ", [x0, #{acc}+", $o, "]\n", )+)
        );
    };
}

/// A `P`-pixel × 4-channel kernel (channel tails of at most 4, e.g. a 3-channel last layer).
/// Each pixel is `(A pointer, A increment, A vector, acc, byte offset in acc)`.
#[rustfmt::skip]
macro_rules! f32_kernel_x4 {
    ($(#[$meta:meta])* $name:ident, taps: $taps:expr,
     [$(($a:literal, $i:literal, $va:literal, $c0:literal, $o:literal)),+]) => {
        f32_frame!(
            $(#[$meta])* $name,
            taps: $taps,
            load: concat!($( "ldr q", $c0, ", [x0, #{acc}+", $o, "]\n", )+),
            main: concat!(
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[0], [x4], #16\n",
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[1], [x5], #16\n",
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[2], [x6], #16\n",
                "ld4 {{v8.s, v9.s, v10.s, v11.s}}[3], [x7], #16\n",
                $( "ld1 {{", $va, ".4s}}, [", $a, "], ", $i, "\n", )+
                $( "fmla v", $c0, ".4s, v8.4s, ", $va, ".s[0]\n", )+
                $( "fmla v", $c0, ".4s, v9.4s, ", $va, ".s[1]\n", )+
                $( "fmla v", $c0, ".4s, v10.4s, ", $va, ".s[2]\n", )+
                $( "fmla v", $c0, ".4s, v11.4s, ", $va, ".s[3]\n", )+
            ),
            tail: concat!(
                "ld1 {{v8.s}}[0], [x4], #4\n",
                "ld1 {{v8.s}}[1], [x5], #4\n",
                "ld1 {{v8.s}}[2], [x6], #4\n",
                "ld1 {{v8.s}}[3], [x7], #4\n",
                $( "ld1 {{", $va, ".s}}[0], [", $a, "], #4\n", )+
                $( "fmla v", $c0, ".4s, v8.4s, ", $va, ".s[0]\n", )+
            ),
            store: concat!($( "str q", $c0, ", [x0, #{acc}+", $o, "]\n", )+)
        );
    };
}

/// Tap-row loads of the A pointers and increments for 8, 4, 2, 1 pixels.
#[rustfmt::skip]
macro_rules! f32_taps {
    (8) => { concat!(
        "ldp x12, x13, [x1]\n", "ldp x14, x15, [x1, #16]\n",
        "ldp x16, x17, [x1, #32]\n", "ldp x20, x21, [x1, #48]\n",
        "ldp x22, x23, [x1, #64]\n", "ldp x24, x25, [x1, #80]\n",
        "ldp x26, x27, [x1, #96]\n", "ldp x28, x30, [x1, #112]\n",
    ) };
    (4) => { concat!(
        "ldp x12, x13, [x1]\n", "ldp x14, x15, [x1, #16]\n",
        "ldp x22, x23, [x1, #64]\n", "ldp x24, x25, [x1, #80]\n",
    ) };
    (2) => { concat!("ldp x12, x13, [x1]\n", "ldp x22, x23, [x1, #64]\n") };
    (1) => { concat!("ldr x12, [x1]\n", "ldr x22, [x1, #64]\n") };
}

f32_kernel_x8!(
    /// 8 pixels × 8 channels: the main f32 microkernel.
    neon64_conv_f32_8x8,
    taps: f32_taps!(8),
    [
        ("x12", "x22", "v0", "16", "17", "0"),
        ("x13", "x23", "v1", "18", "19", "32"),
        ("x14", "x24", "v2", "20", "21", "64"),
        ("x15", "x25", "v3", "22", "23", "96"),
        ("x16", "x26", "v4", "24", "25", "128"),
        ("x17", "x27", "v5", "26", "27", "160"),
        ("x20", "x28", "v6", "28", "29", "192"),
        ("x21", "x30", "v7", "30", "31", "224")
    ]
);
f32_kernel_x8!(
    /// 4 pixels × 8 channels.
    neon64_conv_f32_4x8,
    taps: f32_taps!(4),
    [
        ("x12", "x22", "v0", "16", "17", "0"),
        ("x13", "x23", "v1", "18", "19", "32"),
        ("x14", "x24", "v2", "20", "21", "64"),
        ("x15", "x25", "v3", "22", "23", "96")
    ]
);
f32_kernel_x8!(
    /// 2 pixels × 8 channels.
    neon64_conv_f32_2x8,
    taps: f32_taps!(2),
    [("x12", "x22", "v0", "16", "17", "0"), ("x13", "x23", "v1", "18", "19", "32")]
);
f32_kernel_x8!(
    /// 1 pixel × 8 channels (GEMV: fully connected with batch 1).
    neon64_conv_f32_1x8,
    taps: f32_taps!(1),
    [("x12", "x22", "v0", "16", "17", "0")]
);
f32_kernel_x4!(
    /// 8 pixels × 4 channels.
    neon64_conv_f32_8x4,
    taps: f32_taps!(8),
    [
        ("x12", "x22", "v0", "16", "0"),
        ("x13", "x23", "v1", "17", "32"),
        ("x14", "x24", "v2", "18", "64"),
        ("x15", "x25", "v3", "19", "96"),
        ("x16", "x26", "v4", "20", "128"),
        ("x17", "x27", "v5", "21", "160"),
        ("x20", "x28", "v6", "22", "192"),
        ("x21", "x30", "v7", "23", "224")
    ]
);
f32_kernel_x4!(
    /// 4 pixels × 4 channels.
    neon64_conv_f32_4x4,
    taps: f32_taps!(4),
    [
        ("x12", "x22", "v0", "16", "0"),
        ("x13", "x23", "v1", "17", "32"),
        ("x14", "x24", "v2", "18", "64"),
        ("x15", "x25", "v3", "19", "96")
    ]
);
f32_kernel_x4!(
    /// 2 pixels × 4 channels.
    neon64_conv_f32_2x4,
    taps: f32_taps!(2),
    [("x12", "x22", "v0", "16", "0"), ("x13", "x23", "v1", "17", "32")]
);
f32_kernel_x4!(
    /// 1 pixel × 4 channels.
    neon64_conv_f32_1x4,
    taps: f32_taps!(1),
    [("x12", "x22", "v0", "16", "0")]
);

/// Microkernel width for a tile of `np` (1..=8) real pixels.
fn kernel_px(np: usize) -> usize {
    match np {
        5..=8 => 8,
        3 | 4 => 4,
        2 => 2,
        _ => 1,
    }
}

/// Runs the `px`-pixel microkernel (`px` ∈ {1, 2, 4, 8}) with 8 channels, or 4 when `narrow`
/// (then only `w[0..4]` and the first 4 floats of each pixel's accumulators are used).
///
/// # Safety
/// `args.tab` points to `args.n_taps ≥ 1` initialized rows. With `d = 4 · n4 + rem` floats of
/// depth per tap (`rem ≤ 3`), for every row and every pixel `p < px`: `a[p]` is valid for
/// reading `d` floats when `inc[p] == 16`, or points to at least 16 readable bytes when
/// `inc[p] == 0`. Each `w[c]` is valid for reading `n_taps · d` floats.
unsafe fn run_tile(px: usize, narrow: bool, args: &mut F32Tile) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match (narrow, px) {
            (false, 8) => neon64_conv_f32_8x8(args),
            (false, 4) => neon64_conv_f32_4x8(args),
            (false, 2) => neon64_conv_f32_2x8(args),
            (false, _) => neon64_conv_f32_1x8(args),
            (true, 8) => neon64_conv_f32_8x4(args),
            (true, 4) => neon64_conv_f32_4x4(args),
            (true, 2) => neon64_conv_f32_2x4(args),
            (true, _) => neon64_conv_f32_1x4(args),
        }
    }
}

/// Checked product, panicking (never wrapping) on overflow.
fn prod(xs: &[usize]) -> usize {
    xs.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).expect("geometry overflows usize")
}

/// The reference's fused activation `x < lo ? lo : (x > hi ? hi : x)` on 4 lanes, exactly
/// (also for an inverted range `lo > hi`, where it is `x < lo ? lo : hi`): `FMIN` with `hi`
/// (propagates NaN), then `lo` where `x < lo` (false for NaN).
#[target_feature(enable = "neon")]
#[inline]
fn clamp_act(x: float32x4_t, lo: float32x4_t, hi: float32x4_t) -> float32x4_t {
    vbslq_f32(vcltq_f32(x, lo), lo, vminq_f32(x, hi))
}

/// How the GEMM rows ("pixels") read their input, one table row per tap.
trait Rows {
    /// `(depth per tap, taps)` used for the tile of pixel indices `pix`.
    fn plan(&self, pix: &[usize; PX]) -> (usize, usize);
    /// Fills `tab[i]` for taps `t0 + i` (of depth `seg`, as planned) of the 8 pixel indices
    /// `pix` (duplicates allowed).
    fn build(&self, pix: &[usize; PX], seg: usize, t0: usize, tab: &mut [F32TapRow]);
}

struct ConvRows<'a> {
    g: &'a Window2d,
    input: &'a [f32],
    /// Target of padding taps: 16 zero bytes (the single steps advance at most 12 bytes).
    zeros: &'a [f32; 4],
}

impl ConvRows<'_> {
    /// `(b, oy, ox)` of flat output pixel `p`.
    fn coords(&self, p: usize) -> (usize, usize, usize) {
        let g = self.g;
        let r = p / g.out_w;
        (r / g.out_h, r % g.out_h, p % g.out_w)
    }

    /// First input column of output column `ox` when its whole kernel row is inside the
    /// input with `dil_w == 1` (so the row is `k_w · in_c` contiguous floats).
    fn row_x0(&self, ox: usize) -> Option<usize> {
        let g = self.g;
        let x0 = ox.checked_mul(g.stride_w)?.checked_sub(g.pad_left)?;
        (g.dil_w == 1 && x0.checked_add(g.k_w)? <= g.in_w).then_some(x0)
    }
}

impl Rows for ConvRows<'_> {
    fn plan(&self, pix: &[usize; PX]) -> (usize, usize) {
        let g = self.g;
        // Row mode: each kernel row is one tap (k_w · in_c floats, contiguous in the NHWC
        // input and in the OHWI filter) when every pixel's kernel rows are inside in x.
        if g.k_w > 1 && pix.iter().all(|&p| self.row_x0(p % g.out_w).is_some()) {
            (g.k_w * g.in_c, g.k_h)
        } else {
            (g.in_c, g.k_h * g.k_w)
        }
    }

    fn build(&self, pix: &[usize; PX], seg: usize, t0: usize, tab: &mut [F32TapRow]) {
        let g = self.g;
        let base = self.input.as_ptr();
        let row_mode = seg != g.in_c || g.k_w == 1;
        for (j, &p) in pix.iter().enumerate() {
            if j > 0 && p == pix[j - 1] {
                for row in tab.iter_mut() {
                    row.a[j] = row.a[j - 1];
                    row.inc[j] = row.inc[j - 1];
                }
                continue;
            }
            let (b, oy, ox) = self.coords(p);
            let x0 = if row_mode { self.row_x0(ox) } else { None };
            for (i, row) in tab.iter_mut().enumerate() {
                let t = t0 + i;
                // Row mode: tap `t` is kernel row `t`, starting at column `x0`.
                let (ky, ix) = match x0 {
                    Some(x0) => (t, Some(x0)),
                    None => (t / g.k_w, g.in_x(ox, t % g.k_w)),
                };
                match (g.in_y(oy, ky), ix) {
                    (Some(iy), Some(ix)) => {
                        // Inside: `iy < in_h`, and `ix + seg / in_c ≤ in_w` (row mode: by
                        // `row_x0`; tap mode: `ix < in_w`, seg = in_c).
                        row.a[j] = base.wrapping_add(((b * g.in_h + iy) * g.in_w + ix) * g.in_c);
                        row.inc[j] = 16;
                    }
                    _ => {
                        row.a[j] = self.zeros.as_ptr();
                        row.inc[j] = 0;
                    }
                }
            }
        }
    }
}

struct FcRows<'a> {
    input: &'a [f32],
    in_len: usize,
}

impl Rows for FcRows<'_> {
    fn plan(&self, _pix: &[usize; PX]) -> (usize, usize) {
        (self.in_len, 1)
    }

    fn build(&self, pix: &[usize; PX], _seg: usize, _t0: usize, tab: &mut [F32TapRow]) {
        for (j, &p) in pix.iter().enumerate() {
            tab[0].a[j] = self.input[p * self.in_len..][..self.in_len].as_ptr();
            tab[0].inc[j] = 16;
        }
    }
}

/// `npix` rows × `out_c` channels, depth `k` (tap layout chosen per tile by the rows).
struct Gemm<'a> {
    npix: usize,
    out_c: usize,
    k: usize,
    act_min: f32,
    act_max: f32,
    filter: &'a [f32],
    bias: &'a [f32],
}

#[target_feature(enable = "neon")]
fn gemm_f32<R: Rows>(g: &Gemm, rows: &R, output: &mut [f32]) {
    let k = g.k;
    assert!(k >= 1 && g.out_c >= 1);
    assert_eq!(g.filter.len(), prod(&[g.out_c, k]));
    assert_eq!(output.len(), prod(&[g.npix, g.out_c]));
    assert!(g.bias.is_empty() || g.bias.len() == g.out_c);

    let mut tab = [F32TapRow::EMPTY; TAP_GROUP];
    let mut args = F32Tile {
        tab: core::ptr::null(),
        n_taps: 0,
        w: [core::ptr::null(); 8],
        n4: 0,
        rem: 0,
        acc: [0.0; 8 * PX],
    };
    let lo = vdupq_n_f32(g.act_min);
    let hi = vdupq_n_f32(g.act_max);
    let wbase = g.filter.as_ptr();

    let mut pt = 0;
    while pt < g.npix {
        let np = PX.min(g.npix - pt);
        let px = kernel_px(np);
        let mut pix = [0usize; PX];
        for (j, p) in pix.iter_mut().enumerate() {
            *p = pt + j.min(np - 1);
        }
        let (seg, n_taps) = rows.plan(&pix);
        assert!(seg >= 1 && seg * n_taps == k);
        args.n4 = seg / 4;
        args.rem = seg % 4;
        let mut t0 = 0;
        while t0 < n_taps {
            let nt = TAP_GROUP.min(n_taps - t0);
            let first = t0 == 0;
            let last = t0 + nt == n_taps;
            rows.build(&pix, seg, t0, &mut tab[..nt]);
            args.n_taps = nt;

            let mut c0 = 0;
            while c0 < g.out_c {
                let nc = 8.min(g.out_c - c0);
                for (j, w) in args.w.iter_mut().enumerate() {
                    // Channel `c0 + min(j, nc − 1) < out_c`, taps `t0 ..`: inside the filter.
                    *w = wbase.wrapping_add((c0 + j.min(nc - 1)) * k + t0 * seg);
                }
                // Initial accumulators: the bias, or the partial sums parked in the output.
                if first {
                    let mut b8 = [0.0f32; 8];
                    if !g.bias.is_empty() {
                        for (j, v) in b8.iter_mut().enumerate() {
                            *v = g.bias[c0 + j.min(nc - 1)];
                        }
                    }
                    for acc in args.acc.chunks_exact_mut(8).take(px) {
                        acc.copy_from_slice(&b8);
                    }
                } else {
                    for (p, &pp) in pix.iter().enumerate().take(np) {
                        args.acc[8 * p..8 * p + nc].copy_from_slice(&output[pp * g.out_c + c0..][..nc]);
                    }
                }
                args.tab = tab.as_ptr();
                // SAFETY: `rows.build` filled `nt` rows meeting `run_tile`'s contract (each
                // real pointer starts `seg` contiguous input floats, padding points at 4 zero
                // floats) and each `w[c]` covers `nt · seg` floats of one filter row.
                unsafe { run_tile(px, nc <= 4, &mut args) };

                for (p, &pp) in pix.iter().enumerate().take(np) {
                    let dst = &mut output[pp * g.out_c + c0..][..nc];
                    let src: &[f32; 8] = args.acc[8 * p..8 * p + 8].try_into().unwrap();
                    if last {
                        // SAFETY: `src` is 8 readable floats.
                        let (v0, v1) = unsafe { (vld1q_f32(src.as_ptr()), vld1q_f32(src.as_ptr().add(4))) };
                        let (v0, v1) = (clamp_act(v0, lo, hi), clamp_act(v1, lo, hi));
                        if nc == 8 {
                            let d: &mut [f32; 8] = dst.try_into().unwrap();
                            // SAFETY: `d` is 8 writable floats.
                            unsafe {
                                vst1q_f32(d.as_mut_ptr(), v0);
                                vst1q_f32(d.as_mut_ptr().add(4), v1);
                            }
                        } else {
                            let mut tmp = [0.0f32; 8];
                            // SAFETY: `tmp` is 8 writable floats.
                            unsafe {
                                vst1q_f32(tmp.as_mut_ptr(), v0);
                                vst1q_f32(tmp.as_mut_ptr().add(4), v1);
                            }
                            dst.copy_from_slice(&tmp[..nc]);
                        }
                    } else {
                        dst.copy_from_slice(&src[..nc]);
                    }
                }
                c0 += nc;
            }
            t0 += nt;
        }
        pt += np;
    }
}

/// f32 CONV_2D (NHWC, OHWI), within the f32 tolerance of [`reference::conv2d_f32`].
///
/// Any kernel size, stride, dilation, padding and channel count runs on the NEON microkernels
/// `neon64_conv_f32_{8,4,2,1}x8` (see the module docs).
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
    let taps = prod(&[g.k_h, g.k_w]);
    let npix = prod(&[g.batch, g.out_h, g.out_w]);
    assert_eq!(input.len(), prod(&[g.batch, g.in_h, g.in_w, g.in_c]), "input length");
    assert_eq!(filter.len(), prod(&[g.out_c, taps, g.in_c]), "filter length");
    assert!(bias.is_empty() || bias.len() == g.out_c, "bias length");
    assert_eq!(output.len(), prod(&[npix, g.out_c]), "output length");
    if npix == 0 || g.out_c == 0 || g.in_c == 0 || taps == 0 {
        return reference::conv2d_f32(g, act_min, act_max, input, filter, bias, output);
    }
    let zeros = [0.0f32; 4];
    let rows = ConvRows { g, input, zeros: &zeros };
    let gemm = Gemm { npix, out_c: g.out_c, k: taps * g.in_c, act_min, act_max, filter, bias };
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe { gemm_f32(&gemm, &rows, output) }
}

/// f32 FULLY_CONNECTED, within the f32 tolerance of [`reference::fully_connected_f32`]: the
/// conv GEMM with one tap of depth `in_len`.
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
    assert_eq!(input.len(), prod(&[batch, in_len]), "input length");
    assert_eq!(weights.len(), prod(&[out_len, in_len]), "weights length");
    assert!(bias.is_empty() || bias.len() == out_len, "bias length");
    assert_eq!(output.len(), prod(&[batch, out_len]), "output length");
    if batch == 0 || out_len == 0 || in_len == 0 {
        return reference::fully_connected_f32(
            batch, in_len, out_len, act_min, act_max, input, weights, bias, output,
        );
    }
    let rows = FcRows { input, in_len };
    let gemm = Gemm { npix: batch, out_c: out_len, k: in_len, act_min, act_max, filter: weights, bias };
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe { gemm_f32(&gemm, &rows, output) }
}
