//! Proves the runtime reports CPU exceptions: executes an undefined instruction (a UsageFault,
//! escalated to HardFault since the configurable faults are off), which must end QEMU with
//! status 131 (128 + HardFault's exception number 3) and an `exception:` report.
#![no_std]
#![no_main]

use cortex_m as _; // critical-section implementation (single core)
use cortex_m_rt::entry;

#[path = "../log.rs"]
mod log;
#[path = "../rt.rs"]
mod rt;

#[entry]
fn main() -> ! {
    log::line("fault: executing an undefined instruction (expect status 131)");
    cortex_m::asm::udf()
}
