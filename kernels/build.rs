//! Decides whether the 32-bit NEON kernels are built.
//!
//! On 32-bit ARM, stable Rust exposes no `target_feature` to `cfg`, so `cfg(target_arch = "arm")`
//! cannot tell a Cortex-A9 (NEON) from a Cortex-M4 (no NEON). The target triple can: A-profile
//! `armv7*` targets (not the R-profile `armv7r`) and `thumbv7neon*` get `cfg(doppler_neon32)`; M-profile `thumbv6m`/`thumbv7m`/
//! `thumbv7em`/`thumbv8m` targets do not.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(doppler_neon32)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    let a_profile = target.starts_with("armv7") && !target.starts_with("armv7r");
    if a_profile || target.starts_with("thumbv7neon") {
        println!("cargo::rustc-cfg=doppler_neon32");
    }
}
