//! Live and paper sessions: bars from an async stream or a channel, checked as they arrive,
//! ending with exactly the batch engine's result on the same bars.

use std::sync::Arc;
use std::time::Duration;

use tracectx::prelude::*;
use tracectx_backtest::{
    BacktestEngine, BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings, Bar, Bars,
    DataError, DataErrorKind, Params, Timestamp, sma_cross,
};

fn params() -> Params {
    Params::new().with("fast", 10).with("slow", 20)
}

/// The error of a stream session fed `feed`, which must fail.
async fn stream_error(feed: Vec<Bar>) -> BacktestError {
    BacktestEngine::default()
        .run_stream(futures::stream::iter(feed), sma_cross, params())
        .await
        .unwrap_err()
}

/// The data error inside `err`, which must be one.
fn data_error(err: &BacktestError) -> &DataError {
    match err.kind() {
        BacktestErrorKind::Data(data) => data,
        _ => panic!("expected a data error, got {err}"),
    }
}

fn bars_of(bars: &Bars) -> Vec<Bar> {
    (0..bars.len()).map(|i| bars.get(i).unwrap()).collect()
}

/// `bars` fed to a live session through a channel, pausing every `pause_every` bars as a feed
/// does, and the batch engine's result on the same bars.
async fn live_and_batch(
    engine: &BacktestEngine,
    bars: &Bars,
    pause_every: usize,
) -> (BacktestResult, BacktestResult) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let session = tokio::spawn(engine.run_channel(rx, sma_cross, params()));
    for (i, bar) in bars_of(bars).into_iter().enumerate() {
        tx.send(bar).await.unwrap();
        if i % pause_every == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    drop(tx);
    let live = session.await.unwrap().unwrap();
    let batch = engine
        .run_realistic(&Arc::new(bars.clone()), sma_cross, params())
        .await
        .unwrap();
    (live, batch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_session_equals_the_batch_result_on_the_same_bars() {
    let engine = BacktestEngine::new(
        BacktestSettings::new(10_000.0)
            .with_commission(0.002)
            .with_close_at_end(true),
    );
    let bars = Bars::synthetic(5_000, 21);
    let (live, batch) = live_and_batch(&engine, &bars, 500).await;
    assert!(!batch.trades.is_empty());
    assert_eq!(live.stats, batch.stats);
    assert_eq!(live.trades, batch.trades);
    assert_eq!(live.open_trades, batch.open_trades);
    assert_eq!(live.equity, batch.equity);
    assert_eq!(live.metadata.data_fingerprint, bars.fingerprint());
    assert_eq!(live.metadata.bars, 5_000);
    let run = live.metadata.run_id.unwrap();
    assert!(run.starts_with("stream_"));
    assert_ne!(Some(run), batch.metadata.run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_session_equals_the_batch_result_under_the_default_model() {
    // The default model leaves the last trade open: the live session must give the same
    // open trade, the same unrealised equity and the same statistics as the batch engine.
    let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
    assert!(!engine.settings().close_at_end);
    let bars = Bars::synthetic(3_000, 22);
    let (live, batch) = live_and_batch(&engine, &bars, 700).await;
    assert!(!batch.trades.is_empty());
    assert_eq!(
        batch.open_trades.len(),
        1,
        "long-short sma-cross is always in the market"
    );
    assert_eq!(live.open_trades, batch.open_trades);
    assert_eq!(live.trades, batch.trades);
    assert_eq!(live.equity, batch.equity);
    assert_eq!(live.stats, batch.stats);
    // The open trade counts in the equity, not in the trade statistics.
    assert_eq!(live.stats.trades, live.trades.len());
    let open = &live.open_trades[0];
    let cash_after_closed = 10_000.0 + live.trades.iter().map(|t| t.pnl).sum::<f64>();
    let entry_fee = open.commission;
    let expected_final =
        cash_after_closed - entry_fee + open.size * (bars.close()[2_999] - open.entry_price);
    assert!((live.stats.equity_final - expected_final).abs() <= 1e-6 * expected_final.abs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bar_outside_the_years_1_to_9999_ends_the_session_with_a_typed_error() {
    let mut feed = bars_of(&Bars::synthetic(30, 5));
    feed.push(Bar::new(Timestamp::from_micros(i64::MAX), 1.0, 1.0, 1.0, 1.0).with_volume(1.0));
    let err = stream_error(feed).await;
    let data = data_error(&err);
    assert!(matches!(data.kind(), DataErrorKind::TimestampOutOfRange(_)));
    assert_eq!((data.row(), data.column()), (Some(30), Some("timestamp")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_session_inside_a_run_is_a_child_span_of_it() {
    let bars = Bars::synthetic(800, 3);
    let ctx = TraceContext::new("paper_es_1").unwrap();
    let feed = futures::stream::iter(bars_of(&bars));
    let result = BacktestEngine::default()
        .run_stream(feed, sma_cross, params())
        .in_trace_context(ctx.clone())
        .await
        .unwrap();
    assert_eq!(result.metadata.run_id.as_deref(), Some("paper_es_1"));
    assert_eq!(result.metadata.parent_span_id, Some(ctx.span_id()));
    let batch = BacktestEngine::default()
        .run(&bars, &sma_cross, &params())
        .unwrap();
    assert_eq!((result.stats, result.trades), (batch.stats, batch.trades));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_bar_ends_the_session_with_an_error_naming_bar_column_and_run() {
    let bars = bars_of(&Bars::synthetic(100, 4));
    let mut feed = bars[..50].to_vec();
    let back = bars[10].timestamp; // time goes backwards at bar 50
    feed.push(Bar::new(back, 100.0, 101.0, 99.0, 100.5).with_volume(1.0));
    feed.extend_from_slice(&bars[50..]);
    let err = stream_error(feed).await;
    let run = err.run_id().unwrap().to_owned();
    assert!(run.starts_with("stream_"));
    let data = data_error(&err);
    assert!(matches!(data.kind(), DataErrorKind::NotIncreasing { .. }));
    assert_eq!(data.row(), Some(50));
    assert_eq!(data.column(), Some("timestamp"));
    assert!(err.to_string().starts_with(&format!(
        "backtest {run} failed: invalid bar data at bar 50, column \"timestamp\""
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_stream_is_an_error_and_volume_must_be_on_every_bar() {
    let empty = BacktestEngine::default()
        .run_stream(
            futures::stream::iter(Vec::<Bar>::new()),
            sma_cross,
            params(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(empty.kind(), BacktestErrorKind::Data(d) if matches!(d.kind(), DataErrorKind::Empty))
    );

    let day = 86_400_000_000;
    let feed = vec![
        Bar::new(Timestamp::from_micros(0), 1.0, 1.0, 1.0, 1.0).with_volume(5.0),
        Bar::new(Timestamp::from_micros(day), 1.0, 1.0, 1.0, 1.0),
    ];
    let err = stream_error(feed).await;
    let data = data_error(&err);
    assert!(matches!(data.kind(), DataErrorKind::InconsistentVolume));
    assert_eq!((data.row(), data.column()), (Some(1), Some("volume")));
}
