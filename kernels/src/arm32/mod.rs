//! ARMv7-A NEON kernels (stable `asm!`), tuned for Cortex-A9.
