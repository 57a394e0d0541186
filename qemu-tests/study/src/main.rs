//! Guest program of the compression study (`doppler study`).
//!
//! ```text
//! doppler-study-guest MODEL.dpl IMAGES.u8 N [--per-op]
//! ```
//!
//! `IMAGES.u8` holds N Fashion-MNIST images, 784 bytes each (row-major 28×28 pixels). The model
//! takes float32 `[1, 28, 28, 1]` = pixel / 255 and returns 10 float32 logits.
//!
//! * Image 0's `invoke` runs inside doppler-window windows: one window around the whole `invoke`
//!   (default), or one window per op (`--per-op`: the window closes after each op's kernel and
//!   the next one opens, from `Interpreter::invoke_observed`; each window also holds the few
//!   instructions of the observer call). Filling the input and reading the output are outside.
//! * Then every image (image 0 again included) is run without windows and its top-1 class is
//!   printed as `pred I K`; `--per-op` prints `op I OPCODE` lines first.
use std::process::ExitCode;

use doppler_engine::{Interpreter, ARENA_ALIGN};

fn aligned(len: usize) -> (Vec<u8>, usize) {
    let buf = vec![0u8; len + ARENA_ALIGN];
    let off = buf.as_ptr().align_offset(ARENA_ALIGN);
    (buf, off)
}

fn fill(interp: &mut Interpreter<'_, '_>, image: &[u8]) -> Result<(), String> {
    let input = interp.input_mut::<f32>(0).map_err(|e| format!("input: {e:?}"))?;
    if input.len() != image.len() {
        return Err(format!("input has {} elements, an image {}", input.len(), image.len()));
    }
    for (x, &p) in input.iter_mut().zip(image) {
        *x = f32::from(p) / 255.0;
    }
    Ok(())
}

fn top1(interp: &Interpreter<'_, '_>) -> Result<usize, String> {
    let out = interp.output::<f32>(0).map_err(|e| format!("output: {e:?}"))?;
    let mut best = 0;
    for (i, &v) in out.iter().enumerate() {
        if v > out[best] {
            best = i;
        }
    }
    Ok(best)
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: doppler-study-guest MODEL.dpl IMAGES.u8 N [--per-op]".into());
    }
    let per_op = args.iter().any(|a| a == "--per-op");
    let bytes = std::fs::read(&args[1]).map_err(|e| format!("{}: {e}", args[1]))?;
    let images = std::fs::read(&args[2]).map_err(|e| format!("{}: {e}", args[2]))?;
    let n: usize = args[3].parse().map_err(|_| "N must be a number".to_string())?;
    if images.len() < n * 784 || n == 0 {
        return Err(format!("{} holds fewer than {n} images", args[2]));
    }

    let (mut blob_buf, boff) = aligned(bytes.len());
    blob_buf[boff..boff + bytes.len()].copy_from_slice(&bytes);
    let blob = &blob_buf[boff..boff + bytes.len()];
    let need = doppler_engine::required_arena_bytes(blob).map_err(|e| format!("blob: {e:?}"))?;
    let (mut arena_buf, aoff) = aligned(need);
    let arena = &mut arena_buf[aoff..aoff + need];
    let mut interp = Interpreter::new(blob, arena).map_err(|e| format!("interpreter: {e:?}"))?;

    fill(&mut interp, &images[..784])?;
    let mut ops = Vec::new();
    if per_op {
        doppler_window::window_start();
        let r = interp.invoke_observed(|i, op| {
            doppler_window::window_end();
            ops.push((i, op));
            doppler_window::window_start();
        });
        doppler_window::window_end();
        r.map_err(|e| format!("invoke: {e:?}"))?;
    } else {
        doppler_window::measure(|| interp.invoke()).map_err(|e| format!("invoke: {e:?}"))?;
    }
    let mut text = String::new();
    for (i, op) in &ops {
        text += &format!("op {i} {op:?}\n");
    }
    for k in 0..n {
        fill(&mut interp, &images[k * 784..(k + 1) * 784])?;
        interp.invoke().map_err(|e| format!("invoke: {e:?}"))?;
        text += &format!("pred {k} {}\n", top1(&interp)?);
    }
    print!("{text}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doppler-study-guest: {e}");
            ExitCode::FAILURE
        }
    }
}
