//! Why a blob was rejected. Every variant is one rule of `docs/FORMAT.md`; each has a stable
//! numeric code (used as-is by the C ABI) that never changes meaning once released.

use crate::layout::Section;

/// A rule a blob broke. Indices name the offending tensor or op so that a converter author can
/// find it with `doppler inspect`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    // ---- the blob as a whole ----
    /// Shorter than its header, or than the length its header declares.
    Truncated,
    /// Longer than the length its header declares.
    TrailingBytes,
    /// The first four bytes are not `DPLR`.
    BadMagic,
    /// A major version this reader does not know, or a newer minor version.
    UnsupportedVersion { major: u16, minor: u16 },
    /// The CRC-32 over the contents does not match the header.
    BadChecksum,
    /// The blob does not start on a 16-byte boundary in memory (constants are read in place).
    BlobMisaligned,
    /// A reserved header field or flag is not zero.
    BadHeader,
    /// A section lies outside the blob, overlaps the header or another section, or its
    /// length overflows.
    SectionOutOfBounds { section: Section },
    /// A section does not start on a 16-byte boundary.
    SectionMisaligned { section: Section },

    // ---- tensors ----
    /// Unknown dtype or kind byte, nonzero flags, or nonzero reserved field.
    BadTensorType { tensor: u32 },
    /// Rank 0 or above 4, a zero dimension, or a dimension beyond the rank that is not 1.
    BadShape { tensor: u32 },
    /// The element count or byte size overflows, or `bytes` differs from what dims and dtype imply.
    BadTensorSize { tensor: u32 },
    /// A constant's bytes lie outside the data section.
    ConstantOutOfBounds { tensor: u32 },
    /// A constant or activation offset is not 16-byte aligned.
    TensorMisaligned { tensor: u32 },
    /// An activation's bytes lie outside the planned arena.
    ActivationOutOfArena { tensor: u32 },
    /// An int8 tensor's scale is not finite and positive, its zero point is outside
    /// [−128, 127], or a non-int8 tensor carries quantization.
    BadQuantization { tensor: u32 },
    /// A constant with a lifetime, or an activation whose lifetime is empty or beyond the graph.
    BadLifetime { tensor: u32 },

    // ---- graph inputs and outputs ----
    /// A graph input/output index is not a tensor.
    IoIndexOutOfRange,
    /// A graph input or output is a constant, is listed twice, or is both input and output.
    BadIo { tensor: u32 },
    /// The graph has no inputs or no outputs.
    EmptyGraph,
    /// A graph output is never written by an op.
    OutputNeverWritten { tensor: u32 },

    // ---- ops ----
    /// An opcode this reader does not know.
    UnknownOpcode { op: u32, opcode: u16 },
    /// Wrong number of inputs or outputs for the opcode, or reserved fields set.
    BadArity { op: u32 },
    /// The op's tensor list lies outside the index section, or names a tensor that does not
    /// exist, or its scratch tensor does not exist.
    TensorIndexOutOfRange { op: u32 },
    /// The params lie outside the params section, or have the wrong length for the opcode.
    BadParamsLength { op: u32 },
    /// A parameter is out of range (zero stride, unknown rounding mode, clamp min > max, …).
    BadParams { op: u32 },
    /// A tensor has a dtype the op does not accept, or the dtypes do not fit together.
    DtypeMismatch { op: u32 },
    /// The shapes violate the op's shape equation.
    ShapeMismatch { op: u32 },
    /// Quantization parameters the op requires to match (or to take a fixed value) do not, or
    /// a requantization multiplier/shift is out of range.
    QuantMismatch { op: u32 },
    /// A tensor the op must read from the blob (weights, tables, multipliers) is an activation.
    NotConstant { op: u32 },
    /// The op writes a constant or a graph input.
    WritesReadOnly { op: u32, tensor: u32 },
    /// The op's output tensor does not record this op as its writer (a second writer).
    MultipleWriters { op: u32, tensor: u32 },
    /// The op reads an activation that no earlier op wrote (which also rejects cycles).
    ReadBeforeWrite { op: u32, tensor: u32 },
    /// The op reads a tensor whose recorded lifetime ends before this op.
    ReadAfterLifetime { op: u32, tensor: u32 },
    /// The op lists the same tensor as input and output (or as scratch).
    InPlace { op: u32, tensor: u32 },
    /// The scratch tensor is not an activation used only at this op.
    BadScratch { op: u32 },

    // ---- activations and the arena ----
    /// An activation's lifetime claims a writer that does not write it.
    NoWriter { tensor: u32 },
    /// Two tensors live at the same time share arena bytes.
    LiveOverlap { a: u32, b: u32 },
}

impl Error {
    /// A stable negative status code, grouped by class: −1xx blob, −2xx tensor, −3xx graph I/O,
    /// −4xx op, −5xx arena plan.
    pub const fn code(&self) -> i32 {
        match self {
            Error::Truncated => -101,
            Error::TrailingBytes => -102,
            Error::BadMagic => -103,
            Error::UnsupportedVersion { .. } => -104,
            Error::BadChecksum => -105,
            Error::BlobMisaligned => -106,
            Error::BadHeader => -107,
            Error::SectionOutOfBounds { .. } => -108,
            Error::SectionMisaligned { .. } => -109,
            Error::BadTensorType { .. } => -201,
            Error::BadShape { .. } => -202,
            Error::BadTensorSize { .. } => -203,
            Error::ConstantOutOfBounds { .. } => -204,
            Error::TensorMisaligned { .. } => -205,
            Error::ActivationOutOfArena { .. } => -206,
            Error::BadQuantization { .. } => -207,
            Error::BadLifetime { .. } => -208,
            Error::IoIndexOutOfRange => -301,
            Error::BadIo { .. } => -302,
            Error::EmptyGraph => -303,
            Error::OutputNeverWritten { .. } => -304,
            Error::UnknownOpcode { .. } => -401,
            Error::BadArity { .. } => -402,
            Error::TensorIndexOutOfRange { .. } => -403,
            Error::BadParamsLength { .. } => -404,
            Error::BadParams { .. } => -405,
            Error::DtypeMismatch { .. } => -406,
            Error::ShapeMismatch { .. } => -407,
            Error::QuantMismatch { .. } => -408,
            Error::NotConstant { .. } => -409,
            Error::WritesReadOnly { .. } => -410,
            Error::MultipleWriters { .. } => -411,
            Error::ReadBeforeWrite { .. } => -412,
            Error::ReadAfterLifetime { .. } => -413,
            Error::InPlace { .. } => -414,
            Error::BadScratch { .. } => -415,
            Error::NoWriter { .. } => -501,
            Error::LiveOverlap { .. } => -502,
        }
    }

    /// A static one-line description of the rule (for C callers and logs).
    pub const fn message(&self) -> &'static str {
        match self {
            Error::Truncated => "blob is truncated",
            Error::TrailingBytes => "blob is longer than its header says",
            Error::BadMagic => "not a Doppler blob (bad magic)",
            Error::UnsupportedVersion { .. } => "unsupported blob format version",
            Error::BadChecksum => "blob checksum mismatch",
            Error::BlobMisaligned => "blob is not 16-byte aligned in memory",
            Error::BadHeader => "reserved header field is not zero",
            Error::SectionOutOfBounds { .. } => "section lies outside the blob or overlaps another",
            Error::SectionMisaligned { .. } => "section is not 16-byte aligned",
            Error::BadTensorType { .. } => "tensor has an unknown dtype or kind",
            Error::BadShape { .. } => "tensor has an invalid shape",
            Error::BadTensorSize { .. } => "tensor byte size is inconsistent or overflows",
            Error::ConstantOutOfBounds { .. } => "constant tensor lies outside the data section",
            Error::TensorMisaligned { .. } => "tensor offset is not 16-byte aligned",
            Error::ActivationOutOfArena { .. } => "activation tensor lies outside the arena",
            Error::BadQuantization { .. } => "tensor has invalid quantization parameters",
            Error::BadLifetime { .. } => "tensor has an invalid lifetime",
            Error::IoIndexOutOfRange => "graph input/output index out of range",
            Error::BadIo { .. } => "graph input/output is a constant or listed twice",
            Error::EmptyGraph => "graph has no inputs or no outputs",
            Error::OutputNeverWritten { .. } => "graph output is never written",
            Error::UnknownOpcode { .. } => "unknown opcode",
            Error::BadArity { .. } => "op has the wrong number of inputs or outputs",
            Error::TensorIndexOutOfRange { .. } => "op tensor index out of range",
            Error::BadParamsLength { .. } => "op parameters out of bounds or of the wrong length",
            Error::BadParams { .. } => "op parameter out of range",
            Error::DtypeMismatch { .. } => "op tensor dtypes do not fit the op",
            Error::ShapeMismatch { .. } => "op tensor shapes do not fit the op",
            Error::QuantMismatch { .. } => "op quantization parameters do not fit the op",
            Error::NotConstant { .. } => "op expects a constant tensor",
            Error::WritesReadOnly { .. } => "op writes a constant or a graph input",
            Error::MultipleWriters { .. } => "tensor is written by more than one op",
            Error::ReadBeforeWrite { .. } => "op reads a tensor before it is written",
            Error::ReadAfterLifetime { .. } => "op reads a tensor after its recorded lifetime",
            Error::InPlace { .. } => "op writes one of its own inputs",
            Error::BadScratch { .. } => "op scratch tensor is invalid",
            Error::NoWriter { .. } => "activation tensor is never written",
            Error::LiveOverlap { .. } => "two live tensors overlap in the arena",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())?;
        match *self {
            Error::UnsupportedVersion { major, minor } => write!(f, " ({major}.{minor})"),
            Error::SectionOutOfBounds { section } | Error::SectionMisaligned { section } => {
                write!(f, " (section {})", section.name())
            }
            Error::BadTensorType { tensor }
            | Error::BadShape { tensor }
            | Error::BadTensorSize { tensor }
            | Error::ConstantOutOfBounds { tensor }
            | Error::TensorMisaligned { tensor }
            | Error::ActivationOutOfArena { tensor }
            | Error::BadQuantization { tensor }
            | Error::BadLifetime { tensor }
            | Error::BadIo { tensor }
            | Error::OutputNeverWritten { tensor }
            | Error::NoWriter { tensor } => write!(f, " (tensor {tensor})"),
            Error::UnknownOpcode { op, opcode } => write!(f, " (op {op}: opcode {opcode})"),
            Error::BadArity { op }
            | Error::TensorIndexOutOfRange { op }
            | Error::BadParamsLength { op }
            | Error::BadParams { op }
            | Error::DtypeMismatch { op }
            | Error::ShapeMismatch { op }
            | Error::QuantMismatch { op }
            | Error::NotConstant { op }
            | Error::BadScratch { op } => write!(f, " (op {op})"),
            Error::WritesReadOnly { op, tensor }
            | Error::MultipleWriters { op, tensor }
            | Error::ReadBeforeWrite { op, tensor }
            | Error::ReadAfterLifetime { op, tensor }
            | Error::InPlace { op, tensor } => write!(f, " (op {op}, tensor {tensor})"),
            Error::LiveOverlap { a, b } => write!(f, " (tensors {a} and {b})"),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
