//! `.npy` files (NumPy's format, read and written with `npyz`).
//!
//! Doppler tensors map to three NumPy dtypes: int8 → `i1`, float32 → `<f4`, and bit-packed
//! tensors → their little-endian `u32` words (`<u4`), with the last dimension replaced by the
//! number of words (`ceil(channels / 32)`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use npyz::{TypeChar, WriterBuilder};

use crate::{bail, fmt_dims, Error, Result};

/// The elements of an array, in C order.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    I8(Vec<i8>),
    F32(Vec<f32>),
    U32(Vec<u32>),
}

/// The three `.npy` element types Doppler reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    I8,
    F32,
    U32,
}

impl Kind {
    /// `int8 (i1)`, as shown in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::I8 => "int8 (npy 'i1')",
            Kind::F32 => "float32 (npy 'f4')",
            Kind::U32 => "uint32 bit-packed words (npy 'u4')",
        }
    }
}

/// An n-dimensional array as stored in a `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<u64>,
    pub data: Data,
}

impl Array {
    pub fn i8(shape: &[usize], data: Vec<i8>) -> Array {
        Array { shape: shape.iter().map(|&d| d as u64).collect(), data: Data::I8(data) }
    }

    pub fn f32(shape: &[usize], data: Vec<f32>) -> Array {
        Array { shape: shape.iter().map(|&d| d as u64).collect(), data: Data::F32(data) }
    }

    pub fn u32(shape: &[usize], data: Vec<u32>) -> Array {
        Array { shape: shape.iter().map(|&d| d as u64).collect(), data: Data::U32(data) }
    }

    pub fn kind(&self) -> Kind {
        match self.data {
            Data::I8(_) => Kind::I8,
            Data::F32(_) => Kind::F32,
            Data::U32(_) => Kind::U32,
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            Data::I8(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `float32 (npy 'f4') [1, 10]`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.kind().describe(), fmt_dims(&self.shape))
    }

    /// The raw little-endian element bytes (what the tensor holds in the arena).
    pub fn le_bytes(&self) -> Vec<u8> {
        match &self.data {
            Data::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Reads a `.npy` file; `what` names it in errors (usually its path).
pub fn read(path: &Path) -> Result<Array> {
    let file = File::open(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    from_reader(BufReader::new(file), &path.display().to_string())
}

/// Parses a `.npy` file held in memory.
pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Array> {
    from_reader(bytes, what)
}

fn from_reader<R: Read>(reader: R, what: &str) -> Result<Array> {
    let npy =
        npyz::NpyFile::new(reader).map_err(|e| Error(format!("{what}: not a valid .npy file ({e})")))?;
    let shape = npy.shape().to_vec();
    if npy.order() == npyz::Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        bail!("{what}: Fortran-ordered arrays are not supported (save it with C order)");
    }
    let dtype = npy.dtype();
    let kind = match &dtype {
        npyz::DType::Plain(ts) => match (ts.type_char(), ts.size_field()) {
            (TypeChar::Int, 1) => Some(Kind::I8),
            (TypeChar::Float, 4) => Some(Kind::F32),
            (TypeChar::Uint, 4) => Some(Kind::U32),
            _ => None,
        },
        _ => None,
    };
    let Some(kind) = kind else {
        bail!(
            "{what}: dtype '{}' is not supported (Doppler reads int8 'i1', float32 'f4' and \
             bit-packed uint32 'u4')",
            dtype.descr().trim_matches('\'')
        );
    };
    let truncated = |e: std::io::Error| Error(format!("{what}: cannot read the array data ({e})"));
    let data = match kind {
        Kind::I8 => Data::I8(npy.into_vec::<i8>().map_err(truncated)?),
        Kind::F32 => Data::F32(npy.into_vec::<f32>().map_err(truncated)?),
        Kind::U32 => Data::U32(npy.into_vec::<u32>().map_err(truncated)?),
    };
    Ok(Array { shape, data })
}

/// Serializes `a` as a version-1 `.npy` file (C order, little-endian).
pub fn to_bytes(a: &Array) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_to(&mut out, a).map_err(|e| Error(format!("cannot encode .npy: {e}")))?;
    Ok(out)
}

/// Writes `a` to `path`.
pub fn write(path: &Path, a: &Array) -> Result<()> {
    let file = File::create(path).map_err(|e| Error(format!("cannot create {}: {e}", path.display())))?;
    let mut w = BufWriter::new(file);
    write_to(&mut w, a)
        .and_then(|_| w.flush())
        .map_err(|e| Error(format!("cannot write {}: {e}", path.display())))
}

fn write_to<W: Write>(w: W, a: &Array) -> std::io::Result<()> {
    match &a.data {
        Data::I8(v) => write_typed(w, &a.shape, v),
        Data::F32(v) => write_typed(w, &a.shape, v),
        Data::U32(v) => write_typed(w, &a.shape, v),
    }
}

fn write_typed<W: Write, T: npyz::AutoSerialize + Copy>(
    w: W,
    shape: &[u64],
    data: &[T],
) -> std::io::Result<()> {
    let mut writer = npyz::WriteOptions::new().default_dtype().shape(shape).writer(w).begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_each_kind() {
        for a in [
            Array::i8(&[1, 2, 3], vec![-128, -1, 0, 1, 2, 127]),
            Array::f32(&[2, 2], vec![0.5, -1.25, f32::INFINITY, 3.0]),
            Array::u32(&[1, 4, 1], vec![0, 1, u32::MAX, 0x8000_0000]),
        ] {
            let bytes = to_bytes(&a).unwrap();
            assert_eq!(&bytes[..6], b"\x93NUMPY");
            assert_eq!(from_bytes(&bytes, "x").unwrap(), a);
        }
    }

    #[test]
    fn rejects_garbage_with_a_message() {
        let e = from_bytes(b"DPLR not numpy", "x.npy").unwrap_err();
        assert!(e.0.starts_with("x.npy: not a valid .npy file"), "{e}");
    }
}
