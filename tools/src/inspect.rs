//! `doppler inspect`: everything in a blob's header and tables, as aligned text.

use std::fmt::Write as _;

use doppler_engine::{DType, Model, OpCode, TensorInfo};
use doppler_model_format::layout::{Kind, VERSION_MAJOR};
use doppler_model_format::ops::*;
use doppler_model_format::OpInfo;

use crate::fmt_dims;
use crate::table::{Align, Table};

/// Renders the report for a validated model; `what` names it (the path).
pub fn render(model: &Model, what: &str) -> String {
    let h = model.header();
    let mut s = String::new();
    let n_ops = model.op_count();
    let n_tensors = model.tensor_count();
    let tensors: Vec<TensorInfo> = (0..n_tensors as u32).filter_map(|i| model.tensor(i)).collect();
    let constants = tensors.iter().filter(|t| t.kind == Kind::Constant).count();

    let _ = writeln!(s, "{what}");
    let _ = writeln!(
        s,
        "  format     DPLR {}.{} (reader supports {VERSION_MAJOR}.x)",
        h.version_major, h.version_minor
    );
    let _ = writeln!(s, "  blob       {} bytes", group(h.blob_len as usize));
    let _ = writeln!(s, "  crc32      0x{:08x} (verified)", h.crc32);
    let _ = writeln!(
        s,
        "  graph      {n_ops} ops, {n_tensors} tensors ({} activations, {constants} constants), {} input{}, {} output{}",
        n_tensors - constants,
        model.input_count(),
        plural(model.input_count()),
        model.output_count(),
        plural(model.output_count())
    );

    // Sections.
    let z = model.section_sizes();
    let used = z.header + z.tensors + z.ops + z.io + z.indices + z.params + z.data;
    let mut t = Table::new(&[("section", Align::Left), ("bytes", Align::Right), ("share", Align::Right)]);
    let rows = [
        ("header", z.header),
        ("tensors", z.tensors),
        ("ops", z.ops),
        ("inputs+outputs", z.io),
        ("indices", z.indices),
        ("params", z.params),
        ("data (constants)", z.data),
        ("alignment padding", z.total.saturating_sub(used)),
        ("total", z.total),
    ];
    for (name, bytes) in rows {
        t.row(vec![name.into(), group(bytes), percent(bytes, z.total)]);
    }
    let _ = writeln!(s, "\nSections");
    s.push_str(&t.render(2));

    // Arena.
    let planned = h.arena_bytes as usize;
    let greedy = h.greedy_arena_bytes as usize;
    let lower = h.peak_live_bytes as usize;
    let mut t = Table::new(&[("arena", Align::Left), ("bytes", Align::Right), ("note", Align::Left)]);
    t.row(vec!["planned (stored in the blob)".into(), group(planned), "what the caller must provide".into()]);
    let vs_greedy = if greedy == 0 {
        String::new()
    } else if planned <= greedy {
        format!("planned saves {} ({})", group(greedy - planned), percent(greedy - planned, greedy))
    } else {
        format!("WORSE than greedy by {}", group(planned - greedy))
    };
    t.row(vec!["TFLM greedy (largest first, first fit)".into(), group(greedy), vs_greedy]);
    let vs_lower = if planned == lower {
        "planned is optimal".to_string()
    } else {
        format!("planned is {} above", group(planned.saturating_sub(lower)))
    };
    t.row(vec!["lower bound (peak live bytes)".into(), group(lower), vs_lower]);
    let _ = writeln!(s, "\nArena");
    s.push_str(&t.render(2));

    // Graph inputs and outputs.
    let mut t = Table::new(&[
        ("io", Align::Left),
        ("tensor", Align::Right),
        ("dtype", Align::Left),
        ("dims", Align::Left),
        ("bytes", Align::Right),
        ("scale", Align::Right),
        ("zero point", Align::Right),
    ]);
    let io_rows = (0..model.input_count())
        .map(|k| (format!("input {k}"), model.input(k)))
        .chain((0..model.output_count()).map(|k| (format!("output {k}"), model.output(k))));
    for (name, idx) in io_rows {
        let Some(ti) = idx.and_then(|i| model.tensor(i)) else { continue };
        let (scale, zp) = quant_cells(&ti);
        t.row(vec![
            name,
            ti.index.to_string(),
            ti.dtype.name().into(),
            fmt_dims(ti.shape()),
            group(ti.bytes),
            scale,
            zp,
        ]);
    }
    let _ = writeln!(s, "\nInputs and outputs");
    s.push_str(&t.render(2));

    // Ops.
    let mut t = Table::new(&[
        ("op", Align::Right),
        ("opcode", Align::Left),
        ("inputs", Align::Left),
        ("output", Align::Left),
        ("params", Align::Left),
    ]);
    for i in 0..n_ops as u32 {
        let Some(op) = model.op(i) else { continue };
        let ins: Vec<String> =
            (0..op.n_inputs).filter_map(|k| model.op_input(&op, k)).map(|ti| tensor_ref(model, ti)).collect();
        let outs: Vec<String> = (0..op.n_outputs)
            .filter_map(|k| model.op_output(&op, k))
            .map(|ti| tensor_ref(model, ti))
            .collect();
        let mut params = params_summary(model, &op);
        if let Some(sc) = op.scratch.and_then(|x| model.tensor(x)) {
            params.push_str(&format!("; scratch t{} ({} B)", sc.index, sc.bytes));
        }
        t.row(vec![i.to_string(), op.opcode.name().into(), ins.join(" "), outs.join(" "), params]);
    }
    let _ = writeln!(s, "\nOps (t<index>:<dtype>[dims]; pad is top/bottom/left/right)");
    s.push_str(&t.render(2));

    // Tensors.
    let mut t = Table::new(&[
        ("tensor", Align::Right),
        ("kind", Align::Left),
        ("dtype", Align::Left),
        ("dims", Align::Left),
        ("bytes", Align::Right),
        ("location", Align::Left),
        ("offset", Align::Right),
        ("lifetime", Align::Left),
        ("scale", Align::Right),
        ("zero point", Align::Right),
    ]);
    let end = n_ops as u32 + 1;
    for ti in &tensors {
        let (kind, location, lifetime) = match ti.kind {
            Kind::Constant => ("constant", "data", "-".to_string()),
            Kind::Activation => ("activation", "arena", lifetime(ti.first, ti.last, end)),
        };
        let (scale, zp) = quant_cells(ti);
        t.row(vec![
            ti.index.to_string(),
            kind.into(),
            ti.dtype.name().into(),
            fmt_dims(ti.shape()),
            group(ti.bytes),
            location.into(),
            group(ti.offset),
            lifetime,
            scale,
            zp,
        ]);
    }
    let _ = writeln!(s, "\nTensors (lifetime: step written ..= last step read; step i+1 is op i)");
    s.push_str(&t.render(2));
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `12,345`.
pub fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(part: usize, total: usize) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / total as f64)
    }
}

fn quant_cells(t: &TensorInfo) -> (String, String) {
    if t.dtype == DType::I8 {
        (format!("{:.6e}", t.scale), t.zero_point.to_string())
    } else {
        ("-".into(), "-".into())
    }
}

fn short_dtype(d: DType) -> &'static str {
    match d {
        DType::I8 => "i8",
        DType::I32 => "i32",
        DType::F32 => "f32",
        DType::B1 => "b1",
    }
}

fn tensor_ref(model: &Model, i: u32) -> String {
    match model.tensor(i) {
        Some(t) => {
            let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
            format!("t{i}:{}[{}]", short_dtype(t.dtype), dims.join("x"))
        }
        None => format!("t{i}:?"),
    }
}

fn lifetime(first: u32, last: u32, end: u32) -> String {
    let f = if first == 0 { "input".to_string() } else { format!("op {}", first - 1) };
    let l = if last >= end { "output".to_string() } else { format!("op {}", last - 1) };
    if f == l {
        f
    } else {
        format!("{f} ..= {l}")
    }
}

fn rounding(r: u32) -> &'static str {
    if r == ROUNDING_SINGLE {
        "single-round"
    } else {
        "double-round"
    }
}

fn act_f(min: f32, max: f32) -> String {
    if min == f32::NEG_INFINITY && max == f32::INFINITY {
        "no act".into()
    } else {
        format!("act [{min}, {max}]")
    }
}

fn act_i(min: i32, max: i32) -> String {
    if min <= -128 && max >= 127 {
        "no act".into()
    } else {
        format!("act [{min}, {max}]")
    }
}

fn window(p: &WindowParams) -> String {
    let pair = |a: u32, b: u32| if a == b { a.to_string() } else { format!("{a}x{b}") };
    let mut s = format!("k{}x{} s{}", p.filter_h, p.filter_w, pair(p.stride_h, p.stride_w));
    if p.dilation_h != 1 || p.dilation_w != 1 {
        s.push_str(&format!(" d{}", pair(p.dilation_h, p.dilation_w)));
    }
    if p.pad_top + p.pad_bottom + p.pad_left + p.pad_right > 0 {
        s.push_str(&format!(" pad {}/{}/{}/{}", p.pad_top, p.pad_bottom, p.pad_left, p.pad_right));
    }
    s
}

/// The key parameters of one op, decoded from its record.
fn params_summary(model: &Model, op: &OpInfo) -> String {
    let dtype_of = |k: usize| model.op_input(op, k).and_then(|t| model.tensor(t)).map(|t| t.dtype);
    let out_dtype = model.op_output(op, 0).and_then(|t| model.tensor(t)).map(|t| t.dtype);
    let int8 = dtype_of(0) == Some(DType::I8);
    match op.opcode {
        OpCode::Conv2d | OpCode::DepthwiseConv2d => {
            let Some(p) = model.params::<WindowParams>(op) else { return "?".into() };
            let mut s = window(&p);
            if op.opcode == OpCode::DepthwiseConv2d {
                s.push_str(&format!(" mult {}", p.depth_multiplier));
            }
            if int8 {
                s.push_str(&format!(", {}, {}", act_i(p.act_min, p.act_max), rounding(p.rounding)));
            } else {
                s.push_str(&format!(", {}", act_f(p.act_min_f, p.act_max_f)));
            }
            s
        }
        OpCode::BConv2d => {
            let Some(p) = model.params::<WindowParams>(op) else { return "?".into() };
            let pad = if p.pad_value == PAD_VALUE_ZERO { "zero-pad" } else { "one-pad" };
            let epilogue = match out_dtype {
                Some(DType::B1) => "bitpacked out (thresholds)".to_string(),
                Some(d) => format!("{} out (multiplier, bias)", d.name()),
                None => "?".into(),
            };
            let clamp = if p.act_min == i32::MIN && p.act_max == i32::MAX {
                String::new()
            } else {
                format!(", clamp acc [{}, {}]", p.act_min, p.act_max)
            };
            format!("{}, {pad}, {epilogue}{clamp}", window(&p))
        }
        OpCode::TransposeConv2d => {
            let Some(p) = model.params::<WindowParams>(op) else { return "?".into() };
            format!("{} (pads crop the output), {}", window(&p), act_f(p.act_min_f, p.act_max_f))
        }
        OpCode::MaxPool2d | OpCode::AvgPool2d => {
            let Some(p) = model.params::<WindowParams>(op) else { return "?".into() };
            match dtype_of(0) {
                Some(DType::B1) => format!("{}, bitwise AND", window(&p)),
                Some(DType::I8) => format!("{}, {}", window(&p), act_i(p.act_min, p.act_max)),
                _ => format!("{}, {}", window(&p), act_f(p.act_min_f, p.act_max_f)),
            }
        }
        OpCode::FullyConnected => {
            let Some(p) = model.params::<FullyConnectedParams>(op) else { return "?".into() };
            if int8 {
                format!("{}, {}", act_i(p.act_min, p.act_max), rounding(p.rounding))
            } else {
                act_f(p.act_min_f, p.act_max_f)
            }
        }
        OpCode::Add | OpCode::Mul => {
            let Some(p) = model.params::<ElementwiseParams>(op) else { return "?".into() };
            if !int8 {
                return act_f(p.act_min_f, p.act_max_f);
            }
            let out = format!("out {}·2^{}", p.output_multiplier, p.output_shift);
            if op.opcode == OpCode::Add {
                format!(
                    "left shift {}, in1 {}·2^{}, in2 {}·2^{}, {out}, {}, {}",
                    p.left_shift,
                    p.input1_multiplier,
                    p.input1_shift,
                    p.input2_multiplier,
                    p.input2_shift,
                    act_i(p.act_min, p.act_max),
                    rounding(p.rounding)
                )
            } else {
                format!("{out}, {}, {}", act_i(p.act_min, p.act_max), rounding(p.rounding))
            }
        }
        OpCode::Clamp => {
            let Some(p) = model.params::<ElementwiseParams>(op) else { return "?".into() };
            if int8 {
                format!("[{}, {}]", p.act_min, p.act_max)
            } else {
                format!("[{}, {}]", p.act_min_f, p.act_max_f)
            }
        }
        OpCode::Mean => {
            let Some(p) = model.params::<MeanParams>(op) else { return "?".into() };
            if int8 {
                let mode = match p.mode {
                    MEAN_DIVIDE => "then ÷ H·W",
                    MEAN_FOLDED => "1/(H·W) folded",
                    _ => "mode ?",
                };
                format!("over H, W; requant {}·2^{}, {}, {mode}", p.multiplier, p.shift, rounding(p.rounding))
            } else {
                "over H, W".into()
            }
        }
        OpCode::Pad => {
            let Some(p) = model.params::<PadParams>(op) else { return "?".into() };
            let pads: Vec<String> = p.pads.iter().map(|[a, b]| format!("{a},{b}")).collect();
            let mode = if p.mode == PAD_REFLECT {
                "reflect".to_string()
            } else if int8 {
                format!("constant {}", p.value_i8)
            } else {
                format!("constant {}", p.value_f32)
            };
            format!("{mode}, pads (N H W C) {}", pads.join(" "))
        }
        OpCode::Softmax => {
            let Some(p) = model.params::<SoftmaxParams>(op) else { return "?".into() };
            if int8 {
                format!("input mult {}·2^{}, diff_min {}", p.input_multiplier, p.input_left_shift, p.diff_min)
            } else {
                format!("beta {}", p.beta)
            }
        }
        OpCode::ResizeNearest => {
            let Some(p) = model.params::<ResizeParams>(op) else { return "?".into() };
            format!("align_corners {}, half_pixel_centers {}", p.align_corners, p.half_pixel_centers)
        }
        OpCode::InstanceNorm => {
            let Some(p) = model.params::<InstanceNormParams>(op) else { return "?".into() };
            format!("epsilon {:e}", p.epsilon)
        }
        OpCode::Quantize => match model.op_output(op, 0).and_then(|t| model.tensor(t)) {
            Some(t) => format!("to scale {:e}, zero point {}", t.scale, t.zero_point),
            None => String::new(),
        },
        OpCode::Dequantize => match model.op_input(op, 0).and_then(|t| model.tensor(t)) {
            Some(t) => format!("from scale {:e}, zero point {}", t.scale, t.zero_point),
            None => String::new(),
        },
        OpCode::BPack => match dtype_of(0) {
            Some(DType::I8) => "sign relative to the zero point".into(),
            _ => "sign (x < 0 → 1)".into(),
        },
        OpCode::Concatenation => "last axis".into(),
        OpCode::Reshape | OpCode::Lut | OpCode::BUnpack | OpCode::Tanh => String::new(),
    }
}
