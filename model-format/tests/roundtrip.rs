//! Builder → blob → `Model::parse`: everything written reads back, bit for bit, and the layout
//! facts of `docs/FORMAT.md` (alignment, section order, CRC, lifetimes, plan) hold.
#![cfg(feature = "std")]

mod common;

use common::*;
use doppler_model_format::layout::*;
use doppler_model_format::plan;
use doppler_model_format::writer::{AlignedBlob, Builder, Quant};
use doppler_model_format::{DType, Kind, Model, OpCode};

/// Lifetimes as the format defines them, computed from the declarations.
fn expected_lifetime(n: &Net, t: u32) -> (u32, u32) {
    let end = n.ops.len() as u32 + 1;
    let mut first = if n.inputs.contains(&t) { Some(0) } else { None };
    let mut last = 0;
    for (i, op) in n.ops.iter().enumerate() {
        let step = i as u32 + 1;
        if op.outputs.contains(&t) || op.scratch == Some(t) {
            first = first.or(Some(step));
            last = last.max(step);
        }
        if op.inputs.contains(&t) {
            last = last.max(step);
        }
    }
    if n.outputs.contains(&t) {
        last = end;
    }
    let first = first.expect("every activation of a test model is written");
    (first, last.max(first))
}

fn check_roundtrip(name: &str, n: &Net) {
    let (bytes, report) = n.b.write_unchecked().unwrap();
    let blob = n.blob();
    assert_eq!(blob.as_bytes(), &bytes[..], "{name}: finish() and write_unchecked() agree");
    let m = Model::parse(blob.as_bytes()).unwrap();
    let h = *m.header();

    // Header.
    assert_eq!(h.magic, MAGIC);
    // The lowest minor the ops need (1 only with the 1.1 opcodes).
    let minor =
        (0..m.op_count() as u32).filter_map(|i| m.op(i)).map(|o| o.opcode.since_minor()).max().unwrap_or(0);
    assert!(minor <= VERSION_MINOR);
    assert_eq!((h.version_major, h.version_minor), (VERSION_MAJOR, minor));
    assert_eq!(h.blob_len as usize, bytes.len());
    assert_eq!(h.blob_len as usize % ALIGN, 0, "{name}: blob padded to 16");
    assert_eq!(h.crc32, doppler_model_format::layout::crc32(&bytes[CRC_START..]));
    assert_eq!((h.flags, h.reserved), (0, [0, 0]));
    assert_eq!(h.arena_bytes as usize, report.plan.arena_bytes);
    assert_eq!(h.peak_live_bytes as usize, report.peak_live_bytes);
    assert_eq!(h.greedy_arena_bytes as usize, report.greedy_arena_bytes);
    assert!(report.peak_live_bytes <= report.plan.arena_bytes);
    assert!(report.plan.arena_bytes <= report.greedy_arena_bytes);
    assert_eq!(m.bytes(), &bytes[..]);

    // Sections: in order, aligned, after the header, with the declared counts.
    let counts = [n.tensors.len(), n.ops.len(), n.inputs.len(), n.outputs.len()];
    let mut end = HEADER_BYTES;
    for s in Section::ALL {
        let d = h.sections[s as usize];
        assert_eq!(d.offset as usize % ALIGN, 0, "{name}: section {}", s.name());
        assert!(d.offset as usize >= end);
        end = d.offset as usize + d.count as usize * s.unit();
        if (s as usize) < counts.len() {
            assert_eq!(d.count as usize, counts[s as usize]);
        }
    }
    assert!(end <= bytes.len());
    assert_eq!(
        (m.tensor_count(), m.op_count(), m.input_count(), m.output_count()),
        (counts[0], counts[1], counts[2], counts[3])
    );
    let sizes = m.section_sizes();
    assert_eq!(sizes.total, bytes.len());
    assert_eq!(sizes.tensors, n.tensors.len() * 48);
    assert_eq!(sizes.ops, n.ops.len() * 32);
    assert_eq!(sizes.io, (n.inputs.len() + n.outputs.len()) * 4);
    let io_count: usize = n.ops.iter().map(|o| o.inputs.len() + o.outputs.len()).sum();
    assert_eq!(sizes.indices, io_count * 4);

    // Graph inputs and outputs.
    for (k, &t) in n.inputs.iter().enumerate() {
        assert_eq!(m.input(k), Some(t));
    }
    for (k, &t) in n.outputs.iter().enumerate() {
        assert_eq!(m.output(k), Some(t));
    }
    assert_eq!(m.input(n.inputs.len()), None);
    assert_eq!(m.output(n.outputs.len()), None);

    // Tensors.
    let mut act = 0;
    for (i, spec) in n.tensors.iter().enumerate() {
        let t = m.tensor(i as u32).unwrap();
        let what = format!("{name}: tensor {i} ({})", spec.name);
        assert_eq!(t.index, i as u32);
        assert_eq!(t.dtype, spec.dtype, "{what}");
        assert_eq!(t.rank, spec.dims.len(), "{what}");
        assert_eq!(t.shape(), &spec.dims[..], "{what}");
        assert!(t.dims[t.rank..].iter().all(|&d| d == 1), "{what}");
        assert_eq!(t.elements(), spec.dims.iter().product::<usize>());
        assert_eq!(t.last_dim(), *spec.dims.last().unwrap());
        let q = spec.quant.unwrap_or(Quant::new(0.0, 0));
        assert_eq!((t.scale.to_bits(), t.zero_point), (q.scale.to_bits(), q.zero_point), "{what}");
        assert_eq!(t.offset % ALIGN, 0, "{what}");
        match &spec.data {
            Some(data) => {
                assert_eq!(t.kind, Kind::Constant, "{what}");
                assert_eq!(t.bytes, data.len(), "{what}");
                assert_eq!(m.constant_bytes(&t), Some(&data[..]), "{what}");
                assert_eq!((t.first, t.last), (0, 0), "{what}");
                // Constants are borrowed in place, 16-byte aligned in memory.
                assert_eq!(m.constant_bytes(&t).unwrap().as_ptr() as usize % ALIGN, 0, "{what}");
            }
            None => {
                assert_eq!(t.kind, Kind::Activation, "{what}");
                assert_eq!(
                    Some(t.bytes),
                    doppler_model_format::TensorInfo::storage_bytes(spec.dtype, &spec.dims)
                );
                assert_eq!(m.constant_bytes(&t), None);
                assert!(t.offset + t.bytes <= m.arena_bytes(), "{what}");
                assert_eq!((t.first, t.last), expected_lifetime(n, i as u32), "{what}");
                assert_eq!(t.offset, report.plan.offsets[act], "{what}: plan offset");
                act += 1;
            }
        }
    }
    assert_eq!(m.tensor(n.tensors.len() as u32), None);
    assert_eq!(report.plan.offsets.len(), act);

    // Ops.
    for (i, spec) in n.ops.iter().enumerate() {
        let op = m.op(i as u32).unwrap();
        let what = format!("{name}: op {i} ({})", spec.name);
        assert_eq!(op.index, i as u32);
        assert_eq!(op.opcode, spec.opcode, "{what}");
        assert_eq!((op.n_inputs, op.n_outputs), (spec.inputs.len(), spec.outputs.len()), "{what}");
        for (k, &t) in spec.inputs.iter().enumerate() {
            assert_eq!(m.op_input(&op, k), Some(t), "{what}: input {k}");
        }
        for (k, &t) in spec.outputs.iter().enumerate() {
            assert_eq!(m.op_output(&op, k), Some(t), "{what}: output {k}");
        }
        assert_eq!(m.op_input(&op, spec.inputs.len()), None);
        assert_eq!(m.op_output(&op, spec.outputs.len()), None);
        assert_eq!(op.scratch, spec.scratch, "{what}");
        assert_eq!(op.params_len, spec.opcode.params_len(), "{what}");
        assert_eq!(m.params_bytes(&op), Some(&spec.params[..]), "{what}");
        assert_eq!(op.params_offset % 4, 0, "{what}: params 4-byte aligned");
    }
    assert_eq!(m.op(n.ops.len() as u32), None);
}

#[test]
fn int8_conv_model_roundtrips() {
    check_roundtrip("int8_conv", &int8_conv_model());
}

#[test]
fn float_model_roundtrips() {
    check_roundtrip("float", &float_model());
}

#[test]
fn binary_model_roundtrips() {
    check_roundtrip("binary", &binary_model());
}

#[test]
fn concat_model_roundtrips() {
    check_roundtrip("concat", &concat_model());
}

#[test]
fn typed_params_read_back() {
    use doppler_model_format::ops::*;
    let n = int8_conv_model();
    let blob = n.blob();
    let m = Model::parse(blob.as_bytes()).unwrap();
    let dw = m.op(n.o("dw") as u32).unwrap();
    let p: WindowParams = m.params(&dw).unwrap();
    assert_eq!((p.depth_multiplier, p.rounding, p.act_max), (2, ROUNDING_SINGLE, 100));
    let pad = m.op(n.o("pad") as u32).unwrap();
    let p: PadParams = m.params(&pad).unwrap();
    assert_eq!((p.pads, p.mode, p.value_i8), ([[0, 0], [1, 1], [1, 1], [0, 0]], PAD_CONSTANT, -128));
    let sm = m.op(n.o("softmax") as u32).unwrap();
    let p: SoftmaxParams = m.params(&sm).unwrap();
    assert_eq!((p.input_multiplier, p.input_left_shift, p.diff_min), (HALF, 20, -100));
    // Reading a record of the wrong size is refused, not truncated or padded.
    assert_eq!(m.params::<PadParams>(&dw), None);
    let reshape = m.op(n.o("reshape") as u32).unwrap();
    assert_eq!(m.params_bytes(&reshape), Some(&[][..]));
    assert_eq!(m.params::<NoParams>(&reshape), Some(NoParams {}));

    let n = float_model();
    let blob = n.blob();
    let m = Model::parse(blob.as_bytes()).unwrap();
    let p: ResizeParams = m.params(&m.op(n.o("resize") as u32).unwrap()).unwrap();
    assert_eq!((p.align_corners, p.half_pixel_centers), (0, 1));
    let p: InstanceNormParams = m.params(&m.op(n.o("inorm") as u32).unwrap()).unwrap();
    assert_eq!(p.epsilon, 1e-5);
    let p: ElementwiseParams = m.params(&m.op(n.o("relu6") as u32).unwrap()).unwrap();
    assert_eq!((p.act_min_f, p.act_max_f), (0.0, 6.0));
}

#[test]
fn b1_storage_rounds_the_last_dim_up_to_words() {
    use doppler_model_format::TensorInfo;
    assert_eq!(TensorInfo::storage_bytes(DType::B1, &[1, 6, 6, 40]), Some(36 * 8));
    assert_eq!(TensorInfo::storage_bytes(DType::B1, &[32]), Some(4));
    assert_eq!(TensorInfo::storage_bytes(DType::B1, &[33]), Some(8));
    assert_eq!(TensorInfo::storage_bytes(DType::B1, &[3, 1]), Some(12));
    assert_eq!(TensorInfo::storage_bytes(DType::I8, &[3, 5]), Some(15));
    assert_eq!(TensorInfo::storage_bytes(DType::I32, &[3, 5]), Some(60));
    assert_eq!(TensorInfo::storage_bytes(DType::F32, &[7]), Some(28));
    assert_eq!(TensorInfo::storage_bytes(DType::F32, &[usize::MAX, 2]), None);
    let n = binary_model();
    let blob = n.blob();
    let m = Model::parse(blob.as_bytes()).unwrap();
    let t = m.tensor(n.t("w1")).unwrap();
    assert_eq!((t.shape(), t.bytes), (&[8, 3, 3, 40][..], 8 * 9 * 2 * 4));
    assert_eq!(m.tensor(n.t("pb")).unwrap().bytes, 9 * 4);
}

#[test]
fn dims4_view_has_leading_ones() {
    let n = concat_model();
    let blob = n.blob();
    let m = Model::parse(blob.as_bytes()).unwrap();
    assert_eq!(m.tensor(n.t("r")).unwrap().dims4(), [1, 1, 1, 64]);
    assert_eq!(m.tensor(n.t("table")).unwrap().dims4(), [1, 1, 1, 256]);
    assert_eq!(m.tensor(n.t("c")).unwrap().dims4(), [1, 4, 4, 4]);
}

#[test]
fn blob_is_readable_from_any_aligned_copy() {
    // Parsing borrows; a second aligned copy parses to the same view.
    let n = concat_model();
    let blob = n.blob();
    let copy = AlignedBlob::from_bytes(blob.as_bytes());
    let (a, b) = (Model::parse(blob.as_bytes()).unwrap(), Model::parse(copy.as_bytes()).unwrap());
    assert_eq!(a.header(), b.header());
    assert_eq!(a.tensor(3), b.tensor(3));
    assert!(!blob.is_empty());
    assert_eq!(blob.len(), a.bytes().len());
}

#[test]
fn header_figures_match_the_planner_on_the_activations() {
    for (name, n) in all_models() {
        let blob = n.blob();
        let m = Model::parse(blob.as_bytes()).unwrap();
        let bufs: Vec<plan::Buffer> = (0..m.tensor_count() as u32)
            .filter_map(|i| m.tensor(i))
            .filter(|t| t.kind == Kind::Activation)
            .map(|t| plan::Buffer { size: t.bytes, first: t.first, last: t.last })
            .collect();
        let h = m.header();
        assert_eq!(h.peak_live_bytes as usize, plan::lower_bound(&bufs), "{name}");
        assert_eq!(h.greedy_arena_bytes as usize, plan::greedy_by_size(&bufs).arena_bytes, "{name}");
        assert_eq!(h.arena_bytes as usize, plan::plan(&bufs).arena_bytes, "{name}");
    }
}

#[test]
fn minimal_graph_one_op() {
    // The smallest useful blob: one input, one op, one output.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[4], None);
    let y = b.activation(DType::F32, &[4], None);
    b.op(OpCode::Reshape, &[x], &[y], &doppler_model_format::ops::NoParams {});
    b.output(y);
    let blob = b.finish().unwrap();
    let m = Model::parse(blob.as_bytes()).unwrap();
    assert_eq!((m.tensor(0).unwrap().first, m.tensor(0).unwrap().last), (0, 1));
    assert_eq!((m.tensor(1).unwrap().first, m.tensor(1).unwrap().last), (1, 2));
    assert_eq!(m.arena_bytes(), 32);
    assert_eq!(m.section_sizes().params, 0);
    assert_eq!(m.section_sizes().data, 0);
}
