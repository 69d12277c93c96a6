//! A minimal `--flag value` command-line parser shared by the examples.

use std::str::FromStr;

/// The command-line arguments not consumed yet.
pub struct Args {
    rest: Vec<String>,
    usage: &'static str,
}

impl Args {
    /// Takes the process arguments; `--help` prints `usage` and exits.
    pub fn from_env(usage: &'static str) -> Self {
        let rest: Vec<String> = std::env::args().skip(1).collect();
        if rest.iter().any(|a| a == "--help" || a == "-h") {
            println!("{usage}");
            std::process::exit(0);
        }
        Self { rest, usage }
    }

    /// True if the switch `name` was given (and removes it).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// The value after `name`, parsed, or `default` if absent. Exits with
    /// the usage on a missing or unparsable value.
    pub fn value<T: FromStr>(&mut self, name: &str, default: T) -> T {
        self.parse(name, default, |s| s.parse().ok())
    }

    /// Like `value`, with a custom parser.
    pub fn parse<T>(&mut self, name: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> T {
        let Some(i) = self.rest.iter().position(|a| a == name) else { return default };
        if i + 1 >= self.rest.len() {
            self.fail(&format!("{name} needs a value"));
        }
        let raw = self.rest.remove(i + 1);
        self.rest.remove(i);
        parse(&raw).unwrap_or_else(|| self.fail(&format!("bad value for {name}: {raw:?}")))
    }

    /// Exits with the usage if any argument was not understood.
    pub fn finish(self) {
        if let Some(a) = self.rest.first() {
            self.fail(&format!("unknown argument {a:?}"));
        }
    }

    fn fail(&self, msg: &str) -> ! {
        eprintln!("error: {msg}\n\n{}", self.usage);
        std::process::exit(2);
    }
}
