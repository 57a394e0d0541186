//! Each opcode's own rules: arity, dtypes, shape equations, quantization and parameter ranges.
//! These are what make `invoke` safe to run without checks: every kernel's slice lengths follow
//! from the shapes proven here.

use crate::error::Error;
use crate::layout::{DType, MAX_OP_INPUTS};
use crate::model::{Model, OpInfo, TensorInfo};
use crate::ops::*;

/// Valid range of a requantization shift (TFLite `QuantizeMultiplier` yields −31..=30).
pub const SHIFT_RANGE: core::ops::RangeInclusive<i32> = -31..=30;

struct Ctx<'m, 'b> {
    m: &'m Model<'b>,
    op: &'m OpInfo,
}

impl Ctx<'_, '_> {
    fn id(&self) -> u32 {
        self.op.index
    }
    fn input(&self, k: usize) -> Result<TensorInfo, Error> {
        let t = self.m.op_input(self.op, k).ok_or(Error::BadArity { op: self.id() })?;
        self.m.tensor(t).ok_or(Error::TensorIndexOutOfRange { op: self.id() })
    }
    fn output(&self) -> Result<TensorInfo, Error> {
        let t = self.m.op_output(self.op, 0).ok_or(Error::BadArity { op: self.id() })?;
        self.m.tensor(t).ok_or(Error::TensorIndexOutOfRange { op: self.id() })
    }
    fn constant(&self, k: usize) -> Result<TensorInfo, Error> {
        let t = self.input(k)?;
        if t.is_constant() {
            Ok(t)
        } else {
            Err(Error::NotConstant { op: self.id() })
        }
    }
    fn arity(&self, inputs: &[usize]) -> Result<(), Error> {
        if inputs.contains(&self.op.n_inputs) && self.op.n_outputs == 1 {
            Ok(())
        } else {
            Err(Error::BadArity { op: self.id() })
        }
    }
    fn params<P: bytemuck::Pod>(&self) -> Result<P, Error> {
        self.m.params(self.op).ok_or(Error::BadParamsLength { op: self.id() })
    }
    fn require(&self, ok: bool, e: fn(u32) -> Error) -> Result<(), Error> {
        if ok {
            Ok(())
        } else {
            Err(e(self.id()))
        }
    }
    fn dtype(&self, ok: bool) -> Result<(), Error> {
        self.require(ok, |op| Error::DtypeMismatch { op })
    }
    fn shape(&self, ok: bool) -> Result<(), Error> {
        self.require(ok, |op| Error::ShapeMismatch { op })
    }
    fn quant(&self, ok: bool) -> Result<(), Error> {
        self.require(ok, |op| Error::QuantMismatch { op })
    }
    fn param(&self, ok: bool) -> Result<(), Error> {
        self.require(ok, |op| Error::BadParams { op })
    }
    /// int8 fused activation within the int8 range, f32 clamp ordered and not NaN.
    fn activation(&self, dtype: DType, min: i32, max: i32, min_f: f32, max_f: f32) -> Result<(), Error> {
        match dtype {
            DType::I8 => self.param(-128 <= min && min <= max && max <= 127),
            _ => self.param(min_f <= max_f),
        }
    }
    /// A requantization multiplier/shift pair TFLite could have produced.
    fn multiplier(&self, m: i32, shift: i32) -> Result<(), Error> {
        self.quant(m >= 0 && SHIFT_RANGE.contains(&shift))
    }
    fn rounding(&self, r: u32) -> Result<(), Error> {
        self.param(r == ROUNDING_DOUBLE || r == ROUNDING_SINGLE)
    }
    /// A per-channel int32 constant with one entry per output channel.
    fn per_channel(&self, k: usize, dtype: DType, channels: usize) -> Result<TensorInfo, Error> {
        let t = self.constant(k)?;
        self.dtype(t.dtype == dtype)?;
        self.shape(t.rank == 1 && t.dims[0] == channels)?;
        Ok(t)
    }
    /// int8 requantization constants: multipliers in [0, 2^31), shifts in −31..=30.
    fn requant_constants(&self, k: usize, channels: usize) -> Result<(), Error> {
        let mult = self.per_channel(k, DType::I32, channels)?;
        let shift = self.per_channel(k.saturating_add(1), DType::I32, channels)?;
        let (mb, sb) = (self.m.constant_bytes(&mult), self.m.constant_bytes(&shift));
        let (Some(mb), Some(sb)) = (mb, sb) else {
            return Err(Error::NotConstant { op: self.id() });
        };
        for (m, s) in mb.chunks_exact(4).zip(sb.chunks_exact(4)) {
            // `chunks_exact(4)`: the conversions cannot fail.
            let (Ok(m), Ok(s)) = (<[u8; 4]>::try_from(m), <[u8; 4]>::try_from(s)) else {
                return Err(Error::NotConstant { op: self.id() });
            };
            let (m, s) = (i32::from_le_bytes(m), i32::from_le_bytes(s));
            self.multiplier(m, s)?;
        }
        Ok(())
    }
    fn same_quant(&self, a: &TensorInfo, b: &TensorInfo) -> Result<(), Error> {
        self.quant(a.dtype != DType::I8 || (a.scale == b.scale && a.zero_point == b.zero_point))
    }
}

fn same_shape(a: &TensorInfo, b: &TensorInfo) -> bool {
    a.rank == b.rank && a.dims == b.dims
}

/// Checks `op` against its opcode's rules.
pub(crate) fn check(m: &Model, op: &OpInfo) -> Result<(), Error> {
    let c = Ctx { m, op };
    match op.opcode {
        OpCode::Conv2d | OpCode::DepthwiseConv2d => conv(&c),
        OpCode::FullyConnected => fully_connected(&c),
        OpCode::Add | OpCode::Mul => elementwise(&c),
        OpCode::Clamp => clamp(&c),
        OpCode::MaxPool2d | OpCode::AvgPool2d => pool(&c),
        OpCode::Mean => mean(&c),
        OpCode::Pad => pad(&c),
        OpCode::Concatenation => concatenation(&c),
        OpCode::Reshape => reshape(&c),
        OpCode::Softmax => softmax(&c),
        OpCode::Lut => lut(&c),
        OpCode::Quantize | OpCode::Dequantize => convert(&c),
        OpCode::ResizeNearest => resize(&c),
        OpCode::InstanceNorm => instance_norm(&c),
        OpCode::Tanh => tanh(&c),
        OpCode::TransposeConv2d => transpose_conv(&c),
        OpCode::BPack | OpCode::BUnpack => bpack(&c),
        OpCode::BConv2d => bconv(&c),
    }
}

/// `(stride, extent)` of a window along one axis, extent `dil·(k − 1) + 1`; `None` for a zero
/// stride, dilation or kernel, or on overflow.
fn stride_extent(k: usize, stride: u32, dil: u32) -> Option<(usize, usize)> {
    let (stride, dil) = (stride as usize, dil as usize);
    if stride == 0 || dil == 0 || k == 0 {
        return None;
    }
    Some((stride, dil.checked_mul(k.checked_sub(1)?)?.checked_add(1)?))
}

/// The output-size equation of a window along one axis; `None` if it does not hold.
fn window_axis(
    input: usize,
    k: usize,
    stride: u32,
    dil: u32,
    before: u32,
    after: u32,
    out: usize,
) -> Option<()> {
    let (stride, extent) = stride_extent(k, stride, dil)?;
    // Pads narrower than the kernel extent: every window touches the input.
    if before as usize >= extent || after as usize >= extent {
        return None;
    }
    let padded = input.checked_add(before as usize)?.checked_add(after as usize)?;
    let expect = padded.checked_sub(extent)?.checked_div(stride)?.checked_add(1)?;
    (expect == out).then_some(())
}

/// Windowed geometry: x [N,H,W,C] → y [N,OH,OW,Co] with kernel `kh × kw`.
fn window(
    c: &Ctx,
    p: &WindowParams,
    x: &TensorInfo,
    y: &TensorInfo,
    kh: usize,
    kw: usize,
) -> Result<(), Error> {
    c.param(p.reserved == 0)?;
    c.param(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0)?;
    c.param(p.filter_h > 0 && p.filter_w > 0)?;
    c.shape(x.rank == 4 && y.rank == 4 && x.dims[0] == y.dims[0])?;
    c.shape(p.filter_h as usize == kh && p.filter_w as usize == kw)?;
    let h = window_axis(x.dims[1], kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom, y.dims[1]);
    let w = window_axis(x.dims[2], kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right, y.dims[2]);
    c.shape(h.is_some() && w.is_some())
}

fn conv(c: &Ctx) -> Result<(), Error> {
    let p: WindowParams = c.params()?;
    let x = c.input(0)?;
    let y = c.output()?;
    let int8 = x.dtype == DType::I8;
    c.arity(if int8 { &[5] } else { &[3] })?;
    let w = c.constant(1)?;
    c.dtype((int8 || x.dtype == DType::F32) && w.dtype == x.dtype && y.dtype == x.dtype)?;
    c.shape(w.rank == 4)?;
    let (kh, kw) = (w.dims[1], w.dims[2]);
    let out_c = y.last_dim();
    window(c, &p, &x, &y, kh, kw)?;
    if c.op.opcode == OpCode::Conv2d {
        c.param(p.depth_multiplier == 1)?;
        c.shape(w.dims[0] == out_c && w.dims[3] == x.dims[3])?;
    } else {
        let mult = p.depth_multiplier as usize;
        c.param(mult >= 1)?;
        c.shape(w.dims[0] == 1 && w.dims[3] == out_c && x.dims[3].checked_mul(mult) == Some(out_c))?;
    }
    c.param(p.pad_value == 0)?;
    c.per_channel(2, if int8 { DType::I32 } else { DType::F32 }, out_c)?;
    c.activation(x.dtype, p.act_min, p.act_max, p.act_min_f, p.act_max_f)?;
    if int8 {
        c.rounding(p.rounding)?;
        c.quant(w.zero_point == 0)?;
        c.requant_constants(3, out_c)?;
    }
    Ok(())
}

fn fully_connected(c: &Ctx) -> Result<(), Error> {
    let p: FullyConnectedParams = c.params()?;
    c.param(p.reserved == [0; 3])?;
    let x = c.input(0)?;
    let y = c.output()?;
    let int8 = x.dtype == DType::I8;
    c.arity(if int8 { &[5] } else { &[3] })?;
    let w = c.constant(1)?;
    c.dtype((int8 || x.dtype == DType::F32) && w.dtype == x.dtype && y.dtype == x.dtype)?;
    c.shape(w.rank == 2)?;
    let (out_len, in_len) = (w.dims[0], w.dims[1]);
    // Dims are non-zero (decode_tensor), so `in_len` is too; a zero would fail the shape rule.
    let batch = x.elements().checked_div(in_len).unwrap_or(0);
    c.shape(
        x.elements().checked_rem(in_len) == Some(0)
            && y.last_dim() == out_len
            && batch.checked_mul(out_len) == Some(y.elements()),
    )?;
    c.per_channel(2, if int8 { DType::I32 } else { DType::F32 }, out_len)?;
    c.activation(x.dtype, p.act_min, p.act_max, p.act_min_f, p.act_max_f)?;
    if int8 {
        c.rounding(p.rounding)?;
        c.quant(w.zero_point == 0)?;
        c.requant_constants(3, out_len)?;
    }
    Ok(())
}

fn elementwise(c: &Ctx) -> Result<(), Error> {
    c.arity(&[2])?;
    let p: ElementwiseParams = c.params()?;
    let (a, b, y) = (c.input(0)?, c.input(1)?, c.output()?);
    c.dtype(matches!(a.dtype, DType::I8 | DType::F32) && b.dtype == a.dtype && y.dtype == a.dtype)?;
    c.shape(same_shape(&a, &b) && same_shape(&a, &y))?;
    c.activation(a.dtype, p.act_min, p.act_max, p.act_min_f, p.act_max_f)?;
    if a.dtype == DType::I8 {
        c.rounding(p.rounding)?;
        c.multiplier(p.output_multiplier, p.output_shift)?;
        if c.op.opcode == OpCode::Add {
            c.param((0..=30).contains(&p.left_shift))?;
            c.multiplier(p.input1_multiplier, p.input1_shift)?;
            c.multiplier(p.input2_multiplier, p.input2_shift)?;
        }
    }
    Ok(())
}

fn clamp(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let p: ElementwiseParams = c.params()?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(matches!(x.dtype, DType::I8 | DType::F32) && y.dtype == x.dtype)?;
    c.shape(same_shape(&x, &y))?;
    c.same_quant(&x, &y)?;
    c.activation(x.dtype, p.act_min, p.act_max, p.act_min_f, p.act_max_f)
}

fn pool(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let p: WindowParams = c.params()?;
    let (x, y) = (c.input(0)?, c.output()?);
    let dtype_ok = match c.op.opcode {
        OpCode::MaxPool2d => matches!(x.dtype, DType::I8 | DType::F32 | DType::B1),
        _ => matches!(x.dtype, DType::I8 | DType::F32),
    };
    c.dtype(dtype_ok && y.dtype == x.dtype)?;
    c.param(p.dilation_h == 1 && p.dilation_w == 1 && p.depth_multiplier == 1 && p.pad_value == 0)?;
    window(c, &p, &x, &y, p.filter_h as usize, p.filter_w as usize)?;
    c.shape(x.dims[3] == y.dims[3])?;
    c.same_quant(&x, &y)?;
    if x.dtype != DType::B1 {
        c.activation(x.dtype, p.act_min, p.act_max, p.act_min_f, p.act_max_f)?;
    }
    Ok(())
}

fn mean(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let p: MeanParams = c.params()?;
    c.param(p.mode == MEAN_DIVIDE || p.mode == MEAN_FOLDED)?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(matches!(x.dtype, DType::I8 | DType::F32) && y.dtype == x.dtype)?;
    let (n, ch) = (x.dims[0], x.dims[3]);
    let y_ok = match y.rank {
        2 => y.dims[0] == n && y.dims[1] == ch,
        4 => y.dims[..] == [n, 1, 1, ch],
        _ => false,
    };
    c.shape(x.rank == 4 && y_ok)?;
    if x.dtype == DType::I8 {
        c.rounding(p.rounding)?;
        c.multiplier(p.multiplier, p.shift)?;
    }
    Ok(())
}

fn pad(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let p: PadParams = c.params()?;
    c.param(p.reserved == 0 && !p.value_f32.is_nan())?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(matches!(x.dtype, DType::I8 | DType::F32) && y.dtype == x.dtype)?;
    c.param(p.mode == PAD_CONSTANT || p.mode == PAD_REFLECT)?;
    c.same_quant(&x, &y)?;
    c.param(x.dtype != DType::I8 || (-128..=127).contains(&p.value_i8))?;
    let (xd, yd) = (x.dims4(), y.dims4());
    c.shape(x.rank == y.rank)?;
    for ((&[before, after], &xn), &yn) in p.pads.iter().zip(xd.iter()).zip(yd.iter()) {
        let expect = xn.checked_add(before as usize).and_then(|v| v.checked_add(after as usize));
        c.shape(expect == Some(yn))?;
        if p.mode == PAD_REFLECT {
            c.param((before as usize) < xn && (after as usize) < xn)?;
        }
    }
    Ok(())
}

fn concatenation(c: &Ctx) -> Result<(), Error> {
    if c.op.n_inputs == 0 || c.op.n_inputs > MAX_OP_INPUTS || c.op.n_outputs != 1 {
        return Err(Error::BadArity { op: c.id() });
    }
    let y = c.output()?;
    c.dtype(matches!(y.dtype, DType::I8 | DType::F32))?;
    let mut last = 0usize;
    for k in 0..c.op.n_inputs {
        let x = c.input(k)?;
        c.dtype(x.dtype == y.dtype)?;
        c.same_quant(&x, &y)?;
        // Ranks are 1..=MAX_RANK (decode_tensor): `lead` is in range.
        let lead = x.rank.checked_sub(1).ok_or(Error::ShapeMismatch { op: c.id() })?;
        c.shape(x.rank == y.rank && x.dims.get(..lead) == y.dims.get(..lead))?;
        last = last.checked_add(x.last_dim()).ok_or(Error::ShapeMismatch { op: c.id() })?;
    }
    c.shape(last == y.last_dim())
}

fn reshape(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(y.dtype == x.dtype)?;
    c.shape(x.elements() == y.elements() && x.bytes == y.bytes)?;
    c.shape(x.dtype != DType::B1 || x.last_dim() == y.last_dim())?;
    c.same_quant(&x, &y)
}

fn softmax(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let p: SoftmaxParams = c.params()?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(matches!(x.dtype, DType::I8 | DType::F32) && y.dtype == x.dtype)?;
    c.shape(same_shape(&x, &y))?;
    if x.dtype == DType::I8 {
        c.quant(y.scale == 1.0 / 256.0 && y.zero_point == -128)?;
        // TFLite's int8 softmax sums exponentials in Q12: rows of 8192+ would overflow it.
        c.shape(x.last_dim() < 8192)?;
        c.param(p.input_multiplier >= 0 && (0..=31).contains(&p.input_left_shift) && p.diff_min <= 0)
    } else {
        c.param(p.beta.is_finite())
    }
}

fn lut(c: &Ctx) -> Result<(), Error> {
    c.arity(&[2])?;
    let (x, table, y) = (c.input(0)?, c.constant(1)?, c.output()?);
    c.dtype(x.dtype == DType::I8 && table.dtype == DType::I8 && y.dtype == DType::I8)?;
    c.shape(table.rank == 1 && table.dims[0] == 256 && same_shape(&x, &y))
}

fn convert(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let (x, y) = (c.input(0)?, c.output()?);
    let (from, to) = match c.op.opcode {
        OpCode::Quantize => (DType::F32, DType::I8),
        _ => (DType::I8, DType::F32),
    };
    c.dtype(x.dtype == from && y.dtype == to)?;
    c.shape(same_shape(&x, &y))
}

fn resize(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let p: ResizeParams = c.params()?;
    c.param(p.reserved == [0; 2])?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(matches!(x.dtype, DType::I8 | DType::F32) && y.dtype == x.dtype)?;
    c.param(
        p.align_corners <= 1
            && p.half_pixel_centers <= 1
            && p.align_corners.saturating_add(p.half_pixel_centers) < 2,
    )?;
    c.shape(x.rank == 4 && y.rank == 4 && x.dims[0] == y.dims[0] && x.dims[3] == y.dims[3])?;
    c.same_quant(&x, &y)
}

fn instance_norm(c: &Ctx) -> Result<(), Error> {
    c.arity(&[3])?;
    let p: InstanceNormParams = c.params()?;
    c.param(p.reserved == [0; 3])?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(x.dtype == DType::F32 && y.dtype == DType::F32)?;
    c.shape(x.rank == 4 && same_shape(&x, &y))?;
    c.per_channel(1, DType::F32, x.dims[3])?;
    c.per_channel(2, DType::F32, x.dims[3])?;
    c.param(p.epsilon.is_finite() && p.epsilon >= 0.0)
}

fn tanh(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let (x, y) = (c.input(0)?, c.output()?);
    c.dtype(x.dtype == DType::F32 && y.dtype == DType::F32)?;
    c.shape(same_shape(&x, &y))
}

/// The output-size equation of a transposed window along one axis:
/// `out = (input − 1)·stride + dil·(k − 1) + 1 − before − after`; `None` if it does not hold.
fn transpose_axis(
    input: usize,
    k: usize,
    stride: u32,
    dil: u32,
    before: u32,
    after: u32,
    out: usize,
) -> Option<()> {
    let (stride, extent) = stride_extent(k, stride, dil)?;
    let full = input.checked_sub(1)?.checked_mul(stride)?.checked_add(extent)?;
    let expect = full.checked_sub(before as usize)?.checked_sub(after as usize)?;
    (expect > 0 && expect == out).then_some(())
}

fn transpose_conv(c: &Ctx) -> Result<(), Error> {
    c.arity(&[3])?;
    let p: WindowParams = c.params()?;
    let (x, y) = (c.input(0)?, c.output()?);
    let w = c.constant(1)?;
    c.dtype(x.dtype == DType::F32 && w.dtype == DType::F32 && y.dtype == DType::F32)?;
    c.param(p.reserved == 0 && p.depth_multiplier == 1 && p.rounding == 0 && p.pad_value == 0)?;
    c.param(p.act_min == 0 && p.act_max == 0)?;
    c.param(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0)?;
    c.param(p.filter_h > 0 && p.filter_w > 0)?;
    c.shape(x.rank == 4 && y.rank == 4 && w.rank == 4 && x.dims[0] == y.dims[0])?;
    let (kh, kw) = (w.dims[1], w.dims[2]);
    c.shape(p.filter_h as usize == kh && p.filter_w as usize == kw)?;
    let out_c = y.dims[3];
    c.shape(w.dims[0] == out_c && w.dims[3] == x.dims[3])?;
    let h = transpose_axis(x.dims[1], kh, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom, y.dims[1]);
    let wd = transpose_axis(x.dims[2], kw, p.stride_w, p.dilation_w, p.pad_left, p.pad_right, y.dims[2]);
    c.shape(h.is_some() && wd.is_some())?;
    c.per_channel(2, DType::F32, out_c)?;
    c.activation(DType::F32, p.act_min, p.act_max, p.act_min_f, p.act_max_f)
}

fn bpack(c: &Ctx) -> Result<(), Error> {
    c.arity(&[1])?;
    let (x, y) = (c.input(0)?, c.output()?);
    let (real, packed) = if c.op.opcode == OpCode::BPack { (x, y) } else { (y, x) };
    c.dtype(packed.dtype == DType::B1 && matches!(real.dtype, DType::I8 | DType::F32))?;
    c.shape(same_shape(&x, &y))
}

fn bconv(c: &Ctx) -> Result<(), Error> {
    let p: WindowParams = c.params()?;
    let (x, y) = (c.input(0)?, c.output()?);
    let bits_out = y.dtype == DType::B1;
    c.arity(if bits_out { &[3] } else { &[4] })?;
    let w = c.constant(1)?;
    c.dtype(x.dtype == DType::B1 && w.dtype == DType::B1)?;
    c.dtype(matches!(y.dtype, DType::B1 | DType::F32 | DType::I8))?;
    c.shape(w.rank == 4)?;
    let out_c = y.last_dim();
    window(c, &p, &x, &y, w.dims[1], w.dims[2])?;
    c.shape(w.dims[0] == out_c && w.dims[3] == x.dims[3])?;
    c.param(p.depth_multiplier == 1 && (p.pad_value == PAD_VALUE_ONE || p.pad_value == PAD_VALUE_ZERO))?;
    c.param(p.act_min <= p.act_max)?;
    if bits_out {
        c.per_channel(2, DType::I32, out_c)?;
    } else {
        c.per_channel(2, DType::F32, out_c)?;
        c.per_channel(3, DType::F32, out_c)?;
    }
    Ok(())
}
