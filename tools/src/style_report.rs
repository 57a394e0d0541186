//! `doppler style-report` (`cargo xtask style`): converts the fast-neural-style variants (float,
//! int8 by Doppler's calibration, int8 from onnxruntime's QDQ model, binary residual blocks),
//! runs them on the fixed photo set, measures PSNR/SSIM against the float output, blob and
//! arena sizes, counts instructions per frame under QEMU (Cortex-A9 and Cortex-A53, per op, so
//! that the residual blocks can be summed alone), and writes `docs/STYLE.md` with the pictures
//! side by side in `docs/style/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::convert::onnx::{self, OnnxConverted, OnnxOptions};
use crate::inspect::group;
use crate::study::build_guest;
use crate::style::{self, Image, Runner};
use crate::{Error, Result};

pub struct Options {
    /// The float model (`../shared/models/fns_candy.onnx`).
    pub float_onnx: PathBuf,
    /// onnxruntime's QDQ model (`examples/style/candy_qdq.onnx`).
    pub qdq_onnx: PathBuf,
    /// The binary model (`examples/style/candy_binary.onnx`).
    pub binary_onnx: PathBuf,
    pub photos: PathBuf,
    pub calib: PathBuf,
    /// docs/STYLE.md (pictures go to `style/` next to it).
    pub report: PathBuf,
    /// Where the blobs are written (examples/models/style).
    pub blobs: PathBuf,
    pub size: usize,
    pub no_qemu: bool,
}

struct Variant {
    name: &'static str,
    what: &'static str,
    source: PathBuf,
    calibrate: bool,
    /// Conv nodes kept float32 (see `OnnxOptions::float_convs`).
    float_convs: Vec<i64>,
    converted: Option<OnnxConverted>,
    error: Option<String>,
    psnr: Vec<f64>,
    ssim: Vec<f64>,
    outputs: Vec<Image>,
    per_op: [Vec<u64>; 2],
    /// Blob op index → ONNX node index.
    op_node: Vec<usize>,
    /// Blob op index → opcode name.
    op_names: Vec<&'static str>,
    /// This variant's own residual-block node span (node indices differ between the models).
    span: Option<(usize, usize)>,
}

fn progress(msg: &str) {
    eprintln!("style: {msg}");
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// ONNX node span `(first, last)` of the residual blocks: from the node after the one that
/// produces the first `Add`'s skip input to the last `Add`.
pub fn residual_span(onnx_bytes: &[u8]) -> Option<(usize, usize)> {
    use prost::Message;
    let m = onnx::proto::ModelProto::decode(onnx_bytes).ok()?;
    let g = m.graph?;
    let adds: Vec<usize> =
        g.node.iter().enumerate().filter(|(_, n)| n.op_type == "Add").map(|(i, _)| i).collect();
    let first = *adds.first()?;
    let producer = |name: &str| g.node.iter().position(|n| n.output.iter().any(|o| o == name));
    let skip = g.node[first].input.iter().filter_map(|i| producer(i)).min()?;
    Some((skip + 1, *adds.last()?))
}

/// Per-op instruction counts of one frame, and the guest's checksum line.
fn count(root: &Path, guest: &Path, dpl: &Path, input: &Path, tmp: &Path) -> Result<(Vec<u64>, String)> {
    let report = tmp.join("count.txt");
    let out = Command::new(root.join("qemu-tests/count.sh"))
        .env("DOPPLER_QEMU_TIMEOUT", "3000")
        .args(["-q", "-o"])
        .arg(&report)
        .arg(guest)
        .arg(dpl)
        .arg(input)
        .arg("--per-op")
        .output()
        .map_err(|e| Error(format!("cannot start count.sh: {e}")))?;
    if !out.status.success() {
        return Err(Error(format!(
            "count.sh {}: {}",
            guest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = std::fs::read_to_string(&report).map_err(|e| Error(format!("count report: {e}")))?;
    let w = text
        .lines()
        .filter_map(|l| l.strip_prefix("window ")?.split(": ").nth(1)?.trim().parse().ok())
        .collect();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let checksum = stdout.lines().find_map(|l| l.strip_prefix("checksum ")).unwrap_or("?").to_string();
    Ok((w, checksum))
}

fn crc_of(blob: &[u8]) -> u32 {
    blob.get(8..12).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A counts file (`crc XXXXXXXX`, `checksum S`, then one window count per line) for blob `crc`.
fn read_counts(path: &Path, crc: u32) -> Option<(Vec<u64>, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let c = u32::from_str_radix(lines.next()?.strip_prefix("crc ")?, 16).ok()?;
    let sum = lines.next()?.strip_prefix("checksum ")?.to_string();
    let w: Vec<u64> = lines.map(|l| l.trim().parse().ok()).collect::<Option<_>>()?;
    (c == crc && !w.is_empty()).then_some((w, sum))
}

pub fn run(opts: &Options) -> Result<String> {
    let root = std::env::current_dir().map_err(|e| Error(format!("current dir: {e}")))?;
    let (h, w) = (opts.size, opts.size);
    let photo_paths = style::pngs(&opts.photos)?;
    let photos: Vec<Image> = photo_paths.iter().map(|p| style::load_photo(p, h, w)).collect::<Result<_>>()?;
    let calib: Vec<Image> =
        style::pngs(&opts.calib)?.iter().map(|p| style::load_photo(p, h, w)).collect::<Result<_>>()?;
    std::fs::create_dir_all(&opts.blobs).map_err(|e| Error(format!("{}: {e}", opts.blobs.display())))?;
    let pics = opts.report.parent().unwrap_or(Path::new(".")).join("style");
    std::fs::create_dir_all(&pics).map_err(|e| Error(format!("{}: {e}", pics.display())))?;

    let mut vs = vec![
        Variant::new("float", "float32 (fns_candy.onnx as is)", &opts.float_onnx, false),
        Variant::new("int8", "int8 convolutions, Doppler's calibration on calib/, convs feeding InstanceNorm equalized per channel (InstanceNorm, Add, Clip float32)", &opts.float_onnx, true),
        {
            let mut v = Variant::new(
                "int8-ff",
                "as int8, but the first (9×9, 3→32) and last (9×9, 32→3) convs float32",
                &opts.float_onnx,
                true,
            );
            v.float_convs = vec![0, -1];
            v
        },
        Variant::new("int8-qdq", "int8 from onnxruntime's QDQ model (candy_qdq.onnx: its scales, zero points and int8 weights; no calibration by Doppler)", &opts.qdq_onnx, false),
        Variant::new("binary", "binary residual blocks (10 XNOR convs, distilled), other convs int8 (Doppler's calibration)", &opts.binary_onnx, true),
        {
            let mut v = Variant::new(
                "binary-ff",
                "as binary, but the first and last 9×9 convs float32",
                &opts.binary_onnx,
                true,
            );
            v.float_convs = vec![0, -1];
            v
        },
    ];
    let mut float_outputs: Vec<Image> = Vec::new();
    let mut calibrations: Vec<(PathBuf, onnx::Calibration)> = Vec::new();
    let mut residual: Option<(usize, usize)> = None;
    for v in vs.iter_mut() {
        let Ok(bytes) = std::fs::read(&v.source) else {
            v.error = Some(format!("{} not found", v.source.display()));
            continue;
        };
        v.span = residual_span(&bytes);
        if v.name == "float" {
            residual = v.span;
        }
        progress(&format!("{}: converting {}", v.name, v.source.display()));
        let mut o =
            OnnxOptions { height: h, width: w, float_convs: v.float_convs.clone(), ..Default::default() };
        if v.calibrate {
            // One calibration per source model.
            if let Some((_, c)) = calibrations.iter().find(|(p, _)| *p == v.source) {
                o.calibration = Some(c.clone());
            } else {
                progress(&format!("{}: calibrating on {} images", v.name, calib.len()));
                match style::calibrate(&bytes, &o, &calib) {
                    Ok(c) => {
                        calibrations.push((v.source.clone(), c.clone()));
                        o.calibration = Some(c);
                    }
                    Err(e) => {
                        v.error = Some(e.0);
                        continue;
                    }
                }
            }
        }
        let c = match onnx::convert_onnx(&bytes, &o) {
            Ok(c) => c,
            Err(e) => {
                v.error = Some(e.to_string());
                continue;
            }
        };
        let dpl = opts.blobs.join(format!("candy_{}_{h}.dpl", v.name));
        std::fs::write(&dpl, c.model.blob.as_bytes())
            .map_err(|e| Error(format!("{}: {e}", dpl.display())))?;
        v.op_node = c
            .model
            .report
            .ops
            .iter()
            .flat_map(|r| std::iter::repeat(r.index).take(r.lowered.len()))
            .collect();
        v.op_names = c.model.report.ops.iter().flat_map(|r| r.lowered.iter().copied()).collect();
        progress(&format!("{}: {} photos on the host", v.name, photos.len()));
        let blob = c.model.blob.as_bytes();
        let outs: Vec<Result<Vec<Image>>> = std::thread::scope(|s| {
            let hs: Vec<_> = photos
                .chunks(photos.len().div_ceil(2).max(1))
                .map(|part| {
                    s.spawn(move || -> Result<Vec<Image>> {
                        let mut r = Runner::new(blob)?;
                        part.iter().map(|p| r.run(p)).collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::new("thread panicked")))).collect()
        });
        for o in outs {
            v.outputs.extend(o?);
        }
        if v.name == "float" {
            float_outputs = v.outputs.clone();
        }
        if float_outputs.len() == v.outputs.len() {
            v.psnr = v.outputs.iter().zip(&float_outputs).map(|(a, b)| style::psnr(a, b)).collect();
            v.ssim = v.outputs.iter().zip(&float_outputs).map(|(a, b)| style::ssim(a, b)).collect();
        }
        v.converted = Some(c);
    }

    // Pictures: photo | float | int8 | int8-qdq | binary.
    let mut rows = Vec::new();
    for (k, p) in photo_paths.iter().enumerate() {
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut imgs = vec![&photos[k]];
        imgs.extend(vs.iter().filter_map(|v| v.outputs.get(k)));
        let file = format!("{stem}.png");
        style::side_by_side(&pics.join(&file), &imgs)?;
        rows.push((stem, file));
    }

    // The report without instruction counts first (they take long), then again after each
    // variant's counts.
    let mut checks = Vec::new();
    let write = |vs: &[Variant], checks: &[String]| -> Result<()> {
        let md = render(vs, &rows, residual, opts, checks);
        std::fs::write(&opts.report, md)
            .map_err(|e| Error(format!("cannot write {}: {e}", opts.report.display())))
    };
    write(&vs, &checks)?;
    progress(&format!("wrote {} (host figures)", opts.report.display()));
    if !opts.no_qemu {
        progress("cross-building the guest program (armv7, aarch64)");
        let guests = [
            build_guest(&root, "style", "doppler-style-guest", "armv7-unknown-linux-gnueabihf")?,
            build_guest(&root, "style", "doppler-style-guest", "aarch64-unknown-linux-gnu")?,
        ];
        let tmp = std::env::temp_dir().join(format!("doppler-style-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| Error(format!("{}: {e}", tmp.display())))?;
        let input = tmp.join("input.f32");
        let bytes: Vec<u8> = photos[0].data.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&input, bytes).map_err(|e| Error(format!("{e}")))?;
        // The int8 / binary comparison first.
        for name in ["binary", "binary-ff", "int8", "int8-ff", "float", "int8-qdq"] {
            let Some(k) = vs.iter().position(|v| v.name == name && v.converted.is_some()) else { continue };
            let v = &mut vs[k];
            let dpl = opts.blobs.join(format!("candy_{}_{h}.dpl", v.name));
            let crc = v.converted.as_ref().map_or(0, |c| crc_of(c.model.blob.as_bytes()));
            for (c, g) in guests.iter().enumerate() {
                // Counts are deterministic: reuse those of the same blob (header CRC) and input.
                let cache = opts.blobs.join(format!("candy_{}_{h}.{}.counts", v.name, ["a9", "a53"][c]));
                let (win, sum) = match read_counts(&cache, crc) {
                    Some(hit) => {
                        progress(&format!("{}: counts from {}", v.name, cache.display()));
                        hit
                    }
                    None => {
                        progress(&format!(
                            "{}: one {h}x{w} frame, per op, on {}",
                            v.name,
                            ["Cortex-A9", "Cortex-A53"][c]
                        ));
                        let r = count(&root, g, &dpl, &input, &tmp)?;
                        let text: String = r.0.iter().map(|n| format!("{n}\n")).collect();
                        let _ = std::fs::write(&cache, format!("crc {crc:08x}\nchecksum {}\n{text}", r.1));
                        r
                    }
                };
                let host: f64 =
                    v.outputs.first().map(|o| o.data.iter().map(|&x| f64::from(x)).sum()).unwrap_or(0.0);
                // `--per-op` leaves one more (empty) window after the last op.
                let win: Vec<u64> = win.into_iter().take(v.op_node.len()).collect();
                checks.push(format!("{} {}: checksum {sum} (host {host:.3})", v.name, ["A9", "A53"][c]));
                v.per_op[c] = win;
            }
            write(&vs, &checks)?;
            progress(&format!("wrote {} (with {name}'s counts)", opts.report.display()));
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    let mut t = String::from("variant    PSNR dB  SSIM   blob bytes   arena bytes  instr A9\n");
    for v in &vs {
        let _ = writeln!(
            t,
            "{:<9} {:>8.2} {:>6.4} {:>12} {:>13} {:>9}",
            v.name,
            mean(&v.psnr),
            mean(&v.ssim),
            v.converted.as_ref().map_or("—".into(), |c| group(c.model.report.blob_bytes)),
            v.converted.as_ref().map_or("—".into(), |c| group(c.model.report.arena_bytes)),
            if v.per_op[0].is_empty() {
                "—".into()
            } else {
                group(v.per_op[0].iter().sum::<u64>() as usize)
            },
        );
    }
    let _ = writeln!(t, "wrote {} and {}/*.png", opts.report.display(), pics.display());
    Ok(t)
}

impl Variant {
    fn new(name: &'static str, what: &'static str, source: &Path, calibrate: bool) -> Variant {
        Variant {
            name,
            what,
            source: source.to_path_buf(),
            calibrate,
            float_convs: Vec::new(),
            converted: None,
            error: None,
            psnr: Vec::new(),
            ssim: Vec::new(),
            outputs: Vec::new(),
            per_op: [Vec::new(), Vec::new()],
            op_node: Vec::new(),
            op_names: Vec::new(),
            span: None,
        }
    }

    /// Instructions of the ops whose ONNX node lies in `span` (inclusive), on CPU `c`.
    fn span_count(&self, c: usize, span: (usize, usize)) -> Option<u64> {
        if self.per_op[c].is_empty() || self.per_op[c].len() != self.op_node.len() {
            return None;
        }
        Some(
            self.per_op[c]
                .iter()
                .zip(&self.op_node)
                .filter(|(_, &n)| n >= span.0 && n <= span.1)
                .map(|(&w, _)| w)
                .sum(),
        )
    }
}

fn render(
    vs: &[Variant],
    rows: &[(String, String)],
    residual: Option<(usize, usize)>,
    opts: &Options,
    checks: &[String],
) -> String {
    let n = opts.size;
    let mut md = String::new();
    let _ = writeln!(md, "# Style transfer: float, int8 and binary fast neural style on Doppler\n");
    let _ = writeln!(
        md,
        "Generated by `cargo xtask style` (= `doppler style-report`); do not edit by hand. The network is \
         the fast-neural-style TransformerNet (`../shared/models/fns_candy.onnx`, Johnson et al. 2016: \
         3 downsampling convs, 5 residual blocks, 2 upsampling convs, each conv followed by instance \
         norm), imported from ONNX by `doppler convert` (`tools/src/convert/onnx/`) at a static \
         {n}×{n} input. Quality is measured against Doppler's own float output on the {} photos of \
         `examples/style/photos/` (8-bit images; SSIM on luma, 7×7 windows); the float blob itself \
         matches onnxruntime within 1e-3 (of 0..255) at 64×64 (`cargo test -p doppler-tools onnx`).\n",
        rows.len()
    );
    let _ = writeln!(md, "## Variants\n");
    let _ = writeln!(
        md,
        "| variant | what | convs float/int8/binary | PSNR vs float (dB, mean) | SSIM (mean) | blob bytes | × smaller than float | arena bytes ({n}×{n}) | instr./frame Cortex-A9 | instr./frame Cortex-A53 |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let float_blob = vs.first().and_then(|v| v.converted.as_ref()).map(|c| c.model.report.blob_bytes as f64);
    for v in vs {
        let Some(c) = &v.converted else {
            let _ = writeln!(
                md,
                "| {} | {} | not built: {} | | | | | | | |",
                v.name,
                v.what,
                v.error.clone().unwrap_or_default()
            );
            continue;
        };
        let tot = |k: usize| {
            if v.per_op[k].is_empty() {
                "—".to_string()
            } else {
                group(v.per_op[k].iter().sum::<u64>() as usize)
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {}/{}/{} | {} | {} | {} | {} | {} | {} | {} |",
            v.name,
            v.what,
            c.convs[0],
            c.convs[1],
            c.convs[2],
            if v.name == "float" { "(reference)".into() } else { format!("{:.2}", mean(&v.psnr)) },
            if v.name == "float" { "1".into() } else { format!("{:.4}", mean(&v.ssim)) },
            group(c.model.report.blob_bytes),
            float_blob.map_or("—".into(), |f| format!("{:.1}", f / c.model.report.blob_bytes as f64)),
            group(c.model.report.arena_bytes),
            tot(0),
            tot(1),
        );
    }
    let _ = writeln!(
        md,
        "\nInstance normalization stays float32 in every int8 variant (measured choice: it divides by a \
         per-image standard deviation, which integer arithmetic would have to approximate). What decides \
         int8 quality is the int8 output of the convolution in front of it: one scale for all channels, \
         while calibrated channel ranges differ by orders of magnitude. Doppler's calibration therefore \
         *equalizes* such a convolution: each output channel gets a scale and shift folded into its \
         weights and bias so that its calibrated range fills the int8 range; instance normalization \
         removes both exactly (only epsilon sees the scale). The QDQ variant keeps onnxruntime's \
         own quantization, without this step.\n"
    );
    let _ = writeln!(md, "\nPSNR / SSIM per photo (against the float output):\n");
    let _ = write!(md, "| variant |");
    for (s, _) in rows {
        let _ = write!(md, " {s} |");
    }
    let _ = writeln!(md, "\n|---|{}", "---:|".repeat(rows.len()));
    for v in vs.iter().skip(1).filter(|v| !v.psnr.is_empty()) {
        let _ = write!(md, "| {} |", v.name);
        for (p, s) in v.psnr.iter().zip(&v.ssim) {
            let _ = write!(md, " {p:.2} / {s:.3} |");
        }
        let _ = writeln!(md);
    }

    let _ = writeln!(md, "\n## Residual blocks: int8 vs binary\n");
    match residual {
        Some(span) => {
            let _ = writeln!(
                md,
                "Instructions of the ops lowered from the residual blocks' ONNX nodes (in the float \
                 model nodes {}..={}; each variant's own span: from the node after the first Add's \
                 skip input to the last Add) — pads, convolutions, instance norms, the adds, and the \
                 quantize/bit-pack in front of the blocks' convolutions — summed from per-op windows \
                 of one {n}×{n} frame:\n",
                span.0, span.1
            );
            let _ = writeln!(md, "| variant | Cortex-A9 | Cortex-A53 |\n|---|---:|---:|");
            let mut got = Vec::new();
            for v in vs.iter().filter(|v| v.converted.is_some()) {
                let own = v.span.unwrap_or(span);
                let (a, b) = (v.span_count(0, own), v.span_count(1, own));
                got.push((v.name, a, b));
                let f = |x: Option<u64>| x.map_or("—".into(), |x| group(x as usize));
                let _ = writeln!(md, "| {} | {} | {} |", v.name, f(a), f(b));
            }
            let find = |n: &str| got.iter().find(|g| g.0 == n).copied();
            if let (Some(i), Some(b)) = (find("int8"), find("binary")) {
                let r = |x: Option<u64>, y: Option<u64>| match (x, y) {
                    (Some(x), Some(y)) if y > 0 => format!("{:.1}×", x as f64 / y as f64),
                    _ => "—".into(),
                };
                let _ = writeln!(
                    md,
                    "\nint8 / binary residual blocks: {} fewer instructions on Cortex-A9, {} on Cortex-A53 (target ≥ 5×).",
                    r(i.1, b.1),
                    r(i.2, b.2)
                );
            }
        }
        None => {
            let _ = writeln!(md, "(the float model's residual blocks could not be located)");
        }
    }
    let _ = writeln!(md, "\n## Where the instructions go (Cortex-A9, Cortex-A53)\n");
    let _ = writeln!(
        md,
        "The three most expensive ops of each variant in one frame (blob op index, opcode, ONNX node):\n"
    );
    for v in vs.iter().filter(|v| !v.per_op[0].is_empty()) {
        let mut idx: Vec<usize> = (0..v.per_op[0].len()).collect();
        idx.sort_by_key(|&k| std::cmp::Reverse(v.per_op[0][k]));
        let total: u64 = v.per_op[0].iter().sum();
        let items: Vec<String> = idx
            .iter()
            .take(3)
            .map(|&k| {
                let a53 = v.per_op[1].get(k).map_or("—".into(), |&n| group(n as usize));
                format!(
                    "op {k} {} (node {}): {} / {} ({:.0}% of the A9 frame)",
                    v.op_names.get(k).copied().unwrap_or("?"),
                    v.op_node.get(k).copied().unwrap_or(0),
                    group(v.per_op[0][k] as usize),
                    a53,
                    100.0 * v.per_op[0][k] as f64 / total.max(1) as f64
                )
            })
            .collect();
        let _ = writeln!(md, "- {}: {}", v.name, items.join("; "));
    }
    let _ = writeln!(md, "\n## Arena\n");
    for v in vs.iter().filter_map(|v| v.converted.as_ref().map(|c| (v.name, c))) {
        let a = v.1.model.report.arena_bytes as f64;
        let _ = writeln!(
            md,
            "- {}: {} bytes for a {n}×{n} frame = {:.1} MiB, {:.0}× inside the iPad 2's 512 MiB.",
            v.0,
            group(v.1.model.report.arena_bytes),
            a / 1048576.0,
            512.0 * 1048576.0 / a
        );
    }
    let _ = writeln!(md, "\n## Pictures\n");
    let _ = writeln!(
        md,
        "Left to right: the photo ({n}×{n} centre crop), then {}.\n",
        vs.iter().filter(|v| v.converted.is_some()).map(|v| v.name).collect::<Vec<_>>().join(", ")
    );
    for (s, f) in rows {
        let _ = writeln!(md, "![{s}](style/{f})\n");
    }
    let _ = writeln!(md, "## How it was measured\n");
    let _ = writeln!(
        md,
        "- Blobs: `examples/models/style/candy_<variant>_{n}.dpl`, made with `doppler convert IN.onnx -o OUT.dpl \
         --size {n}x{n}` (+ `--int8 --calibrate examples/style/calib` for int8, int8-qdq and binary).\n\
         - Instructions: `qemu-tests/style` (guest program) under `qemu-tests/count.sh` — `qemu-arm -cpu cortex-a9` \
         (armv7 NEON kernels) and `qemu-aarch64 -cpu cortex-a53` — one `invoke` on the first photo, one \
         window per op; the frame figure is the sum of the windows (each also holds the observer call, a \
         few instructions per op).\n\
         - The emulated runs compute the same image as the host (sums of the output):"
    );
    for c in checks {
        let _ = writeln!(md, "  - {c}");
    }
    if checks.is_empty() {
        let _ = writeln!(md, "  - (not run: --no-qemu)");
    }
    md
}
