//! Soak test: many inferences with pseudo-random inputs over the compression study's models
//! (`examples/study/{int8,xnor,bireal,float}.dpl`, Fashion-MNIST 28×28×1 classifiers), looking
//! for memory corruption and drift.
//!
//! * All four interpreters stay bound for the whole run, each on its own slice of one static pool;
//!   every inference picks a model at random and fills its inputs from a PRNG (int8: any byte;
//!   float: mostly values in [-0.5, 1.5), and one input in 16 gets raw random bit patterns, NaN and
//!   Inf included — the threat model accepts any input bits).
//! * Canary words sit right before and right after each arena slice and around each
//!   `Interpreter` value; all of them are checked (volatile reads) after every inference.
//! * Every `REF_EVERY` inferences one model re-runs its fixed reference input (a seeded PRNG
//!   stream); its outputs must equal that model's first reference result bit for bit (no drift,
//!   identical outputs for identical inputs). No expected values are hard-coded: the study blobs
//!   may be regenerated.
//! * At the end every blob is parsed again (CRC-32 and all validation rules): the blobs in RAM
//!   were not overwritten.
//!
//! The inference count is the first semihosting argument
//! (`-semihosting-config enable=on,target=native,arg=soak,arg=100000`; default 2000), the optional
//! second one the seed of the random stream (default 3501923925 = 0xD0BB1E55). Prints
//! progress, a summary, `test soak::… ... ok|FAILED` lines and `N passed, N failed`; exits 0 only
//! when everything passed.
#![no_std]
#![no_main]

use core::ptr::{addr_of_mut, read_volatile, write_volatile};

use doppler_cortex_a9::{self as rt, println};
use doppler_engine::{required_arena_bytes, DType, Interpreter, Model};

rt::entry!(main);

#[repr(C, align(16))]
struct Aligned<T: ?Sized>(T);

static INT8: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../examples/study/int8.dpl"));
static XNOR: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../examples/study/xnor.dpl"));
static BIREAL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../examples/study/bireal.dpl"));
static FLOAT: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../examples/study/float.dpl"));

const NAMES: [&str; 4] = ["int8", "xnor", "bireal", "float"];
/// Canary bytes before and after each arena slice.
const GUARD: usize = 64;
/// Canary words before and after each interpreter.
const WORDS: usize = 8;
/// One reference re-run every this many inferences.
const REF_EVERY: u64 = 50;
/// Bytes kept of the reference outputs (the study models output 10 scores).
const REF_BYTES: usize = 256;
const POOL_BYTES: usize = 2 << 20;

static mut POOL: Aligned<[u8; POOL_BYTES]> = Aligned([0; POOL_BYTES]);

/// SplitMix64: a tiny, well-mixed PRNG for inputs and model choice.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn canary_byte(model: usize, k: usize) -> u8 {
    0xA5 ^ (k as u8).wrapping_mul(31) ^ (model as u8) << 6
}

fn canary_word(model: usize, k: usize) -> u32 {
    0xC0DE_CA00 ^ ((model as u32) << 4) ^ k as u32
}

/// An interpreter with canary words on both sides.
#[repr(C)]
struct Guarded<T> {
    pre: [u32; WORDS],
    inner: T,
    post: [u32; WORDS],
}

impl<T> Guarded<T> {
    fn new(model: usize, inner: T) -> Self {
        Self {
            pre: core::array::from_fn(|k| canary_word(model, k)),
            inner,
            post: core::array::from_fn(|k| canary_word(model, k + WORDS)),
        }
    }

    /// Number of canary words that changed.
    fn damaged(&self, model: usize) -> usize {
        (0..WORDS)
            .filter(|&k| {
                // SAFETY: plain reads of initialized fields of `self`; volatile so the compiler
                // cannot assume they still hold the values written in `new`.
                let (a, b) = unsafe { (read_volatile(&self.pre[k]), read_volatile(&self.post[k])) };
                a != canary_word(model, k) || b != canary_word(model, k + WORDS)
            })
            .count()
    }
}

/// The canary bytes around one arena slice, reached through raw pointers so that the checks are
/// real memory reads while the interpreter holds the arena.
struct ArenaGuard {
    before: *mut u8,
    after: *mut u8,
}

impl ArenaGuard {
    fn fill(&self, model: usize) {
        for k in 0..GUARD {
            // SAFETY: `before` and `after` point at GUARD bytes of POOL that no slice covers.
            unsafe {
                write_volatile(self.before.add(k), canary_byte(model, k));
                write_volatile(self.after.add(k), canary_byte(model, k + GUARD));
            }
        }
    }

    fn damaged(&self, model: usize) -> usize {
        (0..GUARD)
            .filter(|&k| {
                // SAFETY: as in `fill`.
                let (a, b) = unsafe { (read_volatile(self.before.add(k)), read_volatile(self.after.add(k))) };
                a != canary_byte(model, k) || b != canary_byte(model, k + GUARD)
            })
            .count()
    }
}

struct Slot<'b, 'a> {
    it: Guarded<Interpreter<'b, 'a>>,
    guard: ArenaGuard,
    reference: [u8; REF_BYTES],
    reference_len: usize,
    runs: u64,
    reference_runs: u64,
}

/// Fills every input: the reference stream (`seeded`) or random values.
fn fill_inputs(it: &mut Interpreter, rng: &mut Rng, raw_floats: bool) -> Result<(), doppler_engine::Error> {
    for i in 0..it.input_count() {
        let dtype = it.input_info(i)?.dtype;
        let bytes = it.input_bytes_mut(i)?;
        match dtype {
            DType::F32 => {
                for chunk in bytes.chunks_exact_mut(4) {
                    let r = rng.next();
                    let v = if raw_floats {
                        r as u32
                    } else {
                        // [-0.5, 1.5): around Fashion-MNIST's normalized [0, 1].
                        ((r >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 0.5).to_bits()
                    };
                    chunk.copy_from_slice(&v.to_le_bytes());
                }
            }
            _ => {
                for chunk in bytes.chunks_mut(8) {
                    let r = rng.next().to_le_bytes();
                    chunk.copy_from_slice(&r[..chunk.len()]);
                }
            }
        }
    }
    Ok(())
}

/// Copies all outputs into `out`; returns the length, or None if they do not fit.
fn outputs(it: &Interpreter, out: &mut [u8; REF_BYTES]) -> Option<usize> {
    let mut n = 0;
    for o in 0..it.output_count() {
        let b = it.output_bytes(o).ok()?;
        out.get_mut(n..n + b.len())?.copy_from_slice(b);
        n += b.len();
    }
    Some(n)
}

fn main() -> i32 {
    let args = semihosting::experimental::env::args::<128>();
    let arg = |k: usize| -> Option<u64> {
        args.as_ref()
            .ok()
            .and_then(|a| a.into_iter().nth(k))
            .and_then(Result::ok)
            .and_then(|s| s.parse().ok())
    };
    let total = arg(1).unwrap_or(2000);
    let seed = arg(2).unwrap_or(0xD0BB_1E55);
    let blobs: [&'static [u8]; 4] = [&INT8.0, &XNOR.0, &BIREAL.0, &FLOAT.0];

    // SAFETY: `main` runs once, single-threaded, with interrupts masked: the only reference to POOL.
    let pool: &'static mut [u8] = unsafe { &mut (*addr_of_mut!(POOL)).0 };
    let base = pool.as_mut_ptr();
    let mut rest = pool;
    let mut offset = 0usize;
    let mut slots: [Option<Slot>; 4] = [None, None, None, None];
    for (m, blob) in blobs.iter().enumerate() {
        let need = match required_arena_bytes(blob) {
            Ok(n) => n.next_multiple_of(16),
            Err(e) => {
                println!("soak: {} does not load: {e}", NAMES[m]);
                return 1;
            }
        };
        if rest.len() < 2 * GUARD + need {
            println!("soak: pool of {POOL_BYTES} bytes too small");
            return 1;
        }
        // [GUARD canary bytes][arena: need bytes][GUARD canary bytes], repeated per model.
        let (_, r) = core::mem::take(&mut rest).split_at_mut(GUARD);
        let (arena, r) = r.split_at_mut(need);
        let (_, r) = r.split_at_mut(GUARD);
        rest = r;
        // SAFETY: both guard ranges lie inside POOL, outside every arena slice handed out.
        let guard =
            unsafe { ArenaGuard { before: base.add(offset), after: base.add(offset + GUARD + need) } };
        offset += 2 * GUARD + need;
        guard.fill(m);
        match Interpreter::new(blob, arena) {
            Ok(it) => {
                println!("soak: {} loaded, arena {need} bytes", NAMES[m]);
                slots[m] = Some(Slot {
                    it: Guarded::new(m, it),
                    guard,
                    reference: [0; REF_BYTES],
                    reference_len: 0,
                    runs: 0,
                    reference_runs: 0,
                });
            }
            Err(e) => {
                println!("soak: {}: Interpreter::new failed: {e}", NAMES[m]);
                return 1;
            }
        }
    }

    // First reference result of each model.
    for (m, slot) in slots.iter_mut().enumerate() {
        let Some(s) = slot else { return 1 };
        let mut rng = Rng(0x5EED_0000 + m as u64);
        if fill_inputs(&mut s.it.inner, &mut rng, false).and_then(|()| s.it.inner.invoke()).is_err() {
            println!("soak: {}: first reference run failed", NAMES[m]);
            return 1;
        }
        match outputs(&s.it.inner, &mut s.reference) {
            Some(n) => s.reference_len = n,
            None => {
                println!("soak: {}: outputs larger than {REF_BYTES} bytes", NAMES[m]);
                return 1;
            }
        }
    }
    println!("soak: {total} inferences, seed {seed}, a reference re-run every {REF_EVERY}");

    let mut rng = Rng(seed);
    let (mut errors, mut drift, mut canary_hits) = (0u64, 0u64, 0u64);
    let progress_every = (total / 10).clamp(1, 2000);
    let mut out = [0u8; REF_BYTES];
    for n in 1..=total {
        let reference = n % REF_EVERY == 0;
        let m = if reference { ((n / REF_EVERY) % 4) as usize } else { (rng.next() % 4) as usize };
        let Some(s) = slots[m].as_mut() else { return 1 };
        let result = if reference {
            let mut fixed = Rng(0x5EED_0000 + m as u64);
            fill_inputs(&mut s.it.inner, &mut fixed, false)
        } else {
            let raw = rng.next() % 16 == 0;
            fill_inputs(&mut s.it.inner, &mut rng, raw)
        }
        .and_then(|()| s.it.inner.invoke());
        s.runs += 1;
        if let Err(e) = result {
            errors += 1;
            if errors <= 5 {
                println!("soak: inference {n} ({}): {e}", NAMES[m]);
            }
        }
        if reference {
            s.reference_runs += 1;
            let same = outputs(&s.it.inner, &mut out) == Some(s.reference_len)
                && out[..s.reference_len] == s.reference[..s.reference_len];
            if !same {
                drift += 1;
                if drift <= 5 {
                    println!("soak: inference {n} ({}): reference output differs from the first", NAMES[m]);
                }
            }
        }
        // Every canary of every model, after every inference.
        for (k, slot) in slots.iter().enumerate() {
            let Some(s) = slot else { return 1 };
            let hit = s.guard.damaged(k) + s.it.damaged(k);
            if hit != 0 {
                canary_hits += 1;
                if canary_hits <= 5 {
                    println!(
                        "soak: after inference {n} ({}): {hit} canary bytes/words of {} changed",
                        NAMES[m], NAMES[k]
                    );
                }
            }
        }
        if n % progress_every == 0 {
            println!(
                "soak: {n}/{total} inferences, {errors} errors, {drift} drifts, {canary_hits} canary hits"
            );
        }
    }

    let blobs_ok = blobs.iter().all(|b| Model::parse(b).is_ok());
    println!("soak summary: {total} inferences (+4 initial reference runs)");
    for (m, slot) in slots.iter().enumerate() {
        if let Some(s) = slot {
            println!("    {:<7} {} inferences, {} reference re-runs", NAMES[m], s.runs, s.reference_runs);
        }
    }
    println!(
        "    errors {errors}, reference drifts {drift}, canary hits {canary_hits}, blobs re-validated: {}",
        if blobs_ok { "ok" } else { "CHANGED" }
    );
    let checks = [
        ("soak::no_invoke_errors", errors == 0),
        ("soak::no_reference_drift", drift == 0),
        ("soak::canaries_intact", canary_hits == 0),
        ("soak::blobs_unchanged", blobs_ok),
    ];
    let mut failed = 0;
    for (name, ok) in checks {
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    println!("{} passed, {failed} failed", checks.len() - failed);
    i32::from(failed != 0)
}
