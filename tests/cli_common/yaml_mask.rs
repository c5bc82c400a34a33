//! Comparing the layout of YAML files whose keys are random: used by the CLI tests (through
//! `cli_common`) and by `config_rotation.rs` (with `#[path]`).

/// `text` with every `key`, `iv` and `encrypted_key` value masked: a `!binary |-` block, or, for
/// random bytes that happen to be all ASCII (1 in 4096 for a 12-byte iv), a quoted string, as
/// Psych writes them and so does this library.
pub fn masked_yaml(text: &str) -> String {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let trimmed = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let indent = &line[..line.len() - trimmed.len()];
        let field = ["key: ", "iv: ", "encrypted_key: "]
            .iter()
            .find(|name| trimmed.starts_with(*name));
        match field {
            Some(name) => {
                if trimmed.trim_end().ends_with("!binary |-") {
                    lines.next();
                }
                out.push(format!("{indent}{name}<bytes>"));
            }
            None => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

#[test]
fn random_bytes_are_masked_whichever_way_they_are_written() {
    let block = "  - iv: !binary |-\n      q83vEjRWeJA=\n    version: 1";
    let quoted = "  - iv: \".<4n\\x1C7S~)!\\x0F\\x7F\"\n    version: 1";
    assert_eq!(masked_yaml(block), masked_yaml(quoted));
    let other = "  - iv: !binary |-\n      q83vEjRWeJA=\n    version: 2";
    assert_ne!(masked_yaml(block), masked_yaml(other));
}
