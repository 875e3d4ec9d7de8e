//! The data's period, and durations rounded up to its resolution.

use tracectx::time::{MICROS_PER_DAY, MICROS_PER_SEC};

/// The data's period: the median of the differences of the last 100 times, in
/// microseconds (an even count takes the truncated mean of the middle two).
pub(super) fn data_period(t: &[i64]) -> Option<i64> {
    let tail = &t[t.len().saturating_sub(100)..];
    let mut diffs: Vec<i64> = tail.windows(2).map(|w| w[1] - w[0]).collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let k = diffs.len();
    Some(if k % 2 == 1 {
        diffs[k / 2]
    } else {
        ((i128::from(diffs[k / 2 - 1]) + i128::from(diffs[k / 2])) / 2) as i64
    })
}

/// The finest non-zero unit of a duration (as pandas' `Timedelta.resolution_string`), in
/// microseconds: a day, an hour, a minute, a second, a millisecond or a microsecond.
pub(super) fn resolution(period: i64) -> i64 {
    const UNITS: [(i64, i64); 5] = [
        (1, 1_000),
        (1_000, 1_000),
        (MICROS_PER_SEC, 60),
        (60 * MICROS_PER_SEC, 60),
        (3_600 * MICROS_PER_SEC, 24),
    ];
    for (unit, per_next) in UNITS {
        if (period / unit) % per_next != 0 {
            return unit;
        }
    }
    MICROS_PER_DAY
}

/// `d` rounded up to a multiple of `unit` (saturating; durations of bars are far inside).
pub(super) fn ceil_to(d: i64, unit: i64) -> i64 {
    let r = d.rem_euclid(unit);
    if r == 0 {
        d
    } else {
        (d - r).saturating_add(unit)
    }
}

/// Mean of durations, truncated to the microsecond.
pub(super) fn mean_duration(d: impl ExactSizeIterator<Item = i64>) -> i64 {
    let len = d.len();
    let sum: i128 = d.map(i128::from).sum();
    (sum / len.max(1) as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_is_the_finest_unit() {
        assert_eq!(resolution(MICROS_PER_DAY), MICROS_PER_DAY);
        assert_eq!(resolution(3 * MICROS_PER_DAY), MICROS_PER_DAY);
        assert_eq!(resolution(3_600 * MICROS_PER_SEC), 3_600 * MICROS_PER_SEC);
        assert_eq!(
            resolution(MICROS_PER_DAY + 60 * MICROS_PER_SEC),
            60 * MICROS_PER_SEC
        );
        assert_eq!(resolution(1_500), 1_000 / 1_000);
        assert_eq!(resolution(2_000), 1_000);
        assert_eq!(
            ceil_to(MICROS_PER_DAY + 1, MICROS_PER_DAY),
            2 * MICROS_PER_DAY
        );
        assert_eq!(ceil_to(0, MICROS_PER_DAY), 0);
    }

    #[test]
    fn period_median_truncates() {
        assert_eq!(data_period(&[0, 1, 3]), Some(1));
        assert_eq!(data_period(&[0, 1, 2, 5]), Some(1));
        assert_eq!(data_period(&[0]), None);
    }
}
