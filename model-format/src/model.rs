//! The zero-copy, validating view of a blob.
//!
//! [`Model::parse`] checks every rule of `docs/FORMAT.md` once, without allocating; after it
//! succeeds, every accessor is infallible in practice (they still return `Option` rather than
//! index blindly, so that no code path can panic even if a rule were forgotten).

use bytemuck::Pod;

use crate::error::Error;
use crate::layout::*;
use crate::ops::OpCode;
use crate::validate;

/// A tensor record, decoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorInfo {
    pub index: u32,
    pub dtype: DType,
    pub kind: Kind,
    pub rank: usize,
    /// Logical dims; entries at and beyond `rank` are 1.
    pub dims: [usize; MAX_RANK],
    pub offset: usize,
    pub bytes: usize,
    pub scale: f32,
    pub zero_point: i32,
    pub first: u32,
    pub last: u32,
}

impl TensorInfo {
    /// The dims up to the rank.
    pub fn shape(&self) -> &[usize] {
        self.dims.get(..self.rank.min(MAX_RANK)).unwrap_or(&[])
    }

    /// The rank-4 view with leading 1s (`[2, 3]` → `[1, 1, 2, 3]`).
    pub fn dims4(&self) -> [usize; 4] {
        let mut d = [1usize; 4];
        // Right-aligned: the last dim of the shape lands in d[3].
        for (dst, &src) in d.iter_mut().rev().zip(self.shape().iter().rev()) {
            *dst = src;
        }
        d
    }

    /// Number of logical elements (fits in 32 bits for every validated tensor; saturates, rather
    /// than overflow, for a hand-built `TensorInfo`).
    pub fn elements(&self) -> usize {
        self.dims.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }

    /// Size of the last dimension.
    pub fn last_dim(&self) -> usize {
        self.dims.get(self.rank.clamp(1, MAX_RANK).saturating_sub(1)).copied().unwrap_or(1)
    }

    pub fn is_constant(&self) -> bool {
        self.kind == Kind::Constant
    }

    /// Storage bytes implied by `dtype` and `dims`, or `None` on overflow.
    pub fn storage_bytes(dtype: DType, dims: &[usize]) -> Option<usize> {
        let mut elems: usize = 1;
        for &d in dims {
            elems = elems.checked_mul(d)?;
        }
        match dtype {
            DType::I8 => Some(elems),
            DType::I32 | DType::F32 => elems.checked_mul(4),
            DType::B1 => {
                let last = *dims.last()?;
                let outer = elems.checked_div(last)?;
                outer.checked_mul(last.div_ceil(32))?.checked_mul(4)
            }
        }
    }
}

/// An op record, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    pub index: u32,
    pub opcode: OpCode,
    pub n_inputs: usize,
    pub n_outputs: usize,
    pub io_start: usize,
    pub scratch: Option<u32>,
    pub params_offset: usize,
    pub params_len: usize,
}

/// A validated blob, borrowed in place.
#[derive(Clone, Copy, Debug)]
pub struct Model<'b> {
    blob: &'b [u8],
    header: Header,
}

/// Size of each section of a blob, for `inspect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SectionSizes {
    pub header: usize,
    pub tensors: usize,
    pub ops: usize,
    pub io: usize,
    pub indices: usize,
    pub params: usize,
    pub data: usize,
    pub total: usize,
}

impl<'b> Model<'b> {
    /// Validates `blob` completely (see `docs/FORMAT.md` for the rules) and returns a view of it.
    pub fn parse(blob: &'b [u8]) -> Result<Model<'b>, Error> {
        let header = validate::header(blob)?;
        // `validate::header` proved blob_len <= blob.len().
        let blob = blob.get(..header.blob_len as usize).ok_or(Error::Truncated)?;
        let model = Model { blob, header };
        validate::sections(&model)?;
        validate::tensors(&model)?;
        validate::io(&model)?;
        validate::ops(&model)?;
        validate::writers(&model)?;
        validate::overlaps(&model)?;
        Ok(model)
    }

    /// The header. Only its `blob_len`, arena and informational fields mean anything to callers.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The blob bytes (exactly `blob_len`).
    pub fn bytes(&self) -> &'b [u8] {
        self.blob
    }

    /// Bytes the arena must have.
    pub fn arena_bytes(&self) -> usize {
        self.header.arena_bytes as usize
    }

    pub fn tensor_count(&self) -> usize {
        self.desc(Section::Tensors).count as usize
    }

    pub fn op_count(&self) -> usize {
        self.desc(Section::Ops).count as usize
    }

    pub fn input_count(&self) -> usize {
        self.desc(Section::Inputs).count as usize
    }

    pub fn output_count(&self) -> usize {
        self.desc(Section::Outputs).count as usize
    }

    /// The descriptor of one section (`Section` indexes the 7-entry array: never out of range).
    fn desc(&self, s: Section) -> SectionDesc {
        self.header.sections.get(s as usize).copied().unwrap_or_default()
    }

    /// The bytes of one section (bounds were validated by `parse`).
    pub(crate) fn section(&self, s: Section) -> &'b [u8] {
        let d = self.desc(s);
        let start = d.offset as usize;
        let len = (d.count as usize).saturating_mul(s.unit());
        self.blob.get(start..start.saturating_add(len)).unwrap_or(&[])
    }

    pub fn section_sizes(&self) -> SectionSizes {
        let len = |s| self.section(s).len();
        SectionSizes {
            header: HEADER_BYTES,
            tensors: len(Section::Tensors),
            ops: len(Section::Ops),
            io: len(Section::Inputs).saturating_add(len(Section::Outputs)),
            indices: len(Section::Indices),
            params: len(Section::Params),
            data: len(Section::Data),
            total: self.blob.len(),
        }
    }

    fn record<T: Pod>(&self, s: Section, i: usize) -> Option<T> {
        let size = core::mem::size_of::<T>();
        let start = i.checked_mul(size)?;
        let bytes = self.section(s).get(start..start.checked_add(size)?)?;
        Some(bytemuck::pod_read_unaligned(bytes))
    }

    fn u32_at(&self, s: Section, i: usize) -> Option<u32> {
        self.record::<u32>(s, i).map(u32::from_le)
    }

    pub(crate) fn tensor_record(&self, i: usize) -> Option<TensorRecord> {
        self.record(Section::Tensors, i)
    }

    pub(crate) fn op_record(&self, i: usize) -> Option<OpRecord> {
        self.record(Section::Ops, i)
    }

    /// Tensor `i`, decoded.
    pub fn tensor(&self, i: u32) -> Option<TensorInfo> {
        let r = self.tensor_record(i as usize)?;
        decode_tensor(i, &r).ok()
    }

    /// Op `i`, decoded.
    pub fn op(&self, i: u32) -> Option<OpInfo> {
        let r = self.op_record(i as usize)?;
        Some(OpInfo {
            index: i,
            opcode: OpCode::from_u16(r.opcode)?,
            n_inputs: r.n_inputs as usize,
            n_outputs: r.n_outputs as usize,
            io_start: r.io_start as usize,
            scratch: (r.scratch != NO_TENSOR).then_some(r.scratch),
            params_offset: r.params_offset as usize,
            params_len: r.params_len as usize,
        })
    }

    /// Tensor index of input `k` of `op`.
    pub fn op_input(&self, op: &OpInfo, k: usize) -> Option<u32> {
        if k >= op.n_inputs {
            return None;
        }
        self.u32_at(Section::Indices, op.io_start.checked_add(k)?)
    }

    /// Tensor index of output `k` of `op`.
    pub fn op_output(&self, op: &OpInfo, k: usize) -> Option<u32> {
        if k >= op.n_outputs {
            return None;
        }
        self.u32_at(Section::Indices, op.io_start.checked_add(op.n_inputs)?.checked_add(k)?)
    }

    /// The raw parameter bytes of `op`.
    pub fn params_bytes(&self, op: &OpInfo) -> Option<&'b [u8]> {
        self.section(Section::Params).get(op.params_offset..op.params_offset.checked_add(op.params_len)?)
    }

    /// The parameter record of `op`, read as `P` (its length was validated against the opcode).
    pub fn params<P: Pod>(&self, op: &OpInfo) -> Option<P> {
        let bytes = self.params_bytes(op)?;
        (bytes.len() == core::mem::size_of::<P>()).then(|| bytemuck::pod_read_unaligned(bytes))
    }

    /// Tensor index of graph input `k`.
    pub fn input(&self, k: usize) -> Option<u32> {
        self.u32_at(Section::Inputs, k)
    }

    /// Tensor index of graph output `k`.
    pub fn output(&self, k: usize) -> Option<u32> {
        self.u32_at(Section::Outputs, k)
    }

    /// The bytes of a constant tensor, in place in the blob.
    pub fn constant_bytes(&self, t: &TensorInfo) -> Option<&'b [u8]> {
        if t.kind != Kind::Constant {
            return None;
        }
        self.section(Section::Data).get(t.offset..t.offset.checked_add(t.bytes)?)
    }
}

/// Decodes one tensor record, checking its local rules (everything that does not need the rest
/// of the blob).
pub(crate) fn decode_tensor(i: u32, r: &TensorRecord) -> Result<TensorInfo, Error> {
    let bad_type = Error::BadTensorType { tensor: i };
    let dtype = DType::from_u8(r.dtype).ok_or(bad_type)?;
    let kind = match r.kind {
        0 => Kind::Activation,
        1 => Kind::Constant,
        _ => return Err(bad_type),
    };
    if r.flags != 0 || r.reserved != 0 {
        return Err(bad_type);
    }
    let rank = r.rank as usize;
    if rank == 0 || rank > MAX_RANK {
        return Err(Error::BadShape { tensor: i });
    }
    let mut dims = [1usize; MAX_RANK];
    for (k, (dst, d)) in dims.iter_mut().zip(r.dims.iter()).enumerate() {
        let d = u32::from_le(*d) as usize;
        if (k < rank && d == 0) || (k >= rank && d != 1) {
            return Err(Error::BadShape { tensor: i });
        }
        *dst = d;
    }
    let shape = dims.get(..rank).ok_or(Error::BadShape { tensor: i })?;
    // The element count must fit in 32 bits too (only B1 storage can be smaller than its element
    // count), so that the verdict does not depend on the reader's pointer width.
    let elements_fit = shape.iter().try_fold(1u32, |n, &d| n.checked_mul(d as u32)).is_some();
    let bytes = TensorInfo::storage_bytes(dtype, shape)
        .filter(|b| *b <= u32::MAX as usize && elements_fit)
        .ok_or(Error::BadTensorSize { tensor: i })?;
    if bytes != r.bytes as usize {
        return Err(Error::BadTensorSize { tensor: i });
    }
    let quant_ok = match dtype {
        DType::I8 => r.scale.is_finite() && r.scale > 0.0 && (-128..=127).contains(&r.zero_point),
        _ => r.scale.to_bits() == 0 && r.zero_point == 0,
    };
    if !quant_ok {
        return Err(Error::BadQuantization { tensor: i });
    }
    if (r.offset as usize).checked_rem(ALIGN) != Some(0) {
        return Err(Error::TensorMisaligned { tensor: i });
    }
    Ok(TensorInfo {
        index: i,
        dtype,
        kind,
        rank,
        dims,
        offset: r.offset as usize,
        bytes,
        scale: r.scale,
        zero_point: r.zero_point,
        first: r.first,
        last: r.last,
    })
}
