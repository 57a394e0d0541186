//! The fastest implementation of every kernel on the target being compiled for, chosen
//! statically: each module re-exports the reference kernels and shadows the ones that have an
//! optimized version on this architecture (an explicit `pub use` shadows a glob import). Every
//! item here has exactly the signature and the results of its reference twin, which is what the
//! shared differential tests in `kernels/tests/` check.
//!
//! The cargo feature `force-reference` turns every shadowing off, so the same engine and test
//! suites can run on the reference kernels alone.

pub mod binary;
pub mod f32;
pub mod int8;
pub mod tensor;

pub use crate::reference::{quant, Window2d};
