//! AArch64 NEON int8 kernels for ARMv8.0-A cores (Cortex-A53): **no `SDOT`**.
//!
//! Every kernel here has the signature of its twin in [`crate::reference::int8`] and is
//! bit-exact to it for every input (the differential tests check it). Shapes a fast path does
//! not cover are handed to the reference kernel, so results never depend on the path taken.
//!
//! # Conv and fully connected: `neon64_conv_i8_{6,4,2,1}x4_{rqd,rqdr,rqs}`
//!
//! Output pixels × output channels form a GEMM whose depth `K = k_h · k_w · in_c` is contiguous
//! in *both* operands (NHWC input per tap, OHWI filter per channel), so nothing is packed:
//!
//! * `Σ (x − zx) · w = Σ x · w − zx · Σ w`: the microkernel multiplies **raw** int8 inputs and
//!   the epilogue adds `bias − zx · Σ w` per channel (`Σ w` is one pass over the filter per
//!   call). All of it is `i32` arithmetic modulo 2^32, like the reference (whose accumulator
//!   wraps), so the order and grouping of the sums cannot change a bit.
//! * Per 16 bytes of depth and per (pixel, channel): `SMULL` + `SMLAL2` (two products summed in
//!   an `i16` lane) and `SADALP` into four `i32` lanes — 3 instructions per 16 MACs, plus
//!   loads. Two products fit in `i16` because `|x · w| ≤ 128 · 127`, which needs weights in
//!   `[−127, 127]` (the TFLite spec). The `Σ w` pass also finds the minimum weight; a 4-channel
//!   tile that holds a `−128` weight is computed by a scalar loop instead (still exact).
//! * `neon64_conv_i8_6x4_*`: 6 pixels × 4 channels = 24 accumulators (v8–v31), weights v0–v3,
//!   input v4/v5, `i16` products v6/v7. Per 16 bytes of depth: 4 + 6 loads, 72 multiply /
//!   accumulate instructions, 2 loop instructions = **84 instructions per 384 MACs (3.5 per 16
//!   MACs, 4.57 MACs per instruction)**. The first step of a tile initializes the accumulators
//!   (`SADDLP`). `_4x4`, `_2x4`, `_1x4` take the remaining pixels (`_1x4` is the GEMV of a
//!   batch-1 fully-connected layer: 19 instructions per 64 MACs).
//! * Taps: the kernel walks a table of per-tap, per-pixel input pointers; the weight pointers
//!   just run on (OHWI keeps a channel's taps contiguous). A tap in the padding points at a
//!   buffer filled with the input zero point and advances by 0 instead of 16: it adds
//!   `zx · w`, which the `− zx · Σ w` correction cancels exactly as the reference's skip does.
//! * `in_c % 16 ≠ 0`: the last 16-byte step of each tap is read at `in_c − 16`, overlapping the
//!   previous step, with the already-counted weight lanes masked to 0. This needs `in_c ≥ 16`.
//!   A conv with `in_c < 16` (a first layer) gathers each pixel's whole window
//!   (`16 ≤ K ≤ 256`: 9×9×3 = 243 is the style networks' first layer) into a stack buffer and
//!   runs the same kernels on it as a single tap of depth `K`. A window shallower than 16
//!   (`K < 16`, e.g. 3×3 on one channel) is gathered into 16-byte rows against a copy of the
//!   filter padded with zero weights to 16 bytes per channel (`out_c ≤ 64`).
//! * One kernel call computes a pixel tile against a run of consecutive 4-channel tiles (the
//!   tile loop is in the asm). The epilogue — horizontal sums (`ADDP`), `+ bias − zx · Σ w`,
//!   requantization, zero point, clamp, narrowing — runs on the accumulators, and the 4 int8
//!   results of each pixel are stored straight into the output row (`ST1 {v.s}[n]`, an
//!   unaligned 32-bit store when `out_c % 4 ≠ 0`: fine on Normal memory, i.e. any Linux/iOS
//!   process or a bare-metal system with the MMU on); a channel tail of 1–3 goes through a
//!   small result buffer.
//! * Measured whole layer (`qemu-aarch64 -cpu cortex-a53`, one call): 3×3 conv 14×14×256→256
//!   SAME 4.42 MACs per instruction, 56×56×64→64 4.13, fully connected 64×576→1024 4.25; the
//!   rest of the 56×56×64 layer beyond the 84-instruction loop (88 % of its instructions) is
//!   the per-tile epilogue (~107 instructions per 6 × 4 outputs), 11 instructions per tap, the
//!   pointer tables (3 %) and the `Σ w` pass.
//!
//! # Depthwise 3×3: `neon64_dw3x3_i8_16_{rqd,rqdr,rqs}`
//!
//! 16 channels per vector, weights held in 9 registers. A call processes a list of row
//! segments: the interior run of an output row is one segment whose 9 tap pointers advance by
//! `stride_w · in_c` (a padded kernel row points at a zero-point buffer and does not advance),
//! each border pixel is a one-pixel segment. Tap pairs are multiplied into `i16`
//! (`SMULL`/`SMLAL`(2), raw inputs; a filter holding `−128` runs the reference kernel) and
//! widened into `i32` (`SADDW`/`SADDW2`) starting from `bias − zx · Σ w`. Per output pixel and
//! 16 channels (144 MACs): 2 + 9 loads, 18 multiplies, 20 widening adds, 16 requantization
//! (`_rqdr`; 24 for the other variants), 11 narrowing / zero point / clamp / store, 2 loop =
//! **78 instructions**. Measured 1.71 MACs per instruction on 56×56×128, 1.36 on 14×14×512
//! (more border pixels).
//!
//! # ADD: `neon64_add_i8_16`
//!
//! 16 elements per step with intrinsics (both inputs rescaled, summed, rescaled to the output,
//! every step with the same vector requantization as below): about 105 instructions per 16
//! elements; the `len % 16` tail runs the reference kernel.
//!
//! # Requantization (three variants of every asm kernel)
//!
//! Vectorized over 4 channels with per-channel multiplier and shift:
//! * `_rqd` (double rounding, any shift): `SSHL` by `max(shift, 0)` (wraps like the reference's
//!   `wrapping_shl`), `SQRDMULH` (equal to gemmlowp's SRDHM for every input, saturation
//!   included), then RDBPOT as gemmlowp's NEON code does it: `SRSHL` alone rounds negative ties
//!   towards +∞, so `x + (x < 0 ? −1 : 0)` (saturating) is shifted instead when the right shift
//!   is non-zero (`AND` with the negative shift, `SSHR #31`, `SQADD`, `SRSHL`): 6 instructions;
//! * `_rqdr` (double rounding, every shift ≤ −1 — the usual case): no left shift and the
//!   fix-up is `CMLT #0`: `SQRDMULH`, `CMLT`, `SQADD`, `SRSHL`, 4 instructions;
//! * `_rqs` (single rounding): `SMULL`/`SMULL2` to `i64`, `SRSHL` by `shift − 31` (round half
//!   up, exact: `|x · M| ≤ 2^62`), `SQXTN`/`SQXTN2` (the reference's saturation to `i32`);
//! * then `SQXTN` to `i16`, `SQADD` of the output zero point in `i16`, `SQXTN` to `i8`,
//!   `SMAX`/`SMIN` with the activation bounds. With both zero points in `[−128, 127]` this
//!   equals the reference's `min(act_max, max(act_min, sat_i32(v + zp)))` exactly (inverted
//!   activation ranges included).
//!
//! # Resources
//!
//! No heap, no scratch from the caller. Stack, deepest call chain (measured frames, release):
//! conv through the tap table ≈ 8 KiB (81 taps × 72 B table, 8 requantization records of
//! 64 B, the 256 B parameter block, spills), conv through the gather buffer (6 × 256 B)
//! ≈ 3.3 KiB (plus the 1 KiB padded filter when `K < 16`), fully connected ≈ 1.8 KiB, depthwise ≈ 2.0 KiB, ADD < 0.1 KiB.
//!
//! Fast-path conditions (else the reference kernel runs, same results): input and output zero
//! points in `[−128, 127]`; conv with `in_c ≥ 16` and at most 81 taps (any stride, dilation,
//! padding), or `in_c < 16` with `16 ≤ K ≤ 256`, or `K < 16` with `out_c ≤ 64`; fully connected with `in_len ≥ 16`; depthwise
//! 3×3 with multiplier 1, `in_c ≥ 16` and no `−128` weight; ADD: all three zero points in
//! `[−128, 127]`.

use core::arch::aarch64::*;
use core::arch::asm;
use core::mem::{offset_of, size_of};

use crate::reference::int8::{self as reference, AddParams, ConvQuant};
use crate::reference::quant::{multiply_by_quantized_multiplier, Rounding};
use crate::reference::Window2d;

// Every kernel below calls NEON code through `#[target_feature(enable = "neon")]` functions
// from safe entry points; that is sound only because the target guarantees NEON.
const _: () = assert!(cfg!(target_feature = "neon"), "the arm64 kernels need a target with NEON");

/// Maximum taps (`k_h · k_w`) of the conv fast path (the tap table lives on the stack): 9×9,
/// the style networks' first and last layers.
const TAP_MAX: usize = 81;
/// Output channels per block whose requantization records are precomputed.
const CB: usize = 32;
/// Largest window depth `K` of the gathered (`in_c < 16`) conv path.
const GATHER_K_MAX: usize = 256;
/// Output channels up to which a conv with `K < 16` runs the gathered path on a filter padded
/// to 16 bytes per channel (the padded copy lives on the stack: 1 KiB).
const SMALL_K_OC_MAX: usize = 64;
/// Pixels of the widest microkernel.
const PX: usize = 6;

/// Requantization variants (see the module docs): double rounding with any shift, double
/// rounding with every shift ≤ −1, single rounding.
const RQ_D: u8 = 0;
const RQ_DR: u8 = 1;
const RQ_S: u8 = 2;

/// Variant for per-channel `shifts` under `rounding`.
fn rq_mode(rounding: Rounding, shifts: &[i32]) -> u8 {
    match rounding {
        Rounding::Single => RQ_S,
        Rounding::Double if shifts.iter().all(|&s| s <= -1) => RQ_DR,
        Rounding::Double => RQ_D,
    }
}

/// Per-lane requantization parameters `(p1, p2)` of one channel, as the asm expects them:
/// `_rqd`: (left shift, −right shift); `_rqdr`: (unused, −right shift); `_rqs`: the `i64`
/// shift `shift − 31` (its two 32-bit halves, low first).
fn rq_lane(mode: u8, shift: i32) -> (i32, i32) {
    match mode {
        RQ_S => {
            let t = i64::from(shift.clamp(-31, 30) - 31);
            (t as i32, (t >> 32) as i32)
        }
        _ => {
            let s = shift.clamp(-31, 31);
            (s.max(0), s.min(0))
        }
    }
}

/// One asm requantization of the 4 lanes of `$a` (temporaries `$t1`, `$t2`; multipliers in
/// `$m`; per-lane parameters in `$p1`, `$p2` as produced by [`rq_lane`] — for `single`, `$p1`
/// holds lanes 0–1 and `$p2` lanes 2–3 as `i64`).
#[rustfmt::skip]
macro_rules! rq {
    (rqd, $a:expr, $t1:expr, $t2:expr, $m:expr, $p1:expr, $p2:expr) => {
        concat!(
            "sshl ", $a, ".4s, ", $a, ".4s, ", $p1, ".4s\n",
            "sqrdmulh ", $a, ".4s, ", $a, ".4s, ", $m, ".4s\n",
            "and ", $t1, ".16b, ", $a, ".16b, ", $p2, ".16b\n",
            "sshr ", $t1, ".4s, ", $t1, ".4s, #31\n",
            "sqadd ", $a, ".4s, ", $a, ".4s, ", $t1, ".4s\n",
            "srshl ", $a, ".4s, ", $a, ".4s, ", $p2, ".4s\n",
        )
    };
    (rqdr, $a:expr, $t1:expr, $t2:expr, $m:expr, $p1:expr, $p2:expr) => {
        concat!(
            "sqrdmulh ", $a, ".4s, ", $a, ".4s, ", $m, ".4s\n",
            "cmlt ", $t1, ".4s, ", $a, ".4s, #0\n",
            "sqadd ", $a, ".4s, ", $a, ".4s, ", $t1, ".4s\n",
            "srshl ", $a, ".4s, ", $a, ".4s, ", $p2, ".4s\n",
        )
    };
    (rqs, $a:expr, $t1:expr, $t2:expr, $m:expr, $p1:expr, $p2:expr) => {
        concat!(
            "smull ", $t1, ".2d, ", $a, ".2s, ", $m, ".2s\n",
            "smull2 ", $t2, ".2d, ", $a, ".4s, ", $m, ".4s\n",
            "srshl ", $t1, ".2d, ", $t1, ".2d, ", $p1, ".2d\n",
            "srshl ", $t2, ".2d, ", $t2, ".2d, ", $p2, ".2d\n",
            "sqxtn ", $a, ".2s, ", $t1, ".2d\n",
            "sqxtn2 ", $a, ".4s, ", $t2, ".2d\n",
        )
    };
}

// ---------------------------------------------------------------------------------------------
// Conv / FC microkernels. Their parameter block is the only asm boundary of this part.

/// One tap of a pixel tile: where each pixel's input for this tap starts, and how far its
/// pointer moves per 16-byte step (16, or 0 for a tap in the padding).
#[repr(C)]
#[derive(Clone, Copy)]
struct TapRow {
    a: [*const i8; PX],
    inc: [u32; PX],
}

impl TapRow {
    const EMPTY: TapRow = TapRow { a: [core::ptr::null(); PX], inc: [0; PX] };
}

/// Requantization record of a 4-channel tile: `bias − zx · Σ w`, multipliers, and the two
/// per-lane parameters of [`rq_lane`].
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct RqRec {
    corr: [i32; 4],
    m: [i32; 4],
    p1: [i32; 4],
    p2: [i32; 4],
}

impl RqRec {
    const ZERO: RqRec = RqRec { corr: [0; 4], m: [0; 4], p1: [0; 4], p2: [0; 4] };
}

/// Parameters of one `neon64_conv_i8_Px4_*` call.
#[repr(C, align(16))]
struct I8Tile {
    /// `n_taps` rows (see [`run_tile`] for what the pointers must cover).
    tab: *const TapRow,
    n_taps: usize,
    /// Weights of the first tile's 4 channels, at the first tap of the table; after a tile
    /// each pointer has advanced by `K` and moves on by `wskip` to the next tile.
    w: [*const i8; 4],
    /// Full 16-byte steps per tap (≥ 1).
    n16: usize,
    /// `16 − depth % 16`, or 0 when the tap depth is a multiple of 16.
    back: usize,
    /// Weight mask of the overlapping last step: lanes `< back` are 0, the others 0xff.
    mask: [u8; 16],
    /// Requantization record of the first tile (the next tiles' follow it).
    rq: *const RqRec,
    /// Channel offset of the first tile in the output rows (+4 per tile).
    c0: usize,
    /// Output zero point (8 × `i16`), activation bounds (16 × `i8` each).
    zp: [i16; 8],
    lo: [i8; 16],
    hi: [i8; 16],
    /// Result when `direct == 0`: `res[4 · p + c]`, the int8 output of pixel `p`, channel `c`.
    res: [i8; 4 * PX],
    _pad: [u8; 8],
    /// Non-zero: store pixel `p`'s 4 results at `orow[p] + c0` instead of into `res`.
    direct: usize,
    /// Output row (channel 0) of each pixel.
    orow: [*mut i8; PX],
    /// Number of consecutive 4-channel tiles to compute (≥ 1; 1 unless `direct`).
    n_ct: usize,
    /// `3 · K`: added to every weight pointer between tiles.
    wskip: usize,
}

const _: () = {
    assert!(offset_of!(TapRow, a) == 0);
    assert!(offset_of!(TapRow, inc) == 48);
    assert!(size_of::<TapRow>() == 72);
    assert!(offset_of!(RqRec, corr) == 0);
    assert!(offset_of!(RqRec, m) == 16);
    assert!(offset_of!(RqRec, p1) == 32);
    assert!(offset_of!(RqRec, p2) == 48);
    assert!(size_of::<RqRec>() == 64);
    assert!(offset_of!(I8Tile, tab) == 0);
    assert!(offset_of!(I8Tile, n_taps) == 8);
    assert!(offset_of!(I8Tile, w) == 16);
    assert!(offset_of!(I8Tile, n16) == 48);
    assert!(offset_of!(I8Tile, back) == 56);
    assert!(offset_of!(I8Tile, mask) == 64);
    assert!(offset_of!(I8Tile, rq) == 80);
    assert!(offset_of!(I8Tile, zp) == 96);
    assert!(offset_of!(I8Tile, lo) == 112);
    assert!(offset_of!(I8Tile, hi) == 128);
    assert!(offset_of!(I8Tile, c0) == 88);
    assert!(offset_of!(I8Tile, res) == 144);
    assert!(offset_of!(I8Tile, direct) == 176);
    assert!(offset_of!(I8Tile, orow) == 184);
    assert!(offset_of!(I8Tile, n_ct) == 232);
    assert!(offset_of!(I8Tile, wskip) == 240);
    assert!(size_of::<I8Tile>() == 256);
};

/// One pixel × 4 channels × 16 bytes of depth: A in `$va`, weights v0–v3, products v6/v7.
/// `$acc` is `sadalp` (accumulate) or `saddlp` (first step: initialize the accumulators).
#[rustfmt::skip]
macro_rules! i8_mac {
    ($va:literal, $c0:literal, $c1:literal, $c2:literal, $c3:literal) => {
        i8_mac!("sadalp", $va, $c0, $c1, $c2, $c3)
    };
    ($acc:literal, $va:literal, $c0:literal, $c1:literal, $c2:literal, $c3:literal) => {
        concat!(
            "smull v6.8h, ", $va, ".8b, v0.8b\n",
            "smull v7.8h, ", $va, ".8b, v1.8b\n",
            "smlal2 v6.8h, ", $va, ".16b, v0.16b\n",
            "smlal2 v7.8h, ", $va, ".16b, v1.16b\n",
            $acc, " v", $c0, ".4s, v6.8h\n",
            $acc, " v", $c1, ".4s, v7.8h\n",
            "smull v6.8h, ", $va, ".8b, v2.8b\n",
            "smull v7.8h, ", $va, ".8b, v3.8b\n",
            "smlal2 v6.8h, ", $va, ".16b, v2.16b\n",
            "smlal2 v7.8h, ", $va, ".16b, v3.16b\n",
            $acc, " v", $c2, ".4s, v6.8h\n",
            $acc, " v", $c3, ".4s, v7.8h\n",
        )
    };
}

/// Epilogue of two pixels whose channel sums are in `v$a`, `v$b` (temporaries `v$t1`, `v$t2`):
/// `+ corr` (v0), requantize (v1 multipliers, v2/v3 parameters), narrow with the zero point
/// (v4) and clamp (v5/v6). Leaves the 8 int8 results in `v$a.8b` (pixel `a` in lane `s[0]`).
#[rustfmt::skip]
macro_rules! i8_epi_pair {
    ($mode:ident, $a:literal, $b:literal, $t1:literal, $t2:literal) => {
        concat!(
            "add v", $a, ".4s, v", $a, ".4s, v0.4s\n",
            "add v", $b, ".4s, v", $b, ".4s, v0.4s\n",
            rq!($mode, concat!("v", $a), concat!("v", $t1), concat!("v", $t2), "v1", "v2", "v3"),
            rq!($mode, concat!("v", $b), concat!("v", $t1), concat!("v", $t2), "v1", "v2", "v3"),
            "sqxtn v", $a, ".4h, v", $a, ".4s\n",
            "sqxtn2 v", $a, ".8h, v", $b, ".4s\n",
            "sqadd v", $a, ".8h, v", $a, ".8h, v4.8h\n",
            "sqxtn v", $a, ".8b, v", $a, ".8h\n",
            "smax v", $a, ".8b, v", $a, ".8b, v5.8b\n",
            "smin v", $a, ".8b, v", $a, ".8b, v6.8b\n",
        )
    };
}

/// Defines one `P`-pixel × 4-channel microkernel. Each pixel is
/// `(A pointer, A increment, A vector, acc0, acc1, acc2, acc3)`; `$epi` requantizes,
/// `$direct` stores into the output rows (A pointer registers reused), `$res` into `res`.
/// Register use: x0 = `&mut I8Tile`, x1 table, x2 taps left, x3 steps left, x4 scratch,
/// x5 `back`, x6–x9 weight pointers, x10–x15 A pointers, x16/x17/x20–x23 A increments,
/// x24 tiles left, x25 `wskip`, x26 record pointer, x27 channel offset.
#[rustfmt::skip]
macro_rules! i8_tile_kernel {
    ($name:ident, taps: $taps:expr,
     [$(($a:literal, $i:literal, $va:literal, $c0:literal, $c1:literal, $c2:literal, $c3:literal)),+],
     epi: $epi:expr, direct: $direct:expr, res: $res:expr) => {
        /// # Safety
        /// See [`run_tile`].
        unsafe fn $name(args: &mut I8Tile) {
            // SAFETY: the caller guarantees the pointer ranges documented at `run_tile`; the
            // asm reads only those, the parameter block and `*args.rq`, writes only `args.res`
            // or the documented output bytes, uses no stack, and declares every register.
            unsafe {
                asm!(
                    concat!(
                        "ldp x6, x7, [x0, #{w}]\n",
                        "ldp x8, x9, [x0, #{w}+16]\n",
                        "ldr x5, [x0, #{back}]\n",
                        "ldr x24, [x0, #{n_ct}]\n",
                        "ldr x25, [x0, #{wskip}]\n",
                        "ldr x26, [x0, #{rq}]\n",
                        "ldr x27, [x0, #{c0}]\n",
                        // ---- per 4-channel tile
                        "1:\n",
                        "ldr x1, [x0, #{tab}]\n",
                        "ldr x2, [x0, #{ntaps}]\n",
                        "ldr x4, [x0, #{n16}]\n",
                        // ---- first tap, first 16 bytes: initialize the accumulators
                        $taps,
                        "add x1, x1, #72\n",
                        "ld1 {{v0.16b}}, [x6], #16\n",
                        "ld1 {{v1.16b}}, [x7], #16\n",
                        "ld1 {{v2.16b}}, [x8], #16\n",
                        "ld1 {{v3.16b}}, [x9], #16\n",
                        $( "ld1 {{", $va, ".16b}}, [", $a, "], ", $i, "\n",
                           i8_mac!("saddlp", $va, $c0, $c1, $c2, $c3), )+
                        "subs x3, x4, #1\n",
                        "b.ne 3f\n",
                        "b 7f\n",
                        // ---- per tap
                        "2:\n",
                        $taps,
                        "add x1, x1, #72\n",
                        "mov x3, x4\n",
                        // ---- per 16 bytes of depth
                        "3:\n",
                        "ld1 {{v0.16b}}, [x6], #16\n",
                        "ld1 {{v1.16b}}, [x7], #16\n",
                        "ld1 {{v2.16b}}, [x8], #16\n",
                        "ld1 {{v3.16b}}, [x9], #16\n",
                        $( "ld1 {{", $va, ".16b}}, [", $a, "], ", $i, "\n",
                           i8_mac!($va, $c0, $c1, $c2, $c3), )+
                        "subs x3, x3, #1\n",
                        "b.ne 3b\n",
                        // ---- overlapping last step of the tap (depth % 16 != 0)
                        "7:\n",
                        "cbz x5, 4f\n",
                        "ldr q5, [x0, #{mask}]\n",
                        "sub x6, x6, x5\n",
                        "sub x7, x7, x5\n",
                        "sub x8, x8, x5\n",
                        "sub x9, x9, x5\n",
                        "ld1 {{v0.16b}}, [x6], #16\n",
                        "ld1 {{v1.16b}}, [x7], #16\n",
                        "ld1 {{v2.16b}}, [x8], #16\n",
                        "ld1 {{v3.16b}}, [x9], #16\n",
                        "and v0.16b, v0.16b, v5.16b\n",
                        "and v1.16b, v1.16b, v5.16b\n",
                        "and v2.16b, v2.16b, v5.16b\n",
                        "and v3.16b, v3.16b, v5.16b\n",
                        $( "sub ", $a, ", ", $a, ", x5\n",
                           "ld1 {{v4.16b}}, [", $a, "]\n",
                           i8_mac!("v4", $c0, $c1, $c2, $c3), )+
                        "4:\n",
                        "subs x2, x2, #1\n",
                        "b.ne 2b\n",
                        // ---- horizontal sums: v[c0] = [Σc0, Σc1, Σc2, Σc3]
                        $( "addp v", $c0, ".4s, v", $c0, ".4s, v", $c1, ".4s\n",
                           "addp v", $c2, ".4s, v", $c2, ".4s, v", $c3, ".4s\n",
                           "addp v", $c0, ".4s, v", $c0, ".4s, v", $c2, ".4s\n", )+
                        // ---- requantize, narrow, clamp
                        "ldp q0, q1, [x26], #32\n",
                        "ldp q2, q3, [x26], #32\n",
                        "ldr q4, [x0, #{zp}]\n",
                        "ldp q5, q6, [x0, #{lo}]\n",
                        $epi,
                        // ---- store
                        "ldr x3, [x0, #{direct}]\n",
                        "cbz x3, 5f\n",
                        "mov x4, x27\n",
                        $direct,
                        // ---- next tile
                        "add x6, x6, x25\n",
                        "add x7, x7, x25\n",
                        "add x8, x8, x25\n",
                        "add x9, x9, x25\n",
                        "add x27, x27, #4\n",
                        "subs x24, x24, #1\n",
                        "b.ne 1b\n",
                        "b 6f\n",
                        "5:\n",
                        $res,
                        "6:\n",
                    ),
                    tab = const offset_of!(I8Tile, tab),
                    ntaps = const offset_of!(I8Tile, n_taps),
                    w = const offset_of!(I8Tile, w),
                    n16 = const offset_of!(I8Tile, n16),
                    back = const offset_of!(I8Tile, back),
                    mask = const offset_of!(I8Tile, mask),
                    rq = const offset_of!(I8Tile, rq),
                    c0 = const offset_of!(I8Tile, c0),
                    zp = const offset_of!(I8Tile, zp),
                    lo = const offset_of!(I8Tile, lo),
                    res = const offset_of!(I8Tile, res),
                    direct = const offset_of!(I8Tile, direct),
                    orow = const offset_of!(I8Tile, orow),
                    n_ct = const offset_of!(I8Tile, n_ct),
                    wskip = const offset_of!(I8Tile, wskip),
                    in("x0") args as *mut I8Tile,
                    out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
                    out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                    out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                    out("x16") _, out("x17") _, out("x20") _, out("x21") _, out("x22") _, out("x23") _,
                    out("x24") _, out("x25") _, out("x26") _, out("x27") _,
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

/// Stores of two pixels' results (`v$v.s[0]`, `v$v.s[1]`) at output rows `$ra`, `$rb` + c0
/// (x4).
#[rustfmt::skip]
macro_rules! i8_store_pair {
    ($v:literal, $ra:literal, $rb:literal) => {
        concat!(
            "add ", $ra, ", ", $ra, ", x4\n",
            "add ", $rb, ", ", $rb, ", x4\n",
            "st1 {{v", $v, ".s}}[0], [", $ra, "]\n",
            "st1 {{v", $v, ".s}}[1], [", $rb, "]\n",
        )
    };
}

/// The four pixel widths of one requantization variant.
#[rustfmt::skip]
macro_rules! i8_tile_kernels {
    ($mode:ident, $k6:ident, $k4:ident, $k2:ident, $k1:ident) => {
        i8_tile_kernel!(
            $k6,
            taps: concat!(
                "ldp x10, x11, [x1]\n", "ldp x12, x13, [x1, #16]\n", "ldp x14, x15, [x1, #32]\n",
                "ldp w16, w17, [x1, #48]\n", "ldp w20, w21, [x1, #56]\n", "ldp w22, w23, [x1, #64]\n",
            ),
            [
                ("x10", "x16", "v4", "8", "9", "10", "11"),
                ("x11", "x17", "v5", "12", "13", "14", "15"),
                ("x12", "x20", "v4", "16", "17", "18", "19"),
                ("x13", "x21", "v5", "20", "21", "22", "23"),
                ("x14", "x22", "v4", "24", "25", "26", "27"),
                ("x15", "x23", "v5", "28", "29", "30", "31")
            ],
            epi: concat!(
                i8_epi_pair!($mode, "8", "12", "9", "10"),
                i8_epi_pair!($mode, "16", "20", "17", "18"),
                i8_epi_pair!($mode, "24", "28", "25", "26"),
            ),
            direct: concat!(
                "ldp x10, x11, [x0, #{orow}]\n", "ldp x12, x13, [x0, #{orow}+16]\n",
                "ldp x14, x15, [x0, #{orow}+32]\n",
                i8_store_pair!("8", "x10", "x11"),
                i8_store_pair!("16", "x12", "x13"),
                i8_store_pair!("24", "x14", "x15"),
            ),
            res: concat!("str d8, [x0, #{res}]\n", "str d16, [x0, #{res}+8]\n", "str d24, [x0, #{res}+16]\n")
        );
        i8_tile_kernel!(
            $k4,
            taps: concat!(
                "ldp x10, x11, [x1]\n", "ldp x12, x13, [x1, #16]\n",
                "ldp w16, w17, [x1, #48]\n", "ldp w20, w21, [x1, #56]\n",
            ),
            [
                ("x10", "x16", "v4", "8", "9", "10", "11"),
                ("x11", "x17", "v5", "12", "13", "14", "15"),
                ("x12", "x20", "v4", "16", "17", "18", "19"),
                ("x13", "x21", "v5", "20", "21", "22", "23")
            ],
            epi: concat!(
                i8_epi_pair!($mode, "8", "12", "9", "10"),
                i8_epi_pair!($mode, "16", "20", "17", "18"),
            ),
            direct: concat!(
                "ldp x10, x11, [x0, #{orow}]\n", "ldp x12, x13, [x0, #{orow}+16]\n",
                i8_store_pair!("8", "x10", "x11"),
                i8_store_pair!("16", "x12", "x13"),
            ),
            res: concat!("str d8, [x0, #{res}]\n", "str d16, [x0, #{res}+8]\n")
        );
        i8_tile_kernel!(
            $k2,
            taps: concat!("ldp x10, x11, [x1]\n", "ldp w16, w17, [x1, #48]\n"),
            [("x10", "x16", "v4", "8", "9", "10", "11"), ("x11", "x17", "v5", "12", "13", "14", "15")],
            epi: i8_epi_pair!($mode, "8", "12", "9", "10"),
            direct: concat!("ldp x10, x11, [x0, #{orow}]\n", i8_store_pair!("8", "x10", "x11")),
            res: "str d8, [x0, #{res}]\n"
        );
        // One pixel: the pair epilogue on (v8, v12) with v12 zeroed (its result is ignored).
        i8_tile_kernel!(
            $k1,
            taps: concat!("ldr x10, [x1]\n", "ldr w16, [x1, #48]\n"),
            [("x10", "x16", "v4", "8", "9", "10", "11")],
            epi: concat!("movi v12.4s, #0\n", i8_epi_pair!($mode, "8", "12", "9", "10")),
            direct: concat!("ldr x10, [x0, #{orow}]\n", "add x10, x10, x4\n", "st1 {{v8.s}}[0], [x10]\n"),
            res: "str s8, [x0, #{res}]\n"
        );
    };
}

i8_tile_kernels!(
    rqd,
    neon64_conv_i8_6x4_rqd,
    neon64_conv_i8_4x4_rqd,
    neon64_conv_i8_2x4_rqd,
    neon64_conv_i8_1x4_rqd
);
i8_tile_kernels!(
    rqdr,
    neon64_conv_i8_6x4_rqdr,
    neon64_conv_i8_4x4_rqdr,
    neon64_conv_i8_2x4_rqdr,
    neon64_conv_i8_1x4_rqdr
);
i8_tile_kernels!(
    rqs,
    neon64_conv_i8_6x4_rqs,
    neon64_conv_i8_4x4_rqs,
    neon64_conv_i8_2x4_rqs,
    neon64_conv_i8_1x4_rqs
);

/// Microkernel width used for a tile of `np` (1..=6) real pixels (the rest are duplicates).
fn kernel_px(np: usize) -> usize {
    match np {
        5 | 6 => 6,
        3 | 4 => 4,
        2 => 2,
        _ => 1,
    }
}

/// Runs the `px`-pixel microkernel (`px` ∈ {1, 2, 4, 6}) of requantization variant `MODE`.
///
/// # Safety
/// * `args.tab` points to `args.n_taps ≥ 1` rows and `args.n16 ≥ 1`; `args.n_ct ≥ 1`, and 1
///   unless `args.direct != 0`; `args.rq` points to `n_ct` consecutive records.
/// * With `direct`, for every tile `i < n_ct` and pixel `p < px`, `orow[p] + c0 + 4i .. + 4`
///   is writable and not read by the kernel.
/// * Let `d = 16 · n16 + (back > 0 ? 16 − back : 0)` be the depth per tap. For every row and
///   every pixel `p < px`: when `inc[p] == 16`, `a[p]` is valid for reading `d` bytes;
///   when `inc[p] == 0`, `a[p] − back .. a[p] + 16` is readable (a padding buffer).
/// * For every tile `i < n_ct`, each `w[c] + 4i · K` (`K = n_taps · d`) is valid for reading
///   `K` bytes.
///
/// (With `back > 0` the last step of a tap reads `[start + d − 16, start + d)`, inside the
/// tap since `d ≥ 16`.)
unsafe fn run_tile<const MODE: u8>(px: usize, args: &mut I8Tile) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match (MODE, px) {
            (RQ_D, 6) => neon64_conv_i8_6x4_rqd(args),
            (RQ_D, 4) => neon64_conv_i8_4x4_rqd(args),
            (RQ_D, 2) => neon64_conv_i8_2x4_rqd(args),
            (RQ_D, _) => neon64_conv_i8_1x4_rqd(args),
            (RQ_DR, 6) => neon64_conv_i8_6x4_rqdr(args),
            (RQ_DR, 4) => neon64_conv_i8_4x4_rqdr(args),
            (RQ_DR, 2) => neon64_conv_i8_2x4_rqdr(args),
            (RQ_DR, _) => neon64_conv_i8_1x4_rqdr(args),
            (_, 6) => neon64_conv_i8_6x4_rqs(args),
            (_, 4) => neon64_conv_i8_4x4_rqs(args),
            (_, 2) => neon64_conv_i8_2x4_rqs(args),
            (_, _) => neon64_conv_i8_1x4_rqs(args),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Depthwise 3×3 microkernel.

/// A run of `n ≥ 1` output pixels of one row, 16 channels.
#[repr(C)]
#[derive(Clone, Copy)]
struct DwSeg {
    /// Tap `(ky, kx)` of the first pixel, at the first of the 16 channels.
    x: [*const i8; 9],
    /// Per kernel row: bytes between consecutive pixels' taps (0 for a padded row).
    step: [usize; 3],
    /// Output of the first pixel (consecutive pixels are `out_step` apart).
    out: *mut i8,
    n: usize,
}

impl DwSeg {
    const EMPTY: DwSeg = DwSeg { x: [core::ptr::null(); 9], step: [0; 3], out: core::ptr::null_mut(), n: 0 };
}

/// Segments per `neon64_dw3x3_i8_16_*` call.
const DW_SEGS: usize = 8;

/// Parameters of one `neon64_dw3x3_i8_16_*` call: `n_seg` segments sharing 16 channels.
#[repr(C, align(16))]
struct DwArgs {
    seg: *const DwSeg,
    n_seg: usize,
    out_step: usize,
    _pad: usize,
    /// Weights `[ky · 3 + kx][16 channels]`.
    w: [[i8; 16]; 9],
    /// `bias − zx · Σ w` per channel.
    corr: [i32; 16],
    /// Multipliers per channel.
    m: [i32; 16],
    /// `_rqd`: left shifts (16 lanes) then −right shifts (16 lanes); `_rqdr`: unused, then
    /// −right shifts; `_rqs`: 16 `i64` shifts `shift − 31` as 32 halves.
    p: [i32; 32],
    zp: [i16; 8],
    lo: [i8; 16],
    hi: [i8; 16],
}

const _: () = {
    assert!(offset_of!(DwSeg, x) == 0);
    assert!(offset_of!(DwSeg, step) == 72);
    assert!(offset_of!(DwSeg, out) == 96);
    assert!(offset_of!(DwSeg, n) == 104);
    assert!(size_of::<DwSeg>() == 112);
    assert!(offset_of!(DwArgs, seg) == 0);
    assert!(offset_of!(DwArgs, n_seg) == 8);
    assert!(offset_of!(DwArgs, out_step) == 16);
    assert!(offset_of!(DwArgs, w) == 32);
    assert!(offset_of!(DwArgs, corr) == 176);
    assert!(offset_of!(DwArgs, m) == 240);
    assert!(offset_of!(DwArgs, p) == 304);
    assert!(offset_of!(DwArgs, zp) == 432);
    assert!(offset_of!(DwArgs, lo) == 448);
    assert!(offset_of!(DwArgs, hi) == 464);
    assert!(size_of::<DwArgs>() == 480);
};

/// Two taps (or one) of 16 channels into the accumulators v9–v12: `i16` products in v13/v14,
/// inputs in v15/v16.
#[rustfmt::skip]
macro_rules! dw_pair {
    ($x0:literal, $s0:literal, $w0:literal, $x1:literal, $s1:literal, $w1:literal) => {
        concat!(
            "ld1 {{v15.16b}}, [", $x0, "], ", $s0, "\n",
            "ld1 {{v16.16b}}, [", $x1, "], ", $s1, "\n",
            "smull v13.8h, v15.8b, ", $w0, ".8b\n",
            "smull2 v14.8h, v15.16b, ", $w0, ".16b\n",
            "smlal v13.8h, v16.8b, ", $w1, ".8b\n",
            "smlal2 v14.8h, v16.16b, ", $w1, ".16b\n",
            "saddw v9.4s, v9.4s, v13.4h\n",
            "saddw2 v10.4s, v10.4s, v13.8h\n",
            "saddw v11.4s, v11.4s, v14.4h\n",
            "saddw2 v12.4s, v12.4s, v14.8h\n",
        )
    };
    ($x0:literal, $s0:literal, $w0:literal) => {
        concat!(
            "ld1 {{v15.16b}}, [", $x0, "], ", $s0, "\n",
            "smull v13.8h, v15.8b, ", $w0, ".8b\n",
            "smull2 v14.8h, v15.16b, ", $w0, ".16b\n",
            "saddw v9.4s, v9.4s, v13.4h\n",
            "saddw2 v10.4s, v10.4s, v13.8h\n",
            "saddw v11.4s, v11.4s, v14.4h\n",
            "saddw2 v12.4s, v12.4s, v14.8h\n",
        )
    };
}

/// Defines `neon64_dw3x3_i8_16_*` for one requantization variant. Registers: x0 = `&mut
/// DwArgs`, x1–x9 tap pointers, x10–x12 row steps, x13 output, x14 output step, x15 pixels
/// left, x16 segment pointer, x17 segments left; v0–v8 weights, v9–v12 accumulators, v13–v16
/// products/inputs/temporaries, v17 zero point, v18/v19 bounds, v20–v23 multipliers, v24–v31
/// shift parameters.
#[rustfmt::skip]
macro_rules! dw_kernel {
    ($name:ident, $mode:ident, [$(($acc:literal, $m:literal, $p1:literal, $p2:literal)),+]) => {
        /// # Safety
        /// `args.seg` points to `args.n_seg ≥ 1` segments with `n ≥ 1`; for every segment,
        /// pixel `i < n` and tap `t` (kernel row `ky = t / 3`), `x[t] + i · step[ky] .. + 16`
        /// is readable, and `out + i · out_step .. + 16` is writable and not read.
        unsafe fn $name(args: &mut DwArgs) {
            // SAFETY: the caller guarantees the ranges above; the asm reads only those, the
            // parameter block and the segments, writes only the outputs, uses no stack, and
            // declares every register it touches.
            unsafe {
                asm!(
                    concat!(
                        "ldp q0, q1, [x0, #{w}]\n",
                        "ldp q2, q3, [x0, #{w}+32]\n",
                        "ldp q4, q5, [x0, #{w}+64]\n",
                        "ldp q6, q7, [x0, #{w}+96]\n",
                        "ldr q8, [x0, #{w}+128]\n",
                        "ldp q20, q21, [x0, #{m}]\n",
                        "ldp q22, q23, [x0, #{m}+32]\n",
                        "ldp q24, q25, [x0, #{p}]\n",
                        "ldp q26, q27, [x0, #{p}+32]\n",
                        "ldp q28, q29, [x0, #{p}+64]\n",
                        "ldp q30, q31, [x0, #{p}+96]\n",
                        "ldr q17, [x0, #{zp}]\n",
                        "ldp q18, q19, [x0, #{lo}]\n",
                        "ldp x16, x17, [x0, #{seg}]\n",
                        "ldr x14, [x0, #{out_step}]\n",
                        // ---- per segment
                        "1:\n",
                        "ldp x1, x2, [x16]\n",
                        "ldp x3, x4, [x16, #16]\n",
                        "ldp x5, x6, [x16, #32]\n",
                        "ldp x7, x8, [x16, #48]\n",
                        "ldp x9, x10, [x16, #64]\n",
                        "ldp x11, x12, [x16, #80]\n",
                        "ldp x13, x15, [x16, #96]\n",
                        "add x16, x16, #112\n",
                        // ---- per pixel
                        "2:\n",
                        "ldp q9, q10, [x0, #{corr}]\n",
                        "ldp q11, q12, [x0, #{corr}+32]\n",
                        dw_pair!("x1", "x10", "v0", "x2", "x10", "v1"),
                        dw_pair!("x3", "x10", "v2", "x4", "x11", "v3"),
                        dw_pair!("x5", "x11", "v4", "x6", "x11", "v5"),
                        dw_pair!("x7", "x12", "v6", "x8", "x12", "v7"),
                        dw_pair!("x9", "x12", "v8"),
                        $( rq!($mode, $acc, "v13", "v14", $m, $p1, $p2), )+
                        "sqxtn v13.4h, v9.4s\n",
                        "sqxtn2 v13.8h, v10.4s\n",
                        "sqxtn v14.4h, v11.4s\n",
                        "sqxtn2 v14.8h, v12.4s\n",
                        "sqadd v13.8h, v13.8h, v17.8h\n",
                        "sqadd v14.8h, v14.8h, v17.8h\n",
                        "sqxtn v13.8b, v13.8h\n",
                        "sqxtn2 v13.16b, v14.8h\n",
                        "smax v13.16b, v13.16b, v18.16b\n",
                        "smin v13.16b, v13.16b, v19.16b\n",
                        "st1 {{v13.16b}}, [x13], x14\n",
                        "subs x15, x15, #1\n",
                        "b.ne 2b\n",
                        "subs x17, x17, #1\n",
                        "b.ne 1b\n",
                    ),
                    seg = const offset_of!(DwArgs, seg),
                    out_step = const offset_of!(DwArgs, out_step),
                    w = const offset_of!(DwArgs, w),
                    corr = const offset_of!(DwArgs, corr),
                    m = const offset_of!(DwArgs, m),
                    p = const offset_of!(DwArgs, p),
                    zp = const offset_of!(DwArgs, zp),
                    lo = const offset_of!(DwArgs, lo),
                    in("x0") args as *mut DwArgs,
                    out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _,
                    out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                    out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
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

dw_kernel!(
    neon64_dw3x3_i8_16_rqd,
    rqd,
    [
        ("v9", "v20", "v24", "v28"),
        ("v10", "v21", "v25", "v29"),
        ("v11", "v22", "v26", "v30"),
        ("v12", "v23", "v27", "v31")
    ]
);
dw_kernel!(
    neon64_dw3x3_i8_16_rqdr,
    rqdr,
    [
        ("v9", "v20", "v24", "v28"),
        ("v10", "v21", "v25", "v29"),
        ("v11", "v22", "v26", "v30"),
        ("v12", "v23", "v27", "v31")
    ]
);
dw_kernel!(
    neon64_dw3x3_i8_16_rqs,
    rqs,
    [
        ("v9", "v20", "v24", "v25"),
        ("v10", "v21", "v26", "v27"),
        ("v11", "v22", "v28", "v29"),
        ("v12", "v23", "v30", "v31")
    ]
);

/// # Safety
/// See the kernels defined by `dw_kernel!`.
unsafe fn run_dw<const MODE: u8>(args: &mut DwArgs) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match MODE {
            RQ_D => neon64_dw3x3_i8_16_rqd(args),
            RQ_DR => neon64_dw3x3_i8_16_rqdr(args),
            _ => neon64_dw3x3_i8_16_rqs(args),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small safe helpers.

#[inline]
fn bias_at(bias: &[i32], c: usize) -> i32 {
    if bias.is_empty() {
        0
    } else {
        bias[c]
    }
}

/// The reference epilogue for one accumulator (used by the scalar paths).
#[inline]
fn requantize_scalar(acc: i32, c: usize, q: &ConvQuant) -> i8 {
    let v = multiply_by_quantized_multiplier(acc, q.multipliers[c], q.shifts[c], q.rounding)
        .saturating_add(q.output_zp);
    v.max(i32::from(q.act_min)).min(i32::from(q.act_max)) as i8
}

/// 16 bytes of `s` starting at `i`, bounds-checked.
#[target_feature(enable = "neon")]
#[inline]
fn load16(s: &[i8], i: usize) -> int8x16_t {
    let chunk: &[i8; 16] = s[i..i + 16].try_into().unwrap();
    // SAFETY: `chunk` is 16 readable bytes.
    unsafe { vld1q_s8(chunk.as_ptr()) }
}

/// `(Σ w, min w)` of a weight row.
#[target_feature(enable = "neon")]
fn sum_min(w: &[i8]) -> (i32, i8) {
    let mut acc = vdupq_n_s32(0);
    let mut mn = vdupq_n_s8(i8::MAX);
    // Pairs of bytes accumulate in two i16 vectors, 4 bytes per lane per 64-byte block: at most
    // 64 blocks (|4 · 64 · 128| ≤ 2^15) before they are widened into `acc`.
    let mut pieces = w.chunks_exact(4096);
    let block = |piece: &[i8], acc: &mut int32x4_t, mn: &mut int8x16_t| {
        let (mut a0, mut a1) = (vdupq_n_s16(0), vdupq_n_s16(0));
        for c in piece.chunks_exact(64) {
            let (v0, v1, v2, v3) = (load16(c, 0), load16(c, 16), load16(c, 32), load16(c, 48));
            a0 = vpadalq_s8(vpadalq_s8(a0, v0), v2);
            a1 = vpadalq_s8(vpadalq_s8(a1, v1), v3);
            *mn = vminq_s8(*mn, vminq_s8(vminq_s8(v0, v1), vminq_s8(v2, v3)));
        }
        *acc = vpadalq_s16(vpadalq_s16(*acc, a0), a1);
    };
    for piece in &mut pieces {
        block(piece, &mut acc, &mut mn);
    }
    let rest = pieces.remainder();
    let tail = rest.len() % 64;
    block(&rest[..rest.len() - tail], &mut acc, &mut mn);
    let mut s = vaddvq_s32(acc);
    let mut m = vminvq_s8(mn);
    for &x in &rest[rest.len() - tail..] {
        s = s.wrapping_add(i32::from(x));
        m = m.min(x);
    }
    (s, m)
}

/// Checked product, panicking (never wrapping) on overflow: geometry must be consistent.
fn prod(xs: &[usize]) -> usize {
    xs.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).expect("geometry overflows usize")
}

fn zp_fits_i8(z: i32) -> bool {
    (-128..=127).contains(&z)
}

// ---------------------------------------------------------------------------------------------
// The GEMM driver shared by conv and fully connected.

/// How the rows ("pixels") of a GEMM read their input.
trait Rows {
    /// Fills `tab` (one row per tap) for the 6 pixel indices `pix` (duplicates allowed), such
    /// that the pointers meet the contract of [`run_tile`] for the GEMM's tap depth.
    fn build(&mut self, pix: &[usize; PX], tab: &mut [TapRow]);
    /// `Σ (x − zx) · w` of pixel `pix` against the weight row `w`, as the reference does it.
    fn scalar_acc(&self, pix: usize, w: &[i8]) -> i32;
}

/// Shape of one GEMM: `npix` rows × `out_c` channels, depth `k = n_taps · seg`.
struct Gemm<'a> {
    npix: usize,
    out_c: usize,
    k: usize,
    seg: usize,
    n_taps: usize,
    q: &'a ConvQuant<'a>,
    filter: &'a [i8],
    bias: &'a [i32],
}

/// Writes `bytes` at `out + off`, checking the bounds against `len`.
#[inline]
fn write_out(out: *mut i8, len: usize, off: usize, bytes: &[i8]) {
    assert!(off <= len && bytes.len() <= len - off);
    // SAFETY: `out` is the start of a live, exclusively borrowed `[i8]` of length `len`
    // (see `gemm_i8`) and the range was checked.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), out.add(off), bytes.len()) };
}

#[target_feature(enable = "neon")]
#[inline(never)]
fn gemm_i8<const MODE: u8, const NT: usize, R: Rows>(g: &Gemm, rows: &mut R, output: &mut [i8]) {
    let q = g.q;
    let zx = q.input_zp;
    assert!(g.seg >= 16 && g.n_taps >= 1 && g.n_taps <= NT && g.k == g.seg * g.n_taps);
    assert_eq!(g.filter.len(), prod(&[g.out_c, g.k]));
    assert_eq!(output.len(), prod(&[g.npix, g.out_c]));
    assert!(zp_fits_i8(q.output_zp));
    // All writes below go through this one pointer (asm stores, result copies, scalar path).
    let out_len = output.len();
    let out = output.as_mut_ptr();
    let wbase = g.filter.as_ptr();

    let rem = g.seg % 16;
    let back = if rem == 0 { 0 } else { 16 - rem };
    let mut mask = [0xffu8; 16];
    mask[..back].fill(0);
    let mut tab = [TapRow::EMPTY; NT];
    let mut recs = [RqRec::ZERO; CB / 4];
    let mut args = I8Tile {
        tab: core::ptr::null(),
        n_taps: g.n_taps,
        w: [core::ptr::null(); 4],
        n16: g.seg / 16,
        back,
        mask,
        rq: core::ptr::null(),
        c0: 0,
        zp: [q.output_zp as i16; 8],
        lo: [q.act_min; 16],
        hi: [q.act_max; 16],
        res: [0; 4 * PX],
        _pad: [0; 8],
        direct: 0,
        orow: [core::ptr::null_mut(); PX],
        n_ct: 1,
        wskip: 3 * g.k,
    };

    let mut cb = 0;
    while cb < g.out_c {
        let cn = CB.min(g.out_c - cb);
        // Requantization records; a tile holding a −128 weight is flagged for the scalar path.
        let mut bad = [false; CB / 4];
        for (t, rec) in recs.iter_mut().enumerate().take(cn.div_ceil(4)) {
            for l in 0..4 {
                let c = cb + (4 * t + l).min(cn - 1);
                let (s, m) = sum_min(&g.filter[c * g.k..][..g.k]);
                rec.corr[l] = bias_at(g.bias, c).wrapping_sub(zx.wrapping_mul(s));
                rec.m[l] = q.multipliers[c];
                (rec.p1[l], rec.p2[l]) = rq_lane(MODE, q.shifts[c]);
                bad[t] |= m == i8::MIN;
            }
            if MODE == RQ_S {
                // Lanes 0–1 → p1, lanes 2–3 → p2, each as two i64 (low half first).
                let (a, b) = (rec.p1, rec.p2);
                rec.p1 = [a[0], b[0], a[1], b[1]];
                rec.p2 = [a[2], b[2], a[3], b[3]];
            }
        }

        let mut pt = 0;
        while pt < g.npix {
            let np = PX.min(g.npix - pt);
            let px = kernel_px(np);
            let mut pix = [0usize; PX];
            for (j, p) in pix.iter_mut().enumerate() {
                *p = pt + j.min(np - 1);
                args.orow[j] = out.wrapping_add(*p * g.out_c);
            }
            rows.build(&pix, &mut tab[..g.n_taps]);

            // Channel tiles of this block: runs of full, clean tiles in one call each.
            let n_tiles = cn.div_ceil(4);
            let mut t = 0;
            while t < n_tiles {
                let c0 = cb + 4 * t;
                let nc = 4.min(g.out_c - c0);
                if bad[t] {
                    for &p in &pix[..np] {
                        for c in c0..c0 + nc {
                            let acc = rows.scalar_acc(p, &g.filter[c * g.k..][..g.k]);
                            let v = requantize_scalar(acc.wrapping_add(bias_at(g.bias, c)), c, q);
                            write_out(out, out_len, p * g.out_c + c, &[v]);
                        }
                    }
                    t += 1;
                    continue;
                }
                let mut run = 1;
                if nc == 4 {
                    while t + run < n_tiles && !bad[t + run] && c0 + 4 * run + 4 <= g.out_c {
                        run += 1;
                    }
                }
                for (j, w) in args.w.iter_mut().enumerate() {
                    *w = wbase.wrapping_add((c0 + j.min(nc - 1)) * g.k);
                }
                args.tab = tab.as_ptr();
                args.rq = &recs[t];
                args.c0 = c0;
                args.direct = usize::from(nc == 4);
                args.n_ct = run;
                // SAFETY: `rows.build` filled `n_taps` rows meeting `run_tile`'s contract for
                // depth `seg` (`n16 ≥ 1` since `seg ≥ 16`). Tile `i < run` reads the filter
                // rows of channels `c0 + 4i + min(j, nc − 1) < out_c` (`w[j] + 4i · K`), and
                // the records `recs[t + i]` (`t + run ≤ n_tiles ≤ CB / 4`). With `direct`
                // (`nc == 4`), `orow[p] + c0 + 4i .. + 4` lies in output row `pix[p] < npix`
                // since `c0 + 4 · run ≤ out_c`; it is written through the only live pointer
                // to `output`. Without `direct`, `run == 1` and only `args.res` is written.
                unsafe { run_tile::<MODE>(px, &mut args) };
                if nc < 4 {
                    for (j, &p) in pix.iter().enumerate().take(np) {
                        write_out(out, out_len, p * g.out_c + c0, &args.res[4 * j..4 * j + nc]);
                    }
                }
                t += run;
            }
            pt += np;
        }
        cb += cn;
    }
}

/// Conv rows reading the input in place, one table row per tap (`in_c ≥ 16`).
struct ConvTaps<'a> {
    g: &'a Window2d,
    zx: i32,
    input: &'a [i8],
    /// 32 bytes of the input zero point; padding taps point at byte 16 (the overlapping last
    /// step may back off up to 15 bytes).
    zbuf: [i8; 32],
    /// Offset of tap `t` from the tap-(0, 0) input pixel of an interior output pixel.
    tapoff: [usize; TAP_MAX],
    /// Output rows / columns `[lo, hi)` whose whole kernel extent is inside the input.
    rows_in: (usize, usize),
    cols_in: (usize, usize),
}

impl<'a> ConvTaps<'a> {
    fn new(g: &'a Window2d, zx: i32, input: &'a [i8]) -> Self {
        let mut tapoff = [0; TAP_MAX];
        for (t, off) in tapoff.iter_mut().enumerate().take(g.k_h * g.k_w) {
            let (ky, kx) = (t / g.k_w, t % g.k_w);
            *off = (ky * g.dil_h * g.in_w + kx * g.dil_w) * g.in_c;
        }
        // `interior` holds on one contiguous range of output coordinates (first input
        // coordinate `o · stride − pad` increasing in `o`); outside it the general path runs.
        let range = |n: usize, k, s, d, p, size| {
            let lo = (0..n).find(|&o| Self::interior(o, k, s, d, p, size).is_some()).unwrap_or(n);
            let hi = (lo..n).find(|&o| Self::interior(o, k, s, d, p, size).is_none()).unwrap_or(n);
            (lo, hi)
        };
        let rows_in = range(g.out_h, g.k_h, g.stride_h, g.dil_h, g.pad_top, g.in_h);
        let cols_in = range(g.out_w, g.k_w, g.stride_w, g.dil_w, g.pad_left, g.in_w);
        ConvTaps { g, zx, input, zbuf: [zx as i8; 32], tapoff, rows_in, cols_in }
    }

    /// First input row/column of an output coordinate whose whole kernel extent is inside
    /// (`o · stride − pad ≥ 0` and `… + (k − 1) · dil < size`), computed without overflow.
    #[inline]
    fn interior(o: usize, k: usize, stride: usize, dil: usize, pad: usize, size: usize) -> Option<usize> {
        let first = o.checked_mul(stride)?.checked_sub(pad)?;
        let last = first.checked_add((k - 1).checked_mul(dil)?)?;
        (last < size).then_some(first)
    }
}

/// `(b, oy, ox)` of flat output pixel `i`.
#[inline]
fn coords(g: &Window2d, i: usize) -> (usize, usize, usize) {
    let ox = i % g.out_w;
    let r = i / g.out_w;
    (r / g.out_h, r % g.out_h, ox)
}

/// Offset of the input pixel read by tap `(ky, kx)` of output `(b, oy, ox)`, if inside.
#[inline]
fn tap_offset(g: &Window2d, b: usize, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
    let iy = g.in_y(oy, ky)?;
    let ix = g.in_x(ox, kx)?;
    Some(((b * g.in_h + iy) * g.in_w + ix) * g.in_c)
}

fn conv_scalar_acc(g: &Window2d, zx: i32, input: &[i8], pix: usize, w: &[i8]) -> i32 {
    let (b, oy, ox) = coords(g, pix);
    let mut acc = 0i32;
    for ky in 0..g.k_h {
        for kx in 0..g.k_w {
            let Some(off) = tap_offset(g, b, oy, ox, ky, kx) else { continue };
            let wt = &w[(ky * g.k_w + kx) * g.in_c..][..g.in_c];
            for (&x, &wv) in input[off..off + g.in_c].iter().zip(wt) {
                acc = acc.wrapping_add(i32::from(x).wrapping_sub(zx).wrapping_mul(i32::from(wv)));
            }
        }
    }
    acc
}

impl Rows for ConvTaps<'_> {
    fn build(&mut self, pix: &[usize; PX], tab: &mut [TapRow]) {
        let g = self.g;
        let pad = self.zbuf[16..].as_ptr();
        let base = self.input.as_ptr();
        for (j, &p) in pix.iter().enumerate() {
            if j > 0 && p == pix[j - 1] {
                for row in tab.iter_mut() {
                    row.a[j] = row.a[j - 1];
                    row.inc[j] = row.inc[j - 1];
                }
                continue;
            }
            let (b, oy, ox) = coords(g, p);
            if (self.rows_in.0..self.rows_in.1).contains(&oy)
                && (self.cols_in.0..self.cols_in.1).contains(&ox)
            {
                // Every tap inside (`interior` held for `oy` and `ox`, so these cannot
                // overflow): tap (ky, kx) reads input pixel (y0 + ky·dil_h, x0 + kx·dil_w),
                // i.e. `tapoff[t]` bytes after pixel (y0, x0).
                let y0 = oy * g.stride_h - g.pad_top;
                let x0 = ox * g.stride_w - g.pad_left;
                let pbase = base.wrapping_add(((b * g.in_h + y0) * g.in_w + x0) * g.in_c);
                for (row, &off) in tab.iter_mut().zip(&self.tapoff) {
                    row.a[j] = pbase.wrapping_add(off);
                    row.inc[j] = 16;
                }
                continue;
            }
            let mut rows = tab.iter_mut();
            for ky in 0..g.k_h {
                let iy = g.in_y(oy, ky);
                for kx in 0..g.k_w {
                    let Some(row) = rows.next() else { return };
                    match (iy, g.in_x(ox, kx)) {
                        (Some(iy), Some(ix)) => {
                            // In bounds: `iy < in_h`, `ix < in_w`, `b < batch`, and the
                            // input length equals `batch · in_h · in_w · in_c`.
                            row.a[j] = base.wrapping_add(((b * g.in_h + iy) * g.in_w + ix) * g.in_c);
                            row.inc[j] = 16;
                        }
                        _ => {
                            row.a[j] = pad;
                            row.inc[j] = 0;
                        }
                    }
                }
            }
        }
    }

    fn scalar_acc(&self, pix: usize, w: &[i8]) -> i32 {
        conv_scalar_acc(self.g, self.zx, self.input, pix, w)
    }
}

/// Conv rows gathered into a stack buffer (`in_c < 16`, `16 ≤ K ≤ GATHER_K_MAX`): each pixel's
/// whole window is one "tap" of depth `K`, padding filled with the input zero point.
struct ConvGather<'a> {
    g: &'a Window2d,
    zx: i32,
    input: &'a [i8],
    k: usize,
    buf: [i8; PX * GATHER_K_MAX],
}

impl Rows for ConvGather<'_> {
    fn build(&mut self, pix: &[usize; PX], tab: &mut [TapRow]) {
        let g = self.g;
        let k = self.k;
        for (j, &p) in pix.iter().enumerate() {
            if j > 0 && p == pix[j - 1] {
                tab[0].a[j] = tab[0].a[j - 1];
                tab[0].inc[j] = 16;
                continue;
            }
            let (b, oy, ox) = coords(g, p);
            let row = &mut self.buf[j * k..(j + 1) * k];
            for ky in 0..g.k_h {
                for kx in 0..g.k_w {
                    let dst = &mut row[(ky * g.k_w + kx) * g.in_c..][..g.in_c];
                    match tap_offset(g, b, oy, ox, ky, kx) {
                        Some(off) => dst.copy_from_slice(&self.input[off..off + g.in_c]),
                        None => dst.fill(self.zx as i8),
                    }
                }
            }
            tab[0].a[j] = row.as_ptr();
            tab[0].inc[j] = 16;
        }
    }

    fn scalar_acc(&self, pix: usize, w: &[i8]) -> i32 {
        conv_scalar_acc(self.g, self.zx, self.input, pix, w)
    }
}

/// A window depth `K < 16` (a 3×3 first layer on one channel: K = 9): the filter is copied to
/// rows of 16 bytes, zero beyond `K`, and each pixel's window gathered into a 16-byte row, so
/// the gathered path runs with `K = 16`. The 16 − K padding lanes multiply a zero weight (their
/// input bytes stay 0) and add nothing to `Σ w`, so every sum is the reference's.
#[inline(never)]
fn conv_gather_small(gemm: &Gemm, g: &Window2d, input: &[i8], output: &mut [i8]) {
    let k = gemm.k;
    let mut wbuf = [0i8; 16 * SMALL_K_OC_MAX];
    for (dst, src) in wbuf.chunks_exact_mut(16).zip(gemm.filter.chunks_exact(k)) {
        dst[..k].copy_from_slice(src);
    }
    let filter = &wbuf[..16 * g.out_c];
    let mut rows = ConvGather { g, zx: gemm.q.input_zp, input, k: 16, buf: [0; PX * GATHER_K_MAX] };
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe { gemm_dispatch::<1, _>(&Gemm { k: 16, seg: 16, n_taps: 1, filter, ..*gemm }, &mut rows, output) }
}

/// Fully-connected rows: row `b` is `input[b · in_len ..][.. in_len]`.
struct FcRows<'a> {
    zx: i32,
    input: &'a [i8],
    in_len: usize,
}

impl Rows for FcRows<'_> {
    fn build(&mut self, pix: &[usize; PX], tab: &mut [TapRow]) {
        for (j, &p) in pix.iter().enumerate() {
            tab[0].a[j] = self.input[p * self.in_len..][..self.in_len].as_ptr();
            tab[0].inc[j] = 16;
        }
    }

    fn scalar_acc(&self, pix: usize, w: &[i8]) -> i32 {
        let x = &self.input[pix * self.in_len..][..self.in_len];
        x.iter().zip(w).fold(0i32, |acc, (&x, &w)| {
            acc.wrapping_add(i32::from(x).wrapping_sub(self.zx).wrapping_mul(i32::from(w)))
        })
    }
}

fn check_quant(q: &ConvQuant, out_c: usize, bias: &[i32]) {
    assert!(bias.is_empty() || bias.len() == out_c, "bias length");
    assert_eq!(q.multipliers.len(), out_c, "multipliers length");
    assert_eq!(q.shifts.len(), out_c, "shifts length");
}

#[target_feature(enable = "neon")]
fn gemm_dispatch<const NT: usize, R: Rows>(g: &Gemm, rows: &mut R, output: &mut [i8]) {
    match rq_mode(g.q.rounding, g.q.shifts) {
        RQ_D => gemm_i8::<RQ_D, NT, R>(g, rows, output),
        RQ_DR => gemm_i8::<RQ_DR, NT, R>(g, rows, output),
        _ => gemm_i8::<RQ_S, NT, R>(g, rows, output),
    }
}

/// int8 CONV_2D, bit-exact to [`reference::conv2d_i8`] (see the module docs).
///
/// NEON path: up to 81 taps with any stride, dilation and padding when `in_c ≥ 16`, or a
/// window depth `16 ≤ k_h · k_w · in_c ≤ 256` (gathered) when `in_c < 16`, or a window depth
/// below 16 with `out_c ≤ 64` (gathered against a zero-padded filter copy); microkernels
/// `neon64_conv_i8_{6,4,2,1}x4_*`. Other shapes run the reference kernel.
pub fn conv2d_i8(g: &Window2d, q: &ConvQuant, input: &[i8], filter: &[i8], bias: &[i32], output: &mut [i8]) {
    let taps = prod(&[g.k_h, g.k_w]);
    let k = prod(&[taps, g.in_c]);
    let npix = prod(&[g.batch, g.out_h, g.out_w]);
    assert_eq!(input.len(), prod(&[g.batch, g.in_h, g.in_w, g.in_c]), "input length");
    assert_eq!(filter.len(), prod(&[g.out_c, k]), "filter length");
    assert_eq!(output.len(), prod(&[npix, g.out_c]), "output length");
    check_quant(q, g.out_c, bias);

    let zps_ok = zp_fits_i8(q.input_zp) && zp_fits_i8(q.output_zp);
    let gemm = Gemm { npix, out_c: g.out_c, k, seg: g.in_c, n_taps: taps, q, filter, bias };
    if zps_ok && npix > 0 && g.out_c > 0 && g.in_c >= 16 && (1..=TAP_MAX).contains(&taps) {
        conv_taps(&gemm, g, input, output);
    } else if zps_ok && npix > 0 && g.out_c > 0 && g.in_c >= 1 && (16..=GATHER_K_MAX).contains(&k) {
        conv_gather(&Gemm { seg: k, n_taps: 1, ..gemm }, g, input, output);
    } else if zps_ok && npix > 0 && (1..=SMALL_K_OC_MAX).contains(&g.out_c) && (1..16).contains(&k) {
        conv_gather_small(&gemm, g, input, output);
    } else {
        reference::conv2d_i8(g, q, input, filter, bias, output)
    }
}

// The two conv paths are separate frames (the tap table and the gather buffer are never on
// the stack together).
#[inline(never)]
fn conv_taps(gemm: &Gemm, g: &Window2d, input: &[i8], output: &mut [i8]) {
    let mut rows = ConvTaps::new(g, gemm.q.input_zp, input);
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe { gemm_dispatch::<TAP_MAX, _>(gemm, &mut rows, output) }
}

#[inline(never)]
fn conv_gather(gemm: &Gemm, g: &Window2d, input: &[i8], output: &mut [i8]) {
    let mut rows = ConvGather { g, zx: gemm.q.input_zp, input, k: gemm.k, buf: [0; PX * GATHER_K_MAX] };
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe { gemm_dispatch::<1, _>(gemm, &mut rows, output) }
}

/// int8 FULLY_CONNECTED, bit-exact to [`reference::fully_connected_i8`]: the conv GEMM with
/// one tap of depth `in_len` (needs `in_len ≥ 16`, else the reference runs).
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
    assert_eq!(input.len(), prod(&[batch, in_len]), "input length");
    assert_eq!(weights.len(), prod(&[out_len, in_len]), "weights length");
    assert_eq!(output.len(), prod(&[batch, out_len]), "output length");
    check_quant(q, out_len, bias);
    if zp_fits_i8(q.input_zp) && zp_fits_i8(q.output_zp) && batch > 0 && out_len > 0 && in_len >= 16 {
        let gemm =
            Gemm { npix: batch, out_c: out_len, k: in_len, seg: in_len, n_taps: 1, q, filter: weights, bias };
        let mut rows = FcRows { zx: q.input_zp, input, in_len };
        // SAFETY: NEON is present (asserted at compile time for this module).
        unsafe { gemm_dispatch::<1, _>(&gemm, &mut rows, output) }
    } else {
        reference::fully_connected_i8(batch, in_len, out_len, q, input, weights, bias, output)
    }
}

// ---------------------------------------------------------------------------------------------
// Depthwise 3×3, multiplier 1.

/// int8 DEPTHWISE_CONV_2D, bit-exact to [`reference::depthwise_conv2d_i8`].
///
/// NEON path (`neon64_dw3x3_i8_16_*`, see the module docs): 3×3, depth multiplier 1,
/// `in_c ≥ 16`, any stride, dilation and padding, no `−128` weight, zero points in
/// `[−128, 127]`. The last channel group overlaps the previous one when `in_c % 16 ≠ 0`. Other
/// shapes run the reference kernel.
pub fn depthwise_conv2d_i8(
    g: &Window2d,
    depth_multiplier: usize,
    q: &ConvQuant,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    let out_c = prod(&[g.in_c, depth_multiplier]);
    assert_eq!(g.out_c, out_c, "out_c != in_c * depth_multiplier");
    assert_eq!(input.len(), prod(&[g.batch, g.in_h, g.in_w, g.in_c]), "input length");
    assert_eq!(filter.len(), prod(&[g.k_h, g.k_w, out_c]), "filter length");
    assert_eq!(output.len(), prod(&[g.batch, g.out_h, g.out_w, out_c]), "output length");
    check_quant(q, out_c, bias);
    let fast = depth_multiplier == 1
        && g.k_h == 3
        && g.k_w == 3
        && g.in_c >= 16
        && zp_fits_i8(q.input_zp)
        && zp_fits_i8(q.output_zp)
        && !filter.contains(&i8::MIN);
    if !fast {
        return reference::depthwise_conv2d_i8(g, depth_multiplier, q, input, filter, bias, output);
    }
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe {
        match rq_mode(q.rounding, q.shifts) {
            RQ_D => dw3x3::<RQ_D>(g, q, input, filter, bias, output),
            RQ_DR => dw3x3::<RQ_DR>(g, q, input, filter, bias, output),
            _ => dw3x3::<RQ_S>(g, q, input, filter, bias, output),
        }
    }
}

#[target_feature(enable = "neon")]
fn dw3x3<const MODE: u8>(
    g: &Window2d,
    q: &ConvQuant,
    input: &[i8],
    filter: &[i8],
    bias: &[i32],
    output: &mut [i8],
) {
    let c = g.in_c;
    let zbuf = [q.input_zp as i8; 16];
    let base = input.as_ptr();
    // All output writes go through this one pointer (the asm stores).
    let obase = output.as_mut_ptr();
    // Interior columns: all three taps inside, consecutive pixels exactly `stride_w` input
    // pixels apart. The run [lo, hi) of such columns is one segment per row; every other
    // column is a one-pixel segment.
    let cols = |ox: usize| [g.in_x(ox, 0), g.in_x(ox, 1), g.in_x(ox, 2)];
    let inside = |ox: usize| cols(ox).iter().all(Option::is_some);
    let lo = (0..g.out_w).find(|&ox| inside(ox)).unwrap_or(g.out_w);
    let mut hi = lo;
    while hi < g.out_w && inside(hi) {
        if hi > lo {
            let (a, b) = (cols(hi - 1), cols(hi));
            if (0..3).any(|kx| b[kx] != a[kx].map(|v| v + g.stride_w)) {
                break;
            }
        }
        hi += 1;
    }
    let run_cols = if hi > lo { cols(lo) } else { [None; 3] };

    let mut segs = [DwSeg::EMPTY; DW_SEGS];
    let mut args = DwArgs {
        seg: core::ptr::null(),
        n_seg: 0,
        out_step: c,
        _pad: 0,
        w: [[0; 16]; 9],
        corr: [0; 16],
        m: [0; 16],
        p: [0; 32],
        zp: [q.output_zp as i16; 8],
        lo: [q.act_min; 16],
        hi: [q.act_max; 16],
    };
    for grp in 0..c.div_ceil(16) {
        // The last group overlaps the previous one when c % 16 != 0 (recomputes equal values).
        let c0 = (grp * 16).min(c - 16);
        for (t, w) in args.w.iter_mut().enumerate() {
            w.copy_from_slice(&filter[t * c + c0..][..16]);
        }
        for l in 0..16 {
            let s: i32 = args.w.iter().map(|w| i32::from(w[l])).sum();
            args.corr[l] = bias_at(bias, c0 + l).wrapping_sub(q.input_zp.wrapping_mul(s));
            args.m[l] = q.multipliers[c0 + l];
            let (p1, p2) = rq_lane(MODE, q.shifts[c0 + l]);
            if MODE == RQ_S {
                (args.p[2 * l], args.p[2 * l + 1]) = (p1, p2);
            } else {
                (args.p[l], args.p[16 + l]) = (p1, p2);
            }
        }
        let mut ns = 0;
        for b in 0..g.batch {
            for oy in 0..g.out_h {
                let rows = [g.in_y(oy, 0), g.in_y(oy, 1), g.in_y(oy, 2)]
                    .map(|r| r.map(|iy| (b * g.in_h + iy) * g.in_w));
                let out_row = ((b * g.out_h + oy) * g.out_w) * c + c0;
                let mut ox = 0;
                while ox < g.out_w {
                    let (n, xs) = if ox == lo && hi > lo { (hi - lo, run_cols) } else { (1, cols(ox)) };
                    let seg = &mut segs[ns];
                    for (t, x) in seg.x.iter_mut().enumerate() {
                        *x = match (rows[t / 3], xs[t % 3]) {
                            // Input pixel (row, column) inside: `r + ix < batch · in_h · in_w`.
                            (Some(r), Some(ix)) => base.wrapping_add((r + ix) * c + c0),
                            _ => zbuf.as_ptr(),
                        };
                    }
                    for (ky, s) in seg.step.iter_mut().enumerate() {
                        *s = if rows[ky].is_some() && n > 1 { g.stride_w * c } else { 0 };
                    }
                    seg.out = obase.wrapping_add(out_row + ox * c);
                    seg.n = n;
                    ns += 1;
                    ox += n;
                    let last = b + 1 == g.batch && oy + 1 == g.out_h && ox == g.out_w;
                    if ns == DW_SEGS || last {
                        args.seg = segs.as_ptr();
                        args.n_seg = ns;
                        // SAFETY: each segment's pixel `i < n` reads tap `t` at
                        // `x[t] + i · step[ky]`: for a padded row or column, the 16-byte
                        // `zbuf` (step 0, or n = 1); else input pixel
                        // `(r + in_x(ox + i, kx))` at channel `c0`, inside the input because
                        // the run's columns are inside and exactly `stride_w` apart (checked
                        // above) and `c0 + 16 ≤ c`. Outputs `out + i · c .. + 16` are pixels
                        // `ox + i < out_w` of row `oy` at channels `c0 .. c0 + 16 ≤ c`, inside
                        // `output` (length checked by the caller), written only through
                        // `obase`; `output` and `input` are distinct borrows.
                        unsafe { run_dw::<MODE>(&mut args) };
                        ns = 0;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ADD.

/// Lane parameters of `multiply_by_quantized_multiplier` (intrinsics version, for ADD).
#[derive(Clone, Copy)]
struct Rq {
    m: int32x4_t,
    /// Left shift applied first (ADD's `left_shift`, plus `max(shift, 0)` in double rounding).
    left: int32x4_t,
    /// Double: `−max(−shift, 0)`.
    neg_right: int32x4_t,
    /// Single: `shift − 31`.
    neg_t: int64x2_t,
}

#[target_feature(enable = "neon")]
fn rq_params<const SINGLE: bool>(m: i32, shift: i32, extra_left: i32) -> Rq {
    if SINGLE {
        Rq {
            m: vdupq_n_s32(m),
            left: vdupq_n_s32(extra_left),
            neg_right: vdupq_n_s32(0),
            neg_t: vdupq_n_s64(i64::from(shift.clamp(-31, 30) - 31)),
        }
    } else {
        let s = shift.clamp(-31, 31);
        Rq {
            m: vdupq_n_s32(m),
            left: vdupq_n_s32(s.max(0) + extra_left),
            neg_right: vdupq_n_s32(s.min(0)),
            neg_t: vdupq_n_s64(0),
        }
    }
}

/// `multiply_by_quantized_multiplier((x << extra_left), M, shift)` on 4 lanes.
#[target_feature(enable = "neon")]
#[inline]
fn rq_apply<const SINGLE: bool>(x: int32x4_t, p: &Rq) -> int32x4_t {
    let x = vshlq_s32(x, p.left);
    if SINGLE {
        let lo = vrshlq_s64(vmull_s32(vget_low_s32(x), vget_low_s32(p.m)), p.neg_t);
        let hi = vrshlq_s64(vmull_high_s32(x, p.m), p.neg_t);
        vqmovn_high_s64(vqmovn_s64(lo), hi)
    } else {
        let y = vqrdmulhq_s32(x, p.m);
        let fixup = vshrq_n_s32::<31>(vandq_s32(y, p.neg_right));
        vrshlq_s32(vqaddq_s32(y, fixup), p.neg_right)
    }
}

/// int8 ADD, bit-exact to [`reference::add_i8`]: 16 elements per step (`neon64_add_i8_16`),
/// the `len % 16` tail by the reference kernel. Needs all zero points in `[−128, 127]` (else
/// the reference runs).
pub fn add_i8(p: &AddParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    assert_eq!(a.len(), output.len(), "input 1 length");
    assert_eq!(b.len(), output.len(), "input 2 length");
    if !(zp_fits_i8(p.input1_zp) && zp_fits_i8(p.input2_zp) && zp_fits_i8(p.output_zp)) {
        return reference::add_i8(p, a, b, output);
    }
    let main = output.len() - output.len() % 16;
    // SAFETY: NEON is present (asserted at compile time for this module).
    unsafe {
        match p.rounding {
            Rounding::Double => neon64_add_i8_16::<false>(p, &a[..main], &b[..main], &mut output[..main]),
            Rounding::Single => neon64_add_i8_16::<true>(p, &a[..main], &b[..main], &mut output[..main]),
        }
    }
    reference::add_i8(p, &a[main..], &b[main..], &mut output[main..]);
}

#[target_feature(enable = "neon")]
fn neon64_add_i8_16<const SINGLE: bool>(p: &AddParams, a: &[i8], b: &[i8], output: &mut [i8]) {
    let ls = p.left_shift.clamp(0, 31);
    let rq1 = rq_params::<SINGLE>(p.input1_multiplier, p.input1_shift, ls);
    let rq2 = rq_params::<SINGLE>(p.input2_multiplier, p.input2_shift, ls);
    let rqo = rq_params::<SINGLE>(p.output_multiplier, p.output_shift, 0);
    let z1 = vdupq_n_s8(p.input1_zp as i8);
    let z2 = vdupq_n_s8(p.input2_zp as i8);
    let zp = vdupq_n_s16(p.output_zp as i16);
    let lo = vdupq_n_s8(p.act_min);
    let hi = vdupq_n_s8(p.act_max);
    for ((o, x), y) in output.chunks_exact_mut(16).zip(a.chunks_exact(16)).zip(b.chunks_exact(16)) {
        let x = load16(x, 0);
        let y = load16(y, 0);
        // x − zp fits in i16; widened to i32 and shifted by (left_shift + max(shift, 0)),
        // which wraps exactly like the reference's two wrapping shifts.
        let dx = [vsubl_s8(vget_low_s8(x), vget_low_s8(z1)), vsubl_high_s8(x, z1)];
        let dy = [vsubl_s8(vget_low_s8(y), vget_low_s8(z2)), vsubl_high_s8(y, z2)];
        let mut h16 = [vdupq_n_s16(0); 2];
        for h in 0..2 {
            let s0 = vaddq_s32(
                rq_apply::<SINGLE>(vmovl_s16(vget_low_s16(dx[h])), &rq1),
                rq_apply::<SINGLE>(vmovl_s16(vget_low_s16(dy[h])), &rq2),
            );
            let s1 = vaddq_s32(
                rq_apply::<SINGLE>(vmovl_high_s16(dx[h]), &rq1),
                rq_apply::<SINGLE>(vmovl_high_s16(dy[h]), &rq2),
            );
            let r0 = rq_apply::<SINGLE>(s0, &rqo);
            let r1 = rq_apply::<SINGLE>(s1, &rqo);
            // Output zero point in i16 (|zp| ≤ 128): equal to the reference's i32 sum once
            // saturated to int8.
            h16[h] = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(r0), r1), zp);
        }
        let v = vminq_s8(vmaxq_s8(vqmovn_high_s16(vqmovn_s16(h16[0]), h16[1]), lo), hi);
        let dst: &mut [i8; 16] = o.try_into().unwrap();
        // SAFETY: `dst` is 16 writable bytes.
        unsafe { vst1q_s8(dst.as_mut_ptr(), v) };
    }
}
