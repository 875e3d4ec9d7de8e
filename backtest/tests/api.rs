//! The shape of the public API, checked at compile time. The auto traits, as tokio's
//! `tests/async_send_sync.rs` checks them: every error is `Send + Sync + 'static`, and what a
//! sweep shares between sessions on the blocking pool is `Send + Sync`. And the constructors
//! that can be `const` are.
//!
//! A failed check is a build error of this file, named for the type and the trait.

use std::error::Error as StdError;

fn error<E: StdError + Send + Sync + 'static>() {}
fn shared<T: Send + Sync + 'static>() {}

#[test]
fn errors_are_send_sync_static() {
    use tracectx_backtest::*;
    error::<BacktestError>();
    error::<BacktestErrorKind>();
    error::<DataError>();
    error::<DataErrorKind>();
    error::<SettingsError>();
    error::<SimulationError>();
    error::<GridError>();
    error::<StatsError>();
    error::<UnknownStatistic>();
    error::<ParamError>();
    error::<StrategyError>();
    error::<RecordError>();
}

#[test]
fn results_and_inputs_are_send_sync() {
    use tracectx_backtest::*;
    shared::<BacktestEngine>();
    shared::<BacktestSettings>();
    shared::<BacktestResult>();
    shared::<RunMetadata>();
    shared::<Bar>();
    shared::<Bars>();
    shared::<BarsBuilder>();
    shared::<Params>();
    shared::<ParamValue>();
    shared::<ParamGrid>();
    shared::<Constraint>();
    shared::<Shard>();
    shared::<Signals>();
    shared::<Simulation>();
    shared::<Stats>();
    shared::<Statistic>();
    shared::<Trade>();
    shared::<OpenTrade>();
    shared::<RunOptions>();
    shared::<BacktestJob>();
    shared::<SessionRecord>();
    shared::<SweepReport>();
    shared::<Heatmap>();
    shared::<RankBy>();
    shared::<Leaderboard<BacktestResult>>();
    shared::<Named<SignalFn>>();
    shared::<Builtin>();
}

#[test]
fn batch_options_are_send() {
    // The progress callback is `FnMut + Send`: the options move to the task that runs the
    // batch, and are not shared.
    fn send<T: Send + 'static>() {}
    send::<tracectx_backtest::BatchOptions>();
}

#[test]
fn constructors_are_const() {
    use tracectx_backtest::{
        BacktestEngine, BacktestSettings, Bars, RankBy, Report, Signals, Statistic, Stats, Trade,
    };
    const RANK: RankBy = RankBy::new(Statistic::Sharpe);
    const NO_SIGNALS: Signals = Signals::new(Vec::new(), 0);
    const fn engine(settings: BacktestSettings) -> BacktestEngine {
        BacktestEngine::new(settings)
    }
    const fn report<'a>(stats: &'a Stats, trades: &'a [Trade]) -> Report<'a> {
        Report::new(stats, trades, &[])
    }
    assert_eq!(RANK.statistic(), Statistic::Sharpe);
    assert!(NO_SIGNALS.is_empty());
    assert_eq!(
        engine(BacktestSettings::new(5_000.0)).settings().cash,
        5_000.0
    );
    let stats = Stats::compute(&Bars::synthetic(5, 1), &[1.0; 5], &[], 0)
        .expect("statistics of a flat equity curve");
    assert!(report(&stats, &[]).trades.is_empty());
}
