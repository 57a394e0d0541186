//! Random damage to valid blobs never makes `Model::parse` panic: it returns `Ok` or `Err`, and
//! when it returns `Ok` every accessor agrees with the rules (so `invoke` could trust it).
//!
//! Damage: byte flips anywhere, truncation, and u32 overwrites aimed at the header, the tensor
//! records, the op records, the index lists and the params — with the CRC fixed afterwards (most
//! of the time) so that the damage reaches the rules behind the checksum.
#![cfg(feature = "std")]

mod common;

use common::*;
use doppler_model_format::layout::*;
use doppler_model_format::writer::{fix_crc, AlignedBlob};
use doppler_model_format::{Kind, Model, TensorInfo};
use proptest::prelude::*;
use proptest::sample::Index;

/// Every accessor of a parsed model is consistent with the format's rules.
fn check_consistent(m: &Model) {
    let h = *m.header();
    assert_eq!(m.bytes().len(), h.blob_len as usize);
    assert_eq!(m.bytes().as_ptr() as usize % ALIGN, 0);
    assert_eq!((h.flags, h.reserved), (0, [0, 0]));
    let (nt, no) = (m.tensor_count(), m.op_count());
    let end = no as u32 + 1;
    let arena = m.arena_bytes();

    let mut acts = Vec::new();
    for i in 0..nt as u32 {
        let t = m.tensor(i).expect("every tensor decodes");
        assert!((1..=MAX_RANK).contains(&t.rank));
        assert!(t.shape().iter().all(|&d| d >= 1));
        assert!(t.dims[t.rank..].iter().all(|&d| d == 1));
        assert_eq!(Some(t.bytes), TensorInfo::storage_bytes(t.dtype, t.shape()));
        assert!(t.bytes <= u32::MAX as usize);
        assert_eq!(t.offset % ALIGN, 0);
        match t.kind {
            Kind::Constant => {
                let c = m.constant_bytes(&t).expect("constant in the data section");
                assert_eq!(c.len(), t.bytes);
                assert_eq!(c.as_ptr() as usize % ALIGN, 0);
                assert_eq!((t.first, t.last), (0, 0));
            }
            Kind::Activation => {
                assert_eq!(m.constant_bytes(&t), None);
                assert!(t.offset + t.bytes <= arena);
                assert!(t.first <= t.last && t.last <= end);
                acts.push(t);
            }
        }
        if t.dtype == doppler_model_format::DType::I8 {
            assert!(t.scale.is_finite() && t.scale > 0.0);
            assert!((-128..=127).contains(&t.zero_point));
        }
    }
    assert!(m.tensor(nt as u32).is_none());
    assert!(m.tensor(u32::MAX).is_none());

    // Live activations never share bytes.
    for (i, a) in acts.iter().enumerate() {
        for b in &acts[i + 1..] {
            if a.first <= b.last && b.first <= a.last {
                assert!(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset);
            }
        }
    }

    assert!(m.input_count() >= 1 && m.output_count() >= 1);
    for k in 0..m.input_count() {
        let t = m.tensor(m.input(k).expect("input")).expect("input tensor");
        assert_eq!((t.kind, t.first), (Kind::Activation, 0));
    }
    for k in 0..m.output_count() {
        let t = m.tensor(m.output(k).expect("output")).expect("output tensor");
        assert_eq!((t.kind, t.last), (Kind::Activation, end));
        assert!(t.first >= 1);
    }
    assert_eq!(m.input(m.input_count()), None);
    assert_eq!(m.output(m.output_count()), None);

    for i in 0..no as u32 {
        let op = m.op(i).expect("every op decodes");
        let step = i + 1;
        assert_eq!(op.n_outputs, 1);
        assert!(op.n_inputs >= 1 && op.n_inputs <= MAX_OP_INPUTS);
        assert_eq!(m.params_bytes(&op).map(<[u8]>::len), Some(op.opcode.params_len()));
        for k in 0..op.n_inputs {
            let t = m.tensor(m.op_input(&op, k).expect("input index")).expect("input tensor");
            if t.kind == Kind::Activation {
                assert!(
                    t.first < step && step <= t.last,
                    "op {i} reads tensor {} live {}..{}",
                    t.index,
                    t.first,
                    t.last
                );
            }
        }
        let out = m.tensor(m.op_output(&op, 0).expect("output index")).expect("output tensor");
        assert_eq!((out.kind, out.first), (Kind::Activation, step));
        assert_eq!(m.op_input(&op, op.n_inputs), None);
        assert_eq!(m.op_output(&op, op.n_outputs), None);
        if let Some(s) = op.scratch {
            let s = m.tensor(s).expect("scratch tensor");
            assert_eq!((s.kind, s.first, s.last), (Kind::Activation, step, step));
        }
    }
    assert!(m.op(no as u32).is_none());
    let _ = m.section_sizes();
}

fn parse_checked(bytes: &[u8]) {
    if let Ok(m) = Model::parse(bytes) {
        check_consistent(&m);
    }
}

/// The valid blobs the damage starts from.
fn seeds() -> Vec<AlignedBlob> {
    all_models().into_iter().map(|(_, n)| n.blob()).collect()
}

#[derive(Clone, Debug)]
enum Value {
    Set(u32),
    Add(i32),
    FlipBit(u8),
}

impl Value {
    fn apply(&self, old: u32) -> u32 {
        match *self {
            Value::Set(v) => v,
            Value::Add(d) => old.wrapping_add(d as u32),
            Value::FlipBit(b) => old ^ (1 << (b % 32)),
        }
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop_oneof![
            Just(0u32),
            Just(1),
            Just(2),
            Just(4),
            Just(16),
            Just(0xff),
            Just(0x7fff_ffff),
            Just(0x8000_0000),
            Just(u32::MAX),
            Just(u32::MAX - 15),
            0u32..64,
            any::<u32>(),
        ]
        .prop_map(Value::Set),
        (-48i32..=48).prop_map(Value::Add),
        any::<u8>().prop_map(Value::FlipBit),
    ]
}

/// Where a u32 overwrite lands.
#[derive(Clone, Debug)]
enum Target {
    Header,
    Tensor,
    Op,
    Indices,
    Io,
    Params,
    Data,
}

#[derive(Clone, Debug)]
enum Damage {
    FlipByte(Index, u8),
    Truncate(Index),
    Word(Target, Index, Value),
}

fn damage() -> impl Strategy<Value = Damage> {
    let target = prop_oneof![
        Just(Target::Header),
        Just(Target::Tensor),
        Just(Target::Tensor),
        Just(Target::Op),
        Just(Target::Op),
        Just(Target::Indices),
        Just(Target::Io),
        Just(Target::Params),
        Just(Target::Data),
    ];
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Damage::FlipByte(i, x)),
        1 => any::<Index>().prop_map(Damage::Truncate),
        12 => (target, any::<Index>(), value()).prop_map(|(t, i, v)| Damage::Word(t, i, v)),
    ]
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    if bytes.is_empty() {
        return;
    }
    match d {
        Damage::FlipByte(i, x) => {
            let at = i.index(bytes.len());
            bytes[at] ^= x;
        }
        Damage::Truncate(i) => {
            let len = i.index(bytes.len());
            bytes.truncate(len);
        }
        Damage::Word(target, i, v) => {
            if bytes.len() < HEADER_BYTES {
                return;
            }
            let h = header(bytes);
            // The byte range of the target region (clamped to the blob; the header is intact
            // enough to locate sections, or the damage lands in the header).
            let section = |s: Section| {
                let d = h.sections[s as usize];
                let start = (d.offset as usize).min(bytes.len());
                let len = (d.count as usize).saturating_mul(s.unit());
                (start, start.saturating_add(len).min(bytes.len()))
            };
            let (start, end) = match target {
                Target::Header => (0, HEADER_BYTES),
                Target::Tensor => section(Section::Tensors),
                Target::Op => section(Section::Ops),
                Target::Indices => section(Section::Indices),
                Target::Io => (section(Section::Inputs).0, section(Section::Outputs).1),
                Target::Params => section(Section::Params),
                Target::Data => section(Section::Data),
            };
            let words = end.saturating_sub(start) / 4;
            if words == 0 {
                return;
            }
            let at = start + 4 * i.index(words);
            let old = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            bytes[at..at + 4].copy_from_slice(&v.apply(old).to_le_bytes());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn damaged_blobs_never_panic(
        seed in 0usize..4,
        damages in prop::collection::vec(damage(), 1..5),
        fix in prop::bool::weighted(0.9),
    ) {
        let blob = &seeds()[seed];
        let mut bytes = blob.as_bytes().to_vec();
        for d in &damages {
            apply(&mut bytes, d);
        }
        if fix {
            fix_crc(&mut bytes);
        }
        let aligned = AlignedBlob::from_bytes(&bytes);
        parse_checked(aligned.as_bytes());
    }

    #[test]
    fn random_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..400), magic in any::<bool>()) {
        // Pure noise, optionally with a plausible header prefix.
        if magic && bytes.len() >= HEADER_BYTES {
            bytes[..4].copy_from_slice(&MAGIC);
            bytes[4..8].copy_from_slice(&[1, 0, 0, 0]);
            let len = bytes.len() as u32;
            bytes[12..16].copy_from_slice(&len.to_le_bytes());
            fix_crc(&mut bytes);
        }
        let aligned = AlignedBlob::from_bytes(&bytes);
        parse_checked(aligned.as_bytes());
    }
}

/// Exhaustive: every byte of every seed, XORed with a few masks, CRC fixed.
#[test]
fn every_single_byte_change_is_handled() {
    let mut accepted = 0usize;
    let mut total = 0usize;
    for blob in seeds() {
        let mut b = blob.clone();
        for pos in 0..b.len() {
            for x in [0x01u8, 0x10, 0x80, 0xff] {
                b.as_bytes_mut()[pos] ^= x;
                fix_crc(b.as_bytes_mut());
                if let Ok(m) = Model::parse(b.as_bytes()) {
                    check_consistent(&m);
                    accepted += 1;
                }
                total += 1;
                b.as_bytes_mut()[pos] ^= x;
            }
        }
        fix_crc(b.as_bytes_mut());
        assert_eq!(b, blob);
    }
    // Most single-byte changes are caught; the accepted ones change data, padding or unchecked
    // informational fields. (Not a rule, a sanity check that the corpus exercises the parser.)
    assert!(accepted < total / 2, "{accepted} of {total} accepted");
}

/// Exhaustive: every aligned u32 word of every seed set to each interesting value, CRC fixed.
#[test]
fn every_word_overwrite_is_handled() {
    const VALUES: [u32; 10] =
        [0, 1, 2, 16, 0xff, 0x7fff_ffff, 0x8000_0000, u32::MAX, u32::MAX - 15, 0x0001_0000];
    let mut codes = std::collections::BTreeSet::new();
    for blob in seeds() {
        let mut b = blob.clone();
        for at in (0..b.len()).step_by(4) {
            let old: [u8; 4] = b.as_bytes()[at..at + 4].try_into().unwrap();
            for v in VALUES {
                b.as_bytes_mut()[at..at + 4].copy_from_slice(&v.to_le_bytes());
                fix_crc(b.as_bytes_mut());
                match Model::parse(b.as_bytes()) {
                    Ok(m) => check_consistent(&m),
                    Err(e) => {
                        codes.insert(e.code());
                    }
                }
            }
            b.as_bytes_mut()[at..at + 4].copy_from_slice(&old);
        }
    }
    // The corpus reaches nearly every rule (all but the checksum, alignment in memory and a few
    // dataflow rules that need two coordinated edits).
    assert!(codes.len() >= 30, "only {} distinct errors reached: {codes:?}", codes.len());
}
