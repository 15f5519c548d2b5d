//! Embeds the widget `build.sh` built (`target/widget`: the loader, the content-hashed wasm and
//! their brotli and gzip variants) into the server, so that one file deploys. On a tree where the
//! widget was not built the list is empty, and the server falls back to a folder on disk (it says
//! which at start).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let widget = manifest.join("target").join("widget");
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-changed={}", widget.display());
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&widget)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
        // The unhashed copy of the wasm is for tools and tests reading the folder; the embedded
        // loader names the hashed one.
        .filter(|(name, _)| !name.starts_with("amazonpay2_bg.wasm"))
        .collect();
    files.sort();
    // Only a complete build is embedded: a loader without its wasm would serve a broken widget.
    let complete = files.iter().any(|(name, _)| name == "widget.js")
        && files.iter().any(|(name, _)| name.starts_with("amazonpay2_bg.") && name.ends_with(".wasm"));
    let mut code = String::from(
        "/// The built widget embedded at compile time: file names and contents (empty when the\n\
         /// widget was not built before the server).\npub static EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in files.iter().filter(|_| complete) {
        let _ = writeln!(code, "    ({name:?}, include_bytes!({:?})),", path.display().to_string());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("widget_files.rs");
    if let Err(error) = std::fs::write(&out, code) {
        panic!("cannot write {}: {error}", out.display());
    }
}
