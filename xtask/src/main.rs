//! `cargo xtask …`: the project's entry points (std only, no dependencies).
//!
//! * `cargo xtask setup` — installs what the other commands need: the Rust targets (rustup) and,
//!   through apt when run as root, QEMU and the ARM cross linkers. Quick when all is present.
//! * `cargo xtask test` — every test, step by step: rustfmt, the host workspace tests, no_std
//!   builds for three bare-metal targets, the kernel and engine suites under user-mode QEMU
//!   (ARMv7 Cortex-A9 and AArch64 Cortex-A53), and the cross-built `doppler` CLI running every
//!   example model under QEMU against the expected outputs. Ends with `N passed, N failed`.
//! * `cargo xtask demo` — the main job: the bundled float, int8 and binary Fashion-MNIST models of
//!   the compression study on the emulated Cortex-A9 (`doppler study --demo`): a table of accuracy
//!   on a sample, blob size, arena bytes and instructions per inference, and the charts.

use std::cell::Cell;
use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Rust targets the project builds for.
const TARGETS: [&str; 5] = [
    "armv7-unknown-linux-gnueabihf",
    "aarch64-unknown-linux-gnu",
    "armv7a-none-eabi",
    "thumbv7em-none-eabihf",
    "aarch64-unknown-none",
];

/// Bare-metal targets the no_std crates must build for.
const NO_STD_TARGETS: [&str; 3] = ["thumbv7em-none-eabihf", "armv7a-none-eabi", "aarch64-unknown-none"];

/// The no_std crates.
const NO_STD_CRATES: [&str; 3] = ["doppler-model-format", "doppler-kernels", "doppler-engine"];

/// Debian packages that provide QEMU and the cross linkers.
const APT_PACKAGES: [&str; 4] =
    ["qemu-user", "qemu-system-arm", "gcc-arm-linux-gnueabihf", "gcc-aarch64-linux-gnu"];

/// Executables `setup` makes sure of.
const TOOLS: [&str; 5] =
    ["qemu-arm", "qemu-aarch64", "qemu-system-arm", "arm-linux-gnueabihf-gcc", "aarch64-linux-gnu-gcc"];

/// The example models (examples/models/<name>.dpl, .input.npy, .expected.npy).
const MODELS: [&str; 3] = ["int8_cnn", "binary_cnn", "f32_style"];

/// A Linux ARM target and how to run its binaries under user-mode QEMU (same as
/// `.cargo/config.toml`'s runners).
struct Emulated {
    target: &'static str,
    short: &'static str,
    qemu: [&'static str; 5],
}

const ARMV7: Emulated = Emulated {
    target: "armv7-unknown-linux-gnueabihf",
    short: "qemu-arm -cpu cortex-a9",
    qemu: ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf", "-cpu", "cortex-a9"],
};
const AARCH64: Emulated = Emulated {
    target: "aarch64-unknown-linux-gnu",
    short: "qemu-aarch64 -cpu cortex-a53",
    qemu: ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", "cortex-a53"],
};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup().map(|_| true),
        Some("test") => test(),
        Some("demo") => demo().map(|_| true),
        Some("study") => build_cli(None)
            .and_then(|cli| run(Command::new(cli).arg("study").args(&args[1..]).current_dir(root())))
            .map(|_| true),
        Some("style") => build_cli(None)
            .and_then(|cli| run(Command::new(cli).arg("style-report").args(&args[1..]).current_dir(root())))
            .map(|_| true),
        Some("bench") => {
            run(Command::new(root().join("qemu-tests/bench/run.sh")).args(&args[1..])).map(|_| true)
        }
        Some("help" | "-h" | "--help") => {
            print!("{}", usage());
            Ok(true)
        }
        Some(other) => {
            eprint!("xtask: unknown command '{other}'\n\n{}", usage());
            return ExitCode::from(2);
        }
        None => {
            eprint!("{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    "usage: cargo xtask <command>\n\n\
     commands:\n  \
       setup   install the Rust targets, QEMU and the ARM cross linkers (apt, as root)\n  \
       test    run every test: fmt, host tests, no_std builds, QEMU suites, CLI on the examples\n  \
       demo    the float / int8 / binary Fashion-MNIST models on the emulated Cortex-A9: table + charts\n  \
       study   convert, evaluate and count the Fashion-MNIST variants; write docs/REPORT.md\n  \
       style   convert, evaluate and count the style-transfer variants; write docs/STYLE.md\n  \
       bench   instruction counts under QEMU: Doppler kernels vs tract-linalg (qemu-tests/bench/run.sh)\n"
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The workspace root (xtask/ lives directly under it).
fn root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map(Path::to_path_buf).unwrap_or(dir)
}

/// The cargo that runs us (so the pinned toolchain is used), or `cargo`.
fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn header(text: &str) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        println!("\n\x1b[1m==> {text}\x1b[0m");
    } else {
        println!("\n==> {text}");
    }
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains(' ') {
            s += &format!(" '{a}'");
        } else {
            s += &format!(" {a}");
        }
    }
    s
}

/// Runs `cmd` with inherited stdio; `Err` names the command when it fails.
fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", show(cmd));
    let status = cmd.status().map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// Runs `cmd` and captures stdout; stderr is passed through.
fn capture(cmd: &mut Command) -> Result<String> {
    let out =
        cmd.stderr(Stdio::inherit()).output().map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        print!("{stdout}");
        Err(format!("`{}` failed ({})", show(cmd), out.status))
    }
}

fn cargo_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(cargo());
    c.current_dir(root()).args(args);
    c
}

/// True if `name` is an executable file on `PATH`.
fn on_path(name: &str) -> bool {
    let Some(paths) = env::var_os("PATH") else { return false };
    env::split_paths(&paths).any(|dir| {
        let p = dir.join(name);
        p.is_file() && is_executable(&p)
    })
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    true
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0)
    } else {
        format!("{s:.1}s")
    }
}

/// A scratch directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir> {
        let p = env::temp_dir().join(format!("doppler-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// setup
// ---------------------------------------------------------------------------------------------

fn setup() -> Result<()> {
    // Rust targets.
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run rustup ({e}); install it from https://rustup.rs"))?;
    let installed = String::from_utf8_lossy(&installed.stdout).into_owned();
    let missing: Vec<&str> =
        TARGETS.iter().copied().filter(|t| !installed.lines().any(|l| l.trim() == *t)).collect();
    if missing.is_empty() {
        println!("setup: Rust targets present ({})", TARGETS.join(", "));
    } else {
        run(Command::new("rustup").current_dir(root()).args(["target", "add"]).args(&missing))?;
    }

    // QEMU and cross linkers.
    let absent: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if absent.is_empty() {
        println!("setup: tools present ({})", TOOLS.join(", "));
        return Ok(());
    }
    let install = format!("apt-get install -y {}", APT_PACKAGES.join(" "));
    if !is_root() {
        return Err(format!(
            "missing {}; install them with:\n    sudo apt-get update && sudo {install}",
            absent.join(", ")
        ));
    }
    println!("setup: missing {}; installing with apt", absent.join(", "));
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "--no-install-recommends"])
        .args(APT_PACKAGES))?;
    let still: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if !still.is_empty() {
        return Err(format!("still missing after apt-get: {}", still.join(", ")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// test
// ---------------------------------------------------------------------------------------------

struct Outcome {
    name: String,
    result: Result<String>,
    time: Duration,
}

/// One step of `cargo xtask test`: `Ok(note)` or `Err(why)`.
type Step = Box<dyn Fn() -> Result<String>>;

/// Runs every step (even after a failure), prints a summary and `N passed, N failed`.
fn test() -> Result<bool> {
    let started = Instant::now();
    let tmp = TempDir::new("xtask-test")?;
    let mut steps: Vec<(String, Step)> = Vec::new();

    steps.push(("setup (targets, QEMU, cross linkers)".into(), Box::new(|| setup().map(|_| String::new()))));
    steps.push((
        "cargo fmt --check".into(),
        Box::new(|| run(&mut cargo_cmd(["fmt", "--all", "--check"])).map(|_| String::new())),
    ));
    steps.push((
        "cargo test --workspace (host)".into(),
        Box::new(|| run(&mut cargo_cmd(["test", "--workspace"])).map(|_| String::new())),
    ));
    for target in NO_STD_TARGETS {
        steps.push((
            format!("no_std build for {target}: {}", NO_STD_CRATES.join(", ")),
            Box::new(move || {
                let mut c = cargo_cmd(["build", "--target", target]);
                for krate in NO_STD_CRATES {
                    c.args(["-p", krate]);
                }
                run(&mut c).map(|_| String::new())
            }),
        ));
    }
    for emu in [&ARMV7, &AARCH64] {
        steps.push((
            format!(
                "cargo test -p doppler-model-format -p doppler-kernels -p doppler-engine + converter fixtures --target {} ({})",
                emu.target, emu.short
            ),
            Box::new(move || {
                let args = [
                    "test",
                    "-p",
                    "doppler-model-format",
                    "-p",
                    "doppler-kernels",
                    "-p",
                    "doppler-engine",
                    "--target",
                    emu.target,
                ];
                run(&mut cargo_cmd(args))?;
                // The TFLite/Larq fixtures, bit-exact under emulation too.
                let convert = [
                    "test",
                    "-p",
                    "doppler-tools",
                    "--test",
                    "convert_fixtures",
                    "--test",
                    "convert_errors",
                    "--target",
                    emu.target,
                ];
                run(&mut cargo_cmd(convert)).map(|_| String::new())
            }),
        ));
    }
    for emu in [&ARMV7, &AARCH64] {
        // The example runs use the binary this run built, never a stale one.
        let built = Rc::new(Cell::new(false));
        let flag = built.clone();
        steps.push((
            format!("cross-build the doppler CLI for {}", emu.target),
            Box::new(move || {
                let path = build_cli(Some(emu.target))?;
                flag.set(true);
                Ok(format!("{}", path.display()))
            }),
        ));
        for model in MODELS {
            let out_dir = tmp.0.clone();
            let built = built.clone();
            steps.push((
                format!("doppler run {model} under {}", emu.short),
                Box::new(move || {
                    if !built.get() {
                        return Err(format!("not run: the CLI did not build for {}", emu.target));
                    }
                    run_example_emulated(emu, model, &out_dir)
                }),
            ));
        }
    }
    steps.push((
        "clippy: panic-freedom lints (model-format, engine; host and thumbv7em)".into(),
        Box::new(|| {
            let lint = ["clippy", "-p", "doppler-model-format", "-p", "doppler-engine"];
            let mut host = cargo_cmd(lint);
            host.args(["--features", "doppler-model-format/std", "--", "-D", "warnings"]);
            run(&mut host)?;
            let mut bare = cargo_cmd(lint);
            bare.args(["--target", "thumbv7em-none-eabihf", "--", "-D", "warnings"]);
            run(&mut bare).map(|_| String::new())
        }),
    ));
    steps.push((
        "NEON proof: the ARMv7 kernel suite dies with SIGILL under cortex-a9,neon=off; the reference build passes".into(),
        Box::new(neon_proof),
    ));
    for (name, script) in [
        ("instruction-count plugin self-test (armv7, aarch64, bare metal)", "qemu-tests/selftest.sh"),
        ("C API: libdoppler.a (dp_* only), C example and status tests under qemu-user", "examples/c/test.sh"),
        ("bare metal: Cortex-A9 and Cortex-M4F firmware under qemu-system-arm", "targets/run-bare-metal.sh"),
        ("fuzz smoke: 30 s per target (skips without nightly + cargo-fuzz)", "fuzz/smoke.sh"),
        ("Miri: engine graph tests and a reference-kernel subset (skips without nightly + miri)", "miri.sh"),
    ] {
        steps.push((
            name.into(),
            Box::new(move || {
                let mut c = Command::new("bash");
                c.arg(root().join(script)).current_dir(root());
                c.env("DOPPLER_QEMU_TARGET_DIR", target_dir().join("qemu-tests"));
                run(&mut c).map(|_| String::new())
            }),
        ));
    }

    let total = steps.len();
    let mut results = Vec::new();
    for (i, (name, step)) in steps.iter().enumerate() {
        header(&format!("[{}/{total}] {name}", i + 1));
        let t = Instant::now();
        let result = step();
        let time = t.elapsed();
        match &result {
            Ok(_) => println!("--> ok ({})", secs(time)),
            Err(e) => {
                println!("--> FAILED ({}): {e}", secs(time));
                // A full disk fails steps in confusing ways; say how much is left.
                let _ = Command::new("df").args(["-h", "."]).current_dir(root()).status();
            }
        }
        results.push(Outcome { name: name.clone(), result, time });
    }

    let passed = results.iter().filter(|o| o.result.is_ok()).count();
    let failed = total - passed;
    header(&format!("summary ({} total)", secs(started.elapsed())));
    for o in &results {
        let (tag, note) = match &o.result {
            Ok(n) if n.is_empty() => ("ok  ", String::new()),
            Ok(n) => ("ok  ", format!(" — {n}")),
            Err(e) => ("FAIL", format!(" — {}", abbreviate(e.lines().next().unwrap_or(""), 100))),
        };
        println!("  {tag}  {:>8}  {}{note}", secs(o.time), o.name);
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// Proves the ARMv7 NEON kernels really run: the same differential suite, under a Cortex-A9 with
/// NEON switched off, must die with SIGILL — while the `force-reference` build passes there.
fn neon_proof() -> Result<String> {
    let runner_var = "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER";
    let runner = "qemu-arm -L /usr/arm-linux-gnueabihf -cpu cortex-a9,neon=off";
    let suite = ["test", "-p", "doppler-kernels", "--target", ARMV7.target, "--test", "differential_int8"];
    let mut neon = cargo_cmd(suite);
    neon.env(runner_var, runner);
    println!("$ {runner_var}='{runner}' {}", show(&neon));
    let out = neon.output().map_err(|e| format!("cannot start cargo: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !text.contains("SIGILL") {
        return Err(
            "the NEON build did not die with SIGILL without NEON: are the NEON kernels selected?".into()
        );
    }
    println!("NEON build: SIGILL without NEON (as it must)");
    let mut reference = cargo_cmd(suite);
    reference.args(["--features", "force-reference"]).env(runner_var, runner);
    run(&mut reference)?;
    Ok("SIGILL with NEON kernels, pass with force-reference".into())
}

/// The first `max` characters of `s`, with `…` if cut.
fn abbreviate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}

/// `cargo build --release --bin doppler [--target T]`; returns the binary's path.
fn build_cli(target: Option<&str>) -> Result<PathBuf> {
    let mut c = cargo_cmd(["build", "--release", "-p", "doppler-tools", "--bin", "doppler"]);
    let mut path = target_dir();
    if let Some(t) = target {
        c.args(["--target", t]);
        path.push(t);
    }
    run(&mut c)?;
    path.push("release");
    path.push(if cfg!(windows) && target.is_none() { "doppler.exe" } else { "doppler" });
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} was not built", path.display()))
    }
}

fn cli_path(target: &str) -> PathBuf {
    target_dir().join(target).join("release").join("doppler")
}

/// Runs one committed example under QEMU with the cross-built CLI and checks it against the
/// committed expected output (`doppler run --expect`: int8 and bit-packed outputs byte for
/// byte, float32 within the documented tolerance); also reports whether the bytes are identical.
fn run_example_emulated(emu: &Emulated, model: &str, out_dir: &Path) -> Result<String> {
    let dir = root().join("examples").join("models");
    let bin = cli_path(emu.target);
    if !bin.is_file() {
        return Err(format!("{} is missing (the cross-build step failed)", bin.display()));
    }
    let out = out_dir.join(format!("{model}.{}.npy", emu.target));
    let expected = dir.join(format!("{model}.expected.npy"));
    let mut c = Command::new(emu.qemu[0]);
    c.args(&emu.qemu[1..])
        .arg(&bin)
        .arg("run")
        .arg(dir.join(format!("{model}.dpl")))
        .arg("--input")
        .arg(dir.join(format!("{model}.input.npy")))
        .arg("--output")
        .arg(&out)
        .arg("--expect")
        .arg(&expected);
    println!("$ {}", show(&c));
    let stdout = capture(&mut c)?;
    print!("{stdout}");
    let same = std::fs::read(&out).ok() == std::fs::read(&expected).ok();
    Ok(if same {
        "output bytes identical to expected".into()
    } else {
        "float32 output within tolerance".into()
    })
}

// ---------------------------------------------------------------------------------------------
// demo
// ---------------------------------------------------------------------------------------------

/// Test images the demo runs under qemu-arm per model.
const DEMO_SAMPLE: usize = 300;

/// The main job: the compression study's bundled float, int8 and binary models (examples/study)
/// on the emulated Cortex-A9 — `doppler study --demo`, the same machinery as `cargo xtask study`
/// without the full host pass and the Cortex-A53 counts. Charts go to `<target>/demo/report/`.
fn demo() -> Result<()> {
    let started = Instant::now();
    let steps = 3;
    header(&format!("[1/{steps}] setup"));
    setup()?;
    header(&format!("[2/{steps}] build the doppler CLI for the host (release)"));
    let host = build_cli(None)?;
    let out = target_dir().join("demo");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    header(&format!(
        "[3/{steps}] float / int8 / binary Fashion-MNIST models on the emulated Cortex-A9 ({DEMO_SAMPLE} test images each)"
    ));
    run(Command::new(host)
        .current_dir(root())
        .args(["study", "--demo", "--subset", &DEMO_SAMPLE.to_string(), "--report"])
        .arg(out.join("REPORT.md")))?;
    println!(
        "demo finished in {}; the full study (10,000 images, Cortex-A53 too, docs/REPORT.md): cargo xtask study",
        secs(started.elapsed())
    );
    Ok(())
}
