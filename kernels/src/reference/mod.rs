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

    /// The taps `k` in `0..taps` whose input coordinate for output coordinate `o` is in bounds
    /// (for `dil >= 1`; with `dil == 0`, all of `0..taps`). Every in-bounds tap is in the range, in
    /// the same order, so a loop over it instead of `0..taps` (still skipping `in_coord == None`)
    /// computes exactly the same thing — but its length is bounded by the input size, not by the
    /// window: a valid blob may declare a pooling window of 2^25 taps over an 8-pixel input
    /// (found by the `convert_tflite` fuzz target), which looping over the whole window turns
    /// into a hang.
    #[inline]
    pub fn tap_range(
        o: usize,
        taps: usize,
        stride: usize,
        dil: usize,
        pad: usize,
        size: usize,
    ) -> core::ops::Range<usize> {
        if dil == 0 {
            return 0..taps;
        }
        let base = o.saturating_mul(stride);
        // pos = base + k * dil - pad must satisfy 0 <= pos < size.
        let lo = pad.saturating_sub(base).div_ceil(dil);
        let hi = size.saturating_add(pad).saturating_sub(base).div_ceil(dil);
        lo.min(taps)..hi.min(taps)
    }

    /// [`Self::tap_range`] for output row `oy`.
    #[inline]
    pub fn taps_y(&self, oy: usize) -> core::ops::Range<usize> {
        Self::tap_range(oy, self.k_h, self.stride_h, self.dil_h, self.pad_top, self.in_h)
    }

    /// [`Self::tap_range`] for output column `ox`.
    #[inline]
    pub fn taps_x(&self, ox: usize) -> core::ops::Range<usize> {
        Self::tap_range(ox, self.k_w, self.stride_w, self.dil_w, self.pad_left, self.in_w)
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

#[cfg(test)]
mod tap_range_tests {
    use super::Window2d;

    /// `tap_range` holds exactly the taps `in_coord` accepts (exhaustive over small geometry),
    /// and stays short for a huge window over a small input.
    #[test]
    fn tap_range_is_the_in_bounds_taps() {
        for size in 1..6 {
            for taps in 1..8 {
                for stride in 1..4 {
                    for dil in 1..4 {
                        for pad in 0..8 {
                            for o in 0..8 {
                                let r = Window2d::tap_range(o, taps, stride, dil, pad, size);
                                for k in 0..taps {
                                    let inb = Window2d::in_coord(o, k, stride, dil, pad, size).is_some();
                                    assert_eq!(
                                        inb,
                                        r.contains(&k),
                                        "o {o} k {k} taps {taps} s {stride} d {dil} p {pad} n {size}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        // The fuzz finding's geometry: a 50331648-tap window, padding 25165823, over 8 rows.
        let r = Window2d::tap_range(3, 50_331_648, 1, 1, 25_165_823, 8);
        assert_eq!(r.len(), 8);
        assert!(r.clone().all(|k| Window2d::in_coord(3, k, 1, 1, 25_165_823, 8).is_some()));
    }
}
