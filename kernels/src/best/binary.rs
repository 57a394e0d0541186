//! Best available `binary` kernels for this target (see the module docs of `best`).

pub use crate::reference::binary::*;

// ARMv7-A NEON (`doppler_neon32`: A-profile 32-bit targets, see build.rs).
#[cfg(all(doppler_neon32, not(feature = "force-reference")))]
pub use crate::arm32::binary::{bconv2d_bits, bconv2d_f32, bconv2d_i8, max_pool_bits, pack_f32, pack_i8};

// AArch64 NEON.
#[cfg(all(target_arch = "aarch64", not(feature = "force-reference")))]
pub use crate::arm64::binary::{bconv2d_bits, bconv2d_f32, bconv2d_i8, max_pool_bits, pack_f32, pack_i8};
