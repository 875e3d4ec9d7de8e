"""Times one backtest session in backtesting.py 0.6.6, vectorbt and tracectx on one CSV.

Run by benches/compare_python.sh. The series is `Bars::synthetic(BARS, 42)` (written by the
`write_bars` example) made tradeable as `benches/backtest.rs` makes it (`tradeable` below:
the moves scaled down tenfold around 100, to four decimals, the same bits as the Rust side),
so that the strategy trades to the last bar instead of running out of cash early. The
session is sma-cross 10/20, long-short, 10,000 cash, no commission, whole units, fills at
the next open:

- backtesting.py: `Backtest(data, SmaCross, cash=10_000, exclusive_orders=True).run()`,
  which computes the indicators, simulates and computes its statistics;
- vectorbt: the two rolling means and their crossings in pandas, then
  `Portfolio.from_signals` (signals shifted one bar, filled at the open, all cash, whole
  units, reversing on an opposite entry) and `Portfolio.stats()`; timed on a second run, after
  numba has compiled;
- tracectx: the `time_session` example loads the CSV once and runs ten sessions
  (`BacktestEngine::run`: signals, simulation, statistics, metadata; not the CSV load) in one
  process; the session time compared is the median of the last five, once the allocator
  keeps the memory of earlier sessions (as criterion measures after its warm-up, and as
  vectorbt is timed after its compiling run). The first session of that process is shown too:
  it pays for the fresh memory of its results (the 8 MB equity curve, the trade list). So is
  `tracectx backtest --json` in a fresh process, its session time (from the result's
  metadata) and the whole process with the CSV load, the median of three runs.

With `--sweep-csv`, the 200-combination sweep of `benches/backtest.rs` (sma-cross, fast 5 to
50 by 5, slow 20 to 210 by 10, commission 0.1%, on `Bars::synthetic(50_000, 7)`) is timed too:
vectorbt's own broadcast sweep (`vbt.MA.run` of every window at once, the crossings of the
two broadcast frames, one `Portfolio.from_signals` over the 200 columns and its Sharpe ratios;
timed after numba compiled), against `tracectx sweep` on one core and on two (the sweep's own
wall time, from its first line).

tracectx and backtesting.py run the same execution model on the same signals: their closed
trade counts must be equal, and the script exits 1 (after printing everything) when they
are not. vectorbt's fill model differs (how it sizes a reversal, what it counts as a trade),
so its count is shown, not required to match.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import SMA  # noqa: E402

PRICE_COLUMNS = ["open", "high", "low", "close"]


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


def tradeable(prices):
    """`floor((100 + (p - 100) * 0.1) * 10^4 + 0.5) / 10^4`, one IEEE operation at a time, as
    `tradeable_bars` in benches/backtest.rs computes it."""
    return np.floor((100.0 + (prices - 100.0) * 0.1) * 10_000.0 + 0.5) / 10_000.0


def make_tradeable(raw_path, out_path):
    raw = pd.read_csv(raw_path, dtype={"date": str})
    for column in PRICE_COLUMNS:
        raw[column] = tradeable(raw[column].to_numpy(dtype=np.float64))
    raw.to_csv(out_path, index=False)


def load(path):
    data = pd.read_csv(path, index_col=0, parse_dates=True)
    data.index = data.index.tz_localize(None)
    data.columns = [c.capitalize() for c in data.columns]
    return data


def run_backtesting(data):
    started = time.perf_counter()
    stats = Backtest(data, SmaCross, cash=10_000, exclusive_orders=True).run()
    return time.perf_counter() - started, int(stats["# Trades"]), float(stats["Equity Final [$]"])


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


FAST = list(range(5, 51, 5))
SLOW = list(range(20, 211, 10))


def run_vectorbt_sweep(data):
    import vectorbt as vbt

    started = time.perf_counter()
    close = data["Close"]
    fast = vbt.MA.run(close, window=np.repeat(FAST, len(SLOW)), short_name="fast")
    slow = vbt.MA.run(close, window=np.tile(SLOW, len(FAST)), short_name="slow")
    up = fast.ma_crossed_above(slow)
    down = fast.ma_crossed_below(slow)
    pf = vbt.Portfolio.from_signals(
        close,
        entries=up.vbt.fshift(1, fill_value=False),
        short_entries=down.vbt.fshift(1, fill_value=False),
        price=data["Open"],
        size=np.inf,
        size_granularity=1,
        init_cash=10_000,
        fees=0.001,
        upon_opposite_entry="reverse",
        freq="1D",
    )
    sharpe = pf.sharpe_ratio()
    return time.perf_counter() - started, len(sharpe)


def run_tracectx_sweep(binary, csv, cores):
    times = []
    for _ in range(5):
        out = subprocess.run(
            [binary, "sweep", "--data", csv, "--grid", "fast=5:50:5", "--grid",
             "slow=20:210:10", "--commission", "0.001", "--concurrency", str(cores),
             "--top", "3"],
            check=True, capture_output=True, text=True,
        ).stdout
        # "sweep ID: N sessions (...) in 159.8 ms, ..." (or "in 1.23 s" from a second on)
        value, unit = out.splitlines()[0].split(" in ")[1].split(",")[0].split()
        times.append(float(value) / (1e3 if unit == "ms" else 1.0))
    return statistics.median(times)


def run_sessions(binary, csv):
    out = subprocess.run([binary, csv, "10"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    times = report["wall_time_secs"]
    return (statistics.median(times[5:]), times[0], report["trades"], report["equity_final"])


def run_tracectx(binary, csv):
    sessions, processes = [], []
    result = None
    for _ in range(3):
        started = time.perf_counter()
        out = subprocess.run(
            [binary, "backtest", "--json", "--data", csv, "--param", "fast=10",
             "--param", "slow=20", "--cash", "10000"],
            check=True, capture_output=True, text=True,
        ).stdout
        processes.append(time.perf_counter() - started)
        result = json.loads(out)
        sessions.append(result["metadata"]["wall_time_secs"])
    stats = result["stats"]
    return (statistics.median(sessions), statistics.median(processes), stats["trades"],
            stats["equity_final"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True, help="the series all three engines read")
    parser.add_argument("--synthetic", metavar="RAW_CSV",
                        help="write --csv first: this CSV (from write_bars) made tradeable")
    parser.add_argument("--tracectx", required=True, help="the tracectx command line")
    parser.add_argument("--sessions", required=True, help="the time_session example")
    parser.add_argument("--sweep-csv", metavar="CSV",
                        help="also time the 200-combination sweep on this series")
    args = parser.parse_args()

    if args.sweep_csv:
        sweep_data = load(args.sweep_csv)
        one = run_tracectx_sweep(args.tracectx, args.sweep_csv, 1)
        two = run_tracectx_sweep(args.tracectx, args.sweep_csv, 2)
        run_vectorbt_sweep(sweep_data)  # numba compiles on the first run
        vb_sweep, columns = run_vectorbt_sweep(sweep_data)
        print(f"sweep of 200 combinations on {len(sweep_data):,} bars: tracectx "
              f"{one * 1e3:.1f} ms on 1 core, {two * 1e3:.1f} ms on 2 cores (medians of 5); "
              f"vectorbt broadcast {vb_sweep * 1e3:.1f} ms ({columns} columns)")
        print(f"ratio vectorbt broadcast sweep / tracectx sweep: {vb_sweep / one:.1f}x on 1 core, "
              f"{vb_sweep / two:.1f}x on 2 cores")

    if args.synthetic:
        make_tradeable(args.synthetic, args.csv)
    data = load(args.csv)
    n = len(data)
    print(f"{n:,} bars from {args.csv} (close {data['Close'].min():.4f} to "
          f"{data['Close'].max():.4f})")
    ours, first, ours_trades, ours_final = run_sessions(args.sessions, args.csv)
    cli, cli_process, cli_trades, cli_final = run_tracectx(args.tracectx, args.csv)
    print(f"tracectx session       session {ours * 1e3:9.1f} ms  {n / ours / 1e6:6.1f} M bars/s   "
          f"(median of sessions 6-10 in one process)   {ours_trades:,} trades")
    print(f"                       first   {first * 1e3:9.1f} ms  {n / first / 1e6:6.1f} M bars/s   "
          f"(the first session of that process)")
    print(f"tracectx backtest      session {cli * 1e3:9.1f} ms  {n / cli / 1e6:6.1f} M bars/s   "
          f"(a fresh process; whole process with CSV load {cli_process * 1e3:.0f} ms)   "
          f"{cli_trades:,} trades")
    bt, bt_trades, bt_final = run_backtesting(data)
    print(f"backtesting.py 0.6.6   session {bt * 1e3:9.1f} ms  {n / bt / 1e6:6.3f} M bars/s   "
          f"{bt_trades:,} trades")
    run_vectorbt(data)  # numba compiles on the first run
    vb, vb_trades = run_vectorbt(data)
    print(f"vectorbt from_signals  session {vb * 1e3:9.1f} ms  {n / vb / 1e6:6.2f} M bars/s   "
          f"{vb_trades:,} trades (its own fill model: not required to match)")
    print(f"ratio backtesting.py / tracectx: {bt / ours:7.0f}x   (goal: 500x; first session "
          f"{bt / first:.0f}x, fresh command line {bt / cli:.0f}x)")
    print(f"ratio vectorbt / tracectx:       {vb / ours:7.1f}x   (goal: 10x; first session "
          f"{vb / first:.1f}x, fresh command line {vb / cli:.1f}x)")

    def same(a, b):
        return a == b or abs(a - b) <= 1e-9 * abs(b)

    same_final = same(ours_final, bt_final) and same(cli_final, bt_final)
    if ours_trades != bt_trades or cli_trades != bt_trades or not same_final:
        print(f"FAIL: tracectx and backtesting.py disagree on the same signals: "
              f"{ours_trades:,} (command line {cli_trades:,}) vs {bt_trades:,} closed trades, "
              f"final equity {ours_final!r} (command line {cli_final!r}) vs {bt_final!r}",
              file=sys.stderr)
        return 1
    print(f"ok   tracectx and backtesting.py agree: {ours_trades:,} closed trades, "
          f"final equity {ours_final:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
