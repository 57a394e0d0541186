//! The load-time rules of `docs/FORMAT.md`, in the order `Model::parse` applies them. Nothing
//! here allocates: per-tensor facts that a graph pass would normally collect into a vector
//! (who writes a tensor, when it is last read) are stored in the tensor records by the writer and
//! *verified* here, each in O(1) per use.

use crate::error::Error;
use crate::layout::*;
use crate::model::{decode_tensor, Model, TensorInfo};
use crate::op_rules;
use crate::ops::OpCode;

pub(crate) fn header(blob: &[u8]) -> Result<Header, Error> {
    if blob.get(..4).is_some_and(|m| m != MAGIC) {
        return Err(Error::BadMagic);
    }
    let Some(head) = blob.get(..HEADER_BYTES) else {
        return Err(Error::Truncated);
    };
    let h: Header = bytemuck::pod_read_unaligned(head);
    if h.version_major != VERSION_MAJOR || h.version_minor > VERSION_MINOR {
        return Err(Error::UnsupportedVersion { major: h.version_major, minor: h.version_minor });
    }
    let len = h.blob_len as usize;
    if blob.len() < len || len < HEADER_BYTES {
        return Err(Error::Truncated);
    }
    if blob.len() > len {
        return Err(Error::TrailingBytes);
    }
    // blob.len() == len >= HEADER_BYTES > CRC_START here.
    if crate::layout::crc32(blob.get(CRC_START..).unwrap_or(&[])) != h.crc32 {
        return Err(Error::BadChecksum);
    }
    if (blob.as_ptr() as usize).checked_rem(ALIGN) != Some(0) {
        return Err(Error::BlobMisaligned);
    }
    if h.flags != 0 || h.reserved != [0, 0] {
        return Err(Error::BadHeader);
    }
    Ok(h)
}

/// Sections lie in header order, after the header, 16-byte aligned, without overlap.
pub(crate) fn sections(m: &Model) -> Result<(), Error> {
    let h = m.header();
    let mut end = HEADER_BYTES;
    for s in Section::ALL {
        let d = h.sections.get(s as usize).copied().unwrap_or_default();
        let start = d.offset as usize;
        if start.checked_rem(ALIGN) != Some(0) {
            return Err(Error::SectionMisaligned { section: s });
        }
        let this_end = (d.count as usize)
            .checked_mul(s.unit())
            .and_then(|len| start.checked_add(len))
            .filter(|e| start >= end && *e <= h.blob_len as usize)
            .ok_or(Error::SectionOutOfBounds { section: s })?;
        end = this_end;
    }
    Ok(())
}

/// Every tensor record on its own, and its place in the data section or the arena.
pub(crate) fn tensors(m: &Model) -> Result<(), Error> {
    let data_len = m.section_sizes().data;
    let last_step = (m.op_count() as u64).saturating_add(1);
    for i in 0..m.tensor_count() {
        let t = tensor_at(m, i)?;
        let tensor = t.index;
        match t.kind {
            Kind::Constant => {
                if t.offset.checked_add(t.bytes).is_none_or(|e| e > data_len) {
                    return Err(Error::ConstantOutOfBounds { tensor });
                }
                if t.first != 0 || t.last != 0 {
                    return Err(Error::BadLifetime { tensor });
                }
            }
            Kind::Activation => {
                if t.offset.checked_add(t.bytes).is_none_or(|e| e > m.arena_bytes()) {
                    return Err(Error::ActivationOutOfArena { tensor });
                }
                if t.first > t.last || t.last as u64 > last_step {
                    return Err(Error::BadLifetime { tensor });
                }
            }
        }
    }
    Ok(())
}

fn tensor_at(m: &Model, i: usize) -> Result<TensorInfo, Error> {
    let r = m.tensor_record(i).ok_or(Error::SectionOutOfBounds { section: Section::Tensors })?;
    decode_tensor(i as u32, &r)
}

/// Graph inputs and outputs: distinct activations; inputs live from step 0, outputs to the end.
pub(crate) fn io(m: &Model) -> Result<(), Error> {
    let (n_in, n_out) = (m.input_count(), m.output_count());
    if n_in == 0 || n_out == 0 {
        return Err(Error::EmptyGraph);
    }
    let io_index = |k: usize| -> Result<u32, Error> {
        let t = if k < n_in { m.input(k) } else { k.checked_sub(n_in).and_then(|j| m.output(j)) };
        t.filter(|t| (*t as usize) < m.tensor_count()).ok_or(Error::IoIndexOutOfRange)
    };
    let end = (m.op_count() as u32).saturating_add(1);
    for k in 0..n_in.saturating_add(n_out) {
        let tensor = io_index(k)?;
        for j in 0..k {
            if io_index(j)? == tensor {
                return Err(Error::BadIo { tensor });
            }
        }
        let t = tensor_at(m, tensor as usize)?;
        if t.kind != Kind::Activation {
            return Err(Error::BadIo { tensor });
        }
        let lifetime_ok = if k < n_in { t.first == 0 } else { t.last == end };
        if !lifetime_ok {
            return Err(Error::BadLifetime { tensor });
        }
    }
    Ok(())
}

fn is_graph_input(m: &Model, tensor: u32) -> bool {
    (0..m.input_count()).any(|k| m.input(k) == Some(tensor))
}

/// Every op: known opcode, indices and params in bounds, the dataflow rules, then the op's own
/// dtype / shape / quantization rules.
pub(crate) fn ops(m: &Model) -> Result<(), Error> {
    let index_count = m.section_sizes().indices / 4;
    let params_len = m.section_sizes().params;
    for i in 0..m.op_count() {
        let op = i as u32;
        let r = m.op_record(i).ok_or(Error::SectionOutOfBounds { section: Section::Ops })?;
        let opcode = OpCode::from_u16(r.opcode)
            .filter(|c| c.since_minor() <= m.header().version_minor)
            .ok_or(Error::UnknownOpcode { op, opcode: r.opcode })?;
        if r.reserved != [0; 3] || r.n_outputs == 0 || r.n_inputs as usize > MAX_OP_INPUTS {
            return Err(Error::BadArity { op });
        }
        let io_end =
            (r.io_start as usize).checked_add((r.n_inputs as usize).saturating_add(r.n_outputs as usize));
        if io_end.is_none_or(|e| e > index_count) {
            return Err(Error::TensorIndexOutOfRange { op });
        }
        let p_end = (r.params_offset as usize).checked_add(r.params_len as usize);
        if p_end.is_none_or(|e| e > params_len) || r.params_len as usize != opcode.params_len() {
            return Err(Error::BadParamsLength { op });
        }
        let info = m.op(op).ok_or(Error::BadArity { op })?;
        let step = op.saturating_add(1); // op < op_count <= u32::MAX: never saturates
        let input = |k| m.op_input(&info, k).ok_or(Error::TensorIndexOutOfRange { op });
        let output = |k| m.op_output(&info, k).ok_or(Error::TensorIndexOutOfRange { op });
        let get = |t: u32| m.tensor(t).ok_or(Error::TensorIndexOutOfRange { op });
        for k in 0..info.n_outputs {
            let tensor = output(k)?;
            let t = get(tensor)?;
            if t.kind != Kind::Activation || is_graph_input(m, tensor) {
                return Err(Error::WritesReadOnly { op, tensor });
            }
            if t.first != step {
                let other_writer =
                    t.first.checked_sub(1).and_then(|p| m.op(p)).is_some_and(|o| writes(m, &o, tensor));
                return Err(if other_writer {
                    Error::MultipleWriters { op, tensor }
                } else {
                    Error::BadLifetime { tensor }
                });
            }
            for j in 0..k {
                if output(j)? == tensor {
                    return Err(Error::MultipleWriters { op, tensor });
                }
            }
        }
        for k in 0..info.n_inputs {
            let tensor = input(k)?;
            let t = get(tensor)?;
            if (0..info.n_outputs).any(|j| m.op_output(&info, j) == Some(tensor))
                || info.scratch == Some(tensor)
            {
                return Err(Error::InPlace { op, tensor });
            }
            if t.kind == Kind::Activation {
                if t.first >= step {
                    return Err(Error::ReadBeforeWrite { op, tensor });
                }
                if t.last < step {
                    return Err(Error::ReadAfterLifetime { op, tensor });
                }
            }
        }
        if let Some(s) = info.scratch {
            let t = m.tensor(s).ok_or(Error::TensorIndexOutOfRange { op })?;
            let is_output = (0..info.n_outputs).any(|j| m.op_output(&info, j) == Some(s));
            if t.kind != Kind::Activation || t.first != step || t.last != step || is_output {
                return Err(Error::BadScratch { op });
            }
        }
        op_rules::check(m, &info)?;
    }
    Ok(())
}

/// Does `op` write `tensor` (as an output or as its scratch)?
fn writes(m: &Model, op: &crate::model::OpInfo, tensor: u32) -> bool {
    op.scratch == Some(tensor) || (0..op.n_outputs).any(|k| m.op_output(op, k) == Some(tensor))
}

/// Every activation that claims to be written at step `first > 0` is written by op `first − 1`;
/// one that claims step 0 is a graph input.
pub(crate) fn writers(m: &Model) -> Result<(), Error> {
    for k in 0..m.output_count() {
        let tensor = m.output(k).ok_or(Error::IoIndexOutOfRange)?;
        let t = tensor_at(m, tensor as usize)?;
        let written = t.first.checked_sub(1).and_then(|p| m.op(p)).is_some_and(|o| writes(m, &o, tensor));
        if !written {
            return Err(Error::OutputNeverWritten { tensor });
        }
    }
    for i in 0..m.tensor_count() {
        let t = tensor_at(m, i)?;
        let tensor = t.index;
        if t.kind != Kind::Activation {
            continue;
        }
        let ok = if t.first == 0 {
            is_graph_input(m, tensor)
        } else {
            t.first.checked_sub(1).and_then(|p| m.op(p)).is_some_and(|o| writes(m, &o, tensor))
        };
        if !ok {
            return Err(Error::NoWriter { tensor });
        }
    }
    Ok(())
}

/// No two activations whose lifetimes intersect share arena bytes. Quadratic in the number of
/// activations, which is a few hundred even for large CNNs.
pub(crate) fn overlaps(m: &Model) -> Result<(), Error> {
    for a in 0..m.tensor_count() {
        let ta = tensor_at(m, a)?;
        if ta.kind != Kind::Activation {
            continue;
        }
        for b in a.saturating_add(1)..m.tensor_count() {
            let tb = tensor_at(m, b)?;
            if tb.kind != Kind::Activation {
                continue;
            }
            let live_together = ta.first <= tb.last && tb.first <= ta.last;
            // `tensors` proved offset + bytes <= arena_bytes for activations: no saturation happens.
            let share_bytes = ta.offset < tb.offset.saturating_add(tb.bytes)
                && tb.offset < ta.offset.saturating_add(ta.bytes);
            if live_together && share_bytes {
                return Err(Error::LiveOverlap { a: ta.index, b: tb.index });
            }
        }
    }
    Ok(())
}
