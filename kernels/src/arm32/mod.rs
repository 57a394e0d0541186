//! ARMv7-A NEON kernels (stable `asm!`), tuned for Cortex-A9.

/// The directive that lets an `asm!` template use NEON. On stable Rust the surrounding code is
/// not compiled with NEON enabled, so ELF assemblers need `.fpu neon`; Apple's assembler has no
/// `.fpu` directive, and its ARMv7 targets enable NEON already.
#[cfg(not(target_vendor = "apple"))]
macro_rules! fpu_neon {
    () => {
        ".fpu neon"
    };
}
#[cfg(target_vendor = "apple")]
macro_rules! fpu_neon {
    () => {
        ""
    };
}

// Shared by the int8 and f32 convolution drivers: where each output pixel's window starts.

use crate::reference::Window2d;

/// Position of an output pixel, advanced pixel by pixel (no division: the A9 has no divider).
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    b: usize,
    oy: usize,
    ox: usize,
}

impl Cursor {
    #[inline]
    fn advance(&mut self, g: &Window2d) {
        self.ox += 1;
        if self.ox == g.out_w {
            self.ox = 0;
            self.oy += 1;
            if self.oy == g.out_h {
                self.oy = 0;
                self.b += 1;
            }
        }
    }

    /// Top-left input coordinate of the pixel's window (may be negative: padding), and the
    /// first input row of its image.
    #[inline]
    fn origin(&self, g: &Window2d) -> (isize, isize, usize) {
        let y = (self.oy * g.stride_h) as isize - g.pad_top as isize;
        let x = (self.ox * g.stride_w) as isize - g.pad_left as isize;
        (y, x, self.b * g.in_h)
    }
}

/// A pointer to `s[off .. off + len]`, bounds-checked (panics rather than point outside).
#[inline]
fn span<T>(s: &[T], off: usize, len: usize) -> *const T {
    s[off..off + len].as_ptr()
}

pub mod binary;
pub mod f32;
pub mod int8;
