"""Compare tracectx's backtest engine with backtesting.py 0.6.6 on the reference's own data.

Run by scripts/crosscheck.sh inside a virtual environment that has backtesting==0.6.6.
For each case it runs SmaCross(10, 20) in backtesting.py with exclusive orders, runs
`tracectx backtest --json` (the command line, feature `cli`) on the same data exported to
CSV, and requires:

- identical trade lists: sizes, entry and exit bars, prices, PnL, returns, commissions and
  times, compared as exact floats;
- every statistic within 1e-9 relative (undefined values, NaN or infinite in Python, must
  be `null` on our side and the other way round).

A last case runs a grid of SmaCross windows through `Backtest.optimize` (constraint n1 < n2,
maximizing the Sharpe ratio, its heat map returned) and `tracectx sweep --json`: the same
combinations, each Sharpe ratio within 1e-9, the same best.

It prints one line per case, the details of any mismatch, and ends with
`N passed, N failed` alone on a line; the exit code is 1 if any case failed. Whatever goes
wrong in a case (the command failing, output that is not JSON, a missing key, data that
cannot be exported) fails that case, with the error, and the other cases still run; an error
outside the cases (the reference not importable) is a failed check too: the summary line is
always printed (`checklib.run_checks`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import traceback
import warnings
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, run_checks  # noqa: E402

warnings.filterwarnings("ignore")

# numpy, pandas and backtesting.py, imported by `import_reference()` inside the checks so
# that a broken environment is a failed check with a summary line, not a bare traceback.
np = pd = Backtest = BTCUSD = EURUSD = GOOG = SmaCross = None

REL_TOL = 1e-9

# Our JSON key -> backtesting.py's statistic name.
STAT_KEYS = {
    "start": "Start",
    "end": "End",
    "duration_secs": "Duration",
    "exposure_pct": "Exposure Time [%]",
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "commissions": "Commissions [$]",
    "return_pct": "Return [%]",
    "buy_hold_return_pct": "Buy & Hold Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
    "alpha_pct": "Alpha [%]",
    "beta": "Beta",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "max_drawdown_duration_secs": "Max. Drawdown Duration",
    "avg_drawdown_duration_secs": "Avg. Drawdown Duration",
    "trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "max_trade_duration_secs": "Max. Trade Duration",
    "avg_trade_duration_secs": "Avg. Trade Duration",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "kelly": "Kelly Criterion",
}

# Our trade field -> backtesting.py's `_trades` column.
TRADE_KEYS = {
    "size": "Size",
    "entry_bar": "EntryBar",
    "exit_bar": "ExitBar",
    "entry_price": "EntryPrice",
    "exit_price": "ExitPrice",
    "pnl": "PnL",
    "return_frac": "ReturnPct",
    "commission": "Commission",
    "entry_time": "EntryTime",
    "exit_time": "ExitTime",
    "duration_secs": "Duration",
}


def import_reference():
    """Imports numpy, pandas and backtesting.py and defines the reference strategy."""
    global np, pd, Backtest, BTCUSD, EURUSD, GOOG, SmaCross
    import numpy as np
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import BTCUSD, EURUSD, GOOG, SMA

    class SmaCross(Strategy):
        """The semantics' sma-cross: cross-up buys; cross-down sells, or closes when
        long-only."""

        n1 = 10
        n2 = 20
        long_only = False

        def init(self):
            close = self.data.Close
            self.sma1 = self.I(SMA, close, self.n1)
            self.sma2 = self.I(SMA, close, self.n2)

        def next(self):
            if crossover(self.sma1, self.sma2):
                self.buy()
            elif crossover(self.sma2, self.sma1):
                if self.long_only:
                    self.position.close()
                else:
                    self.sell()


def plain(value):
    """A reference value as a JSON-like scalar: numbers as float, times as text, undefined as None."""
    if value is None:
        return None
    if isinstance(value, pd.Timedelta):
        # Exactly, rounded once: `total_seconds()` adds the microseconds to the whole
        # seconds and rounds twice (757.264837 s comes out as 757.2648369999999). In
        # microseconds, ours and the times' finest unit, which the longest durations fit.
        if pd.isna(value):
            return None
        micros = int(value.asm8.astype("timedelta64[us]").astype(np.int64))
        return float(Fraction(micros, 10**6))
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def ours_time(text):
    return None if text is None else pd.Timestamp(text.rstrip("Z")).isoformat()


def rel_diff(a, b):
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def reference(data, cash, long_only, spread=0.0, commission=0.002):
    bt = Backtest(data, SmaCross, cash=cash, commission=commission, spread=spread,
                  exclusive_orders=True)
    stats = bt.run(n1=10, n2=20, long_only=long_only)
    return stats


def ours(tracectx, csv_path, cash, long_only, spread=0.0, commission=0.002):
    cmd = [
        tracectx, "backtest", "--json",
        "--data", csv_path,
        "--strategy", "sma-cross",
        "--param", "fast=10",
        "--param", "slow=20",
        "--cash", str(cash),
        "--commission", repr(commission),
    ]
    if long_only:
        cmd.append("--long-only")
    if spread:
        cmd += ["--spread", repr(spread)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def compare(ref, got):
    """Returns (problems, worst relative difference among the statistics)."""
    problems, worst, _ = compare_stats(ref, got["stats"])
    problems += compare_trades(ref["_trades"], got["trades"])
    return problems, worst


def compare_stats(ref, stats):
    """The reference's statistics against ours (`stats`, the JSON's object): returns
    (problems, worst relative difference, the key that has it)."""
    problems = []
    worst = 0.0
    worst_key = None
    ref_names = {k for k in ref.index if not k.startswith("_")}
    unmapped = ref_names - set(STAT_KEYS.values()) - {"Commissions [$]"}
    if unmapped:
        problems.append(f"reference statistics with no key here: {sorted(unmapped)}")
    missing = set(STAT_KEYS) - set(stats)
    if missing:
        problems.append(f"keys missing from our stats: {sorted(missing)}")
    for key, name in STAT_KEYS.items():
        if key in missing:
            continue
        mine = stats[key]
        if name not in ref.index:
            # backtesting.py leaves out `Commissions [$]` when it is zero.
            expected = 0.0 if key == "commissions" else None
        else:
            expected = plain(ref[name])
        if key in ("start", "end"):
            mine = ours_time(mine)
        if expected is None or mine is None or isinstance(expected, str):
            if expected != mine:
                problems.append(f"{key}: reference {expected!r}, ours {mine!r}")
            continue
        d = rel_diff(float(expected), float(mine))
        if d > worst:
            worst, worst_key = d, key
        if not d <= REL_TOL:
            problems.append(f"{key}: reference {expected!r}, ours {mine!r} (relative {d:.3g})")
    return problems, worst, worst_key


def compare_trades(trades, ours):
    """The reference's `_trades` frame against our trade list: identical, field by field."""
    problems = []
    if len(trades) != len(ours):
        problems.append(f"trade count: reference {len(trades)}, ours {len(ours)}")
    for i, (row, mine) in enumerate(zip(trades.itertuples(index=False), ours)):
        row = row._asdict()
        for key, col in TRADE_KEYS.items():
            expected = plain(row[col])
            value = mine[key]
            if key in ("entry_time", "exit_time"):
                value = ours_time(value)
            if expected != value:
                problems.append(f"trade {i} {key}: reference {expected!r}, ours {value!r}")
                break
    return problems


def failure(e):
    """What went wrong in a case, for its FAIL line: a failed command's exit status and
    standard error, else the exception and where it was raised."""
    if isinstance(e, subprocess.CalledProcessError):
        return [f"tracectx backtest failed (exit status {e.returncode}): {(e.stderr or '').strip()}"]
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if os.path.abspath(f.filename) == os.path.abspath(__file__)]
    where = (ours or frames)[-1]
    return [f"{type(e).__name__}: {e} (at {os.path.basename(where.filename)}:{where.lineno})"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True, help="directory for the exported CSV files")
    parser.add_argument("--tracectx", default="target/release/tracectx",
                        help="the tracectx binary (cargo build --release -p tracectx-cli)")
    args = parser.parse_args()  # a usage error exits 2 here, before any check
    check = Checks()
    run_checks(check, lambda: run_cases(check, args))


def run_cases(check, args):
    import_reference()
    # Daily GOOG, hourly EURUSD and monthly BTCUSD (month bins, 12 periods a year), each
    # long-short and long-only with a commission of 0.2%; a spread on EURUSD; no commission
    # on GOOG.
    datasets = {"GOOG": (GOOG, 10_000), "EURUSD": (EURUSD, 100_000), "BTCUSD": (BTCUSD, 1_000_000)}
    cases = [(name, long_only, 0.0, 0.002) for name in datasets for long_only in (False, True)]
    cases += [("EURUSD", False, 0.0002, 0.002), ("GOOG", False, 0.0, 0.0)]

    exported = set()

    def export(name):
        """The dataset `name` as CSV, written once; returns its path."""
        path = os.path.join(args.work, f"{name}.csv")
        if name not in exported:
            datasets[name][0].to_csv(path, index_label="Date")
            exported.add(name)
        return path

    def report(label, problems, passed):
        """One check: the problems found, or `passed()` saying what held."""
        if problems:
            check(label, False, "".join(f"\n     {p}" for p in problems))
        else:
            check(f"{label}: {passed()}", True)

    for name, long_only, spread, commission in cases:
        data, cash = datasets[name]
        label = f"{name} {'long-only' if long_only else 'long-short'} cash={cash}"
        if spread:
            label += f" spread={spread}"
        if commission != 0.002:
            label += f" commission={commission}"
        got = None
        try:
            path = export(name)
            ref = reference(data, cash, long_only, spread, commission)
            got = ours(args.tracectx, path, cash, long_only, spread, commission)
            problems, worst = compare(ref, got)
        except Exception as e:  # any failure fails this case only
            problems = failure(e)
        report(label, problems, lambda: f"{len(got['trades'])} identical trades, "
               f"{len(STAT_KEYS)} statistics (largest relative difference {worst:.2g})")

    # A sweep: backtesting.py's own grid optimization (every combination of the grid that
    # the constraint keeps, its Sharpe ratio in the returned heat map) against `tracectx
    # sweep` ranked by Sharpe: the same combinations, each Sharpe within 1e-9, the same best.
    label = "GOOG sweep fast=5:20:5 slow=20:40:10 fast<slow"
    try:
        path = export("GOOG")
        bt = Backtest(GOOG, SmaCross, cash=10_000, commission=0.002, exclusive_orders=True)
        best, heatmap = bt.optimize(n1=range(5, 21, 5), n2=range(20, 41, 10),
                                    constraint=lambda p: p.n1 < p.n2,
                                    maximize="Sharpe Ratio", return_heatmap=True)
        want = {(int(n1), int(n2)): float(v) for (n1, n2), v in heatmap.items()}
        cmd = [args.tracectx, "sweep", "--json", "--data", path, "--strategy", "sma-cross",
               "--grid", "fast=5:20:5", "--grid", "slow=20:40:10", "--constraint", "fast<slow",
               "--cash", "10000", "--commission", "0.002", "--rank-by", "sharpe", "--top", "100"]
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        got = {(r["params"]["fast"], r["params"]["slow"]): r["stats"]["sharpe"]
               for r in out["results"]}
        problems = []
        if set(got) != set(want):
            problems.append(f"combinations: ours {sorted(got)}, reference {sorted(want)}")
        worst = 0.0
        for key in sorted(set(got) & set(want)):
            diff = rel_diff(got[key], want[key])
            worst = max(worst, diff)
            if not diff <= REL_TOL:
                problems.append(f"{key}: sharpe {got[key]!r} vs {want[key]!r}")
        first = out["results"][0]["params"] if out["results"] else {}
        if (first.get("fast"), first.get("slow")) != (best._strategy.n1, best._strategy.n2):
            problems.append(f"best: ours {first}, reference n1={best._strategy.n1} "
                            f"n2={best._strategy.n2}")
    except Exception as e:  # a failure fails this case only
        problems = failure(e)
    report(label, problems, lambda: f"{len(got)} combinations, the same Sharpe ratios "
           f"(largest relative difference {worst:.2g}) and the same best")


if __name__ == "__main__":
    main()
