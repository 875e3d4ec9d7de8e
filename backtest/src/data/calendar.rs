//! The calendar days (UTC) of the bars' times: a cursor that walks them without a division
//! per bar, and whether every bar is a day of its own.

use tracectx::time::{MICROS_PER_DAY, Timestamp};

/// The calendar day (UTC) of increasing times, and its weekday: moving to the next day
/// takes no division, which is the common step of daily and intraday bars.
pub(crate) struct DayCursor {
    pub(crate) day: i64,
    pub(crate) weekday: i64,
    /// The first microsecond of the next day.
    end: i64,
}

/// The calendar day (days since the epoch) of a time in microseconds.
fn day_of(micros: i64) -> i64 {
    Timestamp::from_micros(micros).days_since_epoch()
}

/// The day of the week of `day`: Monday is 0, Sunday is 6.
fn weekday(day: i64) -> i64 {
    i64::from(tracectx::time::weekday(day))
}

impl DayCursor {
    pub(crate) fn new(ts: i64) -> Self {
        let day = day_of(ts);
        Self {
            day,
            weekday: weekday(day),
            end: (day + 1).checked_mul(MICROS_PER_DAY).unwrap_or(i64::MAX),
        }
    }

    /// Moves to the day of `ts`, which is not before the current day; whether it is a new
    /// one.
    #[inline]
    pub(crate) fn advance(&mut self, ts: i64) -> bool {
        if ts < self.end {
            return false;
        }
        // A few days on (the next day, or Monday after a weekend) by steps; further by
        // division.
        let ahead = ts - self.end;
        if ahead < 7 * MICROS_PER_DAY {
            let mut next = self.end + MICROS_PER_DAY;
            let mut days = 1;
            while ts >= next {
                next += MICROS_PER_DAY;
                days += 1;
            }
            self.day += days;
            self.weekday += days;
            if self.weekday >= 7 {
                self.weekday -= 7;
            }
            self.end = next;
        } else {
            self.day = day_of(ts);
            self.weekday = weekday(self.day);
            self.end = (self.day + 1)
                .checked_mul(MICROS_PER_DAY)
                .unwrap_or(i64::MAX);
        }
        true
    }

    pub(crate) fn is_weekend(&self) -> bool {
        self.weekday >= 5
    }
}

/// The number of bars on a Saturday or Sunday when every bar of the increasing times `t` is
/// on a calendar day (UTC) of its own; `None` when two share one.
pub(crate) fn one_bar_a_day(t: &[i64]) -> Option<usize> {
    let mut days = DayCursor::new(*t.first()?);
    let mut weekend_bars = usize::from(days.is_weekend());
    for &ts in &t[1..] {
        if !days.advance(ts) {
            return None;
        }
        weekend_bars += usize::from(days.is_weekend());
    }
    Some(weekend_bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_cursor_follows_the_calendar() {
        let mut state = 3_u64;
        let mut ts = -5 * MICROS_PER_DAY - 17;
        let mut cursor = DayCursor::new(ts);
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Steps within a day, of a few days and of months.
            let step = match state >> 62 {
                0 => (state >> 20) as i64 % (MICROS_PER_DAY / 3) + 1,
                1 | 2 => (state >> 20) as i64 % (8 * MICROS_PER_DAY) + 1,
                _ => (state >> 20) as i64 % (90 * MICROS_PER_DAY) + 1,
            };
            let before = cursor.day;
            ts += step;
            let moved = cursor.advance(ts);
            assert_eq!(cursor.day, day_of(ts), "at {ts}");
            assert_eq!(cursor.weekday, weekday(day_of(ts)), "at {ts}");
            assert_eq!(cursor.end, (day_of(ts) + 1) * MICROS_PER_DAY);
            assert_eq!(moved, cursor.day != before);
        }
    }
}
