//! HTML reports (feature `report`): one self-contained page per session or sweep, its charts
//! inline SVG drawn with plotters' SVG backend, no script, nothing fetched.
//!
//! A session's page ([`BacktestResult::write_html`]) shows the equity curve, the drawdown,
//! the closing prices with each trade's entry and exit, and the statistics table; a sweep's
//! ([`SweepReport::write_html`]) shows the ranked statistic over the grid's first two axes and
//! the ranked table. Curves are thinned for display, never for the figures: past
//! [`MAX_POINTS`] points, each pixel column keeps its first, lowest, highest and last value,
//! so the drawn envelope is the curve's; trade markers that would land on the same few pixels
//! are drawn once, and a few thousand at most (in coarser cells past that). A million-bar
//! session makes a page of a few hundred kilobytes, whatever its number of trades.

use std::collections::HashSet;
use std::io::{self, Write};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{BacktestResult, Bars, Heatmap, ParamValue, Statistic, SweepReport, Timestamp};

/// The most points a curve is drawn with; longer curves are thinned to about this many
/// (for display only: the statistics are of every bar).
///
/// # Examples
///
/// ```
/// // A curve of a million bars is drawn with a few thousand points.
/// assert!(tracectx_backtest::report::MAX_POINTS < 1_000_000 / 100);
/// ```
pub const MAX_POINTS: usize = 4_000;

/// The charts' width in pixels.
const WIDTH: u32 = 1_100;

/// The most cells a heat map is drawn with on each axis; more are merged into blocks (each
/// the best of its cells).
const MAX_CELLS: usize = 120;

const MICROS_PER_DAY: f64 = 86_400_000_000.0;

fn chart_error<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(format!("cannot draw the chart: {e}"))
}

/// Text made safe for HTML: what could disguise it (a control character, a bidirectional
/// override, a line separator) shown as an escape ([`tracectx::escape::text`]), as every
/// other output of the crate shows it, then the markup characters as references. A control
/// character is never written as a character reference: the page would still hold it, and a
/// browser reads `&#150;` as `–` (the C1 controls are taken for Windows-1252).
fn escape(text: &str) -> String {
    let shown = tracectx::escape::text(text).to_string();
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The shortest time axis drawn, in days: an hour (one bar alone is drawn in the middle of
/// it).
const LEAST_DAYS: f64 = 1.0 / 24.0;

/// A time from days since the Unix epoch, for the labels of an axis `span` days long: the
/// day over a week or more, else the day and the time of day (an intraday session's ticks
/// all fell on one or two days).
fn date_label(days: f64, span: f64) -> String {
    let micros = (days * MICROS_PER_DAY).round() as i64;
    let text = Timestamp::from_micros(micros).to_string();
    // Cut at the parts, not at fixed places: a padded axis past 9999-12-31 reaches the year
    // 10000, whose label was cut to `10000-01-01 00:1`.
    let (date, time) = text.split_once('T').unwrap_or((text.as_str(), ""));
    if span >= 8.0 {
        date.to_owned()
    } else {
        format!("{date} {}", time.get(..5).unwrap_or(time))
    }
}

/// A value for the labels of an axis `span` long (six ticks or so) whose values reach `top`
/// in magnitude: as many decimals as tell its ticks apart, scientific notation when the axis
/// reaches the very large (every label of it, not only its largest: `800000000000` under
/// `1.0000e12` read as two scales), and never `-0`.
fn number_label(v: f64, span: f64, top: f64) -> String {
    if top >= 1e12 {
        return format!("{v:.4e}");
    }
    let step = span / 6.0;
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 12.0) as usize
    } else {
        2
    };
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_owned(),
        _ => text,
    }
}

/// Seconds `v` as a scale's label, in the largest unit (days, hours, minutes, seconds) the
/// scale's values reach (`top` in magnitude, `span` long), the same for every label of the
/// scale, with the decimals its steps need: `12.5 days`.
fn duration_label(v: f64, span: f64, top: f64) -> String {
    let (unit, name) = [(86_400.0, "days"), (3_600.0, "h"), (60.0, "min")]
        .into_iter()
        .find(|&(unit, _)| top.max(span) >= unit)
        .unwrap_or((1.0, "s"));
    format!("{} {name}", number_label(v / unit, span / unit, top / unit))
}

/// `(x, y)` points of a curve, at most about [`MAX_POINTS`]: beyond, each of `MAX_POINTS / 4`
/// buckets of consecutive points keeps its first, lowest, highest and last, in order. The
/// points are read once, as they come: a curve made on the way (the drawdown) is never held
/// whole.
pub(crate) fn thin(points: impl ExactSizeIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let n = points.len();
    if n <= MAX_POINTS {
        return points.collect();
    }
    let buckets = MAX_POINTS / 4;
    let mut out = Vec::with_capacity(MAX_POINTS);
    let mut points = points.enumerate();
    for b in 0..buckets {
        let end = (b + 1) * n / buckets;
        let Some(first) = points.next() else { break };
        let (mut lo, mut hi, mut last) = (first, first, first);
        while last.0 + 1 < end {
            let Some(point) = points.next() else { break };
            if point.1.1 < lo.1.1 {
                lo = point;
            }
            if point.1.1 > hi.1.1 {
                hi = point;
            }
            last = point;
        }
        let mut keep = [first, lo, hi, last];
        keep.sort_unstable_by_key(|k| k.0);
        let mut previous = usize::MAX;
        for (i, point) in keep {
            if i != previous {
                out.push(point);
                previous = i;
            }
        }
    }
    out
}

/// A time in days since the Unix epoch, as the time axis counts it.
fn day(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_DAY
}

/// The range of `values` (finite ones), widened by 4% on each side and to at least
/// `least(middle)` (all values equal, say, as a session's equity without a trade): an axis
/// never has ticks that all read the same. `(0, 1)` when no value is finite.
fn range(values: impl Iterator<Item = f64>, least: fn(f64) -> f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = (hi - lo) * 0.04;
    let (lo, hi) = (lo - pad, hi + pad);
    let middle = lo / 2.0 + hi / 2.0;
    let least = least(middle);
    if hi - lo >= least {
        (lo, hi)
    } else {
        (middle - least / 2.0, middle + least / 2.0)
    }
}

/// The least range of a time axis: [`LEAST_DAYS`].
fn least_days(_: f64) -> f64 {
    LEAST_DAYS
}

/// The least range of a value axis: 2% of its middle, or 1 around 0.
fn least_values(middle: f64) -> f64 {
    if middle == 0.0 {
        1.0
    } else {
        (middle.abs() * 0.02).min(f64::MAX / 4.0)
    }
}

/// One chart of a line over dates, as an SVG string.
fn line_chart(
    caption: &str,
    y_desc: &str,
    points: &[(f64, f64)],
    color: RGBColor,
    fill_to_zero: bool,
    markers: &[(f64, f64, Marker)],
) -> io::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (x0, x1) = range(points.iter().map(|p| p.0), least_days);
        let (mut y0, mut y1) = range(
            points
                .iter()
                .map(|p| p.1)
                .chain(markers.iter().map(|m| m.1)),
            least_values,
        );
        if fill_to_zero {
            y1 = y1.max(0.0);
            y0 = y0.min(0.0);
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|x| date_label(*x, x1 - x0))
            .y_label_formatter(&|y| number_label(*y, y1 - y0, y0.abs().max(y1.abs())))
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(chart_error)?;
        if fill_to_zero {
            chart
                .draw_series(AreaSeries::new(
                    points.iter().copied(),
                    0.0,
                    color.mix(0.25),
                ))
                .map_err(chart_error)?;
        }
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color))
            .map_err(chart_error)?;
        let style = |m: Marker| match m {
            Marker::Long => (RGBColor(0, 150, 60), 0),
            Marker::Short => (RGBColor(200, 30, 30), 1),
            Marker::Exit => (RGBColor(60, 60, 60), 2),
        };
        chart
            .draw_series(markers.iter().map(|&(x, y, m)| {
                let (c, shape) = style(m);
                match shape {
                    0 => TriangleMarker::new((x, y), 5, c.filled()).into_dyn(),
                    1 => Circle::new((x, y), 3, c.filled()).into_dyn(),
                    _ => Cross::new((x, y), 3, c).into_dyn(),
                }
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// What a trade marker marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Marker {
    /// A long entry.
    Long,
    /// A short entry.
    Short,
    /// An exit.
    Exit,
}

/// The most trade markers a price chart draws: a session of hundreds of thousands of trades
/// (a million noisy bars) would otherwise put a marker on every few pixels and make a page of
/// megabytes that shows no more than this.
const MAX_MARKERS: usize = 5_000;

/// The trades' entries and exits on the price chart, at most one marker of a kind per cell
/// of 2 by 2 pixels (the chart's plot is about `WIDTH` by 250), or of 4 by 4, 8 by 8 ... when
/// that would draw more than [`MAX_MARKERS`]: every cell that holds an entry or exit keeps
/// one, so where the trades are stays true. Returns the markers and the cell's side in
/// pixels.
fn trade_markers(result: &BacktestResult, bars: &Bars) -> (Vec<(f64, f64, Marker)>, u32) {
    let mut side = 2;
    loop {
        if let Some(markers) = markers_in_cells(result, bars, side) {
            return (markers, side);
        }
        side *= 2;
    }
}

/// The markers of [`trade_markers`] in cells of `side` pixels; `None` when they are more
/// than [`MAX_MARKERS`] (never once a cell is the whole chart).
fn markers_in_cells(
    result: &BacktestResult,
    bars: &Bars,
    side: u32,
) -> Option<Vec<(f64, f64, Marker)>> {
    let (close, times) = (bars.close(), bars.timestamps());
    let (x0, x1) = range(times.iter().map(|&t| day(t)), least_days);
    let (y0, y1) = range(close.iter().copied(), least_values);
    let (columns, rows) = (f64::from(WIDTH / side), f64::from(250 / side));
    let cell = |x: f64, y: f64, m: Marker| {
        (
            ((x - x0) / (x1 - x0) * columns) as i64,
            ((y - y0) / (y1 - y0) * rows) as i64,
            m,
        )
    };
    let whole_chart = side >= WIDTH;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let entries = result
        .trades
        .iter()
        .map(|t| (t.entry_bar, t.entry_price, t.size > 0.0))
        .chain(
            result
                .open_trades
                .iter()
                .map(|t| (t.entry_bar, t.entry_price, t.size > 0.0)),
        )
        .map(|(bar, price, long)| {
            let m = if long { Marker::Long } else { Marker::Short };
            (bar, price, m)
        });
    let exits = result
        .trades
        .iter()
        .map(|t| (t.exit_bar, t.exit_price, Marker::Exit));
    for (bar, price, m) in entries.chain(exits) {
        let Some(x) = times.get(bar).map(|&t| day(t)) else {
            continue;
        };
        if seen.insert(cell(x, price, m)) {
            out.push((x, price, m));
            if out.len() > MAX_MARKERS && !whole_chart {
                return None;
            }
        }
    }
    Some(out)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1140px}\
h1{font-size:20px;margin:0 0 4px}p.meta{color:#555;margin:0 0 16px;font-size:13px}\
figure{margin:0 0 16px}figure svg{display:block;max-width:100%;height:auto}\
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #e4e4e4}\
td.v,th.v{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left;background:#f6f6f6}";

fn page_start(out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    )
}

fn figure(out: &mut dyn Write, class: &str, svg: &str) -> io::Result<()> {
    writeln!(out, "<figure class=\"chart {class}\">{svg}</figure>")
}

// === impl BacktestResult ===

impl BacktestResult {
    /// Writes the session as one self-contained HTML page: the equity curve, the drawdown,
    /// the closing prices on `bars` (the bars the session ran on) with each trade's entry
    /// (a green triangle long, a red dot short) and exit (a cross), and every statistic.
    ///
    /// The charts are inline SVG drawn with plotters; the page has no script and loads
    /// nothing. Curves longer than [`MAX_POINTS`] are thinned for display (each pixel
    /// column keeps its first, lowest, highest and last value): a million-bar session's
    /// page is a few hundred kilobytes. The statistics are the session's, never thinned.
    ///
    /// # Errors
    ///
    /// Those of writing to `out`; [`io::ErrorKind::InvalidInput`] when the result has no
    /// equity curve (a sweep's, kept without it) or `bars` are not the session's (another
    /// length, or other data: [`Bars::fingerprint`] differs from the metadata's).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// let bars = Bars::synthetic(2_000, 3);
    /// let params = Params::new().with("fast", 10).with("slow", 30);
    /// let result = BacktestEngine::default().run(&bars, &sma_cross, &params)?;
    /// let mut page = Vec::new();
    /// result.write_html(&bars, &mut page)?;
    /// let page = String::from_utf8(page)?;
    /// assert!(page.starts_with("<!DOCTYPE html>"));
    /// assert_eq!(page.matches("<svg").count(), 3);
    /// assert!(!page.contains("<script"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "report")))]
    pub fn write_html<W: Write + ?Sized>(&self, bars: &Bars, out: &mut W) -> io::Result<()> {
        let n = bars.len();
        if self.equity.len() != n || self.metadata.bars != n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the report needs the session's bars and equity curve: {} bars given, {} equity values for a session of {} bars",
                    n,
                    self.equity.len(),
                    self.metadata.bars
                ),
            ));
        }
        // Bars of the same length but other prices would be drawn under this session's
        // trades and taken for its market.
        let fingerprint = bars.fingerprint();
        if fingerprint != self.metadata.data_fingerprint {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the report needs the session's bars: the bars given are data {fingerprint}, the session ran on data {}",
                    tracectx::escape::text(&self.metadata.data_fingerprint)
                ),
            ));
        }
        // Each curve is thinned as it is made: none of them, nor the times, is held whole
        // beside the session's own (a 10,000,000-bar page took 150 MB more than the session).
        let days = || bars.timestamps().iter().map(|&t| day(t));
        let mut peak = f64::NEG_INFINITY;
        let drawdown = self.equity.iter().map(|&e| {
            peak = peak.max(e);
            if peak > 0.0 {
                (e / peak - 1.0) * 100.0
            } else {
                0.0
            }
        });
        let blue = RGBColor(31, 100, 180);
        let equity = line_chart(
            "Equity",
            "equity",
            &thin(days().zip(self.equity.iter().copied())),
            blue,
            false,
            &[],
        )?;
        let dd = line_chart(
            "Drawdown",
            "drawdown %",
            &thin(days().zip(drawdown)),
            RGBColor(200, 30, 30),
            true,
            &[],
        )?;
        let (markers, _) = trade_markers(self, bars);
        let price = line_chart(
            "Price and trades (long entry: triangle, short entry: dot, exit: cross)",
            "close",
            &thin(days().zip(bars.close().iter().copied())),
            RGBColor(90, 90, 90),
            false,
            &markers,
        )?;
        let m = &self.metadata;
        let title = format!("backtest {}", m.run_id.as_deref().unwrap_or("-"));
        let out: &mut dyn Write = &mut io::BufWriter::new(out);
        page_start(out, &title)?;
        writeln!(
            out,
            "<h1>{}</h1><p class=\"meta\">trace {} &middot; strategy {} {} &middot; {} bars \
             &middot; data {} &middot; {} closed trades, {} open</p>",
            escape(&title),
            escape(m.trace_id.map(|t| t.short()).as_deref().unwrap_or("-")),
            escape(&m.strategy),
            escape(&m.params.to_string()),
            m.bars,
            escape(&m.data_fingerprint),
            self.trades.len(),
            self.open_trades.len(),
        )?;
        figure(out, "equity", &equity)?;
        figure(out, "drawdown", &dd)?;
        figure(out, "price", &price)?;
        out.write_all(
            b"<table class=\"stats\"><tr><th>statistic</th><th class=\"v\">value</th></tr>\n",
        )?;
        for &s in Statistic::ALL {
            writeln!(
                out,
                "<tr><td>{}</td><td class=\"v\">{}</td></tr>",
                s.label(),
                escape(&self.stats.format(s))
            )?;
        }
        out.write_all(b"</table>\n</body></html>\n")?;
        out.flush()
    }
}

// === impl SweepReport ===

impl SweepReport {
    /// Writes the sweep as one self-contained HTML page: a heat map of the ranked statistic
    /// over the grid's first two axes (the best value of each cell over the other axes;
    /// [`BatchOptions::keep_heatmap`](crate::BatchOptions::keep_heatmap) must have kept it)
    /// and the ranked table of the sessions kept.
    ///
    /// Grids of more than 120 values on an axis are drawn in blocks, each the best of its
    /// cells. No script; nothing loaded.
    ///
    /// # Errors
    ///
    /// Those of writing to `out`; [`io::ErrorKind::InvalidInput`] when the sweep kept no heat
    /// map: [`BatchOptions::keep_heatmap`](crate::BatchOptions::keep_heatmap) was off, or the
    /// grid had no axis (only fixed parameters) or was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().parse_axis("fast=5:25:5")?.parse_axis("slow=30:90:20")?;
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(1_000, 1)), sma_cross, &grid, RankBy::default(), BatchOptions::new().keep_heatmap(true))
    ///     .await;
    /// let mut page = Vec::new();
    /// report.write_html(&mut page)?;
    /// let page = String::from_utf8(page)?;
    /// assert_eq!(page.matches("<svg").count(), 1);
    /// assert!(page.contains("sharpe over fast and slow"));
    /// assert!(page.contains("Grey: no value"));
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "report")))]
    pub fn write_html<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let heatmap = self.heatmap.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the sweep kept no heat map: BatchOptions::keep_heatmap was off, or the grid \
                 had no axis to draw or was refused",
            )
        })?;
        let svg = heatmap_chart(heatmap)?;
        let title = format!("sweep {}", self.sweep_id);
        let out: &mut dyn Write = &mut io::BufWriter::new(out);
        page_start(out, &title)?;
        writeln!(
            out,
            "<h1>{}</h1><p class=\"meta\">{} {} ({} ok, {} failed) in {}; ranked by {}</p>",
            escape(&title),
            self.sessions,
            if self.sessions == 1 {
                "session"
            } else {
                "sessions"
            },
            self.succeeded,
            self.sessions - self.succeeded,
            if self.wall_time_secs < 1.0 {
                format!("{:.1} ms", self.wall_time_secs * 1e3)
            } else {
                format!("{:.2} s", self.wall_time_secs)
            },
            // The statistic as the caption and the table name it (a duration without `_secs`).
            format_args!(
                "{} ({} first)",
                self.rank_by.statistic().label(),
                if self.rank_by.is_ascending() {
                    "lowest"
                } else {
                    "highest"
                }
            ),
        )?;
        figure(out, "heatmap", &svg)?;
        // What a cell is, said under the map: the best over the axes not drawn, and grey.
        let mut note = String::from(
            "Grey: no value (no session of the cell ran or succeeded, or its statistic is \
             undefined).",
        );
        if !heatmap.others.is_empty() {
            let others: Vec<String> = heatmap
                .others
                .iter()
                .map(|(name, len)| format!("{name} ({len} values)"))
                .collect();
            note = format!(
                "Each cell is the best {} over {}. {note}",
                self.rank_by.statistic().label(),
                others.join(" and ")
            );
        }
        writeln!(out, "<p class=\"meta\">{}</p>", escape(&note))?;
        let statistic = self.rank_by.statistic();
        writeln!(
            out,
            "<table class=\"ranked\"><tr><th>rank</th><th>run_id</th><th>params</th><th class=\"v\">{}</th>\
             <th class=\"v\">return_pct</th><th class=\"v\">trades</th></tr>",
            statistic.label()
        )?;
        for (i, r) in self.ranked.iter().enumerate() {
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"v\">{}</td><td class=\"v\">{}</td><td class=\"v\">{}</td></tr>",
                i + 1,
                escape(r.metadata.run_id.as_deref().unwrap_or("-")),
                escape(&r.metadata.params.to_string()),
                escape(&r.stats.format(statistic)),
                escape(&r.stats.format(Statistic::ReturnPct)),
                r.stats.trades,
            )?;
        }
        out.write_all(b"</table>\n</body></html>\n")?;
        out.flush()
    }
}

/// The most characters of a parameter's name or value a chart's label shows.
const MAX_LABEL_CHARS: usize = 24;

/// Outside text (a parameter's name or text value) as a chart shows it: on one line, with
/// what could disguise it escaped ([`tracectx::escape::text`]), its first
/// [`MAX_LABEL_CHARS`] characters then `…`.
fn label_text(text: &str) -> String {
    let shown = tracectx::escape::text(text).to_string();
    match shown.char_indices().nth(MAX_LABEL_CHARS) {
        Some((end, _)) => format!("{}…", &shown[..end]),
        None => shown,
    }
}

/// A grid value as a chart's label: text as [`label_text`] shows it; a float whose decimal
/// form is longer than a label (`1e-300`) in scientific notation, never cut, so that two
/// values never share a label.
fn value_label(v: &ParamValue) -> String {
    match v {
        ParamValue::Str(s) => label_text(s),
        ParamValue::Float(x) => {
            let shown = x.to_string();
            if shown.len() > MAX_LABEL_CHARS {
                format!("{x:e}")
            } else {
                shown
            }
        }
        other => other.to_string(),
    }
}

/// The heat map as SVG: blocks of at most [`MAX_CELLS`] per axis, coloured from the worst
/// (light) to the best (dark) value, undefined cells grey; a scale on the right.
fn heatmap_chart(h: &Heatmap) -> io::Result<String> {
    let (nx, ny) = (h.x.values.len(), h.y.values.len());
    let (bx, by) = (nx.div_ceil(MAX_CELLS).max(1), ny.div_ceil(MAX_CELLS).max(1));
    let (cx, cy) = (nx.div_ceil(bx), ny.div_ceil(by));
    let mut blocks: Vec<Option<f64>> = vec![None; cx * cy];
    for j in 0..ny {
        for i in 0..nx {
            let v = h.cells[j * nx + i];
            let b = &mut blocks[(j / by) * cx + i / bx];
            if h.rank_by.compare_values(v, *b) == std::cmp::Ordering::Less {
                *b = v;
            }
        }
    }
    let (lo, hi) = blocks
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let best_is_high = !h.rank_by.is_ascending();
    let color = |v: Option<f64>| match v {
        None => RGBColor(215, 215, 215),
        Some(v) => {
            let mut t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
            if !best_is_high {
                t = 1.0 - t;
            }
            // From pale yellow (worst) to dark blue (best).
            let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
            RGBColor(mix(255.0, 8.0), mix(247.0, 48.0), mix(188.0, 107.0))
        }
    };
    let statistic = h.rank_by.statistic().label();
    // A duration's values are seconds; its label (`max_drawdown_duration`) has no unit.
    let duration = h.rank_by.statistic().name().ends_with("_secs");
    let (x_name, y_name) = (label_text(&h.x.name), label_text(&h.y.name));
    let caption = if h.y.name.is_empty() {
        format!("{statistic} over {x_name}")
    } else {
        format!("{statistic} over {x_name} and {y_name}")
    };
    let mut svg = String::new();
    {
        let height = if h.y.name.is_empty() { 220 } else { 560 };
        let root: DrawingArea<SVGBackend<'_>, Shift> =
            SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (plot, scale) = root.split_horizontally(WIDTH - 130);
        // Cell `i` spans `i - 0.5..i + 0.5`: a label at a whole number is its cell's centre,
        // and names the cell's (or block's first) value; labels between cells stay blank.
        let label = |values: &[ParamValue], b: usize, k: f64| {
            let i = k.round();
            if (k - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            values
                .get((i as usize).saturating_mul(b))
                .map(value_label)
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(&plot)
            .caption(&caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..cx as f64 - 0.5, -0.5..cy as f64 - 0.5)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cx.min(12))
            .y_labels(cy.min(12))
            .label_style(("sans-serif", 12))
            .x_label_formatter(&|k| label(&h.x.values, bx, *k))
            .y_label_formatter(&|k| label(&h.y.values, by, *k))
            .x_desc(x_name.as_str())
            .y_desc(y_name.as_str())
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(
                (0..cy)
                    .flat_map(|j| (0..cx).map(move |i| (i, j)))
                    .map(|(i, j)| {
                        let (x, y) = (i as f64, j as f64);
                        Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            color(blocks[j * cx + i]).filled(),
                        )
                    }),
            )
            .map_err(chart_error)?;
        // The scale: ten steps from the worst to the best value.
        let mut legend = ChartBuilder::on(&scale)
            .margin(10)
            .margin_top(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, 0.0..10.0)
            .map_err(chart_error)?;
        let (lo_v, hi_v) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
        // Labels name values the map holds: none when no cell has one, the one value at the
        // foot when every cell has it.
        let scale_label = |k: f64| {
            if !lo.is_finite() || (hi_v <= lo_v && k.abs() > 1e-9) {
                return String::new();
            }
            let v = lo_v + (hi_v - lo_v) * k / 10.0;
            // The scale's values are not round (a tenth of the way from the worst to the
            // best): one decimal more than its steps need, so that no label is off by a
            // third of a step (`-0.3` for -0.26 between `-0.4` and `-0.1`).
            let (span, top) = ((hi_v - lo_v) / 10.0, lo_v.abs().max(hi_v.abs()));
            if duration {
                duration_label(v, span, top)
            } else {
                number_label(v, span, top)
            }
        };
        legend
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .label_style(("sans-serif", 12))
            .y_label_formatter(&|k| scale_label(*k))
            .draw()
            .map_err(chart_error)?;
        legend
            .draw_series((0..10).map(|k| {
                let v = lo_v + (hi_v - lo_v) * (f64::from(k) + 0.5) / 10.0;
                Rectangle::new(
                    [(0.0, f64::from(k)), (1.0, f64::from(k) + 1.0)],
                    color(lo.is_finite().then_some(v)).filled(),
                )
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_extreme_and_both_ends() {
        let n = 100_003;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64).collect();
        let t = thin(x.iter().copied().zip(y.iter().copied()));
        assert!(t.len() <= MAX_POINTS);
        assert_eq!(t.first(), Some(&(0.0, y[0])));
        assert_eq!(t.last(), Some(&((n - 1) as f64, y[n - 1])));
        let max = y.iter().copied().fold(f64::MIN, f64::max);
        let min = y.iter().copied().fold(f64::MAX, f64::min);
        assert!(t.iter().any(|p| p.1 == max) && t.iter().any(|p| p.1 == min));
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        // Short curves are drawn whole.
        assert_eq!(
            thin(x[..10].iter().copied().zip(y[..10].iter().copied())).len(),
            10
        );
    }

    /// `n` minute bars of the tests' noisy walk (no two closes alike): a one-bar-against-two-bars
    /// crossover trades on about every other bar.
    fn noisy(n: usize) -> Bars {
        let close = crate::stats::walk(n, 0.01);
        let times = (0..n as i64).map(|i| i * 60_000_000).collect();
        let column = || close.clone();
        Bars::new(times, column(), column(), column(), close.clone(), None).unwrap()
    }

    /// However many trades, the price chart draws at most `MAX_MARKERS` markers, and every
    /// entry and exit still has a marker of its kind in its cell; a session of a few trades
    /// keeps cells of 2 pixels.
    #[test]
    fn trade_markers_are_bounded_and_keep_every_cell_that_has_a_trade() {
        use crate::{BacktestEngine, Params, sma_cross};
        let bars = noisy(100_000);
        let params = Params::new().with("fast", 1).with("slow", 2);
        let result = BacktestEngine::default()
            .run(&bars, &sma_cross, &params)
            .unwrap();
        assert!(result.trades.len() > 20_000, "{}", result.trades.len());
        let days: Vec<f64> = bars
            .timestamps()
            .iter()
            .map(|&t| t as f64 / MICROS_PER_DAY)
            .collect();
        let (markers, side) = trade_markers(&result, &bars);
        assert!(markers.len() <= MAX_MARKERS, "{} markers", markers.len());
        assert!(side > 2);
        let (x0, x1) = range(days.iter().copied(), least_days);
        let (y0, y1) = range(bars.close().iter().copied(), least_values);
        let (columns, rows) = (f64::from(WIDTH / side), f64::from(250 / side));
        let cell = |x: f64, y: f64, m: Marker| {
            (
                ((x - x0) / (x1 - x0) * columns) as i64,
                ((y - y0) / (y1 - y0) * rows) as i64,
                m,
            )
        };
        let drawn: HashSet<_> = markers.iter().map(|&(x, y, m)| cell(x, y, m)).collect();
        assert_eq!(drawn.len(), markers.len(), "one marker of a kind per cell");
        for t in &result.trades {
            let m = if t.size > 0.0 {
                Marker::Long
            } else {
                Marker::Short
            };
            assert!(drawn.contains(&cell(days[t.entry_bar], t.entry_price, m)));
            assert!(drawn.contains(&cell(days[t.exit_bar], t.exit_price, Marker::Exit)));
        }
        // A session of a few trades draws each where it is, as before.
        let bars = Bars::synthetic(3_000, 42);
        let params = Params::new().with("fast", 10).with("slow", 30);
        let result = BacktestEngine::default()
            .run(&bars, &sma_cross, &params)
            .unwrap();
        let (markers, side) = trade_markers(&result, &bars);
        assert_eq!(side, 2);
        assert!(markers.len() > result.trades.len());
    }

    /// Every label of an axis is in one notation and one unit: a price axis reaching 1e12
    /// read `800000000000` under `1.0000e12`; a duration scale from 20 to 30 hours read
    /// `20.0 h` under `1.08 days`.
    #[test]
    fn an_axis_speaks_one_notation_and_one_unit() {
        let (lo, hi) = (7.5e11, 1.25e12);
        let labels: Vec<String> = (0..=5)
            .map(|k| number_label(lo + (hi - lo) * f64::from(k) / 5.0, hi - lo, hi))
            .collect();
        assert!(labels.iter().all(|l| l.contains('e')), "{labels:?}");
        let (lo, hi) = (20.0 * 3_600.0, 30.0 * 3_600.0);
        let labels: Vec<String> = (0..=5)
            .map(|k| duration_label(lo + (hi - lo) * f64::from(k) / 5.0, (hi - lo) / 10.0, hi))
            .collect();
        let units: HashSet<&str> = labels.iter().filter_map(|l| l.split(' ').nth(1)).collect();
        assert_eq!(units.len(), 1, "{labels:?}");
        // Below the very large, numbers are written out.
        assert_eq!(number_label(5e11, 1e11, 9e11), "500000000000");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        // Controls, C1 controls (which a browser would take for Windows-1252), bidirectional
        // overrides and line separators reach the page as escapes, never as characters.
        assert_eq!(
            escape("a\u{1b}[31m\u{85}\u{96}\u{202e}\u{2028}\u{feff}\nb"),
            "a\\u{1b}[31m\\u{85}\\u{96}\\u{202e}\\u{2028}\\u{feff}\\nb"
        );
        assert!(!escape("\u{0}\u{9f}").contains("&#"));
        // Text already shown escaped (a parameter list) is not escaped twice.
        assert_eq!(escape("x\\u{202e}"), "x\\u{202e}");
    }

    /// A third axis is not drawn: the page says each cell is the best over it.
    #[test]
    fn a_heat_map_names_the_axes_it_takes_the_best_over() {
        use crate::{BacktestEngine, BatchOptions, ParamGrid, RankBy, sma_cross};
        let grid = ParamGrid::new()
            .parse_axis("fast=5:10:5")
            .and_then(|g| g.parse_axis("slow=20:30:10"))
            .and_then(|g| g.parse_axis("long_only=true,false"))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let page = |grid: &ParamGrid| {
            let report = rt.block_on(BacktestEngine::default().sweep(
                &std::sync::Arc::new(Bars::synthetic(500, 3)),
                sma_cross,
                grid,
                RankBy::default(),
                BatchOptions::new().keep_heatmap(true),
            ));
            let mut page = Vec::new();
            report.write_html(&mut page).unwrap();
            String::from_utf8(page).unwrap()
        };
        let three = page(&grid);
        assert!(
            three.contains("Each cell is the best sharpe over long_only (2 values). Grey:"),
            "{three}"
        );
        let two = page(&grid.clone().fixed("long_only", false));
        assert!(!two.contains("Each cell is the best"));
        assert!(two.contains("Grey: no value"));
    }
}
