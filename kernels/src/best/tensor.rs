//! Best available data-movement kernels (see the module docs of `best`).

pub use crate::reference::tensor::*;

#[cfg(not(feature = "force-reference"))]
pub use crate::portable::tensor::{pad, pad_reflect};
