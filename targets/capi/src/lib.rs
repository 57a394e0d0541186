//! The C ABI of Doppler: `libdoppler.a` and `include/doppler.h` (generated from this file by
//! cbindgen; `cargo test -p doppler-capi` fails while the committed header is stale, and
//! `DOPPLER_BLESS=1 cargo test -p doppler-capi header` rewrites it).
//!
//! No allocation: the caller provides every byte — the blob, the arena, and the memory the
//! engine handle lives in (`dp_engine_size()` bytes, written by `dp_init`). `unsafe` appears only
//! here, at the C boundary, where C pointers become Rust slices and references; the engine itself
//! (`doppler_engine`) is `#![forbid(unsafe_code)]`.
//!
//! This crate also owns the only `#[panic_handler]` of the C library: a panic (none is reachable
//! after validation, by design) executes a trap instruction — it never unwinds into C.
//!
//! `no_std` follows the panic strategy. The library as shipped is built with `panic = "abort"`
//! (the workspace's release profile; the default of bare-metal targets): it is then `no_std`
//! with the handler below, and links nothing but `core`. A `panic = "unwind"` build — cargo's dev
//! and test profiles on a hosted target, e.g. `cargo build --workspace` — cannot be `no_std` on
//! stable Rust (core's unwinding needs std's personality routine), so it links `std` and uses
//! std's handler; even there, a panic reaching an `extern "C"` function aborts the process.
#![cfg_attr(panic = "abort", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

mod status;
#[cfg(test)]
mod tests;

pub use status::*;

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of};
use core::ptr;

use doppler_engine::format::layout::{CRC32, CRC_START};
use doppler_engine::{DType, Error, Interpreter, TensorInfo};

/// Alignment, in bytes, the blob must have in memory (constants are read in place, by NEON).
pub const DP_BLOB_ALIGN: usize = 16;
/// Alignment, in bytes, of the arena.
pub const DP_ARENA_ALIGN: usize = 16;
/// Alignment, in bytes, of the engine memory given to `dp_init`.
pub const DP_ENGINE_ALIGN: usize = 16;
/// An upper bound of `dp_engine_size()` on every target of this release, for static
/// allocation (`dp_engine_storage`). `dp_init` still checks the real size.
pub const DP_ENGINE_MAX_SIZE: usize = 256;
/// Largest tensor rank.
pub const DP_MAX_RANK: usize = 4;

/// Element type of a tensor. The values are stable (they are the blob's own dtype codes).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dp_dtype {
    /// int8, quantized: real = scale * (q - zero_point).
    DP_DTYPE_INT8 = 1,
    /// int32 (never a graph input or output of the example models, but allowed).
    DP_DTYPE_INT32 = 2,
    /// IEEE-754 binary32.
    DP_DTYPE_FLOAT32 = 3,
    /// Binary +-1 values bit-packed along the last dimension into little-endian 32-bit words
    /// (bit set = -1); `dims` are the logical ones, `bytes` the packed storage.
    DP_DTYPE_BITPACKED = 4,
}

/// Describes a graph input or output.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct dp_tensor_desc {
    /// A `dp_dtype` value.
    pub dtype: dp_dtype,
    /// Number of dimensions, 1 to `DP_MAX_RANK`.
    pub rank: u32,
    /// Logical dimensions (NHWC for images); entries at and beyond `rank` are 1.
    pub dims: [u32; DP_MAX_RANK],
    /// Size of the tensor's data in bytes (what `dp_input_data` / `dp_output_data` point to).
    pub bytes: usize,
    /// Quantization of int8 tensors: real = scale * (q - zero_point). 0 and 0 otherwise.
    pub scale: f32,
    pub zero_point: i32,
}

/// An engine: a validated blob bound to an arena. Opaque; it lives in memory the caller gives to
/// `dp_init` (`dp_engine_size()` bytes, `DP_ENGINE_ALIGN`-aligned).
pub struct dp_engine {
    _private: [u8; 0],
}

/// Statically allocatable memory for one engine, e.g.
/// `static dp_engine_storage engine_mem;` then
/// `dp_init(&engine_mem, sizeof engine_mem, ...)`.
#[repr(C, align(16))]
pub struct dp_engine_storage {
    pub opaque: [u8; DP_ENGINE_MAX_SIZE],
}

/// What `dp_engine` really is. `magic` (at offset 0) tells an initialized engine from other
/// memory; `dp_init` writes it last, and zeroes it first.
#[repr(C)]
struct Engine {
    magic: u32,
    interp: Interpreter<'static, 'static>,
    /// Where the arena is (address, length), to refuse copies from or into it.
    arena: (usize, usize),
    /// Where the blob is (address, length), for `dp_verify`.
    blob: (usize, usize),
    /// The blob's first `CRC_START` bytes at `dp_init` (magic, version, length, CRC-32): with a
    /// CRC-32 over the rest that matches the recorded one, `dp_verify` sees the blob unchanged.
    head: [u8; CRC_START],
}

const ENGINE_MAGIC: u32 = u32::from_le_bytes(*b"DPEN");

const _: () = {
    assert!(size_of::<Engine>() <= DP_ENGINE_MAX_SIZE);
    assert!(align_of::<Engine>() <= DP_ENGINE_ALIGN);
    assert!(size_of::<dp_engine_storage>() == DP_ENGINE_MAX_SIZE);
    assert!(align_of::<dp_engine_storage>() == DP_ENGINE_ALIGN);
    assert!(DP_BLOB_ALIGN == doppler_engine::format::ALIGN);
    assert!(DP_ARENA_ALIGN == doppler_engine::ARENA_ALIGN);
    assert!(DP_MAX_RANK == doppler_engine::format::layout::MAX_RANK);
    assert!(size_of::<dp_dtype>() == 4);
};

// ---------------------------------------------------------------------------------------------
// Panics never unwind into C
// ---------------------------------------------------------------------------------------------

/// The C library's panic handler. Validation makes every engine path panic-free; should a bug
/// still panic, the process (or the core, on bare metal) stops at an undefined instruction:
/// SIGILL under an OS, an undefined-instruction exception on bare metal. Unwinding builds (see
/// the crate docs) use std's.
#[cfg(panic = "abort")]
#[panic_handler]
fn on_panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    trap()
}

#[cfg(panic = "abort")]
fn trap() -> ! {
    loop {
        #[cfg(any(target_arch = "arm", target_arch = "aarch64"))]
        // SAFETY: `udf` only raises an undefined-instruction exception; it reads and writes
        // no memory and no registers.
        unsafe {
            core::arch::asm!("udf #0", options(nomem, nostack))
        };
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ud2` only raises an invalid-opcode exception; no memory, no registers.
        unsafe {
            core::arch::asm!("ud2", options(nomem, nostack))
        };
    }
}

/// The unwind tables of the precompiled `core` (built with `panic = "unwind"` for hosted
/// targets) name Rust's personality routine, which only std defines. Nothing unwinds in this
/// library, so a stub that is never called resolves the reference; build-lib.sh makes it local.
#[cfg(all(panic = "abort", not(target_os = "none")))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

// ---------------------------------------------------------------------------------------------
// Helpers (safe)
// ---------------------------------------------------------------------------------------------

fn c_str(s: &'static str) -> *const c_char {
    debug_assert!(s.ends_with('\0'));
    s.as_ptr().cast()
}

/// `len` bytes from `p` stay inside the address space and within `isize::MAX` (what
/// `core::slice::from_raw_parts` requires).
fn length_ok(p: *const c_void, len: usize) -> bool {
    len <= isize::MAX as usize && (p as usize).checked_add(len).is_some()
}

/// Two byte ranges share at least one byte.
fn overlap(a: *const c_void, a_len: usize, b: *const c_void, b_len: usize) -> bool {
    let (a, b) = (a as usize, b as usize);
    a_len != 0 && b_len != 0 && a < b + b_len && b < a + a_len
}

fn code(e: Error) -> i32 {
    e.code()
}

fn dtype(d: DType) -> dp_dtype {
    match d {
        DType::I8 => dp_dtype::DP_DTYPE_INT8,
        DType::I32 => dp_dtype::DP_DTYPE_INT32,
        DType::F32 => dp_dtype::DP_DTYPE_FLOAT32,
        DType::B1 => dp_dtype::DP_DTYPE_BITPACKED,
    }
}

fn desc(t: &TensorInfo) -> dp_tensor_desc {
    let quantized = t.dtype == DType::I8;
    dp_tensor_desc {
        dtype: dtype(t.dtype),
        rank: t.rank as u32,
        // Dims come from u32 fields of the blob: the cast is lossless.
        dims: t.dims.map(|d| d as u32),
        bytes: t.bytes,
        scale: if quantized { t.scale } else { 0.0 },
        zero_point: if quantized { t.zero_point } else { 0 },
    }
}

/// Which side of the graph an index refers to.
#[derive(Clone, Copy)]
enum Side {
    Input,
    Output,
}

fn info(engine: &Engine, side: Side, i: usize) -> Result<TensorInfo, i32> {
    match side {
        Side::Input => engine.interp.input_info(i),
        Side::Output => engine.interp.output_info(i),
    }
    .map_err(code)
}

/// `len` bytes at `p` share a byte with the engine's arena.
fn in_arena(engine: &Engine, p: *const c_void, len: usize) -> bool {
    overlap(p, len, engine.arena.0 as *const c_void, engine.arena.1)
}

fn status(r: Result<(), i32>) -> i32 {
    match r {
        Ok(()) => DP_OK as i32,
        Err(s) => s,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers at the boundary (unsafe)
// ---------------------------------------------------------------------------------------------

/// The engine behind a handle, or why there is none.
///
/// # Safety
/// `e` is NULL, or points to at least `dp_engine_size()` readable bytes (normally: the handle
/// `dp_init` returned). If those bytes start with the magic, they hold an `Engine` written by
/// `dp_init` whose blob and arena are still valid (the documented lifetime rule), and no other
/// thread uses it meanwhile (the documented threading rule).
unsafe fn engine<'e>(e: *const dp_engine) -> Result<&'e Engine, i32> {
    if e.is_null() {
        return Err(DP_ERR_NULL_POINTER as i32);
    }
    if (e as usize) & (DP_ENGINE_ALIGN - 1) != 0 {
        return Err(DP_ERR_BAD_ENGINE as i32);
    }
    // SAFETY: `e` is non-null, aligned, and points to readable memory at least
    // `dp_engine_size()` ≥ 4 bytes long (contract); any 4 bytes are a valid u32.
    let magic = unsafe { e.cast::<u32>().read() };
    if magic != ENGINE_MAGIC {
        return Err(DP_ERR_BAD_ENGINE as i32);
    }
    // SAFETY: only `dp_init` writes the magic, right after it wrote a complete `Engine` at this
    // address (`repr(C)`: the magic is its first field); the contract keeps the blob and
    // arena it borrows alive and unshared.
    Ok(unsafe { &*e.cast::<Engine>() })
}

/// As [`engine`], mutably.
///
/// # Safety
/// As [`engine`]; besides, no other reference to this engine is live (one thread at a time).
unsafe fn engine_mut<'e>(e: *mut dp_engine) -> Result<&'e mut Engine, i32> {
    // SAFETY: forwarded contract.
    unsafe { engine(e) }?;
    // SAFETY: `engine` checked the handle; the caller's contract makes this the only reference.
    Ok(unsafe { &mut *e.cast::<Engine>() })
}

// ---------------------------------------------------------------------------------------------
// The C ABI
// ---------------------------------------------------------------------------------------------

/// The library version, e.g. "0.1.0" (static, NUL-terminated).
#[no_mangle]
pub extern "C" fn dp_version() -> *const c_char {
    c_str(concat!(env!("CARGO_PKG_VERSION"), "\0"))
}

/// A static, NUL-terminated, one-line message for a status code; "unknown status" for a value
/// that is not a status code. Never NULL.
#[no_mangle]
pub extern "C" fn dp_status_str(status: i32) -> *const c_char {
    c_str(status::message(status))
}

/// Bytes of engine memory `dp_init` needs (at most `DP_ENGINE_MAX_SIZE`).
#[no_mangle]
pub extern "C" fn dp_engine_size() -> usize {
    size_of::<Engine>()
}

/// Validates `blob` completely and writes the arena size it needs (exact, planned offline and
/// stored in the blob) to `*out_bytes`.
///
/// Returns `DP_OK`, `DP_ERR_NULL_POINTER`, `DP_ERR_BAD_LENGTH`, or a blob error (-1xx..-5xx).
///
/// # Safety
/// `blob` is NULL or points to `blob_len` readable bytes that do not change during the call;
/// `out_bytes` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dp_arena_size(blob: *const c_void, blob_len: usize, out_bytes: *mut usize) -> i32 {
    if blob.is_null() || out_bytes.is_null() {
        return DP_ERR_NULL_POINTER as i32;
    }
    if !length_ok(blob, blob_len) {
        return DP_ERR_BAD_LENGTH as i32;
    }
    // SAFETY: `blob` is non-null and, by contract, `blob_len` readable bytes that stay unchanged;
    // `length_ok` checked the slice size limits.
    let bytes = unsafe { core::slice::from_raw_parts(blob.cast::<u8>(), blob_len) };
    match doppler_engine::required_arena_bytes(bytes) {
        Ok(n) => {
            // SAFETY: `out_bytes` is non-null and writable (contract); `usize` needs no init.
            unsafe { out_bytes.write_unaligned(n) };
            DP_OK as i32
        }
        Err(e) => e.code(),
    }
}

/// Validates `blob` and binds it to `arena`, building the engine in `engine_mem`. On success,
/// `*out` is the engine (the same address as `engine_mem`); on failure `*out` is NULL and any
/// engine that lived in `engine_mem` before is invalidated.
///
/// - `engine_mem`: at least `dp_engine_size()` bytes, `DP_ENGINE_ALIGN`-aligned.
/// - `blob`: the whole blob, `DP_BLOB_ALIGN`-aligned (it may be in flash/ROM: it is never written).
/// - `arena`: at least `dp_arena_size()` bytes, `DP_ARENA_ALIGN`-aligned. `dp_init` zeroes all
///   `arena_len` bytes: inputs read as zeros until set.
///
/// The three regions must not overlap. Checks, in order: NULL pointers, engine memory size and
/// alignment, lengths, overlap, then the blob (every rule of the format), then the arena
/// (alignment, size).
///
/// # Safety
/// Each pointer is NULL or valid for its length (`engine_mem` and `arena` writable, `blob`
/// readable); `out` is NULL or writable. On success the lifetime and threading rules of the
/// header apply.
#[no_mangle]
pub unsafe extern "C" fn dp_init(
    engine_mem: *mut c_void,
    engine_mem_len: usize,
    blob: *const c_void,
    blob_len: usize,
    arena: *mut c_void,
    arena_len: usize,
    out: *mut *mut dp_engine,
) -> i32 {
    if out.is_null() {
        return DP_ERR_NULL_POINTER as i32;
    }
    // SAFETY: `out` is non-null and writable (contract).
    unsafe { out.write_unaligned(ptr::null_mut()) };
    if engine_mem.is_null() || blob.is_null() || arena.is_null() {
        return DP_ERR_NULL_POINTER as i32;
    }
    if engine_mem_len < size_of::<Engine>() {
        return DP_ERR_ENGINE_MEM_TOO_SMALL as i32;
    }
    if (engine_mem as usize) & (DP_ENGINE_ALIGN - 1) != 0 {
        return DP_ERR_ENGINE_MEM_MISALIGNED as i32;
    }
    // Invalidate whatever engine lived here before, whatever happens next.
    // SAFETY: `engine_mem` is non-null, aligned, and writable for at least `dp_engine_size()`
    // ≥ 4 bytes (contract and the checks above).
    unsafe { engine_mem.cast::<u32>().write(0) };
    let engine_bytes = size_of::<Engine>();
    if !length_ok(engine_mem, engine_bytes) || !length_ok(blob, blob_len) || !length_ok(arena, arena_len) {
        return DP_ERR_BAD_LENGTH as i32;
    }
    let (arena_c, engine_c) = (arena as *const c_void, engine_mem as *const c_void);
    if overlap(engine_c, engine_bytes, blob, blob_len)
        || overlap(engine_c, engine_bytes, arena_c, arena_len)
        || overlap(blob, blob_len, arena_c, arena_len)
    {
        return DP_ERR_OVERLAP as i32;
    }
    // SAFETY: `arena` is non-null and writable for `arena_len` bytes (contract); zeroing first
    // means the `&mut [u8]` below never covers uninitialized memory.
    unsafe { ptr::write_bytes(arena.cast::<u8>(), 0, arena_len) };
    // SAFETY: `blob` is `blob_len` readable bytes (contract), within the slice limits
    // (`length_ok`), not overlapping the arena or the engine (checked), and — by the lifetime
    // rule — valid and unchanged for as long as the engine is used, which the 'static stands for.
    let blob_bytes: &'static [u8] = unsafe { core::slice::from_raw_parts(blob.cast::<u8>(), blob_len) };
    // SAFETY: `arena` is `arena_len` writable, initialized (zeroed above) bytes, within the slice
    // limits, overlapping nothing else we hold; by the lifetime rule only this engine uses it
    // for as long as the engine is used.
    let arena_bytes: &'static mut [u8] =
        unsafe { core::slice::from_raw_parts_mut(arena.cast::<u8>(), arena_len) };
    let interp = match Interpreter::new(blob_bytes, arena_bytes) {
        Ok(i) => i,
        Err(e) => return e.code(),
    };
    let mut head = [0u8; CRC_START];
    match blob_bytes.get(..CRC_START) {
        Some(h) => head.copy_from_slice(h),
        // Unreachable: a blob that passed validation is longer than its header.
        None => return DP_ERR_INTERNAL as i32,
    }
    let handle = engine_mem.cast::<Engine>();
    // SAFETY: `engine_mem` is writable for `size_of::<Engine>()` bytes and aligned for it
    // (checked: DP_ENGINE_ALIGN ≥ align_of::<Engine>()), and overlaps neither slice.
    unsafe {
        handle.write(Engine {
            magic: ENGINE_MAGIC,
            interp,
            arena: (arena as usize, arena_len),
            blob: (blob as usize, blob_len),
            head,
        })
    };
    // SAFETY: `out` is writable (contract).
    unsafe { out.write_unaligned(handle.cast::<dp_engine>()) };
    DP_OK as i32
}

/// Number of graph inputs (0 if `e` is NULL or not an initialized engine).
///
/// # Safety
/// `e` is NULL or a handle from `dp_init` (see the header's rules).
#[no_mangle]
pub unsafe extern "C" fn dp_input_count(e: *const dp_engine) -> usize {
    // SAFETY: forwarded contract.
    unsafe { engine(e) }.map_or(0, |e| e.interp.input_count())
}

/// Number of graph outputs (0 if `e` is NULL or not an initialized engine).
///
/// # Safety
/// As `dp_input_count`.
#[no_mangle]
pub unsafe extern "C" fn dp_output_count(e: *const dp_engine) -> usize {
    // SAFETY: forwarded contract.
    unsafe { engine(e) }.map_or(0, |e| e.interp.output_count())
}

/// # Safety
/// As `dp_input_desc`.
unsafe fn io_desc(e: *const dp_engine, side: Side, i: usize, out: *mut dp_tensor_desc) -> i32 {
    if out.is_null() {
        return DP_ERR_NULL_POINTER as i32;
    }
    // SAFETY: forwarded contract.
    let r = unsafe { engine(e) }.and_then(|e| info(e, side, i)).map(|t| {
        // SAFETY: `out` is non-null and writable for a `dp_tensor_desc` (contract).
        unsafe { out.write_unaligned(desc(&t)) }
    });
    status(r)
}

/// Describes graph input `i` into `*out`. Returns `DP_OK`, `DP_ERR_NULL_POINTER`,
/// `DP_ERR_BAD_ENGINE` or `DP_ERR_INDEX_OUT_OF_RANGE`.
///
/// # Safety
/// `e` as in `dp_input_count`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dp_input_desc(e: *const dp_engine, i: usize, out: *mut dp_tensor_desc) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { io_desc(e, Side::Input, i, out) }
}

/// Describes graph output `i` into `*out` (as `dp_input_desc`).
///
/// # Safety
/// As `dp_input_desc`.
#[no_mangle]
pub unsafe extern "C" fn dp_output_desc(e: *const dp_engine, i: usize, out: *mut dp_tensor_desc) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { io_desc(e, Side::Output, i, out) }
}

/// Where to write graph input `i` (`desc.bytes` bytes, inside the arena, 16-byte aligned), or
/// NULL if `e` is not an engine or `i` is out of range. The pointer stays the same for the
/// engine's life; write the input before each `dp_invoke`.
///
/// # Safety
/// As `dp_input_count`; the engine is not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn dp_input_data(e: *mut dp_engine, i: usize) -> *mut c_void {
    // SAFETY: forwarded contract.
    match unsafe { engine_mut(e) }.map(|e| e.interp.input_bytes_mut(i)) {
        Ok(Ok(bytes)) => bytes.as_mut_ptr().cast(),
        _ => ptr::null_mut(),
    }
}

/// Where graph output `i` is (`desc.bytes` bytes, inside the arena), or NULL if `e` is not an
/// engine or `i` is out of range. The pointer stays the same for the engine's life; the data is
/// the output of the last successful `dp_invoke` until the inputs are written again: the arena
/// plan may place an output where an input lived, so read the outputs before the next inputs.
///
/// # Safety
/// As `dp_input_count`.
#[no_mangle]
pub unsafe extern "C" fn dp_output_data(e: *const dp_engine, i: usize) -> *const c_void {
    // SAFETY: forwarded contract.
    match unsafe { engine(e) }.map(|e| e.interp.output_bytes(i)) {
        Ok(Ok(bytes)) => bytes.as_ptr().cast(),
        _ => ptr::null(),
    }
}

/// Copies `bytes` bytes from `src` into graph input `i`, after checking that `dtype` (a
/// `dp_dtype` value) and `bytes` match the input's descriptor. Returns `DP_OK`,
/// `DP_ERR_NULL_POINTER`, `DP_ERR_BAD_ENGINE`, `DP_ERR_INDEX_OUT_OF_RANGE`,
/// `DP_ERR_WRONG_DTYPE`, `DP_ERR_WRONG_SIZE`, or `DP_ERR_OVERLAP` if `src` lies in the engine's
/// arena (copy an output out before feeding it back in).
///
/// # Safety
/// `e` as in `dp_input_data`; `src` is NULL or `bytes` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn dp_set_input(
    e: *mut dp_engine,
    i: usize,
    dtype: u32,
    src: *const c_void,
    bytes: usize,
) -> i32 {
    if src.is_null() {
        return DP_ERR_NULL_POINTER as i32;
    }
    // SAFETY: forwarded contract.
    let r = unsafe { engine_mut(e) }.and_then(|e| {
        let t = info(e, Side::Input, i)?;
        if dtype != t.dtype as u32 {
            return Err(DP_ERR_WRONG_DTYPE as i32);
        }
        if bytes != t.bytes {
            return Err(DP_ERR_WRONG_SIZE as i32);
        }
        if in_arena(e, src, bytes) {
            return Err(DP_ERR_OVERLAP as i32);
        }
        let dst = e.interp.input_bytes_mut(i).map_err(code)?;
        // SAFETY: `src` is `bytes` == `dst.len()` readable bytes (contract) outside the arena
        // (checked), so they do not overlap `dst`, writable arena memory of that length.
        unsafe { ptr::copy_nonoverlapping(src.cast::<u8>(), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    });
    status(r)
}

/// Copies graph output `i` into `dst` (`bytes` bytes), after checking `dtype` and `bytes` as
/// `dp_set_input` does. Same status codes (`DP_ERR_OVERLAP` if `dst` lies in the arena).
///
/// # Safety
/// `e` as in `dp_input_count`; `dst` is NULL or `bytes` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn dp_get_output(
    e: *const dp_engine,
    i: usize,
    dtype: u32,
    dst: *mut c_void,
    bytes: usize,
) -> i32 {
    if dst.is_null() {
        return DP_ERR_NULL_POINTER as i32;
    }
    // SAFETY: forwarded contract.
    let r = unsafe { engine(e) }.and_then(|e| {
        let t = info(e, Side::Output, i)?;
        if dtype != t.dtype as u32 {
            return Err(DP_ERR_WRONG_DTYPE as i32);
        }
        if bytes != t.bytes {
            return Err(DP_ERR_WRONG_SIZE as i32);
        }
        if in_arena(e, dst, bytes) {
            return Err(DP_ERR_OVERLAP as i32);
        }
        let src = e.interp.output_bytes(i).map_err(code)?;
        // SAFETY: `dst` is `bytes` == `src.len()` writable bytes (contract) outside the arena
        // (checked), so they do not overlap `src`.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), dst.cast::<u8>(), src.len()) };
        Ok(())
    });
    status(r)
}

/// Runs every op of the model once. Returns `DP_OK`, `DP_ERR_NULL_POINTER`, `DP_ERR_BAD_ENGINE`
/// (or, never in practice, `DP_ERR_INTERNAL`).
///
/// # Safety
/// As `dp_input_data`.
#[no_mangle]
pub unsafe extern "C" fn dp_invoke(e: *mut dp_engine) -> i32 {
    // SAFETY: forwarded contract.
    let r = unsafe { engine_mut(e) }.and_then(|e| e.interp.invoke().map_err(code));
    status(r)
}

/// Checks that the blob the engine was initialized with is still the same bytes: its header's
/// first 12 bytes (magic, version, length, CRC-32) are those `dp_init` saw, and the CRC-32 over
/// the rest of the blob still matches. One pass over the blob (the cost of the CRC check in
/// `dp_init`); no effect on the engine. Returns `DP_OK`, `DP_ERR_NULL_POINTER`,
/// `DP_ERR_BAD_ENGINE`, or `DP_ERR_BLOB_CHANGED`.
///
/// Changing the blob while an engine is bound to it is undefined behaviour by contract (the
/// header's lifetime rule): this is a cheap detector, not a permission. Call it where the blob
/// may have been rewritten (e.g. after a flash update of the model partition, or before
/// `dp_invoke` when the blob lives in writable memory), and on `DP_ERR_BLOB_CHANGED` stop using
/// the engine and `dp_init` it again. It cannot see a change that keeps the CRC-32 (deliberate
/// collisions are easy: it is a checksum, not a signature), nor one made and undone between two
/// calls.
///
/// # Safety
/// As `dp_input_count`; besides, the blob memory is still readable (it may have changed).
#[no_mangle]
pub unsafe extern "C" fn dp_verify(e: *const dp_engine) -> i32 {
    // SAFETY: forwarded contract.
    let r = unsafe { engine(e) }.and_then(|e| {
        let (addr, len) = e.blob;
        let p = addr as *const u8;
        let mut head = [0u8; CRC_START];
        // SAFETY: the blob is `len` ≥ CRC_START readable bytes (checked by `dp_init`, kept
        // readable by the contract). Volatile: the bytes may have been changed behind the
        // engine's shared reference, so the compiler must not reuse earlier reads.
        for (k, h) in head.iter_mut().enumerate() {
            *h = unsafe { ptr::read_volatile(p.add(k)) };
        }
        if head != e.head {
            return Err(DP_ERR_BLOB_CHANGED as i32);
        }
        let mut digest = CRC32.digest();
        let mut chunk = [0u8; 64];
        let mut at = CRC_START;
        while at < len {
            let n = chunk.len().min(len - at);
            for (k, c) in chunk[..n].iter_mut().enumerate() {
                // SAFETY: `at + k < len`: inside the blob (as above).
                *c = unsafe { ptr::read_volatile(p.add(at + k)) };
            }
            digest.update(&chunk[..n]);
            at += n;
        }
        let crc = u32::from_le_bytes([e.head[8], e.head[9], e.head[10], e.head[11]]);
        if digest.finalize() != crc {
            return Err(DP_ERR_BLOB_CHANGED as i32);
        }
        Ok(())
    });
    status(r)
}
