//! Self-test guest for the instruction-counting plugin, run under qemu-arm / qemu-aarch64 by
//! `qemu-tests/selftest.sh`. Prints `expect window K: ...` lines as it goes (so a crash shows
//! how far it got); the plugin writes the counts. `doppler-qemu-selftest neon` runs only the
//! NEON case.

mod cases;

use std::io::Write as _;

/// `fmt::Write` to stdout, flushed at every newline.
struct Stdout;

impl std::fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut out = std::io::stdout().lock();
        out.write_all(s.as_bytes()).and_then(|()| out.flush()).map_err(|_| std::fmt::Error)
    }
}

fn main() {
    let result = if std::env::args().nth(1).as_deref() == Some("neon") {
        cases::run_neon_only(&mut Stdout)
    } else {
        cases::run_all(&mut Stdout)
    };
    result.expect("writing to stdout");
}
