//! ARMv7-A NEON kernels (stable `asm!`), tuned for Cortex-A9.

pub mod binary;
pub mod f32;
pub mod int8;
