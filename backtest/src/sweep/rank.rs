//! The order of a sweep's results: by a statistic, highest or lowest first.

use std::cmp::Ordering;
use std::fmt;

use crate::{BacktestResult, Statistic};

// === impl RankBy ===

/// The statistic a sweep ranks its results by, and in which direction.
///
/// Descending by default (the highest Sharpe ratio first); undefined values (`null` in JSON)
/// always rank last, whatever the direction; ties keep the grid's order.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{RankBy, Statistic};
///
/// let by = RankBy::new(Statistic::Sharpe);
/// assert_eq!((by.statistic(), by.is_ascending()), (Statistic::Sharpe, false));
/// // Text (a command line's argument) is read as a statistic first.
/// let shortest = RankBy::new("avg_trade_duration_secs".parse()?).ascending();
/// assert!(shortest.is_ascending());
/// # Ok::<(), tracectx_backtest::UnknownStatistic>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankBy {
    statistic: Statistic,
    ascending: bool,
}

impl Default for RankBy {
    /// The Sharpe ratio, highest first.
    fn default() -> Self {
        RankBy::new(Statistic::Sharpe)
    }
}

impl From<Statistic> for RankBy {
    /// Ranks by `statistic`, highest first.
    fn from(statistic: Statistic) -> Self {
        RankBy::new(statistic)
    }
}

impl RankBy {
    /// Ranks by `statistic`, highest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{RankBy, Statistic};
    /// assert_eq!(RankBy::new(Statistic::ReturnPct).statistic(), Statistic::ReturnPct);
    /// ```
    pub fn new(statistic: Statistic) -> Self {
        RankBy {
            statistic,
            ascending: false,
        }
    }

    /// The same statistic, lowest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{RankBy, Statistic};
    /// assert!(RankBy::new(Statistic::VolatilityAnnPct).ascending().is_ascending());
    /// ```
    #[must_use]
    pub fn ascending(self) -> Self {
        RankBy {
            ascending: true,
            ..self
        }
    }

    /// The statistic.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{RankBy, Statistic};
    /// assert_eq!(RankBy::default().statistic(), Statistic::Sharpe);
    /// ```
    pub fn statistic(&self) -> Statistic {
        self.statistic
    }

    /// Whether the lowest value ranks first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracectx_backtest::RankBy::default().is_ascending());
    /// ```
    pub fn is_ascending(&self) -> bool {
        self.ascending
    }

    /// Sorts `results` best first, stably, undefined values last.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params, RankBy, Statistic};
    ///
    /// let bars = Bars::synthetic(2_000, 3);
    /// let engine = BacktestEngine::default();
    /// let mut results = [5, 10, 15]
    ///     .into_iter()
    ///     .map(|fast| engine.run(&bars, &sma_cross, &Params::new().with("fast", fast).with("slow", 30)))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// RankBy::new(Statistic::ReturnPct).sort(&mut results);
    /// assert!(results[0].stats.return_pct >= results[2].stats.return_pct);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sort(&self, results: &mut [BacktestResult]) {
        results.sort_by(|a, b| self.compare(a, b));
    }

    fn compare(&self, a: &BacktestResult, b: &BacktestResult) -> Ordering {
        match (a.stats.get(self.statistic), b.stats.get(self.statistic)) {
            (Some(x), Some(y)) => {
                let order = x.total_cmp(&y);
                if self.ascending {
                    order
                } else {
                    order.reverse()
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}

impl fmt::Display for RankBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = if self.ascending { "lowest" } else { "highest" };
        write!(f, "{} ({order} first)", self.statistic)
    }
}
