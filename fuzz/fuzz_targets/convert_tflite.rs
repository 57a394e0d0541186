//! `.tflite` bytes → `convert_tflite` → (if converted) parse + invoke the blob.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(converted) = doppler_tools::convert::convert_tflite(data) {
        let blob = converted.blob.as_bytes();
        // The converter parses its output back; a blob it hands out must load.
        assert!(
            doppler_model_format::Model::parse(blob).is_ok(),
            "converter produced a blob the loader rejects"
        );
        common::parse_and_invoke(blob, data);
    }
});
