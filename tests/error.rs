//! Errors: the crate's `Error` and `Traced<E>` carry their run's ids out of the run, through
//! `JoinHandle`s, `?`, `Box<dyn Error>`, anyhow and eyre, and into log lines.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use tracectx::error::{RUN_ID_KEY, find_context};
use tracectx::prelude::*;
use tracectx::{Error, ErrorKind, Traced, enrich_error_with_trace};

mod support;

/// A context with a known short trace id, so whole messages can be compared.
fn ctx(run: &str, trace: &str) -> TraceContext {
    TraceContext::new(run)
        .unwrap()
        .with_trace_id(trace.parse().unwrap())
}

#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("no quotes for {symbol}")]
    NoQuotes { symbol: String },
    #[error("feed disconnected")]
    Disconnected(#[source] std::io::Error),
}

// === the crate's Error ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_built_in_a_traced_task_keeps_its_ids_through_the_join_handle() {
    let session = ctx("backtest_ab12cd34", "a1b2c3d4");
    let handle = tokio::spawn(
        async {
            tokio::task::yield_now().await;
            // Spawned again from inside the run: the error is built two tasks away.
            tracectx::spawn_traced(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                Err::<(), _>(Error::config("missing key \"slow\"").with("file", "cfg.toml"))
            })
            .await
            .unwrap()
        }
        .in_trace_context(session),
    );

    let err = handle.await.unwrap().unwrap_err();
    assert!(tracectx::current().is_none(), "the caller has no context");
    assert_eq!(err.run_id(), Some("backtest_ab12cd34"));
    assert_eq!(err.trace_id(), Some("a1b2c3d4"));
    assert_eq!(
        err.to_string(),
        r#"config error: missing key "slow" [run_id=backtest_ab12cd34 trace_id=a1b2c3d4 file=cfg.toml]"#
    );
}

#[test]
fn error_built_outside_any_scope_has_no_ids() {
    let err = Error::data("gap in bars").with("symbol", "ES");
    assert_eq!(err.run_id(), None);
    assert_eq!(err.trace_id(), None);
    assert!(err.context().trace_context().is_none());
    assert_eq!(err.to_string(), "data error: gap in bars [symbol=ES]");
    assert_eq!(
        Error::internal("unreachable state").to_string(),
        "internal error: unreachable state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_inside_a_later_scope_adds_that_scopes_ids() {
    let mut err = Error::validation("signal out of range").with("value", 1.5);
    let handler = ctx("live_session_7", "0badf00d");
    let handler_span = handler.span_id();
    let err = async move {
        tokio::task::yield_now().await;
        enrich_error_with_trace(&mut err);
        err
    }
    .in_trace_context(handler)
    .await;

    assert_eq!(err.run_id(), Some("live_session_7"));
    assert_eq!(err.trace_id(), Some("0badf00d"));
    assert_eq!(
        err.context().trace_context().unwrap().span_id(),
        handler_span
    );
    assert_eq!(
        err.to_string(),
        "validation error: signal out of range [run_id=live_session_7 trace_id=0badf00d value=1.5]"
    );
}

#[test]
fn enrichment_twice_neither_duplicates_nor_overwrites_keys() {
    let first = ctx("first_run", "11111111");
    let second = ctx("second_run", "22222222");
    let mut err = Error::data("session failed").with("bar", 17);

    first.sync_scope(|| {
        enrich_error_with_trace(&mut err);
        err.enrich_with_trace(); // the method form, same scope
    });
    second.sync_scope(|| {
        enrich_error_with_trace(&mut err);
        err.enrich_with_trace();
    });
    let err = second.sync_scope(|| err.enriched());

    let keys: Vec<_> = err.context().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["run_id", "trace_id", "bar"]);
    assert_eq!(err.run_id(), Some("first_run"));
    assert_eq!(err.trace_id(), Some("11111111"));
    assert_eq!(
        err.to_string(),
        "data error: session failed [run_id=first_run trace_id=11111111 bar=17]"
    );
}

#[test]
fn ids_captured_where_the_error_was_raised_win_over_the_handlers() {
    let raised = ctx("raised_here", "aaaaaaaa");
    let mut err =
        raised.sync_scope(|| Error::new(ErrorKind::Custom("execution"), "order rejected"));
    ctx("handled_here", "bbbbbbbb").sync_scope(|| enrich_error_with_trace(&mut err));
    assert_eq!(err.run_id(), Some("raised_here"));
    assert_eq!(err.trace_id(), Some("aaaaaaaa"));
    // Setting the ids by hand does not replace them either.
    err.context_mut().insert(RUN_ID_KEY, "by_hand");
    assert_eq!(err.run_id(), Some("raised_here"));
}

#[test]
fn enrichment_never_pairs_ids_of_two_runs() {
    let mut err = Error::config("missing key");
    err.context_mut().insert(RUN_ID_KEY, "by_hand");
    // Another run's scope: its trace id would be a lie next to this run id.
    ctx("other_run", "cccccccc").sync_scope(|| assert!(!err.context_mut().enrich_with_trace()));
    assert_eq!(err.run_id(), Some("by_hand"));
    assert_eq!(err.trace_id(), None);
    // The same run's scope: its trace id completes the pair.
    ctx("by_hand", "dddddddd").sync_scope(|| enrich_error_with_trace(&mut err));
    assert_eq!(err.run_id(), Some("by_hand"));
    assert_eq!(err.trace_id(), Some("dddddddd"));
}

#[test]
fn source_chains_are_kept() {
    let io = std::io::Error::new(std::io::ErrorKind::NotFound, "bars.csv");
    let err = Error::data("cannot load bars").with_source(io);
    let source = err.source().expect("a source");
    assert_eq!(source.to_string(), "bars.csv");
    assert_eq!(
        source.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
    // The cause is not repeated in the message.
    assert_eq!(err.to_string(), "data error: cannot load bars");
}

#[test]
fn question_mark_turns_an_io_error_into_an_io_kind_error() {
    fn load() -> tracectx::error::Result<Vec<u8>> {
        Ok(std::fs::read("/no/such/dir/bars.csv")?)
    }
    let err = ctx("loader", "cafebabe").sync_scope(load).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        err.to_string(),
        "i/o error: entity not found [run_id=loader trace_id=cafebabe]"
    );
    assert!(
        err.source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .is_some()
    );
}

#[test]
fn wrapping_a_traced_error_outside_the_scope_inherits_its_ids() {
    let inner = ctx("worker_3", "deadbeef").sync_scope(|| Error::network("broker timed out"));
    let outer = Error::data("session failed").with_source(inner);
    assert_eq!(outer.run_id(), Some("worker_3"));
    assert_eq!(outer.trace_id(), Some("deadbeef"));
}

#[test]
fn values_cannot_break_the_line() {
    let err = Error::data("bad row\nsecond line").with("row", "1,2\n3 ]");
    assert_eq!(
        err.to_string(),
        r#"data error: bad row\nsecond line [row="1,2\n3 ]"]"#
    );
    assert!(!err.to_string().contains('\n'));
}

// === Traced<E> ===

#[test]
fn traced_io_error_shows_the_ids_and_sources_the_original() {
    let run = ctx("backtest_io", "12345678");
    let err = run.sync_scope(|| std::io::Error::other("disk full").in_current_trace());

    assert_eq!(err.run_id(), Some("backtest_io"));
    assert_eq!(err.trace_id(), Some("12345678"));
    assert_eq!(err.context().get("run_id"), Some("backtest_io"));
    assert_eq!(err.trace_context(), Some(&run));
    assert_eq!(
        err.to_string(),
        "disk full [run_id=backtest_io trace_id=12345678]"
    );
    assert_eq!(err.inner().kind(), std::io::ErrorKind::Other);
    let original = err.source().unwrap().downcast_ref::<std::io::Error>();
    assert_eq!(original.unwrap().to_string(), "disk full");
    assert_eq!(err.into_inner().to_string(), "disk full");
}

#[test]
fn traced_thiserror_type_keeps_its_variant_and_its_chain() {
    let run = ctx("feed_run", "feedface");
    let result: Result<(), FeedError> =
        Err(FeedError::Disconnected(std::io::Error::other("reset")));
    let err = run.sync_scope(|| result.in_current_trace()).unwrap_err();

    assert!(matches!(err.inner(), FeedError::Disconnected(_)));
    assert_eq!(
        err.to_string(),
        "feed disconnected [run_id=feed_run trace_id=feedface]"
    );
    // Traced -> FeedError -> io::Error: the walk reaches the original.
    let chain: Vec<String> = std::iter::successors(Some(&err as &dyn StdError), |&e| e.source())
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        chain,
        [
            "feed disconnected [run_id=feed_run trace_id=feedface]",
            "feed disconnected",
            "reset"
        ]
    );
}

#[test]
fn traced_anyhow_error_walks_to_the_original() {
    let run = ctx("research_1", "0000abcd");
    let err = run.sync_scope(|| {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "prices.parquet");
        Traced::new_dyn(anyhow::Error::new(io).context("loading prices"))
    });

    assert_eq!(err.run_id(), Some("research_1"));
    assert_eq!(
        err.to_string(),
        "loading prices [run_id=research_1 trace_id=0000abcd]"
    );
    let mut chain = std::iter::successors(err.source(), |&e| e.source());
    assert_eq!(chain.next().unwrap().to_string(), "loading prices");
    let original = chain.next().unwrap();
    assert_eq!(
        original.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(err.inner().to_string(), "loading prices");
}

#[test]
fn traced_converts_with_question_mark_into_box_anyhow_and_eyre() {
    fn failing() -> Result<(), FeedError> {
        Err(FeedError::NoQuotes {
            symbol: "ES".into(),
        })
    }
    fn into_traced() -> Result<(), Traced<FeedError>> {
        failing()?; // From<E> for Traced<E> captures the context
        Ok(())
    }
    fn into_box() -> Result<(), Box<dyn StdError + Send + Sync>> {
        into_traced()?;
        Ok(())
    }
    fn into_anyhow() -> anyhow::Result<()> {
        into_traced()?;
        Ok(())
    }
    fn into_eyre() -> eyre::Result<()> {
        into_traced()?;
        Ok(())
    }

    let run = ctx("converted", "c0ffee00");
    let expected = "no quotes for ES [run_id=converted trace_id=c0ffee00]";

    let traced = run.sync_scope(into_traced).unwrap_err();
    assert_eq!(traced.to_string(), expected);

    let boxed = run.sync_scope(into_box).unwrap_err();
    assert_eq!(boxed.to_string(), expected);
    assert!(boxed.downcast_ref::<Traced<FeedError>>().is_some());
    assert_eq!(boxed.error_context().unwrap().run_id(), Some("converted"));

    let any = run.sync_scope(into_anyhow).unwrap_err();
    assert_eq!(any.to_string(), expected);
    assert_eq!(
        any.downcast_ref::<Traced<FeedError>>().unwrap().run_id(),
        Some("converted")
    );
    assert!(any.root_cause().downcast_ref::<FeedError>().is_some());

    let report = run.sync_scope(into_eyre).unwrap_err();
    assert_eq!(report.to_string(), expected);
    assert_eq!(report.error_context().unwrap().trace_id(), Some("c0ffee00"));
}

#[test]
fn traced_is_send_sync_static_when_its_error_is() {
    fn assert_error<E: StdError + Send + Sync + 'static>() {}
    assert_error::<Traced<std::io::Error>>();
    assert_error::<Traced<FeedError>>();
    assert_error::<Traced<Error>>();
    assert_error::<Traced<anyhow::Error>>();
    assert_error::<Traced<Box<dyn StdError + Send + Sync>>>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traced_error_from_a_task_keeps_the_tasks_ids() {
    let run = ctx("sweep_leg_4", "abad1dea");
    let handle = run.sync_scope(|| {
        tracectx::spawn_traced(async {
            tokio::task::yield_now().await;
            tokio::fs::read("/no/such/file").await.in_current_trace()
        })
    });

    let err = handle.await.unwrap().unwrap_err();
    assert!(tracectx::current().is_none());
    assert_eq!(err.run_id(), Some("sweep_leg_4"));
    assert_eq!(err.trace_context().unwrap().span_id(), run.span_id());
    assert!(
        err.to_string()
            .ends_with(" [run_id=sweep_leg_4 trace_id=abad1dea]")
    );
}

#[test]
fn traced_outside_any_scope_shows_only_the_inner_error_until_enriched() {
    let mut err = FeedError::NoQuotes {
        symbol: "NQ".into(),
    }
    .in_current_trace();
    assert_eq!(err.run_id(), None);
    assert_eq!(err.to_string(), "no quotes for NQ");

    ctx("handler", "1234abcd").sync_scope(|| {
        err.enrich_with_trace();
    });
    ctx("other", "99999999").sync_scope(|| {
        err.enrich_with_trace();
    });
    assert_eq!(
        err.to_string(),
        "no quotes for NQ [run_id=handler trace_id=1234abcd]"
    );
}

#[test]
fn traced_explicit_context_and_fields() {
    let run = ctx("explicit", "abcdef01");
    let err = std::io::Error::other("timeout")
        .in_trace(&run)
        .with("venue", "CME");
    assert_eq!(
        err.to_string(),
        "timeout [run_id=explicit trace_id=abcdef01 venue=CME]"
    );
    let result: Result<(), std::io::Error> = Err(std::io::Error::other("x"));
    assert_eq!(
        result.in_trace(&run).unwrap_err().run_id(),
        Some("explicit")
    );
}

#[test]
fn traced_crate_error_does_not_repeat_the_ids() {
    let run = ctx("once_only", "0f0f0f0f");
    let err = run
        .sync_scope(|| Error::new(ErrorKind::Custom("risk"), "limit breached").in_current_trace());
    assert_eq!(
        err.to_string(),
        "risk error: limit breached [run_id=once_only trace_id=0f0f0f0f]"
    );
}

// === finding the context from a `dyn Error` ===

#[test]
fn find_context_walks_the_chain_through_anyhow() {
    #[derive(Debug, thiserror::Error)]
    #[error("request failed")]
    struct Outer(#[source] Traced<FeedError>);

    let run = ctx("deep", "d0d0d0d0");
    let traced = run.sync_scope(|| {
        FeedError::NoQuotes {
            symbol: "CL".into(),
        }
        .in_current_trace()
    });
    let err = anyhow::Error::new(Outer(traced)).context("handling tick");

    let found = find_context(err.as_ref()).expect("found below two layers");
    assert_eq!(found.run_id(), Some("deep"));
    assert_eq!(found.trace_context(), Some(&run));
    assert_eq!(err.error_context().unwrap().trace_id(), Some("d0d0d0d0"));
}

#[test]
fn find_context_is_none_without_ids() {
    let plain = std::io::Error::other("plain");
    assert!(find_context(&plain).is_none());
    let no_ids = Error::config("no scope").with("file", "a.toml");
    assert!(find_context(&no_ids).is_none());
    let untraced = FeedError::Disconnected(std::io::Error::other("x")).in_current_trace();
    assert!(find_context(&untraced).is_none());
}

// === logging ===

/// Records the `error` field of every event, as a log layer would format it.
#[derive(Clone, Default)]
struct ErrorFields(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorFields {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Visit<'a>(&'a Mutex<Vec<String>>);
        impl tracing::field::Visit for Visit<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "error" {
                    self.0.lock().unwrap().push(format!("{value:?}"));
                }
            }
        }
        event.record(&mut Visit(&self.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_error_outside_any_scope_still_shows_its_run_id() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let run = ctx("backtest_logged", "a1b2c3d4");
    let handle = tokio::spawn(
        async { Err::<(), _>(Error::data("fill outside the bar").with("bar", 17)) }
            .in_trace_context(run),
    );
    let err = handle.await.unwrap().unwrap_err();

    let fields = ErrorFields::default();
    let subscriber = tracing_subscriber::registry().with(fields.clone());
    tracing::subscriber::with_default(subscriber, || {
        assert!(tracectx::current().is_none());
        tracing::error!(error = %err, "session failed");
    });

    assert_eq!(
        *fields.0.lock().unwrap(),
        ["data error: fill outside the bar [run_id=backtest_logged trace_id=a1b2c3d4 bar=17]"]
    );
}

/// The crate's own text format, outside any scope: the stamp is `-`, and the message still
/// names the run the error came from.
#[cfg(feature = "logging")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_error_through_the_crates_format_names_its_run() {
    let run = ctx("backtest_logged", "a1b2c3d4");
    let err = tokio::spawn(
        async { Err::<(), _>(Error::data("fill outside the bar")) }.in_trace_context(run),
    )
    .await
    .unwrap()
    .unwrap_err();

    let lines = support::Buffer::default();
    let subscriber = tracectx::logging::builder()
        .with_level(tracing::Level::INFO)
        .with_clock(tracectx::logging::FixedClock::rfc3339("2024-01-01T10:00:00.000000Z").unwrap())
        .with_writer(lines.clone())
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(error = %err, "session failed");
    });
    let out = lines.text();
    assert_eq!(
        out,
        "[2024-01-01T10:00:00.000000Z] [-] [-] ERROR error - session failed \
         error=data error: fill outside the bar [run_id=backtest_logged trace_id=a1b2c3d4]\n"
    );
}

// === an error wrapped in another run ===

#[test]
fn wrapping_in_another_run_keeps_the_run_the_error_was_raised_in() {
    let (raised, handler) = (ctx("raised_in", "aaaaaaaa"), ctx("handled_in", "bbbbbbbb"));
    let err = raised.sync_scope(|| Error::data("bar out of order"));
    // `?` into a `Result<_, Traced<Error>>`, in the handler's run.
    let traced: Traced<Error> = handler.sync_scope(|| err.into());
    assert_eq!(traced.run_id(), Some("raised_in"));
    assert_eq!(traced.trace_id(), Some("aaaaaaaa"));
    assert_eq!(traced.trace_context(), Some(&raised));
    assert_eq!(
        traced.to_string(),
        "data error: bar out of order [run_id=raised_in trace_id=aaaaaaaa]"
    );
    assert_eq!(
        find_context(&traced).and_then(|c| c.run_id()),
        Some("raised_in")
    );

    // A traced foreign error that went through anyhow, wrapped again elsewhere.
    let io = raised.sync_scope(|| std::io::Error::other("disk full").in_current_trace());
    let again = handler.sync_scope(|| Traced::new_dyn(anyhow::Error::from(io)));
    assert_eq!(again.run_id(), Some("raised_in"));
    assert_eq!(
        again.to_string(),
        "disk full [run_id=raised_in trace_id=aaaaaaaa]"
    );

    // Named explicitly, the handler's context does not replace the ids either.
    let err = raised.sync_scope(|| Error::data("bar out of order"));
    assert_eq!(err.in_trace(&handler).run_id(), Some("raised_in"));
    // Ids set by hand below are kept as they are.
    let by_hand = Error::data("bar out of order").with(RUN_ID_KEY, "by_hand");
    let traced = handler.sync_scope(|| by_hand.in_current_trace());
    assert_eq!(
        (traced.run_id(), traced.trace_id()),
        (Some("by_hand"), None)
    );
    assert_eq!(traced.trace_context(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_of_a_thousand_runs_wrapped_by_one_supervisor_keep_their_runs() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..1_000 {
        let tx = tx.clone();
        let run = TraceContext::new(&format!("worker_{i}")).unwrap();
        tokio::spawn(
            async move {
                tokio::task::yield_now().await;
                let err = std::io::Error::other("broker timed out").in_current_trace();
                tx.send((i, err)).unwrap();
            }
            .in_trace_context(run),
        );
    }
    drop(tx);
    let supervisor = TraceContext::new("supervisor").unwrap();
    let seen = async move {
        let mut seen = 0;
        while let Some((i, err)) = rx.recv().await {
            let expected = format!("worker_{i}");
            // Wrapped again, through `?` and anyhow, in the supervisor's run.
            let twice: Traced<Traced<std::io::Error>> = err.into();
            assert_eq!(twice.run_id(), Some(expected.as_str()));
            let report = Traced::new_dyn(anyhow::Error::from(twice).context("supervising"));
            assert_eq!(report.run_id(), Some(expected.as_str()));
            assert_eq!(
                find_context(&report).and_then(|c| c.run_id()),
                Some(expected.as_str())
            );
            assert!(!report.to_string().contains("supervisor"), "{report}");
            seen += 1;
        }
        seen
    }
    .in_trace_context(supervisor)
    .await;
    assert_eq!(seen, 1_000);
}

// === foreign messages in a traced error ===

#[test]
fn traced_foreign_messages_cannot_break_the_line() {
    let forged = "disk full\n[2024-01-01T10:00:00Z] [other_run] INFO \u{1b}[2Kok\u{202e}";
    let err = std::io::Error::other(forged).in_trace(&ctx("job_1", "a1b2c3d4"));
    assert_eq!(
        err.to_string(),
        r"disk full\n[2024-01-01T10:00:00Z] [other_run] INFO \u{1b}[2Kok\u{202e} [run_id=job_1 trace_id=a1b2c3d4]"
    );
    // anyhow's alternate form, the whole chain on one line, is kept.
    let chain = Traced::new_dyn(anyhow::anyhow!("root\ncause").context("loading"));
    assert_eq!(format!("{chain:#}"), r"loading: root\ncause");
    assert_eq!(chain.to_string(), "loading");
}

/// tracing-subscriber's own format writes a `%` field as it is: one error, one line.
#[test]
fn traced_error_logged_through_tracing_subscribers_format_stays_one_line() {
    let lines = support::Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(lines.clone())
        .without_time()
        .with_ansi(false)
        .finish();
    let err = std::io::Error::other("refused\nERROR [run_id=victim] forged")
        .in_trace(&ctx("job_2", "b1b2c3d4"));
    tracing::subscriber::with_default(subscriber, || tracing::error!(error = %err, "failed"));
    assert_eq!(lines.lines().len(), 1, "{}", lines.text());
    assert!(
        lines
            .text()
            .ends_with(" [run_id=job_2 trace_id=b1b2c3d4]\n")
    );
}

// === very long chains ===

/// A retry loop that keeps each attempt's error as the cause of the next builds a chain as
/// long as the number of attempts.
#[test]
fn a_chain_of_100_000_errors_is_shown_and_dropped_without_overflowing_the_stack() {
    let run = ctx("retrying", "abababab");
    let mut err = run.sync_scope(|| Error::network("broker timed out").with("attempt", 0));
    for attempt in 1..100_000 {
        err = Error::network("broker timed out")
            .with("attempt", attempt)
            .with_source(err);
    }
    assert_eq!(err.run_id(), Some("retrying"));
    assert_eq!(
        err.to_string(),
        "network error: broker timed out [run_id=retrying trace_id=abababab attempt=99999]"
    );
    let debug = format!("{err:?}");
    assert_eq!(debug.matches("broker timed out").count(), 100_000);
    assert!(
        debug.contains("\"attempt\": \"0\""),
        "{}",
        &debug[debug.len() - 300..]
    );
    let mut depth = 0;
    let mut node: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = node {
        depth += 1;
        node = e.source();
    }
    assert_eq!(depth, 100_000);
    drop(err);

    // Through `?`: each cause an I/O error that holds the one before.
    let mut err = Error::data("first");
    for _ in 0..50_000 {
        err = Error::from(std::io::Error::other(err));
    }
    assert_eq!(err.to_string(), "i/o error: other error");
    drop(err);
}

/// A foreign error whose `source()` leads back to itself.
#[derive(Debug)]
struct Cycle;

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cycle")
    }
}

impl StdError for Cycle {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self)
    }
}

#[test]
fn a_source_chain_that_loops_is_searched_a_bounded_way() {
    assert!(find_context(&Cycle).is_none());
    let run = ctx("looping", "c0c0c0c0");
    let err = Error::data("feed failed").with_source(Cycle);
    assert_eq!(err.run_id(), None);
    assert!(format!("{err:?}").contains("Cycle"));
    let traced = run.sync_scope(|| Cycle.in_current_trace());
    assert_eq!(
        traced.to_string(),
        "cycle [run_id=looping trace_id=c0c0c0c0]"
    );
    let outer = Error::data("feed failed").with_source(traced);
    assert_eq!(outer.run_id(), Some("looping"));
}

/// `?` converts an I/O error that carries another run's error (a reader that failed in that
/// run) without taking the converting run's ids in its place.
#[test]
fn question_mark_keeps_the_run_of_an_error_inside_an_io_error() {
    let (raised, handler) = (ctx("reader_run", "12121212"), ctx("caller_run", "34343434"));
    let inner = raised.sync_scope(|| Error::data("bar out of order"));
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
    // std's `source()` of an I/O error skips the error it holds; the search does not.
    assert!(io.source().is_none());
    assert_eq!(
        find_context(&io).and_then(|c| c.run_id()),
        Some("reader_run")
    );
    let chain = anyhow::Error::from(std::io::Error::other(
        Error::data("x").with(RUN_ID_KEY, "r"),
    ))
    .context("loading");
    assert_eq!(
        find_context(chain.as_ref()).and_then(|c| c.run_id()),
        Some("r")
    );
    fn convert(io: std::io::Error) -> tracectx::error::Result<()> {
        Err(io)?
    }
    let err = handler.sync_scope(|| convert(io)).unwrap_err();
    assert_eq!(
        (err.run_id(), err.trace_id()),
        (Some("reader_run"), Some("12121212"))
    );
    assert_eq!(
        err.to_string(),
        "i/o error: invalid data [run_id=reader_run trace_id=12121212]"
    );
    // Wrapped as it is, the I/O error shows the ids once.
    let io = std::io::Error::other(raised.sync_scope(|| Error::data("bar out of order")));
    assert_eq!(
        handler.sync_scope(|| io.in_current_trace()).to_string(),
        "data error: bar out of order [run_id=reader_run trace_id=12121212]"
    );
    // A plain I/O error takes the run it is converted in.
    let plain = handler.sync_scope(|| convert(std::io::Error::other("disk full")));
    assert_eq!(plain.unwrap_err().run_id(), Some("caller_run"));
}
