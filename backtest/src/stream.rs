//! Live and paper sessions: bars consumed from an async stream as they arrive.
//!
//! [`BacktestEngine::run_stream`] (any [`Stream`] of [`Bar`]s) and
//! [`BacktestEngine::run_channel`] (a tokio channel's receiver) run one session under its own
//! trace context: each bar is checked as it arrives ([`BarsBuilder::push`]; a bad bar ends
//! the session with an error naming the bar and the column), progress is logged about once a
//! second (every bar of a live feed slower than that), and when the stream ends the session
//! is evaluated on the blocking pool by the same core as [`run`](BacktestEngine::run). The
//! result is therefore the one the batch engine gives on the same bars, trade for trade and
//! bit for bit; only the run's ids and timings differ.
//!
//! Strategies here are vectorised (`Fn(&Bars, &Params)`): a decision can depend on any bar
//! up to its own, so the session evaluates once, at the end, rather than re-running the
//! strategy on every prefix (which would cost O(n²) for nothing).

use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tokio::sync::mpsc;

use super::engine::SessionSpec;
use super::{
    BacktestEngine, BacktestError, BacktestErrorKind, BacktestResult, Bar, BarsBuilder, Params,
    Strategy,
};
use tracectx::{TraceContext, TraceFutureExt};

/// How often a stream session logs its progress at most.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// A tokio receiver as a [`Stream`].
struct Receiver(mpsc::Receiver<Bar>);

impl Stream for Receiver {
    type Item = Bar;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bar>> {
        self.0.poll_recv(cx)
    }
}

impl BacktestEngine {
    /// Runs one live or paper session on the bars `stream` yields, until it ends.
    ///
    /// The session's context is chosen as in [`run_realistic`](Self::run_realistic), with
    /// the prefix `stream` outside any scope (`stream_<suffix>`). Every bar is checked when
    /// it arrives, progress is logged under the session's run about once a second, and the
    /// end of the stream starts the evaluation on the blocking pool; the result equals what
    /// [`run`](Self::run) gives on the same bars (stats, trades, open trades and equity).
    ///
    /// # Errors
    ///
    /// As [`run_realistic`](Self::run_realistic), and [`BacktestErrorKind::Data`] when a bar
    /// is refused (the error names its 0-based index and column) or the stream ends without
    /// any bar; every error carries the session's run id.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let bars = Bars::synthetic(2_000, 8);
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let engine = BacktestEngine::default();
    /// let feed = futures::stream::iter((0..bars.len()).map({
    ///     let bars = bars.clone();
    ///     move |i| bars.get(i).unwrap()
    /// }));
    /// let live = engine.run_stream(feed, sma_cross, params.clone()).await?;
    /// let batch = engine.run(&bars, &sma_cross, &params)?;
    /// assert_eq!((live.stats, live.trades, live.equity), (batch.stats, batch.trades, batch.equity));
    /// assert!(live.metadata.run_id.unwrap().starts_with("stream_"));
    /// # Ok(()) }
    /// ```
    pub fn run_stream<St, S>(
        &self,
        stream: St,
        strategy: S,
        params: Params,
    ) -> impl std::future::Future<Output = Result<BacktestResult, BacktestError>>
    + Send
    + 'static
    + use<St, S>
    where
        St: Stream<Item = Bar> + Send + 'static,
        S: Strategy + Send + Sync + 'static,
    {
        let engine = self.clone();
        async move {
            let ctx = match tracectx::current() {
                Some(caller) => caller.child(),
                None => TraceContext::generate("stream"),
            };
            engine
                .consume(stream, Arc::new(strategy), params, ctx.clone())
                .in_trace_context(ctx)
                .await
        }
    }

    /// [`run_stream`](Self::run_stream) on the bars sent to a tokio channel; the session ends
    /// when every sender is dropped.
    ///
    /// # Errors
    ///
    /// As [`run_stream`](Self::run_stream).
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = tokio::sync::mpsc::channel(64);
    /// let params = Params::new().with("fast", 5).with("slow", 10);
    /// let session = tokio::spawn(BacktestEngine::default().run_channel(rx, sma_cross, params));
    /// let bars = Bars::synthetic(500, 2);
    /// for i in 0..bars.len() {
    ///     tx.send(bars.get(i).unwrap()).await?; // as a feed delivers them
    /// }
    /// drop(tx); // the feed closes: the session evaluates and returns
    /// let result = session.await??;
    /// assert_eq!(result.metadata.bars, 500);
    /// # Ok(()) }
    /// ```
    pub fn run_channel<S>(
        &self,
        receiver: mpsc::Receiver<Bar>,
        strategy: S,
        params: Params,
    ) -> impl std::future::Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        self.run_stream(Receiver(receiver), strategy, params)
    }

    /// Collects and checks the bars as they come, then evaluates on the blocking pool.
    async fn consume<St, S>(
        self,
        stream: St,
        strategy: Arc<S>,
        params: Params,
        ctx: TraceContext,
    ) -> Result<BacktestResult, BacktestError>
    where
        St: Stream<Item = Bar> + Send + 'static,
        S: Strategy + Send + Sync + 'static,
    {
        let name = strategy.name().into_owned();
        let fail = |kind| BacktestError::new(Some(ctx.run_id().to_string()), name.clone(), kind);
        tracing::info!(strategy = %name, "stream session started");
        let mut stream = pin!(stream);
        let mut builder = BarsBuilder::new();
        let mut last_log = Instant::now();
        while let Some(bar) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            if let Err(e) = builder.push(bar) {
                tracing::error!(error = %e, "bar refused");
                return Err(fail(BacktestErrorKind::Data(e)));
            }
            if last_log.elapsed() >= LOG_EVERY {
                last_log = Instant::now();
                tracing::info!(
                    bars = builder.len(),
                    time = %bar.timestamp,
                    close = bar.close,
                    "bars received"
                );
            }
        }
        let bars = builder.finish().map_err(|e| {
            tracing::error!(error = %e, "stream ended without bars");
            fail(BacktestErrorKind::Data(e))
        })?;
        tracing::info!(bars = bars.len(), "stream ended; evaluating");
        let job = self.session_job(
            Arc::new(bars),
            strategy,
            params,
            SessionSpec::new(ctx.clone()),
        );
        tokio::task::spawn_blocking(job)
            .await
            .unwrap_or_else(|e| Err(fail(BacktestErrorKind::Aborted(e.to_string()))))
    }
}
