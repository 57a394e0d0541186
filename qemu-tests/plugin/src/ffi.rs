//! The QEMU side: hand-written declarations of the plugin API v1 symbols we use (they resolve
//! against the QEMU executable when QEMU dlopen()s this library) and the plugin's callbacks.
//!
//! Declarations follow QEMU 7.2's `include/qemu/qemu-plugin.h`; C enums are passed as `c_int`.
//! Only the functions below are used. Not compiled into the host unit tests (the symbols do not
//! exist outside QEMU).

use core::ffi::{c_char, c_int, c_uint, c_void, CStr};
use core::marker::{PhantomData, PhantomPinned};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use crate::windows::Windows;
use crate::{args, resolve, Guest, Markers};

type PluginId = u64;

/// Prefix of `qemu_info_t` (we never read the trailing `system` union).
#[repr(C)]
pub struct QemuInfo {
    target_name: *const c_char,
    version_min: c_int,
    version_cur: c_int,
    system_emulation: bool,
}

/// `struct qemu_plugin_tb`, opaque.
#[repr(C)]
pub struct Tb {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}
/// `struct qemu_plugin_insn`, opaque.
#[repr(C)]
pub struct Insn {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

const QEMU_PLUGIN_CB_NO_REGS: c_int = 0;
const QEMU_PLUGIN_INLINE_ADD_U64: c_int = 0;

type TbTransCb = extern "C" fn(PluginId, *mut Tb);
type VcpuUdataCb = extern "C" fn(c_uint, *mut c_void);
type VcpuSimpleCb = extern "C" fn(PluginId, c_uint);
type UdataCb = extern "C" fn(PluginId, *mut c_void);

extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: PluginId, cb: TbTransCb);
    fn qemu_plugin_register_vcpu_init_cb(id: PluginId, cb: VcpuSimpleCb);
    fn qemu_plugin_register_atexit_cb(id: PluginId, cb: UdataCb, userdata: *mut c_void);
    fn qemu_plugin_register_vcpu_insn_exec_cb(
        insn: *mut Insn,
        cb: VcpuUdataCb,
        flags: c_int,
        userdata: *mut c_void,
    );
    fn qemu_plugin_register_vcpu_insn_exec_inline(insn: *mut Insn, op: c_int, ptr: *mut c_void, imm: u64);
    fn qemu_plugin_tb_n_insns(tb: *const Tb) -> usize;
    fn qemu_plugin_tb_get_insn(tb: *const Tb, idx: usize) -> *mut Insn;
    fn qemu_plugin_insn_vaddr(insn: *const Insn) -> u64;
    /// User mode: a g_strdup()ed copy of the guest binary's path (we leak it: called once).
    /// System mode: NULL. Needs `current_cpu`, so only call it from a vCPU callback.
    fn qemu_plugin_path_to_binary() -> *const c_char;
    /// User mode: runtime address of the lowest executable segment. System mode: 0.
    /// Needs `current_cpu`, like the above.
    fn qemu_plugin_start_code() -> u64;
}

/// The plugin API version this plugin is written against.
#[no_mangle]
pub static qemu_plugin_version: c_int = 1;

/// Every guest instruction adds 1 here, through the inline op (TCG-generated code writes this
/// memory directly). Markers snapshot it.
static COUNTER: AtomicU64 = AtomicU64::new(0);
static WINDOWS: Mutex<Windows> = Mutex::new(Windows::new());
static VCPUS: AtomicU32 = AtomicU32::new(0);
/// Set when we end QEMU on a configuration error: no report then.
static DIED: AtomicBool = AtomicBool::new(false);

struct Setup {
    cfg: args::Config,
    system: bool,
    target: String,
    pid: u32,
}
static SETUP: OnceLock<Setup> = OnceLock::new();
static MARKERS: OnceLock<Markers> = OnceLock::new();

fn die(msg: &str) -> ! {
    eprintln!("doppler-qemu-count: error: {msg}");
    DIED.store(true, Relaxed);
    std::process::exit(2)
}

/// Resolves the markers; first translation only (user mode needs `current_cpu` and a loaded
/// guest, neither of which exists at install time).
fn markers() -> &'static Markers {
    MARKERS.get_or_init(|| {
        let setup = SETUP.get().expect("installed");
        let cfg = &setup.cfg;
        let elf_path = match &cfg.elf {
            Some(p) => Some(p.clone()),
            None if !setup.system => {
                // SAFETY: called from a vCPU (translation) callback in user mode, where QEMU's
                // `current_cpu` is set; the result is NULL or a NUL-terminated string that
                // QEMU never frees.
                let p = unsafe { qemu_plugin_path_to_binary() };
                // SAFETY: non-NULL, NUL-terminated, valid for the rest of the process (leaked).
                (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned().into())
            }
            None => None,
        };
        let bytes = elf_path.as_ref().map(|p| {
            std::fs::read(p).unwrap_or_else(|e| die(&format!("cannot read ELF {}: {e}", p.display())))
        });
        let start_code = if setup.system {
            None
        } else {
            // SAFETY: as for qemu_plugin_path_to_binary above.
            Some(unsafe { qemu_plugin_start_code() })
        };
        let m = resolve(cfg, &Guest { elf: bytes.as_deref(), start_code }).unwrap_or_else(|e| die(&e));
        if cfg.verbose {
            eprintln!(
                "doppler-qemu-count: elf={} start={:#x} end={:#x} bias={:#x}",
                elf_path.as_ref().map_or("-".into(), |p| p.display().to_string()),
                m.start,
                m.end,
                m.bias
            );
        }
        m
    })
}

extern "C" fn on_start(_vcpu: c_uint, _ud: *mut c_void) {
    // Runs before this instruction's inline add: COUNTER = instructions before the marker.
    let c = COUNTER.load(Relaxed);
    WINDOWS.lock().unwrap_or_else(|p| p.into_inner()).start(c);
}

extern "C" fn on_end(_vcpu: c_uint, _ud: *mut c_void) {
    let c = COUNTER.load(Relaxed);
    WINDOWS.lock().unwrap_or_else(|p| p.into_inner()).end(c);
}

extern "C" fn on_tb_trans(_id: PluginId, tb: *mut Tb) {
    let m = *markers();
    // SAFETY: `tb` is the handle QEMU passed to this translation callback; it is valid for the
    // duration of the callback, and so are the instruction handles obtained from it.
    unsafe {
        for i in 0..qemu_plugin_tb_n_insns(tb) {
            let insn = qemu_plugin_tb_get_insn(tb, i);
            let pc = qemu_plugin_insn_vaddr(insn);
            if pc == m.start {
                qemu_plugin_register_vcpu_insn_exec_cb(
                    insn,
                    on_start,
                    QEMU_PLUGIN_CB_NO_REGS,
                    core::ptr::null_mut(),
                );
            } else if pc == m.end {
                qemu_plugin_register_vcpu_insn_exec_cb(
                    insn,
                    on_end,
                    QEMU_PLUGIN_CB_NO_REGS,
                    core::ptr::null_mut(),
                );
            }
            // COUNTER is a static (lives forever); the generated code adds to it in place.
            qemu_plugin_register_vcpu_insn_exec_inline(
                insn,
                QEMU_PLUGIN_INLINE_ADD_U64,
                COUNTER.as_ptr().cast(),
                1,
            );
        }
    }
}

extern "C" fn on_vcpu_init(_id: PluginId, _vcpu: c_uint) {
    VCPUS.fetch_add(1, Relaxed);
}

extern "C" fn on_exit(_id: PluginId, _ud: *mut c_void) {
    let Some(setup) = SETUP.get() else { return };
    if DIED.load(Relaxed) {
        return;
    }
    // A fork()ed guest child inherits the plugin; only the original process reports.
    if std::process::id() != setup.pid {
        return;
    }
    let header = match MARKERS.get() {
        Some(m) => format!(
            "doppler-qemu-count (QEMU plugin API v1): target={} mode={} start={:#x} end={:#x} bias={:#x}\n\
             window = [first insn of start marker, first insn of end marker)",
            setup.target,
            if setup.system { "system" } else { "user" },
            m.start,
            m.end,
            m.bias
        ),
        None => "doppler-qemu-count: no code was translated".into(),
    };
    let report = WINDOWS.lock().unwrap_or_else(|p| p.into_inner()).report(
        &header,
        COUNTER.load(Relaxed),
        VCPUS.load(Relaxed),
    );
    match &setup.cfg.out {
        Some(p) => {
            if let Err(e) = std::fs::write(p, &report) {
                eprintln!("doppler-qemu-count: cannot write {}: {e}\n{report}", p.display());
            }
        }
        None => eprint!("{report}"),
    }
}

/// Entry point called by QEMU when the plugin is loaded (`-plugin file.so,args...`).
#[no_mangle]
pub extern "C" fn qemu_plugin_install(
    id: PluginId,
    info: *const QemuInfo,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: QEMU passes a valid `qemu_info_t` for the duration of this call, whose
    // `target_name` is a static NUL-terminated string.
    let (target, system, vmin, vcur) = unsafe {
        let i = &*info;
        (
            CStr::from_ptr(i.target_name).to_string_lossy().into_owned(),
            i.system_emulation,
            i.version_min,
            i.version_cur,
        )
    };
    if !(vmin..=vcur).contains(&qemu_plugin_version) {
        eprintln!("doppler-qemu-count: QEMU speaks plugin API {vmin}..={vcur}, this plugin needs 1");
        return 1;
    }
    let argv: Vec<String> = (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: QEMU passes `argc` valid NUL-terminated strings in `argv`.
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_string_lossy().into_owned())
        .collect();
    let cfg = match args::parse(argv.iter().map(String::as_str)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("doppler-qemu-count: {e}\n{}", args::USAGE);
            return 1;
        }
    };
    if system
        && cfg.elf.is_none()
        && (matches!(cfg.start, args::Loc::Symbol(_)) || matches!(cfg.end, args::Loc::Symbol(_)))
    {
        eprintln!(
            "doppler-qemu-count: under qemu-system-* pass elf=PATH (the -kernel ELF) or 0x addresses\n{}",
            args::USAGE
        );
        return 1;
    }
    if SETUP.set(Setup { cfg, system, target, pid: std::process::id() }).is_err() {
        eprintln!("doppler-qemu-count: loaded twice");
        return 1;
    }
    // SAFETY: registering `extern "C"` callbacks with the id QEMU gave us; they live forever.
    unsafe {
        qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
        qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
        qemu_plugin_register_atexit_cb(id, on_exit, core::ptr::null_mut());
    }
    0
}
