//! AArch64 NEON kernels, tuned for Cortex-A53/A72.
