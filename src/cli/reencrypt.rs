//! `--re-encrypt [PATTERN]`: moves data to the current key (or `--key-version`) after a key
//! rotation, so that the old keys can be removed with `--cleanup-keys`.
//!
//! For every file matching the pattern (default `**/*.{yml,rb}`, braces expanded here, then
//! glob; names starting with a dot are only matched by a pattern that spells the dot, as in
//! Ruby's `Dir[]`):
//! - a whole encrypted file (it starts with an `@EnC` header) is decrypted and encrypted again
//!   with the target version, keeping its compression, through a temporary file renamed over
//!   the original (which keeps its permissions);
//! - any other file of at most [`MAX_TEXT_FILE`] bytes is searched for encrypted values (the
//!   encoded magic header followed by the rest of the encoded value); each one that decrypts is
//!   replaced in place by the same plaintext encrypted with the target version;
//! - values and files already at the target version are left as they are; so is anything that
//!   does not decrypt with this configuration, and it is named.
//!
//! Symbolic links are followed: the file they point to is rewritten, the link stays.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::cipher::CipherName;
use crate::context::{Context, EncryptOptions};
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::header;
use crate::stream::{self, AtomicFile, FileWriter, Reader, ReaderOptions, WriterOptions};

/// The gem's default pattern.
pub const DEFAULT_PATTERN: &str = "**/*.{yml,rb}";

/// Files larger than this are searched for values only if they are whole encrypted files.
pub const MAX_TEXT_FILE: u64 = 256 * 1024;

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// A whole encrypted file, re-encrypted.
    File {
        /// The version it was encrypted with.
        from: u8,
        /// The version it is encrypted with now.
        to: u8,
    },
    /// A whole encrypted file already at the target version.
    FileCurrent {
        /// That version.
        version: u8,
    },
    /// Encrypted values found in a text file.
    Values {
        /// Re-encrypted and replaced.
        replaced: usize,
        /// Already at the target version.
        current: usize,
        /// Could not be decrypted with this configuration; left as they were.
        failed: usize,
        /// Why the first failed value could not be decrypted.
        error: Option<String>,
    },
    /// No encrypted value in the file.
    Nothing,
    /// Not an encrypted file, and too large to search for values.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
    /// The file could not be re-encrypted; it was left as it was.
    Failed {
        /// Why.
        error: String,
    },
}

/// One file's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// What was done to it.
    pub outcome: FileOutcome,
}

impl FileReport {
    /// Whether something in this file could not be decrypted or rewritten.
    pub fn is_failure(&self) -> bool {
        matches!(
            self.outcome,
            FileOutcome::Failed { .. } | FileOutcome::Values { failed: 1.., .. }
        )
    }

    /// The line to print for this file, `None` for a file with nothing in it.
    pub fn line(&self) -> Option<String> {
        let p = self.path.display();
        Some(match &self.outcome {
            FileOutcome::File { from, to } => {
                // The gem's wording (scripts grep for it), with the versions added.
                format!("Re-encrypting entire file: {p} (version {from} -> {to})")
            }
            FileOutcome::FileCurrent { version } => {
                format!("Skipping already re-encrypted file: {p} (version {version})")
            }
            FileOutcome::Values {
                replaced,
                current,
                failed,
                error,
            } => {
                let mut parts = Vec::new();
                if *replaced > 0 {
                    parts.push(format!("re-encrypted {replaced} encrypted value(s)"));
                }
                if *current > 0 {
                    parts.push(format!("{current} value(s) already current"));
                }
                if *failed > 0 {
                    parts.push(format!(
                        "{failed} value(s) could not be decrypted and were left as they were ({})",
                        error.as_deref().unwrap_or("unknown error")
                    ));
                }
                let mut s = parts.join(", ");
                if let Some(first) = s.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                format!("{s} in: {p}")
            }
            FileOutcome::Nothing => return None,
            FileOutcome::TooLarge { size } => format!(
                "Skipped, not an encrypted file and larger than {} KiB ({size} bytes): {p}",
                MAX_TEXT_FILE / 1024
            ),
            FileOutcome::Failed { error } => {
                format!("Could not re-encrypt, left unchanged: {p}: {error}")
            }
        })
    }
}

/// Totals over all files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files matched by the pattern (directories excluded).
    pub files: usize,
    /// Whole files re-encrypted.
    pub files_reencrypted: usize,
    /// Values replaced, over all text files.
    pub values_reencrypted: usize,
    /// Files with something that could not be decrypted or rewritten.
    pub failures: usize,
    /// The version everything was re-encrypted to.
    pub version: u8,
}

impl Summary {
    /// The closing line.
    pub fn line(&self, pattern: &str) -> String {
        if self.files == 0 {
            return format!("No files match {pattern}");
        }
        let mut s = format!(
            "Re-encrypted {} whole file(s) and {} value(s) to version {}, in {} file(s) \
             matching {pattern}",
            self.files_reencrypted, self.values_reencrypted, self.version, self.files
        );
        if self.failures > 0 {
            s.push_str(&format!(
                "; {} file(s) could not be fully re-encrypted (named above)",
                self.failures
            ));
        }
        s
    }
}

/// Expands shell braces: `a/*.{yml,rb}` -> `a/*.yml`, `a/*.rb`. Nested and repeated groups are
/// expanded; an unmatched brace is kept as it is.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = bytes.iter().position(|&b| b == b'{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alternative = &pattern[w[0] + 1..w[1]];
        for expanded in expand_braces(&format!("{head}{alternative}{tail}")) {
            if !out.contains(&expanded) {
                out.push(expanded);
            }
        }
    }
    out
}

/// The files matching `pattern` (braces expanded), in order, each once (a file also reached
/// through a symbolic link is listed under the first name found); directories skipped.
pub fn matching_files(pattern: &str) -> Result<Vec<PathBuf>> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in expand_braces(pattern) {
        let paths = glob::glob_with(&p, opts).map_err(|e| {
            Error::Argument(format!(
                "--re-encrypt pattern {pattern:?} is not valid: {e}"
            ))
        })?;
        for entry in paths {
            let path = entry.map_err(|e| {
                Error::io(
                    format!("cannot search {}", e.path().display()),
                    io::Error::new(e.error().kind(), e.error().to_string()),
                )
            })?;
            if path.is_file() && seen.insert(std::fs::canonicalize(&path).unwrap_or(path.clone())) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn alphabet(encoding: Encoding) -> Option<fn(u8) -> bool> {
    match encoding {
        Encoding::Base64 | Encoding::Base64Strict => {
            Some(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        }
        Encoding::Base64UrlSafe => Some(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        Encoding::Base16 => Some(|b| b.is_ascii_hexdigit()),
        Encoding::None => None,
    }
}

/// Where encrypted values are in `text`: each starts with the encoded magic header (not in the
/// middle of a longer encoded run) and runs over the encoding's alphabet and padding. For
/// `base64` (a line break every 60 characters), a value continues over the line breaks.
pub fn find_values(text: &[u8], encoding: Encoding) -> Vec<Range<usize>> {
    let Some(is_char) = alphabet(encoding) else {
        return Vec::new();
    };
    let prefix = encoding.magic_prefix();
    let padded = encoding != Encoding::Base16;
    let mut found = Vec::new();
    let mut i = 0;
    while i + prefix.len() <= text.len() {
        if !text[i..].starts_with(prefix) || (i > 0 && is_char(text[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut line = 0;
        loop {
            while end < text.len() && is_char(text[end]) {
                end += 1;
                line += 1;
            }
            let continues = encoding == Encoding::Base64
                && line == 60
                && text.get(end) == Some(&b'\n')
                && text.get(end + 1).is_some_and(|&b| is_char(b));
            if !continues {
                break;
            }
            end += 1;
            line = 0;
        }
        if padded {
            let mut pad = 0;
            while pad < 2 && text.get(end) == Some(&b'=') {
                end += 1;
                pad += 1;
            }
        }
        found.push(start..end);
        i = end.max(start + 1);
    }
    found
}

/// What became of one value.
enum ValueResult {
    Replaced(Vec<u8>),
    Current,
    Failed(Error),
}

fn re_encrypt_value(ctx: &Context, value: &[u8], target: u8) -> ValueResult {
    let parsed = match ctx.header(value) {
        Ok(Some(h)) => h,
        Ok(None) => {
            return ValueResult::Failed(Error::Cipher("no header after the magic bytes".into()))
        }
        Err(e) => return ValueResult::Failed(e),
    };
    if parsed.version == target {
        return ValueResult::Current;
    }
    let plain = match ctx.decrypt(value) {
        Ok(p) => Zeroizing::new(p),
        Err(e) => return ValueResult::Failed(e),
    };
    // A CBC value with an iv in its header was written with a random iv: keep it random. GCM
    // values keep the configuration's default (deterministic unless randomize_iv).
    let written_by = parsed
        .cipher_name
        .as_deref()
        .and_then(|n| CipherName::from_name(n).ok())
        .or_else(|| {
            ctx.cipher_for_header(parsed.version)
                .ok()
                .map(|c| c.cipher_name())
        });
    let random_iv =
        (parsed.iv.is_some() && written_by.is_some_and(|n| !n.is_authenticated())).then_some(true);
    let opts = EncryptOptions {
        random_iv,
        compress: Some(parsed.compressed),
        version: Some(target),
        header: None,
    };
    match ctx.encrypt(&plain, &opts) {
        Ok(mut v) => {
            while v.last() == Some(&b'\n') {
                v.pop();
            }
            ValueResult::Replaced(v)
        }
        Err(e) => ValueResult::Failed(e),
    }
}

fn is_whole_encrypted_file(path: &Path) -> io::Result<bool> {
    let mut first = [0u8; 7];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < first.len() {
        match f.read(&mut first[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(header::present(&first[..n]))
}

fn re_encrypt_whole_file(ctx: &Context, path: &Path, target: u8) -> Result<FileOutcome> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
    let f =
        File::open(&real).map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    let mut reader = Reader::new(ctx, BufReader::new(f), &ReaderOptions::default())?;
    let from = reader.header().map(|h| h.version).unwrap_or(0);
    if from == target {
        return Ok(FileOutcome::FileCurrent { version: target });
    }
    let opts = WriterOptions {
        compress: Some(reader.is_compressed()),
        version: Some(target),
        ..WriterOptions::default()
    };
    let mut writer = FileWriter::create(ctx, &real, &opts)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(stream::into_error(e)),
        };
        writer.write_all(&buf[..n]).map_err(stream::into_error)?;
    }
    buf.fill(0);
    writer.finish()?;
    Ok(FileOutcome::File { from, to: target })
}

fn re_encrypt_text_file(ctx: &Context, path: &Path, target: u8) -> Result<FileOutcome> {
    let text =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let ranges = find_values(&text, ctx.encoding());
    if ranges.is_empty() {
        return Ok(FileOutcome::Nothing);
    }
    let (mut replaced, mut current, mut failed) = (0, 0, 0);
    let mut error = None;
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut last = 0;
    for r in ranges {
        out.extend_from_slice(&text[last..r.start]);
        match re_encrypt_value(ctx, &text[r.clone()], target) {
            ValueResult::Replaced(v) => {
                out.extend_from_slice(&v);
                replaced += 1;
            }
            ValueResult::Current => {
                out.extend_from_slice(&text[r.clone()]);
                current += 1;
            }
            ValueResult::Failed(e) => {
                out.extend_from_slice(&text[r.clone()]);
                failed += 1;
                error.get_or_insert_with(|| e.to_string());
            }
        }
        last = r.end;
    }
    out.extend_from_slice(&text[last..]);
    if replaced > 0 {
        let real = std::fs::canonicalize(path)
            .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
        let mut f = AtomicFile::create(&real)?;
        f.file
            .write_all(&out)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        f.commit()?;
    }
    Ok(FileOutcome::Values {
        replaced,
        current,
        failed,
        error,
    })
}

/// Re-encrypts one file (see the module documentation). Never fails: a file that cannot be
/// re-encrypted is left as it was, and the outcome says why.
pub fn re_encrypt_file(ctx: &Context, path: &Path, target: u8) -> FileReport {
    let outcome = (|| -> Result<FileOutcome> {
        let whole = is_whole_encrypted_file(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if whole {
            return re_encrypt_whole_file(ctx, path, target);
        }
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?
            .len();
        if size > MAX_TEXT_FILE {
            return Ok(FileOutcome::TooLarge { size });
        }
        re_encrypt_text_file(ctx, path, target)
    })()
    .unwrap_or_else(|e| FileOutcome::Failed {
        error: e.to_string(),
    });
    FileReport {
        path: path.to_path_buf(),
        outcome,
    }
}

/// `--re-encrypt`: every file matching `pattern`, to `version` (default: the primary's).
/// `on_file` sees each file's report as it is done.
pub fn re_encrypt(
    ctx: &Context,
    pattern: &str,
    version: Option<u8>,
    on_file: &mut dyn FnMut(&FileReport),
) -> Result<Summary> {
    super::crypt::check_version(ctx, version)?;
    let target = version.unwrap_or_else(|| ctx.primary().version());
    let mut summary = Summary {
        version: target,
        ..Summary::default()
    };
    for path in matching_files(pattern)? {
        let report = re_encrypt_file(ctx, &path, target);
        summary.files += 1;
        match &report.outcome {
            FileOutcome::File { .. } => summary.files_reencrypted += 1,
            FileOutcome::Values { replaced, .. } => summary.values_reencrypted += replaced,
            _ => {}
        }
        if report.is_failure() {
            summary.failures += 1;
        }
        on_file(&report);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_like_a_shell() {
        assert_eq!(expand_braces("**/*.{yml,rb}"), ["**/*.yml", "**/*.rb"]);
        assert_eq!(expand_braces("plain/*.yml"), ["plain/*.yml"]);
        assert_eq!(
            expand_braces("{a,b}/{c,d{e,f}}"),
            ["a/c", "a/de", "a/df", "b/c", "b/de", "b/df"]
        );
        assert_eq!(expand_braces("x{y"), ["x{y"]);
        assert_eq!(expand_braces("{a,a}"), ["a"]);
    }

    #[test]
    fn values_are_found_and_bounded() {
        let text = b"a: QEVuQwJIABCD==\nb: xQEVuQwno\nc: \"QEVuQwJI+/9\"\n";
        let found: Vec<&[u8]> = find_values(text, Encoding::Base64Strict)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(found, [&b"QEVuQwJIABCD=="[..], &b"QEVuQwJI+/9"[..]]);
        let hex = b"k: 40456e430148aa\n";
        let found = find_values(hex, Encoding::Base16);
        assert_eq!(&hex[found[0].clone()], b"40456e430148aa");
        assert!(find_values(b"QEVuQw", Encoding::None).is_empty());
    }

    #[test]
    fn base64_values_continue_over_their_line_breaks() {
        let line1 = format!("QEVuQw{}", "A".repeat(54));
        let text = format!("v: {line1}\nBBBB==\nnext: 1\n");
        let r = find_values(text.as_bytes(), Encoding::Base64);
        assert_eq!(&text[r[0].clone()], format!("{line1}\nBBBB=="));
        let r = find_values(text.as_bytes(), Encoding::Base64Strict);
        assert_eq!(&text[r[0].clone()], line1);
    }
}
