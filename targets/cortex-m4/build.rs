//! Linker set-up: this directory on the search path (memory.x, included by cortex-m-rt's
//! link.x), and defmt's linker script when logging through defmt.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo::rustc-link-search={dir}");
    println!("cargo::rerun-if-changed=memory.x");
    if std::env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo::rustc-link-arg=-Tdefmt.x");
    }
}
