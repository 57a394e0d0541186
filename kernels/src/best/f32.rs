//! Best available `f32` kernels for this target (see the module docs of `best`).

pub use crate::reference::f32::*;

#[cfg(not(feature = "force-reference"))]
pub use crate::portable::f32::instance_norm_f32;

#[cfg(all(target_arch = "aarch64", not(feature = "force-reference")))]
pub use crate::arm64::f32::{conv2d_f32, fully_connected_f32};

#[cfg(all(doppler_neon32, not(feature = "force-reference")))]
pub use crate::arm32::f32::{conv2d_f32, fully_connected_f32};
