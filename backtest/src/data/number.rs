//! Prices read from CSV fields: the common plain decimals by a fast path that gives the
//! standard library's result, anything else by the standard library.

use super::error::{DataErrorKind, echo};

/// Exact powers of ten up to the largest one an `f64` holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The common case of a price, `[+-]digits[.digits]` with at most 2^53 as the digits read
/// as an integer and at most 22 decimals, parsed without the general algorithm: an exact
/// integer divided by an exact power of ten is correctly rounded (Clinger's fast path), so
/// the result is the one `str::parse` gives. `None` for anything else.
fn parse_plain_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0usize;
    let mut decimals = 0usize;
    let mut seen_dot = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                if count == 18 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(c - b'0');
                count += 1;
                decimals += usize::from(seen_dot);
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if count == 0 || mantissa > 1 << 53 || decimals >= POW10.len() {
        return None;
    }
    let v = mantissa as f64 / POW10[decimals];
    Some(if negative { -v } else { v })
}

pub(super) fn parse_number(field: &[u8]) -> Result<f64, DataErrorKind> {
    let text = trim(field);
    if text.is_empty() {
        return Err(DataErrorKind::EmptyValue);
    }
    if let Some(v) = parse_plain_decimal(text) {
        return Ok(v);
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| DataErrorKind::UnparsableNumber(echo(field)))
}

/// `text` without leading and trailing ASCII whitespace.
pub(crate) fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_parse_as_std_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let int = state >> 40;
            let decimals = (state >> 8) % 12;
            let text = format!("{}", int as f64 / 10f64.powi(decimals as i32));
            let text = format!("{text}{}", "0".repeat((state % 3) as usize));
            let text = if text.contains('.') {
                text
            } else {
                format!("{text}.5")
            };
            assert_eq!(
                parse_number(text.as_bytes()).unwrap(),
                text.parse::<f64>().unwrap(),
                "{text}"
            );
        }
        for text in [
            "0",
            "-0",
            "+1.5",
            "1.",
            ".5",
            "007",
            "123456789012345678",
            "9007199254740993",
        ] {
            let std: f64 = text.parse().unwrap();
            assert_eq!(
                parse_number(text.as_bytes()).unwrap().to_bits(),
                std.to_bits(),
                "{text}"
            );
        }
        for text in ["1e5", "-", ".", "1.2.3", "nan", "1_0"] {
            assert!(parse_plain_decimal(text.as_bytes()).is_none(), "{text}");
        }
    }
}
