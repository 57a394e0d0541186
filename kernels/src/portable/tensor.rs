//! Padding by row copies: the same output as [`crate::reference::tensor::pad`] and
//! [`crate::reference::tensor::pad_reflect`], elements moved with `copy_from_slice` runs.
//!
//! The reference maps every output element back through four index functions (about 16 ARMv7
//! instructions per element); here the source of each output *row* along the two outer axes is
//! found once, the interior of each row is one contiguous copy (the whole `W × C` run when the
//! channel axis is not padded), and only border pixels are copied one at a time.

use crate::reference::tensor::{const_src, padded_shape, reflect_src};

/// Source of output coordinate `o` along an axis of `size` padded by `before` (`None`: constant
/// padding), with the reference's own index maps.
#[inline]
fn src(o: usize, before: usize, size: usize, reflect: bool) -> Option<usize> {
    if reflect {
        Some(reflect_src(o, before, size))
    } else {
        const_src(o, before, size)
    }
}

/// Fills one output row along the innermost axis (`in_row` padded by `pad`).
#[inline]
fn pad_row<T: Copy>(in_row: &[T], pad: [usize; 2], value: T, reflect: bool, out_row: &mut [T]) {
    let n = in_row.len();
    let (before, rest) = out_row.split_at_mut(pad[0]);
    let (mid, after) = rest.split_at_mut(n);
    mid.copy_from_slice(in_row);
    for (o, y) in before.iter_mut().enumerate() {
        *y = if reflect { in_row[pad[0] - o] } else { value };
    }
    for (k, y) in after.iter_mut().enumerate() {
        *y = if reflect { in_row[n - 2 - k] } else { value };
    }
}

/// The shared body of [`pad`] and [`pad_reflect`].
fn pad_any<T: Copy>(
    in_shape: [usize; 4],
    pads: [[usize; 2]; 4],
    value: T,
    reflect: bool,
    input: &[T],
    output: &mut [T],
) {
    let out_shape = padded_shape(in_shape, pads);
    debug_assert_eq!(input.len(), in_shape.iter().product::<usize>());
    debug_assert_eq!(output.len(), out_shape.iter().product::<usize>());
    let [_, ih, iw, ic] = in_shape;
    let [_, oh, ow, oc] = out_shape;
    if oc == 0 || ow == 0 {
        return;
    }
    let in_row = iw * ic;
    let left = pads[2][0];
    // Channels unpadded: the pixels `left .. left + iw` of a row are one contiguous copy.
    let runs = pads[3] == [0, 0];
    let mut rows = output.chunks_exact_mut(ow * oc);
    for a in 0..out_shape[0] {
        for b in 0..oh {
            let Some(out) = rows.next() else { return };
            let (Some(ia), Some(ib)) =
                (src(a, pads[0][0], in_shape[0], reflect), src(b, pads[1][0], ih, reflect))
            else {
                out.fill(value);
                continue;
            };
            let row = &input[(ia * ih + ib) * in_row..][..in_row];
            if runs {
                out[left * oc..][..in_row].copy_from_slice(row);
            }
            for (w, y) in out.chunks_exact_mut(oc).enumerate() {
                if runs && (left..left + iw).contains(&w) {
                    continue;
                }
                match src(w, left, iw, reflect) {
                    Some(i) => pad_row(&row[i * ic..][..ic], pads[3], value, reflect, y),
                    None => y.fill(value),
                }
            }
        }
    }
}

/// Constant padding; the same contract and output as [`crate::reference::tensor::pad`].
pub fn pad<T: Copy>(in_shape: [usize; 4], pads: [[usize; 2]; 4], value: T, input: &[T], output: &mut [T]) {
    pad_any(in_shape, pads, value, false, input, output);
}

/// Reflect padding; the same contract and output as [`crate::reference::tensor::pad_reflect`]
/// (`pads[d][0], pads[d][1] < in_shape[d]`, which the model validator enforces).
pub fn pad_reflect<T: Copy>(in_shape: [usize; 4], pads: [[usize; 2]; 4], input: &[T], output: &mut [T]) {
    let Some(&first) = input.first() else { return };
    pad_any(in_shape, pads, first, true, input, output);
}
