//! The order of a sweep's results: by a statistic, highest or lowest first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
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
    pub const fn new(statistic: Statistic) -> Self {
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
        self.compare_values(a.stats.get(self.statistic), b.stats.get(self.statistic))
    }

    /// How two values of the statistic rank: `Less` when `a` ranks before `b` (higher, or
    /// lower when ascending; an undefined value after any defined one).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cmp::Ordering;
    /// use tracectx_backtest::RankBy;
    /// let by = RankBy::default();
    /// assert_eq!(by.compare_values(Some(2.0), Some(1.0)), Ordering::Less);
    /// assert_eq!(by.ascending().compare_values(Some(2.0), Some(1.0)), Ordering::Greater);
    /// assert_eq!(by.ascending().compare_values(None, Some(1.0)), Ordering::Greater);
    /// ```
    pub fn compare_values(&self, a: Option<f64>, b: Option<f64>) -> Ordering {
        match (a, b) {
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

// === impl Leaderboard ===

/// The `n` best of a stream of items by a [`RankBy`], ties in the order of their index: what
/// a sweep keeps of its results, and `tracectx merge` of its shards' lines. It holds at most
/// `n` items whatever the length of the stream.
///
/// Items come with their value of the statistic (`None` when undefined) and an index (a
/// combination's place in its grid); with every item kept, the order is that of a stable sort
/// of the items in index order.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Leaderboard, RankBy};
///
/// let mut board = Leaderboard::new(RankBy::default(), 2);
/// for (index, value) in [(0, Some(1.0)), (1, Some(3.0)), (2, None), (3, Some(3.0)), (4, Some(2.0))] {
///     board.push(index, value, format!("combination {index}"));
/// }
/// assert_eq!(board.seen(), 5);
/// assert_eq!(board.into_sorted(), ["combination 1", "combination 3"]);
/// ```
#[derive(Debug)]
pub struct Leaderboard<T> {
    rank_by: RankBy,
    keep: usize,
    seen: usize,
    /// The kept items, the worst on top.
    heap: BinaryHeap<Entry<T>>,
}

#[derive(Debug)]
struct Entry<T> {
    rank_by: RankBy,
    value: Option<f64>,
    index: usize,
    item: T,
}

impl<T> Entry<T> {
    /// `Less` when `self` ranks before `other`.
    fn order(&self, other: &Self) -> Ordering {
        self.rank_by
            .compare_values(self.value, other.value)
            .then(self.index.cmp(&other.index))
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.order(other) == Ordering::Equal
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// The worse item is the greater: the heap's top is the worst kept.
    fn cmp(&self, other: &Self) -> Ordering {
        self.order(other)
    }
}

impl<T> Leaderboard<T> {
    /// Keeps the `keep` best items by `rank_by` (`usize::MAX`: every item).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Leaderboard, RankBy};
    /// let board: Leaderboard<()> = Leaderboard::new(RankBy::default(), 10);
    /// assert_eq!(board.len(), 0);
    /// ```
    pub fn new(rank_by: RankBy, keep: usize) -> Self {
        Leaderboard {
            rank_by,
            keep,
            seen: 0,
            heap: BinaryHeap::new(),
        }
    }

    /// Offers `item`, whose statistic is `value`, at `index`: kept when it ranks among the
    /// best so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Leaderboard, RankBy};
    /// let mut board = Leaderboard::new(RankBy::default().ascending(), 1);
    /// board.push(0, Some(5.0), 'a');
    /// board.push(1, Some(4.0), 'b');
    /// assert_eq!(board.into_sorted(), ['b']);
    /// ```
    pub fn push(&mut self, index: usize, value: Option<f64>, item: T) {
        self.seen += 1;
        if self.keep == 0 {
            return;
        }
        let entry = Entry {
            rank_by: self.rank_by,
            value,
            index,
            item,
        };
        if self.heap.len() < self.keep {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if entry < *worst {
                *worst = entry;
            }
        }
    }

    /// The number of items kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Leaderboard, RankBy};
    /// let mut board = Leaderboard::new(RankBy::default(), 1);
    /// board.push(0, None, ());
    /// board.push(1, None, ());
    /// assert_eq!((board.len(), board.seen()), (1, 2));
    /// ```
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no item is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Leaderboard, RankBy};
    /// assert!(Leaderboard::<u8>::new(RankBy::default(), 3).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The number of items offered so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Leaderboard, RankBy};
    /// let mut board = Leaderboard::new(RankBy::default(), 0);
    /// board.push(0, Some(1.0), ());
    /// assert_eq!((board.len(), board.seen()), (0, 1));
    /// ```
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The items kept, best first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Leaderboard, RankBy};
    /// let mut board = Leaderboard::new(RankBy::default(), 5);
    /// board.push(0, Some(1.0), "low");
    /// board.push(1, Some(9.0), "high");
    /// assert_eq!(board.into_sorted(), ["high", "low"]);
    /// ```
    pub fn into_sorted(self) -> Vec<T> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.item)
            .collect()
    }
}
