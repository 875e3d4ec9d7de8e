//! The W3C `traceparent` header: `version-traceid-parentid-flags`.

use std::fmt;

use super::trim_ows;
use crate::context::{SpanId, TraceFlags, TraceId};

/// The length of a version-00 `traceparent`.
const LEN: usize = 55;

/// The flag bits this crate understands and passes on (sampled, random); the others are
/// reserved and sent as zero, as the specification requires.
const KNOWN_FLAGS: u8 = 0x03;

/// A parsed W3C `traceparent` header.
///
/// Parsing follows W3C Trace Context Level 2: lowercase hex only; version `ff` refused;
/// version `00` exactly 55 characters; a later version is read by its first 55 characters
/// and must have `-` after them if longer; trace id and parent id not all zeros. Formatting
/// always writes version `00` and only the known flags.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::TraceParent;
///
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// assert_eq!(tp.trace_id().short().as_str(), "0e0e4736");
/// assert!(tp.flags().is_sampled());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert!("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
/// # Ok::<(), tracectx::propagation::TraceParentError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TraceParent {
    version: u8,
    trace_id: TraceId,
    parent_id: SpanId,
    flags: TraceFlags,
}

/// Why a `traceparent` value was refused; the caller then starts a new trace.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{TraceParent, TraceParentError};
///
/// let err = TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
///     .unwrap_err();
/// assert_eq!(err, TraceParentError::ZeroTraceId);
/// assert_eq!(err.to_string(), "invalid traceparent: the trace id is all zeros");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Too short, or a version-00 header of the wrong length.
    #[error("invalid traceparent: {got} characters, expected 55")]
    Length {
        /// The length of the (trimmed) value.
        got: usize,
    },
    /// A character that is not lowercase hex where hex is expected.
    #[error("invalid traceparent: not a lowercase hex digit at byte {at}")]
    NotHex {
        /// Its byte offset in the trimmed value.
        at: usize,
    },
    /// A missing `-` between fields.
    #[error("invalid traceparent: expected '-' at byte {at}")]
    Delimiter {
        /// Its byte offset in the trimmed value.
        at: usize,
    },
    /// Version `ff`, which the specification forbids.
    #[error("invalid traceparent: version ff is forbidden")]
    Version,
    /// An all-zero trace id.
    #[error("invalid traceparent: the trace id is all zeros")]
    ZeroTraceId,
    /// An all-zero parent id.
    #[error("invalid traceparent: the parent id is all zeros")]
    ZeroParentId,
}

impl TraceParent {
    /// A version-00 `traceparent` for these ids, to send downstream.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{propagation::TraceParent, TraceFlags};
    ///
    /// let tp = TraceParent::new(
    ///     "4bf92f3577b34da6a3ce929d0e0e4736".parse()?,
    ///     "00f067aa0ba902b7".parse()?,
    ///     TraceFlags::SAMPLED,
    /// );
    /// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> Self {
        Self {
            version: 0,
            trace_id,
            parent_id,
            flags,
        }
    }

    /// Parses one header value (surrounding spaces and tabs are ignored).
    ///
    /// # Errors
    ///
    /// [`TraceParentError`] saying which rule the value broke.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::{TraceParent, TraceParentError};
    ///
    /// let tp = TraceParent::parse(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t")?;
    /// assert!(tp.flags().is_sampled());
    /// let forbidden = "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// assert_eq!(TraceParent::parse(forbidden), Err(TraceParentError::Version));
    /// # Ok::<(), TraceParentError>(())
    /// ```
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let s = trim_ows(value.as_bytes());
        if s.len() < LEN {
            return Err(TraceParentError::Length { got: s.len() });
        }
        let version = hex_field::<2>(s, 0)? as u8;
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        if version == 0 && s.len() != LEN {
            return Err(TraceParentError::Length { got: s.len() });
        }
        if version > 0 && s.len() > LEN && s[LEN] != b'-' {
            return Err(TraceParentError::Delimiter { at: LEN });
        }
        for at in [2, 35, 52] {
            if s[at] != b'-' {
                return Err(TraceParentError::Delimiter { at });
            }
        }
        // The trace id as two 64-bit halves: no 128-bit arithmetic per digit.
        let high = hex_field::<16>(s, 3)?;
        let low = hex_field::<16>(s, 19)?;
        let trace_id = TraceId::from_u128((u128::from(high) << 64) | u128::from(low))
            .ok_or(TraceParentError::ZeroTraceId)?;
        let parent_id =
            SpanId::from_u64(hex_field::<16>(s, 36)?).ok_or(TraceParentError::ZeroParentId)?;
        let flags = TraceFlags::from_u8(hex_field::<2>(s, 53)? as u8);
        Ok(Self {
            version,
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The version the sender used (formatting always writes `00`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceParent;
    ///
    /// // A later version is read by its first 55 characters.
    /// let tp = TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")?;
    /// assert_eq!(tp.version(), 1);
    /// assert!(tp.to_string().starts_with("00-"));
    /// # Ok::<(), tracectx::propagation::TraceParentError>(())
    /// ```
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The trace id the sender is part of.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceParent;
    ///
    /// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
    /// assert_eq!(format!("{:x}", tp.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// # Ok::<(), tracectx::propagation::TraceParentError>(())
    /// ```
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The sender's span id: the parent of the receiver's span.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceParent;
    ///
    /// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
    /// assert_eq!(tp.parent_id().to_string(), "00f067aa0ba902b7");
    /// # Ok::<(), tracectx::propagation::TraceParentError>(())
    /// ```
    pub fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The flags as received (reserved bits included; they are not sent on).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceParent;
    ///
    /// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09".parse()?;
    /// assert_eq!(tp.flags().to_u8(), 0x09);
    /// assert!(tp.to_string().ends_with("-01"));
    /// # Ok::<(), tracectx::propagation::TraceParentError>(())
    /// ```
    pub fn flags(&self) -> TraceFlags {
        self.flags
    }
}

/// The value of each lowercase hex digit; `0xff` for every other byte.
const HEX: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// `N` (at most 16) lowercase hex digits of `s` from `at`; the caller has checked the length.
#[inline]
fn hex_field<const N: usize>(s: &[u8], at: usize) -> Result<u64, TraceParentError> {
    let digits = &s[at..at + N];
    let mut v: u64 = 0;
    let mut bad = 0u8;
    for &b in digits {
        let d = HEX[usize::from(b)];
        bad |= d;
        v = (v << 4) | u64::from(d & 0x0f);
    }
    if bad & 0xf0 != 0 {
        let i = digits
            .iter()
            .position(|&b| HEX[usize::from(b)] == 0xff)
            .unwrap_or(0);
        return Err(TraceParentError::NotHex { at: at + i });
    }
    Ok(v)
}

impl TraceParent {
    /// Writes the header value (version `00`, known flags only) into `buf` and returns it as
    /// text, without allocating.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::TraceParent;
    ///
    /// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
    /// let mut buf = [0; 55];
    /// assert_eq!(tp.encode(&mut buf), tp.to_string());
    /// # Ok::<(), tracectx::propagation::TraceParentError>(())
    /// ```
    pub fn encode<'b>(&self, buf: &'b mut [u8; LEN]) -> &'b str {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        /// Two hex digits per byte of `bytes` (big-endian: most significant first).
        fn put(out: &mut [u8], bytes: &[u8]) {
            for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
                pair[0] = DIGITS[usize::from(b >> 4)];
                pair[1] = DIGITS[usize::from(b & 0x0f)];
            }
        }
        buf[0] = b'0';
        buf[1] = b'0';
        buf[2] = b'-';
        put(&mut buf[3..35], &self.trace_id.to_bytes());
        buf[35] = b'-';
        put(&mut buf[36..52], &self.parent_id.to_bytes());
        buf[52] = b'-';
        put(&mut buf[53..55], &[self.flags.to_u8() & KNOWN_FLAGS]);
        // Every byte written above is an ASCII hex digit or '-'.
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

impl std::str::FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(s: &str) -> Result<Self, TraceParentError> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; LEN]))
    }
}
