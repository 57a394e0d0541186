//! Structure-aware: start from a valid blob (the example models and the converted `.tflite`
//! fixtures), let the input choose record / field / value overwrites (and record swaps, for op
//! order), fix the CRC so the mutation reaches the deep rules, then parse + invoke.
//!
//! Input: byte 0 picks the base blob, then 9-byte edits `[target, idx_lo, idx_hi, word, mode,
//! v0, v1, v2, v3]`; what remains after the last whole edit fills the graph inputs.
#![no_main]

use std::sync::OnceLock;

use doppler_model_format::layout::{Header, Section, HEADER_BYTES};
use doppler_model_format::writer::{fix_crc, AlignedBlob};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn bases() -> &'static [AlignedBlob] {
    static BASES: OnceLock<Vec<AlignedBlob>> = OnceLock::new();
    BASES.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(root.join("examples/models"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "dpl")) {
            if let Ok(b) = std::fs::read(p) {
                out.push(AlignedBlob::from_bytes(&b));
            }
        }
        let mut dirs: Vec<_> = std::fs::read_dir(root.join("tools/fixtures/models"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        dirs.sort();
        for d in dirs {
            if let Ok(t) = std::fs::read(d.join("model.tflite")) {
                if let Ok(c) = doppler_tools::convert::convert_tflite(&t) {
                    out.push(c.blob);
                }
            }
        }
        // Format 1.1's opcodes (TransposeConv2d, Tanh): the ONNX fixture that has them.
        if let Ok(b) = std::fs::read(root.join("examples/style/convtranspose_tanh.onnx")) {
            let opts = doppler_tools::convert::onnx::OnnxOptions { height: 5, width: 6, ..Default::default() };
            if let Ok(c) = doppler_tools::convert::onnx::convert_onnx(&b, &opts) {
                out.push(c.model.blob);
            }
        }
        assert!(!out.is_empty(), "no seed blobs found (run from the repository checkout)");
        out
    })
}

const SPECIAL: [u32; 8] = [0, 1, 2, 16, 0xffff, 0x7fff_ffff, 0x8000_0000, u32::MAX];

fn put_u32(blob: &mut [u8], at: usize, v: u32) {
    if let Some(w) = blob.get_mut(at..at.saturating_add(4)) {
        w.copy_from_slice(&v.to_le_bytes());
    }
}

fn get_u32(blob: &[u8], at: usize) -> u32 {
    blob.get(at..at.saturating_add(4)).map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let bases = bases();
    let mut blob = bases[pick as usize % bases.len()].clone();
    let bytes = blob.as_bytes_mut();
    let header: Header = bytemuck::pod_read_unaligned(&bytes[..HEADER_BYTES]);
    let mut chunks = rest.chunks_exact(9);
    for e in &mut chunks {
        let idx = u16::from_le_bytes([e[1], e[2]]) as usize;
        let value = u32::from_le_bytes([e[5], e[6], e[7], e[8]]);
        let target = e[0] % 8;
        let (record_at, unit, count) = if target == 0 {
            (0usize, HEADER_BYTES, 1usize)
        } else {
            let s = Section::ALL[target as usize - 1];
            let d = header.sections[s as usize];
            (d.offset as usize, s.unit(), d.count as usize)
        };
        if count == 0 {
            continue;
        }
        let rec = idx % count;
        let base = record_at + rec * unit;
        // Word within a record (records are multiples of 4 bytes); byte sections address bytes.
        let at = if unit >= 4 { base + (e[3] as usize % (unit / 4)) * 4 } else { base };
        match e[4] % 6 {
            0 => put_u32(bytes, at, value),
            1 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = value as u8;
                }
            }
            2 => put_u32(bytes, at, get_u32(bytes, at).wrapping_add(value as i8 as i32 as u32)),
            3 => put_u32(bytes, at, SPECIAL[value as usize % SPECIAL.len()]),
            4 => put_u32(bytes, at, get_u32(bytes, at) ^ (1 << (value % 32))),
            _ => {
                // Swap two whole records of the same section (op order, io order, tensor order).
                let other = record_at + (value as usize % count) * unit;
                if other != base && base + unit <= bytes.len() && other + unit <= bytes.len() && target != 0 {
                    let (lo, hi) = if base < other { (base, other) } else { (other, base) };
                    if lo + unit <= hi {
                        let (a, b) = bytes.split_at_mut(hi);
                        a[lo..lo + unit].swap_with_slice(&mut b[..unit]);
                    }
                }
            }
        }
    }
    fix_crc(bytes);
    common::parse_and_invoke(blob.as_bytes(), chunks.remainder());
});
