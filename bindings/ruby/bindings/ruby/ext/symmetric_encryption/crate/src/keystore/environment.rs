//! The `environment` and `heroku` keystores: the encrypted data key, base64, in an environment
//! variable named by `key_env_var`. The two differ only in the instructions printed when a key
//! is generated (`export ...` or `heroku config:add ...`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::STARS;
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::key::SecretBytes;

/// The variable the generator uses for app `app`, environment `env`, version `version`:
/// `APP_ENV_VN` upper-cased with `-` turned into `_` (as the gem names it).
pub fn variable_name(app: &str, env: &str, version: u8) -> String {
    format!("{app}_{env}_v{version}")
        .to_uppercase()
        .replace('-', "_")
}

/// Reads and base64-decodes the stored key from `var` (leniently, as the gem's decoder does).
pub fn read_key(var: &str) -> Result<SecretBytes> {
    let value = std::env::var_os(var).ok_or_else(|| {
        Error::Keystore(format!(
            "environment variable {var} is not set: it must hold this key (base64 of the \
             encrypted key, as printed when the key was generated). Set it before loading the \
             configuration"
        ))
    })?;
    let value = zeroize::Zeroizing::new(value.into_encoded_bytes());
    if value.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Keystore(format!(
            "environment variable {var} is empty: it must hold this key (base64 of the encrypted \
             key, as printed when the key was generated)"
        )));
    }
    Ok(SecretBytes::new(Encoding::Base64Strict.decode(&value)?))
}

/// The value to put into the variable for `encrypted_key`.
pub fn encode(encrypted_key: &[u8]) -> String {
    STANDARD.encode(encrypted_key)
}

/// What the gem prints for an `environment` keystore key: ends with a newline.
pub fn export_instructions(var: &str, value: &str) -> String {
    format!(
        "\n\n{STARS}\nSet the environment variable as follows:\n  export {var}=\"{value}\"\n{STARS}\n"
    )
}

/// What the gem prints for a `heroku` keystore key: ends with a newline.
pub fn heroku_instructions(var: &str, value: &str) -> String {
    format!(
        "\n\n{STARS}\nAdd the environment key to Heroku:\n\n  heroku config:add {var}={value}\n{STARS}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_the_gem() {
        assert_eq!(
            variable_name("my-app", "production", 2),
            "MY_APP_PRODUCTION_V2"
        );
    }

    #[test]
    fn missing_and_empty_variables_are_named() {
        let e = read_key("SE_UNIT_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Keystore);
        assert!(e
            .to_string()
            .contains("SE_UNIT_TEST_SURELY_UNSET_VAR is not set"));
        std::env::set_var("SE_UNIT_TEST_EMPTY_VAR", "");
        let e = read_key("SE_UNIT_TEST_EMPTY_VAR").unwrap_err();
        assert!(e.to_string().contains("SE_UNIT_TEST_EMPTY_VAR is empty"));
        std::env::set_var("SE_UNIT_TEST_SET_VAR", "AAEC");
        assert_eq!(
            read_key("SE_UNIT_TEST_SET_VAR").unwrap().as_bytes(),
            &[0, 1, 2]
        );
    }
}
