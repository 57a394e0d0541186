//! Best available `int8` kernels for this target (see the module docs of `best`).

pub use crate::reference::int8::*;
