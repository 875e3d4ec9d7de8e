//! The W3C `tracestate` header: vendor key/value pairs passed along a trace unchanged.

use std::fmt;
use std::sync::Arc;

use super::trim_ows;
use crate::context::TraceContext;

/// The most list members a `tracestate` may hold.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{TraceState, TraceStateError, MAX_TRACESTATE_MEMBERS};
///
/// let members: Vec<String> = (0..=MAX_TRACESTATE_MEMBERS).map(|i| format!("k{i}=v")).collect();
/// assert!(TraceState::parse([members[..MAX_TRACESTATE_MEMBERS].join(",").as_str()]).is_ok());
/// let too_many = members.join(",");
/// assert_eq!(TraceState::parse([too_many.as_str()]), Err(TraceStateError::TooManyMembers));
/// ```
pub const MAX_MEMBERS: usize = 32;

/// A validated W3C `tracestate`, kept as text to be passed on unchanged.
///
/// Parsing follows the W3C Trace Context Level 2 editor's draft. Repeated headers are joined
/// with `,` (as HTTP combines them); empty members and the spaces and tabs around members are
/// ignored. A key is `( lcalpha / DIGIT ) 0*255( keychar )`, where a keychar is a lowercase
/// letter, a digit or one of `_ - * / @`: up to 256 characters, `@` anywhere but first.
///
/// The whole value is refused (the header is dropped, which the specification allows for a
/// `tracestate` that cannot be parsed) only when a member breaks the grammar or there are more
/// than 32 members. A key that repeats is not a reason to drop the header: "only one entry per
/// key is allowed", and the left-most entry is the most recent position in the trace, so the
/// first entry of each key is kept and the later ones are left out.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::TraceState;
///
/// let ts = TraceState::parse(["rojo=00f067aa0ba902b7", " congo=t61rcWkgMzE , "])?;
/// assert_eq!(ts.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
/// // A repeated key: the first entry is kept, the list passed on.
/// assert_eq!(TraceState::parse(["a=1,b=2,a=3"])?.as_str(), "a=1,b=2");
/// // `@` anywhere but first.
/// assert!(TraceState::parse(["tenant@vendor@x=1,foo@=2"]).is_ok());
/// assert!(TraceState::parse(["@foo=1"]).is_err());
/// # Ok::<(), tracectx::propagation::TraceStateError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TraceState(Option<Arc<str>>);

/// Why a `tracestate` was refused (the header is then dropped).
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{TraceState, TraceStateError};
///
/// let err = TraceState::parse(["rojo=1", "congo"]).unwrap_err();
/// assert_eq!(err, TraceStateError::Member { index: 1 });
/// assert_eq!(err.to_string(), "invalid tracestate: list member 1 is malformed");
/// ```
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// More than [`MAX_MEMBERS`] members.
    #[error("invalid tracestate: more than 32 list members")]
    TooManyMembers,
    /// A member that is not `key=value` by the grammar.
    #[error("invalid tracestate: list member {index} is malformed")]
    Member {
        /// The member's position (0-based, empty members not counted).
        index: usize,
    },
}

impl TraceState {
    /// Parses the values of every `tracestate` header of a message, in order.
    ///
    /// # Errors
    ///
    /// [`TraceStateError`] naming the broken rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceState;
    ///
    /// // Two headers are read as one list, as HTTP combines them.
    /// let ts = TraceState::parse(["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"])?;
    /// assert_eq!(ts.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    /// assert!(TraceState::parse(["Rojo=1"]).is_err()); // keys are lowercase
    /// # Ok::<(), tracectx::propagation::TraceStateError>(())
    /// ```
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, TraceStateError> {
        let mut values = values.into_iter();
        let Some(first) = values.next() else {
            return Ok(Self(None));
        };
        let Some(second) = values.next() else {
            // One header (the common case): when it is already in canonical form (no empty
            // members, no spaces around members, no repeated key), it is kept as it came, with
            // a single allocation.
            let canonical = validate([first].into_iter())?;
            return Ok(if canonical {
                Self(Some(Arc::from(first)))
            } else {
                Self::joined([first].into_iter())
            });
        };
        let all: Vec<&str> = [first, second].into_iter().chain(values).collect();
        validate(all.iter().copied())?;
        Ok(Self::joined(all.into_iter()))
    }

    /// The non-empty members of already validated values, joined by `,`, each key's first
    /// entry only.
    fn joined<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut keys: [&str; MAX_MEMBERS] = [""; MAX_MEMBERS];
        let mut count = 0;
        let mut text = String::new();
        for member in members(values) {
            // Validated: every member has a `=` and there are at most `MAX_MEMBERS`.
            let key = member.split_once('=').map_or(member, |(k, _)| k);
            if keys[..count].contains(&key) || count == MAX_MEMBERS {
                continue;
            }
            keys[count] = key;
            count += 1;
            if !text.is_empty() {
                text.push(',');
            }
            text.push_str(member);
        }
        Self((!text.is_empty()).then(|| Arc::from(text)))
    }

    /// The members joined by `,`, as sent on: empty members, surrounding spaces and the later
    /// entries of a repeated key removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let ts = tracectx::propagation::TraceState::parse([" rojo=1 ,, congo=2"])?;
    /// assert_eq!(ts.as_str(), "rojo=1,congo=2");
    /// # Ok::<(), tracectx::propagation::TraceStateError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether there are no members.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceState;
    ///
    /// assert!(TraceState::parse([" , "])?.is_empty());
    /// assert!(!TraceState::parse(["rojo=1"])?.is_empty());
    /// # Ok::<(), tracectx::propagation::TraceStateError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value of `key`, if present.
    ///
    /// # Examples
    ///
    /// ```
    /// let ts = tracectx::propagation::TraceState::parse(["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"])?;
    /// assert_eq!(ts.get("rojo"), Some("00f067aa0ba902b7"));
    /// assert_eq!(ts.get("blue"), None);
    /// # Ok::<(), tracectx::propagation::TraceStateError>(())
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.as_str()
            .split(',')
            .filter_map(|m| m.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl TraceContext (tracestate) ===

impl TraceContext {
    /// The same context carrying `state` (or none) to pass on downstream.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{propagation::TraceState, TraceContext};
    ///
    /// let ts = TraceState::parse(["rojo=00f067aa0ba902b7"])?;
    /// let ctx = TraceContext::generate("request").with_trace_state(Some(ts));
    /// assert_eq!(ctx.trace_state(), Some("rojo=00f067aa0ba902b7"));
    /// # Ok::<(), tracectx::propagation::TraceStateError>(())
    /// ```
    #[must_use]
    pub fn with_trace_state(self, state: Option<TraceState>) -> Self {
        self.with_trace_state_raw(state.and_then(|s| s.0))
    }
}

/// The non-empty members of the header values, spaces around them trimmed.
fn members<'a>(values: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    values
        .flat_map(|value| value.split(','))
        .map(|member| member.trim_matches([' ', '\t']))
        .filter(|member| !member.is_empty())
}

/// Checks every rule without allocating; returns whether the values were one canonical list
/// (no empty members, no spaces around members, no repeated key).
fn validate<'a>(values: impl Iterator<Item = &'a str>) -> Result<bool, TraceStateError> {
    let mut keys: [&[u8]; MAX_MEMBERS] = [b""; MAX_MEMBERS];
    let mut count = 0;
    let mut canonical = true;
    for raw in values.flat_map(|value| value.as_bytes().split(|&b| b == b',')) {
        let member = trim_ows(raw);
        canonical &= !member.is_empty() && member.len() == raw.len();
        if member.is_empty() {
            continue;
        }
        if count == MAX_MEMBERS {
            return Err(TraceStateError::TooManyMembers);
        }
        let index = count;
        let eq = member
            .iter()
            .position(|&b| b == b'=')
            .ok_or(TraceStateError::Member { index })?;
        let (key, val) = (&member[..eq], &member[eq + 1..]);
        if !valid_key(key) || !valid_value(val) {
            return Err(TraceStateError::Member { index });
        }
        // A repeated key is left out when the list is joined: not canonical.
        canonical &= !keys[..count].contains(&key);
        keys[count] = key;
        count += 1;
    }
    Ok(canonical)
}

/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`: what a key is made of after its
/// first character.
static KEY_CHAR: [bool; 256] =
    byte_class!(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'));

/// `chr`: printable ASCII but `,` and `=`, space included.
static VALUE_CHAR: [bool; 256] =
    byte_class!(|b| matches!(b, 0x20..=0x7e) && b != b',' && b != b'=');

/// `key = ( lcalpha / DIGIT ) 0*255( keychar )`.
fn valid_key(k: &[u8]) -> bool {
    match k.split_first() {
        Some((first, rest)) => {
            matches!(first, b'a'..=b'z' | b'0'..=b'9')
                && rest.len() <= 255
                && rest.iter().all(|&b| KEY_CHAR[usize::from(b)])
        }
        None => false,
    }
}

/// `0*255(chr) nblk-chr`: printable ASCII but `,` and `=`, spaces inside only.
fn valid_value(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= 256
        && v[v.len() - 1] != b' '
        && v.iter().all(|&c| VALUE_CHAR[usize::from(c)])
}
