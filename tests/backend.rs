//! The crypto backend a build reports (`se_backend()`, `--version`): its name, and for AWS-LC
//! the linked version and whether its FIPS mode is on. A `fips` build must link the FIPS module
//! and run in FIPS mode; any other build must not claim to.

use symmetric_encryption::crypto::{backend, BACKEND};

#[test]
fn the_backend_says_what_is_linked() {
    let described = backend();
    assert!(described.starts_with(BACKEND), "{described}");
    if cfg!(feature = "fips") {
        assert!(described.contains("FIPS mode active"), "{described}");
        assert!(!described.contains("NOT active"), "{described}");
    } else {
        assert!(!described.contains("FIPS mode active"), "{described}");
    }
    if cfg!(feature = "aws-lc") {
        assert!(described.contains("AWS-LC "), "{described}");
    }
}
