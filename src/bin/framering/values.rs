//! The argument types and value parsers that `framering` and the examples
//! share (they include this file): clap does the parsing, these say what a
//! good value is. Every number is parsed whole and checked against its
//! range, never truncated, wrapped or left to panic later; a bad value is
//! a usage error (exit status 2).

use std::ops::RangeInclusive;

/// `--owner UID|any`: whose rings a reader accepts (see
/// `Consumer::with_owner`). Default: this user's (or root's); `any`: every
/// ring this user may read.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct OwnerArg {
    /// Accept only rings of this user id (and root's), or `any` [default: yours]
    #[arg(long = "owner", value_name = "UID|any", value_parser = owner)]
    owner: Option<Owner>,
}

/// A value of `--owner`.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Any,
    Uid(u32),
}

#[allow(dead_code)] // each program uses a subset
impl OwnerArg {
    /// The uid to require, or `None` for any.
    pub fn uid(self) -> Option<u32> {
        match self.owner {
            None => Some(framering::admin::current_uid()),
            Some(Owner::Any) => None,
            Some(Owner::Uid(uid)) => Some(uid),
        }
    }
}

fn owner(s: &str) -> Result<Owner, String> {
    match s {
        "any" => Ok(Owner::Any),
        uid => uid.parse().map(Owner::Uid).map_err(|_| "a user id or `any`".to_owned()),
    }
}

/// Octal permission bits such as `0640`, `640` or `0o640` (at most `0777`).
#[allow(dead_code)] // each program uses a subset
pub fn octal(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| "octal permission bits like 0640".to_owned())
}

/// A number of type `f64` in `range`, for clap (NaN is in no range; clap's
/// own ranged parsers cover only integers).
#[allow(dead_code)] // each program uses a subset
pub fn f64_in(range: RangeInclusive<f64>) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s| {
        s.parse()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or_else(|| format!("a number in {}..={}", range.start(), range.end()))
    }
}

/// A rate in frames per second: 0 (unset, or as fast as possible) or
/// `min..=1000`, where `min_text` says `min` for people (`1/3600`).
#[allow(dead_code)] // each program uses a subset
pub fn fps_or_zero(
    min: f64,
    min_text: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s| {
        s.parse()
            .ok()
            .filter(|&v: &f64| v == 0.0 || (min..=1000.0).contains(&v))
            .ok_or_else(|| format!("0 or a number in {min_text}..=1000"))
    }
}

/// `--slots N`: a ring's slot count, in the range the library accepts
/// (`layout::MIN_SLOTS..=MAX_SLOTS`), so a bad count is a usage error
/// before any ring is made.
#[allow(dead_code)] // each program uses a subset
pub fn slots() -> clap::builder::RangedI64ValueParser<u32> {
    use framering::layout::{MAX_SLOTS, MIN_SLOTS};
    clap::value_parser!(u32).range(i64::from(MIN_SLOTS)..=i64::from(MAX_SLOTS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_whole_and_in_range() {
        let fps = f64_in(0.0..=1000.0);
        assert!(fps("-1").is_err());
        assert!(fps("NaN").is_err(), "NaN is in no range");
        assert!(fps("1e-300").is_ok());
        assert!(fps_or_zero(0.001, "0.001")("1e-300").is_err(), "a tiny positive rate is refused, not used");
        assert_eq!(fps_or_zero(0.001, "0.001")("0").unwrap(), 0.0);
        assert_eq!(octal("0o640").unwrap(), 0o640);
        assert!(octal("1777").is_err() && octal("8").is_err());
        assert!(matches!(owner("any").unwrap(), Owner::Any));
        assert!(owner("-1").is_err());
    }
}
