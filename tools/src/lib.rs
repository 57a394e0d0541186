//! Host side of Doppler (std): the `doppler` CLI's building blocks and the example models.
//!
//! * [`npy`] — `.npy` files in and out (via `npyz`), checked against a tensor's dtype and shape.
//! * [`runner`] — load a blob into an aligned buffer, bind it to an exactly-sized arena, run it.
//! * [`inspect`] — the human-readable report of `doppler inspect`.
//! * [`examples`] — the three example models of `examples/models/`, built deterministically.
//!
//! Every fallible function returns [`Error`]: one line of text, ready to print after
//! `doppler: error: `.

pub mod convert;
pub mod examples;
pub mod inspect;
pub mod npy;
pub mod runner;
pub mod study;
pub mod style;
pub mod style_report;
mod table;

use std::fmt;

/// A one-line, user-facing error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Error {
        Error(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!("…", args)`: return an [`Error`] built with `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error(format!($($arg)*)))
    };
}

/// Formats `[1, 16, 16, 3]`.
pub fn fmt_dims<T: fmt::Display>(dims: &[T]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}
