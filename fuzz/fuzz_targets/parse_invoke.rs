//! Raw bytes → aligned blob → `Model::parse` → (if accepted) `Interpreter::new` + `invoke`.
#![no_main]

use doppler_model_format::writer::AlignedBlob;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let blob = AlignedBlob::from_bytes(data);
    common::parse_and_invoke(blob.as_bytes(), data);
});
