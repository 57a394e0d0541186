//! AArch64 NEON kernels, tuned for Cortex-A53/A72.

pub mod binary;
pub mod f32;
pub mod int8;
