//! Parameter grids from arbitrary text as the command line gives them (`--grid` axes,
//! `--constraint`, `--shard`): no panic, no grid over the cap; a refusal is one printable
//! line; an axis never holds one value twice and a range's values increase; the combinations
//! a grid selects are as many as it says, in its shard; a comparison selects the same
//! combinations written either way round, and the ones a plain evaluation of it allows.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx_backtest::{ParamGrid, ParamValue, Params, Shard};

/// The largest grid whose combinations are all looked at.
const LOOK: usize = 2_000;

fn printable(e: &impl std::fmt::Display) {
    let shown = e.to_string();
    assert!(!shown.chars().any(is_escaped), "{shown:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut grid = ParamGrid::new();
    let mut comparisons: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        if let Some(c) = line.strip_prefix('?') {
            match grid.clone().parse_constraint(c) {
                Ok(g) => {
                    grid = g;
                    comparisons.push(c);
                }
                Err(e) => printable(&e),
            }
        } else if let Some(s) = line.strip_prefix('#') {
            match s.parse::<Shard>() {
                Ok(shard) => {
                    assert_eq!(shard.to_string().parse::<Shard>(), Ok(shard));
                    grid = grid.shard(shard);
                }
                Err(e) => printable(&e),
            }
        } else {
            match grid.clone().parse_axis(line) {
                Ok(g) => grid = g,
                Err(e) => printable(&e),
            }
        }
    }
    let len = grid
        .checked_len()
        .expect("parse_axis keeps a grid under the cap");
    assert!(len <= ParamGrid::MAX_COMBINATIONS);
    assert_eq!(len, grid.len());
    assert_eq!(grid.axes().map(|(_, n)| n).product::<usize>(), len);

    for (axis, (name, n)) in grid.axes().enumerate() {
        if n > LOOK {
            continue;
        }
        let values: Vec<ParamValue> = (0..n).map(|k| grid.axis_value(axis, k).unwrap()).collect();
        let shown: HashSet<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown.len(),
            n,
            "axis {name:?} holds a value twice: {values:?}"
        );
        let numbers: Option<Vec<f64>> = values
            .iter()
            .map(|v| match v {
                ParamValue::Int(i) => Some(*i as f64),
                ParamValue::Float(x) => Some(*x),
                _ => None,
            })
            .collect();
        if let (Some(numbers), true) = (numbers, grid.axis_value(axis, n).is_none()) {
            let range = values.iter().all(|v| matches!(v, ParamValue::Int(_)))
                || values.iter().all(|v| matches!(v, ParamValue::Float(_)));
            if range && n > 1 && numbers.windows(2).all(|w| w[0] <= w[1]) {
                assert!(
                    numbers.windows(2).all(|w| w[0] < w[1]),
                    "{name:?}: {values:?}"
                );
            }
        }
    }

    if len > LOOK {
        return;
    }
    let selected: Vec<(usize, Params)> = grid.indexed().collect();
    assert_eq!(selected.len(), grid.selected());
    let shard = grid.get_shard();
    let names: HashSet<&str> = grid.names().collect();
    for (k, params) in &selected {
        assert_eq!(k % shard.count() + 1, shard.index());
        assert_eq!(params.iter().map(|(n, _)| n).collect::<HashSet<_>>(), names);
        printable(params);
    }
    // A single comparison, written the other way round, selects the same; evaluated plainly,
    // it allows what the grid selects.
    if let [c] = comparisons[..] {
        if let Some((left, op, right)) = split(c) {
            let mirror = format!("{right}{}{left}", mirrored(op));
            let plain = grid.clone();
            let mut unconstrained = ParamGrid::new();
            for line in text.split('\n').filter(|l| !l.starts_with('?')) {
                if let Some(s) = line.strip_prefix('#') {
                    if let Ok(shard) = s.parse::<Shard>() {
                        unconstrained = unconstrained.shard(shard);
                    }
                } else if let Ok(g) = unconstrained.clone().parse_axis(line) {
                    unconstrained = g;
                }
            }
            // Refused now when a later axis changed a parameter's kind (to booleans).
            let Ok(flipped) = unconstrained.clone().parse_constraint(&mirror) else {
                return;
            };
            let a: Vec<usize> = plain.indexed().map(|(k, _)| k).collect();
            let b: Vec<usize> = flipped.indexed().map(|(k, _)| k).collect();
            assert_eq!(a, b, "{c:?} and {mirror:?}");
            let oracle: Vec<usize> = unconstrained
                .indexed()
                .filter(|(_, p)| holds(p, left, op, right))
                .map(|(k, _)| k)
                .collect();
            assert_eq!(a, oracle, "{c:?}");
        }
    }
});

/// `left op right` of a constraint holding one comparison, each side trimmed.
fn split(c: &str) -> Option<(&str, &'static str, &str)> {
    let c = c.trim();
    if c.contains([',', '&']) {
        return None;
    }
    const OPS: [&str; 6] = ["<=", ">=", "==", "!=", "<", ">"];
    let (at, op) = OPS
        .iter()
        .filter_map(|op| c.find(op).map(|at| (at, *op)))
        .min_by_key(|&(at, op)| (at, std::cmp::Reverse(op.len())))?;
    Some((c[..at].trim(), op, c[at + op.len()..].trim()))
}

fn mirrored(op: &str) -> &'static str {
    match op {
        "<" => ">",
        ">" => "<",
        "<=" => ">=",
        ">=" => "<=",
        "==" => "==",
        _ => "!=",
    }
}

/// The comparison evaluated plainly: integers exactly, other numbers as floats, anything else
/// equal or not.
fn holds(p: &Params, left: &str, op: &str, right: &str) -> bool {
    let value = |s: &str| -> Option<ParamValue> {
        match s {
            "true" => Some(ParamValue::Bool(true)),
            "false" => Some(ParamValue::Bool(false)),
            _ => match (s.parse::<i64>(), s.parse::<f64>()) {
                (Ok(i), _) => Some(ParamValue::Int(i)),
                (_, Ok(x)) => Some(ParamValue::Float(x)),
                _ => p.get(s).cloned(),
            },
        }
    };
    let (Some(a), Some(b)) = (value(left), value(right)) else {
        return false;
    };
    use std::cmp::Ordering;
    let order = match (&a, &b) {
        (ParamValue::Int(x), ParamValue::Int(y)) => Some(x.cmp(y)),
        (ParamValue::Int(x), ParamValue::Float(y)) => exact(*x, *y),
        (ParamValue::Float(x), ParamValue::Int(y)) => exact(*y, *x).map(Ordering::reverse),
        (ParamValue::Float(x), ParamValue::Float(y)) => x.partial_cmp(y),
        _ => (a == b).then_some(Ordering::Equal),
    };
    match op {
        "<" => order == Some(Ordering::Less),
        "<=" => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        ">" => order == Some(Ordering::Greater),
        ">=" => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        "==" => order == Some(Ordering::Equal),
        _ => order != Some(Ordering::Equal),
    }
}

/// An integer against a float, exactly.
fn exact(i: i64, x: f64) -> Option<std::cmp::Ordering> {
    if x.is_nan() {
        return None;
    }
    let i = i as i128;
    if x >= 2f64.powi(63) {
        return Some(std::cmp::Ordering::Less);
    }
    if x < -(2f64.powi(63)) {
        return Some(std::cmp::Ordering::Greater);
    }
    let whole = x.trunc();
    match i.cmp(&(whole as i128)) {
        std::cmp::Ordering::Equal => 0f64.partial_cmp(&(x - whole)),
        other => Some(other),
    }
}
