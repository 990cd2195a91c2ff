//! Why the binding refused a native options object: one variant per rule, each message naming the option, all
//! thrown as `FLOTILLA_INVALID_ARGUMENT`.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum OptionsError {
    /// Not an object, or a value napi-rs cannot read as its option's type (napi-rs's message names the option).
    Unreadable(String),
    /// A key that no option has (`within` is the object that holds it: the options, or a part of them).
    UnknownKey { key: String, within: &'static str },
    /// A count or size that is not a whole number.
    NotWhole { option: &'static str, value: f64 },
    /// A whole number outside its option's range.
    OutOfRange { option: &'static str, min: u64, max: u64, value: f64 },
    /// A time that is not a number of milliseconds, at least 0.
    NotMilliseconds { option: &'static str, value: f64 },
    /// An empty name or directory.
    Empty { option: &'static str },
    /// A node name longer than the wire's proposal ids leave room for.
    NameTooLong { option: &'static str, bytes: usize, limit: usize },
    /// A list longer than the engine takes (checked before napi-rs copies it).
    TooLong { option: &'static str, length: u32, limit: usize },
    /// Neither `clusterSize` nor `members`, both, or an empty `members`.
    NoMembership,
    /// A saved entry's data that is not JSON text a follower can read.
    NotJson { position: usize, why: String },
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid options: ")?;
        match self {
            OptionsError::Unreadable(why) => write!(f, "{why}"),
            OptionsError::UnknownKey { key, within } => write!(f, "{key:?} is not an option of {within}"),
            OptionsError::NotWhole { option, value } => write!(f, "\"{option}\" must be a whole number, not {value}"),
            OptionsError::OutOfRange { option, min, max, value } => {
                write!(f, "\"{option}\" must be between {min} and {max}, not {value}")
            }
            OptionsError::NotMilliseconds { option, value } => {
                write!(f, "\"{option}\" must be a number of milliseconds, at least 0, not {value}")
            }
            OptionsError::Empty { option } => write!(f, "{option} is not allowed to be empty"),
            OptionsError::NameTooLong { option, bytes, limit } => {
                write!(f, "{option} is {bytes} bytes long, more than the limit of {limit} bytes (in UTF-8)")
            }
            OptionsError::TooLong { option, length, limit } => {
                write!(f, "\"{option}\" has {length} items, more than the limit of {limit}")
            }
            OptionsError::NoMembership => write!(f, "give either \"clusterSize\" or a non-empty \"members\" list"),
            OptionsError::NotJson { position, why } => write!(f, "saved entry {position}: {why}"),
        }
    }
}

impl std::error::Error for OptionsError {}
