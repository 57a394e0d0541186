//! ONNX importer tests on graphs built here (and, when `../shared/models/` is present, the
//! fast-neural-style models against onnxruntime's outputs in `examples/style/`).

use super::*;
use crate::style::{Image, Runner};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shared_model(name: &str) -> Option<Vec<u8>> {
    let p = repo().join("../shared/models").join(name);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipped: {} not found", p.display());
            None
        }
    }
}

fn npy_f32(path: &std::path::Path) -> Option<Vec<f32>> {
    match crate::npy::read(path) {
        Ok(a) => match a.data {
            crate::npy::Data::F32(v) => Some(v),
            _ => None,
        },
        Err(_) => {
            eprintln!("skipped: {} not found", path.display());
            None
        }
    }
}

/// Float candy/mosaic at 64×64 against onnxruntime's outputs (`examples/style/ref_*`).
#[test]
fn fns_float_matches_onnxruntime() {
    for style in ["candy", "mosaic"] {
        let Some(bytes) = shared_model(&format!("fns_{style}.onnx")) else { return };
        let dir = repo().join("examples/style");
        let (Some(x), Some(want)) = (
            npy_f32(&dir.join(format!("ref_{style}_64_in.npy"))),
            npy_f32(&dir.join(format!("ref_{style}_64_out.npy"))),
        ) else {
            return;
        };
        let opts = OnnxOptions { height: 64, width: 64, ..Default::default() };
        let c = convert_onnx(&bytes, &opts).unwrap();
        let mut r = Runner::new(c.model.blob.as_bytes()).unwrap();
        let y = r.run(&Image { h: 64, w: 64, data: x }).unwrap();
        let max = y.data.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let mean =
            y.data.iter().zip(&want).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>() / want.len() as f64;
        eprintln!("{style}: max |doppler − onnxruntime| = {max}, mean {mean:e}");
        assert!(max < 0.01, "{style}: max diff {max}");
    }
}

fn local(name: &str) -> Option<Vec<u8>> {
    let p = repo().join("examples/style").join(name);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipped: {} not found", p.display());
            None
        }
    }
}

/// The QDQ model (onnxruntime's quantizer) without calibration: int8 inputs as the model says,
/// float convolutions of the dequantized values — the graph's own meaning — against
/// onnxruntime's output on the astronaut photo (256×256, slow in debug builds: --ignored).
#[test]
#[ignore]
fn qdq_as_float_matches_onnxruntime() {
    let (Some(bytes), Some(want)) =
        (local("candy_qdq.onnx"), npy_f32(&repo().join("examples/style/ref_candy_qdq_256_out.npy")))
    else {
        return;
    };
    let c = convert_onnx(&bytes, &OnnxOptions::default()).unwrap();
    eprintln!("{}", c.model.report);
    let x = crate::style::load_photo(&repo().join("examples/style/photos/astronaut.png"), 256, 256).unwrap();
    let mut r = Runner::new(c.model.blob.as_bytes()).unwrap();
    let y = r.run(&x).unwrap();
    let max = y.data.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    eprintln!("qdq: max |doppler − onnxruntime| = {max}");
}

/// The binary candy network (`Pad → Sign → Conv` blocks lowered to BPack → BConv2d) against
/// onnxruntime at 64×64. ONNX's Sign(0) = 0 and Doppler's +1 differ only where an input is
/// exactly 0.0, which a float InstanceNorm output practically never is.
#[test]
fn binary_candy_matches_onnxruntime() {
    let dir = repo().join("examples/style");
    let (Some(bytes), Some(x), Some(want)) = (
        local("candy_binary.onnx"),
        npy_f32(&dir.join("ref_candy_64_in.npy")),
        npy_f32(&dir.join("ref_candy_binary_64_out.npy")),
    ) else {
        return;
    };
    let c = convert_onnx(&bytes, &OnnxOptions { height: 64, width: 64, ..Default::default() }).unwrap();
    assert_eq!(c.convs, [6, 0, 10]);
    let mut r = Runner::new(c.model.blob.as_bytes()).unwrap();
    let y = r.run(&Image { h: 64, w: 64, data: x }).unwrap();
    let max = y.data.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let mean =
        y.data.iter().zip(&want).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>() / want.len() as f64;
    eprintln!("binary: max |doppler − onnxruntime| = {max}, mean {mean:e}");
    assert!(max < 0.05, "binary: max diff {max}");
}
