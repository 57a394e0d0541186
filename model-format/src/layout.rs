//! The on-disk structures, exactly as they lie in the blob (little-endian, `#[repr(C)]`, no
//! implicit padding). Their sizes are part of the format and asserted at compile time.
//!
//! Records are read with `bytemuck::pod_read_unaligned`, so parsing never depends on the
//! blob's alignment; only constant tensors are borrowed in place, which is why the blob itself
//! must be 16-byte aligned.

use bytemuck::{Pod, Zeroable};

/// `b"DPLR"`.
pub const MAGIC: [u8; 4] = *b"DPLR";
/// Bumped for any change that an older reader would misread.
pub const VERSION_MAJOR: u16 = 1;
/// Bumped for additions an older reader rejects cleanly (new opcodes, new dtypes); the highest
/// minor this reader accepts. 1.1 added the opcodes Tanh and TransposeConv2d
/// ([`crate::ops::OpCode::since_minor`]).
pub const VERSION_MINOR: u16 = 1;
/// Alignment of every section, every constant tensor and every arena offset.
pub const ALIGN: usize = 16;
/// Largest tensor rank.
pub const MAX_RANK: usize = 4;
/// Largest number of inputs of one op (Concatenation is the only op with a variable count).
pub const MAX_OP_INPUTS: usize = 16;
/// Marks "no tensor" in [`OpRecord::scratch`].
pub const NO_TENSOR: u32 = u32::MAX;

/// Section indices, in the order their descriptors appear in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Section {
    Tensors = 0,
    Ops = 1,
    Inputs = 2,
    Outputs = 3,
    Indices = 4,
    Params = 5,
    Data = 6,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Tensors,
        Section::Ops,
        Section::Inputs,
        Section::Outputs,
        Section::Indices,
        Section::Params,
        Section::Data,
    ];

    /// Bytes per element of `count` in the section descriptor.
    pub const fn unit(self) -> usize {
        match self {
            Section::Tensors => core::mem::size_of::<TensorRecord>(),
            Section::Ops => core::mem::size_of::<OpRecord>(),
            Section::Inputs | Section::Outputs | Section::Indices => 4,
            Section::Params | Section::Data => 1,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Section::Tensors => "tensors",
            Section::Ops => "ops",
            Section::Inputs => "inputs",
            Section::Outputs => "outputs",
            Section::Indices => "indices",
            Section::Params => "params",
            Section::Data => "data",
        }
    }
}

/// Where a section lies: `offset` bytes from the blob start, `count` units (see [`Section::unit`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct SectionDesc {
    pub offset: u32,
    pub count: u32,
}

/// The 96-byte header at offset 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Header {
    pub magic: [u8; 4],
    pub version_major: u16,
    pub version_minor: u16,
    /// CRC-32 (IEEE 802.3, as zlib) of bytes `[12, blob_len)`: everything after this field.
    pub crc32: u32,
    pub blob_len: u32,
    /// Must be 0 in version 1.
    pub flags: u32,
    /// Bytes the caller's arena must have: activations and scratch as planned offline.
    pub arena_bytes: u32,
    /// Informational: the most bytes live at once (the lower bound of any plan).
    pub peak_live_bytes: u32,
    /// Informational: what TFLM's greedy planner would need for the same tensors.
    pub greedy_arena_bytes: u32,
    pub sections: [SectionDesc; 7],
    pub reserved: [u32; 2],
}

pub const HEADER_BYTES: usize = 96;
/// First byte covered by the CRC.
pub const CRC_START: usize = 12;

/// The blob checksum: CRC-32/ISO-HDLC (the zlib/PNG CRC-32), computed bytewise with a 1 KiB table
/// — small enough for a Cortex-M flash budget, where a slice-by-16 table would cost 16 KiB.
pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The checksum of `bytes` as stored in the header.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    /// int8, quantized: real = scale · (q − zero_point).
    I8 = 1,
    /// int32 (biases, requantization multipliers and shifts, thresholds).
    I32 = 2,
    /// IEEE-754 binary32.
    F32 = 3,
    /// Binary ±1 values bit-packed along the last dimension into little-endian `u32` words
    /// (bit set = −1). The dims are the logical ones; storage rounds the last dim up to 32.
    B1 = 4,
}

impl DType {
    pub const fn from_u8(v: u8) -> Option<DType> {
        match v {
            1 => Some(DType::I8),
            2 => Some(DType::I32),
            3 => Some(DType::F32),
            4 => Some(DType::B1),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            DType::I8 => "int8",
            DType::I32 => "int32",
            DType::F32 => "float32",
            DType::B1 => "bitpacked",
        }
    }
}

/// Where a tensor's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// In the caller's arena, at `offset`; written by one op (or by the caller, for graph inputs).
    Activation = 0,
    /// In the blob's data section, at `offset` from the section start; read-only.
    Constant = 1,
}

/// One tensor (48 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct TensorRecord {
    pub dtype: u8,
    pub kind: u8,
    pub rank: u8,
    pub flags: u8,
    /// Logical dimensions; entries at and beyond `rank` must be 1.
    pub dims: [u32; 4],
    /// Arena offset (activations) or data-section offset (constants); 16-byte aligned.
    pub offset: u32,
    /// Storage bytes; must equal the size the dims and dtype imply.
    pub bytes: u32,
    /// Quantization of int8 tensors (scale > 0, finite; zero point in [−128, 127]); 0 otherwise.
    pub scale: f32,
    pub zero_point: i32,
    /// Activations: the time step the tensor is written (0 = graph input, i + 1 = op i)
    /// and the last time step it is read (op count + 1 for graph outputs). Constants: 0, 0.
    pub first: u32,
    pub last: u32,
    pub reserved: u32,
}

/// One op (32 bytes). Its tensor indices are `indices[io_start .. io_start + n_inputs + n_outputs]`,
/// inputs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct OpRecord {
    pub opcode: u16,
    pub n_inputs: u8,
    pub n_outputs: u8,
    pub io_start: u32,
    /// An activation tensor used only by this op as scratch memory, or [`NO_TENSOR`].
    pub scratch: u32,
    /// Byte offset and length of this op's parameters in the params section.
    pub params_offset: u32,
    pub params_len: u32,
    pub reserved: [u32; 3],
}

const _: () = {
    assert!(core::mem::size_of::<Header>() == HEADER_BYTES);
    assert!(core::mem::size_of::<SectionDesc>() == 8);
    assert!(core::mem::size_of::<TensorRecord>() == 48);
    assert!(core::mem::size_of::<OpRecord>() == 32);
    assert!(core::mem::offset_of!(Header, crc32) == 8);
    assert!(core::mem::offset_of!(Header, sections) == 32);
};
