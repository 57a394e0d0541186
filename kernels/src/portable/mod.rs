//! Faster plain-Rust versions of reference kernels, for every target (no `unsafe`, no asm).
//!
//! They change only the memory access order — row copies instead of per-element index maps,
//! channel-blocked loops instead of strided ones — and keep every arithmetic operation of their
//! reference twin in the same order, so their results are **bit-identical** to it, for float
//! kernels too. `kernels/tests/differential_portable.rs` checks exactly that.

pub mod f32;
pub mod int8;
pub mod tensor;
