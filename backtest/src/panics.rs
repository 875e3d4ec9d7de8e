//! Strategy panics: each fails its session only (the session core catches it), and
//! [`quiet_strategy_panics`] keeps it off standard error, logged under the session's run.

use std::cell::Cell;
use std::panic;
use std::sync::Once;

thread_local! {
    /// Whether this thread is inside a strategy call whose panic the engine catches (only
    /// when panics unwind: under `panic = "abort"` nothing is caught, so nothing is quieted).
    static IN_STRATEGY: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside a strategy call until dropped (on return or while unwinding),
/// restoring the previous mark, so nested sessions work.
pub(crate) struct StrategyCall {
    previous: bool,
}

impl StrategyCall {
    pub(crate) fn enter() -> Self {
        let previous = IN_STRATEGY
            .try_with(|flag| flag.replace(cfg!(panic = "unwind")))
            .unwrap_or(false);
        StrategyCall { previous }
    }
}

impl Drop for StrategyCall {
    fn drop(&mut self) {
        let _ = IN_STRATEGY.try_with(|flag| flag.set(self.previous));
    }
}

/// Keeps the panics of strategies, which the engine catches and returns as the session's
/// [`BacktestErrorKind::StrategyPanicked`](crate::BacktestErrorKind::StrategyPanicked), off
/// standard error; every other panic goes to the panic hook that was in place before,
/// unchanged.
///
/// Without it, a strategy that panics in a sweep fails its session cleanly but Rust's default
/// panic hook still prints `thread '…' panicked at …` on standard error, across a progress
/// bar or a table. With it, such a panic is logged instead, as a `WARN` event "strategy
/// panicked" with its message and location, under the session's run id (so `tracectx logs
/// <run_id>` shows it next to the session's error).
///
/// This sets the process's panic hook (wrapping the current one), so it is the application's
/// call, and it belongs at the start of `main`, before any other thread runs: replacing a
/// panic hook is not atomic, and a hook set by another thread at the same moment could be
/// lost. It installs once; later calls do nothing. A hook set afterwards replaces this one
/// (strategy panics are then printed again). Under `panic = "abort"` nothing is caught and
/// nothing is quieted.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{quiet_strategy_panics, BacktestEngine, BacktestErrorKind, Bars, Params, Signals, StrategyError};
///
/// fn main() {
///     quiet_strategy_panics(); // first thing, before threads and runtimes start
///
///     let fragile = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { panic!("model diverged") };
///     let err = BacktestEngine::default().run(&Bars::synthetic(50, 1), &fragile, &Params::new()).unwrap_err();
///     // Nothing was printed; the session failed with the panic's message.
///     assert!(matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "model diverged"));
/// }
/// ```
pub fn quiet_strategy_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_STRATEGY.try_with(Cell::get).unwrap_or(false) {
                let location = info
                    .location()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string);
                tracing::warn!(
                    panic = %panic_message(info.payload()),
                    %location,
                    "strategy panicked"
                );
            } else {
                previous(info);
            }
        }));
    });
}

/// The most characters of a panic's message that a session's error and log line keep:
/// enough for an assertion's two sides, not for whatever data the strategy printed.
const MAX_MESSAGE_CHARS: usize = 1_024;

/// The panic's message, for an error: its first [`MAX_MESSAGE_CHARS`] characters, then `…`
/// when there are more.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload");
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}
