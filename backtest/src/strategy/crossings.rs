//! The crossings of a sweep's moving averages, found for every pair of windows in one pass.
//!
//! A sweep of [`sma_cross`](super::sma_cross) asks, session after session, where one average
//! of the closes crosses another. One pass answers for every pair of the grid: it steps the
//! averages of all the sweep's windows side by side, a block of bars at a time, and compares
//! each pair over the block as bits, 64 bars at a time (two comparisons a bar, in loops the
//! compiler vectorizes), with a branch only where the pair crosses.

use super::RollingMean;

/// The bars where the averages of pairs of windows cross, for the pairs a sweep asked for.
///
/// A crossing at bar `i` of `a` above `b` is the strict one [`sma_cross`](super::sma_cross)
/// acts on: `a[i - 1] < b[i - 1]` and `a[i] > b[i]`.
#[derive(Debug)]
pub(crate) struct Crossings {
    /// The distinct windows, ascending.
    windows: Vec<usize>,
    /// For windows `a < b` (as indices into `windows`), `slot[a * windows.len() + b]` is the
    /// pair's place in `events`, when the pair was asked for.
    slot: Vec<u32>,
    /// Each pair's crossings in bar order, as `bar << 1 | above`, `above` when the shorter
    /// window's average crossed above the longer's.
    events: Vec<Vec<u32>>,
}

/// No pair in this slot.
const NONE: u32 = u32::MAX;

/// The most distinct windows one pass steps side by side: the slot table holds the square of
/// it.
const MAX_WINDOWS: usize = 1_024;

/// One pair's crossings: where the `fast` window's average crossed the `slow` one's.
pub(crate) struct PairCrossings<'a> {
    events: &'a [u32],
    /// Whether `fast` is the shorter window (the events say where it crossed above).
    fast_first: bool,
}

impl PairCrossings<'_> {
    /// Each crossing's bar, and whether `fast` crossed above `slow` there (else below).
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (usize, bool)> + '_ {
        self.events
            .iter()
            .map(move |&e| ((e >> 1) as usize, (e & 1 == 1) == self.fast_first))
    }
}

impl Crossings {
    /// The crossings of the averages of `close` for every pair `pairs()` yields (windows of
    /// at least 1; a window with itself has none), in one pass over the bars. `pairs` is
    /// called twice (the windows, then the pairs). `None` when there are more than
    /// [`MAX_WINDOWS`] distinct windows or `2^31` bars, when a window's sum could overflow,
    /// or when what the pass holds (the pairs and their crossings, the windows' running sums
    /// and a block of their averages) would take more than `budget` bytes.
    pub(crate) fn find<I>(close: &[f64], pairs: impl Fn() -> I, budget: usize) -> Option<Self>
    where
        I: Iterator<Item = (usize, usize)>,
    {
        crate::wide::run(
            #[inline(always)]
            || Self::find_here(close, pairs, budget, MAX_BLOCK_BARS),
        )
    }

    /// [`find`](Self::find) as built for whatever calls it, with blocks of at most
    /// `max_block` bars.
    #[inline(always)]
    fn find_here<I>(
        close: &[f64],
        pairs: impl Fn() -> I,
        budget: usize,
        max_block: usize,
    ) -> Option<Self>
    where
        I: Iterator<Item = (usize, usize)>,
    {
        let n = close.len();
        if u32::try_from(n).map_or(true, |n| n > u32::MAX >> 1) {
            return None;
        }
        let mut windows = std::collections::BTreeSet::new();
        for (a, b) in pairs() {
            windows.extend([a, b]);
            if windows.len() > MAX_WINDOWS {
                return None;
            }
        }
        let windows: Vec<usize> = windows.into_iter().collect();
        let k = windows.len();
        if windows.first().is_some_and(|&w| w == 0) {
            return None;
        }
        // A window longer than the series never has a value, so never crosses.
        let live = windows.partition_point(|&w| w <= n);
        let longest = windows[..live].last().copied().unwrap_or(0);
        // Prices whose sums could overflow (near `f64::MAX`) make averages infinite or NaN:
        // such series are left to the averages, pair by pair, which take them as they come.
        let top = close.iter().fold(0.0, |top: f64, &c| top.max(c));
        if top * longest as f64 > f64::MAX / 4.0 {
            return None;
        }
        // What is kept is charged to the budget before it is allocated: the windows, the slot
        // table, a list for each pair and the room for its crossings, as it grows.
        let mut left = budget.checked_sub(size_of::<usize>() * k + size_of::<u32>() * k * k)?;
        let mut slot = vec![NONE; k * k];
        // The pairs asked for, as indices into `windows`, in the order of their slots, each
        // charged with its list of crossings.
        let mut asked: Vec<(usize, usize)> = Vec::new();
        for (a, b) in pairs() {
            let (a, b) = (a.min(b), a.max(b));
            if a == b {
                continue;
            }
            let (ia, ib) = (index_of(&windows, a), index_of(&windows, b));
            let s = &mut slot[ia * k + ib];
            if *s == NONE {
                left = left.checked_sub(size_of::<Vec<u32>>())?;
                if asked.len() == asked.capacity() {
                    // Grown by hand, its room charged before it is taken.
                    let more = asked.capacity().max(4);
                    left = left.checked_sub(size_of::<(usize, usize)>() * more)?;
                    asked.reserve_exact(more);
                }
                // At most `MAX_WINDOWS` squared pairs.
                *s = asked.len() as u32;
                asked.push((ia, ib));
            }
        }
        // Each window's running sums (as `RollingMean` keeps them, then as `FullMeans` does:
        // six numbers), its average on this bar and on the bar before the block; then a block
        // of bars' averages, window after window.
        let per_window = size_of::<RollingMean>() + 8 * size_of::<f64>();
        left = left.checked_sub(per_window * live)?;
        let block = block_bars(live, left / 2, max_block)?;
        left -= size_of::<f64>() * live * block;
        let mut averages = vec![f64::NAN; live * block];
        let mut before = vec![f64::NAN; live];
        let mut events: Vec<Vec<u32>> = vec![Vec::new(); asked.len()];
        let mut means: Vec<RollingMean> = windows[..live]
            .iter()
            .map(|&w| RollingMean::new(w))
            .collect();
        let mut full: Option<FullMeans> = None;
        let mut cur = vec![f64::NAN; live];
        for first in (0..n).step_by(block) {
            let len = block.min(n - first);
            for b in 0..len {
                let i = first + b;
                if i < longest {
                    // Some window is not full yet: each takes the step `price_sma` does.
                    for ((mean, v), &w) in means.iter_mut().zip(&mut cur).zip(&windows) {
                        *v = if i < w {
                            mean.step(close, i)
                        } else {
                            mean.step_full(close, i)
                        };
                    }
                } else {
                    full.get_or_insert_with(|| FullMeans::new(&means))
                        .step(close, i, &mut cur);
                }
                for (w, &v) in cur.iter().enumerate() {
                    averages[w * block + b] = v;
                }
            }
            for (&(ia, ib), list) in asked.iter().zip(&mut events) {
                if ib >= live {
                    // A window longer than the series.
                    continue;
                }
                let a = &averages[ia * block..][..len];
                let b = &averages[ib * block..][..len];
                let fine = scan_pair(a, b, (before[ia], before[ib]), |at, above| {
                    if list.len() == list.capacity() {
                        // Grown by hand (doubled, as a push would), so that the room is
                        // charged before it is taken.
                        let more = list.capacity().max(4);
                        left = left.checked_sub(size_of::<u32>() * more)?;
                        list.reserve_exact(more);
                    }
                    list.push(((first + at) as u32) << 1 | u32::from(above));
                    Some(())
                });
                fine?;
            }
            for (w, v) in before.iter_mut().enumerate() {
                *v = averages[w * block + len - 1];
            }
        }
        Some(Crossings {
            windows,
            slot,
            events,
        })
    }

    /// The bytes this holds.
    pub(crate) fn bytes(&self) -> usize {
        size_of::<usize>() * self.windows.len()
            + size_of::<u32>() * self.slot.len()
            + self
                .events
                .iter()
                .map(|e| size_of::<Vec<u32>>() + size_of::<u32>() * e.capacity())
                .sum::<usize>()
    }

    /// The crossings of the `fast` and `slow` windows' averages, if the pass found them
    /// (none for a window with itself).
    pub(crate) fn pair(&self, fast: usize, slow: usize) -> Option<PairCrossings<'_>> {
        let (a, b) = (fast.min(slow), fast.max(slow));
        let k = self.windows.len();
        let ia = self.windows.binary_search(&a).ok()?;
        let ib = self.windows.binary_search(&b).ok()?;
        let events = if a == b {
            &[][..]
        } else {
            match self.slot[ia * k + ib] {
                NONE => return None,
                s => &self.events[s as usize][..],
            }
        };
        Some(PairCrossings {
            events,
            fast_first: fast < slow,
        })
    }
}

/// The averages of every window once all are full, side by side: [`RollingMean::step_full`]
/// for each, with what they all share (the run of equal closes) counted once a bar. Kept as
/// one list per quantity, so that a bar's step is one loop over the windows the compiler
/// vectorizes.
struct FullMeans {
    /// Each window's length.
    n: Vec<usize>,
    /// Each window's length as the divisor of its mean.
    count: Vec<f64>,
    /// Each window's compensated sum, as [`RollingMean`] keeps it.
    sum: Vec<f64>,
    comp_add: Vec<f64>,
    comp_rem: Vec<f64>,
    /// The close leaving each window this bar.
    old: Vec<f64>,
    same: usize,
    prev: f64,
}

impl FullMeans {
    /// Takes over `means`, every one full (each has seen the same closes, so the same run).
    fn new(means: &[RollingMean]) -> Self {
        FullMeans {
            n: means.iter().map(|m| m.n).collect(),
            count: means.iter().map(|m| m.nobs as f64).collect(),
            sum: means.iter().map(|m| m.sum).collect(),
            comp_add: means.iter().map(|m| m.comp_add).collect(),
            comp_rem: means.iter().map(|m| m.comp_rem).collect(),
            old: vec![0.0; means.len()],
            same: means.first().map_or(0, |m| m.same),
            prev: means.first().map_or(f64::NAN, |m| m.prev),
        }
    }

    /// Every window's mean at bar `i` into `out`: the operations of
    /// [`RollingMean::step_full`], in its order.
    #[inline(always)]
    fn step(&mut self, close: &[f64], i: usize, out: &mut [f64]) {
        let v = close[i];
        self.same = if v == self.prev { self.same + 1 } else { 1 };
        self.prev = v;
        let same = self.same;
        for (old, &n) in self.old.iter_mut().zip(&self.n) {
            *old = close[i - n];
        }
        let k = self.n.len();
        let (n, count, old) = (&self.n[..k], &self.count[..k], &self.old[..k]);
        let (sum, comp_add, comp_rem) = (
            &mut self.sum[..k],
            &mut self.comp_add[..k],
            &mut self.comp_rem[..k],
        );
        let out = &mut out[..k];
        for j in 0..k {
            let y = -old[j] - comp_rem[j];
            let t = sum[j] + y;
            comp_rem[j] = (t - sum[j]) - y;
            sum[j] = t;
            let y = v - comp_add[j];
            let t = sum[j] + y;
            comp_add[j] = (t - sum[j]) - y;
            sum[j] = t;
            let m = sum[j] / count[j];
            out[j] = if same >= n[j] {
                v
            } else if m < 0.0 {
                0.0
            } else {
                m
            };
        }
    }
}

/// The most bars of a block of averages the pass keeps.
const MAX_BLOCK_BARS: usize = 4_096;

/// The bars of a block the pass keeps the averages of, for `live` windows: about 256 KiB of
/// them (but at least one run of 64 bars), at most `max` bars, in whole runs of 64 bars when
/// there is room for them within `room` bytes; `None` when not one bar fits.
fn block_bars(live: usize, room: usize, max: usize) -> Option<usize> {
    let bars = (room / (size_of::<f64>() * live.max(1)))
        .min(((1 << 15) / live.max(1)).max(64))
        .min(max);
    match bars {
        0 => None,
        1..64 => Some(bars),
        _ => Some(bars & !63),
    }
}

/// The strict crossings of `a` and `b` (two windows' averages over the same bars, `prev`
/// their values on the bar before): `event(i, true)` where `a` crossed above `b` at `i`
/// (`a[i - 1] < b[i - 1]` and `a[i] > b[i]`), `event(i, false)` where it crossed below, in bar
/// order; what `sma_cross` acts on. NaN (a window not full yet) compares neither way, so
/// never crosses. Stops at the first `None` from `event`.
#[inline(always)]
fn scan_pair(
    a: &[f64],
    b: &[f64],
    prev: (f64, f64),
    mut event: impl FnMut(usize, bool) -> Option<()>,
) -> Option<()> {
    // Whether `a < b` and whether `a > b` on the bar before.
    let (mut lt, mut gt) = (prev.0 < prev.1, prev.0 > prev.1);
    let mut runs_a = a.chunks_exact(64);
    let mut runs_b = b.chunks_exact(64);
    // Runs of 64 bars: both comparisons of every bar as bits (loops the compiler
    // vectorizes), the crossings from them, and a branch only where there is one.
    for (run, (ra, rb)) in (&mut runs_a).zip(&mut runs_b).enumerate() {
        let (mut below, mut above) = (0_u64, 0_u64);
        for (j, (&x, &y)) in ra.iter().zip(rb).enumerate() {
            below |= u64::from(x < y) << j;
            above |= u64::from(x > y) << j;
        }
        let up = (below << 1 | u64::from(lt)) & above;
        let down = (above << 1 | u64::from(gt)) & below;
        let mut crossings = up | down;
        while crossings != 0 {
            let j = crossings.trailing_zeros() as usize;
            event(run * 64 + j, up >> j & 1 == 1)?;
            crossings &= crossings - 1;
        }
        (lt, gt) = (below >> 63 == 1, above >> 63 == 1);
    }
    let base = a.len() - runs_a.remainder().len();
    for (j, (&x, &y)) in runs_a
        .remainder()
        .iter()
        .zip(runs_b.remainder())
        .enumerate()
    {
        if lt && x > y {
            event(base + j, true)?;
        } else if gt && x < y {
            event(base + j, false)?;
        }
        (lt, gt) = (x < y, x > y);
    }
    Some(())
}

fn index_of(windows: &[usize], w: usize) -> usize {
    windows.partition_point(|&x| x < w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{crossover, sma};

    /// Prices on a coarse tick that often stand still: equal averages (ties, runs of one
    /// price) happen all the time.
    fn ticks(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut p = 100.0_f64;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let step = (state >> 61) as f64 - 3.5; // -3.5 ..= 3.5, halves
                if (state >> 40) & 3 != 0 {
                    p = (p + step.round() * 0.25).max(0.25);
                }
                p
            })
            .collect()
    }

    /// Pair by pair, from the averages: where `fast` crossed above (true) or below `slow`.
    fn pairwise(close: &[f64], fast: usize, slow: usize) -> Vec<(usize, bool)> {
        let (f, s) = (sma(close, fast), sma(close, slow));
        (1..close.len())
            .filter_map(|i| {
                if crossover(&f, &s, i) {
                    Some((i, true))
                } else if crossover(&s, &f, i) {
                    Some((i, false))
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn every_pair_crosses_where_its_averages_do() {
        let walk = crate::stats::walk(3_000, 0.02);
        for close in [ticks(3_000, 1), ticks(3_000, 7), walk] {
            let windows = [
                1, 2, 3, 4, 5, 7, 10, 11, 20, 35, 50, 200, 2_999, 3_000, 3_001, 9_000,
            ];
            let pairs: Vec<(usize, usize)> = windows
                .iter()
                .flat_map(|&a| windows.iter().map(move |&b| (a, b)))
                .collect();
            let found = Crossings::find(&close, || pairs.iter().copied(), 1 << 20).unwrap();
            let mut seen = 0;
            for &(fast, slow) in &pairs {
                let got: Vec<(usize, bool)> = found.pair(fast, slow).unwrap().iter().collect();
                assert_eq!(got, pairwise(&close, fast, slow), "fast={fast} slow={slow}");
                seen += got.len();
            }
            assert!(
                seen > 10_000,
                "only {seen} crossings: the series is too tame"
            );
        }
    }

    #[test]
    fn only_the_pairs_asked_for_are_kept() {
        let close = ticks(500, 3);
        let found =
            Crossings::find(&close, || [(5, 20), (20, 5), (7, 7)].into_iter(), 1 << 20).unwrap();
        assert!(found.pair(5, 20).is_some() && found.pair(20, 5).is_some());
        assert_eq!(found.pair(7, 7).map(|p| p.iter().count()), Some(0));
        assert!(found.pair(5, 7).is_none() && found.pair(6, 20).is_none());
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let close = ticks(20_000, 5);
        let pairs = || (1..40).flat_map(|a| (1..40).map(move |b| (a, b)));
        let all = Crossings::find(&close, pairs, 64 << 20).unwrap();
        assert!(all.bytes() > 100_000, "{} bytes", all.bytes());
        assert!(Crossings::find(&close, pairs, all.bytes() / 4).is_none());
        // The table alone over the budget, or too many windows.
        assert!(Crossings::find(&close, pairs, 100).is_none());
        let wide = || (1..=MAX_WINDOWS + 1).map(|w| (w, 1));
        assert!(Crossings::find(&close, wide, usize::MAX).is_none());
    }

    #[test]
    fn sums_that_could_overflow_are_left_to_the_averages() {
        let close: Vec<f64> = ticks(300, 2).iter().map(|p| p * 1e304).collect();
        let pairs = |slow: usize| move || [(1, 2), (3, slow)].into_iter();
        // Four windows of the dearest price are still far from `f64::MAX`.
        let found = Crossings::find(&close, pairs(4), 1 << 20).unwrap();
        let got: Vec<(usize, bool)> = found.pair(3, 4).unwrap().iter().collect();
        assert!(!got.is_empty());
        assert_eq!(got, pairwise(&close, 3, 4));
        // Fifty may overflow: infinite or NaN averages.
        assert!(Crossings::find(&close, pairs(50), 1 << 20).is_none());
        // A window past the end has no sum.
        assert!(Crossings::find(&close, pairs(1_000), 1 << 20).is_some());
    }

    /// Blocks of any size (cut in runs of 64 bars or not) carry each pair from one to the
    /// next: the same crossings.
    #[test]
    fn blocks_of_any_size_find_the_same_crossings() {
        let close = ticks(3_000, 5);
        let pairs = || {
            [1, 2, 3, 5, 8, 20, 64, 65, 200]
                .into_iter()
                .flat_map(|a| [4, 9, 21, 50, 63, 128, 2_999, 3_000].map(move |b| (a, b)))
        };
        let whole = Crossings::find(&close, pairs, usize::MAX).unwrap();
        assert!(whole.events.iter().map(Vec::len).sum::<usize>() > 1_000);
        for max_block in [1, 2, 5, 63, 64, 65, 127, 130, 3_000] {
            let cut = Crossings::find_here(&close, pairs, usize::MAX, max_block).unwrap();
            assert_eq!(
                cut.events, whole.events,
                "blocks of {max_block} bars at most"
            );
        }
    }

    /// Blocks hold whole runs of 64 bars whenever the room allows, however many windows.
    #[test]
    fn blocks_hold_whole_runs_of_bars() {
        assert_eq!(block_bars(26, usize::MAX, MAX_BLOCK_BARS), Some(1_216));
        assert_eq!(
            block_bars(1, usize::MAX, MAX_BLOCK_BARS),
            Some(MAX_BLOCK_BARS)
        );
        assert_eq!(block_bars(1_024, usize::MAX, MAX_BLOCK_BARS), Some(64));
        assert_eq!(block_bars(1_024, 1_024 * 8 * 100, MAX_BLOCK_BARS), Some(64));
        assert_eq!(block_bars(1_024, 1_024 * 8 * 63, MAX_BLOCK_BARS), Some(63));
        assert_eq!(block_bars(1_024, 1_024 * 8 - 1, MAX_BLOCK_BARS), None);
        assert_eq!(block_bars(3, usize::MAX, 5), Some(5));
    }

    #[test]
    fn what_is_kept_stays_within_any_budget() {
        // Down, then up: every pair crosses once, so most of what is kept is short lists.
        let close: Vec<f64> = (0..400).map(|i| 1.0 + (i as f64 - 150.0).abs()).collect();
        let pairs = || (1..60).flat_map(|a| (a + 1..60).map(move |b| (a, b)));
        let all = Crossings::find(&close, pairs, usize::MAX).unwrap();
        assert_eq!(all.pair(3, 40).unwrap().iter().count(), 1);
        let (mut kept, mut refused) = (0, 0);
        for budget in (0..2 * all.bytes()).step_by(all.bytes() / 60) {
            match Crossings::find(&close, pairs, budget) {
                Some(found) => {
                    assert!(found.bytes() <= budget, "{} > {budget}", found.bytes());
                    kept += 1;
                }
                None => refused += 1,
            }
        }
        assert!(kept > 10 && refused > 10, "{kept} kept, {refused} refused");
    }
}
