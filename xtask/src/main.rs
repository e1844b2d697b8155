//! Build helpers. `cargo xtask bpf` rebuilds the committed BPF objects (bpf/obj/*.o) from
//! bpf/*.bpf.c with Debian's clang; `cargo xtask bpf --check` rebuilds into a temporary
//! folder and fails when a committed object differs (CI runs it).
//!
//! Reproducibility: clang writes the build folder into the debug info (`-g` is needed for
//! BTF), so objects are built with the working directory set to bpf/ and
//! `-fdebug-prefix-map=<bpf dir>=.`; with the same clang version the output is
//! byte-identical wherever the repository lives.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The clang used unless `CLANG` is set (Debian's default clang, 14 on bookworm).
const DEFAULT_CLANG: &str = "clang";
/// Strips DWARF (keeps BTF) unless `LLVM_STRIP` is set.
const DEFAULT_STRIP: &str = "llvm-strip";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bpf") => {
            let check = args.iter().any(|a| a == "--check");
            bpf(check)
        }
        _ => {
            eprintln!("usage: cargo xtask bpf [--check]");
            std::process::exit(2);
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").into()
}

/// bpf/*.bpf.c, sorted.
fn sources(bpf_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(bpf_dir).with_context(|| format!("reading {bpf_dir:?}"))? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".bpf.c") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn compile(clang: &str, bpf_dir: &Path, src: &Path, out: &Path) -> Result<()> {
    let prefix_map = format!("-fdebug-prefix-map={}=.", bpf_dir.display());
    let file_name = src.file_name().context("source has a name")?;
    let status = Command::new(clang)
        .current_dir(bpf_dir)
        .args(["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I.", "-Wall", "-Werror"])
        .arg(&prefix_map)
        .arg("-c")
        .arg(file_name)
        .arg("-o")
        .arg(out)
        .status()
        .with_context(|| format!("running {clang} (install clang: apt-get install clang)"))?;
    if !status.success() {
        bail!("{clang} failed on {}", src.display());
    }
    // DWARF is not needed at run time (BTF and BTF.ext stay): strip it to keep the
    // committed objects small.
    let strip = std::env::var("LLVM_STRIP").unwrap_or_else(|_| DEFAULT_STRIP.to_string());
    let status = Command::new(&strip)
        .arg("-g")
        .arg(out)
        .status()
        .with_context(|| format!("running {strip} (install llvm)"))?;
    if !status.success() {
        bail!("{strip} failed on {}", out.display());
    }
    Ok(())
}

fn obj_name(src: &Path) -> String {
    let name = src.file_name().unwrap().to_string_lossy();
    format!("{}.o", name.trim_end_matches(".c"))
}

fn bpf(check: bool) -> Result<()> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| DEFAULT_CLANG.to_string());
    let root = repo_root();
    let bpf_dir = root.join("bpf");
    let obj_dir = bpf_dir.join("obj");
    let srcs = sources(&bpf_dir)?;
    if check {
        let tmp = std::env::temp_dir().join(format!("telegen-xtask-bpf-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)?;
        let mut stale = Vec::new();
        for src in &srcs {
            let name = obj_name(src);
            let fresh = tmp.join(&name);
            compile(&clang, &bpf_dir, src, &fresh)?;
            let committed = std::fs::read(obj_dir.join(&name)).unwrap_or_default();
            if std::fs::read(&fresh)? != committed {
                stale.push(name);
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
        if !stale.is_empty() {
            bail!("committed BPF objects are stale: {stale:?}; run `cargo xtask bpf` and commit");
        }
        println!("bpf/obj is current ({} objects)", srcs.len());
    } else {
        std::fs::create_dir_all(&obj_dir)?;
        for src in &srcs {
            let out = obj_dir.join(obj_name(src));
            compile(&clang, &bpf_dir, src, &out)?;
            println!("built {}", out.strip_prefix(&root).unwrap_or(&out).display());
        }
    }
    Ok(())
}
