//! The converter's error paths on real converter output and on damaged files:
//! * every model in `tools/fixtures/unsupported/` (made by TensorFlow 2.15's converter from the
//!   fixtures' neighbourhood: an op, an option, a quantization mode Doppler does not reproduce)
//!   fails with an error naming the op and what is unsupported;
//! * truncated and bit-flipped versions of the fixtures never panic: each is an error or, when
//!   the damage hits bytes that do not matter, a blob the loader accepts.

use std::path::{Path, PathBuf};

use doppler_engine::Model;
use doppler_tools::convert::{convert_tflite, ConvertError};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// (file, fragment of the error message).
const UNSUPPORTED: &[(&str, &str)] = &[
    ("int8_tanh", "op 1 (TANH): op not supported"),
    ("int8_sub", "(SUB): op not supported"),
    ("int8_concat_axis1", "(CONCATENATION): concatenation along axis 1 of rank 4 (only the last)"),
    ("int8_add_broadcast", "(ADD): broadcasting between activations ([1, 1, 1, 4] to [1, 6, 6, 4])"),
    ("int8_resize_bilinear", "(RESIZE_BILINEAR): op not supported"),
    ("f32_mirror_symmetric", "op 0 (MIRROR_PAD): MIRROR_PAD mode SYMMETRIC"),
    (
        "hybrid_dense",
        "(FULLY_CONNECTED): float input with INT8 weights (hybrid / dynamic-range quantization)",
    ),
    ("f16_weights", "op 0 (DEQUANTIZE): DEQUANTIZE of the constant tensor 1 ("),
];

#[test]
fn unsupported_models_are_rejected_with_the_op_named() {
    let dir = fixtures().join("unsupported");
    let mut seen = 0;
    for (name, fragment) in UNSUPPORTED {
        let bytes = std::fs::read(dir.join(format!("{name}.tflite"))).unwrap();
        match convert_tflite(&bytes) {
            Err(e @ ConvertError::Unsupported { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(fragment), "{name}: {msg}");
                println!("{name:22} {msg}");
            }
            Err(e) => panic!("{name}: expected an Unsupported error, got: {e}"),
            Ok(_) => panic!("{name}: converted, but must be rejected"),
        }
        seen += 1;
    }
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(seen, files, "every file in {} has an expectation here", dir.display());
}

/// xorshift64*, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn convert_checked(bytes: &[u8]) -> bool {
    match convert_tflite(bytes) {
        Ok(m) => {
            Model::parse(m.blob.as_bytes()).expect("a converted blob always validates");
            true
        }
        Err(_) => false,
    }
}

#[test]
fn damaged_models_never_panic() {
    let names = [
        "int8_conv",
        "int8_depthwise",
        "int8_pools_mean",
        "lce_relu_bmaxpool",
        "lce_int8_out",
        "f32_pad_concat",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    for name in names {
        let good = std::fs::read(fixtures().join("models").join(name).join("model.tflite")).unwrap();
        assert!(convert_checked(&good), "{name} converts");
        // Truncations.
        for k in 0..64 {
            let len = good.len() * k / 64;
            assert!(!convert_checked(&good[..len]) || len == good.len());
        }
        // Random byte damage: 1 to 8 bytes per sample, anywhere (the flatbuffer tables are near
        // the end of TFLite files, the weights before them).
        for _ in 0..400 {
            let mut bad = good.clone();
            for _ in 0..1 + rng.below(8) {
                let i = if rng.below(2) == 0 {
                    rng.below(bad.len())
                } else {
                    bad.len() - 1 - rng.below(bad.len().min(2048))
                };
                bad[i] = rng.next() as u8;
            }
            if convert_checked(&bad) {
                ok += 1;
            } else {
                err += 1;
            }
        }
    }
    println!("damaged samples: {ok} still converted, {err} rejected");
    assert!(err > 0);
}

/// Found by the `convert_tflite` fuzz target: a Larq custom op whose flexbuffer options have a
/// nested offset out of bounds (the `flexbuffers` crate panicked on it). Since the converter reads
/// the options with its own bounds-checked reader (`convert::flex`), it is a typed `Malformed`
/// error naming the op and what is inconsistent — no `catch_unwind` involved.
#[test]
fn corrupt_flexbuffer_options_are_an_error() {
    let path = fixtures().join("../../fuzz/regressions/convert_tflite-flexbuffers-offset-oob.tflite");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let err = doppler_tools::convert::convert_tflite(&bytes).expect_err("must be rejected");
    assert!(matches!(err, doppler_tools::convert::ConvertError::Malformed(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("op 5 (LceBconv2d): custom options: flexbuffer"), "{msg}");
}

/// Found by the `convert_tflite` fuzz target (session 2): a float model whose second AVERAGE_POOL_2D
/// has a 50331648×196608 window with SAME padding over an 8×8 input. TFLite semantics make that a
/// valid model (each output averages the in-bounds taps), and the validator accepts it; the
/// reference pooling kernels looped over the whole window (~10^13 taps per output) — a hang. They
/// now loop over the in-bounds taps only (`Window2d::taps_y` / `taps_x`), so the model converts,
/// loads and runs in well under a second, with the same result as before.
#[test]
fn huge_pool_window_runs_quickly() {
    let path = fixtures().join("../../fuzz/regressions/convert_tflite-avgpool-huge-window.tflite");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let converted = doppler_tools::convert::convert_tflite(&bytes).expect("a valid model");
    let blob = converted.blob.as_bytes();
    let mut arena = vec![0u8; doppler_engine::required_arena_bytes(blob).unwrap() + 16];
    let off = arena.as_ptr().align_offset(16);
    let arena = &mut arena[off..];
    let mut it = doppler_engine::Interpreter::new(blob, arena).unwrap();
    let t = std::time::Instant::now();
    it.invoke().unwrap();
    let first: Vec<u32> = it.output::<f32>(0).unwrap().iter().map(|v| v.to_bits()).collect();
    it.invoke().unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "{:?}", t.elapsed());
    let second: Vec<u32> = it.output::<f32>(0).unwrap().iter().map(|v| v.to_bits()).collect();
    assert_eq!(first, second);
}

/// Found by the `convert_tflite` fuzz target (session 3): an LceBconv2d whose bit-packed filter has
/// rank 1. The importer indexed its dims as OHWI and panicked; it is now a typed `Malformed` error.
#[test]
fn bconv_filter_of_rank_one_is_an_error() {
    let path = fixtures().join("../../fuzz/regressions/convert_tflite-bconv-rank1-filter.tflite");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let err = doppler_tools::convert::convert_tflite(&bytes).expect_err("must be rejected");
    assert!(matches!(err, doppler_tools::convert::ConvertError::Malformed(_)), "{err:?}");
}
