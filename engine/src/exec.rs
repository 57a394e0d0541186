//! One op: fetch its tensors as typed slices, build the kernel's parameters, call the kernel.

use bytemuck::Pod;
use doppler_kernels::best::{binary, f32 as kf32, int8, quant::Rounding, tensor, Window2d};
use doppler_model_format::layout::MAX_OP_INPUTS;
use doppler_model_format::ops::*;
use doppler_model_format::{DType, Kind, Model, OpCode, OpInfo, TensorInfo};

use crate::arena::{split, Reader};
use crate::error::Error;

/// Everything one op needs: its tensors' bytes (read-only inputs, mutable output).
struct Op<'m, 'b, 'x> {
    model: &'m Model<'b>,
    info: &'m OpInfo,
    reader: Reader<'x>,
}

impl<'b, 'x> Op<'_, 'b, 'x>
where
    'b: 'x,
{
    fn tensor(&self, k: usize) -> Result<TensorInfo, Error> {
        let t = self.model.op_input(self.info, k).ok_or(Error::Internal)?;
        self.model.tensor(t).ok_or(Error::Internal)
    }

    fn bytes(&self, t: &TensorInfo) -> Result<&'x [u8], Error> {
        match t.kind {
            Kind::Constant => self.model.constant_bytes(t),
            Kind::Activation => t.offset.checked_add(t.bytes).and_then(|end| self.reader.get(t.offset..end)),
        }
        .ok_or(Error::Internal)
    }

    fn slice<T: Pod>(&self, k: usize) -> Result<&'x [T], Error> {
        let t = self.tensor(k)?;
        cast(self.bytes(&t)?)
    }

    fn params<P: Pod>(&self) -> Result<P, Error> {
        self.model.params(self.info).ok_or(Error::Internal)
    }
}

fn cast<T: Pod>(b: &[u8]) -> Result<&[T], Error> {
    bytemuck::try_cast_slice(b).map_err(|_| Error::Internal)
}

fn cast_mut<T: Pod>(b: &mut [u8]) -> Result<&mut [T], Error> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| Error::Internal)
}

fn rounding(r: u32) -> Rounding {
    if r == ROUNDING_SINGLE {
        Rounding::Single
    } else {
        Rounding::Double
    }
}

fn act_i8(min: i32, max: i32) -> (i8, i8) {
    (min.clamp(-128, 127) as i8, max.clamp(-128, 127) as i8)
}

fn window(p: &WindowParams, x: &TensorInfo, y: &TensorInfo, k_h: usize, k_w: usize) -> Window2d {
    Window2d {
        batch: x.dims[0],
        in_h: x.dims[1],
        in_w: x.dims[2],
        in_c: x.dims[3],
        out_h: y.dims[1],
        out_w: y.dims[2],
        out_c: y.dims[3],
        k_h,
        k_w,
        stride_h: p.stride_h as usize,
        stride_w: p.stride_w as usize,
        dil_h: p.dilation_h as usize,
        dil_w: p.dilation_w as usize,
        pad_top: p.pad_top as usize,
        pad_left: p.pad_left as usize,
    }
}

/// Runs op `info` of `model` on `arena`.
pub(crate) fn run(model: &Model, info: &OpInfo, arena: &mut [u8]) -> Result<(), Error> {
    let y = model.op_output(info, 0).and_then(|t| model.tensor(t)).ok_or(Error::Internal)?;
    let scratch = match info.scratch {
        Some(s) => {
            let t = model.tensor(s).ok_or(Error::Internal)?;
            Some(t.offset..t.offset.checked_add(t.bytes).ok_or(Error::Internal)?)
        }
        None => None,
    };
    let (reader, out, _scratch) =
        split(arena, y.offset..y.offset.checked_add(y.bytes).ok_or(Error::Internal)?, scratch)
            .ok_or(Error::Internal)?;
    let op = Op { model, info, reader };
    let x = op.tensor(0)?;
    match (info.opcode, x.dtype) {
        (OpCode::Conv2d | OpCode::DepthwiseConv2d, DType::I8) => {
            let p: WindowParams = op.params()?;
            let w = op.tensor(1)?;
            let g = window(&p, &x, &y, w.dims[1], w.dims[2]);
            let (act_min, act_max) = act_i8(p.act_min, p.act_max);
            let q = int8::ConvQuant {
                input_zp: x.zero_point,
                output_zp: y.zero_point,
                multipliers: op.slice(3)?,
                shifts: op.slice(4)?,
                rounding: rounding(p.rounding),
                act_min,
                act_max,
            };
            let (xs, ws, bias, ys) = (op.slice(0)?, op.slice(1)?, op.slice(2)?, cast_mut(out)?);
            if info.opcode == OpCode::Conv2d {
                int8::conv2d_i8(&g, &q, xs, ws, bias, ys);
            } else {
                int8::depthwise_conv2d_i8(&g, p.depth_multiplier as usize, &q, xs, ws, bias, ys);
            }
        }
        (OpCode::Conv2d | OpCode::DepthwiseConv2d, _) => {
            let p: WindowParams = op.params()?;
            let w = op.tensor(1)?;
            let g = window(&p, &x, &y, w.dims[1], w.dims[2]);
            let (xs, ws, bias, ys) = (op.slice(0)?, op.slice(1)?, op.slice(2)?, cast_mut(out)?);
            if info.opcode == OpCode::Conv2d {
                kf32::conv2d_f32(&g, p.act_min_f, p.act_max_f, xs, ws, bias, ys);
            } else {
                let m = p.depth_multiplier as usize;
                kf32::depthwise_conv2d_f32(&g, m, p.act_min_f, p.act_max_f, xs, ws, bias, ys);
            }
        }
        (OpCode::FullyConnected, dtype) => {
            let p: FullyConnectedParams = op.params()?;
            let w = op.tensor(1)?;
            let (out_len, in_len) = (w.dims[0], w.dims[1]);
            let batch = x.elements().checked_div(in_len).ok_or(Error::Internal)?;
            if dtype == DType::I8 {
                let (act_min, act_max) = act_i8(p.act_min, p.act_max);
                let q = int8::ConvQuant {
                    input_zp: x.zero_point,
                    output_zp: y.zero_point,
                    multipliers: op.slice(3)?,
                    shifts: op.slice(4)?,
                    rounding: rounding(p.rounding),
                    act_min,
                    act_max,
                };
                let (xs, ws, b, ys) = (op.slice(0)?, op.slice(1)?, op.slice(2)?, cast_mut(out)?);
                int8::fully_connected_i8(batch, in_len, out_len, &q, xs, ws, b, ys);
            } else {
                let (xs, ws, b, ys) = (op.slice(0)?, op.slice(1)?, op.slice(2)?, cast_mut(out)?);
                kf32::fully_connected_f32(batch, in_len, out_len, p.act_min_f, p.act_max_f, xs, ws, b, ys);
            }
        }
        (OpCode::Add | OpCode::Mul, dtype) => {
            let p: ElementwiseParams = op.params()?;
            let (a, b) = (op.tensor(0)?, op.tensor(1)?);
            if dtype == DType::I8 {
                let (act_min, act_max) = act_i8(p.act_min, p.act_max);
                let (av, bv, ys) = (op.slice(0)?, op.slice(1)?, cast_mut(out)?);
                if info.opcode == OpCode::Add {
                    let q = int8::AddParams {
                        input1_zp: a.zero_point,
                        input2_zp: b.zero_point,
                        output_zp: y.zero_point,
                        left_shift: p.left_shift,
                        input1_multiplier: p.input1_multiplier,
                        input1_shift: p.input1_shift,
                        input2_multiplier: p.input2_multiplier,
                        input2_shift: p.input2_shift,
                        output_multiplier: p.output_multiplier,
                        output_shift: p.output_shift,
                        rounding: rounding(p.rounding),
                        act_min,
                        act_max,
                    };
                    int8::add_i8(&q, av, bv, ys);
                } else {
                    let q = int8::MulParams {
                        input1_zp: a.zero_point,
                        input2_zp: b.zero_point,
                        output_zp: y.zero_point,
                        output_multiplier: p.output_multiplier,
                        output_shift: p.output_shift,
                        rounding: rounding(p.rounding),
                        act_min,
                        act_max,
                    };
                    int8::mul_i8(&q, av, bv, ys);
                }
            } else {
                let (av, bv, ys) = (op.slice(0)?, op.slice(1)?, cast_mut(out)?);
                if info.opcode == OpCode::Add {
                    kf32::add_f32(p.act_min_f, p.act_max_f, av, bv, ys);
                } else {
                    kf32::mul_f32(p.act_min_f, p.act_max_f, av, bv, ys);
                }
            }
        }
        (OpCode::Clamp, DType::I8) => {
            let p: ElementwiseParams = op.params()?;
            let (act_min, act_max) = act_i8(p.act_min, p.act_max);
            int8::clamp_i8(act_min, act_max, op.slice(0)?, cast_mut(out)?);
        }
        (OpCode::Clamp, _) => {
            let p: ElementwiseParams = op.params()?;
            kf32::clamp_f32(p.act_min_f, p.act_max_f, op.slice(0)?, cast_mut(out)?);
        }
        (OpCode::MaxPool2d | OpCode::AvgPool2d, dtype) => {
            let p: WindowParams = op.params()?;
            let g = window(&p, &x, &y, p.filter_h as usize, p.filter_w as usize);
            let max = info.opcode == OpCode::MaxPool2d;
            match dtype {
                DType::I8 => {
                    let (act_min, act_max) = act_i8(p.act_min, p.act_max);
                    let (xs, ys) = (op.slice(0)?, cast_mut(out)?);
                    if max {
                        int8::max_pool_i8(&g, act_min, act_max, xs, ys);
                    } else {
                        int8::avg_pool_i8(&g, act_min, act_max, xs, ys);
                    }
                }
                DType::B1 => binary::max_pool_bits(&g, op.slice(0)?, cast_mut(out)?),
                _ => {
                    let (xs, ys) = (op.slice(0)?, cast_mut(out)?);
                    if max {
                        kf32::max_pool_f32(&g, p.act_min_f, p.act_max_f, xs, ys);
                    } else {
                        kf32::avg_pool_f32(&g, p.act_min_f, p.act_max_f, xs, ys);
                    }
                }
            }
        }
        (OpCode::Mean, dtype) => {
            let [n, h, w, c] = x.dims;
            if dtype == DType::I8 {
                let p: MeanParams = op.params()?;
                let q = int8::MeanParams {
                    input_zp: x.zero_point,
                    output_zp: y.zero_point,
                    multiplier: p.multiplier,
                    shift: p.shift,
                    rounding: rounding(p.rounding),
                    divide_by_count: p.mode != MEAN_FOLDED,
                };
                int8::mean_hw_i8(n, h, w, c, &q, op.slice(0)?, cast_mut(out)?);
            } else {
                kf32::mean_hw_f32(n, h, w, c, op.slice(0)?, cast_mut(out)?);
            }
        }
        (OpCode::Pad, dtype) => {
            let p: PadParams = op.params()?;
            let pads = p.pads.map(|[a, b]| [a as usize, b as usize]);
            let shape = x.dims4();
            let reflect = p.mode == PAD_REFLECT;
            if dtype == DType::I8 {
                let (xs, ys) = (op.slice::<i8>(0)?, cast_mut::<i8>(out)?);
                if reflect {
                    tensor::pad_reflect(shape, pads, xs, ys);
                } else {
                    tensor::pad(shape, pads, p.value_i8 as i8, xs, ys);
                }
            } else {
                let (xs, ys) = (op.slice::<f32>(0)?, cast_mut::<f32>(out)?);
                if reflect {
                    tensor::pad_reflect(shape, pads, xs, ys);
                } else {
                    tensor::pad(shape, pads, p.value_f32, xs, ys);
                }
            }
        }
        (OpCode::Concatenation, dtype) => {
            let outer = y.elements().checked_div(y.last_dim()).ok_or(Error::Internal)?;
            if dtype == DType::I8 {
                concat::<i8>(&op, outer, cast_mut(out)?)?;
            } else {
                concat::<f32>(&op, outer, cast_mut(out)?)?;
            }
        }
        (OpCode::Reshape, _) => {
            let src = op.bytes(&x)?;
            out.get_mut(..src.len()).ok_or(Error::Internal)?.copy_from_slice(src);
        }
        (OpCode::Softmax, dtype) => {
            let p: SoftmaxParams = op.params()?;
            let depth = x.last_dim();
            let rows = x.elements().checked_div(depth).ok_or(Error::Internal)?;
            if dtype == DType::I8 {
                let q = int8::SoftmaxParams {
                    input_multiplier: p.input_multiplier,
                    input_left_shift: p.input_left_shift,
                    diff_min: p.diff_min,
                };
                int8::softmax_i8(rows, depth, &q, op.slice(0)?, cast_mut(out)?);
            } else {
                kf32::softmax_f32(rows, depth, p.beta, op.slice(0)?, cast_mut(out)?);
            }
        }
        (OpCode::Lut, _) => {
            let table: &[i8; 256] = op.slice::<i8>(1)?.try_into().map_err(|_| Error::Internal)?;
            int8::lut_i8(table, op.slice(0)?, cast_mut(out)?);
        }
        (OpCode::Quantize, _) => {
            int8::quantize_f32_i8(y.scale, y.zero_point, op.slice(0)?, cast_mut(out)?);
        }
        (OpCode::Dequantize, _) => {
            int8::dequantize_i8_f32(x.scale, x.zero_point, op.slice(0)?, cast_mut(out)?);
        }
        (OpCode::ResizeNearest, dtype) => {
            let p: ResizeParams = op.params()?;
            let [n, h, w, c] = x.dims;
            let (oh, ow) = (y.dims[1], y.dims[2]);
            let (ac, hp) = (p.align_corners == 1, p.half_pixel_centers == 1);
            if dtype == DType::I8 {
                let (xs, ys) = (op.slice::<i8>(0)?, cast_mut::<i8>(out)?);
                tensor::resize_nearest(n, h, w, c, oh, ow, ac, hp, xs, ys);
            } else {
                let (xs, ys) = (op.slice::<f32>(0)?, cast_mut::<f32>(out)?);
                tensor::resize_nearest(n, h, w, c, oh, ow, ac, hp, xs, ys);
            }
        }
        (OpCode::InstanceNorm, _) => {
            let p: InstanceNormParams = op.params()?;
            let [n, h, w, c] = x.dims;
            let (gamma, beta) = (op.slice(1)?, op.slice(2)?);
            kf32::instance_norm_f32(n, h, w, c, p.epsilon, gamma, beta, op.slice(0)?, cast_mut(out)?);
        }
        (OpCode::Tanh, _) => kf32::tanh_f32(op.slice(0)?, cast_mut(out)?),
        (OpCode::TransposeConv2d, _) => {
            let p: WindowParams = op.params()?;
            let w = op.tensor(1)?;
            // `pad_top` / `pad_left` are the crops at the start of the full output (see the kernel).
            let g = window(&p, &x, &y, w.dims[1], w.dims[2]);
            let (xs, ws, bias, ys) = (op.slice(0)?, op.slice(1)?, op.slice(2)?, cast_mut(out)?);
            kf32::transpose_conv2d_f32(&g, p.act_min_f, p.act_max_f, xs, ws, bias, ys);
        }
        (OpCode::BPack, dtype) => {
            let c = x.last_dim();
            let pixels = x.elements().checked_div(c).ok_or(Error::Internal)?;
            if dtype == DType::I8 {
                binary::pack_i8(pixels, c, x.zero_point, op.slice(0)?, cast_mut(out)?);
            } else {
                binary::pack_f32(pixels, c, op.slice(0)?, cast_mut(out)?);
            }
        }
        (OpCode::BUnpack, _) => {
            let c = x.last_dim();
            let pixels = x.elements().checked_div(c).ok_or(Error::Internal)?;
            if y.dtype == DType::I8 {
                let (plus, minus) = binary::lce_dequantize_levels(y.scale, y.zero_point);
                binary::unpack_i8(pixels, c, plus, minus, op.slice(0)?, cast_mut(out)?);
            } else {
                binary::unpack_f32(pixels, c, op.slice(0)?, cast_mut(out)?);
            }
        }
        (OpCode::BConv2d, _) => {
            let p: WindowParams = op.params()?;
            let w = op.tensor(1)?;
            let g = window(&p, &x, &y, w.dims[1], w.dims[2]);
            let pad =
                if p.pad_value == PAD_VALUE_ZERO { binary::PadValue::Zero } else { binary::PadValue::One };
            let (xs, ws) = (op.slice(0)?, op.slice(1)?);
            match y.dtype {
                DType::B1 => binary::bconv2d_bits(&g, pad, op.slice(2)?, xs, ws, cast_mut(out)?),
                dtype => {
                    let e = binary::BConvEpilogue {
                        clamp_min: p.act_min,
                        clamp_max: p.act_max,
                        multiplier: op.slice(2)?,
                        bias: op.slice(3)?,
                    };
                    if dtype == DType::I8 {
                        binary::bconv2d_i8(&g, pad, &e, xs, ws, cast_mut(out)?);
                    } else {
                        binary::bconv2d_f32(&g, pad, &e, xs, ws, cast_mut(out)?);
                    }
                }
            }
        }
    }
    Ok(())
}

fn concat<T: Pod>(op: &Op, outer: usize, out: &mut [T]) -> Result<(), Error> {
    let mut parts: [&[T]; MAX_OP_INPUTS] = [&[]; MAX_OP_INPUTS];
    let mut inner = [0usize; MAX_OP_INPUTS];
    let n = op.info.n_inputs.min(MAX_OP_INPUTS);
    for (k, (part, len)) in parts.iter_mut().zip(inner.iter_mut()).enumerate().take(n) {
        *part = op.slice(k)?;
        *len = op.tensor(k)?.last_dim();
    }
    let (Some(parts), Some(inner)) = (parts.get(..n), inner.get(..n)) else {
        return Err(Error::Internal);
    };
    tensor::concat_last_axis(outer, parts, inner, out);
    Ok(())
}
