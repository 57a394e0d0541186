//! Just enough ELF (32/64-bit, either byte order) to find a symbol's value, the file type and
//! the lowest executable load address. All reads are bounds-checked; a malformed file gives
//! an error, never a panic.

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const SHN_UNDEF: u16 = 0;

pub struct Elf<'a> {
    d: &'a [u8],
    is64: bool,
    le: bool,
}

type R<T> = Result<T, String>;

impl<'a> Elf<'a> {
    pub fn parse(d: &'a [u8]) -> R<Self> {
        if d.len() < 52 || &d[..4] != b"\x7fELF" {
            return Err("not an ELF file".into());
        }
        let is64 = match d[4] {
            1 => false,
            2 => true,
            c => return Err(format!("bad ELF class {c}")),
        };
        let le = match d[5] {
            1 => true,
            2 => false,
            e => return Err(format!("bad ELF data encoding {e}")),
        };
        if is64 && d.len() < 64 {
            return Err("truncated ELF header".into());
        }
        Ok(Elf { d, is64, le })
    }

    fn bytes<const N: usize>(&self, off: u64) -> R<[u8; N]> {
        let off = usize::try_from(off).map_err(|_| "offset overflow".to_string())?;
        self.d
            .get(off..off.checked_add(N).ok_or("offset overflow")?)
            .map(|s| s.try_into().unwrap())
            .ok_or_else(|| format!("ELF truncated (read of {N} bytes at {off:#x})"))
    }
    fn u16(&self, off: u64) -> R<u16> {
        let b = self.bytes(off)?;
        Ok(if self.le { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }
    fn u32(&self, off: u64) -> R<u32> {
        let b = self.bytes(off)?;
        Ok(if self.le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }
    fn u64(&self, off: u64) -> R<u64> {
        let b = self.bytes(off)?;
        Ok(if self.le { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) })
    }
    /// An address/offset-sized field (`ElfN_Addr`, `ElfN_Off`).
    fn word(&self, off: u64) -> R<u64> {
        if self.is64 {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }

    pub fn e_type(&self) -> R<u16> {
        self.u16(16)
    }
    pub fn e_machine(&self) -> R<u16> {
        self.u16(18)
    }
    pub fn entry(&self) -> R<u64> {
        self.word(24)
    }

    /// `(p_type, p_flags, p_vaddr)` of every program header.
    fn program_headers(&self) -> R<Vec<(u32, u32, u64)>> {
        let (phoff, entsize, num) = if self.is64 {
            (self.u64(32)?, self.u16(54)?, self.u16(56)?)
        } else {
            (self.u32(28)?.into(), self.u16(42)?, self.u16(44)?)
        };
        (0..u64::from(num))
            .map(|i| {
                let p = phoff + i * u64::from(entsize);
                if self.is64 {
                    Ok((self.u32(p)?, self.u32(p + 4)?, self.u64(p + 16)?))
                } else {
                    Ok((self.u32(p)?, self.u32(p + 24)?, self.u32(p + 8)?.into()))
                }
            })
            .collect()
    }

    /// Lowest `p_vaddr` of an executable `PT_LOAD` segment. qemu-user reports the same
    /// segment's load address plus the load bias as `qemu_plugin_start_code()`.
    pub fn min_exec_vaddr(&self) -> R<u64> {
        self.program_headers()?
            .into_iter()
            .filter(|&(t, f, _)| t == PT_LOAD && f & PF_X != 0)
            .map(|(_, _, v)| v)
            .min()
            .ok_or_else(|| "no executable PT_LOAD segment".into())
    }

    /// `(sh_type, sh_offset, sh_size, sh_link, sh_entsize)` of section `i`.
    fn section(&self, i: u64) -> R<(u32, u64, u64, u32, u64)> {
        let (shoff, entsize) =
            if self.is64 { (self.u64(40)?, self.u16(58)?) } else { (self.u32(32)?.into(), self.u16(46)?) };
        let s = shoff + i * u64::from(entsize);
        if self.is64 {
            Ok((self.u32(s + 4)?, self.u64(s + 24)?, self.u64(s + 32)?, self.u32(s + 40)?, self.u64(s + 56)?))
        } else {
            Ok((
                self.u32(s + 4)?,
                self.u32(s + 16)?.into(),
                self.u32(s + 20)?.into(),
                self.u32(s + 24)?,
                self.u32(s + 36)?.into(),
            ))
        }
    }

    fn cstr_at(&self, off: u64) -> R<&'a [u8]> {
        let off = usize::try_from(off).map_err(|_| "offset overflow".to_string())?;
        let tail = self.d.get(off..).ok_or("string offset out of range")?;
        let len = tail.iter().position(|&b| b == 0).ok_or("unterminated string")?;
        Ok(&tail[..len])
    }

    /// Value (`st_value`) of the defined symbol `name`, from `.symtab`, else `.dynsym`.
    /// On 32-bit ARM a Thumb function's value has bit 0 set; the caller masks it.
    pub fn symbol(&self, name: &str) -> R<Option<u64>> {
        let shnum = self.u16(if self.is64 { 60 } else { 48 })?;
        for wanted in [SHT_SYMTAB, SHT_DYNSYM] {
            for i in 0..u64::from(shnum) {
                let (ty, off, size, link, entsize) = self.section(i)?;
                if ty != wanted || entsize == 0 {
                    continue;
                }
                let (_, stroff, _, _, _) = self.section(link.into())?;
                for k in 0..size / entsize {
                    let s = off + k * entsize;
                    let (st_name, value, shndx) = if self.is64 {
                        (self.u32(s)?, self.u64(s + 8)?, self.u16(s + 6)?)
                    } else {
                        (self.u32(s)?, self.u32(s + 4)?.into(), self.u16(s + 14)?)
                    };
                    // Any *defined* symbol of that name (type and binding are not checked).
                    if shndx != SHN_UNDEF && self.cstr_at(stroff + u64::from(st_name))? == name.as_bytes() {
                        return Ok(Some(value));
                    }
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symbol of this very test executable, found through its own symbol table.
    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn doppler_elf_selftest_symbol() -> u32 {
        core::hint::black_box(0x5eed)
    }

    #[test]
    fn reads_own_executable() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let elf = Elf::parse(&exe).unwrap();
        assert!(matches!(elf.e_type().unwrap(), ET_EXEC | ET_DYN));
        assert_eq!(elf.e_machine().unwrap(), 62, "x86-64 host expected");
        let v = elf.symbol("doppler_elf_selftest_symbol").unwrap().expect("symbol present");
        let min_x = elf.min_exec_vaddr().unwrap();
        assert!(v >= min_x, "{v:#x} < {min_x:#x}");
        assert!(elf.symbol("main").unwrap().is_some());
        assert!(elf.symbol("no_such_symbol_xyz").unwrap().is_none());
        // Runtime address minus st_value is the load bias: page-aligned.
        let bias = (doppler_elf_selftest_symbol as extern "C" fn() -> u32 as usize as u64).wrapping_sub(v);
        assert_eq!(bias % 4096, 0, "bias {bias:#x}");
        assert_eq!(doppler_elf_selftest_symbol(), 0x5eed);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Elf::parse(b"not an elf at all, definitely not, no no no no no no no").is_err());
        let mut fake = vec![0u8; 64];
        fake[..4].copy_from_slice(b"\x7fELF");
        fake[4] = 1;
        fake[5] = 1;
        fake[28] = 0xff; // phoff far outside the file
        fake[44] = 1; // one program header
        let e = Elf::parse(&fake).unwrap();
        assert!(e.min_exec_vaddr().is_err());
    }
}
