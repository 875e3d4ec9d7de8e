//! Strategies: signal functions from bars and typed parameters to one decision per bar.
//!
//! A strategy is any `Fn(&Bars, &Params) -> Result<Signals, StrategyError>` (the
//! [`Strategy`] trait; [`Named`] gives one a short name for results). It looks at the
//! whole series at once (vectorised, as a quant writes indicators) and returns, for every bar,
//! the decision taken *at that bar's close* ([`Decision`]) and its warm-up: the bar where its
//! last indicator first has a value. The simulation only acts on decisions after the warm-up,
//! and fills them at the next bar's open, so a strategy cannot trade on the bar it looks at.
//!
//! The built-in [`sma_cross`] is registered under the name `"sma-cross"` ([`builtin`]).

use std::any::type_name;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::Bars;
use crate::ParamGrid;
use crate::quote::{Number, Quoted};

mod crossings;
use crossings::Crossings;

// === impl Decision ===

/// What a strategy decides at a bar's close; filled at the next bar's open.
///
/// Entries are exclusive: entering closes every open trade first, so entering short while
/// long is a reversal (two trades at the same price), and entering long while long closes and
/// reopens.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Decision;
/// assert_eq!(Decision::default(), Decision::Hold);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Decision {
    /// Do nothing.
    #[default]
    Hold,
    /// Close what is open, then buy with all available cash.
    EnterLong,
    /// Close what is open, then sell short with all available cash.
    EnterShort,
    /// Close every open trade.
    Exit,
}

// === impl Signals ===

/// A strategy's output: one [`Decision`] per bar and the warm-up bar.
///
/// `warmup` is the bar where the last of the strategy's indicators gets its first value
/// (`n - 1` for an `n`-bar moving average; see [`warmup`]). The first decision the simulation
/// acts on is at `warmup + 1`, the first fill at `warmup + 2`; decisions before are ignored.
/// Buy-and-hold is measured from the close of the warm-up bar.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Decision, Signals};
///
/// let mut decisions = vec![Decision::Hold; 5];
/// decisions[2] = Decision::EnterLong;
/// let signals = Signals::new(decisions, 1);
/// assert_eq!(signals.first_decision_bar(), 2);
/// assert_eq!(signals.decisions()[2], Decision::EnterLong);
/// ```
#[derive(Clone)]
pub struct Signals {
    decisions: Vec<Decision>,
    warmup: usize,
    /// The bars whose decision is not [`Decision::Hold`], ascending, when the strategy knew
    /// them (a sweep's crossings): the simulation goes from one to the next instead of
    /// looking for them.
    moves: Option<Vec<u32>>,
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("decisions", &self.decisions)
            .field("warmup", &self.warmup)
            .finish()
    }
}

/// Signals are equal when their decisions and warm-up are.
impl PartialEq for Signals {
    fn eq(&self, other: &Self) -> bool {
        self.decisions == other.decisions && self.warmup == other.warmup
    }
}

impl Eq for Signals {}

impl Signals {
    /// Signals from one decision per bar and the warm-up bar.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Decision, Signals};
    /// let s = Signals::new(vec![Decision::Hold; 3], 0);
    /// assert_eq!(s.len(), 3);
    /// ```
    pub const fn new(decisions: Vec<Decision>, warmup: usize) -> Self {
        Signals {
            decisions,
            warmup,
            moves: None,
        }
    }

    /// Signals of `len` bars, all [`Decision::Hold`] but those `moves` gives, in ascending
    /// order of bars (each below `len`), which are kept for the simulation.
    pub(crate) fn from_moves(
        len: usize,
        warmup: usize,
        moves: impl ExactSizeIterator<Item = (usize, Decision)>,
    ) -> Self {
        let mut decisions = vec![Decision::Hold; len];
        let mut bars = Vec::with_capacity(moves.len());
        for (bar, decision) in moves {
            decisions[bar] = decision;
            bars.push(bar);
        }
        debug_assert!(bars.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(bars.iter().all(|&b| decisions[b] != Decision::Hold));
        // Bars past `u32::MAX` (not a series a sweep shares) keep no list.
        let moves = bars
            .into_iter()
            .map(u32::try_from)
            .collect::<Result<_, _>>()
            .ok();
        Signals {
            decisions,
            warmup,
            moves,
        }
    }

    /// The bars whose decision is not [`Decision::Hold`], ascending, if known.
    pub(crate) fn moves(&self) -> Option<&[u32]> {
        self.moves.as_deref()
    }

    /// One decision per bar.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Decision, Signals};
    /// assert_eq!(Signals::new(vec![Decision::Exit], 0).decisions(), &[Decision::Exit]);
    /// ```
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The warm-up bar `W`: where the last indicator gets its first value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Decision, Signals};
    /// assert_eq!(Signals::new(vec![Decision::Hold; 30], 19).warmup(), 19);
    /// ```
    pub fn warmup(&self) -> usize {
        self.warmup
    }

    /// The first bar whose decision is acted on: `warmup + 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Decision, Signals};
    /// assert_eq!(Signals::new(vec![Decision::Hold; 30], 19).first_decision_bar(), 20);
    /// ```
    pub fn first_decision_bar(&self) -> usize {
        self.warmup.saturating_add(1)
    }

    /// The number of decisions.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Signals;
    /// assert_eq!(Signals::new(Vec::new(), 0).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    /// Whether there are no decisions.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Signals;
    /// assert!(Signals::new(Vec::new(), 0).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }
}

// === impl ParamValue ===

/// One strategy parameter: a boolean, an integer, a float or a string.
///
/// Serializes as the bare JSON value. JSON has no number for an infinite or NaN float
/// (serde_json would write `null`, which reads back as no parameter at all): those are written
/// as the strings `"inf"`, `"-inf"` and `"NaN"`, the text [`ParamValue::parse`] reads as
/// them, and these three strings read back as the floats, so a session record (`tracectx
/// merge`) or a result's metadata reads back what was written.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::ParamValue;
///
/// assert_eq!(ParamValue::parse("10"), ParamValue::Int(10));
/// assert_eq!(ParamValue::parse("0.5"), ParamValue::Float(0.5));
/// assert_eq!(ParamValue::parse("true"), ParamValue::Bool(true));
/// assert_eq!(ParamValue::parse("close"), ParamValue::Str("close".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Str(String),
}

impl ParamValue {
    /// Reads a value as a command line gives it: `true`/`false`, then an integer, then a
    /// float, else the text itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamValue;
    /// assert_eq!(ParamValue::parse("-3"), ParamValue::Int(-3));
    /// assert_eq!(ParamValue::parse("1e-3"), ParamValue::Float(0.001));
    /// ```
    pub fn parse(text: &str) -> ParamValue {
        match text {
            "true" => ParamValue::Bool(true),
            "false" => ParamValue::Bool(false),
            _ => {
                if let Ok(i) = text.parse::<i64>() {
                    ParamValue::Int(i)
                } else if let Ok(f) = text.parse::<f64>() {
                    ParamValue::Float(f)
                } else {
                    ParamValue::Str(text.to_owned())
                }
            }
        }
    }

    /// The kind of value, in words: `"a boolean"`, `"an integer"`, `"a float"`, `"a string"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamValue;
    /// assert_eq!(ParamValue::Float(1.5).kind(), "a float");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "a boolean",
            ParamValue::Int(_) => "an integer",
            ParamValue::Float(_) => "a float",
            ParamValue::Str(_) => "a string",
        }
    }
}

impl serde::Serialize for ParamValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamValue::Bool(b) => serializer.serialize_bool(*b),
            ParamValue::Int(i) => serializer.serialize_i64(*i),
            ParamValue::Float(x) if x.is_finite() => serializer.serialize_f64(*x),
            ParamValue::Float(x) if x.is_nan() => serializer.serialize_str("NaN"),
            ParamValue::Float(x) if *x > 0.0 => serializer.serialize_str("inf"),
            ParamValue::Float(_) => serializer.serialize_str("-inf"),
            ParamValue::Str(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The JSON value as it is: the first variant it fits. Named as the type it reads,
        /// for serde's message about a value that fits none.
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum ParamValue {
            Bool(bool),
            Int(i64),
            Float(f64),
            Str(String),
        }
        Ok(match ParamValue::deserialize(deserializer)? {
            ParamValue::Bool(b) => Self::Bool(b),
            ParamValue::Int(i) => Self::Int(i),
            ParamValue::Float(x) => Self::Float(x),
            ParamValue::Str(s) => match s.as_str() {
                "inf" => Self::Float(f64::INFINITY),
                "-inf" => Self::Float(f64::NEG_INFINITY),
                "NaN" => Self::Float(f64::NAN),
                _ => Self::Str(s),
            },
        })
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{}", Number(*x)),
            // Quoted as `{:?}` writes it, and what that leaves that could disguise a line
            // (a bidirectional override) escaped too.
            ParamValue::Str(s) => write!(f, "{}", tracectx::escape::text(&format!("{s:?}"))),
        }
    }
}

impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}

impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}

impl From<i32> for ParamValue {
    fn from(v: i32) -> Self {
        ParamValue::Int(v.into())
    }
}

impl From<u32> for ParamValue {
    fn from(v: u32) -> Self {
        ParamValue::Int(v.into())
    }
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}

impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Str(v.to_owned())
    }
}

impl From<String> for ParamValue {
    fn from(v: String) -> Self {
        ParamValue::Str(v)
    }
}

// === impl ParamError ===

/// A strategy parameter that is missing, of the wrong type or out of range.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Params;
///
/// let params = Params::new().with("fast", "ten");
/// assert_eq!(params.int("slow").unwrap_err().to_string(), r#"missing parameter "slow""#);
/// assert_eq!(
///     params.int("fast").unwrap_err().to_string(),
///     r#"parameter "fast" must be an integer, got a string: "ten""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// The parameter was not given.
    #[error("missing parameter {name:?}")]
    Missing {
        /// The parameter's name.
        name: String,
    },
    /// The parameter has a value of another type.
    #[error("parameter {name:?} must be {expected}, got {}: {}", found.kind(), Shown(found))]
    WrongType {
        /// The parameter's name.
        name: String,
        /// What was expected, in words (`"an integer"`).
        expected: &'static str,
        /// The value given.
        found: ParamValue,
    },
    /// The parameter's value is outside what the strategy accepts.
    #[error("parameter {name:?} must be {expected}, got {}", Shown(found))]
    OutOfRange {
        /// The parameter's name.
        name: String,
        /// What was expected, in words (`"at least 1"`).
        expected: String,
        /// The value given.
        found: ParamValue,
    },
    /// A parameter the strategy does not take.
    #[error(
        "unknown parameter {} for {strategy}: expected one of {known}",
        Quoted(name)
    )]
    Unknown {
        /// The parameter's name.
        name: String,
        /// The strategy's name.
        strategy: String,
        /// The parameters the strategy takes, comma-separated.
        known: String,
    },
    /// A `name=value` assignment without `=` or without a name.
    #[error("invalid parameter assignment {}: expected name=value", Quoted(text))]
    Malformed {
        /// The text given.
        text: String,
    },
}

/// A parameter's value as an error shows it: a string quoted and cut as other outside text
/// is ([`Quoted`]), anything else as [`ParamValue`] displays it.
struct Shown<'a>(&'a ParamValue);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ParamValue::Str(s) => Quoted(s).fmt(f),
            other => other.fmt(f),
        }
    }
}

// === impl Params ===

/// Named, typed strategy parameters, kept sorted by name.
///
/// Typed getters say what is wrong ([`ParamError`]): a missing name, a value of the wrong
/// type, a value out of range. Serializes as a JSON object.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Params;
///
/// let params = Params::new().with("fast", 10).with("slow", 20);
/// assert_eq!(params.positive_int("fast")?, 10);
/// assert!(!params.bool_or("long_only", false)?);
///
/// let parsed = Params::from_assignments(["fast=10", "slow=20"])?;
/// assert_eq!(parsed, params);
/// # Ok::<(), tracectx_backtest::ParamError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, ParamValue>);

impl Params {
    /// No parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert!(Params::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Params::default()
    }

    /// These parameters with `name` set to `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamValue, Params};
    /// let p = Params::new().with("fast", 10);
    /// assert_eq!(p.get("fast"), Some(&ParamValue::Int(10)));
    /// ```
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<ParamValue>) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `name` to `value`, returning the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamValue, Params};
    /// let mut p = Params::new();
    /// assert_eq!(p.insert("fast", 10), None);
    /// assert_eq!(p.insert("fast", 12), Some(ParamValue::Int(10)));
    /// ```
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<ParamValue>,
    ) -> Option<ParamValue> {
        self.0.insert(name.into(), value.into())
    }

    /// Sets a parameter from a `name=value` assignment, the value read by
    /// [`ParamValue::parse`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// let mut p = Params::new();
    /// p.insert_assignment("fast=10")?;
    /// assert_eq!(p.int("fast")?, 10);
    /// assert!(p.insert_assignment("fast").is_err());
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn insert_assignment(&mut self, text: &str) -> Result<(), ParamError> {
        match text.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                self.insert(name.trim(), ParamValue::parse(value.trim()));
                Ok(())
            }
            _ => Err(ParamError::Malformed {
                text: text.to_owned(),
            }),
        }
    }

    /// Parameters from `name=value` assignments, as `--param fast=10` gives them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// let p = Params::from_assignments(["fast=10", "long_only=true"])?;
    /// assert!(p.bool("long_only")?);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn from_assignments<I, S>(assignments: I) -> Result<Self, ParamError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut params = Params::new();
        for a in assignments {
            params.insert_assignment(a.as_ref())?;
        }
        Ok(params)
    }

    /// The value of `name`, if given.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert!(Params::new().get("fast").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    /// The parameters, sorted by name.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// let p = Params::new().with("b", 1).with("a", 2);
    /// assert_eq!(p.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert_eq!(Params::new().with("a", 1).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert!(Params::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn require(&self, name: &str) -> Result<&ParamValue, ParamError> {
        self.get(name).ok_or_else(|| ParamError::Missing {
            name: name.to_owned(),
        })
    }

    fn wrong(name: &str, expected: &'static str, found: &ParamValue) -> ParamError {
        ParamError::WrongType {
            name: name.to_owned(),
            expected,
            found: found.clone(),
        }
    }

    /// The integer `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert_eq!(Params::new().with("n", 3).int("n")?, 3);
    /// assert!(Params::new().with("n", 3.5).int("n").is_err());
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn int(&self, name: &str) -> Result<i64, ParamError> {
        match self.require(name)? {
            ParamValue::Int(i) => Ok(*i),
            other => Err(Self::wrong(name, "an integer", other)),
        }
    }

    /// The integer `name`, at least 1, as a count (a window length, a period).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert_eq!(Params::new().with("fast", 10).positive_int("fast")?, 10);
    /// let err = Params::new().with("fast", 0).positive_int("fast").unwrap_err();
    /// assert_eq!(err.to_string(), r#"parameter "fast" must be at least 1, got 0"#);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn positive_int(&self, name: &str) -> Result<usize, ParamError> {
        let i = self.int(name)?;
        usize::try_from(i)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| ParamError::OutOfRange {
                name: name.to_owned(),
                expected: "at least 1".to_owned(),
                found: ParamValue::Int(i),
            })
    }

    /// The integer `name`, at least 1, or `default` when it is not given.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert_eq!(Params::new().positive_int_or("fast", 10)?, 10);
    /// assert_eq!(Params::new().with("fast", 5).positive_int_or("fast", 10)?, 5);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn positive_int_or(&self, name: &str, default: usize) -> Result<usize, ParamError> {
        if self.get(name).is_none() {
            return Ok(default);
        }
        self.positive_int(name)
    }

    /// The number `name`; an integer is accepted and converted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert_eq!(Params::new().with("k", 2).float("k")?, 2.0);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn float(&self, name: &str) -> Result<f64, ParamError> {
        match self.require(name)? {
            ParamValue::Float(x) => Ok(*x),
            ParamValue::Int(i) => Ok(*i as f64),
            other => Err(Self::wrong(name, "a number", other)),
        }
    }

    /// The boolean `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert!(Params::new().with("long_only", true).bool("long_only")?);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn bool(&self, name: &str) -> Result<bool, ParamError> {
        match self.require(name)? {
            ParamValue::Bool(b) => Ok(*b),
            other => Err(Self::wrong(name, "a boolean", other)),
        }
    }

    /// The string `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert_eq!(Params::new().with("price", "close").str("price")?, "close");
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn str(&self, name: &str) -> Result<&str, ParamError> {
        match self.require(name)? {
            ParamValue::Str(s) => Ok(s),
            other => Err(Self::wrong(name, "a string", other)),
        }
    }

    /// The boolean `name`, or `default` when it is not given (still an error when it is given
    /// with another type).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Params;
    /// assert!(!Params::new().bool_or("long_only", false)?);
    /// assert!(Params::new().with("long_only", 1).bool_or("long_only", false).is_err());
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        if self.get(name).is_none() {
            return Ok(default);
        }
        self.bool(name)
    }
}

impl fmt::Display for Params {
    /// `fast=10 slow=20`; a name with what could disguise a line is shown escaped
    /// ([`tracectx::escape::text`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}={v}", tracectx::escape::text(k))?;
        }
        Ok(())
    }
}

// === impl StrategyError ===

/// Why a strategy could not produce signals.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, Bars, Params, StrategyError};
///
/// let err = sma_cross(&Bars::synthetic(50, 1), &Params::new().with("fast", 0)).unwrap_err();
/// assert!(matches!(err, StrategyError::Param(_)));
/// assert_eq!(err.to_string(), r#"parameter "fast" must be at least 1, got 0"#);
///
/// let custom = StrategyError::other("model file not found");
/// assert_eq!(custom.to_string(), "model file not found");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// A parameter is missing, ill-typed or out of range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// Any other failure of a user strategy.
    #[error("{0}")]
    Other(Box<dyn StdError + Send + Sync>),
}

impl StrategyError {
    /// Wraps any error (or message) of a user strategy.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::StrategyError;
    /// let e = StrategyError::other(std::io::Error::other("disk"));
    /// assert_eq!(e.to_string(), "disk");
    /// ```
    pub fn other(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StrategyError::Other(error.into())
    }
}

// === impl Strategy ===

/// A strategy the engine can run: a name for the result's metadata and a signal function.
///
/// Every `Fn(&Bars, &Params) -> Result<Signals, StrategyError>` is a strategy, named by its
/// Rust type (`my_crate::my_strategy`); wrap it in [`Named`] to give it a short name.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, Bars, Named, Params, Strategy};
///
/// assert!(sma_cross.name().ends_with("sma_cross"));
/// let named = Named::new("sma-cross", sma_cross);
/// assert_eq!(named.name(), "sma-cross");
/// let params = Params::new().with("fast", 5).with("slow", 10);
/// assert_eq!(named.signals(&Bars::synthetic(50, 1), &params)?.warmup(), 9);
/// # Ok::<(), tracectx_backtest::StrategyError>(())
/// ```
pub trait Strategy {
    /// The name recorded in the result's metadata.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, Named, Strategy};
    /// assert_eq!(Named::new("sma-cross", sma_cross).name(), "sma-cross");
    /// assert_eq!(sma_cross.name(), "tracectx_backtest::strategy::sma_cross");
    /// ```
    fn name(&self) -> Cow<'_, str>;

    /// The decisions for `bars` with `params`.
    ///
    /// # Examples
    ///
    /// A strategy of a type of its own:
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use tracectx_backtest::{Bars, Decision, Params, Signals, Strategy, StrategyError};
    ///
    /// struct AlwaysLong;
    ///
    /// impl Strategy for AlwaysLong {
    ///     fn name(&self) -> Cow<'_, str> {
    ///         "always-long".into()
    ///     }
    ///
    ///     fn signals(&self, bars: &Bars, _: &Params) -> Result<Signals, StrategyError> {
    ///         Ok(Signals::new(vec![Decision::EnterLong; bars.len()], 0))
    ///     }
    /// }
    ///
    /// let signals = AlwaysLong.signals(&Bars::synthetic(3, 1), &Params::new())?;
    /// assert_eq!(signals.decisions(), [Decision::EnterLong; 3]);
    /// # Ok::<(), StrategyError>(())
    /// ```
    fn signals(&self, bars: &Bars, params: &Params) -> Result<Signals, StrategyError>;
}

impl<F> Strategy for F
where
    F: Fn(&Bars, &Params) -> Result<Signals, StrategyError>,
{
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(type_name::<F>())
    }

    fn signals(&self, bars: &Bars, params: &Params) -> Result<Signals, StrategyError> {
        self(bars, params)
    }
}

/// A signal function with a name of its choosing.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{builtin, Named, Strategy};
///
/// let s = Named::new("sma-cross", builtin("sma-cross").unwrap());
/// assert_eq!(s.name(), "sma-cross");
/// ```
#[derive(Debug, Clone)]
pub struct Named<F> {
    name: String,
    f: F,
}

impl<F> Named<F> {
    /// `f`, called `name` in results.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, Named, Strategy};
    /// assert_eq!(Named::new("trend", sma_cross).name(), "trend");
    /// ```
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Named {
            name: name.into(),
            f,
        }
    }
}

impl<F> Strategy for Named<F>
where
    F: Fn(&Bars, &Params) -> Result<Signals, StrategyError>,
{
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }

    fn signals(&self, bars: &Bars, params: &Params) -> Result<Signals, StrategyError> {
        (self.f)(bars, params)
    }
}

// === indicators ===

/// The `n`-bar simple moving average, NaN until `n` values are in the window.
///
/// Computed exactly as pandas' `Series.rolling(n).mean()`: one running sum with separate
/// Kahan compensations for values added and removed, the mean clamped to 0 when its sign
/// contradicts every value in the window, and the value itself when the last `n` values are
/// all equal. A naive window sum differs in the last bits and flips crossovers where two
/// averages nearly tie. `n = 0` gives NaN everywhere.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::sma;
///
/// let m = sma(&[1.0, 2.0, 3.0, 4.0], 2);
/// assert!(m[0].is_nan());
/// assert_eq!(&m[1..], &[1.5, 2.5, 3.5]);
/// // Equal values give the value itself, not a sum divided back.
/// assert_eq!(sma(&[0.7, 0.1, 0.1, 0.1], 3)[3], 0.1);
/// ```
pub fn sma(values: &[f64], n: usize) -> Vec<f64> {
    let mut mean = RollingMean::new(n);
    (0..values.len()).map(|i| mean.step(values, i)).collect()
}

/// [`sma`] of `bars`' closing prices, computed once per sweep.
///
/// Inside a session of a [`sweep`](crate::BacktestEngine::sweep) on these bars, every session
/// asking for the same window shares one computation (a sweep of `fast` and `slow` windows
/// computes each distinct window once, not once per session), within the sweep's budget
/// ([`BatchOptions::indicator_memory`](crate::BatchOptions::indicator_memory), 32 MiB by
/// default: when full, the sweep forgets what it kept and starts again); elsewhere it is
/// computed on the spot. The values are [`sma`]'s, to
/// the bit, either way. The built-in [`sma_cross`] takes its averages from here in a sweep
/// when the grid's crossings are not at hand.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{close_sma, sma, Bars};
/// let bars = Bars::synthetic(100, 1);
/// assert_eq!(close_sma(&bars, 10)[9..], sma(bars.close(), 10)[9..]);
/// ```
pub fn close_sma(bars: &Bars, n: usize) -> Arc<[f64]> {
    match SharedIndicators::current_for(bars) {
        Some(shared) => shared.sma(n),
        None => Arc::from(sma(bars.close(), n)),
    }
}

// === impl SharedIndicators ===

/// The indicators a sweep's sessions share: each distinct window's moving average of the
/// closes, computed once, within a budget of bytes.
pub(crate) struct SharedIndicators {
    bars: Arc<Bars>,
    limit: usize,
    kept: Mutex<Kept>,
    /// The sweep's grid, whose [`sma_cross`] pairs [`crossings`](Self::crossings) finds.
    grid: Option<Arc<ParamGrid>>,
    /// The crossings of every [`sma_cross`] pair of the grid, found by the first session
    /// to ask (`None` inside when they would not fit the budget).
    crossings: OnceLock<Option<Crossings>>,
    /// Whether a session began the pass of [`crossings`](Self::crossings).
    crossings_begun: AtomicBool,
}

/// One shared average, computed by the first session that asks for it.
type Average = OnceLock<Arc<[f64]>>;

/// The shared averages kept, by window, and the bytes they take.
#[derive(Default)]
struct Kept {
    averages: HashMap<usize, Arc<Average>>,
    bytes: usize,
}

impl Kept {
    /// Forgets every average kept when they take more than `limit` bytes (sessions still
    /// reading one keep it alive).
    fn trim(&mut self, limit: usize) {
        if self.bytes > limit {
            self.averages.clear();
            self.bytes = 0;
        }
    }
}

thread_local! {
    /// The shared indicators of the session running on this thread, if it is a sweep's.
    static SHARED: RefCell<Option<Arc<SharedIndicators>>> = const { RefCell::new(None) };
}

impl SharedIndicators {
    /// Indicators for the sessions on `bars`, keeping at most `limit` bytes of them.
    pub(crate) fn new(bars: Arc<Bars>, limit: usize) -> Self {
        SharedIndicators {
            bars,
            limit,
            kept: Mutex::default(),
            grid: None,
            crossings: OnceLock::new(),
            crossings_begun: AtomicBool::new(false),
        }
    }

    /// These indicators for the sessions of a sweep of `grid`: [`sma_cross`]'s sessions
    /// take their crossings from one pass for the whole grid.
    pub(crate) fn for_grid(mut self, grid: Arc<ParamGrid>) -> Self {
        self.grid = Some(grid);
        self
    }

    /// Where the averages of the `fast` and `slow` windows cross, when the grid's pass found
    /// them: the first session to ask makes the pass over every `(fast, slow)` pair of the
    /// combinations of the grid's shard, as [`sma_cross`] reads them, within the budget (the
    /// averages get what it leaves). Sessions asking while it runs are not made to wait: they
    /// get `None` and take the shared averages, so the other cores keep working.
    ///
    /// The grid's constraints are left out: they are the caller's code, which runs where the
    /// sweep's jobs are made, not inside a session (its panics, time and log lines would be
    /// this session's). Pairs they would leave out cost a little memory, no result: a
    /// constraint such as `fast<slow` keeps one of each pair and its swap, the same pair here.
    fn crossings(&self, fast: usize, slow: usize) -> Option<crossings::PairCrossings<'_>> {
        let grid = self.grid.as_ref()?;
        if let Some(found) = self.crossings.get() {
            return found.as_ref()?.pair(fast, slow);
        }
        if self.crossings_begun.swap(true, Ordering::AcqRel) {
            return None;
        }
        // From now on the pass may take its share: the averages kept make room for it.
        self.kept().trim(self.sma_limit());
        let found = self.crossings.get_or_init(|| {
            let pairs = || {
                grid.unconstrained()
                    .filter_map(|params| sma_cross_windows(&params).ok())
            };
            Crossings::find(self.bars.close(), pairs, self.crossings_budget())
        });
        found.as_ref()?.pair(fast, slow)
    }

    /// The bytes the pass of [`crossings`](Self::crossings) may take: half the budget.
    fn crossings_budget(&self) -> usize {
        self.limit / 2
    }

    /// The bytes the averages may take: the budget less what the crossings take, or may
    /// take while their pass runs.
    fn sma_limit(&self) -> usize {
        let crossings = match self.crossings.get() {
            Some(found) => found.as_ref().map_or(0, Crossings::bytes),
            None if self.crossings_begun.load(Ordering::Acquire) => self.crossings_budget(),
            None => 0,
        };
        self.limit.saturating_sub(crossings)
    }

    /// The averages kept.
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with `shared` as this thread's shared indicators, the previous ones back
    /// afterwards (also when `f` unwinds).
    pub(crate) fn scope<R>(shared: &Arc<SharedIndicators>, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Arc<SharedIndicators>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                let _ = SHARED.try_with(|s| *s.borrow_mut() = previous);
            }
        }
        let previous = SHARED.with(|s| s.borrow_mut().replace(Arc::clone(shared)));
        let _restore = Restore(previous);
        f()
    }

    /// This thread's shared indicators, when they are for `bars`.
    fn current_for(bars: &Bars) -> Option<Arc<SharedIndicators>> {
        SHARED
            .try_with(|s| {
                s.borrow()
                    .as_ref()
                    .filter(|shared| std::ptr::eq(&*shared.bars, bars))
                    .cloned()
            })
            .ok()
            .flatten()
    }

    /// The `n`-bar average of the closes: computed once, by the first session to ask (the
    /// others wait for it), while the budget lasts.
    fn sma(&self, n: usize) -> Arc<[f64]> {
        let bytes = self.bars.len() * size_of::<f64>();
        let cell = {
            let mut kept = self.kept();
            match kept.averages.get(&n) {
                Some(cell) => Arc::clone(cell),
                None => {
                    // Read under the lock: the session that begins the pass of the crossings
                    // says so, then trims the averages under it, so that from then on each
                    // one added leaves the pass its share.
                    let limit = self.sma_limit();
                    if bytes > limit {
                        drop(kept);
                        return price_sma(self.bars.close(), n);
                    }
                    // Full: forget every average kept and start again.
                    kept.trim(limit - bytes);
                    kept.bytes += bytes;
                    Arc::clone(kept.averages.entry(n).or_default())
                }
            }
        };
        Arc::clone(cell.get_or_init(|| price_sma(self.bars.close(), n)))
    }
}

/// [`sma`] of prices (finite and positive, as [`Bars`] holds them): once the window is full,
/// the branch-free step, which gives the same means.
fn price_sma(close: &[f64], n: usize) -> Arc<[f64]> {
    let mut mean = RollingMean::new(n);
    let full = n.min(close.len());
    // Collected from a map over a range (an iterator of known length), the averages are
    // written once, in place: `Arc::from(Vec)` would copy them into fresh memory.
    (0..close.len())
        .map(|i| {
            if i < full {
                mean.step(close, i)
            } else {
                mean.step_full(close, i)
            }
        })
        .collect()
}

/// The state of pandas' rolling mean over a window of `n` values; see [`sma`].
struct RollingMean {
    n: usize,
    sum: f64,
    comp_add: f64,
    comp_rem: f64,
    nobs: usize,
    neg: usize,
    same: usize,
    prev: f64,
}

impl RollingMean {
    /// [`step`](Self::step) once the window is full, for finite positive values (what
    /// [`Bars`] guarantees for prices): no NaN to skip, no negative value to count, so the
    /// same operations in the same order without the branches. Requires `i >= n >= 1` and
    /// every earlier step to have seen finite positive values.
    #[inline]
    fn step_full(&mut self, values: &[f64], i: usize) -> f64 {
        let old = values[i - self.n];
        let y = -old - self.comp_rem;
        let t = self.sum + y;
        self.comp_rem = (t - self.sum) - y;
        self.sum = t;
        let v = values[i];
        let y = v - self.comp_add;
        let t = self.sum + y;
        self.comp_add = (t - self.sum) - y;
        self.sum = t;
        self.same = if v == self.prev { self.same + 1 } else { 1 };
        self.prev = v;
        let m = self.sum / self.nobs as f64;
        if self.same >= self.nobs {
            self.prev
        } else if m < 0.0 {
            // No negative value in the window (`neg == 0`): a negative mean is rounding.
            0.0
        } else {
            m
        }
    }

    fn new(n: usize) -> Self {
        RollingMean {
            n,
            sum: 0.0,
            comp_add: 0.0,
            comp_rem: 0.0,
            nobs: 0,
            neg: 0,
            same: 0,
            prev: f64::NAN,
        }
    }

    /// Moves the window to end at `values[i]` (called for `i = 0, 1, 2, ...` in turn) and
    /// returns the mean, NaN while fewer than `n` values are in it.
    #[inline]
    fn step(&mut self, values: &[f64], i: usize) -> f64 {
        let n = self.n;
        if n == 0 {
            return f64::NAN;
        }
        if i >= n {
            let old = values[i - n];
            if !old.is_nan() {
                self.nobs -= 1;
                let y = -old - self.comp_rem;
                let t = self.sum + y;
                self.comp_rem = (t - self.sum) - y;
                self.sum = t;
                if old.is_sign_negative() {
                    self.neg -= 1;
                }
            }
        }
        let v = values[i];
        if !v.is_nan() {
            self.nobs += 1;
            let y = v - self.comp_add;
            let t = self.sum + y;
            self.comp_add = (t - self.sum) - y;
            self.sum = t;
            if v.is_sign_negative() {
                self.neg += 1;
            }
            if v == self.prev {
                self.same += 1;
            } else {
                self.same = 1;
            }
            self.prev = v;
        }
        if self.nobs < n {
            return f64::NAN;
        }
        let m = self.sum / self.nobs as f64;
        if self.same >= self.nobs {
            self.prev
        } else if (self.neg == 0 && m < 0.0) || (self.neg == self.nobs && m > 0.0) {
            0.0
        } else {
            m
        }
    }
}

/// Whether `a` crossed above `b` at bar `i`: `a[i-1] < b[i-1]` and `a[i] > b[i]`, strictly.
///
/// A NaN anywhere, a tie on bar `i - 1`, or `i == 0` is no cross. Swap the arguments for a
/// cross below.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::crossover;
///
/// let fast = [1.0, 3.0, 3.0];
/// let slow = [2.0, 2.0, 4.0];
/// assert!(crossover(&fast, &slow, 1));
/// assert!(!crossover(&fast, &slow, 2));
/// assert!(crossover(&slow, &fast, 2));
/// ```
pub fn crossover(a: &[f64], b: &[f64], i: usize) -> bool {
    i > 0 && i < a.len() && i < b.len() && a[i - 1] < b[i - 1] && a[i] > b[i]
}

/// The warm-up bar of a set of indicators, as the reference engine counts it: the latest
/// first-defined (non-NaN) index among them. An indicator with no value at all counts as 0.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma, warmup};
///
/// let close = [1.0, 2.0, 3.0, 4.0, 5.0];
/// assert_eq!(warmup(&[&sma(&close, 2), &sma(&close, 3)]), 2);
/// assert_eq!(warmup(&[]), 0);
/// ```
pub fn warmup(indicators: &[&[f64]]) -> usize {
    indicators
        .iter()
        .map(|ind| ind.iter().position(|v| !v.is_nan()).unwrap_or(0))
        .max()
        .unwrap_or(0)
}

// === built-in strategies ===

/// A signal function, as the built-ins are.
///
/// Any closure `Fn(&Bars, &Params) -> Result<Signals, StrategyError>` is a strategy; this is
/// the type of the plain functions [`builtin`] returns.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, Bars, Params, SignalFn};
///
/// let f: SignalFn = sma_cross;
/// let signals = f(&Bars::synthetic(100, 1), &Params::new().with("fast", 5).with("slow", 20))?;
/// assert_eq!(signals.len(), 100);
/// # Ok::<(), tracectx_backtest::StrategyError>(())
/// ```
pub type SignalFn = fn(&Bars, &Params) -> Result<Signals, StrategyError>;

/// The names of the built-in strategies, for [`builtin`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{builtin, BUILTIN_STRATEGIES};
/// assert!(BUILTIN_STRATEGIES.iter().all(|name| builtin(name).is_some()));
/// ```
pub const BUILTIN_STRATEGIES: &[&str] = &["sma-cross"];

/// The built-in strategy called `name`, if there is one.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{builtin, Bars, Params};
///
/// let strategy = builtin("sma-cross").unwrap();
/// let signals = strategy(&Bars::synthetic(100, 1), &Params::new().with("fast", 5).with("slow", 10))?;
/// assert_eq!(signals.warmup(), 9);
/// assert!(builtin("nope").is_none());
/// # Ok::<(), tracectx_backtest::StrategyError>(())
/// ```
pub fn builtin(name: &str) -> Option<SignalFn> {
    Builtin::find(name).map(|b| b.signals)
}

// === impl ParamSpec ===

/// The kind of value a parameter takes.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::ParamKind;
/// assert_eq!(ParamKind::Int.to_string(), "integer");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamKind {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// Text.
    Str,
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ParamKind::Bool => "boolean",
            ParamKind::Int => "integer",
            ParamKind::Float => "float",
            ParamKind::Str => "string",
        })
    }
}

/// One parameter a strategy takes: its name, kind, default (when it may be left out) and
/// what it does.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Builtin, ParamKind, ParamValue};
/// let fast = &Builtin::find("sma-cross").unwrap().params[0];
/// assert_eq!((fast.name, fast.kind), ("fast", ParamKind::Int));
/// assert_eq!(fast.default_value(), Some(ParamValue::Int(10)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParamSpec {
    /// The parameter's name.
    pub name: &'static str,
    /// The kind of value it takes.
    pub kind: ParamKind,
    /// Its default, as a command line writes it (read by [`ParamValue::parse`]); `None`
    /// when it must be given.
    pub default: Option<&'static str>,
    /// What it does, in a line.
    pub description: &'static str,
}

impl ParamSpec {
    /// The default as a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Builtin, ParamValue};
    /// let long_only = &Builtin::find("sma-cross").unwrap().params[2];
    /// assert_eq!(long_only.default_value(), Some(ParamValue::Bool(false)));
    /// ```
    pub fn default_value(&self) -> Option<ParamValue> {
        self.default.map(ParamValue::parse)
    }

    /// Refuses a value of another kind than the parameter's, as reading it in the strategy
    /// would ([`Params::int`], [`Params::float`], ...: an integer is a float too, no other
    /// kind converts).
    ///
    /// # Errors
    ///
    /// [`ParamError::WrongType`] naming the parameter, the kind expected and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Builtin, ParamValue};
    /// let fast = &Builtin::find("sma-cross").unwrap().params[0];
    /// assert!(fast.check_kind(&ParamValue::Int(5)).is_ok());
    /// let err = fast.check_kind(&ParamValue::Float(1.5)).unwrap_err();
    /// assert_eq!(err.to_string(), r#"parameter "fast" must be an integer, got a float: 1.5"#);
    /// ```
    pub fn check_kind(&self, value: &ParamValue) -> Result<(), ParamError> {
        let (fits, expected) = match self.kind {
            ParamKind::Bool => (matches!(value, ParamValue::Bool(_)), "a boolean"),
            // A whole number past the integers was read as a float: its range is the reason.
            ParamKind::Int => match value {
                ParamValue::Float(x) if x.abs() >= 9_223_372_036_854_775_808.0 => (
                    false,
                    "an integer from -9223372036854775808 to 9223372036854775807",
                ),
                _ => (matches!(value, ParamValue::Int(_)), "an integer"),
            },
            ParamKind::Float => (
                matches!(value, ParamValue::Float(_) | ParamValue::Int(_)),
                "a number",
            ),
            ParamKind::Str => (matches!(value, ParamValue::Str(_)), "a string"),
        };
        if fits {
            Ok(())
        } else {
            Err(ParamError::WrongType {
                name: self.name.to_owned(),
                expected,
                found: value.clone(),
            })
        }
    }
}

// === impl Builtin ===

/// A built-in strategy: its name, what it does, the parameters it takes and its signal
/// function. [`Builtin::ALL`] lists them (what `tracectx strategies` prints).
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Bars, Builtin, Params};
///
/// let sma_cross = Builtin::find("sma-cross").unwrap();
/// // Defaults filled in; a name the strategy does not take is refused with the known ones.
/// let params = sma_cross.check(&Params::new().with("slow", 30))?;
/// assert_eq!(params.to_string(), "fast=10 long_only=false slow=30");
/// let err = sma_cross.check(&Params::new().with("fsat", 5)).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"unknown parameter "fsat" for sma-cross: expected one of fast, slow, long_only"#
/// );
/// assert_eq!((sma_cross.signals)(&Bars::synthetic(100, 1), &params)?.warmup(), 29);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Builtin {
    /// The name the command line knows it by.
    pub name: &'static str,
    /// What it does, in a line.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [ParamSpec],
    /// Its signal function.
    pub signals: SignalFn,
}

impl Builtin {
    /// Every built-in strategy.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Builtin;
    /// let names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name).collect();
    /// assert_eq!(names, tracectx_backtest::BUILTIN_STRATEGIES);
    /// ```
    pub const ALL: &'static [Builtin] = &[Builtin {
        name: "sma-cross",
        summary: "moving-average crossover on closing prices: long when the fast average crosses above the slow one, short (or flat with long_only) when it crosses below",
        params: &[
            ParamSpec {
                name: "fast",
                kind: ParamKind::Int,
                default: Some("10"),
                description: "bars in the fast moving average (at least 1)",
            },
            ParamSpec {
                name: "slow",
                kind: ParamKind::Int,
                default: Some("20"),
                description: "bars in the slow moving average (at least 1)",
            },
            ParamSpec {
                name: "long_only",
                kind: ParamKind::Bool,
                default: Some("false"),
                description: "exit on the sell signal instead of going short",
            },
        ],
        signals: sma_cross,
    }];

    /// The built-in strategy called `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Builtin;
    /// assert_eq!(Builtin::find("sma-cross").unwrap().params.len(), 3);
    /// assert!(Builtin::find("nope").is_none());
    /// ```
    pub fn find(name: &str) -> Option<&'static Builtin> {
        Builtin::ALL.iter().find(|b| b.name == name)
    }

    /// `params` with every parameter left out set to its default, checked: a name the
    /// strategy does not take is refused, naming the ones it does.
    ///
    /// # Errors
    ///
    /// [`ParamError::Unknown`] for a name the strategy does not take.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Builtin, Params};
    /// let params = Builtin::find("sma-cross").unwrap().check(&Params::new())?;
    /// assert_eq!(params.int("fast")?, 10);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn check(&self, params: &Params) -> Result<Params, ParamError> {
        self.check_names(params.iter().map(|(k, _)| k))?;
        let mut checked = params.clone();
        for spec in self.params {
            if checked.get(spec.name).is_none() {
                if let Some(default) = spec.default_value() {
                    checked.insert(spec.name, default);
                }
            }
        }
        Ok(checked)
    }

    /// Refuses a name among `names` the strategy does not take.
    ///
    /// # Errors
    ///
    /// [`ParamError::Unknown`] naming the first such name and the known ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Builtin;
    /// let sma_cross = Builtin::find("sma-cross").unwrap();
    /// assert!(sma_cross.check_names(["fast", "slow"]).is_ok());
    /// assert!(sma_cross.check_names(["fsat"]).is_err());
    /// ```
    pub fn check_names<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ParamError> {
        for name in names {
            if !self.params.iter().any(|p| p.name == name) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                return Err(ParamError::Unknown {
                    name: name.to_owned(),
                    strategy: self.name.to_owned(),
                    known: known.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Moving-average crossover on closing prices.
///
/// Parameters: `fast` and `slow` (window lengths, integers from 1; 10 and 20 when left out,
/// as backtesting.py's `SmaCross`) and `long_only` (boolean, default `false`). When the fast average crosses above the slow one the strategy enters
/// long; when it crosses below it enters short, or with `long_only` it exits. The warm-up is
/// the bar where the longer average first has a value.
///
/// In a [`sweep`](crate::BacktestEngine::sweep), the crossings of every `(fast, slow)` pair
/// of the grid are found in one pass over the bars (within
/// [`BatchOptions::indicator_memory`](crate::BatchOptions::indicator_memory)), or the
/// averages are shared ([`close_sma`]): the same decisions as alone, to the bit.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, Bars, Decision, Params};
///
/// let bars = Bars::synthetic(500, 3);
/// let long_short = sma_cross(&bars, &Params::new().with("fast", 10).with("slow", 20))?;
/// assert_eq!(long_short.warmup(), 19);
/// assert!(long_short.decisions().contains(&Decision::EnterShort));
///
/// let long_only = sma_cross(
///     &bars,
///     &Params::new().with("fast", 10).with("slow", 20).with("long_only", true),
/// )?;
/// assert!(!long_only.decisions().contains(&Decision::EnterShort));
/// assert!(long_only.decisions().contains(&Decision::Exit));
/// # Ok::<(), tracectx_backtest::StrategyError>(())
/// ```
pub fn sma_cross(bars: &Bars, params: &Params) -> Result<Signals, StrategyError> {
    let (fast_n, slow_n) = sma_cross_windows(params)?;
    let long_only = params.bool_or("long_only", false)?;
    let close = bars.close();
    let down = if long_only {
        Decision::Exit
    } else {
        Decision::EnterShort
    };
    // Finite positive prices: an average is defined from its window's last bar on.
    let first = |n: usize| if n <= close.len() { n - 1 } else { 0 };
    if let Some(shared) = SharedIndicators::current_for(bars) {
        let warmup = first(fast_n).max(first(slow_n));
        if let Some(crossings) = shared.crossings(fast_n, slow_n) {
            // In a sweep: the crossings the grid's pass found, the same as below.
            let moves = crossings.iter().map(|(i, up)| {
                let decision = if up { Decision::EnterLong } else { down };
                (i, decision)
            });
            return Ok(Signals::from_moves(close.len(), warmup, moves));
        }
        // In a sweep: the averages every session shares, the same values as below.
        let (fast, slow) = (shared.sma(fast_n), shared.sma(slow_n));
        let mut decisions = vec![Decision::Hold; close.len()];
        // Bar `i` decides on bars `i - 1` and `i`: the crossings of the two curves (rare:
        // a store only then).
        let n = close.len().min(fast.len()).min(slow.len());
        let (f, s) = (&fast[..n], &slow[..n]);
        // A block of bars at a time: whether it holds a crossing is the same comparisons
        // without a store, which the compiler vectorizes; only a block with one is walked
        // bar by bar.
        const CROSS_BLOCK: usize = 32;
        let mut start = 1;
        while start < n {
            let end = (start + CROSS_BLOCK).min(n);
            let (f0, s0) = (&f[start - 1..end - 1], &s[start - 1..end - 1]);
            let (f1, s1) = (&f[start..end], &s[start..end]);
            let any = f0.iter().zip(s0).zip(f1.iter().zip(s1)).fold(
                false,
                |any, ((&pf, &ps), (&cf, &cs))| {
                    any | ((pf < ps) & (cf > cs)) | ((ps < pf) & (cs > cf))
                },
            );
            if any {
                for i in start..end {
                    let up = (f[i - 1] < s[i - 1]) & (f[i] > s[i]);
                    let under = (s[i - 1] < f[i - 1]) & (s[i] > f[i]);
                    if up | under {
                        decisions[i] = if up { Decision::EnterLong } else { down };
                    }
                }
            }
            start = end;
        }
        return Ok(Signals::new(decisions, warmup));
    }
    // Both averages in one pass, without storing them: the two compensated sums interleave,
    // and a cross only needs the previous bar's values. A cross needs both averages defined
    // on the previous bar, so no decision falls before the first decision bar.
    let (mut fast, mut slow) = (RollingMean::new(fast_n), RollingMean::new(slow_n));
    let (mut first_fast, mut first_slow) = (None, None);
    let (mut prev_f, mut prev_s) = (f64::NAN, f64::NAN);
    let mut decisions = vec![Decision::Hold; close.len()];
    // Bars hold finite positive prices, so once both windows are full the branch-free step
    // gives the same means.
    let full = fast_n.max(slow_n).min(close.len());
    let (head, tail) = decisions.split_at_mut(full);
    for (i, d) in head.iter_mut().enumerate() {
        let f = fast.step(close, i);
        let s = slow.step(close, i);
        if first_fast.is_none() && !f.is_nan() {
            first_fast = Some(i);
        }
        if first_slow.is_none() && !s.is_nan() {
            first_slow = Some(i);
        }
        if prev_f < prev_s && f > s {
            *d = Decision::EnterLong;
        } else if prev_s < prev_f && s > f {
            *d = down;
        }
        (prev_f, prev_s) = (f, s);
    }
    if !tail.is_empty() {
        // Both averages are defined from here on.
        first_fast.get_or_insert(fast_n - 1);
        first_slow.get_or_insert(slow_n - 1);
    }
    for (k, d) in tail.iter_mut().enumerate() {
        let i = full + k;
        let f = fast.step_full(close, i);
        let s = slow.step_full(close, i);
        if prev_f < prev_s && f > s {
            *d = Decision::EnterLong;
        } else if prev_s < prev_f && s > f {
            *d = down;
        }
        (prev_f, prev_s) = (f, s);
    }
    // The reference's warm-up: the later first value, an average with none counting as 0.
    let w = first_fast.unwrap_or(0).max(first_slow.unwrap_or(0));
    Ok(Signals::new(decisions, w))
}

/// The `fast` and `slow` windows of [`sma_cross`]'s parameters (10 and 20 when left out).
fn sma_cross_windows(params: &Params) -> Result<(usize, usize), ParamError> {
    Ok((
        params.positive_int_or("fast", 10)?,
        params.positive_int_or("slow", 20)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the shared averages and crossings hold, counted from what is there.
    fn held(shared: &SharedIndicators) -> usize {
        let averages: usize = shared
            .kept()
            .averages
            .values()
            .filter_map(|cell| cell.get())
            .map(|a| size_of_val(&**a))
            .sum();
        let crossings = shared.crossings.get().and_then(Option::as_ref);
        averages + crossings.map_or(0, Crossings::bytes)
    }

    #[test]
    fn averages_and_crossings_together_stay_within_the_budget() {
        let bars = Arc::new(Bars::synthetic(1_000, 3));
        let average = 1_000 * size_of::<f64>();
        let limit = 6 * average;
        let grid = ParamGrid::new()
            .parse_axis("fast=2,3,5")
            .unwrap()
            .parse_axis("slow=20,30")
            .unwrap();
        let new =
            || SharedIndicators::new(Arc::clone(&bars), limit).for_grid(Arc::new(grid.clone()));

        // Averages first (a strategy reading `close_sma`), then the pass.
        let shared = new();
        for n in 50..56 {
            shared.sma(n);
            assert!(held(&shared) <= limit);
        }
        assert_eq!(held(&shared), limit);
        let found = shared.crossings(2, 20).map(|p| p.iter().count());
        assert!(found.is_some_and(|c| c > 0), "{found:?}");
        assert!(held(&shared) <= limit, "{} > {limit}", held(&shared));
        for n in 60..80 {
            shared.sma(n);
            assert!(held(&shared) <= limit, "{} > {limit}", held(&shared));
        }

        // While the pass runs (begun by another session), it may take its share.
        let shared = new();
        shared.crossings_begun.store(true, Ordering::Release);
        for n in 50..60 {
            let bits = |a: Arc<[f64]>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert!(bits(shared.sma(n)) == bits(price_sma(bars.close(), n)));
            let room = limit - shared.crossings_budget();
            assert!(held(&shared) <= room, "{} > {room}", held(&shared));
        }
    }
}
