//! HTML pages (feature `report`) on the edges: one bar, no trades, constant prices, a heat map
//! whose every cell is undefined, and a sweep with nothing to draw.
#![cfg(feature = "report")]

use std::io;
use std::sync::Arc;

use tracectx_backtest::{
    BacktestEngine, BacktestSettings, Bars, BatchOptions, Named, ParamGrid, Params, RankBy,
    Statistic, SweepReport, sma_cross,
};

mod common;
use common::{flat, noisy};

/// A sweep of `sma-cross` over `grid` on `bars` that keeps its heat map.
async fn heat_map_sweep(bars: Bars, grid: &ParamGrid, rank_by: RankBy) -> SweepReport {
    BacktestEngine::default()
        .sweep(
            &Arc::new(bars),
            Named::new("sma-cross", sma_cross),
            grid,
            rank_by,
            BatchOptions::new().keep_heatmap(true),
        )
        .await
}

/// `fast` 2 to 4 by `slow` 5 and 6: six sessions.
fn small_grid() -> ParamGrid {
    ParamGrid::new()
        .parse_axis("fast=2:4:1")
        .and_then(|g| g.parse_axis("slow=5:6:1"))
        .unwrap()
}

fn page(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_session_page_on_one_bar_or_flat_prices_has_no_undefined_number() {
    let engine = BacktestEngine::default();
    let params = Params::new().with("fast", 2).with("slow", 3);
    for bars in [flat(1), flat(2), flat(50), Bars::synthetic(1, 7)] {
        let result = engine
            .run(&bars, &Named::new("sma-cross", sma_cross), &params)
            .unwrap();
        assert_eq!(result.stats.trades, 0);
        let html = page(|out| result.write_html(&bars, out));
        assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);
        assert!(html.contains("<svg"));
        for undefined in ["NaN", "inf\"", "Infinity"] {
            assert!(
                !html.contains(undefined),
                "{undefined} on {} bars",
                bars.len()
            );
        }
    }
}

/// The tick labels of each chart of a session page: the texts of its SVG that are numbers
/// or times (captions and axis names left out).
fn tick_labels(html: &str) -> Vec<(String, Vec<String>)> {
    html.split("<figure class=\"chart ")
        .skip(1)
        .map(|figure| {
            let class = figure.split('"').next().unwrap().to_owned();
            let svg = &figure[..figure.find("</figure>").unwrap()];
            let labels = svg
                .split("<text")
                .skip(1)
                .map(|t| {
                    let t = &t[t.find('>').unwrap() + 1..];
                    t[..t.find("</text>").unwrap()].trim().to_owned()
                })
                .filter(|t| t.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
                .collect();
            (class, labels)
        })
        .collect()
}

/// A session with nothing to draw across (one bar, no trade: a flat equity and no
/// drawdown) or shorter than a few days (intraday bars) gets axes whose labels say
/// something: no two ticks of an axis share a label (they read `10000.0` four times and the
/// same day eight times), and no `-0.0`.
#[test]
fn axis_labels_of_flat_and_intraday_sessions_are_distinct() {
    let engine = BacktestEngine::default();
    let hourly: String = std::iter::once("date,open,high,low,close\n".to_owned())
        .chain((0..40).map(|h| {
            let p = 100.0 + f64::from(h % 7) - f64::from(h % 3);
            format!(
                "2024-01-02T{:02}:{:02}:00Z,{p},{},{},{p}\n",
                h / 4,
                (h % 4) * 15,
                p + 1.0,
                p - 1.0
            )
        }))
        .collect();
    let hourly = Bars::from_csv_reader(hourly.as_bytes()).unwrap();
    for (bars, fast, slow) in [
        (flat(1), 2, 3),
        (flat(2), 2, 3),
        (Bars::synthetic(300, 7), 400, 500),
        (hourly, 2, 5),
    ] {
        let params = Params::new().with("fast", fast).with("slow", slow);
        let result = engine
            .run(&bars, &Named::new("sma-cross", sma_cross), &params)
            .unwrap();
        let html = page(|out| result.write_html(&bars, out));
        for (chart, labels) in tick_labels(&html) {
            assert!(
                labels.len() >= 4,
                "{chart} on {} bars: {labels:?}",
                bars.len()
            );
            let mut distinct = labels.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(
                distinct.len(),
                labels.len(),
                "{chart} on {} bars: {labels:?}",
                bars.len()
            );
            assert!(
                !labels.iter().any(
                    |l| l.starts_with("-0") && l.trim_start_matches(['-', '0', '.']).is_empty()
                ),
                "{chart}: {labels:?}"
            );
        }
    }
}

/// On one bar no session has a Sharpe ratio: every cell is grey, and the page still says
/// so rather than drawing a scale from infinity to minus infinity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heat_map_of_undefined_statistics_is_all_grey() {
    let grid = small_grid();
    let report = heat_map_sweep(flat(1), &grid, RankBy::new(Statistic::Sharpe)).await;
    assert_eq!(report.succeeded, 6);
    let heatmap = report.heatmap.as_ref().unwrap();
    assert!(heatmap.cells.iter().all(Option::is_none));
    let html = page(|out| report.write_html(out));
    assert!(html.contains("Grey: no value"));
    for undefined in ["NaN", "inf", "Infinity"] {
        assert!(!html.contains(undefined), "{undefined}");
    }
}

/// The texts of the heat map's scale: those drawn right of the map, in its last 130 pixels.
fn scale_labels(html: &str) -> Vec<String> {
    html.split("<text")
        .skip(1)
        .filter_map(|t| {
            let x = t
                .split("x=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse::<f64>()
                .ok()?;
            let text = &t[t.find('>')? + 1..];
            let text = text[..text.find("</text>")?].trim();
            (x >= 970.0 && !text.is_empty()).then(|| text.to_owned())
        })
        .collect()
}

/// The scale names values the map holds: none when no cell has one (it read `0.000` six
/// times), one when every cell has the same, and numbers of any size in a few characters
/// (a final equity near 1e300 gave labels of 300 digits).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heat_map_scale_names_only_values_it_holds() {
    let grid = small_grid();
    let report = heat_map_sweep(flat(1), &grid, RankBy::new(Statistic::Sharpe)).await;
    let html = page(|out| report.write_html(out));
    let labels = scale_labels(&html);
    assert!(!labels.iter().any(|l| l == "0.000"), "{labels:?}");
    let report = heat_map_sweep(flat(30), &grid, RankBy::new(Statistic::ReturnPct)).await;
    let html = page(|out| report.write_html(out));
    let labels = scale_labels(&html);
    let numbers: Vec<&String> = labels.iter().filter(|l| l.parse::<f64>().is_ok()).collect();
    assert_eq!(numbers.len(), 1, "{labels:?}");
    let engine = BacktestEngine::new(BacktestSettings::new(1e300));
    let report = engine
        .sweep(
            &Arc::new(Bars::synthetic(300, 5)),
            Named::new("sma-cross", sma_cross),
            &grid,
            RankBy::new(Statistic::EquityFinal),
            BatchOptions::new().keep_heatmap(true),
        )
        .await;
    let html = page(|out| report.write_html(out));
    let labels = scale_labels(&html);
    assert!(labels.len() >= 2, "{labels:?}");
    assert!(labels.iter().all(|l| l.len() <= 12), "{labels:?}");
}

/// A grid without axes has no heat map even when one is asked for: the error says every
/// reason a sweep can lack one, not only the option.
#[tokio::test(flavor = "current_thread")]
async fn a_sweep_without_axes_says_why_it_has_no_page() {
    let grid = ParamGrid::new()
        .parse_axis("fast=2")
        .unwrap()
        .fixed("slow", 5);
    let report = heat_map_sweep(Bars::synthetic(50, 1), &grid, RankBy::default()).await;
    assert_eq!(report.succeeded, 1);
    let err = report.write_html(&mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "the sweep kept no heat map: BatchOptions::keep_heatmap was off, or the grid had no \
         axis to draw or was refused"
    );
}

/// A text value or a name of the grid reaches the heat map's labels on one line, with what
/// could disguise it escaped (a right-to-left override, a line end) and cut to 24
/// characters: a value of 10,000 characters does not become a label of 10,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heat_map_labels_escape_and_cut_outside_text() {
    let long = format!("b{}", "z".repeat(10_000));
    let grid = ParamGrid::new()
        .axis("mo\u{202e}de", ["a\u{202e}\nx".to_owned(), long])
        .parse_axis("fast=2,3")
        .unwrap()
        .fixed("slow", 5);
    let report = heat_map_sweep(Bars::synthetic(60, 3), &grid, RankBy::default()).await;
    assert_eq!(report.succeeded, 4);
    let html = page(|out| report.write_html(out));
    if let Some(at) = html.find('\u{202e}') {
        let from = html[..at]
            .char_indices()
            .rev()
            .nth(80)
            .map_or(0, |(i, _)| i);
        panic!("a raw override reached the page: {:?}", &html[from..at + 3]);
    }
    assert!(
        html.contains("a\\u{202e}\\nx"),
        "the value is shown escaped"
    );
    assert!(html.contains("mo\\u{202e}de"), "the name is shown escaped");
    // The chart's labels are cut; the table below it keeps the parameters whole.
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    assert!(svg.contains(&format!("b{}…", "z".repeat(23))));
    assert!(!svg.contains(&"z".repeat(100)));
    assert!(html.contains(&"z".repeat(10_000)));
}

/// A sweep of one session (a constraint left one of the grid's two) says "1 session".
#[tokio::test(flavor = "current_thread")]
async fn a_sweep_of_one_session_says_so_in_the_singular() {
    let grid = ParamGrid::new()
        .parse_axis("fast=2,9")
        .unwrap()
        .fixed("slow", 5)
        .parse_constraint("fast<slow")
        .unwrap();
    let report = heat_map_sweep(Bars::synthetic(60, 3), &grid, RankBy::default()).await;
    assert_eq!(report.sessions, 1);
    let html = page(|out| report.write_html(out));
    assert!(html.contains(">1 session (1 ok, 0 failed)"), "{html:.600}");
}

/// Float values whose decimal form is longer than a label are drawn in scientific notation,
/// whole: `1e-300` and `2e-300` do not share a label of zeros.
#[tokio::test(flavor = "current_thread")]
async fn tiny_float_values_keep_labels_of_their_own() {
    let grid = ParamGrid::new()
        .parse_axis("fast=2,3")
        .unwrap()
        .parse_axis("k=1e-300,2e-300")
        .unwrap()
        .fixed("slow", 5);
    let report = heat_map_sweep(Bars::synthetic(60, 3), &grid, RankBy::default()).await;
    let html = page(|out| report.write_html(out));
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    assert!(svg.contains("\n1e-300\n") && svg.contains("\n2e-300\n"));
    assert!(!svg.contains("0.000000000000000000000"));
}

/// A duration's scale reads as durations (its caption's label has no unit): days here, not
/// the seconds the statistic holds (`3456000` read as a count of something).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heat_map_of_durations_labels_its_scale_in_days() {
    let grid = ParamGrid::new()
        .parse_axis("fast=5:15:5")
        .unwrap()
        .parse_axis("slow=20:40:10")
        .unwrap();
    let report = heat_map_sweep(
        Bars::synthetic(2_000, 3),
        &grid,
        RankBy::new(Statistic::MaxDrawdownDurationSecs),
    )
    .await;
    assert_eq!(report.succeeded, 9);
    let html = page(|out| report.write_html(out));
    let labels = scale_labels(&html);
    assert!(labels.len() >= 2, "{labels:?}");
    for label in &labels {
        let days = label
            .strip_suffix(" days")
            .unwrap_or_else(|| panic!("{labels:?}"));
        assert!(days.parse::<f64>().is_ok_and(|d| d > 1.0), "{labels:?}");
    }
}

/// The characters of `html` that could disguise what it shows, each with the text before it:
/// control characters (but the page's own line ends), bidirectional controls, line and
/// paragraph separators, and character references to control characters (a browser reads
/// `&#150;` as `–`).
fn disguised(html: &str) -> Vec<String> {
    let before = |i: usize| {
        let from = html[..i].char_indices().rev().nth(40).map_or(0, |(k, _)| k);
        &html[from..i]
    };
    let mut found: Vec<String> = html
        .char_indices()
        .filter(|&(_, c)| c != '\n' && tracectx::escape::is_escaped(c))
        .map(|(i, c)| format!("{c:?} after {:?}", before(i)))
        .collect();
    for (i, _) in html.match_indices("&#") {
        let digits: String = html[i + 2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(code) = digits.parse::<u32>() {
            if char::from_u32(code).is_none_or(tracectx::escape::is_escaped) {
                found.push(format!("&#{digits}; after {:?}", before(i)));
            }
        }
    }
    found
}

/// Outside text that reaches a page (a strategy's name, a parameter's name and value, the
/// name of an axis the heat map takes the best over) closes no tag, opens no script, and
/// puts no control or bidirectional character on the page: each is shown as an escape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_text_reaches_a_page_inert_and_visible() {
    let evil = "e</title><script>alert(1)</script><svg onload=x>\u{202e}x\u{1b}[31m\u{85}\u{96}\u{2028}\u{0}\"'&";
    let bars = Bars::synthetic(300, 3);
    let params = Params::new()
        .with("fast", 5)
        .with("slow", 20)
        .with(evil, evil);
    let result = BacktestEngine::default()
        .run(&bars, &Named::new(evil, sma_cross), &params)
        .unwrap();
    let session = page(|out| result.write_html(&bars, out));
    let grid = ParamGrid::new()
        .axis(evil, [2, 3])
        .axis(format!("{evil}2"), [evil, "b"])
        .axis(format!("{evil}3"), [evil, "c"])
        .fixed("fast", 5)
        .fixed("slow", 20);
    let report = BacktestEngine::default()
        .sweep(
            &Arc::new(bars),
            Named::new(evil, sma_cross),
            &grid,
            RankBy::default(),
            BatchOptions::new().keep_heatmap(true),
        )
        .await;
    assert_eq!(report.succeeded, 8);
    let sweep = page(|out| report.write_html(out));
    for html in [&session, &sweep] {
        assert!(!html.contains("<script") && !html.contains("<svg onload"));
        assert_eq!(html.matches("</title>").count(), 1);
        assert!(html.contains("e&lt;/title&gt;&lt;script&gt;"));
        assert_eq!(disguised(html), Vec::<String>::new());
        // What was escaped is shown, not dropped.
        assert!(html.contains("\\u{202e}x\\u{1b}[31m\\u{85}\\u{96}\\u{2028}\\u{0}"));
    }
    // The session page names the strategy; the heat map's note names the axis not drawn.
    assert!(session.contains("strategy e&lt;/title&gt;"));
    let note = &sweep[sweep.find("Each cell").unwrap()..];
    assert!(
        note.contains("\\u{0}&quot;&#39;&amp;3 (2 values)"),
        "{note:.400}"
    );
}

/// A session's page is drawn on its own bars only: bars of the same length but other prices
/// would put its trades on a market it never saw.
#[test]
fn a_session_page_refuses_bars_that_are_not_the_sessions() {
    let bars = Bars::synthetic(300, 3);
    let params = Params::new().with("fast", 5).with("slow", 20);
    let result = BacktestEngine::default()
        .run(&bars, &Named::new("sma-cross", sma_cross), &params)
        .unwrap();
    assert!(result.stats.trades > 0);
    let other = Bars::synthetic(300, 4);
    let err = result.write_html(&other, &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        format!(
            "the report needs the session's bars: the bars given are data {}, the session ran on data {}",
            other.fingerprint(),
            bars.fingerprint()
        )
    );
    // The session's own bars, or an equal copy of them, are drawn.
    let copy = Bars::from_csv_reader(
        &{
            let mut csv = Vec::new();
            bars.write_csv(&mut csv).unwrap();
            csv
        }[..],
    )
    .unwrap();
    assert!(page(|out| result.write_html(&copy, out)).contains("<svg"));
}

/// A session of tens of thousands of trades on noisy bars draws a few thousand markers at
/// most (it drew one on every 2 by 2 pixels the trades touched: a 1,000,000-bar session of
/// 500,000 trades made a page of 8.9 MB), and its page stays small.
#[test]
fn a_session_of_many_trades_makes_a_small_page() {
    let bars = noisy(100_000);
    let params = Params::new().with("fast", 1).with("slow", 2);
    let result = BacktestEngine::default()
        .run(&bars, &Named::new("sma-cross", sma_cross), &params)
        .unwrap();
    assert!(result.stats.trades > 20_000, "{}", result.stats.trades);
    let html = page(|out| result.write_html(&bars, out));
    let price = &html[html.find("<figure class=\"chart price\"").unwrap()..];
    let price = &price[..price.find("</figure>").unwrap()];
    let markers = price.matches("<circle").count()
        + price.matches("<polygon").count()
        + price.matches("<line").count() / 2;
    assert!(markers > 100 && markers <= 5_000, "{markers} markers");
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
}

/// Times are labelled by their parts whatever the year: a session on the last second bars
/// accept (9999-12-31T23:59:59) has an axis padded into the year 10000, whose labels read
/// `10000-01-01 00:1` (the minutes cut short).
#[test]
fn time_labels_at_the_ends_of_the_calendar_are_whole() {
    let engine = BacktestEngine::default();
    let params = Params::new().with("fast", 2).with("slow", 3);
    for csv in [
        "date,open,high,low,close\n9999-12-31T23:59:59Z,1,1,1,1\n",
        "date,open,high,low,close\n0001-01-01T00:00:00Z,1,1,1,1\n",
        "date,open,high,low,close\n9999-12-30T00:00:00Z,1,1,1,1\n9999-12-31T23:59:59Z,2,2,2,2\n",
    ] {
        let bars = Bars::from_csv_reader(csv.as_bytes()).unwrap();
        let result = engine
            .run(&bars, &Named::new("sma-cross", sma_cross), &params)
            .unwrap();
        let html = page(|out| result.write_html(&bars, out));
        for (chart, labels) in tick_labels(&html) {
            let times: Vec<&String> = labels.iter().filter(|l| l.contains(' ')).collect();
            assert!(times.len() >= 3, "{chart}: {labels:?}");
            for label in times {
                let (date, time) = label.split_once(' ').unwrap();
                let parts: Vec<&str> = date.split('-').collect();
                assert!(
                    parts.len() == 3
                        && parts[0].len() >= 4
                        && parts[1].len() == 2
                        && parts[2].len() == 2
                        && time.len() == 5
                        && time.as_bytes()[2] == b':',
                    "{chart}: {label:?} in {labels:?}"
                );
            }
        }
    }
}

/// The scale's labels name the values at their places closely: each is within a tenth of a
/// scale step (a tenth of the way from the worst value to the best) of one of the values
/// the scale's steps stand for. Rounded to the steps' decade, they read `-0.6, -0.4, -0.3,
/// -0.1, 0.0, 0.1` for -0.55, -0.41, -0.26, -0.12, 0.03, 0.17.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heat_map_scale_labels_are_close_to_their_values() {
    let grid = ParamGrid::new()
        .parse_axis("fast=5:30:5")
        .unwrap()
        .parse_axis("slow=20:80:20")
        .unwrap();
    for (seed, rank_by) in [
        (42, Statistic::Sharpe),
        (7, Statistic::Sharpe),
        (42, Statistic::ReturnPct),
        (3, Statistic::MaxDrawdownPct),
    ] {
        let report =
            heat_map_sweep(Bars::synthetic(3_000, seed), &grid, RankBy::new(rank_by)).await;
        let cells: Vec<f64> = report
            .heatmap
            .as_ref()
            .unwrap()
            .cells
            .iter()
            .flatten()
            .copied()
            .collect();
        let lo = cells.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = cells.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(hi > lo);
        let step = (hi - lo) / 10.0;
        let html = page(|out| report.write_html(out));
        let labels = scale_labels(&html);
        assert!(labels.len() >= 4, "{labels:?}");
        for label in &labels {
            let value: f64 = label.parse().unwrap();
            let off = (0..=10)
                .map(|k| (value - (lo + step * f64::from(k))).abs())
                .fold(f64::INFINITY, f64::min);
            assert!(
                off <= step / 10.0,
                "{rank_by}: {label} is {off} off its value, steps of {step}: {labels:?}"
            );
        }
    }
}

/// A duration is named as the caption and the table name it, with no `_secs`, in every
/// sentence of the page: the line that says what the sweep is ranked by and the note on
/// the axes the cells take the best over (they read `max_drawdown_duration_secs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heat_map_of_durations_never_names_seconds() {
    let grid = ParamGrid::new()
        .parse_axis("fast=5:15:5")
        .unwrap()
        .parse_axis("slow=20:40:10")
        .unwrap()
        .parse_axis("long_only=true,false")
        .unwrap();
    let report = heat_map_sweep(
        Bars::synthetic(1_000, 3),
        &grid,
        RankBy::new(Statistic::MaxDrawdownDurationSecs).ascending(),
    )
    .await;
    let html = page(|out| report.write_html(out));
    assert!(!html.contains("_secs"), "{html:.2000}");
    assert!(html.contains("ranked by max_drawdown_duration (lowest first)</p>"));
    assert!(html.contains("Each cell is the best max_drawdown_duration over long_only"));
}

/// An axis that reaches 1e12 writes every label in scientific notation: it read
/// `800000000000` under `1.0000e12`, two notations on one scale.
#[test]
fn a_price_axis_reaching_a_trillion_speaks_one_notation() {
    let csv: String = std::iter::once("date,open,high,low,close\n".to_owned())
        .chain((0..60).map(|i| {
            let p = 1e12 * (1.0 + 0.2 * (f64::from(i) / 5.0).sin());
            format!("2024-01-{:02},{p},{p},{p},{p}\n", 1 + i % 28)
                .replace("2024-01-", &format!("2024-{:02}-", 1 + i / 28))
        }))
        .collect();
    let bars = Bars::from_csv_reader(csv.as_bytes()).unwrap();
    let result = BacktestEngine::default()
        .run(
            &bars,
            &Named::new("sma-cross", sma_cross),
            &Params::new().with("fast", 2).with("slow", 5),
        )
        .unwrap();
    let html = page(|out| result.write_html(&bars, out));
    let (_, labels) = tick_labels(&html)
        .into_iter()
        .find(|(chart, _)| chart == "price")
        .unwrap();
    let values: Vec<&String> = labels.iter().filter(|l| !l.contains('-')).collect();
    assert!(values.len() >= 3, "{labels:?}");
    assert!(values.iter().all(|l| l.contains('e')), "{labels:?}");
}
