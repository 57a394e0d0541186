//! Error paths of the converter on tiny models built here with the generated flatbuffer API:
//! constructs the TensorFlow and LCE converters do not emit (or only in models too large to
//! commit), each of which must be a clear error naming the op — never a different model, never
//! a panic. The fixture suite (`tools/tests/convert_*.rs`) covers what the real converters emit.

use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};

use super::schema_generated::tflite as fb;
use super::{convert_tflite, ConvertError};

#[derive(Clone)]
struct T {
    shape: Vec<i32>,
    ty: fb::TensorType,
    data: Option<Vec<u8>>,
    scale: Vec<f32>,
    zp: Vec<i64>,
    qdim: i32,
}

fn act(shape: &[i32], ty: fb::TensorType) -> T {
    let (scale, zp) = if ty == fb::TensorType::INT8 { (vec![0.05], vec![-3]) } else { (vec![], vec![]) };
    T { shape: shape.to_vec(), ty, data: None, scale, zp, qdim: 0 }
}

fn i8_act(shape: &[i32]) -> T {
    act(shape, fb::TensorType::INT8)
}

fn konst(shape: &[i32], ty: fb::TensorType, data: Vec<u8>) -> T {
    T { shape: shape.to_vec(), ty, data: Some(data), scale: vec![], zp: vec![], qdim: 0 }
}

fn i8_weights(shape: &[i32], scales: Vec<f32>, qdim: i32) -> T {
    let n: i32 = shape.iter().product();
    let data = (0..n).map(|i| ((i * 37) % 255 - 127) as i8 as u8).collect();
    let zp = vec![0; scales.len()];
    T { shape: shape.to_vec(), ty: fb::TensorType::INT8, data: Some(data), scale: scales, zp, qdim }
}

fn i32_const(values: &[i32]) -> T {
    konst(
        &[values.len() as i32],
        fb::TensorType::INT32,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

type Options = Box<dyn Fn(&mut FlatBufferBuilder) -> (fb::BuiltinOptions, WIPOffset<UnionWIPOffset>)>;

struct Op {
    code: fb::BuiltinOperator,
    custom: Option<&'static str>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    options: Option<Options>,
    custom_options: Option<Vec<u8>>,
}

fn op(code: fb::BuiltinOperator, inputs: &[i32], outputs: &[i32], options: Option<Options>) -> Op {
    Op {
        code,
        custom: None,
        inputs: inputs.to_vec(),
        outputs: outputs.to_vec(),
        options,
        custom_options: None,
    }
}

fn custom(name: &'static str, inputs: &[i32], outputs: &[i32], options: Vec<u8>) -> Op {
    Op {
        code: fb::BuiltinOperator::CUSTOM,
        custom: Some(name),
        inputs: inputs.to_vec(),
        outputs: outputs.to_vec(),
        options: None,
        custom_options: Some(options),
    }
}

fn build(tensors: &[T], ops: &[Op], inputs: &[i32], outputs: &[i32]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let mut buffers = vec![fb::Buffer::create(&mut fbb, &fb::BufferArgs::default())];
    let mut ts = Vec::new();
    for t in tensors {
        let buffer = match &t.data {
            Some(d) => {
                let v = fbb.create_vector(d);
                buffers.push(fb::Buffer::create(
                    &mut fbb,
                    &fb::BufferArgs { data: Some(v), ..Default::default() },
                ));
                buffers.len() as u32 - 1
            }
            None => 0,
        };
        let q = if t.scale.is_empty() {
            None
        } else {
            let scale = fbb.create_vector(&t.scale);
            let zero_point = fbb.create_vector(&t.zp);
            Some(fb::QuantizationParameters::create(
                &mut fbb,
                &fb::QuantizationParametersArgs {
                    scale: Some(scale),
                    zero_point: Some(zero_point),
                    quantized_dimension: t.qdim,
                    ..Default::default()
                },
            ))
        };
        let shape = fbb.create_vector(&t.shape);
        let name = fbb.create_string("t");
        ts.push(fb::Tensor::create(
            &mut fbb,
            &fb::TensorArgs {
                shape: Some(shape),
                type_: t.ty,
                buffer,
                name: Some(name),
                quantization: q,
                ..Default::default()
            },
        ));
    }
    let mut codes = Vec::new();
    let mut operators = Vec::new();
    for (k, o) in ops.iter().enumerate() {
        let custom_code = o.custom.map(|c| fbb.create_string(c));
        codes.push(fb::OperatorCode::create(
            &mut fbb,
            &fb::OperatorCodeArgs {
                deprecated_builtin_code: o.code.0.min(127) as i8,
                custom_code,
                version: 1,
                builtin_code: o.code,
            },
        ));
        let (builtin_options_type, builtin_options) = match &o.options {
            Some(f) => {
                let (t, v) = f(&mut fbb);
                (t, Some(v))
            }
            None => (fb::BuiltinOptions::NONE, None),
        };
        let custom_options = o.custom_options.as_ref().map(|c| fbb.create_vector(c));
        let ins = fbb.create_vector(&o.inputs);
        let outs = fbb.create_vector(&o.outputs);
        operators.push(fb::Operator::create(
            &mut fbb,
            &fb::OperatorArgs {
                opcode_index: k as u32,
                inputs: Some(ins),
                outputs: Some(outs),
                builtin_options_type,
                builtin_options,
                custom_options,
                ..Default::default()
            },
        ));
    }
    let tensors = fbb.create_vector(&ts);
    let operators = fbb.create_vector(&operators);
    let gin = fbb.create_vector(inputs);
    let gout = fbb.create_vector(outputs);
    let sg = fb::SubGraph::create(
        &mut fbb,
        &fb::SubGraphArgs {
            tensors: Some(tensors),
            inputs: Some(gin),
            outputs: Some(gout),
            operators: Some(operators),
            name: None,
        },
    );
    let subgraphs = fbb.create_vector(&[sg]);
    let codes = fbb.create_vector(&codes);
    let buffers = fbb.create_vector(&buffers);
    let model = fb::Model::create(
        &mut fbb,
        &fb::ModelArgs {
            version: 3,
            operator_codes: Some(codes),
            subgraphs: Some(subgraphs),
            buffers: Some(buffers),
            ..Default::default()
        },
    );
    fb::finish_model_buffer(&mut fbb, model);
    fbb.finished_data().to_vec()
}

fn conv_options(act: fb::ActivationFunctionType) -> Option<Options> {
    Some(Box::new(move |fbb: &mut FlatBufferBuilder| {
        let o = fb::Conv2DOptions::create(
            fbb,
            &fb::Conv2DOptionsArgs {
                padding: fb::Padding::SAME,
                stride_w: 1,
                stride_h: 1,
                fused_activation_function: act,
                dilation_w_factor: 1,
                dilation_h_factor: 1,
                ..Default::default()
            },
        );
        (fb::BuiltinOptions::Conv2DOptions, o.as_union_value())
    }))
}

/// `x [1,6,6,3] int8 → CONV_2D 3x3 SAME (4 filters) → y [1,6,6,4]`, parameterised.
fn int8_conv(weights: T, act: fb::ActivationFunctionType) -> Vec<u8> {
    let tensors = [i8_act(&[1, 6, 6, 3]), weights, i32_const(&[1, -2, 3, -4]), i8_act(&[1, 6, 6, 4])];
    build(&tensors, &[op(fb::BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], conv_options(act))], &[0], &[3])
}

fn good_weights() -> T {
    i8_weights(&[4, 3, 3, 3], vec![0.01, 0.02, 0.03, 0.04], 0)
}

fn unsupported(bytes: &[u8]) -> String {
    match convert_tflite(bytes) {
        Err(e @ ConvertError::Unsupported { .. }) => e.to_string(),
        Err(e) => panic!("expected Unsupported, got {e}"),
        Ok(_) => panic!("expected an error, the model converted"),
    }
}

fn malformed(bytes: &[u8]) -> String {
    match convert_tflite(bytes) {
        Err(e @ ConvertError::Malformed(_)) => e.to_string(),
        Err(e) => panic!("expected Malformed, got {e}"),
        Ok(_) => panic!("expected an error, the model converted"),
    }
}

#[test]
fn the_test_builder_makes_valid_models() {
    let m = convert_tflite(&int8_conv(good_weights(), fb::ActivationFunctionType::RELU6)).unwrap();
    assert_eq!(m.report.ops.len(), 1);
    assert_eq!(m.report.ops[0].lowered, vec!["Conv2d"]);
    assert_eq!(m.report.source_bytes > 0, m.report.blob_bytes > 0);
}

#[test]
fn fused_tanh_is_rejected() {
    let msg = unsupported(&int8_conv(good_weights(), fb::ActivationFunctionType::TANH));
    assert!(msg.contains("op 0 (CONV_2D): fused activation TANH"), "{msg}");
    let msg = unsupported(&int8_conv(good_weights(), fb::ActivationFunctionType::SIGN_BIT));
    assert!(msg.contains("fused activation SIGN_BIT"), "{msg}");
}

#[test]
fn asymmetric_weights_are_rejected() {
    let mut w = good_weights();
    w.zp = vec![0, 1, 0, 0];
    let msg = unsupported(&int8_conv(w, fb::ActivationFunctionType::NONE));
    assert!(msg.contains("non-zero zero point"), "{msg}");
}

#[test]
fn per_channel_scales_on_the_wrong_axis_are_rejected() {
    let w = i8_weights(&[4, 3, 3, 3], vec![0.01, 0.02, 0.03], 3);
    let msg = unsupported(&int8_conv(w, fb::ActivationFunctionType::NONE));
    assert!(msg.contains("3 scales along dimension 3"), "{msg}");
}

#[test]
fn grouped_convolution_is_rejected() {
    let tensors = [
        i8_act(&[1, 6, 6, 4]),
        i8_weights(&[4, 3, 3, 2], vec![0.01; 4], 0),
        i32_const(&[0; 4]),
        i8_act(&[1, 6, 6, 4]),
    ];
    let m = build(
        &tensors,
        &[op(fb::BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], conv_options(fb::ActivationFunctionType::NONE))],
        &[0],
        &[3],
    );
    assert!(unsupported(&m).contains("grouped convolution"));
}

#[test]
fn non_constant_filter_is_rejected() {
    let tensors = [i8_act(&[1, 6, 6, 3]), i8_act(&[4, 3, 3, 3]), i32_const(&[0; 4]), i8_act(&[1, 6, 6, 4])];
    let m = build(
        &tensors,
        &[op(fb::BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], conv_options(fb::ActivationFunctionType::NONE))],
        &[0, 1],
        &[3],
    );
    let msg = unsupported(&m);
    assert!(msg.contains("op 0 (CONV_2D): input 1 must be a constant"), "{msg}");
}

#[test]
fn int8_softmax_needs_the_tflite_output_quantization() {
    let mut y = i8_act(&[1, 10]);
    y.scale = vec![1.0 / 128.0];
    y.zp = vec![-128];
    let softmax = Some(Box::new(|fbb: &mut FlatBufferBuilder| {
        let o = fb::SoftmaxOptions::create(fbb, &fb::SoftmaxOptionsArgs { beta: 1.0 });
        (fb::BuiltinOptions::SoftmaxOptions, o.as_union_value())
    }) as Options);
    let m =
        build(&[i8_act(&[1, 10]), y], &[op(fb::BuiltinOperator::SOFTMAX, &[0], &[1], softmax)], &[0], &[1]);
    let msg = unsupported(&m);
    assert!(msg.contains("op 0 (SOFTMAX): int8 softmax output quantization"), "{msg}");
}

#[test]
fn requantizing_pool_is_rejected() {
    let mut y = i8_act(&[1, 3, 3, 4]);
    y.scale = vec![0.1];
    let pool = Some(Box::new(|fbb: &mut FlatBufferBuilder| {
        let o = fb::Pool2DOptions::create(
            fbb,
            &fb::Pool2DOptionsArgs {
                padding: fb::Padding::VALID,
                stride_w: 2,
                stride_h: 2,
                filter_width: 2,
                filter_height: 2,
                fused_activation_function: fb::ActivationFunctionType::NONE,
            },
        );
        (fb::BuiltinOptions::Pool2DOptions, o.as_union_value())
    }) as Options);
    let m = build(
        &[i8_act(&[1, 6, 6, 4]), y],
        &[op(fb::BuiltinOperator::MAX_POOL_2D, &[0], &[1], pool)],
        &[0],
        &[1],
    );
    let msg = unsupported(&m);
    assert!(msg.contains("op 0 (MAX_POOL_2D): pooling: input and output quantization differ"), "{msg}");
}

#[test]
fn mean_over_channels_is_rejected() {
    let reducer = Some(Box::new(|fbb: &mut FlatBufferBuilder| {
        let o = fb::ReducerOptions::create(fbb, &fb::ReducerOptionsArgs { keep_dims: false });
        (fb::BuiltinOptions::ReducerOptions, o.as_union_value())
    }) as Options);
    let m = build(
        &[i8_act(&[1, 4, 4, 8]), i32_const(&[3]), i8_act(&[1, 4, 4])],
        &[op(fb::BuiltinOperator::MEAN, &[0, 1], &[2], reducer)],
        &[0],
        &[2],
    );
    let msg = unsupported(&m);
    assert!(msg.contains("op 0 (MEAN): mean over axes [3]"), "{msg}");
}

#[test]
fn unsupported_builtin_and_custom_ops_are_named() {
    let m = build(
        &[act(&[1, 8], fb::TensorType::FLOAT32), act(&[1, 8], fb::TensorType::FLOAT32)],
        &[op(fb::BuiltinOperator::TANH, &[0], &[1], None)],
        &[0],
        &[1],
    );
    assert!(unsupported(&m).contains("op 0 (TANH): op not supported"));
    let m = build(
        &[act(&[1, 8], fb::TensorType::FLOAT32), act(&[1, 8], fb::TensorType::FLOAT32)],
        &[custom("MyOp", &[0], &[1], vec![])],
        &[0],
        &[1],
    );
    assert!(unsupported(&m).contains("op 0 (MyOp): custom op not supported"));
}

#[test]
fn unsupported_tensor_types_and_ranks_are_named() {
    let m = build(
        &[act(&[1, 8], fb::TensorType::INT16), act(&[1, 8], fb::TensorType::INT16)],
        &[op(fb::BuiltinOperator::RELU, &[0], &[1], None)],
        &[0],
        &[1],
    );
    assert!(unsupported(&m).contains("graph input 0 (t) of type INT16"));
    let f = fb::TensorType::FLOAT32;
    let m = build(
        &[act(&[1, 2, 2, 2, 2], f), act(&[1, 2, 2, 2, 2], f)],
        &[op(fb::BuiltinOperator::RELU, &[0], &[1], None)],
        &[0],
        &[1],
    );
    assert!(unsupported(&m).contains("graph input 0 has shape [1, 2, 2, 2, 2]"));
}

fn flex(entries: &[(&str, i64)]) -> Vec<u8> {
    let mut b = flexbuffers::Builder::default();
    let mut m = b.start_map();
    for &(k, v) in entries {
        m.push(k, v);
    }
    m.end_map();
    b.view().to_vec()
}

/// `x f32 [1,6,6,40] → LceQuantize → LceBconv2d (3x3, 8 filters) → y`, output as `y`.
fn lce_model(options: Vec<u8>, y: T, threshold: bool) -> Vec<u8> {
    let filter_words: Vec<u8> =
        (0..8 * 9 * 2).flat_map(|i: u32| i.wrapping_mul(2_654_435_761).to_le_bytes()).collect();
    let mut tensors = vec![
        act(&[1, 6, 6, 40], fb::TensorType::FLOAT32),
        act(&[1, 6, 6, 2], fb::TensorType::INT32),
        konst(&[8, 3, 3, 2], fb::TensorType::INT32, filter_words),
        y,
    ];
    let ins = if threshold {
        tensors.push(i32_const(&[5; 8]));
        vec![1, 2, -1, -1, 4]
    } else {
        let ones: Vec<u8> = (0..8).flat_map(|_| 1.0f32.to_le_bytes()).collect();
        let zeros: Vec<u8> = (0..8).flat_map(|_| 0.0f32.to_le_bytes()).collect();
        tensors.push(konst(&[8], fb::TensorType::FLOAT32, ones));
        tensors.push(konst(&[8], fb::TensorType::FLOAT32, zeros));
        vec![1, 2, 4, 5, -1]
    };
    let ops = [custom("LceQuantize", &[0], &[1], vec![]), custom("LceBconv2d", &ins, &[3], options)];
    build(&tensors, &ops, &[0], &[3])
}

fn bconv_opts(channels_in: i64, padding: i64, pad_values: i64) -> Vec<u8> {
    flex(&[
        ("channels_in", channels_in),
        ("dilation_height_factor", 1),
        ("dilation_width_factor", 1),
        ("fused_activation_function", 0),
        ("pad_values", pad_values),
        ("padding", padding),
        ("stride_height", 1),
        ("stride_width", 1),
    ])
}

#[test]
fn lce_bconv_float_output_converts() {
    let m = lce_model(bconv_opts(40, 0, 1), act(&[1, 6, 6, 8], fb::TensorType::FLOAT32), false);
    let c = convert_tflite(&m).unwrap();
    let ops: Vec<_> = c.report.ops.iter().flat_map(|o| o.lowered.clone()).collect();
    assert_eq!(ops, vec!["BPack", "BConv2d"]);
}

#[test]
fn lce_bitpacked_output_with_zero_padding_is_rejected() {
    let m = lce_model(bconv_opts(40, 0, 0), act(&[1, 6, 6, 1], fb::TensorType::INT32), true);
    let msg = unsupported(&m);
    assert!(msg.contains("op 1 (LceBconv2d): bit-packed output with zero padding"), "{msg}");
    // The same with one-padding converts.
    assert!(convert_tflite(&lce_model(
        bconv_opts(40, 0, 1),
        act(&[1, 6, 6, 1], fb::TensorType::INT32),
        true
    ))
    .is_ok());
}

#[test]
fn lce_inconsistent_options_are_malformed() {
    let msg = malformed(&lce_model(bconv_opts(32, 0, 1), act(&[1, 6, 6, 8], fb::TensorType::FLOAT32), false));
    assert!(msg.contains("op 1 (LceBconv2d): channels_in 32 but the input has 40 channels"), "{msg}");
    let msg =
        malformed(&lce_model(flex(&[("padding", 0)]), act(&[1, 6, 6, 8], fb::TensorType::FLOAT32), false));
    assert!(msg.contains("custom option `channels_in` is missing"), "{msg}");
    let msg = malformed(&lce_model(bconv_opts(40, 7, 1), act(&[1, 6, 6, 8], fb::TensorType::FLOAT32), false));
    assert!(msg.contains("padding 7"), "{msg}");
    // Garbage instead of a flexbuffer: an error, not a panic.
    for junk in [vec![0xFFu8; 3], vec![1, 2, 3, 4, 5, 6, 7, 8, 9], vec![0; 1]] {
        let r = convert_tflite(&lce_model(junk, act(&[1, 6, 6, 8], fb::TensorType::FLOAT32), false));
        assert!(r.is_err());
    }
}

#[test]
fn structural_errors_are_malformed() {
    // An op reading a tensor nobody writes.
    let tensors = [i8_act(&[1, 6, 6, 3]), i8_act(&[1, 6, 6, 3]), i8_act(&[1, 6, 6, 3])];
    let m = build(&tensors, &[op(fb::BuiltinOperator::RELU, &[1], &[2], None)], &[0], &[2]);
    assert!(malformed(&m).contains("op 0 (RELU): input 0 (tensor 1) is read before any op writes it"));
    // An op index beyond the tensor table.
    let m = build(
        &[i8_act(&[1, 4]), i8_act(&[1, 4])],
        &[op(fb::BuiltinOperator::RELU, &[7], &[1], None)],
        &[0],
        &[1],
    );
    assert!(malformed(&m).contains("tensor index 7 out of range"));
    // Not a flatbuffer at all / truncated / wrong identifier.
    assert!(malformed(b"hello").contains("too short"));
    let good = int8_conv(good_weights(), fb::ActivationFunctionType::NONE);
    assert!(matches!(convert_tflite(&good[..good.len() / 2]), Err(ConvertError::Malformed(_))));
    let mut bad_id = good.clone();
    bad_id[4..8].copy_from_slice(b"XXXX");
    assert!(malformed(&bad_id).contains("TFL3"));
}
