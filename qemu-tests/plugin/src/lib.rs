//! `doppler-qemu-count`: a QEMU TCG plugin (plugin API version 1, as spoken by QEMU 7.2) that
//! counts guest instructions retired between two marker functions.
//!
//! How it counts (see ../README.md for the full story):
//! * every translated instruction gets an *inline* `counter += 1` (no helper call: fast);
//! * the first instruction of the start marker and of the end marker additionally get an
//!   exec *callback*, which snapshots the counter. QEMU runs an instruction's callbacks before
//!   its inline ops, so a window counts the instructions in
//!   `[first insn of start marker, first insn of end marker)`.
//!
//! Pure logic (arguments, ELF reading, window bookkeeping, address resolution) lives in safe
//! modules tested on the host; the FFI surface is `ffi.rs`, compiled only into the cdylib.

pub mod args;
pub mod elf;
pub mod windows;

#[cfg(not(test))]
mod ffi;

use args::{Config, Loc};

/// Runtime addresses of the two markers' first instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Markers {
    pub start: u64,
    pub end: u64,
    pub bias: u64,
}

/// What the running QEMU tells us, for [`resolve`].
pub struct Guest<'a> {
    /// Bytes of the ELF named by `elf=` or, under qemu-user, of the guest binary.
    pub elf: Option<&'a [u8]>,
    /// `qemu_plugin_start_code()` under qemu-user (runtime address of the lowest executable
    /// segment); `None` under qemu-system-*.
    pub start_code: Option<u64>,
}

/// Turns the configured markers into runtime instruction addresses.
///
/// * Symbols are looked up in the ELF. Numbers are ELF (link-time) addresses.
/// * Bias: `bias=` if given; else, for a PIE (`ET_DYN`) under qemu-user,
///   `start_code - lowest executable p_vaddr`; else 0 (non-PIE, or system mode where `-kernel`
///   loads the ELF at its link addresses).
/// * Bit 0 is cleared: on 32-bit ARM a Thumb function's symbol value is odd, but its
///   instructions' addresses are even. (All ARM/AArch64 instructions are at even addresses, so
///   this is harmless elsewhere.)
pub fn resolve(cfg: &Config, guest: &Guest) -> Result<Markers, String> {
    let elf = guest.elf.map(elf::Elf::parse).transpose()?;
    let lookup = |loc: &Loc| -> Result<u64, String> {
        match loc {
            Loc::Addr(a) => Ok(*a),
            Loc::Symbol(name) => {
                let e = elf.as_ref().ok_or_else(|| {
                    format!("marker `{name}` is a symbol but there is no ELF to look it up in (pass elf=PATH or a 0x address)")
                })?;
                e.symbol(name)?.ok_or_else(|| {
                    format!("symbol `{name}` not found in the ELF (stripped? markers not linked in?)")
                })
            }
        }
    };
    let (start, end) = (lookup(&cfg.start)?, lookup(&cfg.end)?);
    let bias = match (cfg.bias, &elf, guest.start_code) {
        (Some(b), _, _) => b,
        (None, Some(e), Some(code)) if e.e_type()? == elf::ET_DYN => code.wrapping_sub(e.min_exec_vaddr()?),
        _ => 0,
    };
    let m = Markers { start: start.wrapping_add(bias) & !1, end: end.wrapping_add(bias) & !1, bias };
    if m.start == m.end {
        return Err(format!(
            "start and end marker are at the same address {:#x} (merged functions?)",
            m.start
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn doppler_resolve_test_a() -> u32 {
        core::hint::black_box(1)
    }
    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn doppler_resolve_test_b() -> u32 {
        core::hint::black_box(2)
    }

    #[test]
    fn resolves_symbols_of_own_pie_to_runtime_addresses() {
        // The host test executable is a PIE, like the guest programs: our /proc/self/maps
        // gives the runtime address of the lowest executable mapping ("start_code").
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let e = elf::Elf::parse(&exe).unwrap();
        let a_elf = e.symbol("doppler_resolve_test_a").unwrap().unwrap();
        let a_rt = doppler_resolve_test_a as extern "C" fn() -> u32 as usize as u64;
        let bias = a_rt - a_elf;
        let start_code = e.min_exec_vaddr().unwrap() + bias;
        let cfg = args::parse(["start=doppler_resolve_test_a", "end=doppler_resolve_test_b"]).unwrap();
        let m = resolve(&cfg, &Guest { elf: Some(&exe), start_code: Some(start_code) }).unwrap();
        assert_eq!(m.start, a_rt);
        assert_eq!(m.end, doppler_resolve_test_b as extern "C" fn() -> u32 as usize as u64);
        assert_eq!(doppler_resolve_test_a() + doppler_resolve_test_b(), 3);
    }

    #[test]
    fn numeric_addresses_bias_and_thumb_bit() {
        let cfg = args::parse(["start=0x10a0d", "end=0x10b00"]).unwrap();
        let m = resolve(&cfg, &Guest { elf: None, start_code: None }).unwrap();
        assert_eq!((m.start, m.end, m.bias), (0x10a0c, 0x10b00, 0));
        let cfg = args::parse(["start=0x10a0d", "end=0x10b00", "bias=0x1000"]).unwrap();
        let m = resolve(&cfg, &Guest { elf: None, start_code: None }).unwrap();
        assert_eq!((m.start, m.end), (0x11a0c, 0x11b00));
        let cfg = args::parse(["start=0x10a0d", "end=0x10a0c"]).unwrap();
        assert!(resolve(&cfg, &Guest { elf: None, start_code: None }).is_err());
    }

    #[test]
    fn symbols_need_an_elf() {
        let cfg = args::parse([]).unwrap();
        let err = resolve(&cfg, &Guest { elf: None, start_code: None }).unwrap_err();
        assert!(err.contains("elf=PATH"), "{err}");
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let err = resolve(&cfg, &Guest { elf: Some(&exe), start_code: None }).unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }
}
