//! Best available `int8` kernels for this target (see the module docs of `best`).

pub use crate::reference::int8::*;

#[cfg(not(feature = "force-reference"))]
pub use crate::portable::int8::{dequantize_i8_f32, quantize_f32_i8};

#[cfg(all(target_arch = "aarch64", not(feature = "force-reference")))]
pub use crate::arm64::int8::{add_i8, conv2d_i8, depthwise_conv2d_i8, fully_connected_i8};

#[cfg(all(doppler_neon32, not(feature = "force-reference")))]
pub use crate::arm32::int8::{add_i8, conv2d_i8, depthwise_conv2d_i8, fully_connected_i8};

// Plain Rust shared by both ARM builds.
#[cfg(all(any(doppler_neon32, target_arch = "aarch64"), not(feature = "force-reference")))]
pub use crate::neon_common::int8::mean_hw_i8;
