//! The Doppler model blob: one contiguous little-endian byte string that holds a frozen graph,
//! its constants, and its arena plan, readable in place (flash, ROM, `include_bytes!`, mmap).
//!
//! * [`Model::parse`] validates a blob completely and returns a zero-copy view (no_std, no alloc).
//! * With the `std` feature, [`writer::Builder`] builds blobs and plans their arena offline.
//!
//! `docs/FORMAT.md` in the repository is the specification; the types in [`layout`] and [`ops`]
//! are its on-disk records.
#![no_std]
#![forbid(unsafe_code)]
// Panic-freedom by construction (docs/SECURITY.md): no panicking operation in the no_std paths.
#![cfg_attr(
    not(test),
    deny(
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

#[cfg(target_endian = "big")]
compile_error!("Doppler blobs are little-endian and read in place: big-endian targets are not supported");

#[cfg(feature = "std")]
extern crate std;

pub mod error;
pub mod layout;
mod model;
mod op_rules;
pub mod ops;
mod validate;

#[cfg(feature = "std")]
// Host-side tools (std only, never on a device): a malformed *builder* call is a programming
// error in a test or a converter, so the writer and planner may index and panic.
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub mod plan;
#[cfg(feature = "std")]
// Host-side tools (std only, never on a device): a malformed *builder* call is a programming
// error in a test or a converter, so the writer and planner may index and panic.
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub mod writer;

pub use error::Error;
pub use layout::{DType, Kind, ALIGN};
pub use model::{Model, OpInfo, SectionSizes, TensorInfo};
pub use op_rules::SHIFT_RANGE;
pub use ops::OpCode;
