//! The converter against something we did not write: every fixture in `tools/fixtures/models/`
//! (made by `tools/fixtures/generate.py` with TensorFlow 2.15's reference interpreter and Larq
//! Compute Engine's interpreter) is converted, run on the host engine, and compared with the
//! reference outputs: int8 and bit-packed outputs byte for byte, float32 outputs within
//! `runner::compare`'s tolerance (`|a − e| ≤ 1e-5 + 1e-4·|e|`).
//!
//! Fixtures that use something Doppler cannot express must fail to convert with the documented
//! error ([`EXPECTED_UNSUPPORTED`]) — never convert into a different model.

use std::path::{Path, PathBuf};

use doppler_tools::convert::{convert_tflite, convert_tflite_with, ConvertError, ConvertOptions};
use doppler_tools::npy;
use doppler_tools::runner::{self, Match};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("models")
}

/// Fixtures whose conversion must fail, with a fragment of the error.
const EXPECTED_UNSUPPORTED: &[(&str, &str)] = &[
    ("f32_logistic_reshape", "op 1 (LOGISTIC): float32 LOGISTIC"),
    ("f32_mul", "op 2 (LOGISTIC): float32 LOGISTIC"),
];

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("tools/fixtures/models exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("model.tflite").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn numbered(dir: &Path, stem: &str) -> Vec<PathBuf> {
    (0..).map(|k| dir.join(format!("{stem}{k}.npy"))).take_while(|p| p.is_file()).collect()
}

/// Converts and runs one fixture; `Ok(description)` or `Err(why)`.
fn check(name: &str) -> Result<String, String> {
    let dir = fixtures_dir().join(name);
    let tflite = std::fs::read(dir.join("model.tflite")).map_err(|e| e.to_string())?;
    let converted = match convert_tflite(&tflite) {
        Ok(c) => c,
        Err(err) => {
            let msg = err.to_string();
            return match EXPECTED_UNSUPPORTED.iter().find(|(n, _)| *n == name) {
                Some((_, frag)) if msg.contains(frag) && matches!(err, ConvertError::Unsupported { .. }) => {
                    Ok(format!("unsupported as expected: {msg}"))
                }
                _ => Err(format!("conversion failed: {msg}")),
            };
        }
    };
    if EXPECTED_UNSUPPORTED.iter().any(|(n, _)| *n == name) {
        return Err("converted, but was expected to be rejected".into());
    }
    let inputs: Vec<(String, npy::Array)> = numbered(&dir, "input")
        .iter()
        .map(|p| Ok((p.display().to_string(), npy::read(p).map_err(|e| e.to_string())?)))
        .collect::<Result<_, String>>()?;
    let expected: Vec<npy::Array> = numbered(&dir, "expected")
        .iter()
        .map(|p| npy::read(p).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let out = runner::run(converted.blob.as_bytes(), name, &inputs).map_err(|e| e.to_string())?;
    if out.outputs.len() != expected.len() {
        return Err(format!("{} outputs, {} expected", out.outputs.len(), expected.len()));
    }
    let mut verdicts = Vec::new();
    for (k, (a, x)) in out.outputs.iter().zip(&expected).enumerate() {
        match runner::compare(a, x) {
            Ok(Match::Identical) => verdicts.push(format!("out{k} bit-exact")),
            Ok(Match::WithinTolerance { max_abs_diff }) => {
                if !matches!(x.data, npy::Data::F32(_)) {
                    return Err(format!("output {k}: not bit-exact"));
                }
                verdicts.push(format!("out{k} within tolerance (max |diff| {max_abs_diff:e})"))
            }
            Err(why) => return Err(format!("output {k}: {why}")),
        }
    }
    Ok(verdicts.join(", "))
}

#[test]
fn every_fixture_converts_and_matches_its_reference() {
    let names = fixture_names();
    assert!(names.len() >= 20, "expected the committed fixtures, found {}", names.len());
    let mut failures = Vec::new();
    for name in &names {
        match check(name) {
            Ok(v) => println!("{name:28} ok: {v}"),
            Err(why) => {
                println!("{name:28} FAIL: {why}");
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

/// The lowerings that need more than a one-to-one op mapping really happen in the fixtures
/// (so the bit-exact results above cover them).
#[test]
fn fixtures_exercise_the_non_trivial_lowerings() {
    let lowered = |name: &str| -> Vec<(String, Vec<&'static str>)> {
        let bytes = std::fs::read(fixtures_dir().join(name).join("model.tflite")).unwrap();
        let c = convert_tflite(&bytes).unwrap();
        println!("{name}:\n{}", c.report);
        assert!(c.report.arena_bytes <= c.report.greedy_arena_bytes);
        assert!(c.report.peak_live_bytes <= c.report.arena_bytes);
        c.report.ops.into_iter().map(|o| (o.name, o.lowered)).collect()
    };
    let has = |ops: &[(String, Vec<&'static str>)], src: &str, dst: &[&str]| {
        assert!(ops.iter().any(|(n, l)| n == src && l == dst), "{src} -> {dst:?} not found in {ops:?}");
    };
    let ops = lowered("int8_conv_geometry");
    has(&ops, "SPACE_TO_BATCH_ND", &["Conv2d"]);
    has(&ops, "BATCH_TO_SPACE_ND", &[]);
    has(&ops, "ADD", &["Add"]);
    let ops = lowered("int8_mean_wide");
    has(&ops, "MEAN", &["Mean"]);
    let ops = lowered("int8_mean_keepdims");
    has(&ops, "MEAN", &["Mean"]);
    let ops = lowered("int8_pad_variants");
    has(&ops, "QUANTIZE", &["Lut"]);
    has(&ops, "MIRROR_PAD", &["Pad"]);
    has(&ops, "PADV2", &["Pad"]);
    has(&ops, "RELU", &["Lut"]);
    let ops = lowered("int8_logistic_reshape");
    has(&ops, "LOGISTIC", &["Lut"]);
    let ops = lowered("lce_relu_bmaxpool");
    has(&ops, "LceBMaxPool2d", &["MaxPool2d"]);
    has(&ops, "LceDequantize", &["BUnpack"]);
    has(&ops, "LceQuantize", &["BPack"]);
}

/// Layer by layer: for the int8 TFLite fixtures the generator also saved every int8 tensor the
/// reference interpreter wrote (`intermediates/tN.npy`, N = `.tflite` tensor index). The model is
/// converted with every intermediate exposed as a graph output, and each must be bit-exact — so a
/// rounding difference cannot hide behind a later layer (a softmax, a saturation, a pooling).
#[test]
fn every_int8_intermediate_tensor_is_bit_exact() {
    let mut models = 0;
    let mut tensors = 0;
    let mut failures = Vec::new();
    for name in fixture_names() {
        let dir = fixtures_dir().join(&name);
        let inter = dir.join("intermediates");
        if !inter.is_dir() {
            continue;
        }
        let tflite = std::fs::read(dir.join("model.tflite")).unwrap();
        let opts = ConvertOptions { expose_intermediates: true };
        let converted = convert_tflite_with(&tflite, &opts).unwrap();
        let inputs: Vec<(String, npy::Array)> = numbered(&dir, "input")
            .iter()
            .map(|p| (p.display().to_string(), npy::read(p).unwrap()))
            .collect();
        let out = runner::run(converted.blob.as_bytes(), &name, &inputs).unwrap();
        let mut checked = 0;
        for (array, &t) in out.outputs.iter().zip(&converted.report.output_tensors) {
            let path = inter.join(format!("t{t}.npy"));
            if !path.is_file() {
                continue;
            }
            let expected = npy::read(&path).unwrap();
            match runner::compare(array, &expected) {
                Ok(Match::Identical) => checked += 1,
                Ok(m) => failures.push(format!("{name}: tensor {t}: {m:?}")),
                Err(why) => failures.push(format!("{name}: tensor {t}: {why}")),
            }
        }
        let saved = std::fs::read_dir(&inter).unwrap().count();
        // Tensors folded away (the dilated-convolution pattern's inner ones) have no blob twin.
        let folded: usize = converted.report.ops.iter().filter(|o| o.lowered.is_empty()).count();
        assert!(
            checked + folded >= saved || !failures.is_empty(),
            "{name}: only {checked} of {saved} intermediates compared"
        );
        println!("{name:28} {checked} intermediate tensors bit-exact");
        models += 1;
        tensors += checked;
    }
    assert!(models >= 10, "intermediates for {models} models only");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{tensors} intermediate tensors in {models} models: all bit-exact");
}
