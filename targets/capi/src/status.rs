//! Status codes of the C ABI and their static, NUL-terminated messages.
//!
//! The codes are the engine's and the blob format's own stable codes, passed through unchanged
//! (`doppler_model_format::Error::code`, `doppler_engine::Error::code`), plus −7xx for mistakes
//! only a C caller can make (null pointers, handle memory, lengths). cbindgen reads the values
//! below literally, so they are written out as numbers; the unit tests prove each one equals the
//! Rust error's code and each message equals the Rust error's message, and that every code the
//! format and engine sources define has an entry here.

/// A status code: what every fallible function returns (as `int32_t`). `DP_OK` is 0; every
/// failure is a distinct negative value, stable across releases.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dp_status {
    /// Success.
    DP_OK = 0,

    // ---- −1xx: the blob as a whole (doppler_model_format::Error) -----------------------------------
    /// The blob is shorter than its header, or than the length its header declares.
    DP_ERR_TRUNCATED = -101,
    /// The blob is longer than the length its header declares.
    DP_ERR_TRAILING_BYTES = -102,
    /// The first four bytes are not `DPLR`.
    DP_ERR_BAD_MAGIC = -103,
    /// A format version this library does not read.
    DP_ERR_UNSUPPORTED_VERSION = -104,
    /// The CRC-32 over the blob does not match its header.
    DP_ERR_BAD_CHECKSUM = -105,
    /// The blob does not start on a 16-byte boundary in memory.
    DP_ERR_BLOB_MISALIGNED = -106,
    /// A reserved header field or flag is not zero.
    DP_ERR_BAD_HEADER = -107,
    /// A section lies outside the blob or overlaps another.
    DP_ERR_SECTION_OUT_OF_BOUNDS = -108,
    /// A section is not 16-byte aligned.
    DP_ERR_SECTION_MISALIGNED = -109,

    // ---- −2xx: tensor records -------------------------------------------------------------------
    /// A tensor has an unknown dtype or kind.
    DP_ERR_BAD_TENSOR_TYPE = -201,
    /// A tensor has an invalid shape.
    DP_ERR_BAD_SHAPE = -202,
    /// A tensor's byte size is inconsistent or overflows.
    DP_ERR_BAD_TENSOR_SIZE = -203,
    /// A constant tensor lies outside the data section.
    DP_ERR_CONSTANT_OUT_OF_BOUNDS = -204,
    /// A tensor offset is not 16-byte aligned.
    DP_ERR_TENSOR_MISALIGNED = -205,
    /// An activation tensor lies outside the planned arena.
    DP_ERR_ACTIVATION_OUT_OF_ARENA = -206,
    /// A tensor has invalid quantization parameters.
    DP_ERR_BAD_QUANTIZATION = -207,
    /// A tensor has an invalid lifetime.
    DP_ERR_BAD_LIFETIME = -208,

    // ---- −3xx: graph inputs and outputs ---------------------------------------------------------
    /// A graph input/output index is not a tensor.
    DP_ERR_IO_INDEX_OUT_OF_RANGE = -301,
    /// A graph input/output is a constant, or listed twice.
    DP_ERR_BAD_IO = -302,
    /// The graph has no inputs or no outputs.
    DP_ERR_EMPTY_GRAPH = -303,
    /// A graph output is never written.
    DP_ERR_OUTPUT_NEVER_WRITTEN = -304,

    // ---- −4xx: ops ------------------------------------------------------------------------------
    /// An opcode this library does not know.
    DP_ERR_UNKNOWN_OPCODE = -401,
    /// An op has the wrong number of inputs or outputs.
    DP_ERR_BAD_ARITY = -402,
    /// An op names a tensor that does not exist.
    DP_ERR_TENSOR_INDEX_OUT_OF_RANGE = -403,
    /// An op's parameters are out of bounds or of the wrong length.
    DP_ERR_BAD_PARAMS_LENGTH = -404,
    /// An op parameter is out of range.
    DP_ERR_BAD_PARAMS = -405,
    /// An op's tensor dtypes do not fit the op.
    DP_ERR_DTYPE_MISMATCH = -406,
    /// An op's tensor shapes do not fit the op.
    DP_ERR_SHAPE_MISMATCH = -407,
    /// An op's quantization parameters do not fit the op.
    DP_ERR_QUANT_MISMATCH = -408,
    /// An op expects a constant tensor.
    DP_ERR_NOT_CONSTANT = -409,
    /// An op writes a constant or a graph input.
    DP_ERR_WRITES_READ_ONLY = -410,
    /// A tensor is written by more than one op.
    DP_ERR_MULTIPLE_WRITERS = -411,
    /// An op reads a tensor before it is written.
    DP_ERR_READ_BEFORE_WRITE = -412,
    /// An op reads a tensor after its recorded lifetime.
    DP_ERR_READ_AFTER_LIFETIME = -413,
    /// An op writes one of its own inputs.
    DP_ERR_IN_PLACE = -414,
    /// An op's scratch tensor is invalid.
    DP_ERR_BAD_SCRATCH = -415,

    // ---- −5xx: the arena plan -------------------------------------------------------------------
    /// An activation tensor is never written.
    DP_ERR_NO_WRITER = -501,
    /// Two tensors live at the same time overlap in the arena.
    DP_ERR_LIVE_OVERLAP = -502,

    // ---- −6xx: binding and running (doppler_engine::Error) --------------------------------------
    /// The arena is shorter than the blob's planned size (`dp_arena_size`).
    DP_ERR_ARENA_TOO_SMALL = -601,
    /// The arena does not start on a 16-byte boundary.
    DP_ERR_ARENA_MISALIGNED = -602,
    /// No graph input/output with that index.
    DP_ERR_INDEX_OUT_OF_RANGE = -603,
    /// The dtype given does not match the tensor's dtype.
    DP_ERR_WRONG_DTYPE = -604,
    /// The number of bytes given does not match the tensor's size.
    DP_ERR_WRONG_SIZE = -605,
    /// An internal invariant failed (unreachable after validation; reported rather than crashing).
    DP_ERR_INTERNAL = -699,

    // ---- −7xx: C ABI arguments ------------------------------------------------------------------
    /// A required pointer argument is NULL.
    DP_ERR_NULL_POINTER = -701,
    /// `engine_mem_len` is smaller than `dp_engine_size()`.
    DP_ERR_ENGINE_MEM_TOO_SMALL = -702,
    /// `engine_mem` is not `DP_ENGINE_ALIGN`-byte aligned.
    DP_ERR_ENGINE_MEM_MISALIGNED = -703,
    /// The handle is not an initialized engine (never initialized, or its `dp_init` failed).
    DP_ERR_BAD_ENGINE = -704,
    /// A pointer plus its length runs past the end of the address space (or beyond `PTRDIFF_MAX`).
    DP_ERR_BAD_LENGTH = -705,
    /// Buffers overlap: two of the engine memory, the blob and the arena (`dp_init`), or a copy's
    /// source or destination and the arena (`dp_set_input`, `dp_get_output`).
    DP_ERR_OVERLAP = -706,
    /// `dp_verify`: the blob is no longer the bytes `dp_init` validated (it was modified while the
    /// engine was bound to it, which is undefined by contract; re-initialize the engine).
    DP_ERR_BLOB_CHANGED = -707,
}

pub use dp_status::*;

/// Every status code with its message (NUL-terminated, as C reads it).
pub(crate) const STATUS: &[(dp_status, &str)] = &[
    (DP_OK, "ok\0"),
    (DP_ERR_TRUNCATED, "blob is truncated\0"),
    (DP_ERR_TRAILING_BYTES, "blob is longer than its header says\0"),
    (DP_ERR_BAD_MAGIC, "not a Doppler blob (bad magic)\0"),
    (DP_ERR_UNSUPPORTED_VERSION, "unsupported blob format version\0"),
    (DP_ERR_BAD_CHECKSUM, "blob checksum mismatch\0"),
    (DP_ERR_BLOB_MISALIGNED, "blob is not 16-byte aligned in memory\0"),
    (DP_ERR_BAD_HEADER, "reserved header field is not zero\0"),
    (DP_ERR_SECTION_OUT_OF_BOUNDS, "section lies outside the blob or overlaps another\0"),
    (DP_ERR_SECTION_MISALIGNED, "section is not 16-byte aligned\0"),
    (DP_ERR_BAD_TENSOR_TYPE, "tensor has an unknown dtype or kind\0"),
    (DP_ERR_BAD_SHAPE, "tensor has an invalid shape\0"),
    (DP_ERR_BAD_TENSOR_SIZE, "tensor byte size is inconsistent or overflows\0"),
    (DP_ERR_CONSTANT_OUT_OF_BOUNDS, "constant tensor lies outside the data section\0"),
    (DP_ERR_TENSOR_MISALIGNED, "tensor offset is not 16-byte aligned\0"),
    (DP_ERR_ACTIVATION_OUT_OF_ARENA, "activation tensor lies outside the arena\0"),
    (DP_ERR_BAD_QUANTIZATION, "tensor has invalid quantization parameters\0"),
    (DP_ERR_BAD_LIFETIME, "tensor has an invalid lifetime\0"),
    (DP_ERR_IO_INDEX_OUT_OF_RANGE, "graph input/output index out of range\0"),
    (DP_ERR_BAD_IO, "graph input/output is a constant or listed twice\0"),
    (DP_ERR_EMPTY_GRAPH, "graph has no inputs or no outputs\0"),
    (DP_ERR_OUTPUT_NEVER_WRITTEN, "graph output is never written\0"),
    (DP_ERR_UNKNOWN_OPCODE, "unknown opcode\0"),
    (DP_ERR_BAD_ARITY, "op has the wrong number of inputs or outputs\0"),
    (DP_ERR_TENSOR_INDEX_OUT_OF_RANGE, "op tensor index out of range\0"),
    (DP_ERR_BAD_PARAMS_LENGTH, "op parameters out of bounds or of the wrong length\0"),
    (DP_ERR_BAD_PARAMS, "op parameter out of range\0"),
    (DP_ERR_DTYPE_MISMATCH, "op tensor dtypes do not fit the op\0"),
    (DP_ERR_SHAPE_MISMATCH, "op tensor shapes do not fit the op\0"),
    (DP_ERR_QUANT_MISMATCH, "op quantization parameters do not fit the op\0"),
    (DP_ERR_NOT_CONSTANT, "op expects a constant tensor\0"),
    (DP_ERR_WRITES_READ_ONLY, "op writes a constant or a graph input\0"),
    (DP_ERR_MULTIPLE_WRITERS, "tensor is written by more than one op\0"),
    (DP_ERR_READ_BEFORE_WRITE, "op reads a tensor before it is written\0"),
    (DP_ERR_READ_AFTER_LIFETIME, "op reads a tensor after its recorded lifetime\0"),
    (DP_ERR_IN_PLACE, "op writes one of its own inputs\0"),
    (DP_ERR_BAD_SCRATCH, "op scratch tensor is invalid\0"),
    (DP_ERR_NO_WRITER, "activation tensor is never written\0"),
    (DP_ERR_LIVE_OVERLAP, "two live tensors overlap in the arena\0"),
    (DP_ERR_ARENA_TOO_SMALL, "arena is smaller than the model needs\0"),
    (DP_ERR_ARENA_MISALIGNED, "arena is not 16-byte aligned\0"),
    (DP_ERR_INDEX_OUT_OF_RANGE, "input/output index out of range\0"),
    (DP_ERR_WRONG_DTYPE, "element type does not match the tensor dtype\0"),
    (DP_ERR_WRONG_SIZE, "input data has the wrong number of elements\0"),
    (DP_ERR_INTERNAL, "internal error (validator invariant broken)\0"),
    (DP_ERR_NULL_POINTER, "a required pointer argument is NULL\0"),
    (DP_ERR_ENGINE_MEM_TOO_SMALL, "engine memory is smaller than dp_engine_size()\0"),
    (DP_ERR_ENGINE_MEM_MISALIGNED, "engine memory is not 16-byte aligned\0"),
    (DP_ERR_BAD_ENGINE, "not an initialized engine (dp_init did not succeed on it)\0"),
    (DP_ERR_BAD_LENGTH, "pointer + length runs past the end of the address space\0"),
    (DP_ERR_OVERLAP, "buffers overlap (engine memory, blob, arena)\0"),
    (DP_ERR_BLOB_CHANGED, "blob changed since dp_init (re-initialize the engine)\0"),
];

/// The message for codes not in [`STATUS`].
pub(crate) const UNKNOWN: &str = "unknown status\0";

/// The static NUL-terminated message of `status`.
pub(crate) fn message(status: i32) -> &'static str {
    match STATUS.iter().find(|(code, _)| *code as i32 == status) {
        Some((_, msg)) => msg,
        None => UNKNOWN,
    }
}
