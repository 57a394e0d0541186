//! Style transfer on the host (issue 8): photos in and out (PNG via the `image` crate), running
//! an image-to-image blob, Doppler's own int8 calibration of an ONNX model, and image quality
//! measures (PSNR, SSIM).

use std::path::{Path, PathBuf};

use doppler_engine::Interpreter;

use crate::convert::onnx::{self, Calibration, OnnxOptions};
use crate::runner::Aligned;
use crate::{Error, Result};

/// A float32 NHWC image `[1, h, w, 3]`, values 0..255.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

/// Reads a PNG (or any format the `image` build decodes), scales it so that it covers `h × w`
/// (Catmull-Rom) and crops the centre.
pub fn load_photo(path: &Path, h: usize, w: usize) -> Result<Image> {
    let img = image::open(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let rgb = img.to_rgb8();
    let (iw, ih) = (rgb.width() as usize, rgb.height() as usize);
    if iw == 0 || ih == 0 {
        return Err(Error(format!("{}: empty image", path.display())));
    }
    let s = (h as f64 / ih as f64).max(w as f64 / iw as f64);
    let (nw, nh) =
        (((iw as f64 * s).round() as u32).max(w as u32), ((ih as f64 * s).round() as u32).max(h as u32));
    let scaled = if (nw as usize, nh as usize) == (iw, ih) {
        rgb
    } else {
        image::imageops::resize(&rgb, nw, nh, image::imageops::FilterType::CatmullRom)
    };
    let (x0, y0) = ((nw as usize - w) / 2, (nh as usize - h) / 2);
    let mut data = Vec::with_capacity(h * w * 3);
    for y in 0..h {
        for x in 0..w {
            let p = scaled.get_pixel((x0 + x) as u32, (y0 + y) as u32);
            data.extend(p.0.iter().map(|&v| f32::from(v)));
        }
    }
    Ok(Image { h, w, data })
}

/// Rounds and clamps to 0..255 and writes an RGB PNG.
pub fn save_png(path: &Path, img: &Image) -> Result<()> {
    let bytes: Vec<u8> = img.data.iter().map(|&v| to_u8(v)).collect();
    let buf = image::RgbImage::from_raw(img.w as u32, img.h as u32, bytes)
        .ok_or_else(|| Error(format!("image {}x{} has {} values", img.w, img.h, img.data.len())))?;
    buf.save(path).map_err(|e| Error(format!("cannot write {}: {e}", path.display())))
}

/// The 8-bit pixel value a float output becomes (NaN → 0).
pub fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}

/// Several images side by side (with a 4-pixel white gap), one PNG.
pub fn side_by_side(path: &Path, images: &[&Image]) -> Result<()> {
    let h = images.iter().map(|i| i.h).max().unwrap_or(0);
    let gap = 4;
    let w: usize = images.iter().map(|i| i.w).sum::<usize>() + gap * images.len().saturating_sub(1);
    let mut data = vec![255f32; h * w * 3];
    let mut x0 = 0;
    for img in images {
        for y in 0..img.h {
            for x in 0..img.w {
                for c in 0..3 {
                    data[(y * w + x0 + x) * 3 + c] = img.data[(y * img.w + x) * 3 + c];
                }
            }
        }
        x0 += img.w + gap;
    }
    save_png(path, &Image { h, w, data })
}

/// A blob bound to its (exactly sized) arena, run on images.
pub struct Runner {
    blob: Aligned,
    arena: Aligned,
    pub h: usize,
    pub w: usize,
}

impl Runner {
    /// The blob must have one float32 `[1, H, W, 3]` input and a float32 `[1, H, W, 3]` first output.
    pub fn new(blob: &[u8]) -> Result<Runner> {
        let blob = Aligned::from_bytes(blob);
        let model = crate::runner::parse(blob.as_bytes(), "model")?;
        let bad = || Error::new("the model's input is not float32 [1, H, W, 3]");
        let t = model.input(0).and_then(|t| model.tensor(t)).ok_or_else(bad)?;
        if t.dtype != doppler_engine::DType::F32 || t.rank != 4 || t.dims[0] != 1 || t.dims[3] != 3 {
            return Err(bad());
        }
        let (h, w) = (t.dims[1], t.dims[2]);
        let arena = Aligned::zeroed(model.arena_bytes());
        Ok(Runner { blob, arena, h, w })
    }

    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Runs the model; `each(k, output)` sees every float32 output.
    pub fn run_with(&mut self, input: &[f32], mut each: impl FnMut(usize, &[f32])) -> Result<()> {
        let e = |what: &'static str| move |err: doppler_engine::Error| Error(format!("{what}: {err:?}"));
        let mut it =
            Interpreter::new(self.blob.as_bytes(), self.arena.as_bytes_mut()).map_err(e("interpreter"))?;
        it.set_input::<f32>(0, input).map_err(e("input"))?;
        it.invoke().map_err(e("invoke"))?;
        for k in 0..it.output_count() {
            if let Ok(o) = it.output::<f32>(k) {
                each(k, o);
            }
        }
        Ok(())
    }

    /// Runs the model on `img` (which must have the model's size); returns output 0.
    pub fn run(&mut self, img: &Image) -> Result<Image> {
        if (img.h, img.w) != (self.h, self.w) {
            return Err(Error(format!("image {}x{} for a {}x{} model", img.h, img.w, self.h, self.w)));
        }
        let mut out = Vec::new();
        self.run_with(&img.data, |k, o| {
            if k == 0 {
                out = o.to_vec();
            }
        })?;
        if out.len() != img.data.len() {
            return Err(Error::new("the model's output 0 is not float32 [1, H, W, 3]"));
        }
        Ok(Image { h: img.h, w: img.w, data: out })
    }
}

/// The PNG files of `dir`, sorted.
pub fn pngs(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error(format!("cannot list {}: {e}", dir.display())))?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(Error(format!("no .png files in {}", dir.display())));
    }
    Ok(v)
}

/// Doppler's int8 calibration: converts `onnx_bytes` as float with every intermediate exposed,
/// runs it on `images` and records each tensor's (min, max).
pub fn calibrate(onnx_bytes: &[u8], opts: &OnnxOptions, images: &[Image]) -> Result<Calibration> {
    let float = onnx::convert_onnx(
        onnx_bytes,
        &OnnxOptions { calibration: None, expose_intermediates: true, ..opts.clone() },
    )
    .map_err(|e| Error(format!("calibration model: {e}")))?;
    let names = float.output_names.clone();
    let blob = float.model.blob.as_bytes();
    // Channels (last axis) of each output: ranges are recorded per channel, then merged.
    let model = crate::runner::parse(blob, "calibration model")?;
    let chans: Vec<usize> = (0..names.len())
        .map(|k| {
            model.output(k).and_then(|t| model.tensor(t)).map_or(1, |t| t.dims[t.rank.max(1) - 1].max(1))
        })
        .collect();
    let empty = || -> Vec<Vec<(f32, f32)>> {
        chans.iter().map(|&c| vec![(f32::INFINITY, f32::NEG_INFINITY); c]).collect()
    };
    // Two threads, each with its own arena.
    let parts: Vec<Result<Vec<Vec<(f32, f32)>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(images.len().div_ceil(2).max(1))
            .map(|part| {
                let mut ranges = empty();
                s.spawn(move || -> Result<Vec<Vec<(f32, f32)>>> {
                    let mut r = Runner::new(blob)?;
                    for img in part {
                        r.run_with(&img.data, |k, o| {
                            if let Some(m) = ranges.get_mut(k) {
                                let c = m.len();
                                for (j, &v) in o.iter().enumerate() {
                                    let m = &mut m[j % c];
                                    m.0 = m.0.min(v);
                                    m.1 = m.1.max(v);
                                }
                            }
                        })?;
                    }
                    Ok(ranges)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::new("thread panicked")))).collect()
    });
    let mut ranges = empty();
    for p in parts {
        for (m, r) in ranges.iter_mut().zip(p?) {
            for (m, r) in m.iter_mut().zip(r) {
                m.0 = m.0.min(r.0);
                m.1 = m.1.max(r.1);
            }
        }
    }
    let mut c = Calibration::default();
    for (n, m) in names.into_iter().zip(ranges) {
        let all = m.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |a, r| (a.0.min(r.0), a.1.max(r.1)));
        c.ranges.insert(n.clone(), all);
        c.channel_ranges.insert(n, m);
    }
    Ok(c)
}

/// `"256x256"` → (256, 256).
pub fn parse_size(s: &str) -> Result<(usize, usize)> {
    let bad = || Error(format!("--size {s}: expected HxW, e.g. 256x256"));
    let (h, w) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (h, w): (usize, usize) = (h.trim().parse().map_err(|_| bad())?, w.trim().parse().map_err(|_| bad())?);
    if h == 0 || w == 0 || h > 8192 || w > 8192 {
        return Err(bad());
    }
    Ok((h, w))
}

/// `doppler convert` for ONNX: float (or QDQ as the model says), or with Doppler's int8
/// calibration on the PNGs of `calib`.
pub fn convert_onnx_file(
    bytes: &[u8],
    h: usize,
    w: usize,
    calib: Option<&Path>,
    float_convs: &[i64],
) -> Result<onnx::OnnxConverted> {
    let mut opts =
        OnnxOptions { height: h, width: w, float_convs: float_convs.to_vec(), ..Default::default() };
    if let Some(dir) = calib {
        let images = pngs(dir)?.iter().map(|p| load_photo(p, h, w)).collect::<Result<Vec<_>>>()?;
        opts.calibration = Some(calibrate(bytes, &opts, &images)?);
    }
    onnx::convert_onnx(bytes, &opts).map_err(|e| Error(e.to_string()))
}

/// PSNR in dB of `a` against the reference `b`, both as 8-bit images (rounded, clamped).
pub fn psnr(a: &Image, b: &Image) -> f64 {
    let mse: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| {
            let d = f64::from(to_u8(x)) - f64::from(to_u8(y));
            d * d
        })
        .sum::<f64>()
        / a.data.len().max(1) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// Mean SSIM (Wang et al. 2004: 8-bit luma, 7×7 uniform windows, K1 = 0.01, K2 = 0.03, the
/// sample covariance as in scikit-image's default) of `a` against `b`.
pub fn ssim(a: &Image, b: &Image) -> f64 {
    let luma = |img: &Image| -> Vec<f64> {
        img.data
            .chunks(3)
            .map(|p| {
                0.299 * f64::from(to_u8(p[0]))
                    + 0.587 * f64::from(to_u8(p[1]))
                    + 0.114 * f64::from(to_u8(p[2]))
            })
            .collect()
    };
    let (x, y) = (luma(a), luma(b));
    let (h, w) = (a.h, a.w);
    let win = 7usize;
    if h < win || w < win {
        return f64::NAN;
    }
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let n = (win * win) as f64;
    let cov_norm = n / (n - 1.0);
    let mut total = 0.0;
    let mut count = 0usize;
    for y0 in 0..=h - win {
        for x0 in 0..=w - win {
            let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for dy in 0..win {
                for dx in 0..win {
                    let i = (y0 + dy) * w + x0 + dx;
                    let (u, v) = (x[i], y[i]);
                    sx += u;
                    sy += v;
                    sxx += u * u;
                    syy += v * v;
                    sxy += u * v;
                }
            }
            let (mx, my) = (sx / n, sy / n);
            let vx = (sxx / n - mx * mx) * cov_norm;
            let vy = (syy / n - my * my) * cov_norm;
            let cxy = (sxy / n - mx * my) * cov_norm;
            total += ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
            count += 1;
        }
    }
    total / count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(h: usize, w: usize, f: impl Fn(usize) -> f32) -> Image {
        Image { h, w, data: (0..h * w * 3).map(f).collect() }
    }

    #[test]
    fn psnr_and_ssim_of_identical_images() {
        let a = img(16, 16, |i| (i * 7 % 256) as f32);
        assert!(psnr(&a, &a).is_infinite());
        assert!((ssim(&a, &a) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn psnr_of_a_constant_offset() {
        let a = img(8, 8, |_| 100.0);
        let b = img(8, 8, |_| 101.0);
        // MSE 1: 20·log10(255) = 48.13 dB.
        assert!((psnr(&a, &b) - 48.1308).abs() < 1e-3);
        assert!(ssim(&a, &b) > 0.99);
        let c = img(8, 8, |i| if (i / 3) % 2 == 0 { 0.0 } else { 255.0 });
        assert!(ssim(&a, &c) < 0.1);
    }

    #[test]
    fn png_round_trip_and_crop() {
        let dir = std::env::temp_dir().join(format!("doppler-style-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = img(6, 10, |i| (i % 256) as f32);
        let p = dir.join("a.png");
        save_png(&p, &a).unwrap();
        // Same size: unchanged. Smaller: centre crop of a scaled copy.
        assert_eq!(load_photo(&p, 6, 10).unwrap(), a);
        let b = load_photo(&p, 4, 4).unwrap();
        assert_eq!((b.h, b.w, b.data.len()), (4, 4, 48));
        assert!(load_photo(&dir.join("missing.png"), 4, 4).is_err());
        std::fs::write(dir.join("bad.png"), b"not a png").unwrap();
        assert!(load_photo(&dir.join("bad.png"), 4, 4).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
