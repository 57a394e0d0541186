//! A corpus of malformed blobs: one test per class of defect, each asserting the exact `Error`
//! (variant and payload) that `Model::parse` must return. The blobs are valid test models
//! (tests/common) edited with the writer's patch helpers, which fix the CRC so that the rule
//! behind the checksum is the one exercised.
#![cfg(feature = "std")]

mod common;

use common::*;
use doppler_model_format::layout::*;
use doppler_model_format::ops::*;
use doppler_model_format::writer::{
    fix_crc, patch_header, patch_op, patch_tensor, patch_u32, AlignedBlob, Builder, Quant,
};
use doppler_model_format::{DType, Error, Model, OpCode};

/// Asserts that `blob` edited by `f` is rejected with exactly `want`.
#[track_caller]
fn rejects(blob: &AlignedBlob, want: Error, f: impl FnOnce(&mut [u8])) {
    assert_eq!(parse_patched(blob, f), Err(want));
}

/// Asserts that `blob` edited by `f` is still accepted (the boundary of a rule).
#[track_caller]
fn accepts(blob: &AlignedBlob, f: impl FnOnce(&mut [u8])) {
    assert_eq!(parse_patched(blob, f), Ok(()));
}

fn int8() -> (Net, AlignedBlob) {
    let n = int8_conv_model();
    let b = n.blob();
    (n, b)
}

fn float() -> (Net, AlignedBlob) {
    let n = float_model();
    let b = n.blob();
    (n, b)
}

fn binary() -> (Net, AlignedBlob) {
    let n = binary_model();
    let b = n.blob();
    (n, b)
}

fn concat() -> (Net, AlignedBlob) {
    let n = concat_model();
    let b = n.blob();
    (n, b)
}

fn tensor_rec(blob: &[u8], t: u32) -> TensorRecord {
    let at = header(blob).sections[Section::Tensors as usize].offset as usize + t as usize * 48;
    bytemuck::pod_read_unaligned(&blob[at..at + 48])
}

// ---------------------------------------------------------------- the blob as a whole

#[test]
fn valid_models_parse() {
    for (name, n) in all_models() {
        assert_eq!(parse(n.blob().as_bytes()), Ok(()), "{name}");
    }
}

#[test]
fn every_prefix_is_truncated() {
    for (name, n) in all_models() {
        let blob = n.blob();
        let bytes = blob.as_bytes();
        for len in 0..bytes.len() {
            let prefix = AlignedBlob::from_bytes(&bytes[..len]);
            assert_eq!(parse(prefix.as_bytes()), Err(Error::Truncated), "{name}: prefix of {len} bytes");
        }
    }
}

#[test]
fn short_blobs() {
    // Fewer than 4 bytes: too short to hold the magic, whatever they are.
    for s in [&b""[..], b"D", b"DP", b"DPL", b"XYZ", b"\0\0\0"] {
        assert_eq!(parse(AlignedBlob::from_bytes(s).as_bytes()), Err(Error::Truncated), "{s:?}");
    }
    // From 4 bytes on, the magic is checked before the length.
    for s in [&b"DPLX"[..], b"XPLR", b"dplr", b"\0\0\0\0", b"DPLRx"] {
        let want = if s.starts_with(b"DPLR") { Error::Truncated } else { Error::BadMagic };
        assert_eq!(parse(AlignedBlob::from_bytes(s).as_bytes()), Err(want), "{s:?}");
    }
    let mut head = vec![0u8; HEADER_BYTES - 1];
    head[..4].copy_from_slice(&MAGIC);
    assert_eq!(parse(AlignedBlob::from_bytes(&head).as_bytes()), Err(Error::Truncated));
}

#[test]
fn trailing_bytes() {
    for (name, n) in all_models() {
        let blob = n.blob();
        for extra in [1usize, 3, 15, 16, 17, 100] {
            let mut bytes = blob.as_bytes().to_vec();
            bytes.resize(bytes.len() + extra, 0);
            let b = AlignedBlob::from_bytes(&bytes);
            assert_eq!(parse(b.as_bytes()), Err(Error::TrailingBytes), "{name}: +{extra}");
            // A fixed CRC does not help: the length is checked first.
            let mut b = b.clone();
            fix_crc(b.as_bytes_mut());
            assert_eq!(parse(b.as_bytes()), Err(Error::TrailingBytes), "{name}: +{extra}, CRC fixed");
        }
    }
}

#[test]
fn blob_len_smaller_than_header_is_truncated() {
    let (_, blob) = concat();
    rejects(&blob, Error::Truncated, |b| patch_header(b, |h| h.blob_len = HEADER_BYTES as u32 - 1));
    rejects(&blob, Error::Truncated, |b| patch_header(b, |h| h.blob_len = 0));
    rejects(&blob, Error::Truncated, |b| patch_header(b, |h| h.blob_len += 16));
    rejects(&blob, Error::Truncated, |b| patch_header(b, |h| h.blob_len = u32::MAX));
    rejects(&blob, Error::TrailingBytes, |b| patch_header(b, |h| h.blob_len -= 16));
    rejects(&blob, Error::TrailingBytes, |b| patch_header(b, |h| h.blob_len = HEADER_BYTES as u32));
}

#[test]
fn bad_magic() {
    let (_, blob) = int8();
    for k in 0..4 {
        for x in [0x01u8, 0x20, 0x80, 0xff] {
            rejects(&blob, Error::BadMagic, |b| b[k] ^= x);
            rejects(&blob, Error::BadMagic, |b| {
                b[k] ^= x;
                fix_crc(b);
            });
        }
    }
    // The magic is checked before anything else, even the length.
    let mut short = blob.as_bytes()[..10].to_vec();
    short[0] = b'X';
    assert_eq!(parse(AlignedBlob::from_bytes(&short).as_bytes()), Err(Error::BadMagic));
}

#[test]
fn unsupported_version() {
    let (_, blob) = int8();
    for (major, minor) in [(0u16, 0u16), (2, 0), (0xffff, 0), (1, 2), (1, 0xffff), (2, 1), (0, 5)] {
        rejects(&blob, Error::UnsupportedVersion { major, minor }, |b| {
            patch_header(b, |h| {
                h.version_major = major;
                h.version_minor = minor;
            })
        });
    }
    // The reader's own version, and every older minor, is accepted.
    for minor in 0..=VERSION_MINOR {
        accepts(&blob, |b| patch_header(b, |h| h.version_minor = minor));
    }
    // The version is not under the CRC; it is checked before it.
    rejects(&blob, Error::UnsupportedVersion { major: 3, minor: 0 }, |b| b[4] = 3);
}

/// Corrupting any single byte without fixing the CRC is caught, by the exact rule that
/// guards that byte.
#[test]
fn every_corrupted_byte_is_caught() {
    for (name, n) in all_models() {
        let blob = n.blob();
        let len = blob.len();
        for pos in 0..len {
            for x in [0x01u8, 0x80, 0x5a] {
                let mut b = blob.clone();
                b.as_bytes_mut()[pos] ^= x;
                let bytes = b.as_bytes();
                let want = match pos {
                    0..=3 => Error::BadMagic,
                    4..=7 => {
                        let major = u16::from_le_bytes([bytes[4], bytes[5]]);
                        let minor = u16::from_le_bytes([bytes[6], bytes[7]]);
                        if major == VERSION_MAJOR && minor <= VERSION_MINOR {
                            // Another supported minor (the version is outside the CRC): a higher
                            // one reads the same blob; a 1.1 blob relabelled 1.0 has opcodes that
                            // 1.0 does not know.
                            let needed = u16::from_le_bytes([blob.as_bytes()[6], blob.as_bytes()[7]]);
                            let got = parse(bytes);
                            let ok = if minor >= needed {
                                got.is_ok()
                            } else {
                                matches!(got, Err(Error::UnknownOpcode { .. }))
                            };
                            assert!(ok, "{name}: byte {pos} ^ {x:#x}: {got:?}");
                            continue;
                        }
                        Error::UnsupportedVersion { major, minor }
                    }
                    12..=15 => {
                        let new_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
                        if new_len > len || new_len < HEADER_BYTES {
                            Error::Truncated
                        } else {
                            Error::TrailingBytes
                        }
                    }
                    // The CRC field itself and everything the CRC covers.
                    _ => Error::BadChecksum,
                };
                assert_eq!(parse(bytes), Err(want), "{name}: byte {pos} ^ {x:#x}");
            }
        }
    }
}

#[test]
fn crc_covers_bytes_12_to_end() {
    let (_, blob) = float();
    let b = blob.as_bytes();
    let h = header(b);
    assert_eq!(h.crc32, doppler_model_format::layout::crc32(&b[CRC_START..]));
    // CRC-32/ISO-HDLC check value ("123456789" → 0xCBF43926), i.e. zlib's crc32.
    assert_eq!(doppler_model_format::layout::crc32(b"123456789"), 0xCBF4_3926);
    // Padding between sections is covered by the CRC (and otherwise unchecked): the inputs
    // section of the float model holds 4 bytes, then 12 bytes of padding.
    let pad_at = h.sections[Section::Inputs as usize].offset as usize + 4;
    assert!(pad_at < h.sections[Section::Outputs as usize].offset as usize);
    rejects(&blob, Error::BadChecksum, |b| b[pad_at] ^= 1);
    accepts(&blob, |b| {
        b[pad_at] ^= 1;
        fix_crc(b);
    });
    rejects(&blob, Error::BadChecksum, |b| b[b.len() - 1] ^= 1);
}

#[test]
fn misaligned_in_memory() {
    for (name, n) in all_models() {
        let blob = n.blob();
        let len = blob.len();
        // A 16-byte-aligned buffer with room to shift the blob by up to 16 bytes.
        let mut buf = AlignedBlob::from_bytes(&vec![0u8; len + 16]);
        let mem = buf.as_bytes_mut();
        assert_eq!(mem.as_ptr() as usize % 16, 0);
        for k in 0..=16 {
            mem[k..k + len].copy_from_slice(blob.as_bytes());
            let want = if k % 16 == 0 { Ok(()) } else { Err(Error::BlobMisaligned) };
            assert_eq!(parse(&mem[k..k + len]), want, "{name}: at offset {k}");
        }
    }
}

#[test]
fn nonzero_header_flags_or_reserved() {
    let (_, blob) = int8();
    rejects(&blob, Error::BadHeader, |b| patch_header(b, |h| h.flags = 1));
    rejects(&blob, Error::BadHeader, |b| patch_header(b, |h| h.flags = 0x8000_0000));
    rejects(&blob, Error::BadHeader, |b| patch_header(b, |h| h.reserved[0] = 1));
    rejects(&blob, Error::BadHeader, |b| patch_header(b, |h| h.reserved[1] = u32::MAX));
    // The informational figures are not checked.
    accepts(&blob, |b| {
        patch_header(b, |h| {
            h.peak_live_bytes = 0;
            h.greedy_arena_bytes = u32::MAX;
        })
    });
}

// ---------------------------------------------------------------- sections

#[test]
fn section_out_of_bounds() {
    let (_, blob) = int8();
    let h = header(blob.as_bytes());
    for s in Section::ALL {
        let i = s as usize;
        let want = Error::SectionOutOfBounds { section: s };
        // Count running past the end of the blob.
        rejects(&blob, want, |b| patch_header(b, |h| h.sections[i].count = u32::MAX));
        rejects(&blob, want, |b| patch_header(b, |h| h.sections[i].count = h.blob_len));
        // Offset past the end of the blob (aligned, so only the bound is at fault).
        rejects(&blob, want, |b| patch_header(b, |h| h.sections[i].offset = h.blob_len + 16));
        rejects(&blob, want, |b| patch_header(b, |h| h.sections[i].offset = !15u32));
        // Inside the header.
        rejects(&blob, want, |b| patch_header(b, |h| h.sections[i].offset = 0));
        rejects(&blob, want, |b| patch_header(b, |h| h.sections[i].offset = HEADER_BYTES as u32 - 16));
    }
    // The last section may end exactly at blob_len, not one unit later.
    let data = h.sections[Section::Data as usize];
    let room = h.blob_len - data.offset;
    accepts(&blob, |b| patch_header(b, |h| h.sections[Section::Data as usize].count = room));
    rejects(&blob, Error::SectionOutOfBounds { section: Section::Data }, |b| {
        patch_header(b, |h| h.sections[Section::Data as usize].count = room + 1)
    });
}

#[test]
fn sections_overlap() {
    let (_, blob) = int8();
    // Each section starting where the previous one starts: the later one is named.
    for k in 1..7 {
        let s = Section::ALL[k];
        rejects(&blob, Error::SectionOutOfBounds { section: s }, |b| {
            patch_header(b, |h| h.sections[k].offset = h.sections[k - 1].offset)
        });
    }
    // A section growing into the next one by one unit (the tensors section has no padding
    // after it in this model: 22 · 48 = 1056 is a multiple of 16).
    rejects(&blob, Error::SectionOutOfBounds { section: Section::Ops }, |b| {
        patch_header(b, |h| h.sections[Section::Tensors as usize].count += 1)
    });
    // Out of header order.
    rejects(&blob, Error::SectionOutOfBounds { section: Section::Outputs }, |b| {
        patch_header(b, |h| h.sections.swap(Section::Inputs as usize, Section::Outputs as usize))
    });
    // Empty sections may share an offset with their neighbour's end.
    let (_, f) = float();
    let mut b = f.clone();
    patch_header(b.as_bytes_mut(), |h| {
        let end = h.blob_len;
        h.sections[Section::Params as usize] = SectionDesc { offset: end, count: 0 };
    });
    // (The ops' params now lie outside an empty params section.)
    assert_eq!(parse(b.as_bytes()), Err(Error::SectionOutOfBounds { section: Section::Data }));
}

#[test]
fn section_misaligned() {
    let (_, blob) = int8();
    for s in Section::ALL {
        for delta in [1u32, 4, 8, 15] {
            rejects(&blob, Error::SectionMisaligned { section: s }, |b| {
                patch_header(b, |h| h.sections[s as usize].offset += delta)
            });
        }
    }
}

// ---------------------------------------------------------------- tensor records

#[test]
fn tensor_bad_type() {
    let (n, blob) = int8();
    for t in [n.t("x"), n.t("w1"), n.t("y")] {
        let want = Error::BadTensorType { tensor: t };
        for dtype in [0u8, 5, 6, 0x80, 0xff] {
            rejects(&blob, want, |b| patch_tensor(b, t as usize, |r| r.dtype = dtype));
        }
        for kind in [2u8, 3, 0xff] {
            rejects(&blob, want, |b| patch_tensor(b, t as usize, |r| r.kind = kind));
        }
        rejects(&blob, want, |b| patch_tensor(b, t as usize, |r| r.flags = 1));
        rejects(&blob, want, |b| patch_tensor(b, t as usize, |r| r.reserved = 1));
    }
}

#[test]
fn tensor_bad_shape() {
    let (n, blob) = int8();
    let (x, r) = (n.t("x"), n.t("r"));
    let want = Error::BadShape { tensor: x };
    rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.rank = 0));
    rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.rank = 5));
    rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.rank = 0xff));
    for k in 0..4 {
        rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.dims[k] = 0));
    }
    // r is [1, 72]: dims 2 and 3 must be 1.
    let want = Error::BadShape { tensor: r };
    for k in 2..4 {
        rejects(&blob, want, |b| patch_tensor(b, r as usize, |r| r.dims[k] = 2));
        rejects(&blob, want, |b| patch_tensor(b, r as usize, |r| r.dims[k] = 0));
    }
}

#[test]
fn tensor_bad_size() {
    let (n, blob) = int8();
    let (x, w1) = (n.t("x"), n.t("w1"));
    let want = Error::BadTensorSize { tensor: x };
    // `bytes` disagreeing with dims × dtype.
    for delta in [1i64, -1, 16, -108] {
        rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.bytes = (r.bytes as i64 + delta) as u32));
    }
    rejects(&blob, Error::BadTensorSize { tensor: w1 }, |b| patch_tensor(b, w1 as usize, |r| r.bytes = 0));
    // Dims whose product overflows 32 bits (and, for the first, 64 bits).
    rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.dims = [u32::MAX; 4]));
    rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.dims = [65536, 65536, 1, 1]));
    // The largest size that fits passes this rule (and fails the next one, the arena).
    rejects(&blob, Error::ActivationOutOfArena { tensor: x }, |b| {
        patch_tensor(b, x as usize, |r| {
            r.dims = [65536, 65535, 1, 1];
            r.bytes = 65536 * 65535;
        })
    });
    // float32: 2^30 elements are 2^32 bytes.
    let (fnet, fblob) = float();
    let fx = fnet.t("x");
    rejects(&fblob, Error::BadTensorSize { tensor: fx }, |b| {
        patch_tensor(b, fx as usize, |r| {
            r.rank = 1;
            r.dims = [1 << 30, 1, 1, 1];
            r.bytes = 0;
        })
    });
    // Bitpacked: fewer than 2^32 storage bytes but more than 2^32 elements.
    let (bnet, bblob) = binary();
    let xb = bnet.t("xb");
    rejects(&bblob, Error::BadTensorSize { tensor: xb }, |b| {
        patch_tensor(b, xb as usize, |r| {
            r.rank = 2;
            r.dims = [65536, 65568, 1, 1];
            r.bytes = 65536 * 2049 * 4;
        })
    });
}

#[test]
fn constant_out_of_data_section() {
    let (n, blob) = int8();
    let data_len = header(blob.as_bytes()).sections[Section::Data as usize].count;
    let (w1, s3) = (n.t("w1"), n.t("s3"));
    let want = Error::ConstantOutOfBounds { tensor: w1 };
    rejects(&blob, want, |b| patch_tensor(b, w1 as usize, |r| r.offset = data_len.next_multiple_of(16)));
    rejects(&blob, want, |b| patch_tensor(b, w1 as usize, |r| r.offset = !15u32));
    // The last constant ends 8 bytes before the end of the data section: one word later is out.
    let rec = tensor_rec(blob.as_bytes(), s3);
    assert_eq!(rec.offset + rec.bytes, data_len);
    rejects(&blob, Error::ConstantOutOfBounds { tensor: s3 }, |b| {
        patch_tensor(b, s3 as usize, |r| r.offset += 16)
    });
    // Moving a constant onto another constant is allowed (constants are read-only): the bias b3
    // reads w1's bytes.
    accepts(&blob, |b| patch_tensor(b, n.t("b3") as usize, |r| r.offset = 0));
}

#[test]
fn tensor_misaligned() {
    let (n, blob) = int8();
    for t in [n.t("x"), n.t("w1"), n.t("c1"), n.t("s3")] {
        for delta in [1u32, 2, 4, 8, 15] {
            rejects(&blob, Error::TensorMisaligned { tensor: t }, |b| {
                patch_tensor(b, t as usize, |r| r.offset += delta)
            });
        }
    }
}

#[test]
fn activation_beyond_arena() {
    let (n, blob) = int8();
    let arena = header(blob.as_bytes()).arena_bytes;
    let (x, c1) = (n.t("x"), n.t("c1"));
    let want = Error::ActivationOutOfArena { tensor: c1 };
    rejects(&blob, want, |b| patch_tensor(b, c1 as usize, |r| r.offset = arena.next_multiple_of(16)));
    rejects(&blob, want, |b| patch_tensor(b, c1 as usize, |r| r.offset = !15u32));
    // c1 (144 bytes at 288) ends exactly at the arena's end: one byte less arena is too little.
    let rec = tensor_rec(blob.as_bytes(), c1);
    assert_eq!(rec.offset + rec.bytes, arena);
    rejects(&blob, want, |b| patch_header(b, |h| h.arena_bytes -= 1));
    rejects(&blob, Error::ActivationOutOfArena { tensor: x }, |b| patch_header(b, |h| h.arena_bytes = 0));
    // A larger arena than planned is fine.
    accepts(&blob, |b| patch_header(b, |h| h.arena_bytes = u32::MAX));
}

#[test]
fn bad_quantization() {
    let (n, blob) = int8();
    let x = n.t("x");
    let want = Error::BadQuantization { tensor: x };
    for scale in [0.0f32, -0.0, -0.05, f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.scale = scale));
    }
    for zp in [128, 200, -129, i32::MIN, i32::MAX] {
        rejects(&blob, want, |b| patch_tensor(b, x as usize, |r| r.zero_point = zp));
    }
    for zp in [-128, 127] {
        accepts(&blob, |b| patch_tensor(b, x as usize, |r| r.zero_point = zp));
    }
    accepts(&blob, |b| patch_tensor(b, x as usize, |r| r.scale = f32::MIN_POSITIVE));
    accepts(&blob, |b| patch_tensor(b, x as usize, |r| r.scale = f32::MAX));
    // Quantization on tensors that are not int8: float32, int32, bitpacked.
    let b1 = n.t("b1");
    rejects(&blob, Error::BadQuantization { tensor: b1 }, |b| {
        patch_tensor(b, b1 as usize, |r| r.scale = 1.0)
    });
    // "No quantization" is the all-zero encoding: −0.0 is not it.
    rejects(&blob, Error::BadQuantization { tensor: b1 }, |b| {
        patch_tensor(b, b1 as usize, |r| r.scale = -0.0)
    });
    rejects(&blob, Error::BadQuantization { tensor: b1 }, |b| {
        patch_tensor(b, b1 as usize, |r| r.zero_point = 1)
    });
    let (f, fblob) = float();
    let fx = f.t("x");
    rejects(&fblob, Error::BadQuantization { tensor: fx }, |b| {
        patch_tensor(b, fx as usize, |r| r.scale = 0.5)
    });
    rejects(&fblob, Error::BadQuantization { tensor: fx }, |b| {
        patch_tensor(b, fx as usize, |r| r.zero_point = -1)
    });
    let (bn, bblob) = binary();
    let xb = bn.t("xb");
    rejects(&bblob, Error::BadQuantization { tensor: xb }, |b| {
        patch_tensor(b, xb as usize, |r| r.scale = f32::NAN)
    });
}

#[test]
fn bad_lifetime() {
    let (n, blob) = int8();
    let end = n.ops.len() as u32 + 1;
    let (x, w1, c1, y) = (n.t("x"), n.t("w1"), n.t("c1"), n.t("y"));
    // Constants have no lifetime.
    rejects(&blob, Error::BadLifetime { tensor: w1 }, |b| patch_tensor(b, w1 as usize, |r| r.first = 1));
    rejects(&blob, Error::BadLifetime { tensor: w1 }, |b| patch_tensor(b, w1 as usize, |r| r.last = 1));
    // Activations: first ≤ last ≤ op count + 1.
    rejects(&blob, Error::BadLifetime { tensor: c1 }, |b| {
        patch_tensor(b, c1 as usize, |r| {
            r.first = 2;
            r.last = 1;
        })
    });
    rejects(&blob, Error::BadLifetime { tensor: c1 }, |b| patch_tensor(b, c1 as usize, |r| r.last = end + 1));
    rejects(&blob, Error::BadLifetime { tensor: c1 }, |b| {
        patch_tensor(b, c1 as usize, |r| r.last = u32::MAX)
    });
    // Graph inputs are live from step 0, graph outputs to step op count + 1.
    rejects(&blob, Error::BadLifetime { tensor: x }, |b| patch_tensor(b, x as usize, |r| r.first = 1));
    rejects(&blob, Error::BadLifetime { tensor: y }, |b| patch_tensor(b, y as usize, |r| r.last = end - 1));
    // An op output must record the op as its writer (first = op index + 1).
    rejects(&blob, Error::BadLifetime { tensor: c1 }, |b| patch_tensor(b, c1 as usize, |r| r.first = 0));
    // A longer lifetime than needed is allowed, but then it must not collide: x stretched to
    // step 2 now meets d1, which the plan put on the same bytes.
    rejects(&blob, Error::LiveOverlap { a: x, b: n.t("d1") }, |b| {
        patch_tensor(b, x as usize, |r| r.last = 2)
    });
}

// ---------------------------------------------------------------- graph inputs and outputs

#[test]
fn io_index_out_of_range() {
    let (n, blob) = concat();
    let count = n.tensors.len() as u32;
    for v in [count, count + 1, u32::MAX] {
        rejects(&blob, Error::IoIndexOutOfRange, |b| patch_u32(b, Section::Inputs, 0, v));
        rejects(&blob, Error::IoIndexOutOfRange, |b| patch_u32(b, Section::Inputs, 1, v));
        rejects(&blob, Error::IoIndexOutOfRange, |b| patch_u32(b, Section::Outputs, 1, v));
    }
}

#[test]
fn bad_graph_io() {
    let (n, blob) = concat();
    let (a, table, y) = (n.t("a"), n.t("table"), n.t("y"));
    // A constant as input or output.
    rejects(&blob, Error::BadIo { tensor: table }, |b| patch_u32(b, Section::Inputs, 0, table));
    rejects(&blob, Error::BadIo { tensor: table }, |b| patch_u32(b, Section::Outputs, 0, table));
    // Listed twice.
    rejects(&blob, Error::BadIo { tensor: a }, |b| patch_u32(b, Section::Inputs, 1, a));
    rejects(&blob, Error::BadIo { tensor: y }, |b| patch_u32(b, Section::Outputs, 1, y));
    // Both input and output.
    rejects(&blob, Error::BadIo { tensor: a }, |b| patch_u32(b, Section::Outputs, 0, a));
}

#[test]
fn empty_graph() {
    let (_, blob) = concat();
    rejects(&blob, Error::EmptyGraph, |b| {
        patch_header(b, |h| h.sections[Section::Inputs as usize].count = 0)
    });
    rejects(&blob, Error::EmptyGraph, |b| {
        patch_header(b, |h| h.sections[Section::Outputs as usize].count = 0)
    });
    // The builder refuses such a graph too, with the loader's verdict.
    let mut b = Builder::new();
    let x = b.activation(DType::F32, &[4], None);
    let y = b.activation(DType::F32, &[4], None);
    b.op(OpCode::Reshape, &[x], &[y], &NoParams {});
    b.output(y);
    assert_eq!(b.finish().unwrap_err(), doppler_model_format::writer::BuildError::Invalid(Error::EmptyGraph));
}

#[test]
fn output_never_written() {
    // A graph output that no op writes (the builder records first = op count + 1).
    let mut n = concat_model();
    let ghost = n.act("ghost", DType::I8, &[4], Some(Quant::new(1.0, 0)));
    n.output(ghost);
    assert_eq!(parse(n.unchecked().as_bytes()), Err(Error::OutputNeverWritten { tensor: ghost.0 }));
    // A graph with no ops at all.
    let mut b = Builder::new();
    b.input(DType::F32, &[4], None);
    let y = b.activation(DType::F32, &[4], None);
    b.output(y);
    let blob = AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0);
    assert_eq!(parse(blob.as_bytes()), Err(Error::OutputNeverWritten { tensor: y.0 }));
}

// ---------------------------------------------------------------- op records

#[test]
fn unknown_opcode() {
    let (_, blob) = int8();
    for (op, opcode) in [(0usize, 0u16), (0, 21), (3, 31), (7, 35), (2, 0x100), (5, 0xffff)] {
        rejects(&blob, Error::UnknownOpcode { op: op as u32, opcode }, |b| {
            patch_op(b, op, |r| r.opcode = opcode)
        });
    }
}

#[test]
fn bad_arity() {
    let (n, blob) = int8();
    let conv = n.o("conv");
    let want = Error::BadArity { op: conv as u32 };
    // Too few inputs: int8 conv with 4 (the output slot kept in place).
    rejects(&blob, want, |b| {
        patch_op(b, conv, |r| {
            r.n_inputs = 4;
            r.io_start += 1;
        })
    });
    // More inputs than any op may have.
    rejects(&blob, want, |b| patch_op(b, conv, |r| r.n_inputs = 17));
    rejects(&blob, want, |b| patch_op(b, conv, |r| r.n_inputs = 0xff));
    // No outputs.
    rejects(&blob, want, |b| patch_op(b, conv, |r| r.n_outputs = 0));
    // Reserved words.
    for k in 0..3 {
        rejects(&blob, want, |b| patch_op(b, conv, |r| r.reserved[k] = 1));
    }
    // Too many inputs for the opcode: Lut [s, table] relabelled as Reshape (both without params).
    let (c, cblob) = concat();
    let lut = c.o("lut");
    rejects(&cblob, Error::BadArity { op: lut as u32 }, |b| {
        patch_op(b, lut, |r| r.opcode = OpCode::Reshape as u16)
    });
    // An op with two (otherwise well-formed) outputs.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[4], None);
    let (y1, y2) = (b.activation(DType::F32, &[4], None), b.activation(DType::F32, &[4], None));
    b.op(OpCode::Reshape, &[x], &[y1, y2], &NoParams {});
    b.output(y1);
    b.output(y2);
    let blob = AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0);
    assert_eq!(parse(blob.as_bytes()), Err(Error::BadArity { op: 0 }));
    // Concatenation with no inputs.
    let concat_op = c.o("concat");
    rejects(&cblob, Error::BadArity { op: concat_op as u32 }, |b| {
        patch_op(b, concat_op, |r| {
            r.n_inputs = 0;
            r.io_start += 2;
        })
    });
}

#[test]
fn io_range_beyond_index_section() {
    let (n, blob) = int8();
    let index_count = header(blob.as_bytes()).sections[Section::Indices as usize].count;
    let (conv, softmax) = (n.o("conv"), n.o("softmax"));
    rejects(&blob, Error::TensorIndexOutOfRange { op: conv as u32 }, |b| {
        patch_op(b, conv, |r| r.io_start = index_count)
    });
    rejects(&blob, Error::TensorIndexOutOfRange { op: conv as u32 }, |b| {
        patch_op(b, conv, |r| r.io_start = u32::MAX)
    });
    // The last op's list ends at the end of the section; one more input runs past it.
    let last = op_record(blob.as_bytes(), softmax);
    assert_eq!(last.io_start + 2, index_count);
    rejects(&blob, Error::TensorIndexOutOfRange { op: softmax as u32 }, |b| {
        patch_op(b, softmax, |r| r.n_inputs = 2)
    });
    rejects(&blob, Error::TensorIndexOutOfRange { op: softmax as u32 }, |b| {
        patch_op(b, softmax, |r| r.io_start += 1)
    });
}

#[test]
fn tensor_index_out_of_range() {
    let (n, blob) = int8();
    let count = n.tensors.len() as u32;
    let (conv, fc) = (n.o("conv"), n.o("fc"));
    for v in [count, u32::MAX - 1, u32::MAX] {
        // An input, a constant input, an output.
        for (op, k) in [(conv, 0), (conv, 3), (fc, 5)] {
            let slot = io_slot(blob.as_bytes(), op, k);
            rejects(&blob, Error::TensorIndexOutOfRange { op: op as u32 }, |b| {
                patch_u32(b, Section::Indices, slot, v)
            });
        }
    }
}

#[test]
fn scratch_index_out_of_range() {
    let (n, blob) = int8();
    let count = n.tensors.len() as u32;
    for op in [n.o("conv"), n.o("maxpool")] {
        for v in [count, u32::MAX - 1] {
            rejects(&blob, Error::TensorIndexOutOfRange { op: op as u32 }, |b| {
                patch_op(b, op, |r| r.scratch = v)
            });
        }
    }
}

#[test]
fn bad_params_length() {
    let (n, blob) = int8();
    let params_len = header(blob.as_bytes()).sections[Section::Params as usize].count;
    let (conv, softmax, reshape) = (n.o("conv"), n.o("softmax"), n.o("reshape"));
    // Out of the params section.
    rejects(&blob, Error::BadParamsLength { op: conv as u32 }, |b| {
        patch_op(b, conv, |r| r.params_offset = params_len)
    });
    rejects(&blob, Error::BadParamsLength { op: conv as u32 }, |b| {
        patch_op(b, conv, |r| r.params_offset = u32::MAX)
    });
    rejects(&blob, Error::BadParamsLength { op: softmax as u32 }, |b| {
        patch_op(b, softmax, |r| r.params_offset += 4)
    });
    // Wrong length for the opcode (in bounds).
    for len in [0u32, 4, 71, 73] {
        rejects(&blob, Error::BadParamsLength { op: conv as u32 }, |b| {
            patch_op(b, conv, |r| r.params_len = len)
        });
    }
    rejects(&blob, Error::BadParamsLength { op: reshape as u32 }, |b| {
        patch_op(b, reshape, |r| r.params_len = 4)
    });
    rejects(&blob, Error::BadParamsLength { op: reshape as u32 }, |b| {
        patch_op(b, reshape, |r| r.params_len = u32::MAX)
    });
    // Params need not be aligned in the section (they are read unaligned).
    accepts(&blob, |b| patch_op(b, reshape, |r| r.params_offset = 3));
}

// ---------------------------------------------------------------- parameter ranges

#[test]
fn bad_params_window() {
    let (n, blob) = int8();
    let (conv, dw, maxpool, avgpool) = (n.o("conv"), n.o("dw"), n.o("maxpool"), n.o("avgpool"));
    let edits: [fn(&mut WindowParams); 6] = [
        |p| p.stride_h = 0,
        |p| p.stride_w = 0,
        |p| p.dilation_h = 0,
        |p| p.dilation_w = 0,
        |p| p.filter_h = 0,
        |p| p.filter_w = 0,
    ];
    for op in [conv, dw, maxpool, avgpool] {
        for edit in edits {
            rejects(&blob, Error::BadParams { op: op as u32 }, |b| patch_params(b, op, edit));
        }
    }
    let (bn, bblob) = binary();
    for op in [bn.o("bconv"), bn.o("bpool"), bn.o("bconv_f")] {
        for edit in edits {
            rejects(&bblob, Error::BadParams { op: op as u32 }, |b| patch_params(b, op, edit));
        }
    }
    // Pools have no dilation, depth multiplier or pad value.
    for op in [maxpool, avgpool] {
        let want = Error::BadParams { op: op as u32 };
        rejects(&blob, want, |b| patch_params::<WindowParams>(b, op, |p| p.dilation_h = 2));
        rejects(&blob, want, |b| patch_params::<WindowParams>(b, op, |p| p.depth_multiplier = 2));
        rejects(&blob, want, |b| patch_params::<WindowParams>(b, op, |p| p.pad_value = 1));
    }
}

#[test]
fn bad_params_rounding() {
    let (n, blob) = int8();
    for op in [n.o("conv"), n.o("dw")] {
        for r in [2u32, 3, u32::MAX] {
            rejects(&blob, Error::BadParams { op: op as u32 }, |b| {
                patch_params::<WindowParams>(b, op, |p| p.rounding = r)
            });
        }
    }
    let fc = n.o("fc");
    rejects(&blob, Error::BadParams { op: fc as u32 }, |b| {
        patch_params::<FullyConnectedParams>(b, fc, |p| p.rounding = 2)
    });
    let (c, cblob) = concat();
    let (add, mean) = (c.o("add"), c.o("mean"));
    rejects(&cblob, Error::BadParams { op: add as u32 }, |b| {
        patch_params::<ElementwiseParams>(b, add, |p| p.rounding = 2)
    });
    rejects(&cblob, Error::BadParams { op: mean as u32 }, |b| {
        patch_params::<MeanParams>(b, mean, |p| p.rounding = 2)
    });
    // Both modes are valid.
    let conv = n.o("conv");
    accepts(&blob, |b| patch_params::<WindowParams>(b, conv, |p| p.rounding = ROUNDING_SINGLE));
    // float ops ignore the rounding field.
    let (f, fblob) = float();
    accepts(&fblob, |b| patch_params::<WindowParams>(b, f.o("conv"), |p| p.rounding = 7));
}

#[test]
fn bad_params_activation_clamp() {
    let (n, blob) = int8();
    let (conv, fc) = (n.o("conv"), n.o("fc"));
    let want = Error::BadParams { op: conv as u32 };
    rejects(&blob, want, |b| {
        patch_params::<WindowParams>(b, conv, |p| {
            p.act_min = 10;
            p.act_max = 5;
        })
    });
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.act_min = -129));
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.act_max = 128));
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.act_min = i32::MIN));
    accepts(&blob, |b| {
        patch_params::<WindowParams>(b, conv, |p| {
            p.act_min = 7;
            p.act_max = 7;
        })
    });
    rejects(&blob, Error::BadParams { op: fc as u32 }, |b| {
        patch_params::<FullyConnectedParams>(b, fc, |p| p.act_max = 200)
    });
    // Pools clamp too.
    let mp = n.o("maxpool");
    rejects(&blob, Error::BadParams { op: mp as u32 }, |b| {
        patch_params::<WindowParams>(b, mp, |p| p.act_min = 128)
    });
    // int8 Add and Clamp.
    let (c, cblob) = concat();
    let add = c.o("add");
    rejects(&cblob, Error::BadParams { op: add as u32 }, |b| {
        patch_params::<ElementwiseParams>(b, add, |p| p.act_min = -1000)
    });
    // float: min ≤ max and not NaN.
    let (f, fblob) = float();
    let (fconv, relu6, ffc) = (f.o("conv"), f.o("relu6"), f.o("fc"));
    rejects(&fblob, Error::BadParams { op: fconv as u32 }, |b| {
        patch_params::<WindowParams>(b, fconv, |p| {
            p.act_min_f = 1.0;
            p.act_max_f = 0.0;
        })
    });
    rejects(&fblob, Error::BadParams { op: fconv as u32 }, |b| {
        patch_params::<WindowParams>(b, fconv, |p| p.act_min_f = f32::NAN)
    });
    rejects(&fblob, Error::BadParams { op: relu6 as u32 }, |b| {
        patch_params::<ElementwiseParams>(b, relu6, |p| p.act_max_f = f32::NAN)
    });
    rejects(&fblob, Error::BadParams { op: relu6 as u32 }, |b| {
        patch_params::<ElementwiseParams>(b, relu6, |p| p.act_max_f = -1.0)
    });
    rejects(&fblob, Error::BadParams { op: ffc as u32 }, |b| {
        patch_params::<FullyConnectedParams>(b, ffc, |p| p.act_max_f = f32::NAN)
    });
    // (An empty float clamp range such as [+inf, +inf] is ordered, hence accepted.)
    accepts(&fblob, |b| patch_params::<FullyConnectedParams>(b, ffc, |p| p.act_min_f = f32::INFINITY));
    // The int8 fields of float ops are not used and not checked.
    accepts(&fblob, |b| patch_params::<WindowParams>(b, fconv, |p| p.act_min = 1000));
    // BConv2d clamps the integer accumulator: any ordered pair.
    let (bn, bblob) = binary();
    let bconv = bn.o("bconv");
    rejects(&bblob, Error::BadParams { op: bconv as u32 }, |b| {
        patch_params::<WindowParams>(b, bconv, |p| {
            p.act_min = 1;
            p.act_max = 0;
        })
    });
}

#[test]
fn bad_params_depth_multiplier_and_pad_value() {
    let (n, blob) = int8();
    let (conv, dw) = (n.o("conv"), n.o("dw"));
    rejects(&blob, Error::BadParams { op: dw as u32 }, |b| {
        patch_params::<WindowParams>(b, dw, |p| p.depth_multiplier = 0)
    });
    rejects(&blob, Error::BadParams { op: conv as u32 }, |b| {
        patch_params::<WindowParams>(b, conv, |p| p.depth_multiplier = 0)
    });
    rejects(&blob, Error::BadParams { op: conv as u32 }, |b| {
        patch_params::<WindowParams>(b, conv, |p| p.depth_multiplier = 2)
    });
    // A depth multiplier that does not fit the channels is a shape error.
    rejects(&blob, Error::ShapeMismatch { op: dw as u32 }, |b| {
        patch_params::<WindowParams>(b, dw, |p| p.depth_multiplier = 3)
    });
    rejects(&blob, Error::ShapeMismatch { op: dw as u32 }, |b| {
        patch_params::<WindowParams>(b, dw, |p| p.depth_multiplier = u32::MAX)
    });
    rejects(&blob, Error::BadParams { op: conv as u32 }, |b| {
        patch_params::<WindowParams>(b, conv, |p| p.pad_value = 1)
    });
    let (bn, bblob) = binary();
    for op in [bn.o("bconv"), bn.o("bconv_f")] {
        for v in [2u32, 3, u32::MAX] {
            rejects(&bblob, Error::BadParams { op: op as u32 }, |b| {
                patch_params::<WindowParams>(b, op, |p| p.pad_value = v)
            });
        }
        rejects(&bblob, Error::BadParams { op: op as u32 }, |b| {
            patch_params::<WindowParams>(b, op, |p| p.depth_multiplier = 2)
        });
        accepts(&bblob, |b| patch_params::<WindowParams>(b, op, |p| p.pad_value = PAD_VALUE_ZERO));
        accepts(&bblob, |b| patch_params::<WindowParams>(b, op, |p| p.pad_value = PAD_VALUE_ONE));
    }
}

#[test]
fn bad_params_pad() {
    let (n, blob) = int8();
    let pad = n.o("pad");
    let want = Error::BadParams { op: pad as u32 };
    for mode in [2u32, 3, u32::MAX] {
        rejects(&blob, want, |b| patch_params::<PadParams>(b, pad, |p| p.mode = mode));
    }
    for v in [128, 200, -129, i32::MIN] {
        rejects(&blob, want, |b| patch_params::<PadParams>(b, pad, |p| p.value_i8 = v));
    }
    // Reflect on the int8 model: H = W = 3, pads 1 < 3 is fine.
    accepts(&blob, |b| patch_params::<PadParams>(b, pad, |p| p.mode = PAD_REFLECT));
    // Reflect pads must be smaller than the dim (TFLite MirrorPad REFLECT).
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 2, 2, 1], None);
    let y = b.activation(DType::F32, &[1, 4, 2, 1], None);
    let pp = PadParams { pads: [[0, 0], [2, 0], [0, 0], [0, 0]], mode: PAD_REFLECT, ..Default::default() };
    b.op(OpCode::Pad, &[x], &[y], &pp);
    b.output(y);
    let blob = AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0);
    assert_eq!(parse(blob.as_bytes()), Err(Error::BadParams { op: 0 }));
    // The same pads in constant mode are fine; one less is fine in reflect mode.
    accepts(&blob, |b| patch_params::<PadParams>(b, 0, |p| p.mode = PAD_CONSTANT));
    accepts(&blob, |b| patch_params::<PadParams>(b, 0, |p| p.pads[1] = [1, 1]));
    rejects(&blob, Error::BadParams { op: 0 }, |b| patch_params::<PadParams>(b, 0, |p| p.pads[1] = [0, 2]));
}

#[test]
fn bad_params_resize() {
    let (f, blob) = float();
    let resize = f.o("resize");
    let want = Error::BadParams { op: resize as u32 };
    rejects(&blob, want, |b| {
        patch_params::<ResizeParams>(b, resize, |p| {
            p.align_corners = 1;
            p.half_pixel_centers = 1;
        })
    });
    rejects(&blob, want, |b| {
        patch_params::<ResizeParams>(b, resize, |p| {
            p.align_corners = 2;
            p.half_pixel_centers = 0;
        })
    });
    rejects(&blob, want, |b| patch_params::<ResizeParams>(b, resize, |p| p.half_pixel_centers = 2));
    rejects(&blob, want, |b| {
        patch_params::<ResizeParams>(b, resize, |p| {
            p.align_corners = u32::MAX;
            p.half_pixel_centers = 1;
        })
    });
    accepts(&blob, |b| {
        patch_params::<ResizeParams>(b, resize, |p| {
            p.align_corners = 1;
            p.half_pixel_centers = 0;
        })
    });
}

#[test]
fn bad_params_softmax() {
    let (n, blob) = int8();
    let sm = n.o("softmax");
    let want = Error::BadParams { op: sm as u32 };
    rejects(&blob, want, |b| patch_params::<SoftmaxParams>(b, sm, |p| p.input_left_shift = 32));
    rejects(&blob, want, |b| patch_params::<SoftmaxParams>(b, sm, |p| p.input_left_shift = -1));
    rejects(&blob, want, |b| patch_params::<SoftmaxParams>(b, sm, |p| p.input_multiplier = -1));
    rejects(&blob, want, |b| patch_params::<SoftmaxParams>(b, sm, |p| p.diff_min = 1));
    accepts(&blob, |b| patch_params::<SoftmaxParams>(b, sm, |p| p.input_left_shift = 31));
    accepts(&blob, |b| patch_params::<SoftmaxParams>(b, sm, |p| p.diff_min = 0));
    // int8 rows shorter than 8192 (TFLite sums the exponentials in Q12).
    for (c, want) in [(8191usize, Ok(())), (8192, Err(Error::ShapeMismatch { op: 0 }))] {
        let mut b = Builder::new();
        let x = b.input(DType::I8, &[1, c], Some(Quant::new(0.1, 0)));
        let y = b.activation(DType::I8, &[1, c], Some(Quant::new(1.0 / 256.0, -128)));
        let sp = SoftmaxParams { input_multiplier: HALF, input_left_shift: 20, diff_min: -100, beta: 0.0 };
        b.op(OpCode::Softmax, &[x], &[y], &sp);
        b.output(y);
        assert_eq!(
            parse(AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0).as_bytes()),
            want,
            "C = {c}"
        );
    }
    // float32 softmax: beta finite.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[1, 10], None);
    let y = b.activation(DType::F32, &[1, 10], None);
    b.op(OpCode::Softmax, &[x], &[y], &SoftmaxParams { beta: 1.0, ..Default::default() });
    b.output(y);
    let blob = b.finish().unwrap();
    for beta in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        rejects(&blob, Error::BadParams { op: 0 }, |b| {
            patch_params::<SoftmaxParams>(b, 0, |p| p.beta = beta)
        });
    }
}

#[test]
fn bad_params_elementwise_and_norm() {
    let (c, blob) = concat();
    let add = c.o("add");
    for ls in [-1, 31, i32::MAX] {
        rejects(&blob, Error::BadParams { op: add as u32 }, |b| {
            patch_params::<ElementwiseParams>(b, add, |p| p.left_shift = ls)
        });
    }
    let (f, fblob) = float();
    let inorm = f.o("inorm");
    for eps in [-1e-5f32, f32::NAN, f32::INFINITY] {
        rejects(&fblob, Error::BadParams { op: inorm as u32 }, |b| {
            patch_params::<InstanceNormParams>(b, inorm, |p| p.epsilon = eps)
        });
    }
    accepts(&fblob, |b| patch_params::<InstanceNormParams>(b, inorm, |p| p.epsilon = 0.0));
}

/// TransposeConv2d and Tanh: parameters, the transposed output-size equation (checked
/// arithmetic: huge strides and pads are rejected, never wrap), dtypes and shapes.
#[test]
fn transpose_conv_and_tanh_rules() {
    let n = transpose_model();
    let blob = n.blob();
    let (tc, th) = (n.o("tconv"), n.o("tanh"));
    let bad = Error::BadParams { op: tc as u32 };
    let shape = Error::ShapeMismatch { op: tc as u32 };
    type Patch = fn(&mut WindowParams);
    let params: [(Patch, Error); 14] = [
        (|p| p.reserved = 1, bad),
        (|p| p.depth_multiplier = 2, bad),
        (|p| p.rounding = ROUNDING_SINGLE, bad),
        (|p| p.pad_value = PAD_VALUE_ZERO, bad),
        (|p| p.act_min = -128, bad),
        (|p| p.act_min_f = f32::NAN, bad),
        (|p| (p.act_min_f, p.act_max_f) = (1.0, 0.0), bad),
        (|p| p.stride_w = 0, bad),
        (|p| p.dilation_h = 0, bad),
        (|p| p.filter_h = 2, shape),
        (|p| p.pad_bottom = 1, shape),
        (|p| p.pad_top = u32::MAX, shape),
        (|p| p.stride_h = u32::MAX, shape),
        (|p| p.dilation_w = u32::MAX, shape),
    ];
    for (patch, want) in params {
        rejects(&blob, want, |b| patch_params::<WindowParams>(b, tc, patch));
    }
    // The boundary: the same output from stride 1, dilation 2 along H ((3 − 1) + 2·2 + 1 − 1 − 0 = 6).
    accepts(&blob, |b| {
        patch_params::<WindowParams>(b, tc, |p| (p.stride_h, p.dilation_h, p.pad_bottom) = (1, 2, 0))
    });
    accepts(&blob, |b| patch_params::<WindowParams>(b, tc, |p| p.act_min_f = 0.0));
    // Filter and bias: float32 constants of the right shape.
    let (w, bias) = (n.t("w"), n.t("bias"));
    rejects(&blob, Error::DtypeMismatch { op: tc as u32 }, |b| {
        patch_tensor(b, w as usize, |r| r.dtype = DType::I32 as u8)
    });
    rejects(&blob, Error::DtypeMismatch { op: tc as u32 }, |b| {
        patch_tensor(b, bias as usize, |r| r.dtype = DType::I32 as u8)
    });
    // Tanh is float32 only: relabelled from a float op's output it still checks dtypes and shape.
    let y = n.t("y");
    rejects(&blob, Error::DtypeMismatch { op: th as u32 }, |b| {
        patch_tensor(b, y as usize, |r| r.dtype = DType::I32 as u8)
    });
    // Relabelled into each other: the parameter record no longer fits the opcode.
    rejects(&blob, Error::BadParamsLength { op: th as u32 }, |b| {
        patch_op(b, th, |r| r.opcode = OpCode::TransposeConv2d as u16)
    });
    rejects(&blob, Error::BadParamsLength { op: tc as u32 }, |b| {
        patch_op(b, tc, |r| r.opcode = OpCode::Tanh as u16)
    });
}

// ---------------------------------------------------------------- dtypes, shapes, quantization

#[test]
fn dtype_mismatch() {
    let (f, fblob) = float();
    // float conv with an int32 bias (same size as float32).
    let bias = f.t("bias");
    rejects(&fblob, Error::DtypeMismatch { op: f.o("conv") as u32 }, |b| {
        patch_tensor(b, bias as usize, |r| r.dtype = DType::I32 as u8)
    });
    // Quantize relabelled Dequantize: float32 in, int8 out.
    let q = f.o("quantize");
    rejects(&fblob, Error::DtypeMismatch { op: q as u32 }, |b| {
        patch_op(b, q, |r| r.opcode = OpCode::Dequantize as u16)
    });
    let dq = f.o("dequantize");
    rejects(&fblob, Error::DtypeMismatch { op: dq as u32 }, |b| {
        patch_op(b, dq, |r| r.opcode = OpCode::Quantize as u16)
    });
    // Bitpacked data through ops that do not take it.
    let (bn, bblob) = binary();
    let bpool = bn.o("bpool");
    rejects(&bblob, Error::DtypeMismatch { op: bpool as u32 }, |b| {
        patch_op(b, bpool, |r| r.opcode = OpCode::AvgPool2d as u16)
    });
    let pack = bn.o("pack");
    rejects(&bblob, Error::DtypeMismatch { op: pack as u32 }, |b| {
        patch_op(b, pack, |r| r.opcode = OpCode::BUnpack as u16)
    });
    let unpack = bn.o("unpack");
    rejects(&bblob, Error::DtypeMismatch { op: unpack as u32 }, |b| {
        patch_op(b, unpack, |r| r.opcode = OpCode::BPack as u16)
    });
    // int8 requantization constants must be int32.
    let (n, blob) = int8();
    let m1 = n.t("m1");
    rejects(&blob, Error::DtypeMismatch { op: n.o("conv") as u32 }, |b| {
        patch_tensor(b, m1 as usize, |r| r.dtype = DType::F32 as u8)
    });
    // BConv2d float epilogue must be float32.
    let mul = bn.t("mul");
    rejects(&bblob, Error::DtypeMismatch { op: bn.o("bconv_f") as u32 }, |b| {
        patch_tensor(b, mul as usize, |r| r.dtype = DType::I32 as u8)
    });
}

#[test]
fn shape_mismatch() {
    let (n, blob) = int8();
    let conv = n.o("conv");
    let want = Error::ShapeMismatch { op: conv as u32 };
    // Output size equation broken: stride, padding, dilation.
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.stride_h = 2));
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.pad_bottom = 0));
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.dilation_w = 2));
    // A pad as wide as the kernel (a window that touches no input).
    rejects(&blob, want, |b| {
        patch_params::<WindowParams>(b, conv, |p| {
            p.pad_top = 3;
            p.pad_bottom = 0;
            p.stride_h = 1;
        })
    });
    // Kernel size in the params disagrees with the filter tensor.
    rejects(&blob, want, |b| patch_params::<WindowParams>(b, conv, |p| p.filter_w = 1));
    // Filter input channels disagree with the input (dims reshuffled, same bytes).
    let w1 = n.t("w1");
    rejects(&blob, want, |b| patch_tensor(b, w1 as usize, |r| r.dims = [4, 3, 1, 9]));
    // Per-channel constant of the wrong length (8 · 4 bytes reinterpreted as [2, 2] int32).
    let b1 = n.t("b1");
    rejects(&blob, want, |b| {
        patch_tensor(b, b1 as usize, |r| {
            r.rank = 2;
            r.dims = [2, 2, 1, 1];
        })
    });
    // FullyConnected inner dim: weights [10, 72] seen as [5, 144].
    let (fc, w3) = (n.o("fc"), n.t("w3"));
    rejects(&blob, Error::ShapeMismatch { op: fc as u32 }, |b| {
        patch_tensor(b, w3 as usize, |r| r.dims[..2].copy_from_slice(&[5, 144]))
    });
    // Reshape must keep the element count.
    let reshape = n.o("reshape");
    rejects(&blob, Error::ShapeMismatch { op: reshape as u32 }, |b| {
        patch_tensor(b, n.t("r") as usize, |r| {
            r.dims[1] = 36;
            r.bytes = 36;
        })
    });
    // Add: a and b of different shapes (same bytes).
    let (c, cblob) = concat();
    let (add, bt) = (c.o("add"), c.t("b"));
    rejects(&cblob, Error::ShapeMismatch { op: add as u32 }, |b| {
        patch_tensor(b, bt as usize, |r| r.dims = [1, 4, 2, 4])
    });
    // Concatenation: last dims must add up; leading dims must agree.
    let (cc, l) = (c.o("concat"), c.t("l"));
    let lut = c.o("lut");
    // (l is also the Lut output; make it the same shape there by reshaping both sides is not
    // possible, so the Lut op sees the mismatch first.)
    rejects(&cblob, Error::ShapeMismatch { op: lut as u32 }, |b| {
        patch_tensor(b, l as usize, |r| r.dims = [1, 4, 2, 4])
    });
    let cc_out = c.t("c");
    rejects(&cblob, Error::ShapeMismatch { op: cc as u32 }, |b| {
        patch_tensor(b, cc_out as usize, |r| {
            r.dims = [1, 4, 4, 4];
            r.rank = 4;
            r.dims[1] = 2;
            r.dims[3] = 8;
        })
    });
    // Lut table must be [256].
    let table = c.t("table");
    rejects(&cblob, Error::ShapeMismatch { op: lut as u32 }, |b| {
        patch_tensor(b, table as usize, |r| {
            r.rank = 2;
            r.dims = [16, 16, 1, 1];
        })
    });
    // ResizeNearest keeps N and C; InstanceNorm gamma is [C]; Quantize keeps the shape.
    let (f, fblob) = float();
    rejects(&fblob, Error::ShapeMismatch { op: f.o("resize") as u32 }, |b| {
        patch_tensor(b, f.t("z") as usize, |r| r.dims = [1, 12, 3, 12])
    });
    rejects(&fblob, Error::ShapeMismatch { op: f.o("inorm") as u32 }, |b| {
        patch_tensor(b, f.t("gamma") as usize, |r| {
            r.rank = 2;
            r.dims = [1, 3, 1, 1];
        })
    });
    rejects(&fblob, Error::ShapeMismatch { op: f.o("quantize") as u32 }, |b| {
        patch_tensor(b, f.t("q") as usize, |r| r.dims[..2].copy_from_slice(&[4, 1]))
    });
    // BPack keeps the shape.
    let (bn, bblob) = binary();
    rejects(&bblob, Error::ShapeMismatch { op: bn.o("pack") as u32 }, |b| {
        patch_tensor(b, bn.t("x") as usize, |r| r.dims = [1, 6, 40, 6])
    });
    // Mean output [N, C] or [N, 1, 1, C].
    let mean = c.o("mean");
    rejects(&cblob, Error::ShapeMismatch { op: mean as u32 }, |b| {
        patch_tensor(b, c.t("mn") as usize, |r| r.dims[..2].copy_from_slice(&[2, 2]))
    });
}

#[test]
fn fully_connected_output_size_cannot_wrap() {
    // batch · out_len = 65537 · 65536 = 2^32 + 2^16, which a 32-bit reader must not wrap to the
    // output's 65536 elements.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[65537, 1], None);
    let w = b.constant_f32(&[65536, 1], &vec![0.5; 65536]);
    let bias = b.constant_f32(&[65536], &vec![0.0; 65536]);
    let y = b.activation(DType::F32, &[1, 65536], None);
    let p =
        FullyConnectedParams { act_min_f: f32::NEG_INFINITY, act_max_f: f32::INFINITY, ..Default::default() };
    b.op(OpCode::FullyConnected, &[x, w, bias], &[y], &p);
    b.output(y);
    let blob = AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0);
    assert_eq!(parse(blob.as_bytes()), Err(Error::ShapeMismatch { op: 0 }));
}

#[test]
fn quant_mismatch() {
    let (n, blob) = int8();
    // Pools keep the quantization.
    let (mp, p1) = (n.o("maxpool"), n.t("p1"));
    rejects(&blob, Error::QuantMismatch { op: mp as u32 }, |b| {
        patch_tensor(b, p1 as usize, |r| r.scale = 0.2)
    });
    rejects(&blob, Error::QuantMismatch { op: mp as u32 }, |b| {
        patch_tensor(b, p1 as usize, |r| r.zero_point = 0)
    });
    let (ap_op, ap) = (n.o("avgpool"), n.t("ap"));
    rejects(&blob, Error::QuantMismatch { op: ap_op as u32 }, |b| {
        patch_tensor(b, ap as usize, |r| r.zero_point = 0)
    });
    // int8 softmax output is scale 1/256, zero point −128.
    let (sm, y) = (n.o("softmax"), n.t("y"));
    rejects(&blob, Error::QuantMismatch { op: sm as u32 }, |b| {
        patch_tensor(b, y as usize, |r| r.scale = 1.0 / 128.0)
    });
    rejects(&blob, Error::QuantMismatch { op: sm as u32 }, |b| {
        patch_tensor(b, y as usize, |r| r.zero_point = 0)
    });
    // Weights symmetric.
    let (conv, w1) = (n.o("conv"), n.t("w1"));
    rejects(&blob, Error::QuantMismatch { op: conv as u32 }, |b| {
        patch_tensor(b, w1 as usize, |r| r.zero_point = 1)
    });
    // Per-channel multipliers ≥ 0, shifts in −31..=30, for every channel.
    let (m1, s1) = (n.t("m1"), n.t("s1"));
    let want = Error::QuantMismatch { op: conv as u32 };
    for k in 0..4 {
        rejects(&blob, want, |b| patch_constant(b, m1, k, -1i32));
        rejects(&blob, want, |b| patch_constant(b, m1, k, i32::MIN));
        rejects(&blob, want, |b| patch_constant(b, s1, k, 31i32));
        rejects(&blob, want, |b| patch_constant(b, s1, k, -32i32));
    }
    accepts(&blob, |b| patch_constant(b, s1, 0, 30i32));
    accepts(&blob, |b| patch_constant(b, s1, 0, -31i32));
    accepts(&blob, |b| patch_constant(b, m1, 0, i32::MAX));
    accepts(&blob, |b| patch_constant(b, m1, 0, 0i32));
    let (dw, s2) = (n.o("dw"), n.t("s2"));
    rejects(&blob, Error::QuantMismatch { op: dw as u32 }, |b| patch_constant(b, s2, 7, 100i32));
    let (fc, m3) = (n.o("fc"), n.t("m3"));
    rejects(&blob, Error::QuantMismatch { op: fc as u32 }, |b| patch_constant(b, m3, 9, -5i32));
    // Elementwise multipliers and shifts.
    let (c, cblob) = concat();
    let (add, mean) = (c.o("add"), c.o("mean"));
    let w = Error::QuantMismatch { op: add as u32 };
    rejects(&cblob, w, |b| patch_params::<ElementwiseParams>(b, add, |p| p.output_multiplier = -1));
    rejects(&cblob, w, |b| patch_params::<ElementwiseParams>(b, add, |p| p.output_shift = 31));
    rejects(&cblob, w, |b| patch_params::<ElementwiseParams>(b, add, |p| p.input1_multiplier = -1));
    rejects(&cblob, w, |b| patch_params::<ElementwiseParams>(b, add, |p| p.input2_shift = -32));
    let w = Error::QuantMismatch { op: mean as u32 };
    rejects(&cblob, w, |b| patch_params::<MeanParams>(b, mean, |p| p.multiplier = -1));
    rejects(&cblob, w, |b| patch_params::<MeanParams>(b, mean, |p| p.shift = 31));
    // Concatenation inputs share the output's quantization.
    let (cc, l) = (c.o("concat"), c.t("l"));
    rejects(&cblob, Error::QuantMismatch { op: cc as u32 }, |b| {
        patch_tensor(b, l as usize, |r| r.scale = 0.3)
    });
    // Reshape keeps it too.
    let (rs, r) = (c.o("reshape"), c.t("r"));
    rejects(&cblob, Error::QuantMismatch { op: rs as u32 }, |b| {
        patch_tensor(b, r as usize, |r| r.zero_point = 3)
    });
}

// ---------------------------------------------------------------- dataflow

#[test]
fn weights_not_constant() {
    let (n, blob) = int8();
    let conv = n.o("conv");
    let x = n.t("x");
    // The filter slot names the (live) input activation.
    let slot = io_slot(blob.as_bytes(), conv, 1);
    rejects(&blob, Error::NotConstant { op: conv as u32 }, |b| patch_u32(b, Section::Indices, slot, x));
    // Requantization constants too.
    let slot = io_slot(blob.as_bytes(), conv, 3);
    rejects(&blob, Error::NotConstant { op: conv as u32 }, |b| patch_u32(b, Section::Indices, slot, x));
    // Lut table; InstanceNorm gamma.
    let (c, cblob) = concat();
    let lut = c.o("lut");
    let slot = io_slot(cblob.as_bytes(), lut, 1);
    rejects(&cblob, Error::NotConstant { op: lut as u32 }, |b| {
        patch_u32(b, Section::Indices, slot, c.t("s"))
    });
    let (f, fblob) = float();
    let inorm = f.o("inorm");
    let slot = io_slot(fblob.as_bytes(), inorm, 1);
    rejects(&fblob, Error::NotConstant { op: inorm as u32 }, |b| {
        patch_u32(b, Section::Indices, slot, f.t("z"))
    });
    // BConv2d filter.
    let (bn, bblob) = binary();
    let bconv = bn.o("bconv");
    let slot = io_slot(bblob.as_bytes(), bconv, 1);
    rejects(&bblob, Error::NotConstant { op: bconv as u32 }, |b| {
        patch_u32(b, Section::Indices, slot, bn.t("xb"))
    });
}

#[test]
fn writes_read_only() {
    let (n, blob) = int8();
    let (conv, dw) = (n.o("conv"), n.o("dw"));
    let (w1, x) = (n.t("w1"), n.t("x"));
    let conv_out = io_slot(blob.as_bytes(), conv, 5);
    rejects(&blob, Error::WritesReadOnly { op: conv as u32, tensor: w1 }, |b| {
        patch_u32(b, Section::Indices, conv_out, w1)
    });
    let dw_out = io_slot(blob.as_bytes(), dw, 5);
    rejects(&blob, Error::WritesReadOnly { op: dw as u32, tensor: x }, |b| {
        patch_u32(b, Section::Indices, dw_out, x)
    });
}

#[test]
fn multiple_writers() {
    let (n, blob) = int8();
    let (mp, c1) = (n.o("maxpool"), n.t("c1"));
    let out = io_slot(blob.as_bytes(), mp, 1);
    rejects(&blob, Error::MultipleWriters { op: mp as u32, tensor: c1 }, |b| {
        patch_u32(b, Section::Indices, out, c1)
    });
    // Writing another op's scratch.
    let scratch = n.t("scratch");
    rejects(&blob, Error::MultipleWriters { op: mp as u32, tensor: scratch }, |b| {
        patch_u32(b, Section::Indices, out, scratch)
    });
    // One op listing the same output twice.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[4], None);
    let y = b.activation(DType::F32, &[4], None);
    b.op(OpCode::Reshape, &[x], &[y, y], &NoParams {});
    b.output(y);
    let blob = AlignedBlob::from_bytes(&b.write_unchecked().unwrap().0);
    assert_eq!(parse(blob.as_bytes()), Err(Error::MultipleWriters { op: 0, tensor: y.0 }));
}

#[test]
fn read_before_write() {
    let (n, blob) = int8();
    let (conv, d1, p1) = (n.o("conv"), n.t("d1"), n.t("p1"));
    let slot = io_slot(blob.as_bytes(), conv, 0);
    rejects(&blob, Error::ReadBeforeWrite { op: conv as u32, tensor: d1 }, |b| {
        patch_u32(b, Section::Indices, slot, d1)
    });
    rejects(&blob, Error::ReadBeforeWrite { op: conv as u32, tensor: p1 }, |b| {
        patch_u32(b, Section::Indices, slot, p1)
    });
    // An activation reading itself through another op's output written at the same step is
    // the in-place rule; one written at a later step is this one (pad reads avgpool's output).
    let (pad, ap) = (n.o("pad"), n.t("ap"));
    let slot = io_slot(blob.as_bytes(), pad, 0);
    rejects(&blob, Error::ReadBeforeWrite { op: pad as u32, tensor: ap }, |b| {
        patch_u32(b, Section::Indices, slot, ap)
    });
}

#[test]
fn cycle_is_rejected() {
    // conv made to read dw's output while dw reads conv's output: a cycle. The first op in
    // the list reads a tensor that no earlier op wrote.
    let (n, blob) = int8();
    let (conv, d1) = (n.o("conv"), n.t("d1"));
    let conv_in = io_slot(blob.as_bytes(), conv, 0);
    rejects(&blob, Error::ReadBeforeWrite { op: conv as u32, tensor: d1 }, |b| {
        patch_u32(b, Section::Indices, conv_in, d1)
    });
    // Two-op cycle in a graph of two Reshapes: t1 = R(t2), t2 = R(t1), with lifetimes patched
    // to look plausible.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[4], None);
    let t1 = b.activation(DType::F32, &[4], None);
    let t2 = b.activation(DType::F32, &[4], None);
    b.op(OpCode::Reshape, &[x], &[t1], &NoParams {});
    b.op(OpCode::Reshape, &[t1], &[t2], &NoParams {});
    b.output(t2);
    let blob = b.finish().unwrap();
    rejects(&blob, Error::ReadBeforeWrite { op: 0, tensor: t2.0 }, |b| {
        patch_u32(b, Section::Indices, 0, t2.0);
        patch_tensor(b, t2.0 as usize, |r| r.first = 1);
    });
}

#[test]
fn read_after_lifetime() {
    let (n, blob) = int8();
    let (dw, c1) = (n.o("dw"), n.t("c1"));
    rejects(&blob, Error::ReadAfterLifetime { op: dw as u32, tensor: c1 }, |b| {
        patch_tensor(b, c1 as usize, |r| r.last = 1)
    });
    // avgpool reading p1, whose lifetime ended at the pad op.
    let (ap_op, p1) = (n.o("avgpool"), n.t("p1"));
    let slot = io_slot(blob.as_bytes(), ap_op, 0);
    rejects(&blob, Error::ReadAfterLifetime { op: ap_op as u32, tensor: p1 }, |b| {
        patch_u32(b, Section::Indices, slot, p1)
    });
    // A graph input (live [0, 1]) read by the second op.
    let x = n.t("x");
    let slot = io_slot(blob.as_bytes(), dw, 0);
    rejects(&blob, Error::ReadAfterLifetime { op: dw as u32, tensor: x }, |b| {
        patch_u32(b, Section::Indices, slot, x)
    });
}

#[test]
fn in_place() {
    let (n, blob) = int8();
    // maxpool reading its own output.
    let (mp, p1) = (n.o("maxpool"), n.t("p1"));
    let slot = io_slot(blob.as_bytes(), mp, 0);
    rejects(&blob, Error::InPlace { op: mp as u32, tensor: p1 }, |b| {
        patch_u32(b, Section::Indices, slot, p1)
    });
    // conv reading its own scratch.
    let (conv, scratch) = (n.o("conv"), n.t("scratch"));
    let slot = io_slot(blob.as_bytes(), conv, 0);
    rejects(&blob, Error::InPlace { op: conv as u32, tensor: scratch }, |b| {
        patch_u32(b, Section::Indices, slot, scratch)
    });
    // Writing an input that another op wrote is caught as a second writer first.
    let (dw, c1) = (n.o("dw"), n.t("c1"));
    let out = io_slot(blob.as_bytes(), dw, 5);
    rejects(&blob, Error::MultipleWriters { op: dw as u32, tensor: c1 }, |b| {
        patch_u32(b, Section::Indices, out, c1)
    });
}

#[test]
fn bad_scratch() {
    let (n, blob) = int8();
    let (conv, dw) = (n.o("conv"), n.o("dw"));
    for t in ["c1", "w3", "y", "d1"] {
        let t = n.t(t);
        rejects(&blob, Error::BadScratch { op: conv as u32 }, |b| patch_op(b, conv, |r| r.scratch = t));
    }
    // The op's own input as scratch is the in-place rule.
    let x = n.t("x");
    rejects(&blob, Error::InPlace { op: conv as u32, tensor: x }, |b| patch_op(b, conv, |r| r.scratch = x));
    // A graph input that the op does not read.
    let (c, cblob) = concat();
    let (lut, a) = (c.o("lut"), c.t("a"));
    rejects(&cblob, Error::BadScratch { op: lut as u32 }, |b| patch_op(b, lut, |r| r.scratch = a));
    // Another op's scratch.
    let scratch = n.t("scratch");
    rejects(&blob, Error::BadScratch { op: dw as u32 }, |b| patch_op(b, dw, |r| r.scratch = scratch));
    // The scratch living longer than its op.
    rejects(&blob, Error::BadScratch { op: conv as u32 }, |b| {
        patch_tensor(b, scratch as usize, |r| r.last = 2)
    });
    // An op's own (dead) output doubling as its scratch.
    let mut b = Builder::new();
    let x = b.input(DType::F32, &[4], None);
    let y = b.activation(DType::F32, &[4], None);
    let dead = b.activation(DType::F32, &[4], None);
    let z = b.activation(DType::F32, &[4], None);
    b.op(OpCode::Reshape, &[x], &[dead], &NoParams {});
    b.op(OpCode::Reshape, &[x], &[y], &NoParams {});
    b.op(OpCode::Reshape, &[y], &[z], &NoParams {});
    b.output(z);
    let blob = b.finish().unwrap();
    rejects(&blob, Error::BadScratch { op: 0 }, |b| patch_op(b, 0, |r| r.scratch = dead.0));
}

#[test]
fn no_writer() {
    // An activation nobody writes (not an input, not an op output).
    let mut n = concat_model();
    let orphan = n.act("orphan", DType::I8, &[16], Some(Quant::new(1.0, 0)));
    assert_eq!(parse(n.unchecked().as_bytes()), Err(Error::NoWriter { tensor: orphan.0 }));
    // A scratch tensor whose op no longer names it.
    let (n, blob) = int8();
    let scratch = n.t("scratch");
    rejects(&blob, Error::NoWriter { tensor: scratch }, |b| {
        patch_op(b, n.o("conv"), |r| r.scratch = NO_TENSOR)
    });
    // An activation claiming step 0 without being a graph input.
    rejects(&blob, Error::NoWriter { tensor: scratch }, |b| {
        patch_op(b, n.o("conv"), |r| r.scratch = NO_TENSOR);
        patch_tensor(b, scratch as usize, |r| r.first = 0);
    });
}

#[test]
fn live_overlap() {
    let (n, blob) = int8();
    let (x, scratch) = (n.t("x"), n.t("scratch"));
    // x [0, 1] and conv's scratch [1, 1] are live together at step 1.
    rejects(&blob, Error::LiveOverlap { a: x, b: scratch }, |b| {
        patch_tensor(b, scratch as usize, |r| r.offset = 0)
    });
    // A one-byte overlap is enough: x is 108 bytes at 0, move the scratch to 96.
    rejects(&blob, Error::LiveOverlap { a: x, b: scratch }, |b| {
        patch_tensor(b, scratch as usize, |r| r.offset = 96)
    });
    // Two graph inputs on the same bytes.
    let (c, cblob) = concat();
    let (a, bt) = (c.t("a"), c.t("b"));
    rejects(&cblob, Error::LiveOverlap { a, b: bt }, |b| patch_tensor(b, bt as usize, |r| r.offset = 0));
    // An op writing over its input (in place through the arena rather than the index list).
    let (s, l) = (c.t("s"), c.t("l"));
    let s_off = tensor_rec(cblob.as_bytes(), s).offset;
    rejects(&cblob, Error::LiveOverlap { a: s, b: l }, |b| patch_tensor(b, l as usize, |r| r.offset = s_off));
    // Sharing bytes is fine when the lifetimes do not meet: mn [6, 7] over l [2, 3].
    let mn = c.t("mn");
    let l_off = tensor_rec(cblob.as_bytes(), l).offset;
    accepts(&cblob, |b| patch_tensor(b, mn as usize, |r| r.offset = l_off));
    // … but not over c [3, 6], which it meets at step 6 (the Mean reads c).
    let c_off = tensor_rec(cblob.as_bytes(), c.t("c")).offset;
    rejects(&cblob, Error::LiveOverlap { a: c.t("c"), b: mn }, |b| {
        patch_tensor(b, mn as usize, |r| r.offset = c_off)
    });
    // Lifetimes meeting at a single step (a tensor's last read = the next one's write) do meet.
    let (f, fblob) = float();
    let (cf, rf) = (f.t("c"), f.t("r"));
    let c_off = tensor_rec(fblob.as_bytes(), cf).offset;
    rejects(&fblob, Error::LiveOverlap { a: cf, b: rf }, |b| {
        patch_tensor(b, rf as usize, |r| r.offset = c_off)
    });
}

// ---------------------------------------------------------------- errors themselves

fn all_errors() -> Vec<Error> {
    use Section::*;
    vec![
        Error::Truncated,
        Error::TrailingBytes,
        Error::BadMagic,
        Error::UnsupportedVersion { major: 2, minor: 7 },
        Error::BadChecksum,
        Error::BlobMisaligned,
        Error::BadHeader,
        Error::SectionOutOfBounds { section: Tensors },
        Error::SectionMisaligned { section: Data },
        Error::BadTensorType { tensor: 1 },
        Error::BadShape { tensor: 2 },
        Error::BadTensorSize { tensor: 3 },
        Error::ConstantOutOfBounds { tensor: 4 },
        Error::TensorMisaligned { tensor: 5 },
        Error::ActivationOutOfArena { tensor: 6 },
        Error::BadQuantization { tensor: 7 },
        Error::BadLifetime { tensor: 8 },
        Error::IoIndexOutOfRange,
        Error::BadIo { tensor: 9 },
        Error::EmptyGraph,
        Error::OutputNeverWritten { tensor: 10 },
        Error::UnknownOpcode { op: 11, opcode: 0xffff },
        Error::BadArity { op: 12 },
        Error::TensorIndexOutOfRange { op: 13 },
        Error::BadParamsLength { op: 14 },
        Error::BadParams { op: 15 },
        Error::DtypeMismatch { op: 16 },
        Error::ShapeMismatch { op: 17 },
        Error::QuantMismatch { op: 18 },
        Error::NotConstant { op: 19 },
        Error::WritesReadOnly { op: 20, tensor: 21 },
        Error::MultipleWriters { op: 22, tensor: 23 },
        Error::ReadBeforeWrite { op: 24, tensor: 25 },
        Error::ReadAfterLifetime { op: 26, tensor: 27 },
        Error::InPlace { op: 28, tensor: 29 },
        Error::BadScratch { op: 30 },
        Error::NoWriter { tensor: 31 },
        Error::LiveOverlap { a: 32, b: u32::MAX },
    ]
}

#[test]
fn error_codes_are_distinct_negative_and_grouped() {
    let errors = all_errors();
    let mut codes: Vec<i32> = errors.iter().map(Error::code).collect();
    assert!(codes.iter().all(|&c| c < 0));
    // Classes: −1xx blob, −2xx tensor, −3xx graph I/O, −4xx op, −5xx arena.
    assert!(codes.iter().all(|&c| (-599..=-101).contains(&c)));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len(), "codes are distinct");
    // The codes are part of the C ABI: pin a few.
    assert_eq!(Error::Truncated.code(), -101);
    assert_eq!(Error::BadTensorType { tensor: 0 }.code(), -201);
    assert_eq!(Error::IoIndexOutOfRange.code(), -301);
    assert_eq!(Error::UnknownOpcode { op: 0, opcode: 0 }.code(), -401);
    assert_eq!(Error::BadScratch { op: 0 }.code(), -415);
    assert_eq!(Error::LiveOverlap { a: 0, b: 0 }.code(), -502);
    // The payload does not change the code.
    assert_eq!(Error::BadShape { tensor: 0 }.code(), Error::BadShape { tensor: u32::MAX }.code());
}

#[test]
fn error_display_never_panics_and_names_the_culprit() {
    let mut messages = Vec::new();
    for e in all_errors() {
        let s = format!("{e}");
        assert!(s.starts_with(e.message()), "{s}");
        assert!(!e.message().is_empty());
        let _ = format!("{e:?}");
        let _: &dyn std::error::Error = &e;
        messages.push(e.message());
    }
    messages.sort_unstable();
    messages.dedup();
    assert_eq!(messages.len(), all_errors().len(), "messages are distinct");
    assert_eq!(
        format!("{}", Error::UnsupportedVersion { major: 2, minor: 7 }),
        "unsupported blob format version (2.7)"
    );
    assert_eq!(
        format!("{}", Error::SectionMisaligned { section: Section::Data }),
        "section is not 16-byte aligned (section data)"
    );
    assert_eq!(format!("{}", Error::BadShape { tensor: 2 }), "tensor has an invalid shape (tensor 2)");
    assert_eq!(
        format!("{}", Error::InPlace { op: 28, tensor: 29 }),
        "op writes one of its own inputs (op 28, tensor 29)"
    );
    assert_eq!(
        format!("{}", Error::LiveOverlap { a: 1, b: 2 }),
        "two live tensors overlap in the arena (tensors 1 and 2)"
    );
    assert_eq!(format!("{}", Error::UnknownOpcode { op: 3, opcode: 99 }), "unknown opcode (op 3: opcode 99)");
    assert_eq!(format!("{}", Error::Truncated), "blob is truncated");
}

#[test]
fn every_rejection_is_reported_by_the_builder_too() {
    // The builder never hands out a blob the loader would reject; it returns the loader's error.
    let mut n = concat_model();
    let orphan = n.act("orphan", DType::I8, &[16], Some(Quant::new(1.0, 0)));
    assert_eq!(
        n.b.finish().unwrap_err(),
        doppler_model_format::writer::BuildError::Invalid(Error::NoWriter { tensor: orphan.0 })
    );
    // And Model::parse on the builder's output agrees with finish().
    let (_, blob) = binary();
    assert!(Model::parse(blob.as_bytes()).is_ok());
}

#[test]
fn bad_params_reserved_fields() {
    let (n, blob) = int8();
    for op in [n.o("conv"), n.o("maxpool")] {
        rejects(&blob, Error::BadParams { op: op as u32 }, |b| {
            patch_params::<WindowParams>(b, op, |p| p.reserved = 1)
        });
    }
    let fc = n.o("fc");
    rejects(&blob, Error::BadParams { op: fc as u32 }, |b| {
        patch_params::<FullyConnectedParams>(b, fc, |p| p.reserved[2] = 7)
    });
    let pad = n.o("pad");
    rejects(&blob, Error::BadParams { op: pad as u32 }, |b| {
        patch_params::<PadParams>(b, pad, |p| p.reserved = 1)
    });
    rejects(&blob, Error::BadParams { op: pad as u32 }, |b| {
        patch_params::<PadParams>(b, pad, |p| p.value_f32 = f32::NAN)
    });
    let (c, cblob) = concat();
    let mean = c.o("mean");
    // Mean's last field is its mode: 0 (divide) or 1 (folded), nothing else.
    rejects(&cblob, Error::BadParams { op: mean as u32 }, |b| {
        patch_params::<MeanParams>(b, mean, |p| p.mode = 2)
    });
    accepts(&cblob, |b| patch_params::<MeanParams>(b, mean, |p| p.mode = MEAN_FOLDED));
    let (f, fblob) = float();
    let (resize, inorm) = (f.o("resize"), f.o("inorm"));
    rejects(&fblob, Error::BadParams { op: resize as u32 }, |b| {
        patch_params::<ResizeParams>(b, resize, |p| p.reserved[1] = 1)
    });
    rejects(&fblob, Error::BadParams { op: inorm as u32 }, |b| {
        patch_params::<InstanceNormParams>(b, inorm, |p| p.reserved[0] = 1)
    });
}

/// The 1.1 opcodes (Tanh, TransposeConv2d) need a blob that declares minor ≥ 1: the writer
/// declares 1 for such a blob (and 0 for every other, so 1.0 readers keep reading them), and the
/// same blob relabelled 1.0 has an unknown opcode — what a 1.0 reader would say.
#[test]
fn opcodes_of_minor_1_need_version_1_1() {
    let blob = transpose_model().blob();
    assert_eq!(Model::parse(blob.as_bytes()).unwrap().header().version_minor, 1);
    let (_, plain) = int8();
    assert_eq!(Model::parse(plain.as_bytes()).unwrap().header().version_minor, 0);
    let op = (0..Model::parse(blob.as_bytes()).unwrap().op_count() as u32)
        .find(|&i| Model::parse(blob.as_bytes()).unwrap().op(i).unwrap().opcode.since_minor() == 1)
        .unwrap();
    rejects(&blob, Error::UnknownOpcode { op, opcode: OpCode::TransposeConv2d as u16 }, |b| {
        patch_header(b, |h| h.version_minor = 0)
    });
}
