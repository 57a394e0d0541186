//! Instance normalization in channel blocks: the same output as
//! [`crate::reference::f32::instance_norm_f32`], bit for bit.
//!
//! The reference walks one channel at a time down the NHWC tensor, a stride of `C` floats per
//! element (about 35 ARMv7 instructions per element over its three passes). Here each pass
//! walks the positions once per block of [`BLOCK`] channels, reading `BLOCK` contiguous floats
//! per position into `BLOCK` independent accumulators. Every channel still sums its own values
//! in position order, and the per-element expression is the reference's, so the results are
//! identical; on AArch64 the compiler turns the blocks into NEON lanes (lanes are channels, so
//! no float sum is reordered).

use crate::reference::f32::instance_norm_f32 as reference;

/// Channels per block: eight accumulators fit the ARMv7 VFP's registers.
const BLOCK: usize = 8;

/// ONNX InstanceNormalization on NHWC data; the contract of
/// [`crate::reference::f32::instance_norm_f32`].
#[allow(clippy::too_many_arguments)]
pub fn instance_norm_f32(
    batch: usize,
    h: usize,
    w: usize,
    c: usize,
    epsilon: f32,
    gamma: &[f32],
    beta: &[f32],
    input: &[f32],
    output: &mut [f32],
) {
    if !c.is_multiple_of(BLOCK) || h * w == 0 {
        return reference(batch, h, w, c, epsilon, gamma, beta, input, output);
    }
    debug_assert_eq!(gamma.len(), c);
    debug_assert_eq!(beta.len(), c);
    debug_assert_eq!(input.len(), batch * h * w * c);
    debug_assert_eq!(output.len(), batch * h * w * c);
    let hw = h * w;
    let n = hw as f32;
    for (x, y) in input.chunks_exact(hw * c).zip(output.chunks_exact_mut(hw * c)) {
        for ch in (0..c).step_by(BLOCK) {
            let block = |p: usize| -> &[f32; BLOCK] {
                // `ch + BLOCK ≤ c` as `c` is a multiple of BLOCK.
                x[p * c + ch..][..BLOCK].try_into().unwrap_or(&[0.0; BLOCK])
            };
            let mut sum = [0.0f32; BLOCK];
            for p in 0..hw {
                let v = block(p);
                for k in 0..BLOCK {
                    sum[k] += v[k];
                }
            }
            let mean = sum.map(|s| s / n);
            let mut sq = [0.0f32; BLOCK];
            for p in 0..hw {
                let v = block(p);
                for k in 0..BLOCK {
                    let d = v[k] - mean[k];
                    sq[k] += d * d;
                }
            }
            let denom = sq.map(|s| libm::sqrtf(s / n + epsilon));
            let g: &[f32; BLOCK] = gamma[ch..][..BLOCK].try_into().unwrap_or(&[0.0; BLOCK]);
            let b: &[f32; BLOCK] = beta[ch..][..BLOCK].try_into().unwrap_or(&[0.0; BLOCK]);
            for p in 0..hw {
                let v = block(p);
                let out = &mut y[p * c + ch..][..BLOCK];
                for k in 0..BLOCK {
                    out[k] = g[k] * (v[k] - mean[k]) / denom[k] + b[k];
                }
            }
        }
    }
}
