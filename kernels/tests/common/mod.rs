//! Helpers shared by the kernel integration tests (`mod common;` in each test crate).

pub mod binary;
