//! `doppler convert` + `doppler run --expect` on every committed fixture, through the binary:
//! the path a model author takes. (The library-level suites, `convert_fixtures.rs` and
//! `convert_errors.rs`, also run under QEMU; this one needs to spawn the host binary.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_doppler"))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn wired() -> bool {
    let out = bin().args(["convert", "--help"]).output().expect("doppler runs");
    if !out.status.success() {
        eprintln!("`doppler convert` is not wired into the CLI yet; skipping the CLI fixture test");
    }
    out.status.success()
}

fn numbered(dir: &Path, stem: &str) -> Vec<PathBuf> {
    (0..).map(|k| dir.join(format!("{stem}{k}.npy"))).take_while(|p| p.is_file()).collect()
}

#[test]
fn convert_then_run_reproduces_every_fixture() {
    if !wired() {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("doppler-convert-cli-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(fixtures().join("models"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("model.tflite").is_file())
        .collect();
    names.sort();
    let mut ran = 0;
    for dir in names {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let blob = scratch.join(format!("{name}.dpl"));
        let out = bin().arg("convert").arg(dir.join("model.tflite")).arg("-o").arg(&blob).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if name == "f32_logistic_reshape" || name == "f32_mul" {
            assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
            assert!(
                stderr.starts_with("doppler: error: ") && stderr.contains("(LOGISTIC): float32 LOGISTIC"),
                "{stderr}"
            );
            continue;
        }
        assert!(out.status.success(), "{name}: convert failed: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("source size:") && stdout.contains("TFLM greedy planner"), "{stdout}");
        let mut run = bin();
        run.arg("run").arg(&blob);
        for p in numbered(&dir, "input") {
            run.arg("-i").arg(p);
        }
        for (k, p) in numbered(&dir, "expected").into_iter().enumerate() {
            run.arg("-o").arg(scratch.join(format!("{name}.out{k}.npy"))).arg("--expect").arg(p);
        }
        let out = run.output().unwrap();
        assert!(out.status.success(), "{name}: run failed: {}", String::from_utf8_lossy(&out.stderr));
        ran += 1;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(ran >= 30, "only {ran} fixtures ran");
}

#[test]
fn convert_reports_unsupported_and_malformed_input_on_one_line() {
    if !wired() {
        return;
    }
    let out = bin()
        .arg("convert")
        .arg(fixtures().join("unsupported").join("int8_tanh.tflite"))
        .arg("-o")
        .arg(std::env::temp_dir().join("doppler-never-written.dpl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported: op 1 (TANH): op not supported by Doppler"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let junk = std::env::temp_dir().join(format!("doppler-junk-{}.tflite", std::process::id()));
    std::fs::write(&junk, b"definitely not a flatbuffer").unwrap();
    let out = bin().arg("convert").arg(&junk).arg("-o").arg(junk.with_extension("dpl")).output().unwrap();
    let _ = std::fs::remove_file(&junk);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed .tflite"));
}
