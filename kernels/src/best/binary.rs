//! Best available `binary` kernels for this target (see the module docs of `best`).

pub use crate::reference::binary::*;
