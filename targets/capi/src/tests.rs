//! Unit tests of the C ABI, calling the `extern "C"` functions as C does: the committed header is
//! fresh, every status code has its value, message and a bad-argument case that produces it, and
//! models give the same outputs through the C ABI as through the Rust interpreter and as the
//! committed expected outputs of the example models.

use std::collections::BTreeSet;
use std::ffi::CStr;
use std::path::PathBuf;

use doppler_engine::Interpreter;
use doppler_model_format::layout::{Header, OpRecord, Section, HEADER_BYTES, NO_TENSOR};
use doppler_model_format::ops::{FullyConnectedParams, NoParams, WindowParams};
use doppler_model_format::writer::{
    fix_crc, patch_header, patch_op, patch_tensor, patch_u32, AlignedBlob, Builder, Quant,
};
use doppler_model_format::{DType, Error as FormatError, OpCode};

use super::*;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_dir() -> PathBuf {
    crate_dir().join("..").join("..")
}

// ---------------------------------------------------------------------------------------------
// The header
// ---------------------------------------------------------------------------------------------

/// Runs cbindgen on this crate and compares with the committed `include/doppler.h`.
/// `DOPPLER_BLESS=1` rewrites the committed file instead.
#[test]
fn header_is_up_to_date() {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings =
        cbindgen::Builder::new().with_crate(&dir).with_config(config).generate().expect("cbindgen failed");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).unwrap();
    let path = dir.join("include").join("doppler.h");
    if std::env::var_os("DOPPLER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with `DOPPLER_BLESS=1 cargo test -p doppler-capi header_is_up_to_date`",
        path.display()
    );
}

/// Every `dp_*` function of the header is one this crate exports, and vice versa (the list
/// build-lib.sh keeps global comes from the header).
#[test]
fn header_declares_every_exported_function() {
    let header = std::fs::read_to_string(crate_dir().join("include").join("doppler.h")).unwrap();
    let declared: BTreeSet<String> = header
        .lines()
        .filter(|l| !l.starts_with("//") && !l.starts_with(' ') && !l.starts_with('#'))
        .filter_map(|l| {
            let open = l.find('(')?;
            let name = l[..open].rsplit([' ', '*']).next()?;
            name.starts_with("dp_").then(|| name.to_string())
        })
        .collect();
    let source = std::fs::read_to_string(crate_dir().join("src").join("lib.rs")).unwrap();
    let exported: BTreeSet<String> = source
        .split("#[no_mangle]")
        .skip(1)
        .filter_map(|chunk| {
            let f = chunk.find("fn dp_")?;
            let name: String =
                chunk[f + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            Some(name)
        })
        .collect();
    assert_eq!(declared, exported);
    assert_eq!(declared.len(), 15, "{declared:?}");
}

// ---------------------------------------------------------------------------------------------
// Status codes
// ---------------------------------------------------------------------------------------------

/// One value of every format error variant (the payloads do not change the code).
fn format_errors() -> Vec<FormatError> {
    use FormatError::*;
    vec![
        Truncated,
        TrailingBytes,
        BadMagic,
        UnsupportedVersion { major: 2, minor: 0 },
        BadChecksum,
        BlobMisaligned,
        BadHeader,
        SectionOutOfBounds { section: Section::Ops },
        SectionMisaligned { section: Section::Data },
        BadTensorType { tensor: 0 },
        BadShape { tensor: 0 },
        BadTensorSize { tensor: 0 },
        ConstantOutOfBounds { tensor: 0 },
        TensorMisaligned { tensor: 0 },
        ActivationOutOfArena { tensor: 0 },
        BadQuantization { tensor: 0 },
        BadLifetime { tensor: 0 },
        IoIndexOutOfRange,
        BadIo { tensor: 0 },
        EmptyGraph,
        OutputNeverWritten { tensor: 0 },
        UnknownOpcode { op: 0, opcode: 0 },
        BadArity { op: 0 },
        TensorIndexOutOfRange { op: 0 },
        BadParamsLength { op: 0 },
        BadParams { op: 0 },
        DtypeMismatch { op: 0 },
        ShapeMismatch { op: 0 },
        QuantMismatch { op: 0 },
        NotConstant { op: 0 },
        WritesReadOnly { op: 0, tensor: 0 },
        MultipleWriters { op: 0, tensor: 0 },
        ReadBeforeWrite { op: 0, tensor: 0 },
        ReadAfterLifetime { op: 0, tensor: 0 },
        InPlace { op: 0, tensor: 0 },
        BadScratch { op: 0 },
        NoWriter { tensor: 0 },
        LiveOverlap { a: 0, b: 1 },
    ]
}

fn engine_errors() -> Vec<Error> {
    vec![
        Error::ArenaTooSmall { needed: 2, got: 1 },
        Error::ArenaMisaligned,
        Error::IndexOutOfRange,
        Error::WrongDtype,
        Error::WrongSize { expected: 2, got: 1 },
        Error::Internal,
    ]
}

fn message_of(code: i32) -> String {
    let p = dp_status_str(code);
    assert!(!p.is_null());
    // SAFETY: dp_status_str returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

/// The C codes and messages are the Rust errors' own.
#[test]
fn codes_and_messages_pass_through() {
    for e in format_errors() {
        assert!(STATUS.iter().any(|(c, _)| *c as i32 == e.code()), "{e:?} ({}) has no C status", e.code());
        assert_eq!(message_of(e.code()), e.message(), "{e:?}");
        assert_eq!(Error::Model(e).code(), e.code());
    }
    for e in engine_errors() {
        assert!(STATUS.iter().any(|(c, _)| *c as i32 == e.code()), "{e:?} has no C status");
        assert_eq!(message_of(e.code()), e.message(), "{e:?}");
    }
    // Pin the C names of a few, one per class.
    assert_eq!(DP_ERR_TRUNCATED as i32, FormatError::Truncated.code());
    assert_eq!(DP_ERR_LIVE_OVERLAP as i32, FormatError::LiveOverlap { a: 0, b: 0 }.code());
    assert_eq!(DP_ERR_ARENA_TOO_SMALL as i32, Error::ArenaTooSmall { needed: 0, got: 0 }.code());
    assert_eq!(DP_ERR_INDEX_OUT_OF_RANGE as i32, Error::IndexOutOfRange.code());
}

/// Each `DP_ERR_*` name maps to the Rust error of the same name (so the header's names do not
/// drift from the codes).
#[test]
fn c_names_match_rust_variants() {
    let camel = |name: &str| -> String {
        name.trim_start_matches("DP_ERR_")
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_string() + &c.as_str().to_lowercase()).unwrap_or_default()
            })
            .collect()
    };
    let variant = |dbg: String| dbg.split([' ', '{', '(']).next().unwrap().to_string();
    let mut rust: Vec<(i32, String)> =
        format_errors().iter().map(|e| (e.code(), variant(format!("{e:?}")))).collect();
    rust.extend(engine_errors().iter().map(|e| (e.code(), variant(format!("{e:?}")))));
    for (code, name) in rust {
        let (c, _) = STATUS.iter().find(|(c, _)| *c as i32 == code).unwrap();
        let c_name = format!("{c:?}");
        // Rust `Io` / `Dtype` etc. are spelled as words in C; compare case-insensitively.
        assert_eq!(camel(&c_name).to_lowercase(), name.to_lowercase(), "{c_name} vs {name}");
    }
}

/// Every code the format and engine sources define has a C status (a new variant added there
/// fails this test until it gets a name and message here).
#[test]
fn every_code_in_the_sources_has_a_c_status() {
    let mut found = 0;
    for file in ["model-format/src/error.rs", "engine/src/error.rs"] {
        let src = std::fs::read_to_string(workspace_dir().join(file)).unwrap();
        for piece in src.split("=> -").skip(1) {
            let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                continue;
            }
            let code = -digits.parse::<i32>().unwrap();
            assert!(STATUS.iter().any(|(c, _)| *c as i32 == code), "{file}: code {code} has no C status");
            found += 1;
        }
    }
    assert_eq!(found, format_errors().len() + engine_errors().len());
}

/// The enum (the header's names) and the message table list the same codes, each once, each
/// with a distinct message.
#[test]
fn status_table_is_complete_and_distinct() {
    let src = std::fs::read_to_string(crate_dir().join("src").join("status.rs")).unwrap();
    let in_enum: BTreeSet<i32> = src
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (name, value) = l.strip_suffix(',')?.split_once(" = ")?;
            name.starts_with("DP_").then(|| value.parse().unwrap())
        })
        .collect();
    let in_table: BTreeSet<i32> = STATUS.iter().map(|(c, _)| *c as i32).collect();
    assert_eq!(in_enum.len(), STATUS.len());
    assert_eq!(in_enum, in_table);
    let messages: BTreeSet<&str> = STATUS.iter().map(|(_, m)| *m).collect();
    assert_eq!(messages.len(), STATUS.len(), "messages are distinct");
    for (c, m) in STATUS {
        assert!(m.ends_with('\0') && m.len() > 1 && !m[..m.len() - 1].contains('\0'), "{c:?}");
        assert_ne!(message_of(*c as i32), "unknown status");
    }
    assert_eq!(STATUS.len(), 1 + 38 + 6 + 7);
}

#[test]
fn unknown_codes() {
    for code in [1, 2, -1, -100, -110, -600, -606, -700, -708, -1000, i32::MIN, i32::MAX] {
        assert_eq!(message_of(code), "unknown status", "{code}");
    }
    assert_eq!(message_of(0), "ok");
}

#[test]
fn version() {
    // SAFETY: dp_version returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(dp_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn dtype_values_are_the_blob_codes() {
    assert_eq!(dp_dtype::DP_DTYPE_INT8 as u32, DType::I8 as u32);
    assert_eq!(dp_dtype::DP_DTYPE_INT32 as u32, DType::I32 as u32);
    assert_eq!(dp_dtype::DP_DTYPE_FLOAT32 as u32, DType::F32 as u32);
    assert_eq!(dp_dtype::DP_DTYPE_BITPACKED as u32, DType::B1 as u32);
    assert_eq!((1, 2, 3, 4), (DType::I8 as u32, DType::I32 as u32, DType::F32 as u32, DType::B1 as u32));
}

// ---------------------------------------------------------------------------------------------
// A test model and calling the ABI
// ---------------------------------------------------------------------------------------------

/// 16 bytes on a 16-byte boundary.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);

/// A 16-byte-aligned buffer.
#[derive(Debug)]
struct Buf(Vec<Chunk>);

impl Buf {
    fn new(bytes: usize) -> Buf {
        Buf(vec![Chunk([0; 16]); bytes.div_ceil(16) + 1])
    }
    fn ptr(&mut self) -> *mut c_void {
        self.0.as_mut_ptr().cast()
    }
    fn bytes(&mut self) -> &mut [u8] {
        let n = self.0.len() * 16;
        // SAFETY: `Chunk` is 16 plain bytes; the vector holds `n` initialized bytes.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), n) }
    }
}

/// Tensors and ops of [`model`], by role.
struct Model {
    blob: AlignedBlob,
    x: u32,
    w1: u32,
    m1: u32,
    c1: u32,
    p1: u32,
    r: u32,
    scratch: u32,
}

const CONV: usize = 0;
const POOL: usize = 1;

fn window(k: u32, stride: u32, pad: u32) -> WindowParams {
    WindowParams {
        filter_h: k,
        filter_w: k,
        stride_h: stride,
        stride_w: stride,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad,
        pad_bottom: pad,
        pad_left: pad,
        pad_right: pad,
        depth_multiplier: 1,
        act_min: -128,
        act_max: 127,
        act_min_f: f32::NEG_INFINITY,
        act_max_f: f32::INFINITY,
        ..Default::default()
    }
}

/// int8: x [1,4,4,2] → Conv2d 3×3 SAME (with a scratch tensor) → c1 [1,4,4,4] → MaxPool 2×2/2
/// → p1 [1,2,2,4] → Reshape → r [1,16] → FullyConnected → y [1,3].
fn model() -> Model {
    let mut rng = 0x1234_5678u32;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    let mut b = Builder::new();
    let xq = Quant::new(0.05, -3);
    let aq = Quant::new(0.1, -128);
    let wq = Quant::new(0.02, 0);
    let x = b.input(DType::I8, &[1, 4, 4, 2], Some(xq));
    let w: Vec<i8> = (0..4 * 3 * 3 * 2).map(|_| (next() % 255) as i8).map(|v| v.max(-127)).collect();
    let w1 = b.constant_i8(&[4, 3, 3, 2], wq, &w);
    let b1 = b.constant_i32(&[4], &[10, -20, 30, -40]);
    let m1 = b.constant_i32(&[4], &[1_288_490_189; 4]);
    let s1 = b.constant_i32(&[4], &[-3; 4]);
    let c1 = b.activation(DType::I8, &[1, 4, 4, 4], Some(aq));
    let conv = b.op(OpCode::Conv2d, &[x, w1, b1, m1, s1], &[c1], &window(3, 1, 1));
    let scratch = b.scratch(conv, 64);
    let p1 = b.activation(DType::I8, &[1, 2, 2, 4], Some(aq));
    b.op(OpCode::MaxPool2d, &[c1], &[p1], &window(2, 2, 0));
    let r = b.activation(DType::I8, &[1, 16], Some(aq));
    b.op(OpCode::Reshape, &[p1], &[r], &NoParams {});
    let fw: Vec<i8> = (0..3 * 16).map(|_| (next() % 255) as i8).map(|v| v.max(-127)).collect();
    let fwt = b.constant_i8(&[3, 16], wq, &fw);
    let fbt = b.constant_i32(&[3], &[1, 2, 3]);
    let fmt = b.constant_i32(&[3], &[1_073_741_824; 3]);
    let fst = b.constant_i32(&[3], &[-2; 3]);
    let y = b.activation(DType::I8, &[1, 3], Some(Quant::new(0.2, 4)));
    let fc = FullyConnectedParams { act_min: -128, act_max: 127, ..Default::default() };
    b.op(OpCode::FullyConnected, &[r, fwt, fbt, fmt, fst], &[y], &fc);
    b.output(y);
    let blob = b.finish().expect("test model");
    Model { blob, x: x.0, w1: w1.0, m1: m1.0, c1: c1.0, p1: p1.0, r: r.0, scratch: scratch.0 }
}

fn header_of(blob: &[u8]) -> Header {
    bytemuck::pod_read_unaligned(&blob[..HEADER_BYTES])
}

fn op_record(blob: &[u8], op: usize) -> OpRecord {
    let at = header_of(blob).sections[Section::Ops as usize].offset as usize + op * 32;
    bytemuck::pod_read_unaligned(&blob[at..at + 32])
}

/// Index-section slot of tensor `k` (inputs first, then outputs) of `op`.
fn io_slot(blob: &[u8], op: usize, k: usize) -> usize {
    op_record(blob, op).io_start as usize + k
}

fn patch_window(blob: &mut [u8], op: usize, f: impl FnOnce(&mut WindowParams)) {
    let h = header_of(blob);
    let at =
        h.sections[Section::Params as usize].offset as usize + op_record(blob, op).params_offset as usize;
    let n = std::mem::size_of::<WindowParams>();
    let mut p: WindowParams = bytemuck::pod_read_unaligned(&blob[at..at + n]);
    f(&mut p);
    blob[at..at + n].copy_from_slice(bytemuck::bytes_of(&p));
    fix_crc(blob);
}

fn tensor_offset(blob: &[u8], t: u32) -> u32 {
    let at = header_of(blob).sections[Section::Tensors as usize].offset as usize + t as usize * 48;
    u32::from_le_bytes(blob[at + 20..at + 24].try_into().unwrap())
}

/// An engine built through the C ABI, with its own memory.
#[derive(Debug)]
struct Bound {
    _engine_mem: Buf,
    _arena: Buf,
    e: *mut dp_engine,
}

fn arena_size(blob: &[u8]) -> Result<usize, i32> {
    let mut n = usize::MAX;
    // SAFETY: `blob` is a live slice; `n` is writable.
    let s = unsafe { dp_arena_size(blob.as_ptr().cast(), blob.len(), &mut n) };
    if s == 0 {
        Ok(n)
    } else {
        assert_eq!(n, usize::MAX, "nothing written on failure");
        Err(s)
    }
}

/// dp_init with fresh engine memory and an arena of the planned size (+ `extra` bytes).
fn bind(blob: &[u8], extra: usize) -> Result<Bound, i32> {
    let needed = doppler_engine::required_arena_bytes(blob).unwrap_or(64);
    let mut engine_mem = Buf::new(dp_engine_size());
    let mut arena = Buf::new(needed + extra);
    let mut e = std::ptr::NonNull::<dp_engine>::dangling().as_ptr();
    // SAFETY: all pointers are live buffers of the lengths given.
    let s = unsafe {
        dp_init(
            engine_mem.ptr(),
            dp_engine_size(),
            blob.as_ptr().cast(),
            blob.len(),
            arena.ptr(),
            needed + extra,
            &mut e,
        )
    };
    if s == 0 {
        assert_eq!(e.cast::<c_void>(), engine_mem.ptr());
        Ok(Bound { _engine_mem: engine_mem, _arena: arena, e })
    } else {
        assert!(e.is_null(), "*out is NULL on failure");
        Err(s)
    }
}

/// The status dp_init gives for `blob` edited by `f`, checked against the validator's verdict.
fn init_patched(blob: &AlignedBlob, f: impl FnOnce(&mut [u8])) -> i32 {
    let mut b = blob.clone();
    f(b.as_bytes_mut());
    let s = bind(b.as_bytes(), 0).err().unwrap_or(0);
    let want = doppler_model_format::Model::parse(b.as_bytes()).err().map_or(0, |e| e.code());
    assert_eq!(s, want, "dp_init passes the validator's code through");
    assert_eq!(arena_size(b.as_bytes()).err().unwrap_or(0), want, "dp_arena_size too");
    s
}

fn desc_in(e: *const dp_engine, i: usize) -> Result<dp_tensor_desc, i32> {
    let mut d = std::mem::MaybeUninit::<dp_tensor_desc>::uninit();
    // SAFETY: `e` is a handle (or a test's bad one, which the ABI must reject); `d` is writable.
    let s = unsafe { dp_input_desc(e, i, d.as_mut_ptr()) };
    // SAFETY: DP_OK means `d` was written.
    if s == 0 {
        Ok(unsafe { d.assume_init() })
    } else {
        Err(s)
    }
}

fn desc_out(e: *const dp_engine, i: usize) -> Result<dp_tensor_desc, i32> {
    let mut d = std::mem::MaybeUninit::<dp_tensor_desc>::uninit();
    // SAFETY: as in `desc_in`.
    let s = unsafe { dp_output_desc(e, i, d.as_mut_ptr()) };
    // SAFETY: DP_OK means `d` was written.
    if s == 0 {
        Ok(unsafe { d.assume_init() })
    } else {
        Err(s)
    }
}

fn set_input(e: *mut dp_engine, i: usize, dtype: u32, data: &[u8]) -> i32 {
    // SAFETY: `data` is a live slice.
    unsafe { dp_set_input(e, i, dtype, data.as_ptr().cast(), data.len()) }
}

fn get_output(e: *const dp_engine, i: usize, dtype: u32, out: &mut [u8]) -> i32 {
    // SAFETY: `out` is a live mutable slice.
    unsafe { dp_get_output(e, i, dtype, out.as_mut_ptr().cast(), out.len()) }
}

fn invoke(e: *mut dp_engine) -> i32 {
    // SAFETY: `e` is a handle from `bind` (or a bad one the ABI must reject).
    unsafe { dp_invoke(e) }
}

fn int8() -> u32 {
    dp_dtype::DP_DTYPE_INT8 as u32
}

// ---------------------------------------------------------------------------------------------
// Every status code, from bad arguments
// ---------------------------------------------------------------------------------------------

/// Every status code except `DP_ERR_INTERNAL` (unreachable by design: the validator rules out
/// every case the interpreter would report) comes out of the C ABI for some bad argument or
/// malformed blob, and the blob errors are exactly the validator's.
#[test]
fn every_status_code_is_reachable() {
    let m = model();
    let blob = &m.blob;
    let bytes = blob.as_bytes();
    let h = header_of(bytes);
    let mut seen = BTreeSet::new();
    let mut expect = |what: &str, got: i32, want: dp_status| {
        assert_eq!(got, want as i32, "{what}: got {got} ({})", message_of(got));
        seen.insert(got);
    };

    // ---- a valid model
    let ok = bind(bytes, 0).unwrap();
    expect("valid model", invoke(ok.e), DP_OK);

    // ---- −1xx the blob as a whole
    expect("truncated", bind(&bytes[..bytes.len() - 1], 0).unwrap_err(), DP_ERR_TRUNCATED);
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0; 16]);
    expect(
        "trailing",
        bind(AlignedBlob::from_bytes(&longer).as_bytes(), 0).unwrap_err(),
        DP_ERR_TRAILING_BYTES,
    );
    expect("magic", init_patched(blob, |b| b[0] ^= 1), DP_ERR_BAD_MAGIC);
    expect(
        "version",
        init_patched(blob, |b| patch_header(b, |h| h.version_major = 2)),
        DP_ERR_UNSUPPORTED_VERSION,
    );
    expect("checksum", init_patched(blob, |b| *b.last_mut().unwrap() ^= 1), DP_ERR_BAD_CHECKSUM);
    let mut shifted = Buf::new(bytes.len() + 16);
    shifted.bytes()[1..1 + bytes.len()].copy_from_slice(bytes);
    expect(
        "misaligned blob",
        bind(&shifted.bytes()[1..1 + bytes.len()], 0).unwrap_err(),
        DP_ERR_BLOB_MISALIGNED,
    );
    expect("header flags", init_patched(blob, |b| patch_header(b, |h| h.flags = 1)), DP_ERR_BAD_HEADER);
    expect(
        "section count",
        init_patched(blob, |b| patch_header(b, |h| h.sections[0].count = u32::MAX)),
        DP_ERR_SECTION_OUT_OF_BOUNDS,
    );
    expect(
        "section offset",
        init_patched(blob, |b| patch_header(b, |h| h.sections[0].offset += 4)),
        DP_ERR_SECTION_MISALIGNED,
    );

    // ---- −2xx tensor records
    let x = m.x as usize;
    expect("dtype 0", init_patched(blob, |b| patch_tensor(b, x, |r| r.dtype = 0)), DP_ERR_BAD_TENSOR_TYPE);
    expect("rank 0", init_patched(blob, |b| patch_tensor(b, x, |r| r.rank = 0)), DP_ERR_BAD_SHAPE);
    expect("bytes", init_patched(blob, |b| patch_tensor(b, x, |r| r.bytes += 16)), DP_ERR_BAD_TENSOR_SIZE);
    let data_len = h.sections[Section::Data as usize].count;
    let w1 = m.w1 as usize;
    expect(
        "constant offset",
        init_patched(blob, |b| patch_tensor(b, w1, |r| r.offset = data_len.next_multiple_of(16))),
        DP_ERR_CONSTANT_OUT_OF_BOUNDS,
    );
    expect(
        "constant +4",
        init_patched(blob, |b| patch_tensor(b, w1, |r| r.offset += 4)),
        DP_ERR_TENSOR_MISALIGNED,
    );
    let c1 = m.c1 as usize;
    expect(
        "activation offset",
        init_patched(blob, |b| patch_tensor(b, c1, |r| r.offset = h.arena_bytes.next_multiple_of(16))),
        DP_ERR_ACTIVATION_OUT_OF_ARENA,
    );
    expect("scale 0", init_patched(blob, |b| patch_tensor(b, x, |r| r.scale = 0.0)), DP_ERR_BAD_QUANTIZATION);
    expect(
        "constant lifetime",
        init_patched(blob, |b| patch_tensor(b, w1, |r| r.first = 1)),
        DP_ERR_BAD_LIFETIME,
    );

    // ---- −3xx graph inputs and outputs
    let count = h.sections[Section::Tensors as usize].count;
    expect(
        "input index",
        init_patched(blob, |b| patch_u32(b, Section::Inputs, 0, count)),
        DP_ERR_IO_INDEX_OUT_OF_RANGE,
    );
    expect("constant input", init_patched(blob, |b| patch_u32(b, Section::Inputs, 0, m.w1)), DP_ERR_BAD_IO);
    expect(
        "no inputs",
        init_patched(blob, |b| patch_header(b, |h| h.sections[Section::Inputs as usize].count = 0)),
        DP_ERR_EMPTY_GRAPH,
    );
    {
        // A graph output no op writes.
        let mut b = Builder::new();
        b.input(DType::F32, &[4], None);
        let y = b.activation(DType::F32, &[4], None);
        b.output(y);
        let ghost = AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0);
        expect("output never written", bind(ghost.as_bytes(), 0).unwrap_err(), DP_ERR_OUTPUT_NEVER_WRITTEN);
    }

    // ---- −4xx ops
    expect("opcode", init_patched(blob, |b| patch_op(b, CONV, |r| r.opcode = 999)), DP_ERR_UNKNOWN_OPCODE);
    expect("no outputs", init_patched(blob, |b| patch_op(b, CONV, |r| r.n_outputs = 0)), DP_ERR_BAD_ARITY);
    let index_count = h.sections[Section::Indices as usize].count;
    expect(
        "io_start",
        init_patched(blob, |b| patch_op(b, CONV, |r| r.io_start = index_count)),
        DP_ERR_TENSOR_INDEX_OUT_OF_RANGE,
    );
    let params_len = h.sections[Section::Params as usize].count;
    expect(
        "params offset",
        init_patched(blob, |b| patch_op(b, CONV, |r| r.params_offset = params_len)),
        DP_ERR_BAD_PARAMS_LENGTH,
    );
    expect("stride 0", init_patched(blob, |b| patch_window(b, CONV, |p| p.stride_h = 0)), DP_ERR_BAD_PARAMS);
    let m1 = m.m1 as usize;
    expect(
        "f32 multipliers",
        init_patched(blob, |b| patch_tensor(b, m1, |r| r.dtype = DType::F32 as u8)),
        DP_ERR_DTYPE_MISMATCH,
    );
    expect(
        "conv output shape",
        init_patched(blob, |b| {
            patch_tensor(b, c1, |r| {
                r.dims[1] = 2;
                r.dims[2] = 8;
            })
        }),
        DP_ERR_SHAPE_MISMATCH,
    );
    let r = m.r as usize;
    expect(
        "reshape quant",
        init_patched(blob, |b| patch_tensor(b, r, |r| r.zero_point = 3)),
        DP_ERR_QUANT_MISMATCH,
    );
    let filter_slot = io_slot(bytes, CONV, 1);
    expect(
        "activation filter",
        init_patched(blob, |b| patch_u32(b, Section::Indices, filter_slot, m.x)),
        DP_ERR_NOT_CONSTANT,
    );
    let conv_out = io_slot(bytes, CONV, 5);
    expect(
        "writes a constant",
        init_patched(blob, |b| patch_u32(b, Section::Indices, conv_out, m.w1)),
        DP_ERR_WRITES_READ_ONLY,
    );
    let pool_out = io_slot(bytes, POOL, 1);
    expect(
        "second writer",
        init_patched(blob, |b| patch_u32(b, Section::Indices, pool_out, m.c1)),
        DP_ERR_MULTIPLE_WRITERS,
    );
    let conv_in = io_slot(bytes, CONV, 0);
    expect(
        "reads a later output",
        init_patched(blob, |b| patch_u32(b, Section::Indices, conv_in, m.p1)),
        DP_ERR_READ_BEFORE_WRITE,
    );
    expect(
        "lifetime too short",
        init_patched(blob, |b| patch_tensor(b, c1, |r| r.last = 1)),
        DP_ERR_READ_AFTER_LIFETIME,
    );
    let pool_in = io_slot(bytes, POOL, 0);
    expect(
        "reads its output",
        init_patched(blob, |b| patch_u32(b, Section::Indices, pool_in, m.p1)),
        DP_ERR_IN_PLACE,
    );
    expect(
        "scratch is c1",
        init_patched(blob, |b| patch_op(b, CONV, |r| r.scratch = m.c1)),
        DP_ERR_BAD_SCRATCH,
    );

    // ---- −5xx the arena plan
    expect(
        "orphan scratch",
        init_patched(blob, |b| patch_op(b, CONV, |r| r.scratch = NO_TENSOR)),
        DP_ERR_NO_WRITER,
    );
    // x [step 0, 1] (32 bytes) moved into conv's scratch [1, 1] (64 bytes): both live at step 1.
    let scratch_off = tensor_offset(bytes, m.scratch);
    expect(
        "x over scratch",
        init_patched(blob, |b| patch_tensor(b, x, |r| r.offset = scratch_off)),
        DP_ERR_LIVE_OVERLAP,
    );

    // ---- −6xx binding and running
    let needed = h.arena_bytes as usize;
    let mut engine_mem = Buf::new(dp_engine_size());
    let mut arena = Buf::new(needed + 32);
    let mut e = std::ptr::null_mut();
    let blob_p = bytes.as_ptr().cast::<c_void>();
    let init = |mem: *mut c_void,
                mem_len: usize,
                blob: *const c_void,
                blob_len: usize,
                arena: *mut c_void,
                len: usize,
                out: *mut *mut dp_engine| {
        // SAFETY: every pointer given below is NULL, or a live buffer at least as long as its
        // length, or (the bad-length case) one the ABI rejects before reading.
        unsafe { dp_init(mem, mem_len, blob, blob_len, arena, len, out) }
    };
    let (mem_p, arena_p) = (engine_mem.ptr(), arena.ptr());
    let n = dp_engine_size();
    expect(
        "arena too small",
        init(mem_p, n, blob_p, bytes.len(), arena_p, needed - 1, &mut e),
        DP_ERR_ARENA_TOO_SMALL,
    );
    assert!(e.is_null());
    // SAFETY: arena + 8 is inside the arena buffer, which has 32 spare bytes.
    let arena_8 = unsafe { arena_p.cast::<u8>().add(8) }.cast::<c_void>();
    expect(
        "arena + 8",
        init(mem_p, n, blob_p, bytes.len(), arena_8, needed, &mut e),
        DP_ERR_ARENA_MISALIGNED,
    );
    expect("valid", init(mem_p, n, blob_p, bytes.len(), arena_p, needed, &mut e), DP_OK);
    assert_eq!(desc_in(e, 1).unwrap_err(), DP_ERR_INDEX_OUT_OF_RANGE as i32);
    assert_eq!(desc_out(e, 1).unwrap_err(), DP_ERR_INDEX_OUT_OF_RANGE as i32);
    // SAFETY: `e` is a live engine.
    assert!(unsafe { dp_input_data(e, 1) }.is_null());
    // SAFETY: `e` is a live engine.
    assert!(unsafe { dp_output_data(e, 1) }.is_null());
    let input = vec![1u8; 32];
    expect("input 1", set_input(e, 1, int8(), &input), DP_ERR_INDEX_OUT_OF_RANGE);
    expect("float32 input", set_input(e, 0, dp_dtype::DP_DTYPE_FLOAT32 as u32, &input), DP_ERR_WRONG_DTYPE);
    expect("dtype 99", set_input(e, 0, 99, &input), DP_ERR_WRONG_DTYPE);
    expect("31 bytes", set_input(e, 0, int8(), &input[..31]), DP_ERR_WRONG_SIZE);
    expect("33 bytes", set_input(e, 0, int8(), &[0; 33]), DP_ERR_WRONG_SIZE);
    expect("32 bytes", set_input(e, 0, int8(), &input), DP_OK);
    expect("invoke", invoke(e), DP_OK);
    let mut out = [0u8; 3];
    expect("get 2 bytes", get_output(e, 0, int8(), &mut out[..2]), DP_ERR_WRONG_SIZE);
    expect("get f32", get_output(e, 0, dp_dtype::DP_DTYPE_FLOAT32 as u32, &mut out), DP_ERR_WRONG_DTYPE);
    expect("get output 1", get_output(e, 1, int8(), &mut out), DP_ERR_INDEX_OUT_OF_RANGE);
    expect("get output 0", get_output(e, 0, int8(), &mut out), DP_OK);
    // Copies from or into the arena itself.
    // SAFETY: `e` is a live engine; the pointers are its own tensors, valid for their sizes.
    let (in_p, out_p) = unsafe { (dp_input_data(e, 0), dp_output_data(e, 0)) };
    // SAFETY: `out_p` is the output tensor (3 bytes); the ABI refuses it before reading.
    expect("set_input from the arena", unsafe { dp_set_input(e, 0, int8(), out_p, 32) }, DP_ERR_OVERLAP);
    // SAFETY: `in_p` is the input tensor (32 bytes); the ABI refuses it before writing.
    expect("get_output into the arena", unsafe { dp_get_output(e, 0, int8(), in_p, 3) }, DP_ERR_OVERLAP);

    // ---- −7xx C arguments
    let null = std::ptr::null_mut::<c_void>();
    expect(
        "out NULL",
        init(mem_p, n, blob_p, bytes.len(), arena_p, needed, std::ptr::null_mut()),
        DP_ERR_NULL_POINTER,
    );
    expect("engine NULL", init(null, n, blob_p, bytes.len(), arena_p, needed, &mut e), DP_ERR_NULL_POINTER);
    expect("blob NULL", init(mem_p, n, null, bytes.len(), arena_p, needed, &mut e), DP_ERR_NULL_POINTER);
    expect("arena NULL", init(mem_p, n, blob_p, bytes.len(), null, needed, &mut e), DP_ERR_NULL_POINTER);
    let mut size = 0usize;
    // SAFETY: NULL blob / NULL out are rejected before use.
    expect("arena_size blob NULL", unsafe { dp_arena_size(null, 16, &mut size) }, DP_ERR_NULL_POINTER);
    // SAFETY: as above.
    expect(
        "arena_size out NULL",
        unsafe { dp_arena_size(blob_p, bytes.len(), std::ptr::null_mut()) },
        DP_ERR_NULL_POINTER,
    );
    expect(
        "desc out NULL",
        {
            // SAFETY: `ok.e` is a live engine; NULL out is rejected.
            unsafe { dp_input_desc(ok.e, 0, std::ptr::null_mut()) }
        },
        DP_ERR_NULL_POINTER,
    );
    expect("desc engine NULL", desc_in(std::ptr::null(), 0).unwrap_err(), DP_ERR_NULL_POINTER);
    expect("invoke NULL", invoke(std::ptr::null_mut()), DP_ERR_NULL_POINTER);
    expect(
        "set_input src NULL",
        {
            // SAFETY: NULL src is rejected.
            unsafe { dp_set_input(ok.e, 0, int8(), std::ptr::null(), 32) }
        },
        DP_ERR_NULL_POINTER,
    );
    expect(
        "get_output dst NULL",
        {
            // SAFETY: NULL dst is rejected.
            unsafe { dp_get_output(ok.e, 0, int8(), std::ptr::null_mut(), 3) }
        },
        DP_ERR_NULL_POINTER,
    );
    expect(
        "engine mem short",
        init(mem_p, n - 1, blob_p, bytes.len(), arena_p, needed, &mut e),
        DP_ERR_ENGINE_MEM_TOO_SMALL,
    );
    let mut big = Buf::new(n + 16);
    // SAFETY: + 8 stays inside `big`, which has 16 spare bytes.
    let mem_8 = unsafe { big.ptr().cast::<u8>().add(8) }.cast::<c_void>();
    expect(
        "engine mem + 8",
        init(mem_8, n, blob_p, bytes.len(), arena_p, needed, &mut e),
        DP_ERR_ENGINE_MEM_MISALIGNED,
    );
    // A blob at the very end of the address space, and a length beyond PTRDIFF_MAX: rejected
    // before anything is read.
    let end = (usize::MAX - 15) as *const c_void;
    expect("blob wraps", init(mem_p, n, end, 32, arena_p, needed, &mut e), DP_ERR_BAD_LENGTH);
    expect(
        "blob_len huge",
        init(mem_p, n, blob_p, isize::MAX as usize + 1, arena_p, needed, &mut e),
        DP_ERR_BAD_LENGTH,
    );
    expect(
        "arena_len huge",
        init(mem_p, n, blob_p, bytes.len(), arena_p, usize::MAX, &mut e),
        DP_ERR_BAD_LENGTH,
    );
    // SAFETY: rejected before reading.
    expect("arena_size wraps", unsafe { dp_arena_size(end, 32, &mut size) }, DP_ERR_BAD_LENGTH);
    // Overlaps: arena over the engine memory, arena over the blob, engine memory in the arena.
    let mut shared = Buf::new(needed + n + 64);
    let shared_p = shared.ptr();
    expect(
        "arena over engine",
        init(shared_p, n, blob_p, bytes.len(), shared_p, needed, &mut e),
        DP_ERR_OVERLAP,
    );
    let mut blob_and_arena = Buf::new(bytes.len() + needed);
    blob_and_arena.bytes()[..bytes.len()].copy_from_slice(bytes);
    let ba = blob_and_arena.ptr();
    expect("arena over blob", init(mem_p, n, ba, bytes.len(), ba, needed, &mut e), DP_ERR_OVERLAP);
    // SAFETY: offset inside `shared`, which is `needed + n + 64` bytes.
    let inner = unsafe { shared_p.cast::<u8>().add(needed.next_multiple_of(16) - 16) }.cast::<c_void>();
    expect("engine in arena", init(inner, n, blob_p, bytes.len(), shared_p, needed, &mut e), DP_ERR_OVERLAP);
    // Bad handles: zeroed memory, a misaligned pointer, and an engine whose memory a failed
    // dp_init reused.
    let mut zeros = Buf::new(n);
    let zero_e = zeros.ptr().cast::<dp_engine>();
    expect("zeroed handle", invoke(zero_e), DP_ERR_BAD_ENGINE);
    expect("zeroed handle desc", desc_out(zero_e, 0).unwrap_err(), DP_ERR_BAD_ENGINE);
    expect("zeroed handle set_input", set_input(zero_e, 0, int8(), &input), DP_ERR_BAD_ENGINE);
    expect("zeroed handle get_output", get_output(zero_e, 0, int8(), &mut out), DP_ERR_BAD_ENGINE);
    // SAFETY: + 8 is inside `big`; the ABI rejects a misaligned handle before reading it.
    let odd = unsafe { big.ptr().cast::<u8>().add(8) }.cast::<dp_engine>();
    expect("misaligned handle", invoke(odd), DP_ERR_BAD_ENGINE);
    let mut e2 = std::ptr::null_mut();
    expect("engine 2", init(mem_p, n, blob_p, bytes.len(), arena_p, needed, &mut e2), DP_OK);
    expect("engine 2 runs", invoke(e2), DP_OK);
    let mut bad = blob.clone();
    bad.as_bytes_mut()[0] = b'X';
    expect(
        "re-init fails",
        init(mem_p, n, bad.as_bytes().as_ptr().cast(), bad.len(), arena_p, needed, &mut e),
        DP_ERR_BAD_MAGIC,
    );
    expect("old handle is dead", invoke(e2), DP_ERR_BAD_ENGINE);
    // SAFETY: `e2` is a dead handle: the ABI must refuse it, not read through it.
    assert_eq!(unsafe { dp_input_count(e2) }, 0);
    // SAFETY: as above.
    assert!(unsafe { dp_input_data(e2, 0) }.is_null());
    // SAFETY: NULL handles.
    assert_eq!(unsafe { dp_output_count(std::ptr::null()) }, 0);

    // ---- dp_verify: a blob changed behind a bound engine (undefined by contract, detected)
    let mut copy = Buf::new(bytes.len());
    copy.bytes()[..bytes.len()].copy_from_slice(bytes);
    let copy_p = copy.ptr();
    let mut arena2 = Buf::new(needed);
    let mut mem2 = Buf::new(n);
    let mut e3 = std::ptr::null_mut();
    expect(
        "init on a RAM copy",
        init(mem2.ptr(), n, copy_p, bytes.len(), arena2.ptr(), needed, &mut e3),
        DP_OK,
    );
    // SAFETY: `e3` is a live engine; its blob is `copy`, alive until the end of the test.
    let verify = |e: *const dp_engine| unsafe { dp_verify(e) };
    expect("verify unchanged", verify(e3), DP_OK);
    let poke = |at: usize, x: u8| {
        // SAFETY: `at` < blob length; the write models a C caller (or a flash update) changing
        // the blob behind the engine, through the buffer's own pointer.
        unsafe {
            let p = copy_p.cast::<u8>().add(at);
            p.write_volatile(p.read_volatile() ^ x);
        }
    };
    for at in [0, 8, 11, 12, bytes.len() / 2, bytes.len() - 1] {
        poke(at, 0x01);
        expect("verify after a bit flip", verify(e3), DP_ERR_BLOB_CHANGED);
        poke(at, 0x01);
        expect("verify after undoing it", verify(e3), DP_OK);
    }
    expect("verify NULL", verify(std::ptr::null()), DP_ERR_NULL_POINTER);
    expect("verify a dead handle", verify(e2), DP_ERR_BAD_ENGINE);

    let all: BTreeSet<i32> =
        STATUS.iter().map(|(c, _)| *c as i32).filter(|&c| c != DP_ERR_INTERNAL as i32).collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "status codes never produced: {missing:?}");
}

// ---------------------------------------------------------------------------------------------
// Running models
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_fits_the_static_storage() {
    assert!(dp_engine_size() <= DP_ENGINE_MAX_SIZE);
    assert!(dp_engine_size() <= std::mem::size_of::<dp_engine_storage>());
    assert_eq!(std::mem::align_of::<dp_engine_storage>(), DP_ENGINE_ALIGN);
    // A dp_engine_storage works as engine memory.
    let m = model();
    let mut storage = Box::new(dp_engine_storage { opaque: [0xa5; DP_ENGINE_MAX_SIZE] });
    let mut arena = Buf::new(1024);
    let mut e = std::ptr::null_mut();
    let mem: *mut dp_engine_storage = &mut *storage;
    // SAFETY: live buffers of the given lengths.
    let s = unsafe {
        dp_init(
            mem.cast(),
            std::mem::size_of::<dp_engine_storage>(),
            m.blob.as_bytes().as_ptr().cast(),
            m.blob.len(),
            arena.ptr(),
            1024,
            &mut e,
        )
    };
    assert_eq!(s, 0);
    assert_eq!(invoke(e), 0);
}

#[test]
fn descriptors() {
    let m = model();
    let b = bind(m.blob.as_bytes(), 0).unwrap();
    // SAFETY: live engine.
    assert_eq!(unsafe { (dp_input_count(b.e), dp_output_count(b.e)) }, (1, 1));
    let d = desc_in(b.e, 0).unwrap();
    assert_eq!(
        d,
        dp_tensor_desc {
            dtype: dp_dtype::DP_DTYPE_INT8,
            rank: 4,
            dims: [1, 4, 4, 2],
            bytes: 32,
            scale: 0.05,
            zero_point: -3
        }
    );
    let d = desc_out(b.e, 0).unwrap();
    assert_eq!((d.rank, d.dims, d.bytes, d.scale, d.zero_point), (2, [1, 3, 1, 1], 3, 0.2, 4));
    // SAFETY: live engine.
    let p = unsafe { dp_input_data(b.e, 0) };
    assert!(!p.is_null() && (p as usize) & 15 == 0);
    assert_eq!(arena_size(m.blob.as_bytes()), Ok(header_of(m.blob.as_bytes()).arena_bytes as usize));

    // A float model: scale and zero point are 0.
    let mut fb = Builder::new();
    let x = fb.input(DType::F32, &[2, 3], None);
    let y = fb.activation(DType::F32, &[6], None);
    fb.op(OpCode::Reshape, &[x], &[y], &NoParams {});
    fb.output(y);
    let blob = fb.finish().unwrap();
    let b = bind(blob.as_bytes(), 0).unwrap();
    let d = desc_in(b.e, 0).unwrap();
    assert_eq!(
        (d.dtype, d.rank, d.dims, d.bytes, d.scale, d.zero_point),
        (dp_dtype::DP_DTYPE_FLOAT32, 2, [2, 3, 1, 1], 24, 0.0, 0)
    );
    let d = desc_out(b.e, 0).unwrap();
    assert_eq!((d.rank, d.dims, d.bytes), (1, [6, 1, 1, 1], 24));
}

/// The C ABI gives what the Rust interpreter gives, through both ways of passing data, and
/// repeated runs on the same engine agree.
#[test]
fn same_outputs_as_the_rust_interpreter() {
    let m = model();
    let bytes = m.blob.as_bytes();
    for seed in 0..8u8 {
        let input: Vec<u8> =
            (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(seed.wrapping_mul(101))).collect();
        let mut arena = Buf::new(doppler_engine::required_arena_bytes(bytes).unwrap());
        let mut it = Interpreter::new(bytes, arena.bytes()).unwrap();
        it.input_bytes_mut(0).unwrap().copy_from_slice(&input);
        it.invoke().unwrap();
        let want = it.output_bytes(0).unwrap().to_vec();

        let b = bind(bytes, 48).unwrap();
        assert_eq!(set_input(b.e, 0, int8(), &input), 0);
        assert_eq!(invoke(b.e), 0);
        let mut got = vec![0u8; 3];
        assert_eq!(get_output(b.e, 0, int8(), &mut got), 0);
        assert_eq!(got, want, "seed {seed}");

        // The pointer way, twice on the same engine.
        for _ in 0..2 {
            // SAFETY: live engine; the input pointer is valid for desc.bytes = 32 bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(input.as_ptr(), dp_input_data(b.e, 0).cast::<u8>(), 32);
            }
            assert_eq!(invoke(b.e), 0);
            // SAFETY: the output pointer is valid for desc.bytes = 3 bytes after dp_invoke.
            let out = unsafe { std::slice::from_raw_parts(dp_output_data(b.e, 0).cast::<u8>(), 3) };
            assert_eq!(out, &want[..]);
        }
    }
}

/// Distinct engines on the same blob, in parallel threads.
#[test]
fn engines_on_one_blob_in_parallel_threads() {
    let m = model();
    let bytes = m.blob.as_bytes();
    let input: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(13)).collect();
    let reference = {
        let b = bind(bytes, 0).unwrap();
        assert_eq!(set_input(b.e, 0, int8(), &input), 0);
        assert_eq!(invoke(b.e), 0);
        let mut out = vec![0u8; 3];
        assert_eq!(get_output(b.e, 0, int8(), &mut out), 0);
        out
    };
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let b = bind(bytes, 0).unwrap();
                for _ in 0..50 {
                    assert_eq!(set_input(b.e, 0, int8(), &input), 0);
                    assert_eq!(invoke(b.e), 0);
                    let mut out = vec![0u8; 3];
                    assert_eq!(get_output(b.e, 0, int8(), &mut out), 0);
                    assert_eq!(out, reference);
                }
            });
        }
    });
}

/// The dtype, shape and data of a little-endian C-order `.npy` (v1–v3) file.
fn read_npy(path: &std::path::Path) -> (String, Vec<usize>, Vec<u8>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..6], b"\x93NUMPY", "{}", path.display());
    let (len, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + len]).unwrap();
    let descr = header.split("'descr': '").nth(1).unwrap().split('\'').next().unwrap().to_string();
    assert!(header.contains("'fortran_order': False"));
    let shape = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape =
        shape.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    (descr, shape, b[start + len..].to_vec())
}

/// The committed example models (examples/models/*.dpl) give their committed expected outputs
/// through the C ABI on the host (int8 and bit-packed outputs exactly, float32 within the
/// tolerance `doppler run --expect` documents). examples/c/test.sh does the same under QEMU.
#[test]
fn example_models_give_the_expected_outputs() {
    let dir = workspace_dir().join("examples").join("models");
    let mut models: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "dpl"))
                .collect()
        })
        .unwrap_or_default();
    models.sort();
    if models.is_empty() {
        eprintln!("no example models in {}: skipped", dir.display());
        return;
    }
    for path in models {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let blob = AlignedBlob::from_bytes(&std::fs::read(&path).unwrap());
        let b = bind(blob.as_bytes(), 0).unwrap_or_else(|s| panic!("{name}: {}", message_of(s)));
        let (_, _, input) = read_npy(&dir.join(format!("{name}.input.npy")));
        let d = desc_in(b.e, 0).unwrap();
        assert_eq!(set_input(b.e, 0, d.dtype as u32, &input), 0, "{name}");
        assert_eq!(invoke(b.e), 0, "{name}");
        let (descr, shape, want) = read_npy(&dir.join(format!("{name}.expected.npy")));
        let d = desc_out(b.e, 0).unwrap();
        assert_eq!(
            shape.iter().product::<usize>() * 4 / if descr.ends_with("i1") { 4 } else { 1 },
            d.bytes,
            "{name}"
        );
        let mut got = vec![0u8; d.bytes];
        assert_eq!(get_output(b.e, 0, d.dtype as u32, &mut got), 0, "{name}");
        if d.dtype == dp_dtype::DP_DTYPE_FLOAT32 {
            let f = |v: &[u8]| -> Vec<f32> {
                v.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
            };
            for (k, (g, w)) in f(&got).iter().zip(f(&want)).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 + 1e-4 * w.abs() || (g.is_nan() && w.is_nan()),
                    "{name}[{k}]: {g} vs {w}"
                );
            }
        } else {
            assert_eq!(got, want, "{name}");
        }
    }
}
