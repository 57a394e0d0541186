//! End-to-end tests of the `doppler` binary: inspect and run every committed example, the error
//! paths (one line on stderr, exit 1; usage errors exit 2), and `make-examples` reproducing the
//! committed files byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use doppler_tools::examples::{file_names, MODELS};
use doppler_tools::npy::{self, Array};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_doppler"))
}

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join("models")
}

fn model_file(model: &str, k: usize) -> PathBuf {
    models_dir().join(&file_names(model)[k])
}

/// A fresh scratch directory per test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("doppler-cli-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the documented failure shape: exit 1, exactly one stderr line starting with
/// `doppler: error: ` and containing `needle`, no panic.
fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line, got: {stderr:?}");
    assert!(lines[0].starts_with("doppler: error: "), "prefix: {stderr:?}");
    assert!(lines[0].contains(needle), "want {needle:?} in {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn run_model(model: &Path, inputs: &[&Path], outputs: &[&Path], extra: &[&str]) -> Output {
    let mut c = bin();
    c.arg("run").arg(model);
    for i in inputs {
        c.arg("--input").arg(i);
    }
    for o in outputs {
        c.arg("--output").arg(o);
    }
    c.args(extra).output().unwrap()
}

#[test]
fn inspect_every_example() {
    let expect_ops: [(&str, &[&str]); 3] = [
        ("int8_cnn", &["Conv2d", "DepthwiseConv2d", "MaxPool2d", "Add", "Mean", "FullyConnected", "Softmax"]),
        (
            "binary_cnn",
            &["Quantize", "BPack", "BConv2d", "MaxPool2d", "bitwise AND", "thresholds", "Softmax"],
        ),
        (
            "f32_style",
            &["Pad", "reflect", "InstanceNorm", "Clamp", "ResizeNearest", "Add", "Concatenation", "Conv2d"],
        ),
    ];
    for (model, ops) in expect_ops {
        let out = bin().arg("inspect").arg(model_file(model, 0)).output().unwrap();
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{model}: {}", text(&out.stderr));
        for needle in
            ["DPLR 1.0", "crc32", "Sections", "TFLM greedy", "lower bound", "input 0", "output 0", "Tensors"]
        {
            assert!(stdout.contains(needle), "{model}: missing {needle:?}\n{stdout}");
        }
        for op in ops {
            assert!(stdout.contains(op), "{model}: missing op {op:?}\n{stdout}");
        }
        // Every line of the tables is aligned: no tabs, no trailing spaces.
        assert!(stdout.lines().all(|l| !l.ends_with(' ') && !l.contains('\t')));
    }
}

#[test]
fn run_every_example_matches_expected() {
    let tmp = Scratch::new("run");
    for model in MODELS {
        let out_path = tmp.path(&format!("{model}.out.npy"));
        let expected = model_file(model, 2);
        let out = run_model(
            &model_file(model, 0),
            &[&model_file(model, 1)],
            &[&out_path],
            &["--expect", expected.to_str().unwrap()],
        );
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{model}: {}", text(&out.stderr));
        assert!(stdout.contains("arena"), "{stdout}");
        assert!(stdout.contains("identical to"), "{model}: host run must be bit-exact\n{stdout}");
        assert_eq!(std::fs::read(&out_path).unwrap(), std::fs::read(&expected).unwrap(), "{model}");
    }
}

#[test]
fn classifier_outputs_report_top1() {
    let tmp = Scratch::new("top1");
    for model in ["int8_cnn", "binary_cnn"] {
        let out_path = tmp.path("o.npy");
        let out = run_model(&model_file(model, 0), &[&model_file(model, 1)], &[&out_path], &[]);
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("top-1 = "), "{}", text(&out.stdout));
    }
}

#[test]
fn make_examples_reproduces_committed_files() {
    let tmp = Scratch::new("make");
    let dir = tmp.path("models");
    let out = bin().arg("make-examples").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for model in MODELS {
        for name in file_names(model) {
            let made = std::fs::read(dir.join(&name)).unwrap();
            let committed = std::fs::read(models_dir().join(&name)).unwrap();
            assert!(
                made == committed,
                "{name} differs from examples/models/{name}: run `cargo run --release --bin doppler -- \
                 make-examples examples/models` and commit the result"
            );
        }
        let blob = std::fs::metadata(dir.join(&file_names(model)[0])).unwrap().len();
        assert!(blob < 50 * 1024, "{model}: {blob} bytes");
    }
}

#[test]
fn missing_file_is_one_line_error() {
    let out = bin().args(["inspect", "/nonexistent/model.dpl"]).output().unwrap();
    assert_one_line_error(&out, "cannot read /nonexistent/model.dpl");
    let tmp = Scratch::new("missing");
    let out =
        run_model(&model_file("int8_cnn", 0), &[Path::new("/nonexistent/x.npy")], &[&tmp.path("o.npy")], &[]);
    assert_one_line_error(&out, "cannot read /nonexistent/x.npy");
}

#[test]
fn not_a_blob_is_one_line_error() {
    let out = bin().arg("inspect").arg(model_file("int8_cnn", 1)).output().unwrap();
    assert_one_line_error(&out, "not a Doppler blob");
    let tmp = Scratch::new("notblob");
    let empty = tmp.path("empty.dpl");
    std::fs::write(&empty, b"").unwrap();
    let out = bin().arg("inspect").arg(&empty).output().unwrap();
    assert_one_line_error(&out, "truncated");
}

#[test]
fn truncated_blob_is_one_line_error() {
    let tmp = Scratch::new("trunc");
    let bytes = std::fs::read(model_file("int8_cnn", 0)).unwrap();
    for cut in [50, bytes.len() / 2, bytes.len() - 16] {
        let p = tmp.path("cut.dpl");
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let out = bin().arg("inspect").arg(&p).output().unwrap();
        assert_one_line_error(&out, "truncated");
        let out = run_model(&p, &[&model_file("int8_cnn", 1)], &[&tmp.path("o.npy")], &[]);
        assert_one_line_error(&out, "truncated");
    }
}

#[test]
fn corrupted_blob_is_one_line_error() {
    let tmp = Scratch::new("crc");
    let mut bytes = std::fs::read(model_file("binary_cnn", 0)).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x5a;
    let p = tmp.path("bad.dpl");
    std::fs::write(&p, &bytes).unwrap();
    let out = bin().arg("inspect").arg(&p).output().unwrap();
    assert_one_line_error(&out, "checksum");
}

#[test]
fn wrong_input_dtype_is_one_line_error() {
    let tmp = Scratch::new("dtype");
    // int8_cnn takes int8; f32_style's input is float32 of the same shape.
    let out =
        run_model(&model_file("int8_cnn", 0), &[&model_file("f32_style", 1)], &[&tmp.path("o.npy")], &[]);
    assert_one_line_error(&out, "expects int8 (npy 'i1') [1, 16, 16, 3]");
    // A dtype Doppler never uses.
    let p = tmp.path("f64.npy");
    let mut f64_npy = Vec::new();
    {
        use npyz::WriterBuilder;
        let mut w =
            npyz::WriteOptions::new().default_dtype().shape(&[1, 2]).writer(&mut f64_npy).begin_nd().unwrap();
        w.extend([1.0f64, 2.0]).unwrap();
        w.finish().unwrap();
    }
    std::fs::write(&p, f64_npy).unwrap();
    let out = run_model(&model_file("f32_style", 0), &[&p], &[&tmp.path("o.npy")], &[]);
    assert_one_line_error(&out, "is not supported");
}

#[test]
fn wrong_input_shape_is_one_line_error() {
    let tmp = Scratch::new("shape");
    let p = tmp.path("small.npy");
    npy::write(&p, &Array::i8(&[1, 8, 8, 3], vec![0; 192])).unwrap();
    let out = run_model(&model_file("int8_cnn", 0), &[&p], &[&tmp.path("o.npy")], &[]);
    assert_one_line_error(&out, "but");
    assert!(text(&out.stderr).contains("[1, 8, 8, 3]"));
}

#[test]
fn wrong_io_counts_are_one_line_errors() {
    let tmp = Scratch::new("counts");
    let (m, x) = (model_file("int8_cnn", 0), model_file("int8_cnn", 1));
    let out = run_model(&m, &[&x, &x], &[&tmp.path("o.npy")], &[]);
    assert_one_line_error(&out, "has 1 input, 2 given");
    let out = run_model(&m, &[&x], &[&tmp.path("a.npy"), &tmp.path("b.npy")], &[]);
    assert_one_line_error(&out, "has 1 output, 2 --output given");
}

#[test]
fn expect_mismatch_is_one_line_error() {
    let tmp = Scratch::new("expect");
    let other = tmp.path("other.npy");
    npy::write(&other, &Array::i8(&[1, 10], vec![0; 10])).unwrap();
    let out = run_model(
        &model_file("int8_cnn", 0),
        &[&model_file("int8_cnn", 1)],
        &[&tmp.path("o.npy")],
        &["--expect", other.to_str().unwrap()],
    );
    assert_one_line_error(&out, "does not match");
}

#[test]
fn usage_errors_exit_2() {
    let out = bin().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["run", "m.dpl", "--output", "y.npy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("doppler: error: "), "{}", text(&out.stderr));
    let out = bin().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("make-examples"));
}
