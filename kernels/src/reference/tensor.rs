//! Dtype-generic data movement: padding, concatenation, nearest-neighbour resize.
//!
//! These kernels only copy elements, so they are exact for every `T: Copy` (f32, i8, packed
//! binary words along non-channel axes, …). Shapes are 4-D; lower-rank tensors are extended
//! with leading 1s by the caller.

/// Output extent of one axis after padding `[before, after]`.
#[inline]
fn padded(size: usize, pad: [usize; 2]) -> usize {
    size + pad[0] + pad[1]
}

/// Output shape of [`pad`] / [`pad_reflect`]: `in_shape[d] + pads[d][0] + pads[d][1]`.
pub fn padded_shape(in_shape: [usize; 4], pads: [[usize; 2]; 4]) -> [usize; 4] {
    [
        padded(in_shape[0], pads[0]),
        padded(in_shape[1], pads[1]),
        padded(in_shape[2], pads[2]),
        padded(in_shape[3], pads[3]),
    ]
}

/// Source coordinate for output coordinate `o` along an axis of `size` elements padded by
/// `before`, or `None` when `o` lies in the constant padding.
#[inline]
pub(crate) fn const_src(o: usize, before: usize, size: usize) -> Option<usize> {
    let i = o.checked_sub(before)?;
    (i < size).then_some(i)
}

/// Source coordinate for output coordinate `o` under REFLECT padding (the edge element is not
/// repeated): `i = o - before`; `i < 0` reads `-i`, `i >= size` reads `2 * (size - 1) - i`.
/// Requires `before < size` and `after < size` so that one reflection suffices.
#[inline]
pub(crate) fn reflect_src(o: usize, before: usize, size: usize) -> usize {
    if o < before {
        before - o
    } else {
        let i = o - before;
        if i < size {
            i
        } else {
            2 * (size - 1) - i
        }
    }
}

/// Visits every output index of a 4-D shape in row-major order, with its flat offset.
#[inline]
fn for_each_index(shape: [usize; 4], mut f: impl FnMut(usize, [usize; 4])) {
    let mut flat = 0;
    for a in 0..shape[0] {
        for b in 0..shape[1] {
            for c in 0..shape[2] {
                for d in 0..shape[3] {
                    f(flat, [a, b, c, d]);
                    flat += 1;
                }
            }
        }
    }
}

#[inline]
fn flat4(shape: [usize; 4], i: [usize; 4]) -> usize {
    ((i[0] * shape[1] + i[1]) * shape[2] + i[2]) * shape[3] + i[3]
}

/// Constant padding (TFLite PAD / PADV2, ONNX Pad mode=constant). `pads[d] = [before, after]`
/// for axis `d`; output shape is [`padded_shape`]. Positions outside the input get `value`.
pub fn pad<T: Copy>(in_shape: [usize; 4], pads: [[usize; 2]; 4], value: T, input: &[T], output: &mut [T]) {
    let out_shape = padded_shape(in_shape, pads);
    debug_assert_eq!(input.len(), in_shape.iter().product::<usize>());
    debug_assert_eq!(output.len(), out_shape.iter().product::<usize>());

    for_each_index(out_shape, |flat, o| {
        let src = (|| {
            Some([
                const_src(o[0], pads[0][0], in_shape[0])?,
                const_src(o[1], pads[1][0], in_shape[1])?,
                const_src(o[2], pads[2][0], in_shape[2])?,
                const_src(o[3], pads[3][0], in_shape[3])?,
            ])
        })();
        output[flat] = match src {
            Some(i) => input[flat4(in_shape, i)],
            None => value,
        };
    });
}

/// Reflect padding (ONNX Pad mode=reflect, TF MirrorPad mode=REFLECT): the border element is
/// the mirror axis and is **not** repeated, e.g. `[1 2 3]` padded by 2 on both sides gives
/// `[3 2 1 2 3 2 1]`.
///
/// Requires `pads[d][0] < in_shape[d]` and `pads[d][1] < in_shape[d]` for every axis (so an axis
/// of size 1 cannot be reflect-padded); the model validator enforces this. Violating it panics
/// on an out-of-range index (debug) or reads a wrong element, never out of bounds.
pub fn pad_reflect<T: Copy>(in_shape: [usize; 4], pads: [[usize; 2]; 4], input: &[T], output: &mut [T]) {
    let out_shape = padded_shape(in_shape, pads);
    debug_assert_eq!(input.len(), in_shape.iter().product::<usize>());
    debug_assert_eq!(output.len(), out_shape.iter().product::<usize>());
    debug_assert!((0..4).all(|d| pads[d][0] < in_shape[d] && pads[d][1] < in_shape[d]));

    for_each_index(out_shape, |flat, o| {
        let i = [
            reflect_src(o[0], pads[0][0], in_shape[0]),
            reflect_src(o[1], pads[1][0], in_shape[1]),
            reflect_src(o[2], pads[2][0], in_shape[2]),
            reflect_src(o[3], pads[3][0], in_shape[3]),
        ];
        output[flat] = input[flat4(in_shape, i)];
    });
}

/// Concatenation along the last (innermost) axis. Input `k` is `[outer][inner[k]]`; the output
/// is `[outer][Σ inner]`. Concatenation along any other axis is this with the axes before it
/// folded into `outer` and the axes from it on folded into each `inner[k]`.
pub fn concat_last_axis<T: Copy>(outer: usize, inputs: &[&[T]], inner: &[usize], output: &mut [T]) {
    debug_assert_eq!(inputs.len(), inner.len());
    debug_assert!(inputs.iter().zip(inner).all(|(x, &n)| x.len() == outer * n));
    let total: usize = inner.iter().sum();
    debug_assert_eq!(output.len(), outer * total);

    let mut dst = 0;
    for o in 0..outer {
        for (x, &n) in inputs.iter().zip(inner) {
            output[dst..dst + n].copy_from_slice(&x[o * n..(o + 1) * n]);
            dst += n;
        }
    }
}

/// Source index along one axis for TFLite RESIZE_NEAREST_NEIGHBOR (reference kernel, TF 2.x):
///
/// ```text
/// scale  = (align_corners && out > 1) ? (in - 1) / (out - 1) : in / out      // in f32
/// offset = half_pixel_centers ? 0.5 : 0.0
/// v      = (o + offset) * scale                                               // in f32
/// src    = min(align_corners ? round_half_away(v) : floor(v), in - 1)
/// if half_pixel_centers { src = max(src, 0) }    // no-op here: v >= 0 always
/// ```
///
/// The f32 evaluation order is reproduced exactly, because `floor` of a product that is
/// mathematically an integer can land on either side of it after rounding. TensorFlow rejects
/// `align_corners && half_pixel_centers` in the TF op; TFLite's kernel just evaluates the formula,
/// and so does this function.
///
/// ONNX Resize with `mode=nearest`, `coordinate_transformation_mode=asymmetric`,
/// `nearest_mode=floor` is mathematically `floor(o * in / out)`, i.e. this function with
/// `align_corners = false, half_pixel_centers = false`. In f32 the two agree for every integer
/// upscale factor `out = k * in` (checked for `k <= 16`, `in <= 1024`; see the tests), but for
/// other ratios the f32 product can fall just below an exact integer (e.g. in = 2, out = 82,
/// o = 41: `41 * f32(2/82)` floors to 0, exactly 1). onnxruntime evaluates `o / f32(out/in)`
/// instead, which differs in yet other rare cases; a converter should accept ONNX nearest resizes
/// only for integer scale factors or check the index maps agree.
pub fn resize_nearest_source(
    o: usize,
    in_size: usize,
    out_size: usize,
    align_corners: bool,
    half_pixel_centers: bool,
) -> usize {
    let scale = if align_corners && out_size > 1 {
        (in_size as f32 - 1.0) / (out_size as f32 - 1.0)
    } else {
        in_size as f32 / out_size as f32
    };
    let offset = if half_pixel_centers { 0.5f32 } else { 0.0 };
    let v = (o as f32 + offset) * scale;
    // `v >= 0`, so the float-to-int cast (saturating in Rust) is exact after floor/round.
    let src = if align_corners { libm::roundf(v) } else { libm::floorf(v) } as usize;
    src.min(in_size.saturating_sub(1))
}

/// Nearest-neighbour resize of NHWC `[batch][in_h][in_w][c]` to `[batch][out_h][out_w][c]` with
/// TFLite RESIZE_NEAREST_NEIGHBOR reference semantics; the per-axis index map is
/// [`resize_nearest_source`] (documented there, including the ONNX correspondence).
#[allow(clippy::too_many_arguments)]
pub fn resize_nearest<T: Copy>(
    batch: usize,
    in_h: usize,
    in_w: usize,
    c: usize,
    out_h: usize,
    out_w: usize,
    align_corners: bool,
    half_pixel_centers: bool,
    input: &[T],
    output: &mut [T],
) {
    debug_assert_eq!(input.len(), batch * in_h * in_w * c);
    debug_assert_eq!(output.len(), batch * out_h * out_w * c);

    for b in 0..batch {
        for oy in 0..out_h {
            let iy = resize_nearest_source(oy, in_h, out_h, align_corners, half_pixel_centers);
            for ox in 0..out_w {
                let ix = resize_nearest_source(ox, in_w, out_w, align_corners, half_pixel_centers);
                let src = ((b * in_h + iy) * in_w + ix) * c;
                let dst = ((b * out_h + oy) * out_w + ox) * c;
                output[dst..dst + c].copy_from_slice(&input[src..src + c]);
            }
        }
    }
}
