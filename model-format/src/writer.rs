//! Building blobs (host side): declare tensors and ops in execution order, then
//! [`Builder::finish`] computes lifetimes, plans the arena, lays out the sections, writes the
//! CRC, and parses the result back — a builder never hands out a blob the loader would reject.

use std::vec;
use std::vec::Vec;

use bytemuck::{Pod, Zeroable};

use crate::error::Error;
use crate::layout::*;
use crate::model::{Model, TensorInfo};
use crate::ops::OpCode;
use crate::plan::{self, Buffer, Plan};

/// Index of a tensor in the builder (and in the blob).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u32);

/// Per-tensor affine quantization of an int8 tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quant {
    pub scale: f32,
    pub zero_point: i32,
}

impl Quant {
    pub const fn new(scale: f32, zero_point: i32) -> Quant {
        Quant { scale, zero_point }
    }
}

#[derive(Clone, Debug)]
struct TensorDef {
    dtype: DType,
    dims: Vec<usize>,
    quant: Option<Quant>,
    data: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct OpDef {
    opcode: OpCode,
    inputs: Vec<TensorId>,
    outputs: Vec<TensorId>,
    scratch: Option<TensorId>,
    params: Vec<u8>,
}

/// Why a builder could not produce a blob.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildError {
    /// A size or count does not fit the format's 32-bit fields.
    TooLarge,
    /// A tensor's data or dims are inconsistent (named by index).
    BadTensor(u32),
    /// The graph breaks a rule of the format; this is the loader's own verdict.
    Invalid(Error),
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::TooLarge => f.write_str("model too large for the blob format"),
            BuildError::BadTensor(t) => write!(f, "tensor {t}: data does not match its dims"),
            BuildError::Invalid(e) => write!(f, "invalid model: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Graph under construction. Ops run in the order they are added.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    tensors: Vec<TensorDef>,
    ops: Vec<OpDef>,
    inputs: Vec<TensorId>,
    outputs: Vec<TensorId>,
}

/// What [`Builder::finish_with_report`] decided, for `inspect` and tests.
#[derive(Clone, Debug)]
pub struct Report {
    pub plan: Plan,
    pub greedy_arena_bytes: usize,
    pub peak_live_bytes: usize,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn push(&mut self, t: TensorDef) -> TensorId {
        self.tensors.push(t);
        TensorId(self.tensors.len() as u32 - 1)
    }

    /// An activation tensor in the arena.
    pub fn activation(&mut self, dtype: DType, dims: &[usize], quant: Option<Quant>) -> TensorId {
        self.push(TensorDef { dtype, dims: dims.to_vec(), quant, data: None })
    }

    /// An activation tensor the caller fills before `invoke` (a graph input).
    pub fn input(&mut self, dtype: DType, dims: &[usize], quant: Option<Quant>) -> TensorId {
        let t = self.activation(dtype, dims, quant);
        self.inputs.push(t);
        t
    }

    /// Marks `t` as a graph output (in call order).
    pub fn output(&mut self, t: TensorId) {
        self.outputs.push(t);
    }

    /// A constant tensor whose bytes are `data` (little-endian storage of `dtype`).
    pub fn constant_bytes(
        &mut self,
        dtype: DType,
        dims: &[usize],
        quant: Option<Quant>,
        data: Vec<u8>,
    ) -> TensorId {
        self.push(TensorDef { dtype, dims: dims.to_vec(), quant, data: Some(data) })
    }

    pub fn constant_i8(&mut self, dims: &[usize], quant: Quant, data: &[i8]) -> TensorId {
        self.constant_bytes(DType::I8, dims, Some(quant), bytemuck::cast_slice(data).to_vec())
    }

    pub fn constant_i32(&mut self, dims: &[usize], data: &[i32]) -> TensorId {
        self.constant_bytes(DType::I32, dims, None, bytemuck::cast_slice(data).to_vec())
    }

    pub fn constant_f32(&mut self, dims: &[usize], data: &[f32]) -> TensorId {
        self.constant_bytes(DType::F32, dims, None, bytemuck::cast_slice(data).to_vec())
    }

    /// A bit-packed constant (`words` already packed along the last dim, see `DType::B1`).
    pub fn constant_b1(&mut self, dims: &[usize], words: &[u32]) -> TensorId {
        self.constant_bytes(DType::B1, dims, None, bytemuck::cast_slice(words).to_vec())
    }

    /// Appends an op; returns its index.
    pub fn op<P: Pod>(
        &mut self,
        opcode: OpCode,
        inputs: &[TensorId],
        outputs: &[TensorId],
        params: &P,
    ) -> usize {
        self.ops.push(OpDef {
            opcode,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            scratch: None,
            params: bytemuck::bytes_of(params).to_vec(),
        });
        self.ops.len() - 1
    }

    /// Gives op `op` a scratch buffer of `bytes` bytes, live only while it runs.
    pub fn scratch(&mut self, op: usize, bytes: usize) -> TensorId {
        let t = self.activation(DType::I8, &[bytes], Some(Quant::new(1.0, 0)));
        self.ops[op].scratch = Some(t);
        t
    }

    pub fn tensor_dims(&self, t: TensorId) -> &[usize] {
        &self.tensors[t.0 as usize].dims
    }

    /// Lifetimes (see `TensorRecord::first`), for activations only.
    fn lifetimes(&self) -> Vec<Option<(u32, u32)>> {
        let end = self.ops.len() as u32 + 1;
        let mut life: Vec<Option<(u32, u32)>> =
            self.tensors.iter().map(|t| if t.data.is_some() { None } else { Some((u32::MAX, 0)) }).collect();
        let touch = |life: &mut Vec<Option<(u32, u32)>>, t: TensorId, step: u32, write: bool| {
            if let Some(Some((f, l))) = life.get_mut(t.0 as usize) {
                if write {
                    *f = (*f).min(step);
                }
                *l = (*l).max(step);
            }
        };
        for &t in &self.inputs {
            touch(&mut life, t, 0, true);
        }
        for (i, op) in self.ops.iter().enumerate() {
            let step = i as u32 + 1;
            for &t in &op.inputs {
                touch(&mut life, t, step, false);
            }
            for &t in op.outputs.iter().chain(op.scratch.iter()) {
                touch(&mut life, t, step, true);
            }
        }
        for &t in &self.outputs {
            touch(&mut life, t, end, false);
        }
        // A tensor nobody writes keeps first = u32::MAX so that the loader names it (NoWriter).
        for (f, l) in life.iter_mut().flatten() {
            if *f == u32::MAX {
                *f = (*l).max(1);
            }
            *l = (*l).max(*f);
        }
        life
    }

    /// Plans the arena and writes the blob, then validates it with [`Model::parse`].
    pub fn finish(&self) -> Result<AlignedBlob, BuildError> {
        self.finish_with_report().map(|(b, _)| b)
    }

    /// As [`Builder::finish`], also returning the planner's figures.
    pub fn finish_with_report(&self) -> Result<(AlignedBlob, Report), BuildError> {
        let (bytes, report) = self.write_unchecked()?;
        let blob = AlignedBlob::from_bytes(&bytes);
        Model::parse(blob.as_bytes()).map_err(BuildError::Invalid)?;
        Ok((blob, report))
    }

    /// Writes the blob without validating it (tests use this to build malformed blobs).
    pub fn write_unchecked(&self) -> Result<(Vec<u8>, Report), BuildError> {
        let fit = |v: usize| u32::try_from(v).map_err(|_| BuildError::TooLarge);
        let life = self.lifetimes();
        let mut sizes = Vec::with_capacity(self.tensors.len());
        for (i, t) in self.tensors.iter().enumerate() {
            let bytes = TensorInfo::storage_bytes(t.dtype, &t.dims).ok_or(BuildError::BadTensor(i as u32))?;
            if t.data.as_ref().is_some_and(|d| d.len() != bytes)
                || t.dims.is_empty()
                || t.dims.len() > MAX_RANK
            {
                return Err(BuildError::BadTensor(i as u32));
            }
            sizes.push(bytes);
        }
        let act: Vec<usize> = (0..self.tensors.len()).filter(|&i| life[i].is_some()).collect();
        let bufs: Vec<Buffer> = act
            .iter()
            .map(|&i| {
                let (first, last) = life[i].unwrap_or((0, 0));
                Buffer { size: sizes[i], first, last }
            })
            .collect();
        let chosen = plan::plan(&bufs);
        let report = Report {
            greedy_arena_bytes: plan::greedy_by_size(&bufs).arena_bytes,
            peak_live_bytes: plan::lower_bound(&bufs),
            plan: chosen,
        };

        // Constants, in tensor order, each 16-byte aligned.
        let mut data = Vec::new();
        let mut offsets = vec![0usize; self.tensors.len()];
        for (i, t) in self.tensors.iter().enumerate() {
            if let Some(d) = &t.data {
                pad_to(&mut data, ALIGN);
                offsets[i] = data.len();
                data.extend_from_slice(d);
            }
        }
        for (k, &i) in act.iter().enumerate() {
            offsets[i] = report.plan.offsets[k];
        }

        let mut tensors = Vec::new();
        for (i, t) in self.tensors.iter().enumerate() {
            let mut dims = [1u32; 4];
            for (k, &d) in t.dims.iter().enumerate() {
                dims[k] = fit(d)?;
            }
            let q = t.quant.unwrap_or(Quant::new(0.0, 0));
            let (first, last) = life[i].unwrap_or((0, 0));
            let r = TensorRecord {
                dtype: t.dtype as u8,
                kind: if t.data.is_some() { Kind::Constant as u8 } else { Kind::Activation as u8 },
                rank: t.dims.len() as u8,
                flags: 0,
                dims,
                offset: fit(offsets[i])?,
                bytes: fit(sizes[i])?,
                scale: q.scale,
                zero_point: q.zero_point,
                first,
                last,
                reserved: 0,
            };
            tensors.extend_from_slice(bytemuck::bytes_of(&r));
        }

        let mut indices: Vec<u32> = Vec::new();
        let mut params = Vec::new();
        let mut ops = Vec::new();
        for op in &self.ops {
            pad_to(&mut params, 4);
            let r = OpRecord {
                opcode: op.opcode as u16,
                n_inputs: u8::try_from(op.inputs.len()).map_err(|_| BuildError::TooLarge)?,
                n_outputs: u8::try_from(op.outputs.len()).map_err(|_| BuildError::TooLarge)?,
                io_start: fit(indices.len())?,
                scratch: op.scratch.map_or(NO_TENSOR, |t| t.0),
                params_offset: fit(params.len())?,
                params_len: fit(op.params.len())?,
                reserved: [0; 3],
            };
            indices.extend(op.inputs.iter().chain(&op.outputs).map(|t| t.0));
            params.extend_from_slice(&op.params);
            ops.extend_from_slice(bytemuck::bytes_of(&r));
        }
        let ids = |v: &[TensorId]| -> Vec<u8> { v.iter().flat_map(|t| t.0.to_le_bytes()).collect() };

        let counts = [
            self.tensors.len(),
            self.ops.len(),
            self.inputs.len(),
            self.outputs.len(),
            indices.len(),
            params.len(),
            data.len(),
        ];
        let bodies: [Vec<u8>; 7] = [
            tensors,
            ops,
            ids(&self.inputs),
            ids(&self.outputs),
            bytemuck::cast_slice(&indices).to_vec(),
            params,
            data,
        ];
        let mut blob = vec![0u8; HEADER_BYTES];
        let mut sections = [SectionDesc::zeroed(); 7];
        for (k, body) in bodies.iter().enumerate() {
            pad_to(&mut blob, ALIGN);
            sections[k] = SectionDesc { offset: fit(blob.len())?, count: fit(counts[k])? };
            blob.extend_from_slice(body);
        }
        pad_to(&mut blob, ALIGN);
        let header = Header {
            magic: MAGIC,
            version_major: VERSION_MAJOR,
            // The lowest minor whose additions the blob uses: a blob without them stays 1.0.
            version_minor: self
                .ops
                .iter()
                .map(|o| o.opcode.since_minor())
                .max()
                .unwrap_or(0)
                .min(VERSION_MINOR),
            crc32: 0,
            blob_len: fit(blob.len())?,
            flags: 0,
            arena_bytes: fit(report.plan.arena_bytes)?,
            peak_live_bytes: fit(report.peak_live_bytes)?,
            greedy_arena_bytes: fit(report.greedy_arena_bytes)?,
            sections,
            reserved: [0; 2],
        };
        blob[..HEADER_BYTES].copy_from_slice(bytemuck::bytes_of(&header));
        fix_crc(&mut blob);
        Ok((blob, report))
    }
}

fn pad_to(v: &mut Vec<u8>, align: usize) {
    v.resize(v.len().div_ceil(align) * align, 0);
}

/// Recomputes the header CRC after `blob` was edited (tests use it to reach the rules behind
/// the checksum).
pub fn fix_crc(blob: &mut [u8]) {
    if blob.len() >= HEADER_BYTES {
        let crc = crate::layout::crc32(&blob[CRC_START..]);
        blob[8..12].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Edits the header of `blob` in place and fixes the CRC.
pub fn patch_header(blob: &mut [u8], f: impl FnOnce(&mut Header)) {
    let mut h: Header = bytemuck::pod_read_unaligned(&blob[..HEADER_BYTES]);
    f(&mut h);
    blob[..HEADER_BYTES].copy_from_slice(bytemuck::bytes_of(&h));
    fix_crc(blob);
}

fn patch_record<T: Pod>(blob: &mut [u8], s: Section, i: usize, f: impl FnOnce(&mut T)) {
    let h: Header = bytemuck::pod_read_unaligned(&blob[..HEADER_BYTES]);
    let at = h.sections[s as usize].offset as usize + i * core::mem::size_of::<T>();
    let bytes = &mut blob[at..at + core::mem::size_of::<T>()];
    let mut r: T = bytemuck::pod_read_unaligned(bytes);
    f(&mut r);
    bytes.copy_from_slice(bytemuck::bytes_of(&r));
    fix_crc(blob);
}

/// Edits tensor record `i` of `blob` in place and fixes the CRC.
pub fn patch_tensor(blob: &mut [u8], i: usize, f: impl FnOnce(&mut TensorRecord)) {
    patch_record(blob, Section::Tensors, i, f)
}

/// Edits op record `i` of `blob` in place and fixes the CRC.
pub fn patch_op(blob: &mut [u8], i: usize, f: impl FnOnce(&mut OpRecord)) {
    patch_record(blob, Section::Ops, i, f)
}

/// Edits `u32` number `i` of a u32 section (inputs, outputs, indices) and fixes the CRC.
pub fn patch_u32(blob: &mut [u8], s: Section, i: usize, value: u32) {
    patch_record::<u32>(blob, s, i, |v| *v = value)
}

/// 16 bytes on a 16-byte boundary. (`u128` is not enough: it is only 8-byte aligned on 32-bit
/// ARM and on older x86-64 compilers.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);

const _: () = assert!(core::mem::align_of::<Chunk>() == ALIGN && core::mem::size_of::<Chunk>() == ALIGN);

/// A blob in memory that starts on a 16-byte boundary, as [`Model::parse`] requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignedBlob {
    words: Vec<Chunk>,
    len: usize,
}

impl AlignedBlob {
    pub fn from_bytes(bytes: &[u8]) -> AlignedBlob {
        let mut words = vec![Chunk::zeroed(); bytes.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<Chunk, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBlob { words, len: bytes.len() }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<Chunk, u8>(&self.words)[..self.len]
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<Chunk, u8>(&mut self.words)[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
