//! The Doppler interpreter: binds a validated blob to a caller-owned arena and runs its ops.
//!
//! ```text
//! let mut interp = Interpreter::new(blob, arena)?;   // validates the blob once
//! interp.input_mut::<i8>(0)?.copy_from_slice(&image);
//! interp.invoke()?;
//! let scores = interp.output::<i8>(0)?;
//! ```
//!
//! No allocation, no `unsafe`: the arena is split with `split_at_mut` around each op's output, so
//! the borrow checker — not a comment — proves that no op reads what it writes. Every shape was
//! proven consistent by [`Model::parse`], so `invoke` does no per-op validation beyond the casts.
#![no_std]
#![forbid(unsafe_code)]
// Panic-freedom by construction (docs/SECURITY.md): no panicking operation in the no_std paths.
#![cfg_attr(
    not(test),
    deny(
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod arena;
mod error;
mod exec;

pub use doppler_model_format as format;
pub use doppler_model_format::{DType, Model, OpCode, TensorInfo};
pub use error::Error;

use bytemuck::Pod;

/// Alignment the arena must have (that of every planned offset).
pub const ARENA_ALIGN: usize = doppler_model_format::ALIGN;

/// A Rust element type that matches one blob dtype.
pub trait Element: Pod {
    const DTYPE: DType;
}
impl Element for i8 {
    const DTYPE: DType = DType::I8;
}
impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
/// Bit-packed tensors are exposed as their `u32` words.
impl Element for u32 {
    const DTYPE: DType = DType::B1;
}

/// A model bound to an arena, ready to run.
///
/// `'b` is the blob's lifetime (it must outlive the interpreter: constants are read in place),
/// `'a` the arena's.
pub struct Interpreter<'b, 'a> {
    model: Model<'b>,
    arena: &'a mut [u8],
}

impl<'b, 'a> Interpreter<'b, 'a> {
    /// Validates `blob` and binds it to `arena`, which must be 16-byte aligned and at least
    /// [`required_arena_bytes`] long. The arena is not cleared.
    pub fn new(blob: &'b [u8], arena: &'a mut [u8]) -> Result<Self, Error> {
        let model = Model::parse(blob)?;
        if (arena.as_ptr() as usize).checked_rem(ARENA_ALIGN) != Some(0) {
            return Err(Error::ArenaMisaligned);
        }
        if arena.len() < model.arena_bytes() {
            return Err(Error::ArenaTooSmall { needed: model.arena_bytes(), got: arena.len() });
        }
        Ok(Interpreter { model, arena })
    }

    /// The validated model.
    pub fn model(&self) -> &Model<'b> {
        &self.model
    }

    pub fn input_count(&self) -> usize {
        self.model.input_count()
    }

    pub fn output_count(&self) -> usize {
        self.model.output_count()
    }

    /// Descriptor of graph input `i` (dtype, dims, scale, zero point).
    pub fn input_info(&self, i: usize) -> Result<TensorInfo, Error> {
        self.io_info(self.model.input(i))
    }

    /// Descriptor of graph output `i`.
    pub fn output_info(&self, i: usize) -> Result<TensorInfo, Error> {
        self.io_info(self.model.output(i))
    }

    fn io_info(&self, t: Option<u32>) -> Result<TensorInfo, Error> {
        t.and_then(|t| self.model.tensor(t)).ok_or(Error::IndexOutOfRange)
    }

    /// The raw bytes of graph input `i`, to fill before [`invoke`](Self::invoke).
    pub fn input_bytes_mut(&mut self, i: usize) -> Result<&mut [u8], Error> {
        let t = self.input_info(i)?;
        let end = t.offset.checked_add(t.bytes).ok_or(Error::Internal)?;
        self.arena.get_mut(t.offset..end).ok_or(Error::Internal)
    }

    /// Graph input `i` as a typed slice (`T` must match its dtype).
    pub fn input_mut<T: Element>(&mut self, i: usize) -> Result<&mut [T], Error> {
        if self.input_info(i)?.dtype != T::DTYPE {
            return Err(Error::WrongDtype);
        }
        bytemuck::try_cast_slice_mut(self.input_bytes_mut(i)?).map_err(|_| Error::Internal)
    }

    /// Copies `data` into graph input `i`; its length must be the tensor's element count
    /// (word count for bit-packed tensors).
    pub fn set_input<T: Element>(&mut self, i: usize, data: &[T]) -> Result<(), Error> {
        let dst = self.input_mut::<T>(i)?;
        if dst.len() != data.len() {
            return Err(Error::WrongSize { expected: dst.len(), got: data.len() });
        }
        dst.copy_from_slice(data);
        Ok(())
    }

    /// The raw bytes of graph output `i` (valid after [`invoke`](Self::invoke)).
    pub fn output_bytes(&self, i: usize) -> Result<&[u8], Error> {
        let t = self.output_info(i)?;
        let end = t.offset.checked_add(t.bytes).ok_or(Error::Internal)?;
        self.arena.get(t.offset..end).ok_or(Error::Internal)
    }

    /// Graph output `i` as a typed slice (`T` must match its dtype).
    pub fn output<T: Element>(&self, i: usize) -> Result<&[T], Error> {
        if self.output_info(i)?.dtype != T::DTYPE {
            return Err(Error::WrongDtype);
        }
        bytemuck::try_cast_slice(self.output_bytes(i)?).map_err(|_| Error::Internal)
    }

    /// Runs every op once, in order.
    pub fn invoke(&mut self) -> Result<(), Error> {
        self.invoke_observed(|_, _| {})
    }

    /// As [`invoke`](Self::invoke), calling `after_op(index, opcode)` after each op (per-layer
    /// timing and instruction-count windows hook in here).
    pub fn invoke_observed(&mut self, mut after_op: impl FnMut(usize, OpCode)) -> Result<(), Error> {
        for i in 0..self.model.op_count() {
            let op = self.model.op(i as u32).ok_or(Error::Internal)?;
            exec::run(&self.model, &op, self.arena)?;
            after_op(i, op.opcode);
        }
        Ok(())
    }
}

/// The arena size `blob` needs, read from its (validated) header.
pub fn required_arena_bytes(blob: &[u8]) -> Result<usize, Error> {
    Ok(Model::parse(blob)?.arena_bytes())
}
