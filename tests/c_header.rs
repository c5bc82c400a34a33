//! The committed C header (include/symmetric_encryption.h) must equal what cbindgen generates
//! from the current sources: the header is the ABI contract, and a stale one misleads every C,
//! Python and Ruby user. build.rs writes a fresh copy to OUT_DIR (and refreshes include/); this
//! compares the fresh one with the version committed in git.

use std::process::Command;

#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/symmetric_encryption.h"))
        .expect("build.rs writes the generated header to OUT_DIR");
    let root = env!("CARGO_MANIFEST_DIR");
    let committed = Command::new("git")
        .args(["show", "HEAD:include/symmetric_encryption.h"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).expect("the header is UTF-8"));
    let committed = match committed {
        Some(c) => c,
        // Not a git checkout (a source tarball): compare with the file on disk.
        None => std::fs::read_to_string(format!("{root}/include/symmetric_encryption.h")).unwrap(),
    };
    assert!(
        committed == fresh,
        "include/symmetric_encryption.h is stale: the build regenerated it from src/ffi. Commit the new header."
    );
    for export in [
        "se_context_load",
        "se_encrypt",
        "se_decrypt",
        "se_reader_open_path",
        "se_writer_open_path",
    ] {
        assert!(fresh.contains(export), "{export} missing from the header");
    }
}
