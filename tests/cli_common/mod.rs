//! Running the `symmetric-encryption` binary in a scratch directory, as an operator would.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use symmetric_encryption::{Config, Context};

pub const BIN: &str = env!("CARGO_BIN_EXE_symmetric-encryption");

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Asserts success (exit 0, no panic) and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code,
            0,
            "{:?} failed: stderr {:?}, stdout {:?}",
            self.args,
            self.stderr,
            String::from_utf8_lossy(&self.stdout)
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// Asserts the error contract: exit 1, one line on stderr starting with the program name,
    /// containing every piece of `expected`. Returns the message.
    #[track_caller]
    pub fn fails(self, expected: &[&str]) -> String {
        assert_eq!(
            self.code,
            1,
            "{:?} should fail with status 1: stderr {:?}, stdout {:?}",
            self.args,
            self.stderr,
            String::from_utf8_lossy(&self.stdout)
        );
        let last = self.stderr.lines().last().unwrap_or_default().to_string();
        assert!(
            last.starts_with("symmetric-encryption: "),
            "error line {last:?} (stderr {:?})",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(!self.stderr.contains("stack backtrace"), "{}", self.stderr);
        for e in expected {
            assert!(last.contains(e), "{last:?} should contain {e:?}");
        }
        last
    }

    /// Asserts a usage error: exit 2.
    #[track_caller]
    pub fn usage_error(self) -> String {
        assert_eq!(self.code, 2, "{:?}: {}", self.args, self.stderr);
        self.stderr
    }
}

/// The command, in `dir`, with none of the variables that choose a configuration or an
/// environment, and `HOME` in `dir` (for the default key path).
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("RUST_BACKTRACE", "1")
        .env_remove("SYMMETRIC_ENCRYPTION_CONFIG")
        .env_remove("SYMMETRIC_ENCRYPTION_ENV")
        .env_remove("SYMMETRIC_ENCRYPTION_DB")
        .env_remove("RACK_ENV")
        .env_remove("RAILS_ENV");
    c
}

/// Runs with `stdin` as standard input (empty: none) and the extra variables `env`.
pub fn run_with(dir: &Path, args: &[&str], env: &[(String, String)], stdin: &[u8]) -> Run {
    let mut c = command(dir, args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("the binary runs");
    {
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        // Written from a thread so that a large input cannot deadlock against a full stdout.
        std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
    }
    let out = child.wait_with_output().expect("the binary finishes");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, args, &[], b"")
}

/// A scratch directory.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

/// The exported variables in the gem's `export NAME="VALUE"` and `heroku config:add NAME=VALUE`
/// blocks.
pub fn exported(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("export ")
                .or_else(|| l.strip_prefix("heroku config:add "))?;
            let (name, value) = rest.split_once('=')?;
            Some((name.to_string(), value.trim_matches('"').to_string()))
        })
        .collect()
}

/// Loads `env` of the configuration at `dir/config` through the library, with relative key
/// paths against `dir` and the variables `vars` set in this process.
pub fn library_context(dir: &Path, config: &str, env: &str, vars: &[(String, String)]) -> Context {
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    Config::from_path(&dir.join(config))
        .unwrap_or_else(|e| panic!("{config} does not parse: {e}"))
        .with_key_dir(dir)
        .context(Some(env))
        .unwrap_or_else(|e| panic!("{config} environment {env} does not load: {e}"))
}

/// The vectors directory.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The file's mode bits.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Splits a shell-like command line of the vectors (no quoting in them) into arguments,
/// dropping the program name.
pub fn gem_args(command: &str) -> Vec<String> {
    command
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

mod yaml_mask;
#[allow(unused_imports)] // not every test crate compares YAML
pub use yaml_mask::masked_yaml;
