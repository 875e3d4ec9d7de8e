//! Parameter grids: every combination of some parameters' values, the input of a sweep, with
//! a cap on their number that refuses a mistyped grid at once.

use std::fmt;

use crate::{ParamValue, Params};

// === impl GridError ===

/// A parameter grid that cannot be swept: an axis that cannot be read, or more combinations
/// than [`ParamGrid::MAX_COMBINATIONS`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::ParamGrid;
///
/// let err = ParamGrid::new().parse_axis("fast=5:50:0").unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid grid axis "fast=5:50:0": the step must be above 0"#);
/// assert_eq!(err.combinations(), None);
///
/// let err = ParamGrid::new()
///     .parse_axis("fast=1:1000000:1")?
///     .parse_axis("slow=1:1000000:1")
///     .unwrap_err();
/// assert_eq!(err.combinations(), Some(1_000_000_000_000));
/// assert_eq!(
///     err.to_string(),
///     "invalid grid axis \"slow=1:1000000:1\": the grid would have 1,000,000,000,000 \
///      combinations, over the cap of 1,000,000",
/// );
/// # Ok::<(), tracectx_backtest::GridError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridError {
    /// The axis as written, when the error is about one.
    axis: Option<String>,
    reason: GridReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GridReason {
    /// The axis cannot be read.
    Axis(&'static str),
    /// The grid has more combinations than the cap (saturating at `u128::MAX`).
    TooLarge { combinations: u128 },
}

impl GridError {
    /// The number of combinations the grid would have had, when that is what is wrong (over
    /// [`ParamGrid::MAX_COMBINATIONS`]); `u128::MAX` stands for that many or more.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let err = ParamGrid::new().parse_axis("k=0:1:0.0000001").unwrap_err();
    /// assert_eq!(err.combinations(), Some(10_000_001));
    /// assert!(ParamGrid::new().parse_axis("k").unwrap_err().combinations().is_none());
    /// ```
    pub fn combinations(&self) -> Option<u128> {
        match self.reason {
            GridReason::TooLarge { combinations } => Some(combinations),
            GridReason::Axis(_) => None,
        }
    }
}

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.axis {
            Some(text) => write!(f, "invalid grid axis {text:?}: ")?,
            None => f.write_str("invalid parameter grid: ")?,
        }
        match self.reason {
            GridReason::Axis(reason) => f.write_str(reason),
            GridReason::TooLarge { combinations } => {
                let count = if combinations == u128::MAX {
                    "more than 10^38".to_owned()
                } else {
                    thousands(combinations)
                };
                let verb = if self.axis.is_some() {
                    "would have"
                } else {
                    "has"
                };
                write!(
                    f,
                    "the grid {verb} {count} combinations, over the cap of {}",
                    thousands(ParamGrid::MAX_COMBINATIONS as u128)
                )
            }
        }
    }
}

impl std::error::Error for GridError {}

/// `n` with a comma every three digits.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// === impl ParamGrid ===

/// Every combination of some parameters' values: the input of a sweep.
///
/// Axes are given as lists of values ([`axis`](Self::axis)) or as the command line writes
/// them ([`parse_axis`](Self::parse_axis)): `fast=5:50:5` (from 5 to 50 inclusive, step 5) or
/// `mode=a,b,c`. Parameters that do not vary are [`fixed`](Self::fixed). Combinations come in
/// the order of the axes, the last varying fastest.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::ParamGrid;
///
/// let grid = ParamGrid::new()
///     .parse_axis("fast=5:50:5")?
///     .parse_axis("slow=20:200:10")?
///     .fixed("long_only", true);
/// assert_eq!(grid.len(), 10 * 19);
/// let first = grid.combinations().next().unwrap();
/// assert_eq!(first.to_string(), "fast=5 long_only=true slow=20");
/// # Ok::<(), tracectx_backtest::GridError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamGrid {
    fixed: Params,
    axes: Vec<(String, Vec<ParamValue>)>,
}

impl ParamGrid {
    /// The most combinations a grid may have: 1,000,000.
    ///
    /// A sweep runs one session and keeps one result (statistics, trades, metadata) per
    /// combination, so a million combinations is already hours of work and gigabytes of
    /// results; a mistyped range (`slow=20:20000000:1`, or two axes of a thousand values
    /// too many) should be an error at once, not an exhausted memory later.
    /// [`parse_axis`](Self::parse_axis) refuses an axis that would take the grid over the
    /// cap, before making its values; [`checked_len`](Self::checked_len) checks a grid built
    /// with [`axis`](Self::axis); [`BacktestEngine::sweep`](crate::BacktestEngine::sweep)
    /// runs no session of a grid over it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// assert_eq!(ParamGrid::MAX_COMBINATIONS, 1_000_000);
    /// assert!(ParamGrid::new().parse_axis("a=1:1000:1")?.parse_axis("b=1:1000:1").is_ok());
    /// assert!(ParamGrid::new().parse_axis("a=1:1000:1")?.parse_axis("b=1:1001:1").is_err());
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub const MAX_COMBINATIONS: usize = 1_000_000;

    /// An empty grid: one combination, with no parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx_backtest::ParamGrid::new().len(), 1);
    /// ```
    pub fn new() -> Self {
        ParamGrid::default()
    }

    /// This grid with `name` taking each of `values` in turn (replacing an axis or fixed
    /// value of the same name).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).axis("slow", [20, 30, 40]);
    /// assert_eq!(grid.len(), 6);
    /// ```
    #[must_use]
    pub fn axis<V: Into<ParamValue>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let name = name.into();
        self.fixed = std::mem::take(&mut self.fixed)
            .iter()
            .filter(|(k, _)| *k != name)
            .fold(Params::new(), |p, (k, v)| p.with(k, v.clone()));
        let values = values.into_iter().map(Into::into).collect();
        match self.axes.iter_mut().find(|(k, _)| *k == name) {
            Some(axis) => axis.1 = values,
            None => self.axes.push((name, values)),
        }
        self
    }

    /// This grid with `name` fixed to `value` in every combination.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).fixed("slow", 30);
    /// assert!(grid.combinations().all(|p| p.int("slow") == Ok(30)));
    /// ```
    #[must_use]
    pub fn fixed(mut self, name: impl Into<String>, value: impl Into<ParamValue>) -> Self {
        let name = name.into();
        self.axes.retain(|(k, _)| *k != name);
        self.fixed.insert(name, value);
        self
    }

    /// This grid with an axis written as on the command line: `name=start:stop:step`
    /// (inclusive of `stop` when the steps land on it; integers when all three are) or
    /// `name=v1,v2,...` (each value read by [`ParamValue::parse`]); a single value fixes the
    /// parameter.
    ///
    /// # Errors
    ///
    /// [`GridError`] naming the text: no `=`, a range with a part that is not a number, a
    /// step of 0 or less, a stop before the start, or an axis that would take the grid over
    /// [`MAX_COMBINATIONS`](Self::MAX_COMBINATIONS) (checked before any value is made, and
    /// without overflow whatever the numbers).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, ParamValue};
    ///
    /// let grid = ParamGrid::new().parse_axis("k=0.5:1.5:0.5")?.parse_axis("mode=fast,slow")?;
    /// assert_eq!(grid.len(), 6);
    /// assert_eq!(grid.combinations().last().unwrap().get("k"), Some(&ParamValue::Float(1.5)));
    /// assert!(ParamGrid::new().parse_axis("fast=50:5:5").is_err());
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn parse_axis(self, text: &str) -> Result<Self, GridError> {
        let fail = |reason| GridError {
            axis: Some(text.to_owned()),
            reason: GridReason::Axis(reason),
        };
        // The whole grid with this axis of `count` values must stay under the cap; checked
        // before the values are made.
        let check = |name: &str, count: u128| {
            let combinations = self.len_with(Some(name), count).max(count);
            if combinations > ParamGrid::MAX_COMBINATIONS as u128 {
                Err(GridError {
                    axis: Some(text.to_owned()),
                    reason: GridReason::TooLarge { combinations },
                })
            } else {
                Ok(())
            }
        };
        let (name, spec) = text
            .split_once('=')
            .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
            .ok_or_else(|| fail("expected name=start:stop:step or name=v1,v2,..."))?;
        let (name, spec) = (name.trim(), spec.trim());
        let values: Vec<ParamValue> = if spec.contains(':') {
            let parts: Vec<ParamValue> = spec
                .split(':')
                .map(|p| ParamValue::parse(p.trim()))
                .collect();
            match parts.as_slice() {
                [
                    ParamValue::Int(a),
                    ParamValue::Int(b),
                    ParamValue::Int(step),
                ] => {
                    if *step <= 0 {
                        return Err(fail("the step must be above 0"));
                    }
                    if b < a {
                        return Err(fail("the stop is before the start"));
                    }
                    // In i128: `b - a` of two i64 cannot overflow there.
                    let (a, b, step) = (i128::from(*a), i128::from(*b), i128::from(*step));
                    let last = (b - a) / step;
                    check(name, last.unsigned_abs() + 1)?;
                    // `a + k * step` lies in `a..=b`, so it fits an i64 again.
                    (0..=last)
                        .map(|k| ParamValue::Int((a + k * step) as i64))
                        .collect()
                }
                [a, b, step] => {
                    let num = |v: &ParamValue| match v {
                        ParamValue::Int(i) => Some(*i as f64),
                        ParamValue::Float(x) if x.is_finite() => Some(*x),
                        _ => None,
                    };
                    let (Some(a), Some(b), Some(step)) = (num(a), num(b), num(step)) else {
                        return Err(fail("start, stop and step must be numbers"));
                    };
                    if step <= 0.0 {
                        return Err(fail("the step must be above 0"));
                    }
                    if b < a {
                        return Err(fail("the stop is before the start"));
                    }
                    // A tolerance of a millionth of a step, so 0.1:0.3:0.1 ends at 0.3. `b - a`
                    // may be infinite (from -1e308 to 1e308): the count is then infinite too,
                    // and the cast to u128 saturates.
                    let last = ((b - a) / step + 1e-6).floor();
                    check(name, (last + 1.0) as u128)?;
                    (0..=last as i64)
                        .map(|k| ParamValue::Float(a + k as f64 * step))
                        .collect()
                }
                _ => return Err(fail("a range is start:stop:step")),
            }
        } else {
            check(name, spec.split(',').count() as u128)?;
            spec.split(',')
                .map(|v| ParamValue::parse(v.trim()))
                .collect()
        };
        Ok(match <[ParamValue; 1]>::try_from(values) {
            Ok([value]) => self.fixed(name, value),
            Err(values) => self.axis(name, values),
        })
    }

    /// The number of combinations: the product of the axes' lengths, saturating at
    /// `usize::MAX`. It may be over [`MAX_COMBINATIONS`](Self::MAX_COMBINATIONS) for a grid
    /// built with [`axis`](Self::axis); [`checked_len`](Self::checked_len) says so.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// assert_eq!(ParamGrid::new().axis("a", [1, 2]).axis("b", [1, 2, 3]).len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.axes
            .iter()
            .fold(1usize, |n, (_, v)| n.saturating_mul(v.len()))
    }

    /// The number of combinations, or a [`GridError`] saying how many there are when that
    /// is over [`MAX_COMBINATIONS`](Self::MAX_COMBINATIONS).
    ///
    /// # Errors
    ///
    /// [`GridError`] with [`combinations`](GridError::combinations) when the grid is over
    /// the cap.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    ///
    /// assert_eq!(ParamGrid::new().axis("a", [1, 2]).checked_len(), Ok(2));
    /// let huge = ParamGrid::new().axis("a", 0..2_000).axis("b", 0..2_000);
    /// let err = huge.checked_len().unwrap_err();
    /// assert_eq!(err.combinations(), Some(4_000_000));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid parameter grid: the grid has 4,000,000 combinations, over the cap of 1,000,000"
    /// );
    /// ```
    pub fn checked_len(&self) -> Result<usize, GridError> {
        let combinations = self.len_with(None, 1);
        if combinations > ParamGrid::MAX_COMBINATIONS as u128 {
            return Err(GridError {
                axis: None,
                reason: GridReason::TooLarge { combinations },
            });
        }
        // At most the cap, so it fits a usize.
        Ok(combinations as usize)
    }

    /// The number of combinations times `count`, leaving out the axis `replaced` (an axis
    /// of `count` values replaces it), saturating at `u128::MAX`.
    fn len_with(&self, replaced: Option<&str>, count: u128) -> u128 {
        self.axes
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != replaced)
            .fold(count, |n, (_, v)| n.saturating_mul(v.len() as u128))
    }

    /// Whether there is no combination at all (an axis without values).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// assert!(ParamGrid::new().axis("a", Vec::<i64>::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every combination, the last axis varying fastest, made one at a time as the iterator
    /// is advanced.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("a", [1, 2]).axis("b", [3, 4]);
    /// let all: Vec<String> = grid.combinations().map(|p| p.to_string()).collect();
    /// assert_eq!(all, ["a=1 b=3", "a=1 b=4", "a=2 b=3", "a=2 b=4"]);
    /// ```
    pub fn combinations(&self) -> impl Iterator<Item = Params> + '_ {
        let total = self.len();
        (0..total).map(move |mut k| {
            let mut params = self.fixed.clone();
            for (name, values) in self.axes.iter().rev() {
                params.insert(name.clone(), values[k % values.len()].clone());
                k /= values.len();
            }
            params
        })
    }
}
