//! Doppler's compute kernels: pure functions on slices, with no knowledge of graphs or blobs.
//!
//! * [`reference`] — deliberately naive portable Rust. These are the *oracles*: every optimized
//!   kernel must be bit-exact to them (int8, binary) or within a documented tolerance (f32).
//! * [`portable`] — plain-Rust kernels for every target that only reorder memory accesses,
//!   bit-identical to their reference twins (padding by row copies, channel-blocked instance
//!   normalization, table-driven dequantization, quantization without `roundf`).
//! * `arm32` / `arm64` — hand-written NEON kernels (the only `unsafe` in the crate), selected
//!   statically (`cfg(doppler_neon32)` from build.rs, `cfg(target_arch = "aarch64")`) into [`best`], which is what the engine calls.
//!
//! Layout conventions shared by every kernel:
//! * activations are NHWC, row-major, batch outermost;
//! * conv filters are OHWI (`[out_c][k_h][k_w][in_c]`, TFLite's layout); depthwise filters are
//!   `[k_h][k_w][in_c * depth_multiplier]`; fully-connected weights are `[out][in]`;
//! * binary tensors are bit-packed along channels into little-endian `u32` words: bit `c % 32` of
//!   word `c / 32` is 1 when the value is −1 (x < 0). Padding bits of the last word are 0.
//!
//! Kernels trust their geometry: the engine validates every shape once at load time, so kernels
//! only `debug_assert!` slice lengths. A kernel given inconsistent slices may panic; it never
//! reads or writes out of bounds (all indexing is checked).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod best;
pub mod portable;
pub mod reference;

#[cfg(all(doppler_neon32, not(feature = "force-reference")))]
pub mod arm32;
#[cfg(all(target_arch = "aarch64", not(feature = "force-reference")))]
pub mod arm64;
#[cfg(all(any(doppler_neon32, target_arch = "aarch64"), not(feature = "force-reference")))]
mod neon_common;
