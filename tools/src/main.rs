//! `doppler`: inspect and run Doppler model blobs, and regenerate the example models.
//!
//! Errors are one line on stderr (`doppler: error: …`) with exit code 1; command-line usage
//! errors exit with 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use doppler_tools::inspect::group;
use doppler_tools::runner::{self, Match};
use doppler_tools::{examples, inspect, npy, Error, Result};

#[derive(Parser)]
#[command(
    name = "doppler",
    version,
    about = "Inspect and run Doppler model blobs (.dpl) on the host",
    after_help = "See docs/CLI.md and docs/FORMAT.md in the repository."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Show a blob's header, sections, arena plan, inputs/outputs, ops and tensors.
    Inspect {
        /// The model blob.
        #[arg(value_name = "MODEL.dpl")]
        model: PathBuf,
    },
    /// Run a blob on .npy inputs and write its outputs as .npy files.
    ///
    /// dtypes map as int8 → i1, float32 → f4, bit-packed → u4 words (last dim = words);
    /// shapes must equal the tensor's.
    Run {
        /// The model blob.
        #[arg(value_name = "MODEL.dpl")]
        model: PathBuf,
        /// One .npy per graph input, in order.
        #[arg(short, long = "input", value_name = "X.npy", required = true)]
        inputs: Vec<PathBuf>,
        /// One .npy per graph output, in order.
        #[arg(short, long = "output", value_name = "Y.npy", required = true)]
        outputs: Vec<PathBuf>,
        /// Compare each output with an expected .npy (int8 and bit-packed: identical bytes;
        /// float32: |a − e| ≤ 1e-5 + 1e-4·|e|); exit 1 on a mismatch.
        #[arg(long = "expect", value_name = "E.npy")]
        expect: Vec<PathBuf>,
    },
    /// Convert a TensorFlow Lite / Larq Compute Engine model (.tflite) or an ONNX model (.onnx)
    /// into a blob.
    ///
    /// ONNX: the blob's input is NHWC float32 [1, H, W, C] (H×W from --size); QDQ models become
    /// int8 where the model says; --int8 --calibrate DIR makes every other convolution int8 from
    /// activation ranges recorded on the PNG photos in DIR. See docs/STYLE.md.
    Convert {
        /// The .tflite or .onnx model.
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Where to write the blob.
        #[arg(short, long, value_name = "OUT.dpl")]
        output: PathBuf,
        /// ONNX: the static input size HxW.
        #[arg(long, value_name = "HxW", default_value = "256x256")]
        size: String,
        /// ONNX: int8 convolutions from Doppler's own calibration (needs --calibrate).
        #[arg(long, requires = "calibrate")]
        int8: bool,
        /// ONNX: directory of PNG photos for the int8 calibration (resized/cropped to --size).
        #[arg(long, value_name = "DIR")]
        calibrate: Option<PathBuf>,
        /// ONNX with --int8: Conv nodes kept float32, by position among the Conv nodes
        /// (0 = first, -1 = last), e.g. --float-convs=-1
        #[arg(
            long,
            value_name = "K,…",
            value_delimiter = ',',
            allow_negative_numbers = true,
            requires = "int8"
        )]
        float_convs: Vec<i64>,
    },
    /// Run an image-to-image blob (float32 [1, H, W, 3] in and out, 0..255) on a photo: the
    /// photo is scaled to cover H×W and centre-cropped; the output is clamped to 0..255.
    Stylize {
        /// The model blob.
        #[arg(value_name = "MODEL.dpl")]
        model: PathBuf,
        /// The photo (PNG).
        #[arg(value_name = "IN.png")]
        input: PathBuf,
        /// The stylized PNG.
        #[arg(short, long, value_name = "OUT.png")]
        output: PathBuf,
    },
    /// The compression study: convert, evaluate and count every variant in examples/study/
    /// (trained by tools/train/train.py) and write docs/REPORT.md with SVG charts.
    ///
    /// Run from the repository root; needs the cross linkers and QEMU (`cargo xtask setup`)
    /// unless --no-qemu.
    Study {
        /// The study's models and test split.
        #[arg(long, value_name = "DIR", default_value = "examples/study")]
        dir: PathBuf,
        /// The report to write (charts go to report/ next to it).
        #[arg(long, value_name = "REPORT.md", default_value = "docs/REPORT.md")]
        report: PathBuf,
        /// Test images also run under qemu-arm (Cortex-A9) to compare predictions.
        #[arg(long, value_name = "N", default_value_t = 200)]
        subset: usize,
        /// Host evaluation only: no instruction counts, no emulated run.
        #[arg(long)]
        no_qemu: bool,
        /// The demo: float, int8 and binary models on the emulated Cortex-A9 only, accuracy on
        /// the --subset sample, charts next to REPORT.md's place but no report text.
        #[arg(long)]
        demo: bool,
    },
    /// PSNR (dB) and SSIM of an image against a reference image (PNGs of equal size, 8-bit).
    Compare {
        #[arg(value_name = "IMAGE.png")]
        image: PathBuf,
        #[arg(value_name = "REFERENCE.png")]
        reference: PathBuf,
    },
    /// The style-transfer report: convert the float / int8 / int8-QDQ / binary fast-neural-style
    /// variants, run them on the photo set, count instructions per frame under QEMU and write
    /// docs/STYLE.md with the pictures in docs/style/.
    ///
    /// Run from the repository root; needs ../shared/models/fns_candy.onnx and examples/style/.
    StyleReport {
        #[arg(long, value_name = "ONNX", default_value = "../shared/models/fns_candy.onnx")]
        float: PathBuf,
        #[arg(long, value_name = "ONNX", default_value = "examples/style/candy_qdq.onnx")]
        qdq: PathBuf,
        #[arg(long, value_name = "ONNX", default_value = "examples/style/candy_binary.onnx")]
        binary: PathBuf,
        #[arg(long, value_name = "DIR", default_value = "examples/style/photos")]
        photos: PathBuf,
        #[arg(long, value_name = "DIR", default_value = "examples/style/calib")]
        calib: PathBuf,
        #[arg(long, value_name = "REPORT.md", default_value = "docs/STYLE.md")]
        report: PathBuf,
        /// Where the blobs go.
        #[arg(long, value_name = "DIR", default_value = "examples/models/style")]
        blobs: PathBuf,
        /// Frame size (square).
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// Host only: no instruction counts.
        #[arg(long)]
        no_qemu: bool,
    },
    /// (Re)generate the example models, sample inputs and expected outputs into DIR.
    MakeExamples {
        /// Output directory (created if missing), e.g. examples/models.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("doppler: internal error: {}{at}", msg.replace('\n', " "));
        std::process::exit(1);
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            if code == 0 {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            match text.strip_prefix("error: ") {
                Some(rest) => eprint!("doppler: error: {rest}"),
                None => eprint!("{text}"), // `doppler` alone: the help text
            }
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Inspect { model } => cmd_inspect(&model),
        Command::Run { model, inputs, outputs, expect } => cmd_run(&model, &inputs, &outputs, &expect),
        Command::Convert { input, output, size, int8, calibrate, float_convs } => {
            cmd_convert(&input, &output, &size, int8, calibrate.as_deref(), &float_convs)
        }
        Command::Stylize { model, input, output } => cmd_stylize(&model, &input, &output),
        Command::Compare { image, reference } => {
            let b = image::image_dimensions(&reference)
                .map_err(|e| Error(format!("cannot read {}: {e}", reference.display())));
            b.and_then(|(w, h)| {
                let r = doppler_tools::style::load_photo(&reference, h as usize, w as usize)?;
                let a = doppler_tools::style::load_photo(&image, h as usize, w as usize)?;
                out(&format!(
                    "PSNR {:.2} dB, SSIM {:.4}\n",
                    doppler_tools::style::psnr(&a, &r),
                    doppler_tools::style::ssim(&a, &r)
                ));
                Ok(())
            })
        }
        Command::MakeExamples { dir } => cmd_make_examples(&dir),
        Command::StyleReport { float, qdq, binary, photos, calib, report, blobs, size, no_qemu } => {
            doppler_tools::style_report::run(&doppler_tools::style_report::Options {
                float_onnx: float,
                qdq_onnx: qdq,
                binary_onnx: binary,
                photos,
                calib,
                report,
                blobs,
                size,
                no_qemu,
            })
            .map(|t| out(&t))
        }
        Command::Study { dir, report, subset, no_qemu, demo } => {
            doppler_tools::study::run(&doppler_tools::study::Options {
                dir,
                report,
                qemu_subset: subset,
                no_qemu,
                demo,
            })
            .map(|table| out(&table))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doppler: error: {}", e.0.replace('\n', " "));
            ExitCode::from(1)
        }
    }
}

/// Prints to stdout, ignoring a closed pipe (`doppler inspect m.dpl | head`).
fn out(s: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(s.as_bytes());
    let _ = stdout.flush();
}

fn cmd_inspect(path: &Path) -> Result<()> {
    let blob = runner::load_blob(path)?;
    let what = path.display().to_string();
    let model = runner::parse(blob.as_bytes(), &what)?;
    out(&inspect::render(&model, &what));
    Ok(())
}

fn cmd_run(path: &Path, inputs: &[PathBuf], outputs: &[PathBuf], expect: &[PathBuf]) -> Result<()> {
    let blob = runner::load_blob(path)?;
    let what = path.display().to_string();
    let model = runner::parse(blob.as_bytes(), &what)?;
    let n_out = model.output_count();
    if outputs.len() != n_out {
        return Err(Error(format!(
            "{what} has {n_out} output{}, {} --output given",
            if n_out == 1 { "" } else { "s" },
            outputs.len()
        )));
    }
    if !expect.is_empty() && expect.len() != n_out {
        return Err(Error(format!("{what} has {n_out} output(s), {} --expect given", expect.len())));
    }
    let (ops, blob_len) = (model.op_count(), model.header().blob_len as usize);
    let (greedy, lower) =
        (model.header().greedy_arena_bytes as usize, model.header().peak_live_bytes as usize);

    let mut arrays = Vec::new();
    for p in inputs {
        arrays.push((p.display().to_string(), npy::read(p)?));
    }
    let expected: Vec<npy::Array> = expect.iter().map(|p| npy::read(p)).collect::<Result<_>>()?;
    let outcome = runner::run(blob.as_bytes(), &what, &arrays)?;

    let mut report = String::new();
    report += &format!("model     {what}: {ops} ops, {} bytes\n", group(blob_len));
    report += &format!(
        "arena     {} bytes planned (TFLM greedy {}, lower bound {})\n",
        group(outcome.arena_bytes),
        group(greedy),
        group(lower)
    );
    report += &format!("invoke    {:.3} ms\n", outcome.invoke_time.as_secs_f64() * 1e3);
    for (k, ((array, info), path)) in
        outcome.outputs.iter().zip(&outcome.output_info).zip(outputs).enumerate()
    {
        npy::write(path, array)?;
        let detail = if let Some((i, v)) = runner::top1(array, info) {
            format!("top-1 = {i} ({v:.4})")
        } else if let Some((min, max, mean)) = runner::stats(array, info) {
            format!("min {min:.4}, max {max:.4}, mean {mean:.4}")
        } else {
            String::new()
        };
        report += &format!("output {k}  {} -> {}; {detail}\n", array.describe(), path.display());
    }
    out(&report);

    let mut failures = Vec::new();
    for (k, (array, path)) in outcome.outputs.iter().zip(expected.iter().zip(expect)).enumerate() {
        match runner::compare(array, path.0) {
            Ok(Match::Identical) => out(&format!("expect {k}  identical to {}\n", path.1.display())),
            Ok(Match::WithinTolerance { max_abs_diff }) => out(&format!(
                "expect {k}  within float32 tolerance of {} (max |diff| {max_abs_diff:e})\n",
                path.1.display()
            )),
            Err(why) => failures.push(format!("output {k} does not match {}: {why}", path.1.display())),
        }
    }
    if !failures.is_empty() {
        return Err(Error(failures.join("; ")));
    }
    Ok(())
}

fn cmd_convert(
    input: &Path,
    output: &Path,
    size: &str,
    int8: bool,
    calib: Option<&Path>,
    float_convs: &[i64],
) -> Result<()> {
    let bytes = std::fs::read(input).map_err(|e| Error(format!("cannot read {}: {e}", input.display())))?;
    let is_tflite = bytes.get(4..8) == Some(b"TFL3".as_slice());
    if is_tflite && (int8 || calib.is_some()) {
        return Err(Error::new("--int8/--calibrate apply to ONNX models only"));
    }
    if calib.is_some() && !int8 {
        return Err(Error::new("--calibrate needs --int8"));
    }
    let converted = if is_tflite {
        doppler_tools::convert::convert_tflite(&bytes)
            .map_err(|e| Error(format!("{}: {e}", input.display())))?
    } else {
        let (h, w) = doppler_tools::style::parse_size(size)?;
        let c = doppler_tools::style::convert_onnx_file(&bytes, h, w, calib, float_convs)
            .map_err(|e| Error(format!("{}: {}", input.display(), e.0)))?;
        out(&format!("convolutions: {} float32, {} int8, {} binary\n", c.convs[0], c.convs[1], c.convs[2]));
        c.model
    };
    std::fs::write(output, converted.blob.as_bytes())
        .map_err(|e| Error(format!("cannot write {}: {e}", output.display())))?;
    out(&format!(
        "{}wrote {} ({} bytes)\n",
        converted.report,
        output.display(),
        group(converted.report.blob_bytes)
    ));
    Ok(())
}

fn cmd_stylize(model: &Path, input: &Path, output: &Path) -> Result<()> {
    let blob = runner::load_blob(model)?;
    let mut r = doppler_tools::style::Runner::new(blob.as_bytes())
        .map_err(|e| Error(format!("{}: {}", model.display(), e.0)))?;
    let img = doppler_tools::style::load_photo(input, r.h, r.w)?;
    let t = std::time::Instant::now();
    let y = r.run(&img)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    doppler_tools::style::save_png(output, &y)?;
    out(&format!(
        "stylized {} ({}x{}, arena {} bytes) in {ms:.0} ms -> {}\n",
        input.display(),
        r.h,
        r.w,
        group(r.arena_bytes()),
        output.display()
    ));
    Ok(())
}

fn cmd_make_examples(dir: &Path) -> Result<()> {
    let written = examples::write_all(dir)?;
    let mut report = String::new();
    for p in &written {
        let size = std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0);
        report += &format!("wrote {:>9} bytes  {}\n", group(size), p.display());
    }
    out(&report);
    Ok(())
}
