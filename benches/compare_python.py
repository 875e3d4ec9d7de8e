"""Times one backtest session in backtesting.py 0.6.6, vectorbt and tracectx on one CSV.

Run by benches/compare_python.sh. The session is sma-cross 10/20, long-short, 10,000 cash,
no commission, whole units, fills at the next open:

- backtesting.py: `Backtest(data, SmaCross, cash=10_000, exclusive_orders=True).run()`,
  which computes the indicators, simulates and computes its statistics;
- vectorbt: the two rolling means and their crossings in pandas, then
  `Portfolio.from_signals` (signals shifted one bar, filled at the open, all cash, whole
  units, reversing on an opposite entry) and `Portfolio.stats()`; timed on a second run, after
  numba has compiled;
- tracectx: `tracectx backtest --json`, whose metadata records the session's wall time
  (signals, simulation, statistics and the data fingerprint, not the CSV load); the median
  of five runs. The whole process (CSV load included) is timed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import SMA  # noqa: E402


class SmaCross(Strategy):
    n1 = 10
    n2 = 20

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.sell()


def load(path):
    data = pd.read_csv(path, index_col=0, parse_dates=True)
    data.index = data.index.tz_localize(None)
    data.columns = [c.capitalize() for c in data.columns]
    return data


def run_backtesting(data):
    started = time.perf_counter()
    stats = Backtest(data, SmaCross, cash=10_000, exclusive_orders=True).run()
    return time.perf_counter() - started, int(stats["# Trades"])


def run_vectorbt(data):
    import vectorbt as vbt

    started = time.perf_counter()
    close = data["Close"]
    fast = close.rolling(10).mean()
    slow = close.rolling(20).mean()
    up = (fast.shift(1) < slow.shift(1)) & (fast > slow)
    down = (slow.shift(1) < fast.shift(1)) & (slow > fast)
    pf = vbt.Portfolio.from_signals(
        close,
        entries=up.shift(1, fill_value=False),
        short_entries=down.shift(1, fill_value=False),
        price=data["Open"],
        size=np.inf,
        size_granularity=1,
        init_cash=10_000,
        upon_opposite_entry="reverse",
        freq="1D",
    )
    stats = pf.stats()
    return time.perf_counter() - started, int(stats["Total Trades"])


def run_tracectx(binary, csv):
    sessions, processes = [], []
    trades = None
    for _ in range(5):
        started = time.perf_counter()
        out = subprocess.run(
            [binary, "backtest", "--json", "--data", csv, "--param", "fast=10",
             "--param", "slow=20", "--cash", "10000"],
            check=True, capture_output=True, text=True,
        ).stdout
        processes.append(time.perf_counter() - started)
        result = json.loads(out)
        sessions.append(result["metadata"]["wall_time_secs"])
        trades = result["stats"]["trades"]
    return statistics.median(sessions), statistics.median(processes), trades


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--tracectx", required=True)
    args = parser.parse_args()

    data = load(args.csv)
    print(f"{len(data):,} bars from {args.csv}")
    ours, ours_process, ours_trades = run_tracectx(args.tracectx, args.csv)
    print(f"tracectx backtest      session {ours * 1e3:9.1f} ms   "
          f"(whole process with CSV load {ours_process * 1e3:.0f} ms)   {ours_trades} trades")
    bt, bt_trades = run_backtesting(data)
    print(f"backtesting.py 0.6.6   session {bt * 1e3:9.1f} ms   {bt_trades} trades")
    run_vectorbt(data)  # numba compiles on the first run
    vb, vb_trades = run_vectorbt(data)
    print(f"vectorbt from_signals  session {vb * 1e3:9.1f} ms   {vb_trades} trades "
          f"(its own fill model: trade counts may differ)")
    print(f"ratio backtesting.py / tracectx: {bt / ours:7.0f}x   (goal: 500x)")
    print(f"ratio vectorbt / tracectx:       {vb / ours:7.1f}x   (goal: 10x)")


if __name__ == "__main__":
    main()
