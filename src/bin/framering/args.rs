//! The command-line parser shared by `framering` and the examples (they
//! include this file): `--switch`, `--key value` and positional words, with
//! everything after `--` positional (so a ring may be named `--json`), and
//! every number parsed whole and checked against its range — never
//! truncated, wrapped or left to panic later.
//!
//! Errors are the message for a usage line (the callers exit with status 2).

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Command-line words not consumed yet.
#[derive(Debug)]
pub struct Args {
    words: Vec<String>,
    /// After `--`: positional only.
    tail: Vec<String>,
}

#[allow(dead_code)] // each program uses a subset
impl Args {
    /// Splits `args` at the first `--`.
    pub fn new(args: impl IntoIterator<Item = String>) -> Self {
        let mut words: Vec<String> = args.into_iter().collect();
        let tail = match words.iter().position(|a| a == "--") {
            Some(i) => {
                let tail = words.split_off(i + 1);
                words.pop();
                tail
            }
            None => Vec::new(),
        };
        Self { words, tail }
    }

    /// True if the switch `name` was given (and removes it).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.words.len();
        self.words.retain(|a| a != name);
        before != self.words.len()
    }

    /// The value after `name`, if given.
    pub fn text(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.words.iter().position(|a| a == name) else { return Ok(None) };
        if i + 1 >= self.words.len() {
            return Err(format!("{name} needs a value"));
        }
        let value = self.words.remove(i + 1);
        self.words.remove(i);
        Ok(Some(value))
    }

    /// The value after `name` through `parse`, if given; `expected` says
    /// what a good value looks like.
    pub fn parse<T>(
        &mut self,
        name: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, String> {
        match self.text(name)? {
            None => Ok(None),
            Some(raw) => parse(&raw).map(Some).ok_or_else(|| format!("{name} needs {expected}, got {raw:?}")),
        }
    }

    /// The number after `name`, or `default`; it must parse whole and lie
    /// in `range` (NaN never does).
    pub fn number<T>(&mut self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T, String>
    where
        T: FromStr + PartialOrd + Display,
    {
        let expected = format!("a number in {}..={}", range.start(), range.end());
        Ok(self.parse(name, &expected, |s| s.parse().ok().filter(|v| range.contains(v)))?.unwrap_or(default))
    }

    /// `--owner UID|any`: whose rings a reader accepts (see
    /// `Consumer::with_owner`). Default: this user's (or root's); `any`:
    /// every ring this user may read.
    pub fn owner(&mut self) -> Result<Option<u32>, String> {
        match self.text("--owner")?.as_deref() {
            None => Ok(Some(framering::admin::current_uid())),
            Some("any") => Ok(None),
            Some(uid) => uid.parse().map(Some).map_err(|_| format!("--owner needs a user id or `any`, got {uid:?}")),
        }
    }

    /// Takes the first positional word (a subcommand), if any.
    pub fn first(&mut self) -> Option<String> {
        match self.words.first() {
            Some(w) if !w.starts_with('-') => Some(self.words.remove(0)),
            _ if self.words.is_empty() && !self.tail.is_empty() => Some(self.tail.remove(0)),
            _ => None,
        }
    }

    /// The one remaining positional word (a ring name) for `command`.
    pub fn name(self, command: &str) -> Result<String, String> {
        match self.optional_name(command)? {
            Some(name) => Ok(name),
            None => Err(format!("{command} takes exactly one ring name")),
        }
    }

    /// At most one remaining positional word.
    pub fn optional_name(self, command: &str) -> Result<Option<String>, String> {
        if let Some(option) = self.words.iter().find(|a| a.starts_with('-')) {
            return Err(format!("unknown option {option} (put a ring name that starts with '-' after --)"));
        }
        let mut words = self.words.into_iter().chain(self.tail);
        match (words.next(), words.next()) {
            (name, None) => Ok(name),
            _ => Err(format!("{command} takes exactly one ring name")),
        }
    }

    /// Every remaining positional word (ring names), none of them an option.
    pub fn names(self) -> Result<Vec<String>, String> {
        if let Some(option) = self.words.iter().find(|a| a.starts_with('-')) {
            return Err(format!("unknown option {option} (put a ring name that starts with '-' after --)"));
        }
        Ok(self.words.into_iter().chain(self.tail).collect())
    }

    /// Succeeds if every word was understood.
    pub fn finish(self) -> Result<(), String> {
        match self.words.first().or(self.tail.first()) {
            Some(a) => Err(format!("unexpected argument {a:?}")),
            None => Ok(()),
        }
    }
}

/// Parses octal permission bits such as `0640`, `640` or `0o640` (at most
/// `0777`).
#[allow(dead_code)] // each program uses a subset
pub fn octal(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8).ok().filter(|m| *m <= 0o777)
}

/// For the examples: parses the process's arguments with `parse`, printing
/// `usage` and exiting 0 on `--help`, and 2 with the message on any error
/// or word left over.
#[allow(dead_code)] // each program uses a subset
pub fn from_env_or_exit<T>(usage: &str, parse: impl FnOnce(&mut Args) -> Result<T, String>) -> T {
    let mut args = Args::new(std::env::args().skip(1));
    if args.flag("--help") || args.flag("-h") {
        println!("{usage}");
        std::process::exit(0);
    }
    match parse(&mut args).and_then(|t| args.finish().map(|()| t)) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("error: {msg}\n\n{usage}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Args {
        Args::new(words.iter().map(|w| w.to_string()))
    }

    #[test]
    fn numbers_are_whole_and_in_range() {
        let mut a = args(&["--slots", "4294967298", "--fps", "-1", "--n", "7", "--x", "1e-300", "--q", "NaN"]);
        assert!(a.number("--slots", 4u32, 2..=1024).unwrap_err().contains("2..=1024"));
        assert!(a.number("--fps", 30.0, 0.0..=1000.0).is_err());
        assert_eq!(a.number("--n", 0u64, 0..=10).unwrap(), 7);
        assert_eq!(a.number("--absent", 5u64, 0..=10).unwrap(), 5);
        assert!(a.number("--x", 1.0, 0.001..=1000.0).is_err(), "a tiny positive rate is refused, not used");
        assert!(a.number("--q", 1.0, 0.0..=1000.0).is_err(), "NaN is in no range");
        a.finish().unwrap();
    }

    #[test]
    fn a_double_dash_makes_the_rest_positional() {
        let mut a = args(&["--json", "--", "--json"]);
        assert!(a.flag("--json"));
        assert_eq!(a.name("info").unwrap(), "--json");
        assert!(args(&["--odd"]).name("info").unwrap_err().contains("after --"));
        assert!(args(&["a", "b"]).name("info").is_err());
        assert!(args(&["x"]).finish().is_err());
    }
}
