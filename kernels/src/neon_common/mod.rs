//! Plain-Rust helpers shared by the ARMv7-A (`arm32`) and AArch64 (`arm64`) NEON kernels:
//! planning, checks and bookkeeping that do not depend on the architecture. The asm, its
//! argument structs and everything tuned per core stay in the architecture modules.

pub(crate) mod binary;
pub(crate) mod int8;
