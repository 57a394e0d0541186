//! AArch64 NEON kernels, tuned for Cortex-A53/A72.

pub mod f32;
pub mod int8;

pub mod binary;
