//! Portable reference kernels: the oracles every optimized kernel is tested against.
//!
//! Written for obviousness, not speed: plain nested loops in the order the TFLite / Larq
//! reference implementations define the arithmetic, so that integer results are bit-exact.

#![forbid(unsafe_code)]

pub mod binary;
pub mod f32;
pub mod int8;
pub mod quant;
pub mod tensor;

/// Geometry of a 2-D windowed op (conv, depthwise conv, pool) over NHWC tensors.
///
/// Output pixel `(oy, ox)` reads input pixel `(oy * stride_h + ky * dil_h - pad_top,
/// ox * stride_w + kx * dil_w - pad_left)`; positions outside the input are padding.
/// `pad_top`/`pad_left` are resolved offline (SAME/VALID are a converter concern), which is why
/// there is no padding enum here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Window2d {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub out_c: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dil_h: usize,
    pub dil_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

impl Window2d {
    /// Input coordinate read by output coordinate `o` at kernel tap `k` along one axis, or `None`
    /// when it falls into the padding.
    #[inline]
    pub fn in_coord(o: usize, k: usize, stride: usize, dil: usize, pad: usize, size: usize) -> Option<usize> {
        let pos = (o * stride + k * dil).checked_sub(pad)?;
        (pos < size).then_some(pos)
    }

    /// Input row for output row `oy`, tap `ky`.
    #[inline]
    pub fn in_y(&self, oy: usize, ky: usize) -> Option<usize> {
        Self::in_coord(oy, ky, self.stride_h, self.dil_h, self.pad_top, self.in_h)
    }

    /// Input column for output column `ox`, tap `kx`.
    #[inline]
    pub fn in_x(&self, ox: usize, kx: usize) -> Option<usize> {
        Self::in_coord(ox, kx, self.stride_w, self.dil_w, self.pad_left, self.in_w)
    }

    pub fn in_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.in_c
    }

    pub fn out_len(&self) -> usize {
        self.batch * self.out_h * self.out_w * self.out_c
    }
}
