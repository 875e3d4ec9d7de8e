//! Live and paper sessions: bars consumed from an async stream as they arrive.
//!
//! [`BacktestEngine::run_stream`](crate::BacktestEngine::run_stream) (any [`Stream`] of
//! [`Bar`]s) and [`BacktestEngine::run_channel`](crate::BacktestEngine::run_channel) (a tokio
//! channel's receiver) run one session under its own trace context: each bar is checked as it
//! arrives ([`BarsBuilder::push`]; a bad bar ends the session with an error naming the bar and
//! the column), progress is logged about once a second (every bar of a live feed slower than
//! that), and when the stream ends the session is evaluated on the blocking pool by the same
//! core as [`run`](crate::BacktestEngine::run). The result is therefore the one the batch
//! engine gives on the same bars, trade for trade and bit for bit; only the run's ids and
//! timings differ.
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

use crate::session::{self, SessionSpec};
use crate::{
    BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings, Bar, BarsBuilder, Params,
    Strategy,
};
use tracectx::{TraceContext, TraceFutureExt};

/// How often a stream session logs its progress at most.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// A tokio receiver as a [`Stream`].
pub(crate) struct Receiver(pub(crate) mpsc::Receiver<Bar>);

impl Stream for Receiver {
    type Item = Bar;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bar>> {
        self.0.poll_recv(cx)
    }
}

/// [`BacktestEngine::run_stream`](crate::BacktestEngine::run_stream) with `settings`: the
/// session's context chosen when the future is first polled, the bars consumed under it.
pub(crate) async fn run<St, S>(
    settings: BacktestSettings,
    stream: St,
    strategy: S,
    params: Params,
) -> Result<BacktestResult, BacktestError>
where
    St: Stream<Item = Bar> + Send + 'static,
    S: Strategy + Send + Sync + 'static,
{
    let ctx = match tracectx::current() {
        Some(caller) => caller.child(),
        None => TraceContext::generate("stream"),
    };
    consume(settings, stream, Arc::new(strategy), params, ctx.clone())
        .in_trace_context(ctx)
        .await
}

/// Collects and checks the bars as they come, then evaluates on the blocking pool.
async fn consume<St, S>(
    settings: BacktestSettings,
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
    let job = session::job(
        settings,
        Arc::new(bars),
        strategy,
        params,
        SessionSpec::new(ctx.clone()),
    );
    tokio::task::spawn_blocking(job)
        .await
        .unwrap_or_else(|e| Err(fail(BacktestErrorKind::Aborted(e.to_string()))))
}
