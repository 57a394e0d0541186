//! Guest program of the style-transfer report (`doppler style-report`).
//!
//! ```text
//! doppler-style-guest MODEL.dpl INPUT.f32 [--per-op]
//! ```
//!
//! `INPUT.f32` holds the model's float32 input (little-endian, `[1, H, W, 3]`, 0..255). One
//! `invoke` runs inside doppler-window windows: one window around it (default), or one per op
//! (`--per-op`, opened and closed from `Interpreter::invoke_observed`; each window also holds
//! the observer call). Prints `op I OPCODE` lines (with `--per-op`) and `checksum S` (the sum of
//! output 0) so that the host can check the emulated run computed the same image.
use std::process::ExitCode;

use doppler_engine::{Interpreter, ARENA_ALIGN};

fn aligned(len: usize) -> (Vec<u8>, usize) {
    let buf = vec![0u8; len + ARENA_ALIGN];
    let off = buf.as_ptr().align_offset(ARENA_ALIGN);
    (buf, off)
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: doppler-style-guest MODEL.dpl INPUT.f32 [--per-op]".into());
    }
    let per_op = args.iter().any(|a| a == "--per-op");
    let bytes = std::fs::read(&args[1]).map_err(|e| format!("{}: {e}", args[1]))?;
    let input = std::fs::read(&args[2]).map_err(|e| format!("{}: {e}", args[2]))?;

    let (mut blob_buf, boff) = aligned(bytes.len());
    blob_buf[boff..boff + bytes.len()].copy_from_slice(&bytes);
    let blob = &blob_buf[boff..boff + bytes.len()];
    let need = doppler_engine::required_arena_bytes(blob).map_err(|e| format!("blob: {e:?}"))?;
    let (mut arena_buf, aoff) = aligned(need);
    let arena = &mut arena_buf[aoff..aoff + need];
    let mut interp = Interpreter::new(blob, arena).map_err(|e| format!("interpreter: {e:?}"))?;
    {
        let x = interp.input_bytes_mut(0).map_err(|e| format!("input: {e:?}"))?;
        if x.len() != input.len() {
            return Err(format!("input has {} bytes, {} given", x.len(), input.len()));
        }
        x.copy_from_slice(&input);
    }
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
    let out = interp.output::<f32>(0).map_err(|e| format!("output: {e:?}"))?;
    let sum: f64 = out.iter().map(|&v| f64::from(v)).sum();
    text += &format!("checksum {sum:.3}\n");
    print!("{text}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doppler-style-guest: {e}");
            ExitCode::FAILURE
        }
    }
}
