//! Best available `f32` kernels for this target (see the module docs of `best`).

pub use crate::reference::f32::*;
