//! Plugin arguments: `-plugin libdoppler_qemu_count.so,key=value,key=value,...`.

use std::path::PathBuf;

/// Default marker symbols (exported by the `doppler-qemu-window` crate).
pub const DEFAULT_START: &str = "doppler_window_start";
pub const DEFAULT_END: &str = "doppler_window_end";

/// Where a marker is: a link-time (ELF) address, or a symbol name looked up in the ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    Addr(u64),
    Symbol(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// First instruction of the start marker.
    pub start: Loc,
    /// First instruction of the end marker.
    pub end: Loc,
    /// ELF to read symbols / program headers from. Default: the guest binary in user mode,
    /// none in system mode.
    pub elf: Option<PathBuf>,
    /// Load bias added to ELF addresses. Default: computed (PIE under qemu-user), else 0.
    pub bias: Option<u64>,
    /// Report file. Default: stderr.
    pub out: Option<PathBuf>,
    /// Print the resolved addresses to stderr at the first translation.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            start: Loc::Symbol(DEFAULT_START.into()),
            end: Loc::Symbol(DEFAULT_END.into()),
            elf: None,
            bias: None,
            out: None,
            verbose: false,
        }
    }
}

pub const USAGE: &str = "doppler-qemu-count arguments (all optional, comma-separated key=value): \
start=ADDR|SYMBOL end=ADDR|SYMBOL (default doppler_window_start / doppler_window_end; \
ADDR is the ELF address, 0x-hex or decimal), elf=PATH (default: the guest binary under qemu-user; \
required for symbols under qemu-system-*), bias=ADDR (override the load bias; default: computed \
for PIE under qemu-user, 0 otherwise), out=PATH (default: stderr), verbose=on|off";

/// Parses `0x`-prefixed hex or decimal.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(&hex.replace('_', ""), 16).ok()
    } else {
        s.replace('_', "").parse().ok()
    }
}

fn parse_loc(key: &str, v: &str) -> Result<Loc, String> {
    if v.is_empty() {
        return Err(format!("{key}= is empty"));
    }
    if v.as_bytes()[0].is_ascii_digit() {
        parse_u64(v).map(Loc::Addr).ok_or_else(|| format!("{key}={v}: not a number"))
    } else {
        Ok(Loc::Symbol(v.to_string()))
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{key}={v}: expected on/off")),
    }
}

pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Config, String> {
    let mut c = Config::default();
    for arg in args {
        let (k, v) = arg.split_once('=').ok_or_else(|| format!("argument `{arg}` is not key=value"))?;
        match k {
            "start" => c.start = parse_loc(k, v)?,
            "end" => c.end = parse_loc(k, v)?,
            "elf" => c.elf = Some(PathBuf::from(v)),
            "bias" => c.bias = Some(parse_u64(v).ok_or_else(|| format!("bias={v}: not a number"))?),
            "out" => c.out = Some(PathBuf::from(v)),
            "verbose" => c.verbose = parse_bool(k, v)?,
            _ => return Err(format!("unknown argument `{k}`")),
        }
    }
    if c.start == c.end {
        return Err("start and end are the same marker".into());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = parse([]).unwrap();
        assert_eq!(c.start, Loc::Symbol(DEFAULT_START.into()));
        assert_eq!(c.end, Loc::Symbol(DEFAULT_END.into()));
        assert_eq!(c.out, None);
    }

    #[test]
    fn addresses_symbols_and_paths() {
        let c = parse(["start=0x10a0c", "end=68352", "out=/tmp/x.txt", "bias=0x4000_0000", "verbose=on"])
            .unwrap();
        assert_eq!(c.start, Loc::Addr(0x10a0c));
        assert_eq!(c.end, Loc::Addr(0x10b00));
        assert_eq!(c.out, Some(PathBuf::from("/tmp/x.txt")));
        assert_eq!(c.bias, Some(0x4000_0000));
        assert!(c.verbose);
        let c = parse(["start=my_start", "end=my_end", "elf=/x/y.elf"]).unwrap();
        assert_eq!(c.start, Loc::Symbol("my_start".into()));
        assert_eq!(c.elf, Some(PathBuf::from("/x/y.elf")));
    }

    #[test]
    fn errors() {
        assert!(parse(["start"]).is_err());
        assert!(parse(["begin=0x10"]).is_err());
        assert!(parse(["start=0xzz"]).is_err());
        assert!(parse(["start=0x10", "end=16"]).is_err());
        assert!(parse(["verbose=maybe"]).is_err());
    }
}
