//! Text from outside (a grid axis, a constraint, a parameter's name or value, a statistic's
//! name) as an error shows it: quoted and escaped as `{:?}` writes a string, and cut, so
//! that no input makes a message long or breaks it over lines.

use std::fmt;

/// The most characters of outside text an error shows.
const MAX_CHARS: usize = 128;

/// `text` quoted and escaped as `{:?}` writes it, its first 128 characters then `…` when
/// there are more.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_CHARS) {
            Some((end, _)) => write!(f, "{:?}", format!("{}…", &self.0[..end])),
            None => write!(f, "{:?}", self.0),
        }
    }
}
