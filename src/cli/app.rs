//! The `symmetric-encryption` command line as a function: argument parsing and printing, over
//! the library functions of [`crate::cli`]. The `symmetric-encryption` binary, `se_cli_main` of
//! the C ABI, `python -m symmetric_encryption` and Ruby's `SymmetricEncryption::CLI.run!` all
//! call [`main`], so every language has the same command line.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Parser};

use crate::cli::bar::Bar;
use crate::cli::crypt::{self, Input, Output, StreamOptions};
use crate::cli::{self, compat, db, info, keys, prompt, reencrypt, Target};
use crate::{Context, Error};

const CRYPT: &str = "Encrypting and decrypting";
const KEYS: &str = "Generating and rotating keys";
const CONFIG: &str = "Configuration";
const OTHER: &str = "Other";

const BEFORE_HELP: &str = "\
Symmetric Encryption: the symmetric-encryption gem's command line, without Ruby.

Note: back up the configuration file, or keep it in version control, before running the
commands that change it (--generate, --rotate-keys, --rotate-kek, --activate-key,
--cleanup-keys, --migrate).";

const USAGE: &str = "\
symmetric-encryption [options]
       symmetric-encryption --encrypt [FILE] | --decrypt [FILE] [--prompt] [--output FILE] [OPTIONS]
       symmetric-encryption --new-password [SIZE] | --re-encrypt [PATTERN] | --info FILE_OR_VALUE
       symmetric-encryption --generate | --rotate-keys | --rotate-kek | --activate-key |
                            --cleanup-keys | --migrate [OPTIONS]
       symmetric-encryption --db URL --inventory TABLE.COLUMN,... [--json]
       symmetric-encryption --db URL --re-encrypt-columns TABLE.COLUMN,... [OPTIONS]
       symmetric-encryption --check | --ciphers | --version | --help";

const AFTER_HELP: &str = "\
Exit status: 0 on success; 1 with a one-line error on standard error; 2 for a usage error.
Encrypted output goes to standard output unless --output is given; prompts, warnings, errors
and the progress bar go to standard error.";

#[derive(Parser, Debug)]
#[command(
    name = "symmetric-encryption",
    version,
    disable_version_flag = true,
    disable_help_flag = true,
    arg_required_else_help = true,
    override_usage = USAGE,
    before_help = BEFORE_HELP,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
#[command(group(
    ArgGroup::new("action")
        .required(true)
        .multiple(false)
        .args([
            "encrypt", "decrypt", "new_password", "re_encrypt", "info", "generate",
            "rotate_keys", "rotate_kek", "activate_key", "cleanup_keys", "migrate",
            "ciphers", "version", "check", "inventory", "re_encrypt_columns",
        ])
))]
struct Args {
    /// Encrypt a file, or standard input when no file is given. With --prompt, encrypt a value
    /// typed at the terminal instead.
    #[arg(short = 'e', long, value_name = "FILE", num_args = 0..=1, help_heading = CRYPT)]
    encrypt: Option<Option<PathBuf>>,

    /// Decrypt a file, or standard input when no file is given. With --prompt, decrypt a value
    /// typed at the terminal instead.
    #[arg(short = 'd', long, value_name = "FILE", num_args = 0..=1, help_heading = CRYPT)]
    decrypt: Option<Option<PathBuf>>,

    /// Write the encrypted or decrypted output to this file. [default: standard output]
    #[arg(short = 'o', long, value_name = "FILE", help_heading = CRYPT)]
    output: Option<PathBuf>,

    /// With --encrypt or --decrypt: read one value from the terminal, without echo (asked
    /// twice when encrypting), and print the result. Without a terminal: the first line of
    /// standard input is the value to encrypt, all of it the value to decrypt.
    #[arg(short = 'P', long, help_heading = CRYPT)]
    prompt: bool,

    /// Compress before encrypting. [default for files, except names ending in .zip, .gz,
    /// .gzip, .xls?]
    #[arg(short = 'z', long, overrides_with = "no_compress", help_heading = CRYPT)]
    compress: bool,

    /// Do not compress before encrypting. [default for values]
    #[arg(short = 'Z', long, overrides_with = "compress", help_heading = CRYPT)]
    no_compress: bool,

    /// Key version to encrypt or re-encrypt with, and to decrypt data without a header.
    /// [default: the first (primary) key of the environment]
    #[arg(short = 'V', long, value_name = "NUMBER", help_heading = CRYPT)]
    key_version: Option<u8>,

    /// The most a compressed value may inflate to when it is decrypted (--decrypt --prompt,
    /// --re-encrypt): bytes, or with a suffix K, M or G (KiB, MiB, GiB). A value that would
    /// inflate past it is refused. [default: 64M]
    #[arg(long, value_name = "SIZE", value_parser = crypt::parse_size, help_heading = CRYPT)]
    max_decompressed_size: Option<u64>,

    /// Generate a random password: URL-safe base64 of SIZE random bytes, printed with its
    /// encrypted form. [default: 22]
    #[arg(short = 'n', long, value_name = "SIZE", num_args = 0..=1,
          default_missing_value = "22", help_heading = CRYPT)]
    new_password: Option<usize>,

    /// Re-encrypt with the current key (or --key-version) every encrypted file matching the
    /// pattern, and every encrypted value inside matching text files up to 256 KiB.
    /// [default: "**/*.{yml,rb}"]
    #[arg(short = 'r', long, value_name = "PATTERN", num_args = 0..=1,
          default_missing_value = reencrypt::DEFAULT_PATTERN, help_heading = CRYPT)]
    re_encrypt: Option<String>,

    /// Show what the header of an encrypted file or value says (key version, cipher,
    /// compression, layout, whether it carries its key) and whether this configuration
    /// decrypts it. Exit status 1 when it does not.
    #[arg(long, value_name = "FILE_OR_VALUE", help_heading = CRYPT)]
    info: Option<String>,

    /// Environment of the configuration file to use. [default: SYMMETRIC_ENCRYPTION_ENV, else
    /// RACK_ENV, else RAILS_ENV, else development]
    #[arg(short = 'E', long, value_name = "ENVIRONMENT", help_heading = CONFIG)]
    env: Option<String>,

    /// The configuration file. [default: SYMMETRIC_ENCRYPTION_CONFIG, else
    /// config/symmetric-encryption.yml]
    #[arg(short = 'c', long, value_name = "CONFIG_FILE_PATH", help_heading = CONFIG)]
    config: Option<PathBuf>,

    /// Check the environment: which configuration file and environment are used and why, every
    /// cipher entry (version, cipher, keystore, where its key is, the key file's mode and owner)
    /// and whether its key loads, and warnings (duplicate versions, GCM entries gem 4.x cannot
    /// read, a primary that is not the highest version, key files other users can read,
    /// development keys in production). Exit status 1 when a key does not load.
    #[arg(long, help_heading = CONFIG)]
    check: bool,

    /// Rewrite the configuration file in the current format (an inline cipher becomes a
    /// ciphers: list). Files in the pre-v4 RSA format must be migrated with the Ruby gem.
    #[arg(short = 'm', long, help_heading = CONFIG)]
    migrate: bool,

    /// Generate a new configuration file and keys for every environment. Refuses to overwrite
    /// an existing configuration file.
    #[arg(short = 'g', long, help_heading = KEYS)]
    generate: bool,

    /// Where new keys are kept. [default: file when generating; when rotating, the keystore
    /// of the current key]
    #[arg(short = 's', long, value_name = "KEYSTORE", help_heading = KEYS,
          value_parser = PossibleValuesParser::new(["file", "environment", "heroku", "aws", "gcp", "vault"]),
          ignore_case = true)]
    keystore: Option<String>,

    /// AWS regions to encrypt the data key for, comma separated (aws keystore). [default:
    /// us-east-1,us-east-2,us-west-1,us-west-2]
    #[arg(short = 'B', long, value_name = "REGIONS", num_args = 0..=1, help_heading = KEYS)]
    regions: Option<Option<String>>,

    /// Directory for new key files. [default: ~/.symmetric-encryption when generating; beside
    /// the current key files when rotating]
    #[arg(short = 'K', long, value_name = "KEY_PATH", help_heading = KEYS)]
    key_path: Option<PathBuf>,

    /// Comma separated octal modes the key files may have (file keystore); the first is the
    /// mode new key files get. Rotation keeps the current setting. [default: 0600,0400]
    #[arg(long, value_name = "PERMISSIONS", help_heading = KEYS)]
    key_permissions: Option<String>,

    /// Application name, used in key file and variable names. [default: symmetric-encryption
    /// when generating; when rotating, the name in the current key file or variable names]
    #[arg(short = 'a', long, value_name = "NAME", help_heading = KEYS)]
    app_name: Option<String>,

    /// Comma separated environments to generate, or to limit rotation, activation and cleanup
    /// to. [default: development,test,release,production when generating; all the file's
    /// environments otherwise]
    #[arg(short = 'S', long, value_name = "ENVIRONMENTS", help_heading = KEYS)]
    environments: Option<String>,

    /// Cipher of new keys, when generating or rotating. GCM values and files are read by gem
    /// 5.0, not by gem 4.6: for gem 4.6 applications use aes-256-cbc (or --gem-4.6).
    /// [default: aes-256-gcm when generating; when rotating, the cipher of the current key]
    #[arg(short = 'C', long, value_name = "NAME", help_heading = KEYS)]
    cipher_name: Option<String>,

    /// With --generate or --rotate-keys: keys that applications still on gem 4.6 (the latest
    /// released gem, which reads CBC only) can use: aes-256-cbc unless --cipher-name names
    /// another CBC cipher, and no key file settings gem 4.6 refuses (--key-permissions).
    #[arg(long = "gem-4.6", help_heading = KEYS)]
    gem46: bool,

    /// Add a new key version (highest + 1) with new key files, first in each environment, and
    /// update the configuration file.
    #[arg(short = 'R', long, help_heading = KEYS)]
    rotate_keys: bool,

    /// Replace the key-encrypting keys only; the data keys and their versions stay. Updates
    /// the configuration file.
    #[arg(short = 'U', long, help_heading = KEYS)]
    rotate_kek: bool,

    /// With --rotate-keys: put the new key second, so it can be deployed everywhere before it
    /// is used (then --activate-key).
    #[arg(short = 'D', long, help_heading = KEYS)]
    rolling_deploy: bool,

    /// Make the key with the highest version the first (primary) key.
    #[arg(short = 'A', long, help_heading = KEYS)]
    activate_key: bool,

    /// Remove all keys but the one with the highest version from the configuration file.
    /// Names what it removes and asks on a terminal. Key files are not deleted.
    #[arg(short = 'X', long, help_heading = KEYS)]
    cleanup_keys: bool,

    /// With --cleanup-keys: do not ask.
    #[arg(long, help_heading = KEYS)]
    force: bool,

    /// List the ciphers, with their key and iv sizes.
    #[arg(short = 'L', long, help_heading = OTHER)]
    ciphers: bool,

    /// Show the version, the crypto backend and the environment.
    #[arg(short = 'v', long, help_heading = OTHER)]
    version: bool,

    /// Print this help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help, help_heading = OTHER)]
    help: Option<bool>,

    #[command(flatten)]
    db: db::DbArgs,
}

impl Args {
    fn key_args(&self) -> keys::KeyArgs {
        keys::KeyArgs {
            environments: self.environments.clone(),
            app_name: self.app_name.clone(),
            keystore: self.keystore.clone(),
            cipher_name: self.cipher_name.clone(),
            key_path: self.key_path.clone(),
            key_permissions: self.key_permissions.clone(),
            regions: match &self.regions {
                Some(Some(r)) => Some(r.clone()),
                _ => None,
            },
            rolling_deploy: self.rolling_deploy,
            gem46: self.gem46,
        }
    }

    fn target(&self) -> Target {
        Target {
            config: self.config.clone(),
            env: self.env.clone(),
        }
    }

    /// `ctx` with the `--max-decompressed-size` limit, when one was given.
    fn limited(&self, ctx: Context) -> Context {
        match self.max_decompressed_size {
            Some(n) => ctx.with_max_decompressed_size(n),
            None => ctx,
        }
    }

    fn compress(&self) -> Option<bool> {
        if self.compress {
            Some(true)
        } else if self.no_compress {
            Some(false)
        } else {
            None
        }
    }

    fn environments(&self) -> Vec<String> {
        self.environments
            .as_deref()
            .map(cli::split_list)
            .unwrap_or_default()
    }
}

/// Prints a single value (`--prompt`, `--new-password`): as text with a line end.
fn print_value(label: Option<&str>, value: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    let trimmed = value.strip_suffix(b"\n").unwrap_or(value);
    let result = (|| {
        if let Some(l) = label {
            write!(out, "{l}")?;
        }
        out.write_all(trimmed)?;
        writeln!(out)?;
        out.flush()
    })();
    result.map_err(|e| Error::io("cannot write standard output", e))
}

/// Writes `text` to standard output. A closed pipe (`| head`) is an error (which `main` turns
/// into a quiet exit), not a panic.
fn say(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

/// Writes a line to standard error; there is nowhere to report a failure to.
fn warn(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

fn print_outcome(out: &keys::Outcome) -> Result<(), Error> {
    say(&out.stdout_text())?;
    for w in &out.warnings {
        warn(w);
    }
    Ok(())
}

/// What went wrong, for `main`: an error to print, or an exit status with the message already
/// printed.
enum Failure {
    Error(Error),
    /// Exit 2 with this error (a usage error of the database commands).
    Usage(Error),
    /// Exit 1 with this one-line message.
    Message(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

fn encrypt(args: &Args, file: Option<&PathBuf>) -> Result<(), Failure> {
    let ctx = args.target().load()?;
    let output = Output::from_arg(args.output.as_deref());
    if args.prompt {
        if file.is_some() {
            return Err(Error::Argument(
                "--prompt reads the value from the terminal: give --encrypt no file with it".into(),
            )
            .into());
        }
        let value = prompt::read_secret_twice(
            "Enter the value to encrypt:",
            "Re-enter the value to encrypt:",
        )?;
        let encrypted =
            crypt::encrypt_value(&ctx, value.as_bytes(), args.compress(), args.key_version)?;
        match output {
            Output::File(path) => crypt::write_value_file(&path, &encrypted)?,
            Output::Stdout => print_value(None, &encrypted)?,
        }
        return Ok(());
    }
    let input = Input::from_arg(file.map(PathBuf::as_path));
    let mut bar = Bar::for_input(&input);
    let opts = StreamOptions {
        compress: args.compress(),
        version: args.key_version,
    };
    let result = crypt::encrypt_stream(&ctx, &input, &output, &opts, &mut |p| bar.update(p));
    bar.clear();
    result?;
    Ok(())
}

fn decrypt(args: &Args, file: Option<&PathBuf>) -> Result<(), Failure> {
    let ctx = args.limited(args.target().load()?);
    let output = Output::from_arg(args.output.as_deref());
    if args.prompt {
        if file.is_some() {
            return Err(Error::Argument(
                "--prompt reads the value from the terminal: give --decrypt no file with it".into(),
            )
            .into());
        }
        let value = prompt::read_value("Enter the value to decrypt:")?;
        let plain = zeroize::Zeroizing::new(crypt::decrypt_value(
            &ctx,
            value.as_bytes(),
            args.key_version,
        )?);
        match output {
            Output::File(path) => crypt::write_value_file(&path, &plain)?,
            Output::Stdout => print_value(None, &plain)?,
        }
        return Ok(());
    }
    let input = Input::from_arg(file.map(PathBuf::as_path));
    let mut bar = Bar::for_input(&input);
    let opts = StreamOptions {
        compress: None,
        version: args.key_version,
    };
    let result = crypt::decrypt_stream(&ctx, &input, &output, &opts, &mut |p| bar.update(p));
    bar.clear();
    result?;
    Ok(())
}

fn new_password(args: &Args, size: usize) -> Result<(), Failure> {
    let ctx = args.target().load()?;
    let password = crypt::new_password(size)?;
    let encrypted = crypt::encrypt_value(&ctx, password.as_bytes(), None, args.key_version)?;
    print_value(Some("Generated Password: "), password.as_bytes())?;
    print_value(Some("Encrypted: "), &encrypted)?;
    if let Some(path) = &args.output {
        crypt::write_value_file(path, &encrypted)?;
    }
    Ok(())
}

fn re_encrypt(args: &Args, pattern: &str) -> Result<(), Failure> {
    let ctx = args.limited(args.target().load()?);
    let mut output = Ok(());
    let summary = reencrypt::re_encrypt(&ctx, pattern, args.key_version, &mut |r| {
        if let Some(line) = r.line() {
            if r.is_failure() {
                warn(&line);
            } else if output.is_ok() {
                output = say(&format!("{line}\n"));
            }
        }
    })?;
    output?;
    if summary.files == 0 {
        // Nothing was done: a note on standard error, as the gem prints nothing at all.
        warn(&summary.line(pattern));
    } else {
        say(&format!("{}\n", summary.line(pattern)))?;
    }
    if summary.failures > 0 {
        return Err(Failure::Message(format!(
            "{} file(s) could not be fully re-encrypted and were left as they were (named above)",
            summary.failures
        )));
    }
    Ok(())
}

fn show_info(args: &Args, subject: &str) -> Result<(), Failure> {
    let target = args.target();
    let label = format!(
        "{}, environment {}",
        target.config_path().display(),
        target.environment()
    );
    let loaded = target.load();
    let info = info::describe(subject, &loaded, &label, args.key_version)?;
    say(&info.to_string())?;
    if !info.decrypts() {
        return Err(Failure::Message(format!(
            "{label} cannot decrypt it (see \"decrypts\" above)"
        )));
    }
    Ok(())
}

fn check(args: &Args) -> Result<(), Failure> {
    let report = cli::check::check(&args.target())?;
    say(&report.to_string())?;
    if !report.passed() {
        return Err(Failure::Message(format!(
            "environment {} does not load (see \"loads\" and \"result\" above)",
            args.target().environment()
        )));
    }
    Ok(())
}

fn generate_config(args: &Args) -> Result<(), Failure> {
    let opts = args.key_args().generate_options()?;
    let mut out = keys::generate(&args.target().config_path(), &opts)?;
    if args.gem46 {
        gem46_check(args, &opts.environments, &mut out)?;
    }
    print_outcome(&out)?;
    Ok(())
}

/// After `--gem-4.6`: the entries of the written file that gem 4.6 still cannot use.
fn gem46_check(args: &Args, environments: &[String], out: &mut keys::Outcome) -> Result<(), Error> {
    let config = args.target().config()?;
    let problems = compat::gem46_problems(&config, environments);
    if !problems.is_empty() {
        out.warnings.push(format!(
            "warning: gem 4.6 cannot use these entries, which the file still has (remove them \
             with --cleanup-keys once their data is re-encrypted): {}",
            problems.join("; ")
        ));
    }
    Ok(())
}

fn cleanup(args: &Args) -> Result<(), Failure> {
    let plan = keys::cleanup_plan(&args.target().config_path(), &args.environments())?;
    if !plan.is_empty() {
        say(&plan.warning())?;
        if !args.force && !prompt::confirm("Remove them? Type 'yes' to continue:")? {
            say(&format!("{}\n", plan.declined()))?;
            return Ok(());
        }
    }
    print_outcome(&plan.apply()?)?;
    Ok(())
}

/// `--inventory`, `--re-encrypt-columns`. Their argument errors (no --db, a bad --shard, a
/// table that is not there or has no primary key) exit 2.
fn db_command(args: &Args) -> Result<(), Failure> {
    let done =
        db::command(&args.db, &args.target(), args.key_version, &warn).map_err(|e| {
            match e.kind() {
                crate::ErrorKind::Argument => Failure::Usage(e),
                _ => Failure::Error(e),
            }
        })?;
    say(&done.stdout)?;
    if done.undecryptable > 0 {
        return Err(Failure::Message(format!(
            "{} value(s) could not be decrypted with this configuration and were left as they \
             were (listed above)",
            done.undecryptable
        )));
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), Failure> {
    let path = args.target().config_path();
    if args.gem46 && !(args.generate || args.rotate_keys) {
        return Err(Error::Argument(
            "--gem-4.6 goes with --generate or --rotate-keys (the keys they make)".into(),
        )
        .into());
    }
    if args.db.inventory.is_some() || args.db.re_encrypt_columns.is_some() {
        db_command(args)?;
    } else if args.version {
        say(&cli::version_text(&args.target()))?;
    } else if args.ciphers {
        say(&cli::ciphers_text())?;
    } else if let Some(file) = &args.encrypt {
        encrypt(args, file.as_ref())?;
    } else if let Some(file) = &args.decrypt {
        decrypt(args, file.as_ref())?;
    } else if let Some(size) = args.new_password {
        new_password(args, size)?;
    } else if let Some(pattern) = &args.re_encrypt {
        re_encrypt(args, pattern)?;
    } else if let Some(subject) = &args.info {
        show_info(args, subject)?;
    } else if args.check {
        check(args)?;
    } else if args.migrate {
        print_outcome(&keys::migrate(&path)?)?;
    } else if args.activate_key {
        print_outcome(&keys::activate_key(&path, &args.environments())?)?;
    } else if args.rotate_kek {
        print_outcome(&keys::rotate_kek(
            &path,
            &args.environments(),
            args.app_name.as_deref(),
        )?)?;
    } else if args.rotate_keys {
        let rotate = args.key_args().rotate_keys_args()?;
        let mut out = keys::rotate_keys(&path, &rotate)?;
        if args.gem46 && out.written {
            gem46_check(args, &args.environments(), &mut out)?;
        }
        print_outcome(&out)?;
    } else if args.cleanup_keys {
        cleanup(args)?;
    } else if args.generate {
        generate_config(args)?;
    }
    Ok(())
}

/// One line, whatever the message: line breaks become spaces.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the command failed only because standard output was closed by its reader
/// (`| head`): that ends the command quietly, as it ends `cat`.
fn is_closed_pipe(failure: &Failure) -> bool {
    matches!(failure, Failure::Error(Error::Io { source, .. })
        if source.kind() == io::ErrorKind::BrokenPipe)
}

/// Runs the command line on `args` (the first is the program name, as in `argv`), printing to
/// the process's standard output and error, and returns the exit status: 0 on success, 1 with a
/// one-line error on standard error, 2 for a usage error (printed by the parser).
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            let _ = io::stdout().flush();
            return e.exit_code();
        }
    };
    let status = match run(&args) {
        Ok(()) => 0,
        Err(failure) if is_closed_pipe(&failure) => 0,
        Err(failure) => {
            let (message, status) = match failure {
                Failure::Error(e) => (e.to_string(), 1),
                Failure::Usage(e) => (e.to_string(), 2),
                Failure::Message(m) => (m, 1),
            };
            warn(&format!("symmetric-encryption: {}", one_line(&message)));
            status
        }
    };
    let _ = io::stdout().flush();
    status
}
