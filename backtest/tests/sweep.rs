//! Parameter grids: ranges that cannot overflow whatever the numbers, and a cap on the whole
//! grid's combinations that refuses a mistyped sweep at once instead of exhausting memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use tracectx_backtest::{
    BacktestEngine, BacktestErrorKind, Bars, BatchOptions, Builtin, Named, ParamGrid, ParamValue,
    Params, RankBy, Signals, Statistic, StrategyError, sma_cross,
};

const CAP: u128 = ParamGrid::MAX_COMBINATIONS as u128;

#[test]
fn integer_ranges_at_the_ends_of_i64_do_not_overflow() {
    // `stop - start` is 2^64 - 1: more than an i64 holds.
    let err = ParamGrid::new()
        .parse_axis("a=-9223372036854775808:9223372036854775807:1")
        .unwrap_err();
    assert_eq!(err.combinations(), Some(1 << 64));
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"a=-9223372036854775808:9223372036854775807:1\": the grid would \
         have 18,446,744,073,709,551,616 combinations, over the cap of 1,000,000"
    );
    // A step as wide as the range: three values, the last one below the stop.
    let grid = ParamGrid::new()
        .parse_axis("a=-9223372036854775808:9223372036854775807:9223372036854775807")
        .unwrap();
    let values: Vec<ParamValue> = grid
        .combinations()
        .map(|p| p.get("a").unwrap().clone())
        .collect();
    assert_eq!(
        values,
        [
            ParamValue::Int(i64::MIN),
            ParamValue::Int(-1),
            ParamValue::Int(i64::MAX - 1)
        ]
    );
}

#[test]
fn float_ranges_wider_than_any_count_are_refused() {
    let err = ParamGrid::new().parse_axis("k=-1e308:1e308:1").unwrap_err();
    assert_eq!(err.combinations(), Some(u128::MAX));
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"k=-1e308:1e308:1\": the grid would have more than 10^38 \
         combinations, over the cap of 1,000,000"
    );
    let err = ParamGrid::new().parse_axis("k=0:1:1e-300").unwrap_err();
    assert!(err.combinations().unwrap() > CAP);
}

/// A step below the precision of the values would make some of them equal, and a sweep
/// would run the same combination twice under two indices.
#[test]
fn a_float_step_finer_than_the_values_is_refused() {
    let err = ParamGrid::new()
        .parse_axis("k=1e16:1.000000000000001e16:0.5")
        .unwrap_err();
    assert_eq!(err.combinations(), None);
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"k=1e16:1.000000000000001e16:0.5\": the step is below the \
         precision of the values (values 0 and 1 are both 1e16)"
    );
    // Steps that floating point cannot hit exactly still give distinct values.
    let grid = ParamGrid::new().parse_axis("k=0.1:0.3:0.1").unwrap();
    assert_eq!(grid.len(), 3);
    let grid = ParamGrid::new().parse_axis("k=-1:1:0.000004").unwrap();
    let values: Vec<f64> = grid.combinations().map(|p| p.float("k").unwrap()).collect();
    assert_eq!(values.len(), 500_001);
    assert!(values.windows(2).all(|w| w[0] < w[1]));
}

/// A list naming a value twice would run its combinations twice (and `merge` refuses the
/// shards of such a sweep); an empty value (`1,,2`) was read as the string "". Both are
/// refused, naming the values.
#[test]
fn a_list_with_a_repeated_or_empty_value_is_refused() {
    for (axis, says) in [
        ("fast=5,10,5", "values 0 and 2 are both \"5\""),
        ("fast=5, 6, 5", "values 0 and 2 are both \"5\""),
        ("k=0.0,-0.0", "values 0 and 1 are both \"-0\""),
        ("mode=a,b,b", "values 1 and 2 are both \"b\""),
        ("fast=1,2,,3", "a value of the list is empty"),
        ("fast=1,2,", "a value of the list is empty"),
    ] {
        let err = ParamGrid::new().parse_axis(axis).unwrap_err();
        assert!(err.to_string().contains(says), "{axis}: {err}");
    }
    // A number is one value whatever its kind: a float parameter reads 5 as 5.0.
    for axis in ["k=5,5.0", "k=1e0,1", "k=0,-0.0"] {
        let err = ParamGrid::new().parse_axis(axis).unwrap_err();
        assert!(
            err.to_string().contains("values 0 and 1 are both"),
            "{axis}: {err}"
        );
    }
    assert_eq!(ParamGrid::new().parse_axis("k=5,5.5,6").unwrap().len(), 3);
}

/// What the command line passes in (an axis, a constraint, a parameter, a statistic's
/// name) reaches an error quoted, escaped and cut to 128 characters, however long it is.
#[test]
fn outside_text_in_errors_is_escaped_and_cut() {
    let long = format!("fast\u{202e}\n{}", "9".repeat(100_000));
    let cut = |shown: String, starts: &str| {
        assert!(shown.starts_with(starts), "{shown}");
        assert_eq!(shown.lines().count(), 1);
        // At most 128 characters of each quote of the input (a constraint's error quotes
        // it twice), whatever its length.
        assert!(shown.matches('9').count() <= 2 * 128, "{shown}");
        assert!(
            shown.len() < 1_000,
            "{} bytes: {}",
            shown.len(),
            &shown[..200]
        );
        assert!(shown.contains("…"), "{shown}");
    };
    let axis = ParamGrid::new()
        .parse_axis(&format!("{long}=1:2:0"))
        .unwrap_err();
    cut(axis.to_string(), r#"invalid grid axis "fast\u{202e}\n999"#);
    let grid = ParamGrid::new().parse_axis("fast=1:3:1").unwrap();
    let constraint = grid
        .clone()
        .parse_constraint(&format!("{long}<1"))
        .unwrap_err();
    cut(
        constraint.to_string(),
        r#"invalid constraint "fast\u{202e}\n999"#,
    );
    let mut params = Params::new();
    let assignment = params.insert_assignment(&long).unwrap_err();
    cut(
        assignment.to_string(),
        r#"invalid parameter assignment "fast\u{202e}\n999"#,
    );
    let unknown = Builtin::find("sma-cross")
        .unwrap()
        .check_names([long.as_str()])
        .unwrap_err();
    cut(
        unknown.to_string(),
        r#"unknown parameter "fast\u{202e}\n999"#,
    );
    let wrong = Params::new()
        .with("fast", long.as_str())
        .int("fast")
        .unwrap_err();
    cut(
        wrong.to_string(),
        r#"parameter "fast" must be an integer, got a string: "fast\u{202e}\n999"#,
    );
    // The grid's own names, listed in a constraint's error, came from outside too.
    let odd = ParamGrid::new().parse_axis("fast\u{1b}[2J=1,2").unwrap();
    let known = odd.parse_constraint("slow<1").unwrap_err().to_string();
    assert!(
        !known.chars().any(tracectx::escape::is_escaped),
        "{known:?}"
    );
    assert!(known.ends_with(r"expected one of fast\u{1b}[2J"), "{known}");
    let statistic = long.parse::<Statistic>().unwrap_err();
    cut(
        statistic.to_string(),
        r#"unknown statistic "fast\u{202e}\n999"#,
    );
}

#[test]
fn the_cap_is_on_the_whole_grid_not_each_axis() {
    let thousand = ParamGrid::new().parse_axis("fast=1:1000:1").unwrap();
    // 1,000 × 1,000 is exactly the cap.
    let at_cap = thousand.clone().parse_axis("slow=1:1000:1").unwrap();
    assert_eq!(at_cap.checked_len(), Ok(ParamGrid::MAX_COMBINATIONS));
    // One more value on the second axis, as a range or a list, is over it.
    let err = thousand.clone().parse_axis("slow=1:1001:1").unwrap_err();
    assert_eq!(err.combinations(), Some(1_001_000));
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"slow=1:1001:1\": the grid would have 1,001,000 combinations, \
         over the cap of 1,000,000"
    );
    let list: Vec<String> = (0..1_001).map(|i| i.to_string()).collect();
    let err = thousand
        .clone()
        .parse_axis(&format!("slow={}", list.join(",")))
        .unwrap_err();
    assert_eq!(err.combinations(), Some(1_001_000));
    // Two axes of a million values each: refused before the second is made.
    let err = ParamGrid::new()
        .parse_axis("fast=1:1000000:1")
        .unwrap()
        .parse_axis("slow=1:1000000:1")
        .unwrap_err();
    assert_eq!(err.combinations(), Some(1_000_000_000_000));
    // An axis replacing one of the same name is not multiplied by it.
    let replaced = thousand.parse_axis("fast=1:5:1").unwrap();
    assert_eq!(replaced.checked_len(), Ok(5));
}

#[test]
fn grids_built_in_code_saturate_and_are_checked() {
    // Five axes of 10,000 values: 10^20 combinations, more than a u64 holds.
    let grid = (0..5).fold(ParamGrid::new(), |g, k| {
        g.axis(format!("p{k}"), 0..10_000_i64)
    });
    assert_eq!(grid.len(), usize::MAX);
    assert!(!grid.is_empty());
    let err = grid.checked_len().unwrap_err();
    assert_eq!(err.combinations(), Some(100_000_000_000_000_000_000));
    assert_eq!(
        err.to_string(),
        "invalid parameter grid: the grid has 100,000,000,000,000,000,000 combinations, \
         over the cap of 1,000,000"
    );
    // An empty axis still makes the grid empty, whatever the others.
    assert!(grid.axis("none", Vec::<i64>::new()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_over_the_cap_runs_no_session_and_says_why() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let counting = move |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
        counted.fetch_add(1, Ordering::SeqCst);
        sma_cross(bars, params)
    };
    let grid = ParamGrid::new()
        .axis("fast", 1..=2_000_i64)
        .axis("slow", 1..=2_000_i64);
    let report = BacktestEngine::default()
        .sweep(
            &Arc::new(Bars::synthetic(100, 1)),
            Named::new("counting", counting),
            &grid,
            RankBy::default(),
            BatchOptions::new(),
        )
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(report.ranked.is_empty());
    assert_eq!(report.failed.len(), 1);
    let err = &report.failed[0];
    assert_eq!(err.run_id(), Some(report.sweep_id.as_str()));
    assert!(
        matches!(err.kind(), BacktestErrorKind::Grid(g) if g.combinations() == Some(4_000_000))
    );
    assert_eq!(
        err.to_string(),
        format!(
            "backtest {} failed: invalid parameter grid: the grid has 4,000,000 combinations, \
             over the cap of 1,000,000",
            report.sweep_id
        )
    );
}

fn full_sweep(grid: &ParamGrid, options: BatchOptions) -> tracectx_backtest::SweepReport {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let data = Arc::new(Bars::synthetic(2_000, 5));
    rt.block_on(BacktestEngine::default().sweep(
        &data,
        Named::new("sma-cross", sma_cross),
        grid,
        RankBy::new(tracectx_backtest::Statistic::ReturnPct),
        options,
    ))
}

fn ranking(report: &tracectx_backtest::SweepReport) -> Vec<String> {
    report
        .ranked
        .iter()
        .map(|r| format!("{} {:?}", r.metadata.params, r.stats.return_pct.to_bits()))
        .collect()
}

#[test]
fn keeping_the_top_n_keeps_the_head_of_the_full_ranking() {
    let grid = ParamGrid::new()
        .parse_axis("fast=2:30:2")
        .unwrap()
        .parse_axis("slow=10:60:10")
        .unwrap();
    let all = full_sweep(&grid, BatchOptions::new());
    let top = full_sweep(&grid, BatchOptions::new().keep_top(7));
    assert_eq!(all.ranked.len(), 90);
    assert_eq!((top.sessions, top.succeeded, top.ranked.len()), (90, 90, 7));
    assert_eq!(ranking(&top), ranking(&all)[..7]);
}

#[test]
fn a_constraint_skips_combinations_before_they_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let counting = move |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
        counted.fetch_add(1, Ordering::SeqCst);
        sma_cross(bars, params)
    };
    let grid = ParamGrid::new()
        .parse_axis("fast=10:100:10")
        .unwrap()
        .parse_axis("slow=20:100:20")
        .unwrap()
        .parse_constraint("fast<slow")
        .unwrap();
    assert_eq!(grid.len(), 50);
    let expected = grid.selected();
    assert_eq!(expected, 1 + 3 + 5 + 7 + 9);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let report = rt.block_on(BacktestEngine::default().sweep(
        &Arc::new(Bars::synthetic(1_000, 2)),
        Named::new("counting", counting),
        &grid,
        RankBy::default(),
        BatchOptions::new(),
    ));
    assert_eq!(calls.load(Ordering::SeqCst), expected);
    assert_eq!(report.sessions, expected);
    assert!(report.ranked.iter().all(|r| {
        r.metadata.params.int("fast").unwrap() < r.metadata.params.int("slow").unwrap()
    }));
    // Refused by name, with the known ones.
    let err = ParamGrid::new()
        .parse_axis("fast=1:3:1")
        .unwrap()
        .parse_constraint("fsat<slow")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid constraint "fsat<slow": unknown parameter "fsat": expected one of fast"#
    );
    assert!(ParamGrid::new().parse_constraint("fast").is_err());
}

#[test]
fn a_constraint_that_panics_as_jobs_are_made_panics_the_sweep() {
    // Counting the combinations calls the constraint once each; making the jobs, again: this
    // one panics at its 71st call, on the 21st job, which ended that worker and left
    // combinations out of the ranking without a word.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let grid = ParamGrid::new()
        .parse_axis("fast=2:20:2")
        .unwrap()
        .parse_axis("slow=5:25:5")
        .unwrap()
        .constraint(tracectx_backtest::Constraint::new("flaky", move |_| {
            assert!(
                c.fetch_add(1, Ordering::SeqCst) != 70,
                "the constraint broke"
            );
            true
        }));
    assert_eq!(grid.len(), 50);
    for concurrency in [1, 2] {
        calls.store(0, Ordering::SeqCst);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let grid = grid.clone();
        let outcome = rt.block_on(async move {
            let sweep = BacktestEngine::default().sweep(
                &Arc::new(Bars::synthetic(500, 8)),
                sma_cross,
                &grid,
                RankBy::default(),
                BatchOptions::new().concurrency(concurrency),
            );
            tokio::spawn(sweep).await
        });
        let Err(ended) = outcome else {
            panic!("{concurrency} workers: the sweep ended as if nothing happened");
        };
        let payload = ended.into_panic();
        let message = payload.downcast_ref::<&str>().copied();
        assert_eq!(
            message,
            Some("the constraint broke"),
            "{concurrency} workers"
        );
    }
}

#[test]
fn a_constraint_runs_where_the_jobs_are_made_never_inside_a_session() {
    // What a constraint sees of the trace context: its runs are the sweep's, never one of
    // its sessions' (a log line it writes must not name a session it was not part of).
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (s, c) = (Arc::clone(&seen), Arc::clone(&calls));
    let grid = ParamGrid::new()
        .parse_axis("fast=2:20:2")
        .unwrap()
        .parse_axis("slow=5:40:5")
        .unwrap()
        .constraint(tracectx_backtest::Constraint::new("fast<slow", move |p| {
            c.fetch_add(1, Ordering::SeqCst);
            s.lock()
                .unwrap()
                .push(tracectx::current().map(|ctx| ctx.run_id().to_string()));
            p.int("fast").unwrap() < p.int("slow").unwrap()
        }));
    let sessions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ids = Arc::clone(&sessions);
    let options = BatchOptions::new().concurrency(2).on_progress(move |p| {
        let id = p.outcome.as_ref().unwrap().metadata.run_id.clone();
        ids.lock().unwrap().push(id.unwrap().to_string());
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let report = rt.block_on(BacktestEngine::default().sweep(
        &Arc::new(Bars::synthetic(2_000, 8)),
        sma_cross,
        &grid,
        RankBy::default(),
        options,
    ));
    // Once for each combination to count them, once as the sweep's jobs are made.
    assert_eq!(calls.load(Ordering::SeqCst), 2 * grid.len());
    assert_eq!(report.succeeded, grid.selected());
    let sessions = sessions.lock().unwrap();
    assert_eq!(sessions.len(), report.sessions);
    let seen = seen.lock().unwrap();
    for id in seen.iter().flatten() {
        assert!(!sessions.contains(id), "a constraint ran in session {id}");
    }
}

/// Integers compare as integers, not as floats: past 2^53 a float cannot tell neighbours
/// apart, and `a>b` held for neither order of 2^53 + 1 and 2^53.
#[test]
fn constraints_compare_large_integers_exactly() {
    let selected = |axes: &[&str], constraint: &str| -> Vec<String> {
        let mut grid = ParamGrid::new();
        for axis in axes {
            grid = grid.parse_axis(axis).unwrap();
        }
        let grid = grid.parse_constraint(constraint).unwrap();
        grid.combinations().map(|p| p.to_string()).collect()
    };
    let big = ["a=9007199254740993,1", "b=9007199254740992,2"];
    assert_eq!(
        selected(&big, "a>b"),
        [
            "a=9007199254740993 b=9007199254740992",
            "a=9007199254740993 b=2"
        ]
    );
    assert_eq!(selected(&big, "a==b"), Vec::<String>::new());
    assert_eq!(selected(&big, "b<a"), selected(&big, "a>b"));
    // A number in the constraint is read as an integer when it is one.
    assert_eq!(
        selected(&big, "a>9007199254740992"),
        [
            "a=9007199254740993 b=9007199254740992",
            "a=9007199254740993 b=2"
        ]
    );
    assert_eq!(
        selected(&["a=9223372036854775807,1"], "a<9223372036854775807"),
        ["a=1"]
    );
    // Against floats, exactly too.
    assert_eq!(
        selected(&["a=9007199254740993,1", "k=9007199254740992.0,0.5"], "a>k").len(),
        3
    );
    assert_eq!(
        selected(&["a=-3,3", "k=-2.5,2.5"], "a<k"),
        ["a=-3 k=-2.5", "a=-3 k=2.5"]
    );
    assert_eq!(
        selected(&["a=9223372036854775807,1"], "a<1e19"),
        ["a=9223372036854775807", "a=1"]
    );
}

#[test]
fn boolean_constraints_compare_equal_or_not_and_numbers_are_finite() {
    let grid = ParamGrid::new()
        .parse_axis("fast=5:15:5")
        .unwrap()
        .parse_axis("long_only=true,false")
        .unwrap();
    let kept = grid.clone().parse_constraint("long_only == true").unwrap();
    assert_eq!(kept.selected(), 3);
    assert_eq!(
        kept.parse_constraint("long_only==false")
            .unwrap()
            .selected(),
        0
    );
    let both = grid
        .clone()
        .parse_constraint("false!=long_only, fast<15")
        .unwrap();
    assert_eq!(both.selected(), 2);
    for (constraint, reason) in [
        ("long_only<=true", "booleans compare with == or != only"),
        ("long_only<fast", "a boolean compared with a number"),
        ("long_only==1", "a boolean compared with a number"),
        ("fast==true", "a boolean compared with a number"),
        ("true<false", "booleans compare with == or != only"),
        ("fast<nan", r#""nan" is not a finite number"#),
        ("fast>1e400", r#""1e400" is not a finite number"#),
        ("fast<-inf", r#""-inf" is not a finite number"#),
    ] {
        let err = grid.clone().parse_constraint(constraint).unwrap_err();
        assert!(
            err.to_string().contains(reason),
            "{constraint}: {err}, not {reason:?}"
        );
        assert!(err.to_string().contains(constraint), "{err}");
    }
}

#[test]
fn shards_run_every_combination_once_and_rank_as_one_sweep() {
    let grid = ParamGrid::new()
        .parse_axis("fast=2:20:2")
        .unwrap()
        .parse_axis("slow=25:60:5")
        .unwrap();
    let whole = full_sweep(&grid, BatchOptions::new());
    let mut seen = Vec::new();
    let mut board = tracectx_backtest::Leaderboard::new(
        RankBy::new(tracectx_backtest::Statistic::ReturnPct),
        usize::MAX,
    );
    for k in 1..=3 {
        let shard = tracectx_backtest::Shard::new(k, 3).unwrap();
        let part = grid.clone().shard(shard);
        let indices = Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = Arc::clone(&indices);
        let options = BatchOptions::new().on_progress(move |p| {
            noted.lock().unwrap().push((p.index, p.params.clone()));
        });
        let report = full_sweep(&part, options);
        assert_eq!(report.shard, shard);
        let indices = indices.lock().unwrap().clone();
        assert_eq!(indices.len(), part.selected());
        for (index, params) in &indices {
            assert_eq!(index % 3, k - 1);
            assert_eq!(grid.combinations().nth(*index).as_ref(), Some(params));
        }
        seen.extend(indices.into_iter().map(|(i, _)| i));
        for r in report.ranked {
            let index = grid
                .combinations()
                .position(|p| p == r.metadata.params)
                .unwrap();
            board.push(index, r.stats.return_pct.into(), r);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..grid.len()).collect::<Vec<_>>());
    let merged: Vec<String> = board
        .into_sorted()
        .iter()
        .map(|r| format!("{} {:?}", r.metadata.params, r.stats.return_pct.to_bits()))
        .collect();
    assert_eq!(merged, ranking(&whole));
}

#[test]
fn a_sweeps_shared_indicators_give_each_session_what_it_gives_alone_to_the_bit() {
    // Longer than a piece of the equity curve, so the shared log ratios span several leaves.
    let data = Arc::new(Bars::synthetic(40_000, 11));
    let grid = ParamGrid::new()
        .parse_axis("fast=5:50:15")
        .unwrap()
        .parse_axis("slow=20:80:30")
        .unwrap()
        .parse_axis("long_only=true,false")
        .unwrap();
    let engine = BacktestEngine::new(
        tracectx_backtest::BacktestSettings::new(10_000.0).with_commission(0.001),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let options = BatchOptions::new().concurrency(2).keep_equity(false);
    let report = rt.block_on(engine.sweep(&data, sma_cross, &grid, RankBy::default(), options));
    assert_eq!(report.ranked.len(), grid.len());
    for r in &report.ranked {
        let alone = engine.run(&data, &sma_cross, &r.metadata.params).unwrap();
        let json = |r: &tracectx_backtest::BacktestResult| {
            tracectx_backtest::Report::new(&r.stats, &r.trades, &r.open_trades).to_json()
        };
        assert_eq!(json(r), json(&alone), "{}", r.metadata.params);
        // Also the fused averages of a session alone against the shared ones.
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let shared = tracectx_backtest::close_sma(&data, 35);
        assert_eq!(
            bits(&shared),
            bits(&tracectx_backtest::sma(data.close(), 35))
        );
    }
}

#[test]
fn session_records_read_back_hold_every_statistic_to_the_bit() {
    // What a shard writes and `tracectx merge` reads: 200 sessions' statistics, many of them
    // needing all 17 significant digits, read back as the same numbers.
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let written = Arc::clone(&lines);
    let options = BatchOptions::new().keep_top(1).on_progress(move |p| {
        written
            .lock()
            .unwrap()
            .push(tracectx_backtest::SessionRecord::from_progress(p))
    });
    let grid = ParamGrid::new()
        .parse_axis("fast=2:40:2")
        .and_then(|g| g.parse_axis("slow=10:100:10"))
        .unwrap();
    full_sweep(&grid, options);
    let records = lines.lock().unwrap();
    assert_eq!(records.len(), 200);
    for record in records.iter() {
        let line = record.to_json_line();
        let back: tracectx_backtest::SessionRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(&back, record, "{line}");
        assert_eq!(back.to_json_line(), line);
    }
}

/// JSON has no number for an infinite or NaN parameter (serde_json writes `null`, which reads
/// back as no value): a sweep over `stop=inf,-inf,nan` writes records that `tracectx merge`
/// reads back with the same parameters.
#[test]
fn non_finite_parameters_read_back_from_session_records() {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let written = Arc::clone(&lines);
    let options = BatchOptions::new().keep_top(1).on_progress(move |p| {
        let line = tracectx_backtest::SessionRecord::from_progress(p).to_json_line();
        written.lock().unwrap().push(line);
    });
    let grid = ParamGrid::new()
        .parse_axis("fast=5")
        .and_then(|g| g.parse_axis("slow=20"))
        .and_then(|g| g.parse_axis("stop=inf,-inf,nan,1.5"))
        .unwrap();
    assert_eq!(full_sweep(&grid, options).ranked.len(), 1);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 4);
    let mut stops = Vec::new();
    for line in lines.iter() {
        let record = tracectx_backtest::SessionRecord::from_json_line(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(record.to_json_line(), *line);
        stops.push(record.params.float("stop").unwrap().to_string());
    }
    stops.sort();
    assert_eq!(stops, ["-inf", "1.5", "NaN", "inf"]);
    assert!(
        lines.iter().any(|l| l.contains(r#""stop":"inf""#)),
        "{lines:?}"
    );

    let params = Params::from_assignments(["k=nan", "n=1", "x=1.0", "s=text"]).unwrap();
    let json = serde_json::to_string(&params).unwrap();
    assert_eq!(json, r#"{"k":"NaN","n":1,"s":"text","x":1.0}"#);
    let back: Params = serde_json::from_str(&json).unwrap();
    assert!(back.float("k").unwrap().is_nan());
    assert_eq!(back.get("x"), Some(&ParamValue::Float(1.0)));
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
}

/// Runs a sweep of `sma_cross` over `grid` on `data`, each session checking its decisions
/// (from what the sweep shares) against `sma_cross` on a copy of the bars (computed on the
/// spot); the number of sessions that decided differently and of decisions taken.
fn shared_against_alone(data: Bars, grid: &ParamGrid, options: BatchOptions) -> (usize, usize) {
    let data = Arc::new(data);
    let (checked, differ, crossings) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (c, d, x) = (checked.clone(), differ.clone(), crossings.clone());
    let strategy = move |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
        // Inside the sweep, on its bars: what the sweep shares. On a copy of the bars, which
        // are not the sweep's: both averages computed on the spot.
        let shared = sma_cross(bars, params)?;
        let alone = sma_cross(&bars.clone(), params)?;
        c.fetch_add(1, Ordering::Relaxed);
        if shared != alone {
            d.fetch_add(1, Ordering::Relaxed);
        }
        let moves = shared
            .decisions()
            .iter()
            .filter(|&&d| d != tracectx_backtest::Decision::Hold)
            .count();
        x.fetch_add(moves, Ordering::Relaxed);
        Ok(shared)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let options = options.concurrency(2).keep_equity(false);
    let report = rt.block_on(BacktestEngine::default().sweep(
        &data,
        strategy,
        grid,
        RankBy::default(),
        options,
    ));
    assert_eq!(report.sessions, grid.selected());
    assert_eq!(report.succeeded, grid.selected(), "{:?}", report.failed);
    assert_eq!(checked.load(Ordering::Relaxed), grid.selected());
    (
        differ.load(Ordering::Relaxed),
        crossings.load(Ordering::Relaxed),
    )
}

#[test]
fn sma_cross_on_shared_averages_decides_as_it_does_alone_on_every_bar() {
    // Short windows cross often: crossings fall on every position within a block of bars.
    let grid = ParamGrid::new()
        .parse_axis("fast=1:9:1")
        .unwrap()
        .parse_axis("slow=2:40:3")
        .unwrap()
        .parse_axis("long_only=true,false")
        .unwrap();
    let (differ, crossings) =
        shared_against_alone(Bars::synthetic(6_000, 23), &grid, BatchOptions::new());
    assert_eq!(differ, 0);
    // Enough crossings that every offset in a block of 32 bars holds some.
    assert!(crossings > 50_000, "{crossings}");
}

/// Closes on a coarse tick that often stand still: averages of different windows are
/// often exactly equal (ties, runs of one price), where only a strict crossing counts.
fn tick_bars(n: usize, seed: u64) -> Bars {
    let mut state = seed;
    let mut p = 20.0_f64;
    let close: Vec<f64> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if (state >> 40) & 3 != 0 {
                p = (p + ((state >> 61) as f64 - 3.5).round() * 0.25).max(0.25);
            }
            p
        })
        .collect();
    common::closes(close, common::DAY)
}

#[test]
fn a_sweeps_crossings_hold_on_ties_inverted_pairs_and_windows_past_the_end() {
    // Windows past the series (never a value), a window with itself, fast above slow, the
    // default windows (no `fast` in some combinations), a constraint and a shard.
    let grid = ParamGrid::new()
        .parse_axis("fast=1,2,3,5,8,13,21,34,2999,3000,3001")
        .unwrap()
        .parse_axis("slow=1,4,8,20,3000,5000")
        .unwrap()
        .parse_axis("long_only=true,false")
        .unwrap();
    for data in [tick_bars(3_000, 1), tick_bars(3_000, 9)] {
        let (differ, crossings) = shared_against_alone(data.clone(), &grid, BatchOptions::new());
        assert_eq!(differ, 0);
        assert!(crossings > 20_000, "{crossings}");
        // A constraint and a shard: the pass takes the pairs of the combinations selected.
        let part = grid
            .clone()
            .parse_constraint("fast<slow")
            .unwrap()
            .shard("2/3".parse().unwrap());
        assert_eq!(
            shared_against_alone(data.clone(), &part, BatchOptions::new()).0,
            0
        );
        // No memory for shared indicators: every session computes its own.
        let none = BatchOptions::new().indicator_memory(0);
        assert_eq!(shared_against_alone(data, &grid, none).0, 0);
    }
    // Some combinations without windows: the defaults, 10 and 20.
    let defaults = ParamGrid::new().parse_axis("fast=5,10,15").unwrap();
    assert_eq!(
        shared_against_alone(tick_bars(2_000, 4), &defaults, BatchOptions::new()).0,
        0
    );
}
