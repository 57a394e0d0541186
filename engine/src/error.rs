//! Errors of binding and running a model.

/// Why the interpreter refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The blob broke a format rule (see `doppler_model_format::Error`).
    Model(doppler_model_format::Error),
    /// The arena is shorter than the blob's planned size.
    ArenaTooSmall { needed: usize, got: usize },
    /// The arena does not start on a 16-byte boundary.
    ArenaMisaligned,
    /// No graph input/output with that index.
    IndexOutOfRange,
    /// The requested element type does not match the tensor's dtype.
    WrongDtype,
    /// The data given for an input has the wrong number of elements.
    WrongSize { expected: usize, got: usize },
    /// An internal invariant failed. Validation makes this unreachable; it exists so that even a
    /// bug in the validator yields an error instead of a panic.
    Internal,
}

impl Error {
    /// Stable status code: the format's codes (−1xx…−5xx), or −6xx for these.
    pub const fn code(&self) -> i32 {
        match self {
            Error::Model(e) => e.code(),
            Error::ArenaTooSmall { .. } => -601,
            Error::ArenaMisaligned => -602,
            Error::IndexOutOfRange => -603,
            Error::WrongDtype => -604,
            Error::WrongSize { .. } => -605,
            Error::Internal => -699,
        }
    }

    pub const fn message(&self) -> &'static str {
        match self {
            Error::Model(e) => e.message(),
            Error::ArenaTooSmall { .. } => "arena is smaller than the model needs",
            Error::ArenaMisaligned => "arena is not 16-byte aligned",
            Error::IndexOutOfRange => "input/output index out of range",
            Error::WrongDtype => "element type does not match the tensor dtype",
            Error::WrongSize { .. } => "input data has the wrong number of elements",
            Error::Internal => "internal error (validator invariant broken)",
        }
    }
}

impl From<doppler_model_format::Error> for Error {
    fn from(e: doppler_model_format::Error) -> Error {
        Error::Model(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Model(e) => e.fmt(f),
            Error::ArenaTooSmall { needed, got } => {
                write!(f, "{} (needs {needed} bytes, got {got})", self.message())
            }
            Error::WrongSize { expected, got } => {
                write!(f, "{} (expected {expected}, got {got})", self.message())
            }
            _ => f.write_str(self.message()),
        }
    }
}
