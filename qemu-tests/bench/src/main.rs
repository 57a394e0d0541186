//! Instruction-count benchmark of Doppler's kernels against tract-linalg, under qemu-user with
//! the `doppler-qemu-count` plugin (qemu-tests/README.md; docs/BENCHMARKS.md has the tables).
//!
//! For every case the inputs are prepared *outside* a window, then each implementation runs
//! once inside its own `doppler_window::measure` window:
//!
//! * `doppler reference` — `doppler_kernels::reference::…`, the oracle;
//! * `doppler best` — `doppler_kernels::best::…` (the NEON kernel where one has landed, else
//!   the very same function as the reference: then it is reported as such and not re-run);
//! * `tract-linalg` — `MmmDispatch::native().pick(..)` and `MatMatMul::run`, in stages that each
//!   get a window (`im2col`, `pack B`, `mmm`), so that the GEMM kernel can be reported alone
//!   as well as the whole layer.
//!
//! Protocol on stdout (parsed by run.sh, one line each, windows in execution order):
//!
//! ```text
//! case C: NAME | MACS MACs | DESCRIPTION
//! run N: case C | IMPL | PART | NOTE          (PART: kernel, im2col, pack B or mmm)
//! same: case C | IMPL | NOTE                  (no window: best is the reference function)
//! warm-up: … info: … check: … done: …
//! ```
//!
//! `run N` is window `N` of the plugin's report (windows are numbered in execution order, and
//! every window of the program is announced by exactly one `run` line just before it).
//! Everything is deterministic: fixed seeds (one per case), no threads, no timing, and a bump
//! allocator (see [`Bump`]). The reference kernels run whole (the slowest, the armv7 int8 conv
//! reference, is ~2.6 G instructions, a few seconds of QEMU), so no count is extrapolated.
//!
//! Run it through `run.sh`: tract-linalg's kernel choice and counts depend on the guest's
//! `/proc/cpuinfo`, `/sys/devices/system/cpu/cpu0/cache` and environment, which run.sh fixes
//! (a Cortex-A9 / A53 guest root and an empty environment; docs/BENCHMARKS.md explains why).

use std::hint::black_box;
// Every kernel argument goes through `black_box` (by value), so that no shape or parameter is
// a compile-time constant in the kernel call: the reference kernels are small enough for
// cross-crate inlining, and a copy specialised to this program's constant shapes would not be
// the code the engine runs.
use std::hint::black_box as bb;

use doppler_kernels::best;
use doppler_kernels::reference;
use doppler_kernels::reference::binary::{words, BConvEpilogue, PadValue};
use doppler_kernels::reference::int8::ConvQuant;
use doppler_kernels::reference::quant::{quantize_multiplier, Rounding};
use doppler_kernels::reference::Window2d;
use doppler_window::measure;

use tract_data::prelude::{DatumType, Tensor};
use tract_linalg::mmm::{AsInputValue, FusedSpec, MMMInputValue, MatMatMul, Query, RoundingPolicy};
use tract_linalg::{BinOp, Scaler};

// ---------------------------------------------------------------------------------------------
// Allocation: a bump allocator, so that counts do not depend on the heap's history.

/// The program's global allocator: bump allocation in a static arena, every block 64-byte
/// aligned, `dealloc` a no-op.
///
/// With glibc's malloc the windows that allocate (tract-linalg's packing and scratch) and the
/// `memcpy`s over heap buffers changed by a few hundred instructions with the *length of the
/// binary's path* (`std::env::args` copies argv[0] to the heap, which shifts every later block
/// and changes malloc's free lists). Here every address is 64-byte aligned and an allocation
/// costs the same few instructions whatever happened before, so a window counts the same on any
/// machine, from any path, in any environment. (Allocation is thereby cheaper than glibc's for
/// tract-linalg, which allocates inside its windows: a few hundred instructions per call at
/// most, against millions.)
struct Bump;

const ARENA_BYTES: usize = 256 << 20;
const BLOCK_ALIGN: usize = 64;

#[repr(C, align(64))]
struct Arena(core::cell::UnsafeCell<[u8; ARENA_BYTES]>);
// SAFETY: the bytes are only handed out in disjoint blocks (`NEXT` is advanced atomically).
unsafe impl Sync for Arena {}
static ARENA: Arena = Arena(core::cell::UnsafeCell::new([0; ARENA_BYTES]));
static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

// SAFETY: blocks are disjoint, inside the arena, aligned to max(64, layout.align()), and never
// reused; out of memory returns null.
unsafe impl std::alloc::GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use core::sync::atomic::Ordering::Relaxed;
        let align = layout.align().max(BLOCK_ALIGN);
        let size = layout.size().max(1);
        let mut start = 0;
        let ok = NEXT.fetch_update(Relaxed, Relaxed, |next| {
            start = next.checked_add(align - 1)? & !(align - 1);
            let end = start.checked_add(size)?;
            (end <= ARENA_BYTES).then_some(end)
        });
        if ok.is_err() {
            return core::ptr::null_mut();
        }
        // SAFETY: start + size <= ARENA_BYTES (checked above); the arena is 64-byte aligned.
        unsafe { (ARENA.0.get() as *mut u8).add(start) }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: std::alloc::Layout) {}
}

#[global_allocator]
static GLOBAL: Bump = Bump;

fn heap_used() -> usize {
    NEXT.load(core::sync::atomic::Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Deterministic data.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next_u64(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range_i32(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i32
    }
    /// Activations: the whole int8 range.
    fn acts_i8(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next_u64() as i8).collect()
    }
    /// Weights: `[-127, 127]`, the TFLite int8 spec (symmetric, no -128).
    fn weights_i8(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range_i32(-127, 127) as i8).collect()
    }
    fn unit_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec_f32(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.unit_f32()).collect()
    }
    fn words(&mut self, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.next_u64() as u32).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping: the case list and the run list on stdout.

struct Bench {
    cases: usize,
    runs: usize,
    only: Vec<String>,
    skip_reference: bool,
    skip_tract: bool,
    list: bool,
}

impl Bench {
    fn case(&mut self, name: &str, macs: u64, desc: &str) -> Option<usize> {
        if !self.only.is_empty() && !self.only.iter().any(|o| name.contains(o.as_str())) {
            return None;
        }
        let c = self.cases;
        self.cases += 1;
        println!("case {c}: {name} | {macs} MACs | {desc}");
        if self.list {
            return None;
        }
        Some(c)
    }

    /// Runs `f` inside one window and announces it.
    fn run<R>(&mut self, case: usize, imp: &str, part: &str, note: &str, f: impl FnOnce() -> R) -> R {
        let n = self.runs;
        self.runs += 1;
        println!("run {n}: case {case} | {imp} | {part} | {note}");
        measure(f)
    }
}

/// `best::X` is the reference when no NEON kernel shadows it: the re-export is the same item,
/// so the function pointers are equal.
fn same_fn<F: Copy>(a: F, b: F) -> bool {
    assert_eq!(core::mem::size_of::<F>(), core::mem::size_of::<usize>());
    // SAFETY: F is a function pointer type (checked by size; only called with `fn` items cast
    // to `fn(..)` pointers).
    unsafe { core::mem::transmute_copy::<F, usize>(&a) == core::mem::transmute_copy::<F, usize>(&b) }
}

/// Reports how far `a` is from the reference `r`: the number of differing values and the
/// largest `|a − r| / (1 + |r|)` (for integers that is 0 when identical; f32 kernels are
/// allowed a documented tolerance, see kernels/src/reference/f32.rs).
fn compare<T: PartialEq + Copy + Into<f64>>(what: &str, case: usize, a: &[T], r: &[T]) {
    assert_eq!(a.len(), r.len());
    let (mut diffs, mut max_abs, mut max_rel) = (0usize, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(r) {
        if x != y {
            let d = (x.into() - y.into()).abs();
            diffs += 1;
            max_abs = max_abs.max(d);
            max_rel = max_rel.max(d / (1.0 + y.into().abs()));
        }
    }
    if diffs == 0 {
        println!("check: case {case} | {what}: identical ({} values)", a.len());
    } else {
        println!(
            "check: case {case} | {what}: {diffs} of {} values differ, max |diff| {max_abs:.3e}, max |diff|/(1+|ref|) {max_rel:.3e}",
            a.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// tract-linalg: selection, packing, the fused epilogue.

struct Tract {
    mmm: Box<dyn MatMatMul>,
    packing: usize,
}

impl Tract {
    /// What tract-core does for a plain matmul: `pick` on the native dispatch (the platform's
    /// preferred kernel for this shape, NEON when tract believes the CPU has it).
    fn pick(acc: DatumType, m: usize, k: usize, n: usize) -> Tract {
        let q = Query::plain(acc, Some(m), Some(k), Some(n));
        let (mmm, packing, extractor) =
            tract_linalg::MmmDispatch::native().pick(&q).expect("tract-linalg: no kernel for the query");
        assert!(extractor.is_none(), "tract picked a panel extractor");
        println!(
            "info: tract-linalg {acc:?} {m}x{k}x{n}: kernel {} (mr {} nr {}), packing {packing}: {}",
            mmm.name(),
            mmm.mr(),
            mmm.nr(),
            mmm.packings()[packing].1
        );
        Tract { mmm, packing }
    }
    fn name(&self) -> String {
        self.mmm.name().to_string()
    }
    /// Packs the weights `[m][k]` (offline in a real model: outside the window).
    fn pack_a(&self, a: &Tensor) -> Box<dyn MMMInputValue> {
        self.mmm.packings()[self.packing].0.prepare_one(a, 1, 0).unwrap()
    }
    /// Packs activations `[n][k]` (NHWC pixels × depth): part of the layer.
    fn pack_b(&self, b: &Tensor) -> Box<dyn MMMInputValue> {
        self.mmm.packings()[self.packing].1.prepare_one(b, 1, 0).unwrap()
    }
}

fn tensor_i8(shape: &[usize], data: &[i8]) -> Tensor {
    Tensor::from_shape::<i8>(shape, data).unwrap()
}

fn tensor_slice<T: tract_data::prelude::Datum>(t: &Tensor) -> &[T] {
    let p = t.as_ptr::<T>().unwrap();
    // SAFETY: a plain in-memory tensor of `len()` elements of type T.
    unsafe { std::slice::from_raw_parts(p, t.len()) }
}

fn tensor_slice_mut<T: tract_data::prelude::Datum>(t: &mut Tensor) -> &mut [T] {
    let n = t.len();
    let p = t.as_ptr_mut::<T>().unwrap();
    // SAFETY: a plain in-memory tensor of `n` elements of type T, borrowed mutably.
    unsafe { std::slice::from_raw_parts_mut(p, n) }
}

/// The requantizing epilogue tract-core fuses into an int8 matmul: `+ bias` per row (the
/// input zero point folded in offline, see `fold_zero_point`), `QScale` (per-tensor
/// multiplier and shift, rounding away from zero = gemmlowp), `+ output_zp`, clamp to the
/// activation range, store as i8.
struct TractRequant {
    bias: Tensor,
    zp: Tensor,
    lo: Tensor,
    hi: Tensor,
    scaler: Scaler,
}

impl TractRequant {
    fn new(bias_folded: &[i32], scale: f32, output_zp: i32, act_min: i8, act_max: i8) -> TractRequant {
        TractRequant {
            bias: Tensor::from_shape::<i32>(&[bias_folded.len()], bias_folded).unwrap(),
            zp: Tensor::from_shape::<i32>(&[], &[output_zp]).unwrap(),
            lo: Tensor::from_shape::<i32>(&[], &[i32::from(act_min)]).unwrap(),
            hi: Tensor::from_shape::<i32>(&[], &[i32::from(act_max)]).unwrap(),
            scaler: Scaler::new(scale, RoundingPolicy::Away),
        }
    }
}

/// `bias − zx · Σ_k w[o][k]`: with symmetric weights the input zero point is a per-row
/// constant, folded into the bias when the model is prepared (TFLite and tract-core do the same).
fn fold_zero_point(bias: &[i32], weights: &[i8], k: usize, input_zp: i32) -> Vec<i32> {
    bias.iter()
        .enumerate()
        .map(|(o, &b)| {
            let s: i32 = weights[o * k..][..k].iter().map(|&w| i32::from(w)).sum();
            b.wrapping_sub(input_zp.wrapping_mul(s))
        })
        .collect()
}

/// Runs the int8 matmul `C[n][m] (NHWC) = requant(A[m][k] · B[n][k]^T)` or, with `requant`
/// `None`, stores the raw i32 accumulators.
fn tract_run_i8(
    t: &Tract,
    m: usize,
    n: usize,
    pa: &dyn MMMInputValue,
    pb: &dyn MMMInputValue,
    rq: Option<&TractRequant>,
    c: &mut Tensor,
) {
    // c is [n][m]: m along axis 1, n along axis 0.
    unsafe {
        let store = t.mmm.c_view(Some(1), Some(0)).wrap(&c.view_mut());
        let mm = FusedSpec::AddMatMul {
            a: AsInputValue::Borrowed(pa),
            b: AsInputValue::Borrowed(pb),
            packing: t.packing,
        };
        match rq {
            None => t.mmm.run(m, n, &[mm, FusedSpec::Store(store)]).unwrap(),
            Some(rq) => t
                .mmm
                .run(
                    m,
                    n,
                    &[
                        mm,
                        FusedSpec::BinPerRow(rq.bias.view(), BinOp::Add),
                        rq.scaler.as_fused_spec(),
                        FusedSpec::BinScalar(&rq.zp, BinOp::Add),
                        FusedSpec::BinScalar(&rq.lo, BinOp::Max),
                        FusedSpec::BinScalar(&rq.hi, BinOp::Min),
                        FusedSpec::Store(store),
                    ],
                )
                .unwrap(),
        }
    }
}

/// im2col into `[pixels][k_h·k_w·in_c]` (tap-major, like the OHWI filter), padding taps filled
/// with the input zero point (so they contribute `zx · w`, cancelled by the folded bias).
fn im2col_i8(g: &Window2d, input: &[i8], zp: i8, out: &mut [i8]) {
    let kk = g.k_h * g.k_w * g.in_c;
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let row = &mut out[(oy * g.out_w + ox) * kk..][..kk];
            for ky in 0..g.k_h {
                for kx in 0..g.k_w {
                    let dst = &mut row[(ky * g.k_w + kx) * g.in_c..][..g.in_c];
                    match (g.in_y(oy, ky), g.in_x(ox, kx)) {
                        (Some(y), Some(x)) => {
                            dst.copy_from_slice(&input[(y * g.in_w + x) * g.in_c..][..g.in_c])
                        }
                        _ => dst.fill(zp),
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases.

const INPUT_ZP: i32 = -128; // a post-ReLU int8 tensor: (x - zp) in [0, 255]
const OUTPUT_ZP: i32 = -3;

/// Per-tensor scale chosen so that the outputs spread over the int8 range (≈ 3 σ of the
/// accumulator maps to 127), the same for every channel, so tract's per-tensor `QScale` and
/// Doppler's per-channel multipliers compute the same function.
fn requant_scale(k: usize) -> f64 {
    // σ(x − zx) ≈ 74 (uniform on [0, 255]), σ(w) ≈ 73, so σ(acc) ≈ 74 · 73 · √k.
    127.0 / (3.0 * 74.0 * 73.0 * (k as f64).sqrt())
}

struct QuantSet {
    mult: Vec<i32>,
    shift: Vec<i32>,
    scale: f32,
}

fn quant_set(out_c: usize, k: usize) -> QuantSet {
    let s = requant_scale(k);
    let (m, sh) = quantize_multiplier(s);
    // The exact real number the (M, shift) pair represents, for tract's Scaler.
    let exact = m as f64 * 2f64.powi(sh - 31);
    QuantSet { mult: vec![m; out_c], shift: vec![sh; out_c], scale: exact as f32 }
}

fn conv_quant(q: &QuantSet) -> ConvQuant<'_> {
    ConvQuant {
        input_zp: INPUT_ZP,
        output_zp: OUTPUT_ZP,
        multipliers: &q.mult,
        shifts: &q.shift,
        rounding: Rounding::Double,
        act_min: -128,
        act_max: 127,
    }
}

type FcI8 = fn(usize, usize, usize, &ConvQuant, &[i8], &[i8], &[i32], &mut [i8]);
type ConvI8 = fn(&Window2d, &ConvQuant, &[i8], &[i8], &[i32], &mut [i8]);
type DwI8 = fn(&Window2d, usize, &ConvQuant, &[i8], &[i8], &[i32], &mut [i8]);
type FcF32 = fn(usize, usize, usize, f32, f32, &[f32], &[f32], &[f32], &mut [f32]);
type BconvI8 = fn(&Window2d, PadValue, &BConvEpilogue, &[u32], &[u32], &mut [i8]);
type BconvBits = fn(&Window2d, PadValue, &[i32], &[u32], &[u32], &mut [u32]);

/// Doppler's two implementations of a case: the reference (unless `--no-reference`) and `best`
/// (unless it is the reference itself), one window each, then `best` compared with the reference.
/// Returns the reference output (`None` without `--no-reference`).
fn doppler<T: Copy + Default + PartialEq + Into<f64>>(
    b: &mut Bench,
    c: usize,
    len: usize,
    best_is_ref: bool,
    run_ref: impl FnOnce(&mut [T]),
    run_best: impl FnOnce(&mut [T]),
) -> Option<Vec<T>> {
    let mut out_ref = None;
    if !b.skip_reference {
        let mut out = vec![T::default(); len];
        b.run(c, "doppler reference", "kernel", "", || run_ref(&mut out));
        out_ref = Some(out);
    }
    if best_is_ref {
        println!("same: case {c} | doppler best (= reference) | the same function as doppler reference");
    } else {
        let mut out = vec![T::default(); len];
        b.run(c, "doppler best", "kernel", "", || run_best(&mut out));
        if let Some(r) = &out_ref {
            compare("doppler best vs reference", c, &out, r);
        }
    }
    out_ref
}

/// int8 GEMM M×K×N = 64×576×1024 as Doppler's `fully_connected_i8` with batch N: `out[n][m] =
/// requant(Σ_k (x[n][k] − zx) · w[m][k] + bias[m])` — exactly a GEMM (the same arithmetic and
/// memory layout as a 1×1 conv over N = 32×32 pixels of depth 576).
fn case_gemm_i8(b: &mut Bench, seed: u64) {
    let rng = &mut Rng::new(seed);
    let (m, k, n) = (64usize, 576usize, 1024usize);
    let macs = (m * k * n) as u64;
    let x = rng.acts_i8(n * k);
    let w = rng.weights_i8(m * k);
    let bias: Vec<i32> = (0..m).map(|_| rng.range_i32(-20000, 20000)).collect();
    let qs = quant_set(m, k);
    let q = conv_quant(&qs);

    // i8 x i8 -> i32: tract only (Doppler has no i32-output GEMM: its int8 layers requantize).
    if let Some(c) = b.case(
        "gemm_i8_i32",
        macs,
        "int8 GEMM M=64 K=576 N=1024, i8 x i8 -> i32, no requantization: tract-linalg only (Doppler's int8 kernels always requantize)",
    ) {
        if !b.skip_tract {
            let t = Tract::pick(DatumType::I32, m, k, n);
            let a = t.pack_a(&tensor_i8(&[m, k], &w));
            let bt = tensor_i8(&[n, k], &x);
            let mut out = Tensor::zero::<i32>(&[n, m]).unwrap();
            // Warm-up outside the windows: tract's one-time lazy initialisation (cache probe, ...).
            let pb = t.pack_b(&bt);
            println!("warm-up: case {c} | tract-linalg | mmm");
            tract_run_i8(&t, m, n, &*a, &*pb, None, &mut out);
            let name = t.name();
            let pb = b.run(c, "tract-linalg", "pack B", "", || t.pack_b(black_box(&bt)));
            b.run(c, "tract-linalg", "mmm", &name, || tract_run_i8(&t, m, n, &*a, black_box(&*pb), None, &mut out));
            // Spot check against the exact sum.
            let got = tensor_slice::<i32>(&out);
            let mut bad = 0;
            for s in 0..997usize {
                let (nn, mm) = ((s * 389) % n, (s * 37) % m);
                let exact: i32 = (0..k).map(|d| i32::from(x[nn * k + d]) * i32::from(w[mm * k + d])).sum();
                bad += usize::from(got[nn * m + mm] != exact);
            }
            println!("check: case {c} | tract-linalg i32 accumulators vs exact sums: {bad} of 997 sampled entries differ");
        }
    }

    if let Some(c) = b.case(
        "gemm_i8_requant",
        macs,
        "int8 GEMM M=64 K=576 N=1024 + bias, requantized to int8; Doppler: fully_connected_i8(batch 1024, in 576, out 64)",
    ) {
        let is_ref = same_fn::<FcI8>(best::int8::fully_connected_i8, reference::int8::fully_connected_i8);
        let out_ref = doppler(
            b,
            c,
            n * m,
            is_ref,
            |o| reference::int8::fully_connected_i8(bb(n), bb(k), bb(m), &bb(q), bb(&x), bb(&w), bb(&bias), o),
            |o| best::int8::fully_connected_i8(bb(n), bb(k), bb(m), &bb(q), bb(&x), bb(&w), bb(&bias), o),
        );
        if !b.skip_tract {
            let t = Tract::pick(DatumType::I32, m, k, n);
            let folded = fold_zero_point(&bias, &w, k, INPUT_ZP);
            let rq = TractRequant::new(&folded, qs.scale, OUTPUT_ZP, q.act_min, q.act_max);
            let a = t.pack_a(&tensor_i8(&[m, k], &w));
            let bt = tensor_i8(&[n, k], &x);
            let mut out = Tensor::zero::<i8>(&[n, m]).unwrap();
            let pb = t.pack_b(&bt);
            println!("warm-up: case {c} | tract-linalg | mmm");
            tract_run_i8(&t, m, n, &*a, &*pb, Some(&rq), &mut out);
            let name = t.name();
            let pb = b.run(c, "tract-linalg", "pack B", "", || t.pack_b(black_box(&bt)));
            b.run(c, "tract-linalg", "mmm", &name, || tract_run_i8(&t, m, n, &*a, black_box(&*pb), Some(&rq), &mut out));
            if let Some(r) = &out_ref {
                compare("tract-linalg vs doppler reference", c, tensor_slice::<i8>(&out), r);
            }
        }
    }
}

fn same_conv(hw: usize, in_c: usize, out_c: usize) -> Window2d {
    Window2d {
        batch: 1,
        in_h: hw,
        in_w: hw,
        in_c,
        out_h: hw,
        out_w: hw,
        out_c,
        k_h: 3,
        k_w: 3,
        stride_h: 1,
        stride_w: 1,
        dil_h: 1,
        dil_w: 1,
        pad_top: 1,
        pad_left: 1,
    }
}

/// Nominal MACs of a conv: every output element × the full window (padding taps included).
fn conv_macs(g: &Window2d) -> u64 {
    (g.batch * g.out_h * g.out_w * g.out_c * g.k_h * g.k_w * g.in_c) as u64
}

fn case_conv_i8(b: &mut Bench, seed: u64, hw: usize, in_c: usize, out_c: usize) {
    let g = same_conv(hw, in_c, out_c);
    let k = 9 * in_c;
    let npix = hw * hw;
    let name = format!("conv3x3_i8_{hw}x{hw}x{in_c}_{out_c}");
    let desc = format!(
        "int8 conv 3x3 stride 1 SAME, {hw}x{hw}x{in_c} -> {out_c} + bias, requantized to int8 (as a GEMM: M={out_c} K={k} N={npix})"
    );
    let Some(c) = b.case(&name, conv_macs(&g), &desc) else { return };
    let rng = &mut Rng::new(seed);
    let x = rng.acts_i8(g.in_len());
    let w = rng.weights_i8(out_c * k);
    let bias: Vec<i32> = (0..out_c).map(|_| rng.range_i32(-20000, 20000)).collect();
    let qs = quant_set(out_c, k);
    let q = conv_quant(&qs);
    let is_ref = same_fn::<ConvI8>(best::int8::conv2d_i8, reference::int8::conv2d_i8);
    let out_ref = doppler(
        b,
        c,
        g.out_len(),
        is_ref,
        |o| reference::int8::conv2d_i8(&bb(g), &bb(q), bb(&x), bb(&w), bb(&bias), o),
        |o| best::int8::conv2d_i8(&bb(g), &bb(q), bb(&x), bb(&w), bb(&bias), o),
    );

    if !b.skip_tract {
        // tract-linalg has no convolution: im2col (here, a copy per tap), pack, GEMM.
        let t = Tract::pick(DatumType::I32, out_c, k, npix);
        let folded = fold_zero_point(&bias, &w, k, INPUT_ZP);
        let rq = TractRequant::new(&folded, qs.scale, OUTPUT_ZP, q.act_min, q.act_max);
        let a = t.pack_a(&tensor_i8(&[out_c, k], &w));
        let mut cols = Tensor::zero::<i8>(&[npix, k]).unwrap();
        let mut out = Tensor::zero::<i8>(&[npix, out_c]).unwrap();
        im2col_i8(&g, &x, INPUT_ZP as i8, tensor_slice_mut::<i8>(&mut cols));
        let pb = t.pack_b(&cols);
        println!("warm-up: case {c} | tract-linalg | mmm");
        tract_run_i8(&t, out_c, npix, &*a, &*pb, Some(&rq), &mut out);
        drop(pb);
        let tname = t.name();
        b.run(c, "tract-linalg", "im2col", "", || {
            im2col_i8(&g, black_box(&x), INPUT_ZP as i8, tensor_slice_mut::<i8>(&mut cols))
        });
        let pb = b.run(c, "tract-linalg", "pack B", "", || t.pack_b(black_box(&cols)));
        b.run(c, "tract-linalg", "mmm", &tname, || {
            tract_run_i8(&t, out_c, npix, &*a, black_box(&*pb), Some(&rq), &mut out)
        });
        if let Some(r) = &out_ref {
            compare("tract-linalg vs doppler reference", c, tensor_slice::<i8>(&out), r);
        }
    }
}

fn case_dw_i8(b: &mut Bench, seed: u64, hw: usize, ch: usize) {
    let g = same_conv(hw, ch, ch);
    let name = format!("dw3x3_i8_{hw}x{hw}x{ch}");
    let desc = format!(
        "int8 depthwise 3x3 stride 1 SAME, {hw}x{hw}x{ch}, multiplier 1, + bias, requantized (tract-linalg has no depthwise kernel)"
    );
    // Depthwise: 9 MACs per output element.
    let Some(c) = b.case(&name, conv_macs(&g) / ch as u64, &desc) else { return };
    let rng = &mut Rng::new(seed);
    let x = rng.acts_i8(g.in_len());
    let w = rng.weights_i8(9 * ch);
    let bias: Vec<i32> = (0..ch).map(|_| rng.range_i32(-2000, 2000)).collect();
    let qs = quant_set(ch, 9);
    let q = conv_quant(&qs);
    let is_ref = same_fn::<DwI8>(best::int8::depthwise_conv2d_i8, reference::int8::depthwise_conv2d_i8);
    doppler(
        b,
        c,
        g.out_len(),
        is_ref,
        |o| reference::int8::depthwise_conv2d_i8(&bb(g), bb(1), &bb(q), bb(&x), bb(&w), bb(&bias), o),
        |o| best::int8::depthwise_conv2d_i8(&bb(g), bb(1), &bb(q), bb(&x), bb(&w), bb(&bias), o),
    );
}

/// Binary conv 3×3 SAME with LCE one-padding; `bits` selects the bitpacked output, else int8.
fn case_bconv(b: &mut Bench, seed: u64, hw: usize, in_c: usize, out_c: usize, bits: bool) {
    let g = same_conv(hw, in_c, out_c);
    let out_kind = if bits { "bits" } else { "i8" };
    let name = format!("bconv3x3_{out_kind}_{hw}x{hw}x{in_c}_{out_c}");
    let desc = format!(
        "binary conv 3x3 stride 1, one-padding, {hw}x{hw}x{in_c} -> {out_c}, {} output; binary MACs (tract-linalg has no binary kernel)",
        if bits { "bitpacked (thresholds)" } else { "int8 (LCE float epilogue)" }
    );
    let Some(c) = b.case(&name, conv_macs(&g), &desc) else { return };
    let rng = &mut Rng::new(seed);
    let wpp = words(in_c);
    let x = rng.words(g.in_h * g.in_w * wpp);
    let mut w = rng.words(out_c * 9 * wpp);
    let k_full = reference::binary::full_depth(&g);
    // LCE-style parameters: γ of either sign, β small; an output scale that spreads y over int8.
    let gamma: Vec<f32> = (0..out_c)
        .map(|_| 0.5 * rng.unit_f32() + if rng.next_u64() & 1 == 0 { 0.75 } else { -0.75 })
        .collect();
    let beta: Vec<f32> = (0..out_c).map(|_| 5.0 * rng.unit_f32()).collect();
    let out_scale = (3.0 * (k_full as f32).sqrt()) / 127.0;
    let mut mult = vec![0f32; out_c];
    let mut ebias = vec![0f32; out_c];
    reference::binary::lce_output_transform(k_full, &gamma, &beta, out_scale, -2, &mut mult, &mut ebias);
    let e = BConvEpilogue { clamp_min: i32::MIN, clamp_max: i32::MAX, multiplier: &mult, bias: &ebias };
    if bits {
        // The converter's offline step: thresholds from the epilogue, negative-γ channels negated.
        let mut thresholds = vec![0i32; out_c];
        let mut negate = vec![false; out_c];
        reference::binary::bits_thresholds(k_full, &e, &mut thresholds, &mut negate);
        reference::binary::negate_filter_channels(out_c, 3, 3, in_c, &negate, &mut w);
        let is_ref = same_fn::<BconvBits>(best::binary::bconv2d_bits, reference::binary::bconv2d_bits);
        doppler(
            b,
            c,
            hw * hw * words(out_c),
            is_ref,
            |o| {
                reference::binary::bconv2d_bits(&bb(g), bb(PadValue::One), bb(&thresholds), bb(&x), bb(&w), o)
            },
            |o| best::binary::bconv2d_bits(&bb(g), bb(PadValue::One), bb(&thresholds), bb(&x), bb(&w), o),
        );
    } else {
        let is_ref = same_fn::<BconvI8>(best::binary::bconv2d_i8, reference::binary::bconv2d_i8);
        doppler(
            b,
            c,
            g.out_len(),
            is_ref,
            |o| reference::binary::bconv2d_i8(&bb(g), bb(PadValue::One), &bb(e), bb(&x), bb(&w), o),
            |o| best::binary::bconv2d_i8(&bb(g), bb(PadValue::One), &bb(e), bb(&x), bb(&w), o),
        );
    }
}

fn case_gemm_f32(b: &mut Bench, seed: u64) {
    let (m, k, n) = (64usize, 576usize, 1024usize);
    let Some(c) = b.case(
        "gemm_f32",
        (m * k * n) as u64,
        "f32 GEMM M=64 K=576 N=1024 + bias; Doppler: fully_connected_f32(batch 1024, in 576, out 64)",
    ) else {
        return;
    };
    let rng = &mut Rng::new(seed);
    let x = rng.vec_f32(n * k);
    let w = rng.vec_f32(m * k);
    let bias = rng.vec_f32(m);
    let (lo, hi) = (f32::NEG_INFINITY, f32::INFINITY);
    let is_ref = same_fn::<FcF32>(best::f32::fully_connected_f32, reference::f32::fully_connected_f32);
    let out_ref = doppler(
        b,
        c,
        n * m,
        is_ref,
        |o| {
            reference::f32::fully_connected_f32(
                bb(n),
                bb(k),
                bb(m),
                bb(lo),
                bb(hi),
                bb(&x),
                bb(&w),
                bb(&bias),
                o,
            )
        },
        |o| best::f32::fully_connected_f32(bb(n), bb(k), bb(m), bb(lo), bb(hi), bb(&x), bb(&w), bb(&bias), o),
    );
    if !b.skip_tract {
        let t = Tract::pick(DatumType::F32, m, k, n);
        let a = t.pack_a(&Tensor::from_shape::<f32>(&[m, k], &w).unwrap());
        let bt = Tensor::from_shape::<f32>(&[n, k], &x).unwrap();
        let bias_t = Tensor::from_shape::<f32>(&[m], &bias).unwrap();
        let mut out = Tensor::zero::<f32>(&[n, m]).unwrap();
        let go = |pb: &dyn MMMInputValue, out: &mut Tensor| unsafe {
            let store = t.mmm.c_view(Some(1), Some(0)).wrap(&out.view_mut());
            t.mmm
                .run(
                    m,
                    n,
                    &[
                        FusedSpec::AddMatMul {
                            a: AsInputValue::Borrowed(&*a),
                            b: AsInputValue::Borrowed(pb),
                            packing: t.packing,
                        },
                        FusedSpec::BinPerRow(bias_t.view(), BinOp::Add),
                        FusedSpec::Store(store),
                    ],
                )
                .unwrap()
        };
        let pb = t.pack_b(&bt);
        println!("warm-up: case {c} | tract-linalg | mmm");
        go(&*pb, &mut out);
        let tname = t.name();
        let pb = b.run(c, "tract-linalg", "pack B", "", || t.pack_b(black_box(&bt)));
        b.run(c, "tract-linalg", "mmm", &tname, || go(black_box(&*pb), &mut out));
        if let Some(r) = &out_ref {
            compare("tract-linalg vs doppler reference", c, tensor_slice::<f32>(&out), r);
        }
    }
}

fn main() {
    let mut b =
        Bench { cases: 0, runs: 0, only: vec![], skip_reference: false, skip_tract: false, list: false };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--no-reference" => b.skip_reference = true,
            "--no-tract" => b.skip_tract = true,
            "--list" => b.list = true,
            "--only" => b.only.push(args.next().expect("--only NAME")),
            "-h" | "--help" => {
                println!(
                    "doppler-bench [--list] [--only SUBSTRING]... [--no-reference] [--no-tract]\n\
                     Run under qemu-tests/bench/run.sh (or count.sh); see docs/BENCHMARKS.md."
                );
                return;
            }
            _ => panic!("unknown argument {a} (try --help)"),
        }
    }
    let arch = if cfg!(target_arch = "arm") {
        "armv7"
    } else if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else {
        std::env::consts::ARCH
    };
    // What tract's CPU detection reads (run.sh gives the guest a Cortex-A9 / A53 /proc/cpuinfo).
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map_or("?", |(_, v)| v.trim())
            .to_string()
    };
    println!(
        "bench: arch {arch} | doppler-kernels force-reference {} | tract-linalg 0.23.9 | TRACT_CPU_ARM32_NEON={} | guest /proc/cpuinfo: CPU part {}, Features {}",
        cfg!(feature = "force-reference"),
        std::env::var("TRACT_CPU_ARM32_NEON").unwrap_or_default(),
        field("CPU part"),
        field("Features"),
    );
    // One fixed seed per case: a case's data does not depend on which other cases run.
    case_gemm_i8(&mut b, 1);
    case_conv_i8(&mut b, 2, 14, 256, 256);
    case_conv_i8(&mut b, 3, 56, 64, 64);
    case_dw_i8(&mut b, 4, 112, 32);
    case_bconv(&mut b, 5, 14, 256, 256, false);
    case_bconv(&mut b, 6, 14, 256, 256, true);
    case_bconv(&mut b, 7, 56, 64, 64, false);
    case_bconv(&mut b, 8, 56, 64, 64, true);
    case_gemm_f32(&mut b, 9);
    println!(
        "info: bench heap (bump allocator, never freed): {} MiB of {} MiB",
        heap_used() >> 20,
        ARENA_BYTES >> 20
    );
    println!("done: {} cases, {} windows", b.cases, b.runs);
}
