//! The execution model and the statistics of `BACKTEST_SEMANTICS.md`, on small hand-checked
//! series: fills, sizing, costs, reversals, open trades, ruin, drawdown periods,
//! annualisation and undefined values.

use tracectx_backtest::{
    BacktestSettings, Bars, Decision, Params, Report, Signals, Simulation, Statistic, Stats,
    crossover, floor_div, simulate, sma, sma_cross,
};

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;

/// Daily bars on consecutive calendar days from 2024-01-01 with the given opens and closes
/// (highs and lows span them).
fn bars(open: &[f64], close: &[f64]) -> Bars {
    bars_at(
        &(0..open.len() as i64)
            .map(|i| 1_704_067_200_000_000 + i * DAY)
            .collect::<Vec<_>>(),
        open,
        close,
    )
}

fn bars_at(t: &[i64], open: &[f64], close: &[f64]) -> Bars {
    let high = open.iter().zip(close).map(|(o, c)| o.max(*c)).collect();
    let low = open.iter().zip(close).map(|(o, c)| o.min(*c)).collect();
    Bars::new(t.to_vec(), open.to_vec(), high, low, close.to_vec(), None).unwrap()
}

fn decisions(n: usize, at: &[(usize, Decision)]) -> Signals {
    let mut d = vec![Decision::Hold; n];
    for &(i, decision) in at {
        d[i] = decision;
    }
    Signals::new(d, 0)
}

fn run(bars: &Bars, signals: &Signals, settings: BacktestSettings) -> Simulation {
    simulate(bars, signals, &settings).unwrap()
}

fn assert_close(a: f64, b: f64) {
    assert!(
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
        "{a} != {b}"
    );
}

use Decision::{EnterLong, EnterShort, Exit};

// === fills and equity ===

#[test]
fn decision_fills_at_next_open_and_equity_marks_at_close() {
    let b = bars(
        &[10.0, 10.0, 12.0, 11.0, 13.0],
        &[10.0, 11.0, 12.0, 11.0, 14.0],
    );
    let s = decisions(5, &[(1, EnterLong), (3, Exit)]);
    let r = run(&b, &s, BacktestSettings::new(100.0));
    assert_eq!(r.trades.len(), 1);
    let t = &r.trades[0];
    assert_eq!((t.entry_bar, t.exit_bar), (2, 4));
    assert_eq!((t.entry_price, t.exit_price), (12.0, 13.0));
    assert_eq!(t.size, 8.0); // floor(100 * (1 - 2^-52) / 12)
    assert_eq!(r.equity, [100.0, 100.0, 100.0, 92.0, 108.0]);
}

#[test]
fn decisions_before_warmup_and_on_last_bar_never_fill() {
    let b = bars(&[10.0; 8], &[10.0; 8]);
    let mut d = vec![Decision::Hold; 8];
    d[2] = EnterLong; // before the first decision bar (warm-up 3 -> first decision bar 4)
    d[7] = EnterShort; // last bar
    let r = run(&b, &Signals::new(d.clone(), 3), BacktestSettings::default());
    assert!(r.trades.is_empty() && r.open_trades.is_empty());
    d[4] = EnterLong;
    let r = run(&b, &Signals::new(d, 3), BacktestSettings::default());
    assert_eq!(r.open_trades[0].entry_bar, 5);
}

// === sizing ===

#[test]
fn floor_division_is_pythons() {
    // Values checked with CPython's `//`.
    assert_eq!(
        floor_div(10_000.0 * (1.0 - f64::EPSILON), 169.35804000000002),
        59.0
    );
    assert_eq!(floor_div(1.0, 0.1), 9.0); // (1.0 / 0.1).floor() would be 10
    assert_eq!(floor_div(0.3, 0.1), 2.0);
    assert_eq!(floor_div(-7.5, 2.0), -4.0);
    assert_eq!(floor_div(7.5, -2.0), -4.0);
    assert_eq!(floor_div(0.0, 3.0), 0.0);
}

#[test]
fn worked_example_sizes_the_short_and_the_reversal() {
    // The semantics' GOOG example: short at 169.02 with 10,000 cash and 0.2% commission,
    // reversed at 179.13.
    let b = bars(
        &[169.0, 169.0, 169.02, 175.0, 179.13, 180.0],
        &[169.0, 169.0, 170.0, 178.0, 180.0, 181.0],
    );
    let s = decisions(6, &[(1, EnterShort), (3, EnterLong)]);
    let r = run(
        &b,
        &s,
        BacktestSettings::new(10_000.0).with_commission(0.002),
    );
    let short = &r.trades[0];
    assert_eq!(short.size, -59.0);
    assert_eq!((short.entry_price, short.exit_price), (169.02, 179.13));
    assert_close(short.pnl, -637.5717);
    assert_close(short.commission, 41.0817);
    let long = &r.open_trades[0];
    assert_eq!(
        (long.size, long.entry_bar, long.entry_price),
        (52.0, 4, 179.13)
    );
}

#[test]
fn order_without_cash_for_one_unit_is_cancelled() {
    let b = bars(&[150.0; 5], &[150.0; 5]);
    let r = run(
        &b,
        &decisions(5, &[(1, EnterLong)]),
        BacktestSettings::new(100.0),
    );
    assert!(r.trades.is_empty() && r.open_trades.is_empty());
    assert_eq!(r.equity, [100.0; 5]);
}

// === costs ===

#[test]
fn commission_is_paid_on_both_sides() {
    let b = bars(&[100.0, 100.0, 100.0, 110.0, 110.0], &[100.0; 5]);
    let s = decisions(5, &[(1, EnterLong), (2, Exit)]);
    let r = run(&b, &s, BacktestSettings::new(1_000.0).with_commission(0.01));
    let t = &r.trades[0];
    // appc = 100 + 1 = 101 -> 9 units; entry fee 9, exit fee 9.9.
    assert_eq!(t.size, 9.0);
    assert_close(t.commission, 9.0 + 9.9);
    assert_close(t.pnl, 90.0 - 18.9);
    assert_close(t.return_frac, 0.1 - 18.9 / 900.0);
    assert_close(*r.equity.last().unwrap(), 1_000.0 + 90.0 - 18.9);
}

#[test]
fn spread_and_slippage_are_opt_in_and_adverse() {
    let b = bars(&[100.0, 100.0, 100.0, 110.0, 110.0], &[100.0; 5]);
    let s = decisions(5, &[(1, EnterLong), (2, Exit)]);
    let plain = run(&b, &s, BacktestSettings::new(1_000.0));
    assert_eq!(plain.trades[0].entry_price, 100.0);

    let spread = run(&b, &s, BacktestSettings::new(1_000.0).with_spread(0.01));
    assert_eq!(spread.trades[0].entry_price, 101.0);
    assert_eq!(spread.trades[0].exit_price, 110.0); // exits at the plain price

    let slip = run(&b, &s, BacktestSettings::new(1_000.0).with_slippage(0.01));
    assert_eq!(slip.trades[0].entry_price, 101.0);
    assert_eq!(slip.trades[0].exit_price, 108.9);

    let short = decisions(5, &[(1, EnterShort), (2, Exit)]);
    let slip = run(
        &b,
        &short,
        BacktestSettings::new(1_000.0).with_slippage(0.01),
    );
    assert_eq!(slip.trades[0].entry_price, 99.0);
    assert_eq!(slip.trades[0].exit_price, 110.0 * 1.01);
}

#[test]
fn fractional_units_use_all_available_cash() {
    let b = bars(&[30.0; 5], &[30.0; 5]);
    let s = decisions(5, &[(1, EnterLong)]);
    let whole = run(&b, &s, BacktestSettings::new(100.0));
    assert_eq!(whole.open_trades[0].size, 3.0);
    let frac = run(
        &b,
        &s,
        BacktestSettings::new(100.0).with_fractional_units(true),
    );
    assert_close(frac.open_trades[0].size, 100.0 / 30.0);
}

// === trades ===

#[test]
fn reversal_is_two_trades_at_the_same_bar_and_price() {
    let b = bars(&[10.0, 10.0, 11.0, 12.0, 13.0, 12.0, 11.0], &[10.0; 7]);
    let s = decisions(7, &[(1, EnterLong), (3, EnterShort), (5, Exit)]);
    let r = run(&b, &s, BacktestSettings::new(1_000.0));
    assert_eq!(r.trades.len(), 2);
    let (long, short) = (&r.trades[0], &r.trades[1]);
    assert!(long.is_long() && !short.is_long());
    assert_eq!(long.exit_bar, 4);
    assert_eq!(short.entry_bar, 4);
    assert_eq!(long.exit_price, short.entry_price);
}

#[test]
fn repeated_entry_closes_and_reopens() {
    let b = bars(&[10.0; 6], &[10.0; 6]);
    let s = decisions(6, &[(1, EnterLong), (2, EnterLong)]);
    let r = run(&b, &s, BacktestSettings::new(1_000.0));
    assert_eq!(r.trades.len(), 1);
    assert_eq!((r.trades[0].entry_bar, r.trades[0].exit_bar), (2, 3));
    assert_eq!(r.open_trades[0].entry_bar, 3);
}

#[test]
fn open_trades_at_the_end_count_in_equity_only() {
    let b = bars(
        &[10.0, 10.0, 10.0, 12.0, 15.0],
        &[10.0, 10.0, 11.0, 13.0, 16.0],
    );
    let s = decisions(5, &[(1, EnterLong)]);
    let r = run(&b, &s, BacktestSettings::new(100.0));
    assert!(r.trades.is_empty());
    assert_eq!(r.open_trades[0].size, 9.0);
    assert_eq!(r.open_trades[0].unrealized_pnl, 54.0);
    assert_eq!(*r.equity.last().unwrap(), 154.0);
    let stats = Stats::compute(&b, &r.equity, &r.trades, 0).unwrap();
    assert_eq!(stats.trades, 0);
    assert_eq!(stats.exposure_pct, 0.0);
    assert_eq!(stats.equity_final, 154.0);
    assert_eq!(stats.return_pct, 54.0);
    assert_eq!(stats.win_rate_pct, None);

    // Opt-in: close them at the last close.
    let r = run(&b, &s, BacktestSettings::new(100.0).with_close_at_end(true));
    assert!(r.open_trades.is_empty());
    assert_eq!((r.trades[0].exit_bar, r.trades[0].exit_price), (4, 16.0));
    assert_eq!(*r.equity.last().unwrap(), 154.0);
}

#[test]
fn ruin_closes_everything_and_zeroes_equity() {
    let b = bars(
        &[10.0, 10.0, 10.0, 30.0, 30.0],
        &[10.0, 10.0, 10.0, 30.0, 30.0],
    );
    let s = decisions(5, &[(1, EnterShort)]);
    let r = run(&b, &s, BacktestSettings::new(100.0));
    assert_eq!(r.equity, [100.0, 100.0, 100.0, 0.0, 0.0]);
    assert_eq!(r.trades.len(), 1);
    let t = &r.trades[0];
    assert_eq!(
        (t.size, t.exit_bar, t.exit_price, t.pnl),
        (-9.0, 3, 30.0, -180.0)
    );
    assert!(r.open_trades.is_empty());
}

// === strategy ===

#[test]
fn sma_is_pandas_rolling_mean_to_the_bit() {
    let x: Vec<f64> = (0..40)
        .map(|i| {
            let v = 100.0 + 0.1 * f64::from((i * 7) % 11) - 0.3 * f64::from((i * 3) % 5);
            (v * 100.0).round() / 100.0
        })
        .collect();
    // pandas.Series(x).rolling(10).mean() for bars 9.., as bits.
    let expected: [u64; 31] = [
        0x4058fa3d70a3d70a,
        0x4058fccccccccccd,
        0x4058f851eb851eb9,
        0x4058fae147ae147b,
        0x4058f66666666666,
        0x4058f8f5c28f5c29,
        0x4058fb851eb851ec,
        0x4058f70a3d70a3d7,
        0x4058f9999999999a,
        0x4058fc28f5c28f5c,
        0x4058f7ae147ae147,
        0x4058fa3d70a3d70a,
        0x4058fccccccccccd,
        0x4058f851eb851eb8,
        0x4058fae147ae147a,
        0x4058f66666666666,
        0x4058f8f5c28f5c29,
        0x4058fb851eb851ec,
        0x4058f70a3d70a3d7,
        0x4058f9999999999a,
        0x4058fc28f5c28f5d,
        0x4058f7ae147ae148,
        0x4058fa3d70a3d70a,
        0x4058fccccccccccd,
        0x4058f851eb851eb9,
        0x4058fae147ae147b,
        0x4058f66666666666,
        0x4058f8f5c28f5c29,
        0x4058fb851eb851eb,
        0x4058f70a3d70a3d6,
        0x4058f9999999999a,
    ];
    let m = sma(&x, 10);
    assert!(m[..9].iter().all(|v| v.is_nan()));
    let got: Vec<u64> = m[9..].iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, expected);
    // A naive window mean differs in the last bit on bar 9.
    let naive: f64 = x[..10].iter().sum::<f64>() / 10.0;
    assert_ne!(naive.to_bits(), expected[0]);
}

#[test]
fn crossover_is_strict_and_a_tie_is_no_cross() {
    let fast = [1.0, 2.0, 3.0, 3.0, f64::NAN, 5.0];
    let slow = [2.0, 2.0, 2.5, 4.0, 4.0, 4.0];
    assert!(!crossover(&fast, &slow, 2)); // tie on bar 1
    assert!(!crossover(&fast, &slow, 5)); // undefined on bar 4
    assert!(crossover(&slow, &fast, 3));
    assert!(!crossover(&fast, &slow, 0));
}

#[test]
fn sma_cross_warms_up_on_the_slow_average_and_long_only_exits() {
    let b = Bars::synthetic(400, 8);
    let p = Params::new().with("fast", 10).with("slow", 20);
    let ls = sma_cross(&b, &p).unwrap();
    assert_eq!((ls.warmup(), ls.first_decision_bar()), (19, 20));
    assert!(ls.decisions()[..20].iter().all(|&d| d == Decision::Hold));
    let lo = sma_cross(&b, &p.clone().with("long_only", true)).unwrap();
    for (a, b) in ls.decisions().iter().zip(lo.decisions()) {
        let expected = if *a == EnterShort { Exit } else { *a };
        assert_eq!(*b, expected);
    }
    let r = run(&b, &lo, BacktestSettings::default());
    assert!(r.trades.iter().all(|t| t.is_long()));
}

#[test]
fn sma_cross_agrees_with_sma_and_crossover() {
    // The built-in fuses both averages in one pass; it must decide exactly as the public
    // pieces do, including windows of 1, a fast window longer than the slow one, and a
    // window longer than the data (no value at all: warm-up 0, no decisions).
    for (seed, len) in [(1, 3_000), (2, 500), (3, 30)] {
        let b = Bars::synthetic(len, seed);
        let close = b.close();
        for (f, s) in [(10, 20), (1, 2), (20, 10), (5, 5), (3, 40), (50, 60)] {
            let fast = sma(close, f);
            let slow = sma(close, s);
            let w = tracectx_backtest::warmup(&[&fast, &slow]);
            let expected: Vec<Decision> = (0..close.len())
                .map(|i| {
                    if i <= w {
                        Decision::Hold
                    } else if crossover(&fast, &slow, i) {
                        EnterLong
                    } else if crossover(&slow, &fast, i) {
                        EnterShort
                    } else {
                        Decision::Hold
                    }
                })
                .collect();
            let got = sma_cross(
                &b,
                &Params::new().with("fast", f as i64).with("slow", s as i64),
            )
            .unwrap();
            assert_eq!(got.warmup(), w, "fast {f} slow {s} bars {len}");
            assert_eq!(
                got.decisions(),
                &expected[..],
                "fast {f} slow {s} bars {len}"
            );
        }
    }
}

#[test]
fn sma_cross_reports_bad_params() {
    let b = Bars::synthetic(50, 1);
    let err = sma_cross(&b, &Params::new().with("fast", 10).with("slow", "x")).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"parameter "slow" must be an integer, got a string: "x""#
    );
    let err = sma_cross(&b, &Params::new().with("fast", -1).with("slow", 5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"parameter "fast" must be at least 1, got -1"#
    );
}

// === statistics ===

#[test]
fn drawdown_periods_between_exact_zeros() {
    let b = bars(&[1.0; 10], &[1.0; 10]);
    let e = [
        100.0, 110.0, 99.0, 105.0, 110.0, 120.0, 108.0, 120.0, 130.0, 117.0,
    ];
    let s = Stats::compute(&b, &e, &[], 0).unwrap();
    // Periods (1, 4): 3 days, deepest 1 - 99/110; (5, 7): 2 days, deepest 1 - 108/120.
    // The last bar is in drawdown but closes no period (it follows a zero).
    assert_eq!(s.max_drawdown_duration_secs, Some(3.0 * 86_400.0));
    assert_eq!(s.avg_drawdown_duration_secs, Some(3.0 * 86_400.0)); // 2.5 days, rounded up
    let peaks = [1.0 - 99.0 / 110.0, 1.0 - 108.0 / 120.0];
    assert_close(
        s.avg_drawdown_pct.unwrap(),
        -(peaks[0] + peaks[1]) / 2.0 * 100.0,
    );
    assert_close(
        s.max_drawdown_pct,
        -(1.0 - 117.0 / 130.0_f64).max(peaks[0]) * 100.0,
    );
    assert_eq!(s.equity_peak, 130.0);
}

#[test]
fn drawdown_to_the_end_is_one_period() {
    let b = bars(&[1.0; 3], &[1.0; 3]);
    let s = Stats::compute(&b, &[100.0, 90.0, 95.0], &[], 0).unwrap();
    assert_eq!(s.max_drawdown_duration_secs, Some(2.0 * 86_400.0));
    assert_close(s.avg_drawdown_pct.unwrap(), -10.0);
}

#[test]
fn mean_duration_truncates_to_microseconds_before_rounding_up() {
    // Bars 1.000001 s apart: the period's finest unit is the microsecond.
    let step = 1_000_001;
    let t: Vec<i64> = (0..7).map(|i| i * step).collect();
    let b = bars_at(&t, &[1.0; 7], &[1.0; 7]);
    let e = [100.0, 90.0, 100.0, 90.0, 95.0, 100.0, 101.0];
    let s = Stats::compute(&b, &e, &[], 0).unwrap();
    // Periods of 2 and 3 steps: mean 2.5000025 s, truncated to 2.500002 s.
    assert_eq!(s.max_drawdown_duration_secs, Some(3.000003));
    assert_eq!(s.avg_drawdown_duration_secs, Some(2.500002));
}

#[test]
fn trade_durations_round_up_to_the_data_resolution() {
    // Hourly bars: trades of 1 h, 2 h and 2 h average 1 h 40 min, shown as 2 h.
    let n = 12;
    let t: Vec<i64> = (0..n).map(|i| i * HOUR).collect();
    let b = bars_at(&t, &vec![10.0; n as usize], &vec![10.0; n as usize]);
    let s = decisions(
        n as usize,
        &[
            (1, EnterLong),
            (2, Exit),
            (3, EnterLong),
            (5, Exit),
            (6, EnterLong),
            (8, Exit),
        ],
    );
    let r = run(&b, &s, BacktestSettings::new(100.0));
    let durations: Vec<f64> = r.trades.iter().map(|t| t.duration_secs).collect();
    assert_eq!(durations, [3_600.0, 7_200.0, 7_200.0]);
    let st = Stats::compute(&b, &r.equity, &r.trades, 0).unwrap();
    assert_eq!(st.max_trade_duration_secs, Some(7_200.0));
    assert_eq!(st.avg_trade_duration_secs, Some(7_200.0));
    // Exposure: bars 2..=3, 4..=6, 7..=9 of 12.
    assert_eq!(st.exposure_pct, 8.0 / 12.0 * 100.0);
}

/// Equity compounding by `r` every bar at times `t`; returns the annualised return.
fn annualised(t: &[i64], r: f64) -> f64 {
    let n = t.len();
    let b = bars_at(t, &vec![1.0; n], &vec![1.0; n]);
    let e: Vec<f64> = (0..n).map(|i| 100.0 * (1.0 + r).powi(i as i32)).collect();
    Stats::compute(&b, &e, &[], 0)
        .unwrap()
        .return_ann_pct
        .unwrap()
}

fn expect_periods_per_year(got: f64, r: f64, periods: f64) {
    let expected = ((1.0 + r).powf(periods) - 1.0) * 100.0;
    assert!(
        ((got - expected) / expected).abs() < 1e-9,
        "annualised {got}, expected {expected} for {periods} periods a year"
    );
}

#[test]
fn annualisation_follows_the_data_period_and_weekends() {
    let r = 0.001;
    let start = 1_704_067_200_000_000; // Monday 2024-01-01
    // Weekdays only: 252 a year.
    let weekdays: Vec<i64> = (0..400)
        .map(|i| start + (i / 5 * 7 + i % 5) * DAY)
        .collect();
    expect_periods_per_year(annualised(&weekdays, r), r, 252.0);
    // Every calendar day: 365 a year.
    let every_day: Vec<i64> = (0..400).map(|i| start + i * DAY).collect();
    expect_periods_per_year(annualised(&every_day, r), r, 365.0);
    // Weekly bars: weekly returns, 52 a year.
    let weekly: Vec<i64> = (0..200).map(|i| start + i * 7 * DAY).collect();
    expect_periods_per_year(annualised(&weekly, r), r, 52.0);
    // Hourly bars on weekdays: the last equity of each day, 252 a year.
    let hourly: Vec<i64> = weekdays
        .iter()
        .flat_map(|&d| (0..24).map(move |h| d + h * HOUR))
        .collect();
    expect_periods_per_year(annualised(&hourly, r), (1.0f64 + r).powi(24) - 1.0, 252.0);
}

#[test]
fn annualisation_of_monthly_bars_uses_calendar_months() {
    let r = 0.01;
    // The first of each month from January 2010.
    let monthly: Vec<i64> = (0..120)
        .map(|k| {
            let (y, m) = (2010 + k / 12, k % 12 + 1);
            let t = tracectx_backtest::parse_bar_time(&format!("{y:04}-{m:02}-01")).unwrap();
            t.as_micros()
        })
        .collect();
    expect_periods_per_year(annualised(&monthly, r), r, 12.0);
}

/// Bars on three calendar days less than two days apart (late on the first, early on the
/// last) give two daily returns, not one: the days are counted on the calendar, not by the
/// time elapsed.
#[test]
fn daily_returns_count_calendar_days_not_elapsed_time() {
    let monday = 1_704_067_200_000_000; // 2024-01-01
    // Monday 22:00 and 23:00, Tuesday 12:00, Wednesday 06:00: 32 hours, three days.
    let t = [
        monday + 22 * HOUR,
        monday + 23 * HOUR,
        monday + DAY + 12 * HOUR,
        monday + 2 * DAY + 6 * HOUR,
    ];
    let four_bars = bars_at(&t, &[10.0; 4], &[10.0; 4]);
    let e = [100.0, 100.0, 110.0, 99.0];
    let st = Stats::compute(&four_bars, &e, &[], 0).unwrap();
    let daily = [110.0 / 100.0 - 1.0, 99.0 / 110.0 - 1.0];
    let g = plain_geomean(&daily);
    let var_d = plain_var(&daily);
    let periods = 252.0_f64; // weekdays
    let vol = ((var_d + (1.0 + g).powi(2)).powf(periods) - (1.0 + g).powf(2.0 * periods)).sqrt();
    let ann = (1.0 + g).powf(periods) - 1.0;
    let downside = (daily[1].powi(2) / 2.0).sqrt();
    assert_rel("return_ann_pct", st.return_ann_pct, ann * 100.0);
    assert_rel("volatility_ann_pct", st.volatility_ann_pct, vol * 100.0);
    assert_rel("sortino", st.sortino, ann / (downside * periods.sqrt()));

    // Monday 22:00 to Tuesday 00:00: two hours, two days, one return (0): the annualised
    // return is 0 and the volatility of a single return undefined.
    let t = [monday + 22 * HOUR, monday + 23 * HOUR, monday + DAY];
    let b = bars_at(&t, &[10.0; 3], &[10.0; 3]);
    let st = Stats::compute(&b, &[100.0; 3], &[], 0).unwrap();
    assert_eq!(st.return_ann_pct, Some(0.0));
    assert_eq!(st.volatility_ann_pct, None);

    // The first three days again with a flat equity: two returns of 0, a volatility of 0.
    let st = Stats::compute(&four_bars, &[100.0; 4], &[], 0).unwrap();
    assert_eq!(st.volatility_ann_pct, Some(0.0));
}

/// Beta's log returns are logarithms of the rounded ratios, `ln(E[i+1] / E[i])` as floats
/// compute it. With prices of many digits moving a tick (a cent on 65,432.12: `1.5e-7`),
/// half an ulp of the ratio is `7e-10` of its logarithm, and the logarithm of the exact
/// ratio is that far from the reference's.
#[test]
fn beta_takes_logarithms_of_the_rounded_ratios() {
    let close = [
        65_432.12, 65_432.13, 65_432.11, 65_432.14, 65_432.12, 65_432.15, 65_432.13, 65_432.16,
    ];
    let e = [
        1_000_000.0,
        1_000_000.15,
        999_999.85,
        1_000_000.31,
        1_000_000.02,
        1_000_000.47,
        1_000_000.16,
        1_000_000.61,
    ];
    let t: Vec<i64> = (0..8)
        .map(|i| 1_704_067_200_000_000 + i * 60_000_000)
        .collect();
    let b = bars_at(&t, &close, &close);
    let st = Stats::compute(&b, &e, &[], 0).unwrap();
    assert_rel("beta", st.beta, plain_beta(&e, &close));
}

/// The geometric mean daily return is `exp(mean ln(1 + r)) - 1` over the rounded returns, not
/// the `k`-th root of the last equity over the first: the two differ by an ulp of 1 now and
/// then, and the `- 1` keeps it, as does the volatility's `(var + (1 + g)^2)^N -
/// (1 + g)^2N` when the returns barely vary. Here the equity ends where it started, so the
/// root is exactly 1 (an annualised return of 0) while the returns' logarithms sum to just
/// below 0, as backtesting.py computes it.
#[test]
fn geometric_mean_daily_return_sums_the_returns_logarithms() {
    let monday = 1_704_067_200_000_000; // 2024-01-01
    let e = [10_000.0, 9_997.21, 9_999.67, 10_002.42, 10_002.48, 10_000.0];
    let daily: Vec<f64> = e.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let g = plain_geomean(&daily);
    assert!(g < 0.0, "the logarithms' sum is below 0: {g:e}");
    let ann = ((1.0 + g).powf(252.0) - 1.0) * 100.0;
    // One bar a day (weekdays), and two bars a day, where the last of each day counts.
    let days: Vec<i64> = [0, 1, 2, 3, 4, 7]
        .iter()
        .map(|d| monday + d * DAY)
        .collect();
    let twice: Vec<i64> = days
        .iter()
        .flat_map(|&d| [d + 9 * HOUR, d + 17 * HOUR])
        .collect();
    let twice_e: Vec<f64> = e.iter().flat_map(|&v| [v, v]).collect();
    for (t, e) in [(&days, &e[..]), (&twice, &twice_e[..])] {
        let b = bars_at(t, &vec![10.0; t.len()], &vec![10.0; t.len()]);
        let st = Stats::compute(&b, e, &[], 0).unwrap();
        assert_rel("return_ann_pct", st.return_ann_pct, ann);
        assert_rel("sharpe", st.sharpe, ann / st.volatility_ann_pct.unwrap());
    }
}

#[test]
fn undefined_values_are_null() {
    let b = bars(&[10.0; 30], &[10.0; 30]);
    let s = Stats::compute(&b, &[1_000.0; 30], &[], 0).unwrap();
    assert_eq!(s.sharpe, None); // volatility 0
    assert_eq!(s.sortino, None); // 0 / 0
    assert_eq!(s.calmar, None); // no drawdown
    assert_eq!(s.max_drawdown_pct, 0.0);
    assert_eq!(
        (s.win_rate_pct, s.profit_factor, s.sqn, s.kelly),
        (None, None, None, None)
    );
    assert_eq!(s.avg_trade_duration_secs, None);
    assert_eq!(s.max_drawdown_duration_secs, None);
    let json: serde_json::Value =
        serde_json::from_str(&Report::new(&s, &[], &[]).to_json()).unwrap();
    assert!(json["stats"]["sharpe"].is_null());
    assert!(json["stats"]["kelly"].is_null());
    assert_eq!(json["stats"]["trades"], 0);
    assert_eq!(json["stats"]["return_pct"], 0.0);
    assert_eq!(json["trades"], serde_json::json!([]));
}

// === statistics from the formulas, written out independently ===

/// A hand-made run for the statistics: 14 weekday bars from Monday 2024-01-01, 10,000 cash,
/// 0.1% commission, and four closed trades (a long win, a short loss by reversal, a long loss,
/// a short win) plus a long left open at the end.
fn hand_made_run() -> (Bars, Simulation) {
    let open = [
        100.0, 100.0, 102.0, 105.0, 106.0, 108.0, 111.0, 108.0, 105.0, 103.0, 101.0, 98.0, 97.0,
        99.0,
    ];
    let close = [
        100.0, 101.0, 104.0, 103.0, 107.0, 110.0, 109.0, 107.0, 104.0, 102.0, 99.0, 97.0, 99.0,
        100.0,
    ];
    let monday = 1_704_067_200_000_000; // 2024-01-01
    let t: Vec<i64> = (0..14)
        .map(|i| monday + (i / 5 * 7 + i % 5) * DAY)
        .collect();
    let b = bars_at(&t, &open, &close);
    let s = decisions(
        14,
        &[
            (1, EnterLong),
            (3, EnterShort),
            (5, Exit),
            (6, EnterLong),
            (8, Exit),
            (9, EnterShort),
            (10, Exit),
            (12, EnterLong),
        ],
    );
    let r = run(
        &b,
        &s,
        BacktestSettings::new(10_000.0).with_commission(0.001),
    );
    (b, r)
}

fn assert_rel(name: &str, got: Option<f64>, expected: f64) {
    let got = got.unwrap_or_else(|| panic!("{name} is undefined, expected {expected}"));
    let scale = got.abs().max(expected.abs());
    assert!(
        got == expected || (got - expected).abs() <= 1e-12 * scale,
        "{name}: crate {got:e}, formula {expected:e} (relative {:e})",
        (got - expected).abs() / scale
    );
}

fn plain_mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance (ddof 1), two passes.
fn plain_var(x: &[f64]) -> f64 {
    let m = plain_mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

/// The semantics' beta: the sample covariance of the equity's and the closes' log returns
/// (logarithms of the rounded ratios) over the closes' sample variance, plainly.
fn plain_beta(equity: &[f64], close: &[f64]) -> f64 {
    let log_returns =
        |v: &[f64]| -> Vec<f64> { v.windows(2).map(|w| (w[1] / w[0]).ln()).collect() };
    let (x, y) = (log_returns(equity), log_returns(close));
    let (mx, my) = (plain_mean(&x), plain_mean(&y));
    let cov = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / (x.len() - 1) as f64;
    cov / plain_var(&y)
}

/// The semantics' geometric mean: 0 if any `1 + r <= 0`, else `exp(mean ln(1 + r)) - 1`.
fn plain_geomean(r: &[f64]) -> f64 {
    if r.iter().any(|&v| 1.0 + v <= 0.0) {
        return 0.0;
    }
    (r.iter().map(|v| (1.0 + v).ln()).sum::<f64>() / r.len() as f64).exp() - 1.0
}

#[test]
fn hand_made_run_has_the_trades_it_was_made_for() {
    let (b, r) = hand_made_run();
    let sides: Vec<(bool, usize, usize, bool)> = r
        .trades
        .iter()
        .map(|t| (t.is_long(), t.entry_bar, t.exit_bar, t.pnl > 0.0))
        .collect();
    assert_eq!(
        sides,
        [
            (true, 2, 4, true),
            (false, 4, 6, false),
            (true, 7, 9, false),
            (false, 10, 11, true),
        ]
    );
    assert_eq!((r.open_trades.len(), r.open_trades[0].entry_bar), (1, 13));
    // Weekdays only, one bar a day: 252 periods a year, one return per bar.
    assert!(
        b.timestamps()
            .iter()
            .all(|t| (t.div_euclid(DAY) + 3).rem_euclid(7) < 5)
    );
}

#[test]
fn equity_statistics_follow_the_formulas_of_the_semantics() {
    let (b, r) = hand_made_run();
    let st = Stats::compute(&b, &r.equity, &r.trades, 0).unwrap();
    let e = &r.equity;
    let n = e.len();
    let c = b.close();

    // Daily returns: one bar per calendar day, so every consecutive pair of bars.
    let daily: Vec<f64> = e.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let periods = 252.0_f64; // weekday bars, no weekends
    let g = plain_geomean(&daily);
    let ann = (1.0 + g).powf(periods) - 1.0;
    let var_d = plain_var(&daily);
    let vol = ((var_d + (1.0 + g).powi(2)).powf(periods) - (1.0 + g).powf(2.0 * periods)).sqrt();
    let downside =
        (daily.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / daily.len() as f64).sqrt();
    let mut peak = f64::NEG_INFINITY;
    let mdd = e
        .iter()
        .map(|&v| {
            peak = peak.max(v);
            1.0 - v / peak
        })
        .fold(0.0, f64::max);
    let days = (b.timestamps()[n - 1] - b.timestamps()[0]) as f64 / DAY as f64;
    let years = days / 365.25;
    let return_pct = (e[n - 1] - e[0]) / e[0] * 100.0;
    let buy_hold = (c[n - 1] - c[0]) / c[0] * 100.0;
    let beta = plain_beta(e, c);

    assert!(
        mdd > 0.0 && vol > 0.0 && downside > 0.0,
        "a run with ups and downs"
    );
    assert_rel("return_pct", Some(st.return_pct), return_pct);
    assert_rel(
        "buy_hold_return_pct",
        Some(st.buy_hold_return_pct),
        buy_hold,
    );
    assert_rel("return_ann_pct", st.return_ann_pct, ann * 100.0);
    assert_rel("volatility_ann_pct", st.volatility_ann_pct, vol * 100.0);
    assert_rel("sharpe", st.sharpe, (ann * 100.0) / (vol * 100.0));
    assert_rel("sortino", st.sortino, ann / (downside * periods.sqrt()));
    assert_rel("max_drawdown_pct", Some(st.max_drawdown_pct), -mdd * 100.0);
    assert_rel("calmar", st.calmar, ann / mdd);
    assert_rel(
        "cagr_pct",
        st.cagr_pct,
        ((e[n - 1] / e[0]).powf(1.0 / years) - 1.0) * 100.0,
    );
    assert_rel("beta", st.beta, beta);
    assert_rel("alpha_pct", st.alpha_pct, return_pct - beta * buy_hold);
    assert_rel("duration_secs", Some(st.duration_secs), days * 86_400.0);
    assert_rel("equity_final", Some(st.equity_final), e[n - 1]);
}

#[test]
fn trade_statistics_follow_the_formulas_of_the_semantics() {
    let (b, r) = hand_made_run();
    let st = Stats::compute(&b, &r.equity, &r.trades, 0).unwrap();
    let pnl: Vec<f64> = r.trades.iter().map(|t| t.pnl).collect();
    let ret: Vec<f64> = r.trades.iter().map(|t| t.return_frac).collect();
    let m = pnl.len() as f64;

    // Each trade's own fields, from its prices (section 3).
    for t in &r.trades {
        let commission = t.size.abs() * t.exit_price * 0.001 + t.size.abs() * t.entry_price * 0.001;
        assert_rel("trade commission", Some(t.commission), commission);
        assert_rel(
            "trade pnl",
            Some(t.pnl),
            t.size * (t.exit_price - t.entry_price) - commission,
        );
        let side = if t.size > 0.0 { 1.0 } else { -1.0 };
        assert_rel(
            "trade return",
            Some(t.return_frac),
            side * (t.exit_price / t.entry_price - 1.0)
                - commission / (t.size.abs() * t.entry_price),
        );
    }

    let wins: Vec<f64> = pnl.iter().copied().filter(|&p| p > 0.0).collect();
    let losses: Vec<f64> = pnl.iter().copied().filter(|&p| p < 0.0).collect();
    let w = wins.len() as f64 / m;
    let kelly = w - (1.0 - w) / (plain_mean(&wins) / -plain_mean(&losses));
    let gains: f64 = ret.iter().filter(|&&v| v > 0.0).sum();
    let pains: f64 = ret.iter().filter(|&&v| v < 0.0).sum();
    let sqn = m.sqrt() * plain_mean(&pnl) / plain_var(&pnl).sqrt();

    assert_eq!(st.trades, 4);
    assert_rel("win_rate_pct", st.win_rate_pct, 100.0 * w);
    assert_rel("profit_factor", st.profit_factor, gains / pains.abs());
    assert_rel(
        "expectancy_pct",
        st.expectancy_pct,
        100.0 * plain_mean(&ret),
    );
    assert_rel("sqn", st.sqn, sqn);
    assert_rel("kelly", st.kelly, kelly);
    assert_rel(
        "avg_trade_pct",
        st.avg_trade_pct,
        100.0 * plain_geomean(&ret),
    );
    assert_rel(
        "best_trade_pct",
        st.best_trade_pct,
        100.0 * ret.iter().copied().fold(f64::MIN, f64::max),
    );
    assert_rel(
        "worst_trade_pct",
        st.worst_trade_pct,
        100.0 * ret.iter().copied().fold(f64::MAX, f64::min),
    );
    assert_rel(
        "commissions",
        Some(st.commissions),
        r.trades.iter().map(|t| t.commission).sum(),
    );
    // Bars 2..=4, 4..=6, 7..=9 and 10..=11 are covered: 10 of 14 (the open trade is not).
    assert_rel("exposure_pct", Some(st.exposure_pct), 100.0 * 10.0 / 14.0);
}

#[test]
fn json_has_every_key_of_the_semantics() {
    let b = Bars::synthetic(300, 2);
    let sig = sma_cross(&b, &Params::new().with("fast", 5).with("slow", 15)).unwrap();
    let r = run(
        &b,
        &sig,
        BacktestSettings::new(10_000.0).with_commission(0.002),
    );
    let s = Stats::compute(&b, &r.equity, &r.trades, sig.warmup()).unwrap();
    let text = Report::new(&s, &r.trades, &r.open_trades).to_json();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = json["stats"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Every statistic of the semantics' table, once, in the order of `Statistic::ALL`.
    let mut expected: Vec<&str> = Statistic::ALL.iter().map(|s| s.name()).collect();
    let at: Vec<usize> = expected
        .iter()
        .map(|k| text.find(&format!(r#""{k}":"#)).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(json["stats"]["start"], "2000-01-03T00:00:00Z");
    let t = &json["trades"][0];
    for field in [
        "size",
        "entry_bar",
        "exit_bar",
        "entry_price",
        "exit_price",
        "pnl",
    ] {
        assert!(t[field].is_number(), "{field}");
    }
}

#[test]
fn buy_and_hold_starts_at_the_warmup_close() {
    let b = bars(&[1.0; 5], &[10.0, 20.0, 40.0, 50.0, 60.0]);
    let s = Stats::compute(&b, &[1.0; 5], &[], 2).unwrap();
    assert_eq!(s.buy_hold_return_pct, 50.0);
    assert!(Stats::compute(&b, &[1.0; 5], &[], 5).is_err());
}

#[test]
fn simulation_is_deterministic_on_a_long_synthetic_series() {
    let b = Bars::synthetic(50_000, 99);
    let sig = sma_cross(&b, &Params::new().with("fast", 10).with("slow", 30)).unwrap();
    let settings = BacktestSettings::new(10_000.0).with_commission(0.001);
    let a = run(&b, &sig, settings);
    assert_eq!(a, run(&b, &sig, settings));
    assert!(a.trades.len() > 100);
    // Each trade closes before or where the next one opens.
    assert!(a.trades.windows(2).all(|w| w[0].exit_bar <= w[1].entry_bar));
    assert!(a.equity.iter().all(|e| e.is_finite()));
}

#[test]
fn an_account_too_large_for_f64_is_a_typed_error_naming_the_bar() {
    // 1e308 of cash on prices near 1e307: nine units, then a close of 1.7e308 marks the
    // equity past f64::MAX.
    let b = bars(
        &[1e307, 1e307, 1e307, 1e307, 1.5e308],
        &[1e307, 1e307, 1e307, 1e307, 1.7e308],
    );
    let signals = decisions(5, &[(1, EnterLong)]);
    let err = simulate(&b, &signals, &BacktestSettings::new(1e308)).unwrap_err();
    assert!(
        matches!(
            err,
            tracectx_backtest::SimulationError::Overflow { bar: 4, .. }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the account's value overflows at bar 4 (2024-01-05T00:00:00Z): cash and prices too large"
    );
    // The same through a session: an error, never a result with undefined equity.
    let params = Params::new().with("fast", 1).with("slow", 2);
    let e = tracectx_backtest::BacktestEngine::new(BacktestSettings::new(1e308))
        .run(&b, &sma_cross, &params);
    if let Ok(r) = &e {
        assert!(r.stats.equity_final.is_finite(), "{:?}", r.stats);
    }
    // Closing at the end can overflow the cash alone.
    let close_at_end = BacktestSettings::new(1e308).with_close_at_end(true);
    let b = bars(
        &[1e307, 1e307, 1e307, 1.7e308],
        &[1e307, 1e307, 1e307, 1.0e307],
    );
    let signals = decisions(4, &[(1, EnterShort)]);
    let run = simulate(&b, &signals, &close_at_end);
    if let Ok(run) = run {
        assert!(run.equity.iter().all(|e| e.is_finite()), "{:?}", run.equity);
    }
}
