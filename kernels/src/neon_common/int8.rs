//! int8 kernels in plain Rust shared by the ARMv7-A and AArch64 builds.

use crate::reference::int8::{self as reference, MeanParams};

/// Channels summed together in registers by [`mean_hw_i8`].
const MEAN_CB: usize = 8;

/// int8 MEAN over the spatial axes, bit-exact to [`reference::mean_hw_i8`].
///
/// The reference walks the plane once per channel (a strided byte load per element plus the
/// index arithmetic); this walks it once per group of 8 channels, in memory order, with 8 `i32`
/// sums held in registers (on AArch64 the compiler vectorizes the group). The zero point is
/// taken out once at the end: `Σ (x − zp) = Σ x − n · zp` modulo 2^32, the reference's own
/// wrapping arithmetic, so every sum is the reference's; the output step is
/// [`reference::mean_output`] itself.
pub fn mean_hw_i8(
    batch: usize,
    h: usize,
    w: usize,
    c: usize,
    p: &MeanParams,
    input: &[i8],
    output: &mut [i8],
) {
    assert_eq!(input.len(), batch * h * w * c, "input length");
    assert_eq!(output.len(), batch * c, "output length");
    let hw = h * w;
    if c == 0 || hw == 0 {
        return reference::mean_hw_i8(batch, h, w, c, p, input, output);
    }
    let n = i64::try_from(hw).unwrap_or(i64::MAX);
    // n · zp modulo 2^32 (the truncation of `hw` to 32 bits is exact modulo 2^32).
    let zp_total = (hw as u32 as i32).wrapping_mul(p.input_zp);
    for (plane, out) in input.chunks_exact(hw * c).zip(output.chunks_exact_mut(c)) {
        let mut c0 = 0;
        while c0 + MEAN_CB <= c {
            let mut acc = [0i32; MEAN_CB];
            for px in plane[c0..].chunks(c).take(hw) {
                let px: &[i8; MEAN_CB] = px[..MEAN_CB].try_into().unwrap_or(&[0; MEAN_CB]);
                for (a, &x) in acc.iter_mut().zip(px) {
                    *a = a.wrapping_add(i32::from(x));
                }
            }
            for (o, &a) in out[c0..c0 + MEAN_CB].iter_mut().zip(&acc) {
                *o = reference::mean_output(a.wrapping_sub(zp_total), n, p);
            }
            c0 += MEAN_CB;
        }
        for ch in c0..c {
            let mut acc = 0i32;
            for px in plane[ch..].chunks(c).take(hw) {
                acc = acc.wrapping_add(i32::from(px[0]));
            }
            out[ch] = reference::mean_output(acc.wrapping_sub(zp_total), n, p);
        }
    }
}
