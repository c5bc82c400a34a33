//! Generates include/symmetric_encryption.h from the `extern "C"` layer in src/ffi/ with
//! cbindgen. The header is committed; scripts/test fails when a build changes it.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = |name: &str| std::env::var(name).unwrap();
    config.after_includes = Some(format!(
        "\n#define SE_VERSION_MAJOR {}\n#define SE_VERSION_MINOR {}\n#define SE_VERSION_PATCH {}\n#define SE_VERSION_STRING \"{}\"\n",
        version("CARGO_PKG_VERSION_MAJOR"),
        version("CARGO_PKG_VERSION_MINOR"),
        version("CARGO_PKG_VERSION_PATCH"),
        version("CARGO_PKG_VERSION"),
    ));
    let bindings = match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => {
            // A syntax error elsewhere surfaces better from rustc than from cbindgen.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("symmetric_encryption.h");
    bindings.write_to_file(&out);
    let generated = std::fs::read(&out).unwrap();
    let committed = dir.join("include/symmetric_encryption.h");
    if std::fs::read(&committed).ok().as_deref() != Some(&generated[..]) {
        std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
        std::fs::write(&committed, &generated).unwrap();
    }
}
