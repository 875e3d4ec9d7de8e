//! Parameter grids: every combination of some parameters' values, the input of a sweep, with
//! a cap on their number that refuses a mistyped grid at once.

use std::fmt;

use crate::quote::Quoted;
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
    /// A constraint cannot be read.
    Constraint(String),
    /// A shard cannot be read.
    Shard(&'static str),
    /// A float range's step is below the precision of its values: values `index` and
    /// `index + 1` are equal (both `value`).
    Precision { index: usize, value: String },
    /// A list names one value twice: values `first` and `again` are both `value`.
    Repeated {
        first: usize,
        again: usize,
        value: String,
    },
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
            _ => None,
        }
    }
}

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.axis, &self.reason) {
            (Some(text), GridReason::Constraint(_)) => {
                write!(f, "invalid constraint {}: ", Quoted(text))?;
            }
            (Some(text), GridReason::Shard(_)) => write!(f, "invalid shard {}: ", Quoted(text))?,
            (Some(text), _) => write!(f, "invalid grid axis {}: ", Quoted(text))?,
            (None, _) => f.write_str("invalid parameter grid: ")?,
        }
        match &self.reason {
            GridReason::Axis(reason) | GridReason::Shard(reason) => f.write_str(reason),
            GridReason::Constraint(reason) => f.write_str(reason),
            GridReason::Precision { index, value } => write!(
                f,
                "the step is below the precision of the values (values {index} and {} are \
                 both {value})",
                index + 1
            ),
            GridReason::Repeated {
                first,
                again,
                value,
            } => write!(
                f,
                "values {first} and {again} are both {}: a sweep would run its combinations \
                 twice",
                Quoted(value)
            ),
            &GridReason::TooLarge { combinations } => {
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
    axes: Vec<(String, Axis)>,
    constraints: Vec<Constraint>,
    shard: Shard,
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
        self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let name = name.into();
        let values = Axis::List(values.into_iter().map(Into::into).collect());
        self.set_axis(name, values)
    }

    /// Sets the axis `name` to `values`, in the place of an axis of the same name.
    fn set_axis(mut self, name: String, values: Axis) -> Self {
        self.fixed = std::mem::take(&mut self.fixed)
            .iter()
            .filter(|(k, _)| *k != name)
            .fold(Params::new(), |p, (k, v)| p.with(k, v.clone()));
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
    /// step of 0 or less, a stop before the start, a float step below the precision of the
    /// values (`1e16:1.000000000000001e16:0.5`, whose values would repeat), or an axis that would take the grid over
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
        let values: Axis = if spec.contains(':') {
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
                    let last = (i128::from(*b) - i128::from(*a)) / i128::from(*step);
                    check(name, last.unsigned_abs() + 1)?;
                    // Under the cap, so the count fits a usize; the values are made when
                    // asked for, never all at once.
                    Axis::Ints {
                        start: *a,
                        step: *step,
                        len: last as usize + 1,
                    }
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
                    let axis = Axis::Floats {
                        start: a,
                        step,
                        len: last as usize + 1,
                    };
                    // A step below the values' precision (0.5 on 1e16) makes neighbours
                    // equal, and a sweep would run one combination twice. Under the cap, so
                    // at most a million values, each made once.
                    // Rounding keeps the values in order, so only neighbours can be equal.
                    if let Some(k) = (1..axis.len()).find(|&k| axis.get(k) == axis.get(k - 1)) {
                        return Err(GridError {
                            axis: Some(text.to_owned()),
                            reason: GridReason::Precision {
                                index: k - 1,
                                value: axis.get(k).to_string(),
                            },
                        });
                    }
                    axis
                }
                _ => return Err(fail("a range is start:stop:step")),
            }
        } else {
            check(name, spec.split(',').count() as u128)?;
            if spec.split(',').any(|v| v.trim().is_empty()) {
                return Err(fail("a value of the list is empty"));
            }
            let values: Vec<ParamValue> = spec
                .split(',')
                .map(|v| ParamValue::parse(v.trim()))
                .collect();
            // A value listed twice would run its combinations twice (and `merge` refuses
            // such shards). Under the cap, so at most a million keys.
            let mut seen = std::collections::HashMap::with_capacity(values.len());
            for (k, v) in values.iter().enumerate() {
                // A number is one value whatever its kind: a float parameter reads `1` as
                // `1.0` (and `-0.0 == 0.0`).
                let number = |x: f64| if x == 0.0 { 0 } else { x.to_bits() };
                let key = match v {
                    ParamValue::Float(x) => format!("n{}", number(*x)),
                    &ParamValue::Int(i) if (i as f64) as i64 == i && i != i64::MAX => {
                        format!("n{}", number(i as f64))
                    }
                    other => format!("{other:?}"),
                };
                if let Some(first) = seen.insert(key, k) {
                    return Err(GridError {
                        axis: Some(text.to_owned()),
                        reason: GridReason::Repeated {
                            first,
                            again: k,
                            value: match v {
                                ParamValue::Str(text) => text.clone(),
                                other => other.to_string(),
                            },
                        },
                    });
                }
            }
            Axis::List(values)
        };
        Ok(if values.len() == 1 {
            self.fixed(name, values.get(0))
        } else {
            self.set_axis(name.to_owned(), values)
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

    /// Every combination this grid selects (in its [`shard`](Self::shard), passing its
    /// [constraints](Self::constraint)), the last axis varying fastest, made one at a time as
    /// the iterator is advanced.
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
        self.indexed().map(|(_, params)| params)
    }

    /// [`combinations`](Self::combinations) with each one's index among all the grid's
    /// combinations (before the shard and the constraints): the same index on every machine,
    /// which orders ties and names a combination across shards.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, Shard};
    /// let grid = ParamGrid::new().axis("a", [1, 2, 3, 4, 5]).shard("2/2".parse::<Shard>()?);
    /// let indices: Vec<usize> = grid.indexed().map(|(i, _)| i).collect();
    /// assert_eq!(indices, [1, 3]);
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn indexed(&self) -> impl Iterator<Item = (usize, Params)> + '_ {
        let total = self.len();
        let Shard { index, count } = self.shard;
        (index..total)
            .step_by(count)
            .map(|k| (k, self.params_at(k)))
            .filter(|(_, params)| self.constraints.iter().all(|c| c.allows(params)))
    }

    /// The combinations of this grid's shard, constraints left out: what the crate itself
    /// may look at without running the caller's code.
    pub(crate) fn unconstrained(&self) -> impl Iterator<Item = Params> + '_ {
        let Shard { index, count } = self.shard;
        (index..self.len())
            .step_by(count)
            .map(|k| self.params_at(k))
    }

    /// Whether the grid's constraints allow `params`.
    pub(crate) fn allows(&self, params: &Params) -> bool {
        self.constraints.iter().all(|c| c.allows(params))
    }

    /// The parameters of combination `k` (`k < len()`).
    pub(crate) fn params_at(&self, mut k: usize) -> Params {
        let mut params = self.fixed.clone();
        for (name, values) in self.axes.iter().rev() {
            params.insert(name.clone(), values.get(k % values.len()));
            k /= values.len();
        }
        params
    }

    /// The number of combinations this grid selects (in its shard, passing its
    /// constraints): what a sweep runs. Counted one by one when there are constraints.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().parse_axis("fast=10:50:10")?.parse_axis("slow=20:40:10")?;
    /// assert_eq!(grid.len(), 15);
    /// assert_eq!(grid.parse_constraint("fast<slow")?.selected(), 3 + 2 + 1);
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn selected(&self) -> usize {
        let total = self.len();
        let Shard { index, count } = self.shard;
        let in_shard = total.saturating_sub(index).div_ceil(count);
        if self.constraints.is_empty() {
            in_shard
        } else {
            self.indexed().count()
        }
    }

    /// The names of the grid's parameters: the fixed ones and the axes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).fixed("slow", 30);
    /// assert_eq!(grid.names().collect::<Vec<_>>(), ["slow", "fast"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fixed
            .iter()
            .map(|(k, _)| k)
            .chain(self.axes.iter().map(|(k, _)| k.as_str()))
    }

    /// The axes, in order: each varying parameter's name and number of values.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).parse_axis("slow=20:200:10")?;
    /// assert_eq!(grid.axes().collect::<Vec<_>>(), [("fast", 2), ("slow", 19)]);
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn axes(&self) -> impl Iterator<Item = (&str, usize)> {
        self.axes.iter().map(|(k, v)| (k.as_str(), v.len()))
    }

    /// What the grid selects, as text that two grids share only when they make the same
    /// combinations (fixed parameters, each axis with its values, the constraints), whatever
    /// their shard: what [`SessionRecord::sweep_fingerprint`](crate::SessionRecord::sweep_fingerprint)
    /// hashes.
    pub(crate) fn describe(&self) -> String {
        let constraints: Vec<String> = self.constraints.iter().map(ToString::to_string).collect();
        format!("{} {:?} {:?}", self.fixed, self.axes, constraints)
    }

    /// Value `k` of the axis at position `axis` (as [`axes`](Self::axes) lists them).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, ParamValue};
    /// let grid = ParamGrid::new().parse_axis("slow=20:200:10")?;
    /// assert_eq!(grid.axis_value(0, 2), Some(ParamValue::Int(40)));
    /// assert_eq!(grid.axis_value(0, 19), None);
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn axis_value(&self, axis: usize, k: usize) -> Option<ParamValue> {
        let (_, values) = self.axes.get(axis)?;
        (k < values.len()).then(|| values.get(k))
    }

    /// A value `name` takes in this grid: its fixed value, or its axis's first.
    fn value_of(&self, name: &str) -> Option<ParamValue> {
        if let Some(value) = self.fixed.get(name) {
            return Some(value.clone());
        }
        let (_, values) = self.axes.iter().find(|(n, _)| n == name)?;
        (values.len() > 0).then(|| values.get(0))
    }

    /// Combination `index`'s position on each axis (as [`axes`](Self::axes) lists them).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("a", [1, 2]).axis("b", [3, 4, 5]);
    /// assert_eq!(grid.coordinates(4), [1, 1]); // a=2 b=4
    /// ```
    pub fn coordinates(&self, mut index: usize) -> Vec<usize> {
        let mut at = vec![0; self.axes.len()];
        for (slot, (_, values)) in at.iter_mut().zip(&self.axes).rev() {
            *slot = index % values.len().max(1);
            index /= values.len().max(1);
        }
        at
    }

    /// This grid keeping only the combinations `constraint` allows (backtesting.py's
    /// `optimize(constraint=...)`); several constraints must all allow a combination.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Constraint, ParamGrid};
    /// let grid = ParamGrid::new()
    ///     .axis("fast", [5, 10, 20])
    ///     .axis("slow", [10, 20])
    ///     .constraint(Constraint::new("fast < slow", |p| matches!((p.int("fast"), p.int("slow")), (Ok(f), Ok(s)) if f < s)));
    /// assert_eq!(grid.selected(), 3);
    /// ```
    #[must_use]
    pub fn constraint(mut self, constraint: Constraint) -> Self {
        self.constraints.push(constraint);
        self
    }

    /// This grid with a constraint written as on the command line: comparisons of parameters
    /// and numbers with `<`, `<=`, `>`, `>=`, `==` or `!=`, joined by `,` or `&&`, each
    /// of which must hold (`fast<slow`, `fast>=5, slow<=200`).
    ///
    /// # Errors
    ///
    /// [`GridError`] naming the text when it is not such comparisons, or names a parameter
    /// that is neither an axis nor fixed in this grid.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    ///
    /// let grid = ParamGrid::new().parse_axis("fast=10:100:10")?.parse_axis("slow=50:100:50")?;
    /// let grid = grid.parse_constraint("fast < slow")?;
    /// assert!(grid.combinations().all(|p| matches!((p.int("fast"), p.int("slow")), (Ok(f), Ok(s)) if f < s)));
    /// let err = grid.parse_constraint("fsat<slow").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"invalid constraint "fsat<slow": unknown parameter "fsat": expected one of fast, slow"#
    /// );
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn parse_constraint(self, text: &str) -> Result<Self, GridError> {
        let fail = |reason: String| GridError {
            axis: Some(text.to_owned()),
            reason: GridReason::Constraint(reason),
        };
        let mut comparisons = Vec::new();
        for part in text
            .split([',', '&'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let comparison = Comparison::parse(part).map_err(fail)?;
            for operand in [&comparison.left, &comparison.right] {
                if let Operand::Name(name) = operand {
                    if !self.names().any(|n| n == name) {
                        let known: Vec<&str> = self.names().collect();
                        // The grid's names came from outside too (`--grid`, `--param`).
                        return Err(fail(format!(
                            "unknown parameter {}: expected one of {}",
                            Quoted(name),
                            tracectx::escape::text(&known.join(", "))
                        )));
                    }
                }
            }
            // A boolean is equal or not to another boolean; ordered, or compared with a
            // number, it would hold for no combination (or every one, with `!=`) unseen.
            let boolean = |o: &Operand| match o {
                Operand::Bool(_) => Some(true),
                Operand::Number(_) => Some(false),
                Operand::Name(name) => self
                    .value_of(name)
                    .map(|v| matches!(v, ParamValue::Bool(_))),
            };
            match (boolean(&comparison.left), boolean(&comparison.right)) {
                (Some(true), Some(true)) if !matches!(comparison.op, "==" | "!=") => {
                    return Err(fail(format!(
                        "booleans compare with == or != only, got {}",
                        Quoted(part)
                    )));
                }
                (Some(a), Some(b)) if a != b => {
                    return Err(fail(format!(
                        "a boolean compared with a number or a string in {}",
                        Quoted(part)
                    )));
                }
                _ => {}
            }
            comparisons.push(comparison);
        }
        if comparisons.is_empty() {
            return Err(fail("expected comparisons such as fast<slow".to_owned()));
        }
        let description = text.trim().to_owned();
        Ok(self.constraint(Constraint::new(description, move |p| {
            comparisons.iter().all(|c| c.holds(p))
        })))
    }

    /// This grid's part `shard` of its combinations: combination `k` (in the order of
    /// [`combinations`](Self::combinations), before constraints) belongs to shard
    /// `k % count + 1` of `count`, the same on every machine. The shards of one grid, each
    /// swept on its own machine, together run every combination once.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, Shard};
    /// let grid = ParamGrid::new().parse_axis("fast=1:10:1")?;
    /// let parts: Vec<usize> = (1..=3)
    ///     .map(|k| grid.clone().shard(Shard::new(k, 3).unwrap()).selected())
    ///     .collect();
    /// assert_eq!(parts, [4, 3, 3]);
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    #[must_use]
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// The grid's shard ([`Shard::ALL`] unless [`shard`](Self::shard) set one).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, Shard};
    /// assert_eq!(ParamGrid::new().get_shard(), Shard::ALL);
    /// ```
    pub fn get_shard(&self) -> Shard {
        self.shard
    }
}

// === impl Axis ===

/// The values of one axis: a list, or a range whose values are made when asked for (a range
/// of a million values is three numbers).
#[derive(Debug, Clone, PartialEq)]
enum Axis {
    List(Vec<ParamValue>),
    Ints { start: i64, step: i64, len: usize },
    Floats { start: f64, step: f64, len: usize },
}

impl Axis {
    fn len(&self) -> usize {
        match self {
            Axis::List(values) => values.len(),
            Axis::Ints { len, .. } | Axis::Floats { len, .. } => *len,
        }
    }

    /// Value `k < len()`.
    fn get(&self, k: usize) -> ParamValue {
        match self {
            Axis::List(values) => values[k].clone(),
            // `start + k * step` lies between the start and the stop, so it fits an i64.
            &Axis::Ints { start, step, .. } => {
                ParamValue::Int((i128::from(start) + k as i128 * i128::from(step)) as i64)
            }
            &Axis::Floats { start, step, .. } => ParamValue::Float(start + k as f64 * step),
        }
    }
}

// === impl Constraint ===

/// A condition on a combination's parameters: a sweep skips the combinations it refuses
/// (backtesting.py's `constraint`, such as `fast < slow` for a crossover).
///
/// Made from a closure with a description ([`new`](Self::new)), or from text by
/// [`ParamGrid::parse_constraint`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Constraint, Params};
/// let c = Constraint::new("fast < slow", |p| matches!((p.int("fast"), p.int("slow")), (Ok(f), Ok(s)) if f < s));
/// assert!(c.allows(&Params::new().with("fast", 5).with("slow", 20)));
/// assert!(!c.allows(&Params::new().with("fast", 50).with("slow", 20)));
/// assert_eq!(c.to_string(), "fast < slow");
/// ```
#[derive(Clone)]
pub struct Constraint {
    description: String,
    allows: std::sync::Arc<dyn Fn(&Params) -> bool + Send + Sync>,
}

impl Constraint {
    /// A constraint that allows the combinations for which `allows` is true, shown as
    /// `description`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Constraint;
    /// let even = Constraint::new("fast is even", |p| p.int("fast").is_ok_and(|f| f % 2 == 0));
    /// # let _ = even;
    /// ```
    pub fn new(
        description: impl Into<String>,
        allows: impl Fn(&Params) -> bool + Send + Sync + 'static,
    ) -> Self {
        Constraint {
            description: description.into(),
            allows: std::sync::Arc::new(allows),
        }
    }

    /// Whether the combination `params` is allowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Constraint, Params};
    /// assert!(Constraint::new("any", |_| true).allows(&Params::new()));
    /// ```
    pub fn allows(&self, params: &Params) -> bool {
        (self.allows)(params)
    }
}

impl fmt::Debug for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Constraint")
            .field(&self.description)
            .finish()
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl PartialEq for Constraint {
    /// The same constraint: one made once and cloned.
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.allows, &other.allows)
    }
}

/// One comparison of a constraint written as text.
struct Comparison {
    left: Operand,
    op: &'static str,
    right: Operand,
}

enum Operand {
    Name(String),
    /// An integer or a finite float, read as [`ParamValue::parse`] reads a number.
    Number(ParamValue),
    Bool(bool),
}

impl Comparison {
    /// The comparison `text`, or why it is not one.
    fn parse(text: &str) -> Result<Comparison, String> {
        // Two-character operators first, so that `<=` is not read as `<`.
        const OPS: [&str; 6] = ["<=", ">=", "==", "!=", "<", ">"];
        let expected = || {
            format!(
                "expected comparisons such as fast<slow (<, <=, >, >=, ==, !=), got {}",
                Quoted(text)
            )
        };
        let (at, op) = OPS
            .iter()
            .filter_map(|op| text.find(op).map(|at| (at, *op)))
            .min_by_key(|&(at, op)| (at, std::cmp::Reverse(op.len())))
            .ok_or_else(expected)?;
        let operand = |s: &str| -> Result<Operand, String> {
            let s = s.trim();
            match s {
                "true" => return Ok(Operand::Bool(true)),
                "false" => return Ok(Operand::Bool(false)),
                _ => {}
            }
            if let Ok(i) = s.parse::<i64>() {
                return Ok(Operand::Number(ParamValue::Int(i)));
            }
            if let Ok(x) = s.parse::<f64>() {
                return if x.is_finite() {
                    Ok(Operand::Number(ParamValue::Float(x)))
                } else {
                    Err(format!(
                        "{} is not a finite number, in {}",
                        Quoted(s),
                        Quoted(text)
                    ))
                };
            }
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                Ok(Operand::Name(s.to_owned()))
            } else {
                Err(expected())
            }
        };
        Ok(Comparison {
            left: operand(&text[..at])?,
            op,
            right: operand(&text[at + op.len()..])?,
        })
    }

    fn holds(&self, params: &Params) -> bool {
        let value = |o: &Operand| match o {
            Operand::Number(x) => Some(x.clone()),
            Operand::Bool(b) => Some(ParamValue::Bool(*b)),
            Operand::Name(n) => params.get(n).cloned(),
        };
        let (Some(a), Some(b)) = (value(&self.left), value(&self.right)) else {
            return false;
        };
        use std::cmp::Ordering::{Equal, Greater, Less};
        let order = match (&a, &b) {
            // Exactly: as floats, integers past 2^53 would compare equal to their neighbours.
            (ParamValue::Int(x), ParamValue::Int(y)) => Some(x.cmp(y)),
            (&ParamValue::Int(i), &ParamValue::Float(x)) => int_to_float(i, x),
            (&ParamValue::Float(x), &ParamValue::Int(i)) => int_to_float(i, x).map(|o| o.reverse()),
            (ParamValue::Float(x), ParamValue::Float(y)) => x.partial_cmp(y),
            _ => (a == b).then_some(Equal),
        };
        match (self.op, order) {
            ("<", Some(Less)) | ("<=", Some(Less | Equal)) | (">", Some(Greater)) => true,
            (">=", Some(Greater | Equal)) | ("==", Some(Equal)) => true,
            ("!=", o) => o != Some(Equal),
            _ => false,
        }
    }
}

/// How the integer `i` compares with the float `x`, exactly; `None` when `x` is NaN.
fn int_to_float(i: i64, x: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::{Greater, Less};
    // 2^63: every i64 is below it and at or above its negative.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() {
        None
    } else if x >= TWO_63 {
        Some(Less)
    } else if x < -TWO_63 {
        Some(Greater)
    } else {
        // In range, the whole part of `x` is an i64, exactly.
        let whole = x.trunc();
        Some(i.cmp(&(whole as i64)).then_with(|| {
            // Equal whole parts: `x`'s fraction decides.
            if x > whole {
                Less
            } else if x < whole {
                Greater
            } else {
                std::cmp::Ordering::Equal
            }
        }))
    }
}

// === impl Shard ===

/// A fixed part of a grid's combinations, `index` of `count` (1-based, as `--shard K/N`
/// writes it): combination `k` belongs to shard `k % count + 1`. Every machine given the same
/// grid and shard runs the same combinations.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Shard;
/// let shard: Shard = "3/8".parse()?;
/// assert_eq!((shard.index(), shard.count()), (3, 8));
/// assert_eq!(shard.to_string(), "3/8");
/// assert!("0/8".parse::<Shard>().is_err());
/// assert!("9/8".parse::<Shard>().is_err());
/// # Ok::<(), tracectx_backtest::GridError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// 0-based here.
    index: usize,
    count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl Shard {
    /// The whole grid: shard 1 of 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, Shard};
    /// assert_eq!(Shard::ALL.to_string(), "1/1");
    /// let grid = ParamGrid::new().parse_axis("fast=5:50:5")?;
    /// assert_eq!(grid.clone().shard(Shard::ALL).selected(), grid.len());
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count` (1-based), or `None` unless `1 <= index <= count`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Shard;
    /// assert_eq!(Shard::new(1, 1), Some(Shard::ALL));
    /// assert_eq!(Shard::new(0, 4), None);
    /// ```
    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (1..=count).contains(&index).then(|| Shard {
            index: index - 1,
            count,
        })
    }

    /// The shard's number, from 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx_backtest::Shard::new(2, 4).unwrap().index(), 2);
    /// ```
    pub fn index(&self) -> usize {
        self.index + 1
    }

    /// The number of shards.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx_backtest::Shard::new(2, 4).unwrap().count(), 4);
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether combination `k` of a grid ([`ParamGrid::indexed`]) belongs to this shard.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Shard;
    /// let shard = Shard::new(2, 3).unwrap();
    /// assert_eq!((0..7).filter(|&k| shard.holds(k)).collect::<Vec<_>>(), [1, 4]);
    /// ```
    pub fn holds(&self, k: usize) -> bool {
        k % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = GridError;

    /// `K/N`: shard `K` of `N`, from 1.
    fn from_str(text: &str) -> Result<Shard, GridError> {
        let fail = |reason| GridError {
            axis: Some(text.to_owned()),
            reason: GridReason::Shard(reason),
        };
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| fail("expected K/N, shard K of N, from 1"))?;
        let (Ok(k), Ok(n)) = (k.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(fail("expected K/N with whole numbers K and N"));
        };
        Shard::new(k, n).ok_or_else(|| fail("K must be from 1 to N"))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index(), self.count)
    }
}

/// As `K/N`, the way `--shard` takes it.
impl serde::Serialize for Shard {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// From `K/N`; anything else is refused with [`Shard`]'s own parse error.
impl<'de> serde::Deserialize<'de> for Shard {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Shard;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a shard as K/N")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Shard, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visit)
    }
}
