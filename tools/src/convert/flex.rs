//! A bounds-checked reader for the flexbuffer maps that Larq Compute Engine stores as custom-op
//! options.
//!
//! LCE writes each custom op's options as a flexbuffer whose root is a map from keys to scalars
//! (`channels_in`, `padding`, `stride_height`, `fused_activation_function`, …). The `flexbuffers`
//! crate (25.12) trusts nested offsets and panics on a malformed buffer (fuzz finding 1 in
//! docs/SECURITY.md), so the converter reads this one shape itself: every offset, width and length
//! is checked against the buffer with checked arithmetic and `.get()`, and anything out of place is
//! a [`FlexError`], never a panic. The `flexbuffers` crate stays a dev-dependency: the tests build
//! buffers with its `Builder` and compare this reader with its `Reader` on well-formed input.
//!
//! Layout (FlexBuffers internals, as written by every FlexBuffers builder):
//!
//! - the buffer ends with the root: its value (`W` bytes), its packed type byte, then `W` itself;
//! - a packed type is `type << 2 | w`, `w` selecting a byte width of 1, 2, 4 or 8 for what an
//!   offset points at (inline scalars are read with the width of their parent);
//! - an offset is an unsigned value stored at position `p`, pointing at `p - value`;
//! - a map at `m` with element width `bw` has, before `m`, the offset to its keys vector (at
//!   `m - 3 bw`), the keys vector's byte width (at `m - 2 bw`) and its length (at `m - bw`); `len`
//!   values of `bw` bytes start at `m`, followed by `len` packed type bytes;
//! - the keys vector is a typed vector of key offsets (length just before it), each pointing at a
//!   NUL-terminated string.
#![deny(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::collections::HashMap;
use std::fmt;

// FlexBuffers type codes (the upper six bits of a packed type byte).
const T_INT: u8 = 1;
const T_UINT: u8 = 2;
const T_INDIRECT_INT: u8 = 6;
const T_INDIRECT_UINT: u8 = 7;
const T_MAP: u8 = 9;
const T_BOOL: u8 = 26;
/// Longest key accepted (LCE's are at most ~30 bytes).
const MAX_KEY: usize = 255;

/// Why a flexbuffer was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlexError {
    /// Shorter than the 3-byte minimum (a 1-byte root, its type and its width).
    TooShort,
    /// A byte width that is not 1, 2, 4 or 8.
    BadWidth(u64),
    /// The root is not a map (its FlexBuffers type code).
    NotAMap(u8),
    /// An offset, length or string that leaves the buffer.
    OutOfBounds(&'static str),
    /// The keys vector and the values have different lengths.
    KeyCount { keys: u64, values: u64 },
    /// A key that is not UTF-8.
    KeyNotUtf8,
    /// A key without a NUL within `MAX_KEY` bytes (or before the end of the buffer).
    KeyTooLong,
    /// An unsigned value that does not fit in `i64`.
    TooLarge(String),
}

impl fmt::Display for FlexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => write!(f, "flexbuffer shorter than 3 bytes"),
            Self::BadWidth(w) => write!(f, "flexbuffer byte width {w} (must be 1, 2, 4 or 8)"),
            Self::NotAMap(t) => write!(f, "flexbuffer root has type {t}, not a map"),
            Self::OutOfBounds(what) => write!(f, "flexbuffer {what} out of bounds"),
            Self::KeyCount { keys, values } => {
                write!(f, "flexbuffer map has {keys} keys but {values} values")
            }
            Self::KeyNotUtf8 => write!(f, "flexbuffer map key is not UTF-8"),
            Self::KeyTooLong => {
                write!(f, "flexbuffer map key is unterminated or longer than {MAX_KEY} bytes")
            }
            Self::TooLarge(k) => write!(f, "flexbuffer value of `{k}` does not fit in i64"),
        }
    }
}

type Res<T> = std::result::Result<T, FlexError>;

fn width(code: u64) -> Res<usize> {
    match code {
        1 => Ok(1),
        2 => Ok(2),
        4 => Ok(4),
        8 => Ok(8),
        w => Err(FlexError::BadWidth(w)),
    }
}

/// The byte width selected by the low two bits of a packed type.
fn child_width(packed: u8) -> usize {
    match packed & 3 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 8,
    }
}

struct Buf<'a>(&'a [u8]);

impl Buf<'_> {
    fn bytes(&self, at: usize, len: usize, what: &'static str) -> Res<&[u8]> {
        let end = at.checked_add(len).ok_or(FlexError::OutOfBounds(what))?;
        self.0.get(at..end).ok_or(FlexError::OutOfBounds(what))
    }

    /// A little-endian unsigned value of `width` (1, 2, 4 or 8) bytes at `at`.
    fn uint(&self, at: usize, width: usize, what: &'static str) -> Res<u64> {
        let src = self.bytes(at, width, what)?;
        let mut le = [0u8; 8];
        le.get_mut(..src.len()).ok_or(FlexError::OutOfBounds(what))?.copy_from_slice(src);
        Ok(u64::from_le_bytes(le))
    }

    /// A little-endian signed value of `width` bytes at `at`, sign-extended.
    fn int(&self, at: usize, width: usize, what: &'static str) -> Res<i64> {
        let v = self.uint(at, width, what)?;
        Ok(match width {
            1 => i64::from(v as u8 as i8),
            2 => i64::from(v as u16 as i16),
            4 => i64::from(v as u32 as i32),
            _ => v as i64,
        })
    }

    /// Follows the offset of `width` bytes stored at `at` (it points backwards).
    fn indirect(&self, at: usize, width: usize, what: &'static str) -> Res<usize> {
        let off = self.uint(at, width, what)?;
        let off = usize::try_from(off).map_err(|_| FlexError::OutOfBounds(what))?;
        at.checked_sub(off).ok_or(FlexError::OutOfBounds(what))
    }

    /// `base - k * w`, checked.
    fn before(base: usize, k: usize, w: usize, what: &'static str) -> Res<usize> {
        k.checked_mul(w).and_then(|d| base.checked_sub(d)).ok_or(FlexError::OutOfBounds(what))
    }

    /// `base + k * w`, checked.
    fn after(base: usize, k: usize, w: usize, what: &'static str) -> Res<usize> {
        k.checked_mul(w).and_then(|d| base.checked_add(d)).ok_or(FlexError::OutOfBounds(what))
    }

    /// The NUL-terminated key at `at`, at most `MAX_KEY` bytes (so that many keys sharing one long
    /// string cannot make the scan quadratic in the buffer size).
    fn key(&self, at: usize) -> Res<&str> {
        let tail = self.0.get(at..).ok_or(FlexError::OutOfBounds("key"))?;
        let window = tail.get(..MAX_KEY.saturating_add(1)).unwrap_or(tail);
        let len = window.iter().position(|&b| b == 0).ok_or(FlexError::KeyTooLong)?;
        let bytes = tail.get(..len).ok_or(FlexError::OutOfBounds("key"))?;
        std::str::from_utf8(bytes).map_err(|_| FlexError::KeyNotUtf8)
    }
}

/// Reads a flexbuffer whose root is a map and returns its integer and boolean entries (inline or
/// indirect; booleans as 0 / 1). Entries of other types (floats, strings, vectors, …) are skipped,
/// as the LCE options this is for have none the converter uses. A later duplicate key wins.
pub(crate) fn int_map(raw: &[u8]) -> Res<HashMap<String, i64>> {
    let b = Buf(raw);
    let n = raw.len();
    // Root: [value: W bytes][packed type][W].
    let w_at = n.checked_sub(1).ok_or(FlexError::TooShort)?;
    let t_at = n.checked_sub(2).ok_or(FlexError::TooShort)?;
    let root_w = width(b.uint(w_at, 1, "root width")?)?;
    let root_t = b.uint(t_at, 1, "root type")? as u8;
    let root_at = t_at.checked_sub(root_w).ok_or(FlexError::TooShort)?;
    if root_t >> 2 != T_MAP {
        return Err(FlexError::NotAMap(root_t >> 2));
    }
    let bw = child_width(root_t);
    let map_at = b.indirect(root_at, root_w, "map offset")?;

    // Prefix: [keys offset][keys width][length] before the first value.
    let len_at = Buf::before(map_at, 1, bw, "map length")?;
    let len = b.uint(len_at, bw, "map length")?;
    let keys_field = Buf::before(map_at, 3, bw, "map keys")?;
    let keys_at = b.indirect(keys_field, bw, "map keys")?;
    let keys_w_at = keys_field.checked_add(bw).ok_or(FlexError::OutOfBounds("map keys"))?;
    let keys_w = width(b.uint(keys_w_at, bw, "keys width")?)?;
    let keys_len_at = Buf::before(keys_at, 1, keys_w, "keys length")?;
    let keys_len = b.uint(keys_len_at, keys_w, "keys length")?;
    if keys_len != len {
        return Err(FlexError::KeyCount { keys: keys_len, values: len });
    }
    // Values, then one packed type byte per value; the length cannot exceed the buffer.
    let len = usize::try_from(len).map_err(|_| FlexError::OutOfBounds("map values"))?;
    let types_at = Buf::after(map_at, len, bw, "map values")?;
    let types = b.bytes(types_at, len, "map value types")?;
    b.bytes(keys_at, len.checked_mul(keys_w).ok_or(FlexError::OutOfBounds("keys"))?, "keys")?;

    let mut out = HashMap::new();
    for (i, &packed) in types.iter().enumerate() {
        let key_at = b.indirect(Buf::after(keys_at, i, keys_w, "key")?, keys_w, "key")?;
        let key = b.key(key_at)?;
        let elem = Buf::after(map_at, i, bw, "map value")?;
        let unsigned = |v: u64| i64::try_from(v).map_err(|_| FlexError::TooLarge(key.to_string()));
        let value = match packed >> 2 {
            T_INT => b.int(elem, bw, "value")?,
            T_UINT => unsigned(b.uint(elem, bw, "value")?)?,
            T_BOOL => i64::from(b.uint(elem, bw, "value")? != 0),
            T_INDIRECT_INT => b.int(b.indirect(elem, bw, "value")?, child_width(packed), "value")?,
            T_INDIRECT_UINT => {
                unsigned(b.uint(b.indirect(elem, bw, "value")?, child_width(packed), "value")?)?
            }
            _ => continue,
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum V {
        I(i64),
        U(u64),
        B(bool),
        F(f64),
        S(String),
    }

    /// A map built by the `flexbuffers` crate (keys must be distinct: its builder panics otherwise).
    fn build(entries: &[(String, V)]) -> Vec<u8> {
        let mut b = flexbuffers::Builder::default();
        let mut m = b.start_map();
        for (k, v) in entries {
            match v {
                V::I(x) => m.push(k.as_str(), *x),
                V::U(x) => m.push(k.as_str(), *x),
                V::B(x) => m.push(k.as_str(), *x),
                V::F(x) => m.push(k.as_str(), *x),
                V::S(x) => m.push(k.as_str(), x.as_str()),
            }
        }
        m.end_map();
        b.view().to_vec()
    }

    /// The `flexbuffers` crate's reading of a well-formed map, restricted like [`int_map`].
    fn crate_map(raw: &[u8]) -> HashMap<String, i64> {
        let root = flexbuffers::Reader::get_root(raw).unwrap();
        let map = root.get_map().unwrap();
        let mut out = HashMap::new();
        for (k, v) in map.iter_keys().zip(map.iter_values()) {
            let t = v.flexbuffer_type();
            // `Reader::as_i64` maps every bool to 0 (the converter's old reading); take the bool.
            if t == flexbuffers::FlexBufferType::Bool {
                out.insert(k.to_string(), i64::from(v.as_bool()));
            } else if t.is_int() || t.is_uint() {
                out.insert(k.to_string(), v.as_i64());
            }
        }
        out
    }

    fn value() -> impl Strategy<Value = V> {
        prop_oneof![
            any::<i8>().prop_map(|x| V::I(x.into())),
            any::<i16>().prop_map(|x| V::I(x.into())),
            any::<i64>().prop_map(V::I),
            (0u64..=i64::MAX as u64).prop_map(V::U),
            any::<bool>().prop_map(V::B),
            any::<f64>().prop_map(V::F),
            "[a-z]{0,12}".prop_map(V::S),
        ]
    }

    #[test]
    fn lce_bconv_options_read_back() {
        let entries: Vec<(String, V)> =
            [("channels_in", 40), ("padding", 1), ("stride_height", -3), ("pad_values", 1)]
                .iter()
                .map(|&(k, v)| (k.to_string(), V::I(v)))
                .collect();
        let m = int_map(&build(&entries)).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m["channels_in"], 40);
        assert_eq!(m["stride_height"], -3);
    }

    #[test]
    fn regression_input_options_are_rejected_not_panicking() {
        // The exact custom options of fuzz/regressions/convert_tflite-flexbuffers-offset-oob.tflite
        // are exercised end to end in tests/convert_errors.rs; here: handmade corruptions.
        assert_eq!(int_map(&[]), Err(FlexError::TooShort));
        assert_eq!(int_map(&[0]), Err(FlexError::TooShort));
        assert_eq!(int_map(&[0xFF; 3]), Err(FlexError::BadWidth(0xFF)));
        // A root claiming to be a map whose offset points before the buffer.
        assert_eq!(int_map(&[200, T_MAP << 2, 1]), Err(FlexError::OutOfBounds("map offset")));
        // An int root.
        assert_eq!(int_map(&[5, T_INT << 2, 1]), Err(FlexError::NotAMap(T_INT)));
        // A key longer than MAX_KEY, then the same map with a short key.
        let long = "k".repeat(MAX_KEY + 1);
        let raw = build(&[(long, V::I(1))]);
        assert_eq!(int_map(&raw), Err(FlexError::KeyTooLong));
        let raw = build(&[("k".repeat(MAX_KEY), V::I(1))]);
        assert_eq!(int_map(&raw).unwrap().len(), 1);
    }

    proptest! {
        /// On well-formed maps this reader agrees with the `flexbuffers` crate.
        #[test]
        fn agrees_with_flexbuffers_crate(entries in prop::collection::btree_map("[a-z_]{1,16}", value(), 0..12)) {
            let raw = build(&entries.into_iter().collect::<Vec<_>>());
            prop_assert_eq!(int_map(&raw).unwrap(), crate_map(&raw));
        }

        /// Any corruption of a valid map is an error or a map, never a panic; and a truncated
        /// buffer never reads past its end (the reader only sees the truncated slice).
        #[test]
        fn corrupted_maps_never_panic(
            entries in prop::collection::btree_map("[a-z_]{1,16}", value(), 1..8),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut raw = build(&entries.into_iter().collect::<Vec<_>>());
            for (at, byte) in edits {
                let i = at.index(raw.len());
                raw[i] = byte;
            }
            let _ = int_map(&raw);
            let _ = int_map(&raw[cut.index(raw.len())..]);
            let _ = int_map(&raw[..cut.index(raw.len())]);
        }
    }
}
