//! Builds hardrun-init (init/main.rs) for the target with the same rustc: a static,
//! free-standing binary that hardrun embeds and mounts into every container it runs.
//! Targets the init has no system calls for get an empty file; hardrun then verifies
//! from the daemon's record instead.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=init");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("hardrun-init");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" || !matches!(arch.as_str(), "x86_64" | "aarch64") {
        std::fs::write(&out, b"").expect("OUT_DIR is writable");
        return;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition", "2024", "--crate-name", "hardrun_init", "--crate-type", "bin", "--target", &target]);
    for flag in [
        "opt-level=s",
        "panic=abort",
        "codegen-units=1",
        "strip=symbols",
        // No libc, no dynamic loader, no relocations to apply at start.
        "relocation-model=static",
        "target-feature=+crt-static",
        "link-arg=-nostartfiles",
        "link-arg=-nostdlib",
        "link-arg=-static",
        "link-arg=-Wl,--gc-sections",
    ] {
        cmd.args(["-C", flag]);
    }
    if let Ok(linker) = std::env::var(format!("CARGO_TARGET_{}_LINKER", target.to_uppercase().replace('-', "_"))) {
        cmd.args(["-C", &format!("linker={linker}")]);
    }
    cmd.arg("-o").arg(&out).arg("init/main.rs");
    let status = cmd.status().expect("rustc runs");
    assert!(status.success(), "building hardrun-init (init/main.rs) failed");
}
