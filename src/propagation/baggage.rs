//! W3C Baggage: the run id travels as the list member [`RUN_ID_KEY`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::{BAGGAGE, Injector, trim_ows_str};
use crate::context::TraceContext;

/// The baggage key that carries the run id: `run_id`.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::{self, Baggage, RUN_ID_KEY};
///
/// let mut headers = HashMap::new();
/// propagation::inject(&tracectx::TraceContext::new("job_1")?, &mut headers);
/// let baggage = Baggage::parse([headers["baggage"].as_str()]);
/// assert_eq!(baggage.get(RUN_ID_KEY), Some("job_1"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const RUN_ID_KEY: &str = "run_id";

/// The most bytes of `baggage` list read (the W3C minimum every system must accept).
///
/// The members past it are dropped, whole; those before are kept (a `run_id` sent first
/// survives a third party's oversized baggage after it).
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{Baggage, MAX_BAGGAGE_BYTES};
///
/// let huge = format!("run_id=job_1,pad={}", "x".repeat(MAX_BAGGAGE_BYTES));
/// let kept = Baggage::parse([huge.as_str()]);
/// assert_eq!(kept.get("run_id"), Some("job_1"));
/// assert_eq!(kept.get("pad"), None);
/// ```
pub const MAX_BYTES: usize = 8192;

/// The most list members read (the W3C minimum every system must accept is 64; OpenTelemetry
/// accepts 180). The members after them are dropped.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{Baggage, MAX_BAGGAGE_MEMBERS};
///
/// let members: Vec<String> = (0..=MAX_BAGGAGE_MEMBERS).map(|i| format!("k{i}=v")).collect();
/// let most = Baggage::parse([members[..MAX_BAGGAGE_MEMBERS].join(",").as_str()]);
/// assert_eq!(most.iter().count(), MAX_BAGGAGE_MEMBERS);
/// let over = Baggage::parse([members.join(",").as_str()]);
/// assert_eq!(over.iter().count(), MAX_BAGGAGE_MEMBERS);
/// assert_eq!(over.get(&format!("k{MAX_BAGGAGE_MEMBERS}")), None); // the one past the limit
/// ```
pub const MAX_MEMBERS: usize = 180;

/// W3C Baggage: key/value pairs with percent-encoded values.
///
/// Parsing is forgiving where the specification allows it and strict where safety needs it:
/// a malformed member is skipped (the others are kept); percent-encoded octets that are not
/// UTF-8 become U+FFFD, as the specification says; the members past [`MAX_MEMBERS`] or
/// [`MAX_BYTES`] are dropped, whole, those before kept. Properties (`;k=v`) are read past and not kept. Values are decoded, so a
/// percent-encoded newline comes back as a newline: code that prints a value must validate it
/// (the run id is checked as a [`RunId`](crate::RunId) before use).
///
/// # Examples
///
/// ```
/// use tracectx::propagation::Baggage;
///
/// let b = Baggage::parse(["run_id=backtest_ab12, user = alice%20b;prop=1"]);
/// assert_eq!(b.get("run_id"), Some("backtest_ab12"));
/// assert_eq!(b.get("user"), Some("alice b"));
/// assert_eq!(b.to_string(), "run_id=backtest_ab12,user=alice%20b");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    members: Vec<Member>,
}

/// One member, key and decoded value in one allocation: `text` is the key then the value.
#[derive(Clone, PartialEq, Eq)]
struct Member {
    text: String,
    key_len: usize,
}

impl Member {
    fn new(key: &str, value: &str) -> Self {
        let mut text = String::with_capacity(key.len() + value.len());
        text.push_str(key);
        text.push_str(value);
        Self {
            text,
            key_len: key.len(),
        }
    }

    fn key(&self) -> &str {
        self.text.get(..self.key_len).unwrap_or_default()
    }

    fn value(&self) -> &str {
        self.text.get(self.key_len..).unwrap_or_default()
    }
}

impl Baggage {
    /// An empty baggage, to fill with [`insert`](Self::insert).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// let mut baggage = Baggage::new();
    /// assert!(baggage.is_empty());
    /// baggage.insert("run_id", "job_1");
    /// assert_eq!(baggage.to_string(), "run_id=job_1");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the values of every `baggage` header of a message, in order.
    ///
    /// Never fails: malformed members are skipped, and a later member replaces an earlier one
    /// with the same key.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// let baggage = Baggage::parse(["run_id=a,=oops", "run_id=b"]);
    /// assert_eq!(baggage.get("run_id"), Some("b"));
    /// assert_eq!(baggage.iter().count(), 1);
    /// ```
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut members: Vec<Member> = Vec::new();
        for_each_member(values, |key, value| {
            if let Some(value) = decode(value) {
                members.retain(|m| m.key() != key);
                members.push(Member::new(key, &value));
            }
        });
        Self { members }
    }

    /// The decoded value of `key`, if present.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// let baggage = Baggage::parse(["note=line%0Abreak"]);
    /// assert_eq!(baggage.get("note"), Some("line\nbreak")); // decoded: validate before printing
    /// assert_eq!(baggage.get("missing"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an earlier value. A key that is not an HTTP token is
    /// ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// let mut baggage = Baggage::new();
    /// baggage.insert("user", "bob");
    /// baggage.insert("user", "alice b"); // replaces the earlier value
    /// baggage.insert("bad key", "x"); // not an HTTP token: ignored
    /// assert_eq!(baggage.to_string(), "user=alice%20b");
    /// ```
    pub fn insert(&mut self, key: &str, value: &str) {
        if key.is_empty() || !key.bytes().all(is_tchar) {
            return;
        }
        self.members.retain(|m| m.key() != key);
        self.members.push(Member::new(key, value));
    }

    /// Removes `key`'s member; returns its value, if it had one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// let mut baggage = Baggage::parse(["run_id=job_1,user=alice"]);
    /// assert_eq!(baggage.remove("run_id").as_deref(), Some("job_1"));
    /// assert_eq!(baggage.to_string(), "user=alice");
    /// assert_eq!(baggage.remove("run_id"), None);
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.members.iter().position(|m| m.key() == key)?;
        let member = self.members.remove(at);
        Some(member.value().to_owned())
    }

    /// The members as `(key, decoded value)` pairs, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// let baggage = Baggage::parse(["run_id=job_1, user=alice"]);
    /// let keys: Vec<&str> = baggage.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["run_id", "user"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|m| (m.key(), m.value()))
    }

    /// Whether there are no members.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::Baggage;
    ///
    /// assert!(Baggage::parse(["not a member"]).is_empty());
    /// assert!(!Baggage::parse(["k=v"]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl fmt::Display for Baggage {
    /// The header value: members joined by `,`, values percent-encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.encode(f)
    }
}

// === impl TraceContext ===

impl TraceContext {
    /// The W3C baggage received from upstream, but for the run id's member: what
    /// [`extract`](super::extract) read beside the run id (a tenant, a feature flag), passed
    /// on by [`inject`](super::inject) to the calls this context and its children make, as
    /// W3C Baggage asks of a system that receives baggage. `None` for a context made here.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation;
    ///
    /// let received = HashMap::from([
    ///     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    ///     ("baggage".to_owned(), "run_id=job_1,tenant=acme".to_owned()),
    /// ]);
    /// let ctx = propagation::extract(&received).unwrap();
    /// assert_eq!(ctx.baggage().unwrap().to_string(), "tenant=acme");
    ///
    /// // A call made in this context (or a child of it) passes the members on.
    /// let mut outgoing = HashMap::new();
    /// propagation::inject(&ctx.child(), &mut outgoing);
    /// assert_eq!(outgoing["baggage"], "run_id=job_1,tenant=acme");
    /// assert!(tracectx::TraceContext::new("job_2")?.baggage().is_none());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn baggage(&self) -> Option<&Baggage> {
        self.baggage_raw()
    }

    /// The same context passing on `baggage` (or none) downstream, beside the run id: a
    /// `run_id` member in it is left out (the run id sent is always the context's own), and an
    /// empty baggage is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::{propagation::{self, Baggage}, TraceContext};
    ///
    /// let mut baggage = Baggage::new();
    /// baggage.insert("run_id", "not_this_one");
    /// baggage.insert("tenant", "acme");
    /// let ctx = TraceContext::new("job_1")?.with_baggage(Some(baggage));
    /// let mut headers = HashMap::new();
    /// propagation::inject(&ctx, &mut headers);
    /// assert_eq!(headers["baggage"], "run_id=job_1,tenant=acme");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn with_baggage(self, baggage: Option<Baggage>) -> Self {
        let baggage = baggage.and_then(|mut b| {
            b.members.retain(|m| !names_run_id(m.key()));
            (!b.is_empty()).then(|| Arc::new(b))
        });
        self.with_baggage_raw(baggage)
    }
}

/// The `baggage` header an outgoing call sends: the run id's `member` first, then the valid
/// members the carrier already had (`existing`, each as written, but a `run_id`), then the
/// members the context passes on (`inherited`) whose keys the carrier's do not set, within
/// W3C's limits ([`MAX_MEMBERS`], [`MAX_BYTES`]): the members that would pass them are left
/// out, whole.
pub(super) fn outgoing(
    member: &str,
    existing: Option<&str>,
    inherited: Option<&Baggage>,
) -> String {
    // At most W3C's limit is sent, however long the carrier's list.
    let mut out =
        String::with_capacity((member.len() + existing.map_or(0, str::len)).min(MAX_BYTES));
    out.push_str(member);
    let mut count = 1;
    let mut keys: Vec<&str> = Vec::new();
    let push = |out: &mut String, count: &mut usize, text: &str| {
        if *count < MAX_MEMBERS && out.len() + 1 + text.len() <= MAX_BYTES {
            out.push(',');
            out.push_str(text);
            *count += 1;
        }
    };
    let mut text = String::new();
    for other in existing.unwrap_or_default().split(',') {
        if count == MAX_MEMBERS || out.len() + ",k=".len() > MAX_BYTES {
            // Full: no member of the carrier's or the context's can be added any more.
            return out;
        }
        let Some((key, value)) = split_member(other).filter(|(key, _)| !names_run_id(key)) else {
            continue;
        };
        keys.push(key);
        let other = trim_ows_str(other);
        if other
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            // As written, properties and all.
            push(&mut out, &mut count, other);
        } else {
            // A property with a byte no header may hold would make the whole header
            // unsendable, the run id's member with it: the member without its properties.
            text.clear();
            text.push_str(key);
            text.push('=');
            text.push_str(value);
            push(&mut out, &mut count, &text);
        }
    }
    // Looked up once per inherited member: sorted, so that a carrier of many members (a
    // proxy copying 100,000 of them) costs a search, not a scan, each.
    keys.sort_unstable();
    for (key, value) in inherited.into_iter().flat_map(Baggage::iter) {
        if !names_run_id(key) && keys.binary_search(&key).is_err() {
            text.clear();
            if encode_member(&mut text, key, value).is_ok() {
                push(&mut out, &mut count, &text);
            }
        }
    }
    out
}

/// Whether a member's `key` names the run id: `run_id` itself, or spelled so that a reader
/// decoding keys (the OpenTelemetry Python SDK percent-decodes them, `+` as a space, and trims
/// them) takes it for `run_id` (`run%5Fid`, `run_id+`). Such a member is never passed on:
/// the run id sent is always the context's own.
fn names_run_id(key: &str) -> bool {
    if key == RUN_ID_KEY {
        return true;
    }
    if !key.bytes().any(|b| b == b'%' || b == b'+') {
        return false;
    }
    let plus = key.replace('+', " ");
    percent_decode(&plus).is_some_and(|k| k.trim() == RUN_ID_KEY)
}

// === encoding ===

impl Baggage {
    /// Writes this baggage into `carrier` as its `baggage` header, replacing an earlier one;
    /// an empty baggage writes nothing.
    ///
    /// The value is encoded on the stack when it is short (as a run id is): the only
    /// allocation is the carrier's own copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::Baggage;
    ///
    /// let mut baggage = Baggage::new();
    /// baggage.insert("run_id", "job_1");
    /// baggage.insert("note", "a b");
    /// let mut headers = HashMap::new();
    /// baggage.inject(&mut headers);
    /// assert_eq!(headers["baggage"], "run_id=job_1,note=a%20b");
    ///
    /// Baggage::new().inject(&mut headers); // empty: the header is left as it was
    /// assert_eq!(headers["baggage"], "run_id=job_1,note=a%20b");
    /// ```
    pub fn inject(&self, carrier: &mut impl Injector) {
        if self.is_empty() {
            return;
        }
        let mut small = StackText::<256>::new();
        if self.encode(&mut small).is_ok() {
            carrier.set(BAGGAGE, small.as_str());
        } else {
            carrier.set(BAGGAGE, &self.to_string());
        }
    }

    /// The header value into `out`: members joined by `,`, values percent-encoded (runs of
    /// plain octets written whole).
    fn encode(&self, out: &mut impl fmt::Write) -> fmt::Result {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            encode_member(out, k, v)?;
        }
        Ok(())
    }
}

/// One member, `key=value`, into `out`, the value percent-encoded (runs of plain octets written
/// whole).
pub(super) fn encode_member(out: &mut impl fmt::Write, key: &str, value: &str) -> fmt::Result {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    out.write_str(key)?;
    out.write_char('=')?;
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .position(|&b| !PLAIN[usize::from(b)])
            .unwrap_or(bytes.len() - i);
        // Plain octets are ASCII: the run is text.
        out.write_str(std::str::from_utf8(&bytes[i..i + run]).unwrap_or_default())?;
        i += run;
        if let Some(&b) = bytes.get(i) {
            let escape = [
                b'%',
                UPPER[usize::from(b >> 4)],
                UPPER[usize::from(b & 0x0f)],
            ];
            out.write_str(std::str::from_utf8(&escape).unwrap_or_default())?;
            i += 1;
        }
    }
    Ok(())
}

/// A fixed-size text buffer on the stack; writing past its end fails.
pub(super) struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    pub(super) fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    pub(super) fn as_str(&self) -> &str {
        // Only whole `str`s are written: the bytes are text.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The decoded value of `key` in the `baggage` headers `values`, by the same rules as
/// [`Baggage::parse`] (the last valid member with that key wins), allocating only when the
/// value is percent-encoded.
pub(crate) fn find<'a>(values: impl Iterator<Item = &'a str>, key: &str) -> Option<Cow<'a, str>> {
    let mut found = None;
    for_each_member(values, |k, v| {
        if k == key {
            if let Some(v) = decode(v) {
                found = Some(v);
            }
        }
    });
    found
}

/// Calls `each` with the key and raw value of every valid member of the `baggage` header
/// `values`, in order, within W3C's limits: the members past [`MAX_MEMBERS`], or past
/// [`MAX_BYTES`] of list (counting each member and its separator), are dropped, whole (the
/// specification lets a system drop members, never part of one). Reading stops there.
fn for_each_member<'a>(
    values: impl IntoIterator<Item = &'a str>,
    mut each: impl FnMut(&'a str, &'a str),
) {
    let (mut bytes, mut count) = (0, 0);
    for value in values {
        for member in value.split(',') {
            // Every byte counts, blank members' too: the work stays within the limit.
            bytes += member.len() + usize::from(bytes > 0);
            if is_blank(member) {
                continue;
            }
            count += 1;
            if count > MAX_MEMBERS || bytes > MAX_BYTES {
                return;
            }
            if let Some((key, value)) = split_member(member) {
                each(key, value);
            }
        }
    }
}

/// `key OWS "=" OWS value *( OWS ";" OWS property )`: the key and the raw value, if valid.
fn split_member(member: &str) -> Option<(&str, &str)> {
    let bytes = member.as_bytes();
    // One pass over short text: cheaper than the general `split` machinery.
    let end = bytes.iter().position(|&b| b == b';').unwrap_or(bytes.len());
    let eq = bytes[..end].iter().position(|&b| b == b'=')?;
    // `eq` and `end` index ASCII bytes (`=`, `;`) or the end: character boundaries.
    let key = trim_ows_str(member.get(..eq)?);
    let value = trim_ows_str(member.get(eq + 1..end)?);
    if key.is_empty() || !key.bytes().all(is_tchar) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    Some((key, value))
}

fn decode(value: &str) -> Option<Cow<'_, str>> {
    if value.contains('%') {
        percent_decode(value).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(value))
    }
}

/// Whether a member is empty but for spaces and tabs.
fn is_blank(member: &str) -> bool {
    member.bytes().all(|b| b == b' ' || b == b'\t')
}

fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).and_then(|c| char::from(*c).to_digit(16))?;
            let lo = b.get(i + 2).and_then(|c| char::from(*c).to_digit(16))?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // W3C Baggage: octets that are not UTF-8 are replaced with U+FFFD.
    Some(match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(b: u8) -> bool {
    OCTET[usize::from(b)]
}

static TCHAR: [bool; 256] =
    byte_class!(|b| b.is_ascii_alphanumeric() || one_of(b, b"!#$%&'*+-.^_`|~"));

const fn one_of(b: u8, set: &[u8]) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == b {
            return true;
        }
        i += 1;
    }
    false
}

static OCTET: [bool; 256] =
    byte_class!(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e));

/// A baggage octet that needs no encoding: any but `%`.
static PLAIN: [bool; 256] = byte_class!(
    |b| b != b'%' && matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
);
