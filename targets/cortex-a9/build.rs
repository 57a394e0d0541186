//! Puts this directory on the linker's search path so `-Tlink.x` (.cargo/config.toml) finds it.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo::rustc-link-search={dir}");
    println!("cargo::rerun-if-changed=link.x");
}
