//! Fuzzing findings, replayed: every blob under `fuzz/regressions/` (the input of a
//! `parse_invoke` finding, or the mutated blob of a `mutate_blob` finding) must load or be
//! rejected without a panic, and if it loads it must invoke without one.

use doppler_engine::Interpreter;
use doppler_model_format::writer::AlignedBlob;
use doppler_model_format::Model;

fn replay(bytes: &[u8]) {
    let blob = AlignedBlob::from_bytes(bytes);
    let Ok(model) = Model::parse(blob.as_bytes()) else { return };
    let mut arena = AlignedBlob::from_bytes(&vec![0u8; model.arena_bytes()]);
    let mut interp = Interpreter::new(blob.as_bytes(), arena.as_bytes_mut()).expect("parse accepted it");
    for i in 0..interp.input_count() {
        for (k, b) in interp.input_bytes_mut(i).unwrap().iter_mut().enumerate() {
            *b = k as u8;
        }
    }
    let _ = interp.invoke();
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "dpl")) {
        eprintln!("replaying {}", p.display());
        replay(&std::fs::read(p).unwrap());
    }
}
