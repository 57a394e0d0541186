//! ARMv7-A NEON kernels (stable `asm!`), tuned for Cortex-A9.

/// The directive that lets an `asm!` template use NEON. On stable Rust the surrounding code is
/// not compiled with NEON enabled, so ELF assemblers need `.fpu neon`; Apple's assembler has no
/// `.fpu` directive, and its ARMv7 targets enable NEON already.
#[cfg(not(target_vendor = "apple"))]
macro_rules! fpu_neon {
    () => {
        ".fpu neon"
    };
}
#[cfg(target_vendor = "apple")]
macro_rules! fpu_neon {
    () => {
        ""
    };
}

pub mod binary;
pub mod f32;
pub mod int8;
