//! The statistics by name: [`Statistic`], made with [`Stats`]' fields from the one table of
//! them in `stats/mod.rs`, and [`UnknownStatistic`] for a name that is none of them.
//!
//! [`Stats`]: super::Stats

use std::fmt;
use std::str::FromStr;

use super::{Statistic, secs};
use crate::Timestamp;
use crate::quote::Quoted;

// === the table ===

/// Declares [`Stats`](super::Stats) and [`Statistic`] from one table, so that adding a
/// statistic is one line: each field of `Stats`, with its docs and type, followed by
/// `=> Variant`, the name of its [`Statistic`]. The field's name is the statistic's
/// [`name`](Statistic::name) and JSON key; the order of the table is the order of
/// [`Statistic::ALL`] and of the serialized object.
///
/// It makes the struct as written, the enum with the fields' docs, `Statistic::ALL`,
/// `Statistic::name` and `Stats::get`.
macro_rules! statistics {
    (
        $(#[$attr:meta])*
        pub struct Stats {
            $(
                $(#[doc = $doc:literal])*
                pub $field:ident: $ty:ty => $variant:ident,
            )*
        }
    ) => {
        $(#[$attr])*
        pub struct Stats {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        /// One of the statistics of [`Stats`], by name: what [`Stats::get`] reads and a
        /// sweep ranks by ([`RankBy`](crate::RankBy)).
        ///
        /// [`Statistic::ALL`] lists them in the order of the reference's summary, which is
        /// the order of [`Stats`]' fields and of its JSON object. A statistic's
        /// [`name`](Self::name) is its field's name and JSON key; text becomes a `Statistic`
        /// by [`FromStr`](std::str::FromStr) (a command line's `--rank-by sharpe`), which
        /// refuses any other name with an [`UnknownStatistic`] that lists them all.
        ///
        /// # Examples
        ///
        /// ```
        /// use tracectx_backtest::Statistic;
        ///
        /// assert_eq!(Statistic::MaxDrawdownPct.name(), "max_drawdown_pct");
        /// assert_eq!("sharpe".parse::<Statistic>()?, Statistic::Sharpe);
        /// assert_eq!(Statistic::ALL.len(), 32);
        /// assert_eq!(Statistic::ALL[0], Statistic::Start);
        /// # Ok::<(), tracectx_backtest::UnknownStatistic>(())
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Statistic {
            $(
                $(#[doc = $doc])*
                ///
                #[doc = concat!("Field [`Stats::", stringify!($field), "`], JSON key `",
                    stringify!($field), "`.")]
                $variant,
            )*
        }

        impl Statistic {
            /// Every statistic, in the order of [`Stats`]' fields (the reference's summary).
            ///
            /// # Examples
            ///
            /// ```
            /// use tracectx_backtest::Statistic;
            /// let names: Vec<&str> = Statistic::ALL.iter().map(|s| s.name()).collect();
            /// assert_eq!(names[..3], ["start", "end", "duration_secs"]);
            /// assert_eq!(names.last(), Some(&"kelly"));
            /// ```
            pub const ALL: &'static [Statistic] = &[$(Statistic::$variant),*];

            /// The statistic's name: the name of its field of [`Stats`] and its JSON key.
            ///
            /// # Examples
            ///
            /// ```
            /// use tracectx_backtest::Statistic;
            /// assert_eq!(Statistic::AvgTradeDurationSecs.name(), "avg_trade_duration_secs");
            /// assert_eq!(Statistic::Sharpe.to_string(), "sharpe"); // `Display` shows the same
            /// ```
            pub fn name(self) -> &'static str {
                match self {
                    $(Statistic::$variant => stringify!($field),)*
                }
            }
        }

        impl Stats {
            /// The statistic as a table shows it (see [`Statistic::label`]): durations in
            /// days and hours, percentages with two decimals, counts whole, other figures
            /// with four decimals (two from 100,000, in scientific notation from 10^15),
            /// undefined as `-`.
            ///
            /// # Examples
            ///
            /// ```
            /// use tracectx_backtest::{Bars, Statistic, Stats};
            /// let bars = Bars::synthetic(400, 1);
            /// let stats = Stats::compute(&bars, &[10_000.0; 400], &[], 0)?;
            /// assert_eq!(stats.format(Statistic::DurationSecs), "557 days");
            /// assert_eq!(stats.format(Statistic::ReturnPct), "0.00");
            /// assert_eq!(stats.format(Statistic::Sharpe), "-");
            /// assert_eq!(stats.format(Statistic::Start), "2000-01-03T00:00:00Z");
            /// # Ok::<(), tracectx_backtest::StatsError>(())
            /// ```
            pub fn format(&self, statistic: Statistic) -> String {
                let name = statistic.name();
                match statistic {
                    Statistic::Start => self.start.to_string(),
                    Statistic::End => self.end.to_string(),
                    Statistic::Trades => self.trades.to_string(),
                    _ => match self.get(statistic) {
                        None => "-".to_owned(),
                        Some(v) if name.ends_with("_secs") => statistic::format_duration(v),
                        Some(v) if v.abs() >= 1e15 => format!("{v:.4e}"),
                        Some(v) if name.ends_with("_pct") => format!("{v:.2}"),
                        Some(v) if v.abs() >= 1e5 => format!("{v:.2}"),
                        Some(v) => format!("{v:.4}"),
                    },
                }
            }
        }

        impl Stats {
            /// The statistic as a number: `None` when it is undefined. `start` and `end` are
            /// seconds since the Unix epoch, `trades` a count.
            ///
            /// Sweeps rank their sessions by it.
            ///
            /// # Examples
            ///
            /// ```
            /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params, Statistic};
            ///
            /// let params = Params::new().with("fast", 10).with("slow", 20);
            /// let result = BacktestEngine::default().run(&Bars::synthetic(2_000, 1), &sma_cross, &params)?;
            /// assert_eq!(result.stats.get(Statistic::Sharpe), result.stats.sharpe);
            /// assert_eq!(result.stats.get(Statistic::Trades), Some(result.stats.trades as f64));
            /// # Ok::<(), tracectx_backtest::BacktestError>(())
            /// ```
            pub fn get(&self, statistic: Statistic) -> Option<f64> {
                let value = match statistic {
                    $(Statistic::$variant => statistic::Number::number(&self.$field),)*
                };
                value.filter(|v| !v.is_nan())
            }
        }
    };
}

pub(super) use statistics;

/// A field of [`Stats`](super::Stats) as a number, for [`Stats::get`](super::Stats::get).
pub(super) trait Number {
    fn number(&self) -> Option<f64>;
}

impl Number for f64 {
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl Number for Option<f64> {
    fn number(&self) -> Option<f64> {
        *self
    }
}

impl Number for usize {
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl Number for Timestamp {
    /// Seconds since the Unix epoch.
    fn number(&self) -> Option<f64> {
        Some(secs(self.as_micros()))
    }
}

// === impl Statistic ===

impl Statistic {
    /// The statistic's name in a table: its [`name`](Self::name) without the unit of a
    /// duration (`max_drawdown_duration`, whose value a table shows in days and hours, for
    /// `max_drawdown_duration_secs`). [`FromStr`] reads labels too.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Statistic;
    /// assert_eq!(Statistic::AvgTradeDurationSecs.label(), "avg_trade_duration");
    /// assert_eq!(Statistic::Sharpe.label(), "sharpe");
    /// assert_eq!("avg_trade_duration".parse::<Statistic>()?, Statistic::AvgTradeDurationSecs);
    /// # Ok::<(), tracectx_backtest::UnknownStatistic>(())
    /// ```
    pub fn label(self) -> &'static str {
        let name = self.name();
        name.strip_suffix("_secs").unwrap_or(name)
    }
}

/// Seconds as `N days HH:MM:SS` (days or the time left out when zero), a negative duration
/// (a forged record's) with one `-` in front.
pub(super) fn format_duration(secs: f64) -> String {
    let total = secs.round() as i64;
    let sign = if total < 0 { "-" } else { "" };
    let total = total.unsigned_abs();
    let (days, rest) = (total / 86_400, total % 86_400);
    let (h, m, s) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    match (days, rest) {
        (_, 0) => format!("{sign}{days} days"),
        (0, _) => format!("{sign}{h:02}:{m:02}:{s:02}"),
        _ => format!("{sign}{days} days {h:02}:{m:02}:{s:02}"),
    }
}

impl FromStr for Statistic {
    type Err = UnknownStatistic;

    /// The statistic named `name` ([`Statistic::name`]).
    fn from_str(name: &str) -> Result<Self, UnknownStatistic> {
        Statistic::ALL
            .iter()
            .copied()
            .find(|s| s.name() == name || s.label() == name)
            .ok_or_else(|| UnknownStatistic {
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for Statistic {
    /// The statistic's [`name`](Statistic::name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

// === impl UnknownStatistic ===

/// A name that is none of the statistics' ([`Statistic::ALL`]); its message lists them.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Statistic;
/// let err = "sharp".parse::<Statistic>().unwrap_err();
/// assert!(err.to_string().starts_with(r#"unknown statistic "sharp": expected one of start, end,"#));
/// assert!(err.to_string().ends_with(", sqn, kelly"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown statistic {}: expected one of {}",
    Quoted(name),
    known_names()
)]
pub struct UnknownStatistic {
    name: String,
}

/// Every statistic's name, comma-separated.
fn known_names() -> String {
    let names: Vec<&str> = Statistic::ALL.iter().map(|s| s.name()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_read_as_days_and_times_either_side_of_zero() {
        for (secs, shown) in [
            (0.0, "0 days"),
            (90.0, "00:01:30"),
            (-90.0, "-00:01:30"),
            (86_400.0 * 3.0, "3 days"),
            (-86_400.0 * 3.0, "-3 days"),
            (86_400.0 + 3_661.4, "1 days 01:01:01"),
            (-(86_400.0 + 3_661.6), "-1 days 01:01:02"),
            (f64::MAX, "106751991167300 days 15:30:07"),
            (f64::MIN, "-106751991167300 days 15:30:08"),
        ] {
            assert_eq!(format_duration(secs), shown, "{secs}");
        }
    }
}
