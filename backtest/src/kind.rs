//! The trading words for [`tracectx::Error`]: kinds of errors a strategy, a session, an order
//! or a risk check raises in code built on the engine.
//!
//! `tracectx`'s own [`ErrorKind`]s are generic (configuration, data, validation, network,
//! timeout, I/O, internal); these name the rest as a trading platform does. They are
//! [`ErrorKind::Custom`] values, so they compare, match and print like the others.
//!
//! # Examples
//!
//! ```
//! use tracectx::{Error, TraceContext};
//! use tracectx_backtest::kind;
//!
//! let ctx = TraceContext::new("live_7")?;
//! let err = ctx.sync_scope(|| Error::new(kind::RISK, "daily loss limit reached").with("limit", 5000));
//! assert_eq!(err.kind(), kind::RISK);
//! assert!(err.to_string().starts_with("risk error: daily loss limit reached [run_id=live_7 "));
//! # Ok::<(), tracectx::InvalidId>(())
//! ```

use tracectx::ErrorKind;

/// A strategy that failed to produce a signal or produced an impossible one.
pub const STRATEGY: ErrorKind = ErrorKind::Custom("strategy");

/// A backtest session that could not run or finish.
pub const BACKTEST: ErrorKind = ErrorKind::Custom("backtest");

/// An order that could not be placed, filled or cancelled.
pub const EXECUTION: ErrorKind = ErrorKind::Custom("execution");

/// A risk limit that was breached.
pub const RISK: ErrorKind = ErrorKind::Custom("risk");
