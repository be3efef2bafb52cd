//! Minimal `--key value` argument parsing shared by the example binaries.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::Error;

/// Parsed `--key value` pairs and bare `--flag`s.
#[derive(Clone, Debug, Default)]
pub struct Args {
    values: BTreeMap<String, String>,
}

impl Args {
    /// Parse `std::env::args()` (skipping the program name).
    pub fn from_env() -> Result<Self, Error> {
        Self::parse(std::env::args().skip(1))
    }

    /// Parse an argument list.
    ///
    /// ```
    /// let a = taosr1::cli::Args::parse(["--steps", "5", "--quiet"].map(String::from)).unwrap();
    /// assert_eq!(a.get("steps", 1usize).unwrap(), 5);
    /// assert!(a.flag("quiet"));
    /// assert!(taosr1::cli::Args::parse(["stray".to_string()]).is_err());
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, Error> {
        let mut values = BTreeMap::new();
        let mut it = args.into_iter().peekable();
        while let Some(a) = it.next() {
            let key = a.strip_prefix("--").ok_or_else(|| {
                Error::Input(format!("unexpected argument `{a}` (use --key value)"))
            })?;
            let value = match it.peek() {
                Some(v) if !v.starts_with("--") => it.next().unwrap_or_default(),
                _ => String::new(),
            };
            values.insert(key.to_string(), value);
        }
        Ok(Self { values })
    }

    /// Value of `--key`, or `default` when absent.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T, Error> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Error::Input(format!("invalid value `{v}` for --{key}"))),
        }
    }

    /// Value of `--key` if given.
    ///
    /// ```
    /// let a = taosr1::cli::Args::parse(["--steps", "5"].map(String::from)).unwrap();
    /// assert_eq!(a.opt::<usize>("steps").unwrap(), Some(5));
    /// assert_eq!(a.opt::<usize>("epochs").unwrap(), None);
    /// ```
    pub fn opt<T: FromStr>(&self, key: &str) -> Result<Option<T>, Error> {
        self.values
            .get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::Input(format!("invalid value `{v}` for --{key}")))
            })
            .transpose()
    }

    /// Optional string value of `--key`.
    pub fn string(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether `--key` was given.
    pub fn flag(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }
}

/// Exit status of an example's `run()`: errors are printed with their `Display` message
/// (which names the file, line or field at fault) instead of `Debug`.
///
/// ```
/// let code = taosr1::cli::report(Err(taosr1::Error::Input("no data".into())));
/// assert_eq!(code, std::process::ExitCode::FAILURE);
/// ```
pub fn report(result: Result<(), Error>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
