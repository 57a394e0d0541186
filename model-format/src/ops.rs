//! Opcodes and their parameter records.
//!
//! An opcode names an operation, not a dtype: the dtypes of its tensors select the variant
//! (`Conv2d` on int8 tensors is the TFLite int8 convolution, on float32 the float one). Each
//! opcode has exactly one parameter record type, stored verbatim in the params section.

use bytemuck::{Pod, Zeroable};

/// Every operation a version-1 blob may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum OpCode {
    /// `[x, filter OHWI, bias]` (+ `[multipliers, shifts]` for int8) → y. [`WindowParams`].
    Conv2d = 1,
    /// `[x, filter 1HW(C·m), bias]` (+ `[multipliers, shifts]` for int8) → y. [`WindowParams`].
    DepthwiseConv2d = 2,
    /// `[x, weights [out, in], bias]` (+ `[multipliers, shifts]` for int8) → y. [`FullyConnectedParams`].
    FullyConnected = 3,
    /// `[a, b]` → y, same shapes. [`ElementwiseParams`].
    Add = 4,
    /// `[a, b]` → y, same shapes. [`ElementwiseParams`].
    Mul = 5,
    /// `[x]` → y; int8, float32, or bitpacked (bitwise AND). [`WindowParams`].
    MaxPool2d = 6,
    /// `[x]` → y. [`WindowParams`].
    AvgPool2d = 7,
    /// Mean over H and W: `[x NHWC]` → `[N, C]` or `[N, 1, 1, C]`. [`MeanParams`].
    Mean = 8,
    /// `[x]` → y. [`PadParams`].
    Pad = 9,
    /// Along the last axis: `[x0, x1, …]` → y. [`NoParams`].
    Concatenation = 10,
    /// `[x]` → y, same bytes. [`NoParams`].
    Reshape = 11,
    /// Along the last axis: `[x]` → y. [`SoftmaxParams`].
    Softmax = 12,
    /// int8 table lookup `[x, table int8[256]]` → y (Logistic and any elementwise int8 function).
    /// [`NoParams`].
    Lut = 13,
    /// float32 → int8 with the output tensor's scale and zero point. [`NoParams`].
    Quantize = 14,
    /// int8 → float32 with the input tensor's scale and zero point. [`NoParams`].
    Dequantize = 15,
    /// Clamp to `[act_min, act_max]` (ReLU, ReLU6). [`ElementwiseParams`].
    Clamp = 16,
    /// Nearest-neighbour resize of NHWC H and W. [`ResizeParams`].
    ResizeNearest = 17,
    /// Instance normalization `[x, gamma [C], beta [C]]` → y (float32). [`InstanceNormParams`].
    InstanceNorm = 18,
    /// Hyperbolic tangent, elementwise: `[x]` → y, same shape (float32). [`NoParams`].
    Tanh = 19,
    /// Transposed 2-D convolution (ONNX ConvTranspose, group 1) `[x NHWC, filter OHWI
    /// [out_c, kh, kw, in_c], bias [out_c]]` → y (float32). [`WindowParams`], with the pads
    /// *cropping* the full output: `out = (in − 1)·stride + dil·(k − 1) + 1 − pad_before − pad_after`.
    TransposeConv2d = 20,
    /// Sign-pack float32 or int8 along channels: `[x]` → bitpacked y. [`NoParams`].
    BPack = 32,
    /// Binary convolution `[x bitpacked, filter bitpacked OHWI]` + `[multiplier f32, bias f32]`
    /// (float32/int8 output) or `[thresholds i32]` (bitpacked output) → y. [`WindowParams`].
    BConv2d = 33,
    /// Unpack bitpacked to ±1 as float32 or int8: `[x]` → y. [`NoParams`].
    BUnpack = 34,
}

impl OpCode {
    pub const ALL: [OpCode; 23] = [
        OpCode::Conv2d,
        OpCode::DepthwiseConv2d,
        OpCode::FullyConnected,
        OpCode::Add,
        OpCode::Mul,
        OpCode::MaxPool2d,
        OpCode::AvgPool2d,
        OpCode::Mean,
        OpCode::Pad,
        OpCode::Concatenation,
        OpCode::Reshape,
        OpCode::Softmax,
        OpCode::Lut,
        OpCode::Quantize,
        OpCode::Dequantize,
        OpCode::Clamp,
        OpCode::ResizeNearest,
        OpCode::InstanceNorm,
        OpCode::Tanh,
        OpCode::TransposeConv2d,
        OpCode::BPack,
        OpCode::BConv2d,
        OpCode::BUnpack,
    ];

    /// The format minor version that introduced this opcode: a blob using it must declare at
    /// least that minor (the writer declares the lowest minor its ops need, so blobs without
    /// the additions stay readable by 1.0 readers).
    pub const fn since_minor(self) -> u16 {
        match self {
            OpCode::Tanh | OpCode::TransposeConv2d => 1,
            _ => 0,
        }
    }

    pub fn from_u16(v: u16) -> Option<OpCode> {
        OpCode::ALL.iter().copied().find(|op| *op as u16 == v)
    }

    pub const fn name(self) -> &'static str {
        match self {
            OpCode::Conv2d => "Conv2d",
            OpCode::DepthwiseConv2d => "DepthwiseConv2d",
            OpCode::FullyConnected => "FullyConnected",
            OpCode::Add => "Add",
            OpCode::Mul => "Mul",
            OpCode::MaxPool2d => "MaxPool2d",
            OpCode::AvgPool2d => "AvgPool2d",
            OpCode::Mean => "Mean",
            OpCode::Pad => "Pad",
            OpCode::Concatenation => "Concatenation",
            OpCode::Reshape => "Reshape",
            OpCode::Softmax => "Softmax",
            OpCode::Lut => "Lut",
            OpCode::Quantize => "Quantize",
            OpCode::Dequantize => "Dequantize",
            OpCode::Clamp => "Clamp",
            OpCode::ResizeNearest => "ResizeNearest",
            OpCode::InstanceNorm => "InstanceNorm",
            OpCode::Tanh => "Tanh",
            OpCode::TransposeConv2d => "TransposeConv2d",
            OpCode::BPack => "BPack",
            OpCode::BConv2d => "BConv2d",
            OpCode::BUnpack => "BUnpack",
        }
    }

    /// Size in bytes of this opcode's parameter record.
    pub const fn params_len(self) -> usize {
        use core::mem::size_of;
        match self {
            OpCode::Conv2d
            | OpCode::DepthwiseConv2d
            | OpCode::MaxPool2d
            | OpCode::AvgPool2d
            | OpCode::BConv2d
            | OpCode::TransposeConv2d => size_of::<WindowParams>(),
            OpCode::FullyConnected => size_of::<FullyConnectedParams>(),
            OpCode::Add | OpCode::Mul | OpCode::Clamp => size_of::<ElementwiseParams>(),
            OpCode::Mean => size_of::<MeanParams>(),
            OpCode::Pad => size_of::<PadParams>(),
            OpCode::Softmax => size_of::<SoftmaxParams>(),
            OpCode::ResizeNearest => size_of::<ResizeParams>(),
            OpCode::InstanceNorm => size_of::<InstanceNormParams>(),
            OpCode::Concatenation
            | OpCode::Reshape
            | OpCode::Lut
            | OpCode::Quantize
            | OpCode::Dequantize
            | OpCode::Tanh
            | OpCode::BPack
            | OpCode::BUnpack => 0,
        }
    }
}

/// Requantization rounding, recorded per op so that both TFLite builds can be matched
/// bit-exactly (see DESIGN.md): 0 = double rounding (gemmlowp SRDHM + RDBPOT, TFLM default),
/// 1 = single rounding (`TFLITE_SINGLE_ROUNDING`).
pub const ROUNDING_DOUBLE: u32 = 0;
pub const ROUNDING_SINGLE: u32 = 1;

/// Padding value of binary convolutions: 0 = one-padding (pad taps are +1 and count in K,
/// Larq's default), 1 = zero-padding (pad taps are excluded from K).
pub const PAD_VALUE_ONE: u32 = 0;
pub const PAD_VALUE_ZERO: u32 = 1;

/// Parameters of windowed ops: Conv2d, DepthwiseConv2d, MaxPool2d, AvgPool2d, BConv2d,
/// TransposeConv2d.
///
/// Padding is explicit (SAME and VALID are resolved by the converter) so the validator can check
/// the output size equation `out = (in + pad_before + pad_after − dil·(k−1) − 1) / stride + 1`.
/// For TransposeConv2d the pads crop the full (scattered) output instead:
/// `out = (in − 1)·stride + dil·(k−1) + 1 − pad_before − pad_after` (ONNX's `output_padding`
/// is folded into `pad_after` by the converter); `depth_multiplier` is 1, `rounding`,
/// `pad_value`, `act_min` and `act_max` are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct WindowParams {
    /// Kernel size; for convolutions it must equal the filter tensor's.
    pub filter_h: u32,
    pub filter_w: u32,
    pub stride_h: u32,
    pub stride_w: u32,
    pub dilation_h: u32,
    pub dilation_w: u32,
    pub pad_top: u32,
    pub pad_bottom: u32,
    pub pad_left: u32,
    pub pad_right: u32,
    /// DepthwiseConv2d only (else 1).
    pub depth_multiplier: u32,
    /// int8 convolutions: [`ROUNDING_DOUBLE`] or [`ROUNDING_SINGLE`].
    pub rounding: u32,
    /// BConv2d: [`PAD_VALUE_ONE`] or [`PAD_VALUE_ZERO`].
    pub pad_value: u32,
    /// Fused activation clamp. int8: in the output's quantized domain (within −128..=127).
    /// BConv2d: on the integer accumulator. Unused (0) for float32.
    pub act_min: i32,
    pub act_max: i32,
    /// Fused activation clamp for float32 outputs (−inf/+inf for none).
    pub act_min_f: f32,
    pub act_max_f: f32,
    pub reserved: u32,
}

/// Parameters of FullyConnected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct FullyConnectedParams {
    pub rounding: u32,
    pub act_min: i32,
    pub act_max: i32,
    pub act_min_f: f32,
    pub act_max_f: f32,
    pub reserved: [u32; 3],
}

/// Parameters of Add, Mul and Clamp. The int8 multipliers follow TFLite's ADD / MUL
/// (`left_shift` = 20 for int8 ADD; input multipliers are unused by MUL and Clamp).
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct ElementwiseParams {
    pub rounding: u32,
    pub left_shift: i32,
    pub input1_multiplier: i32,
    pub input1_shift: i32,
    pub input2_multiplier: i32,
    pub input2_shift: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub act_min: i32,
    pub act_max: i32,
    pub act_min_f: f32,
    pub act_max_f: f32,
}

/// Parameters of Mean. int8: `multiplier`/`shift` requantize `Σ(x − zp_in)`; `mode` says where
/// the 1/(H·W) is applied ([`MEAN_DIVIDE`] or [`MEAN_FOLDED`]). float32: unused (0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct MeanParams {
    pub rounding: u32,
    pub multiplier: i32,
    pub shift: i32,
    pub mode: u32,
}

/// Mean modes (int8; float32 Mean ignores the mode but it must still be one of these).
/// TFLM's `reference_integer_ops::Mean`: multiplier from s_in/s_out, then a division by H·W
/// rounded half away from zero.
pub const MEAN_DIVIDE: u32 = 0;
/// The TFLite interpreter's `reference_ops::QuantizedMeanOrSum`: the multiplier already includes
/// 1/(H·W) (folded offline); requantization only.
pub const MEAN_FOLDED: u32 = 1;

/// Pad modes.
pub const PAD_CONSTANT: u32 = 0;
pub const PAD_REFLECT: u32 = 1;

/// Parameters of Pad: `pads[d] = [before, after]` per dimension of the rank-4 view (tensors of
/// lower rank are viewed with leading 1s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct PadParams {
    pub pads: [[u32; 2]; 4],
    pub mode: u32,
    /// Constant value for int8 (−128..=127) and float32 tensors.
    pub value_i8: i32,
    pub value_f32: f32,
    pub reserved: u32,
}

/// Parameters of Softmax. int8: TFLite's reference (`input_multiplier`, `input_left_shift`,
/// `diff_min`; the output must have scale 1/256 and zero point −128). float32: `beta`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct SoftmaxParams {
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
    pub beta: f32,
}

/// Parameters of ResizeNearest (TFLite `RESIZE_NEAREST_NEIGHBOR` flags, 0 or 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct ResizeParams {
    pub align_corners: u32,
    pub half_pixel_centers: u32,
    pub reserved: [u32; 2],
}

/// Parameters of InstanceNorm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct InstanceNormParams {
    pub epsilon: f32,
    pub reserved: [u32; 3],
}

/// The (empty) parameter record of ops without parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct NoParams {}

const _: () = {
    assert!(core::mem::size_of::<WindowParams>() == 72);
    assert!(core::mem::size_of::<FullyConnectedParams>() == 32);
    assert!(core::mem::size_of::<ElementwiseParams>() == 48);
    assert!(core::mem::size_of::<MeanParams>() == 16);
    assert!(core::mem::size_of::<PadParams>() == 48);
    assert!(core::mem::size_of::<SoftmaxParams>() == 16);
    assert!(core::mem::size_of::<ResizeParams>() == 16);
    assert!(core::mem::size_of::<InstanceNormParams>() == 16);
    assert!(core::mem::size_of::<NoParams>() == 0);
};
