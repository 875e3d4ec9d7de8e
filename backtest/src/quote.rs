//! Text from outside (a grid axis, a constraint, a parameter's name or value, a statistic's
//! name) as an error shows it: quoted and escaped as `{:?}` writes a string, and cut, so
//! that no input makes a message long or breaks it over lines. Numbers likewise
//! ([`Number`]).

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

/// A number as a message shows it: as `{}` writes it between 1e-5 and 1e16 in magnitude
/// (`0.002`, `-5`, `10000`), in scientific notation beyond (`1e308`, `-2.5e-300`), where `{}`
/// writes hundreds of digits or zeros.
pub(crate) struct Number(pub(crate) f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_finite() && x != 0.0 && !(1e-5..1e16).contains(&x.abs()) {
            write!(f, "{x:e}")
        } else {
            write!(f, "{x}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Number;

    #[test]
    fn numbers_far_from_one_are_short() {
        for (x, shown) in [
            (0.002, "0.002"),
            (-5.0, "-5"),
            (1e15, "1000000000000000"),
            (1e16, "1e16"),
            (1e308, "1e308"),
            (-2.5e-300, "-2.5e-300"),
            (0.00001, "0.00001"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(Number(x).to_string(), shown);
        }
    }
}
