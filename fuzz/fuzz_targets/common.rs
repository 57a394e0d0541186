//! Shared by the fuzz targets: run a blob the loader accepted.

use doppler_engine::Interpreter;
use doppler_model_format::writer::AlignedBlob;
use doppler_model_format::Model;

/// Arenas above this are skipped (the fuzzer would spend its time in memset).
pub const MAX_ARENA: usize = 4 << 20;

/// `Model::parse`; if accepted and the arena is small enough, bind and invoke twice with inputs
/// filled from `fill`, and check that identical inputs give identical outputs.
pub fn parse_and_invoke(blob: &[u8], fill: &[u8]) {
    let Ok(model) = Model::parse(blob) else { return };
    let arena_bytes = model.arena_bytes();
    if arena_bytes > MAX_ARENA {
        return;
    }
    let mut arena = AlignedBlob::from_bytes(&vec![0u8; arena_bytes]);
    let Ok(mut interp) = Interpreter::new(blob, arena.as_bytes_mut()) else {
        panic!("Model::parse accepted the blob but Interpreter::new rejected it");
    };
    let mut first: Vec<Vec<u8>> = Vec::new();
    for round in 0..2 {
        for i in 0..interp.input_count() {
            let dst = interp.input_bytes_mut(i).expect("validated input");
            for (k, b) in dst.iter_mut().enumerate() {
                *b = if fill.is_empty() { k as u8 } else { fill[k % fill.len()] };
            }
        }
        if interp.invoke().is_err() {
            return;
        }
        let outs: Vec<Vec<u8>> = (0..interp.output_count())
            .map(|i| interp.output_bytes(i).expect("validated output").to_vec())
            .collect();
        if round == 0 {
            first = outs;
        } else {
            // NaN payloads can differ between runs only if a kernel reads uninitialised state:
            // compare bitwise.
            assert_eq!(first, outs, "same inputs, different outputs");
        }
    }
}
