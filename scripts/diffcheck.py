"""Differential check of the backtest engine against backtesting.py 0.6.6 on generated data.

Run by scripts/diffcheck.sh inside the virtual environment crosscheck.sh makes (it has
backtesting==0.6.6). Where crosscheck.py runs one strategy on the reference's own three data
sets, this generates many cases from a fixed seed, each a CSV file of bars a user could have
and one set of settings, runs SmaCross in backtesting.py (`Backtest(..., exclusive_orders=True)`)
and `tracectx backtest --json --equity` on the same bars, and compares them with
crosscheck.py's `compare_stats` and `compare_trades`: identical trade lists, every statistic
within 1e-9 relative, undefined (NaN or infinite) in Python exactly where ours is `null`;
and the equity curve mark by mark, exactly. Every tenth case also runs `tracectx sweep` over
a few windows around its own (fast >= slow among them) and compares every session's
statistics with the reference's run of those windows.

What varies, case by case:

- length: a handful of bars (fewer than the windows, exactly a window, one more) to
  thousands, and now and then more than 65,536 (where a session computes its statistics on
  a second thread);
- calendar: daily with and without weekends (and holidays), daily stamped at a close that
  moves with daylight saving time, hours (round the clock on weekdays, or a session with
  overnight gaps), minutes, seconds and milliseconds in a session, irregular gaps, weekly,
  monthly (month ends and month starts), yearly;
- prices: levels from 1e-6 to 1e9 (moving within two orders of magnitude of the first),
  a few or many decimals (so that closes tie and averages tie), flat stretches, quiet markets
  (5 to 8 significant digits moving a few ticks a bar, low costs: a ratio's rounding is a
  large part of its logarithm, the mean daily return is near 0), gaps up and down through
  the opening, spikes that ruin a short (equity to zero or below);
- the strategy: windows from 1 to 60 with fast > slow and fast == slow among them,
  long-short and long-only;
- the account: commission 0, small, large and negative (a rebate), a spread, cash below one
  unit's price, cash on a multiple of a price (where whole-unit sizing rounds), cash up to
  1e12;
- the CSV file: times as dates, ISO date-times (with `T`, with `Z`), epoch seconds or
  milliseconds, `YYYYMMDD`, or a date and a time column; columns in any order, headers in
  either case;
- `--close-at-end`, our extra (see below).

Where backtesting.py does something the engine deliberately does otherwise, the case compares
what both promise and counts the difference as known (the summary says how many):

- `--close-at-end` closes the trades still open at the last bar's close. The reference's
  `finalize_trades=True` reruns its broker on the last bar instead: it fills them (and any
  order decided on that bar) at the last bar's open, after that bar was marked at its close.
  So the case runs the reference without it and requires our trades to be the reference's
  closed trades, then each of its open trades closed at the last close, and our final equity
  its final equity less the exits' commissions; the other statistics are not compared.
- With no drawdown period (the equity below its peak on the last bar only), the reference's
  drawdown "durations" are the drawdown fractions themselves (floats, not durations); ours
  are undefined (`null`). Its mean drawdown (of the non-zero drawdowns) is compared as usual.
- Beta (and alpha) when the covariance cancels to about zero: see `beta_near_zero`.
- numpy's `exp` and `log` for CPUs with AVX-512 are switched off (see `NUMPY_SIMD`), so that
  the reference computes as on a CPU without it. With them on (DIFFCHECK_NUMPY_SIMD=1) the
  annualised figures, when the geometric mean daily return is near zero or the daily
  returns barely vary, and the mean trade, when near zero, are compared allowing an ulp of
  1 in that mean: see `annualised_near_zero` and `trade_mean_near_zero`.
- An account whose value goes past what a float holds (a strategy compounding over 90,000
  bars): ours refuses the run with an error, the reference goes on with NaN figures or
  fails sizing an order.

Every case prints one line; a failing one prints its differences, keeps its CSV file and
the case as JSON under `--keep`, and says how to run it alone (`--case N`, or `--replay
FILE.json` whatever the generator has become). The summary gives the cases run, the trades
and sweep sessions compared, the largest relative difference of a statistic in a passing
case, the known differences and what the cases exercised (ruin, cancelled orders, tied
averages, a mean daily return near 0 ...); the last line is `N passed, N failed`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crosscheck  # noqa: E402  (the comparison, the reference strategy, failure reports)
from checklib import Checks, run_checks  # noqa: E402

# numpy's own `exp` and `log` for CPUs with AVX-512 differ from the C library's by an ulp on
# a few inputs in a hundred near 1, so the reference's last bits depend on the CPU. Unless
# DIFFCHECK_NUMPY_SIMD=1, that code is switched off before numpy is imported (numpy 1.x and
# 2.x names): the reference then computes as on any CPU without AVX-512, with the C
# library's functions, as ours does, and the comparison needs no allowance for them.
NUMPY_SIMD = os.environ.get("DIFFCHECK_NUMPY_SIMD") == "1"
if not NUMPY_SIMD:
    os.environ["NPY_DISABLE_CPU_FEATURES"] = (
        "X86_V4 AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR")

CALENDARS = (
    "daily-weekdays",
    "daily-all",
    "daily-dst",
    "irregular",
    "hourly-fx",
    "hourly-session",
    "minutes",
    "seconds",
    "milliseconds",
    "weekly",
    "month-end",
    "month-start",
    "yearly",
)


# === bar times ===


def bar_times(calendar, n, rng):
    """`n` increasing naive datetimes of `calendar`, from a random start."""
    start = dt.datetime(rng.randint(1995, 2020), rng.randint(1, 12), rng.randint(1, 28))
    out = []
    if calendar in ("daily-weekdays", "daily-all"):
        day = start
        holidays = rng.choice((0.0, 0.0, 0.03))
        while len(out) < n:
            if (calendar == "daily-all" or day.weekday() < 5) and rng.random() >= holidays:
                out.append(day)
            day += dt.timedelta(days=1)
    elif calendar == "daily-dst":
        # Daily bars stamped at the close of New York in UTC: 21:00 in summer, 22:00 in
        # winter, so that consecutive bars are 23, 24 or 25 hours apart.
        day = start
        while len(out) < n:
            if day.weekday() < 5:
                out.append(day.replace(hour=21 if 4 <= day.month <= 10 else 22))
            day += dt.timedelta(days=1)
    elif calendar == "irregular":
        # Gaps of any length (ticks, pauses, days off): the period is a median of odd values.
        t = start
        scale = rng.choice((1, 60, 3600, 86400))
        while len(out) < n:
            out.append(t)
            t += dt.timedelta(seconds=rng.randint(1, 5) * scale + rng.randint(0, 59),
                              microseconds=rng.choice((0, 0, rng.randint(1, 999_999))))
    elif calendar == "hourly-fx":
        # Round the clock from Sunday 22:00 to Friday 21:00 (the FX week).
        t = start.replace(hour=0)
        while len(out) < n:
            wd, h = t.weekday(), t.hour
            closed = wd == 5 or (wd == 4 and h >= 22) or (wd == 6 and h < 22)
            if not closed:
                out.append(t)
            t += dt.timedelta(hours=1)
    elif calendar == "hourly-session":
        day = start
        while len(out) < n:
            if day.weekday() < 5:
                out.extend(day.replace(hour=h) for h in range(9, 17))
            day += dt.timedelta(days=1)
    elif calendar in ("minutes", "seconds", "milliseconds"):
        step, session = {
            "minutes": (dt.timedelta(minutes=rng.choice((1, 5, 15, 30))), dt.timedelta(hours=6.5)),
            "seconds": (dt.timedelta(seconds=rng.choice((1, 10, 30))), dt.timedelta(minutes=20)),
            "milliseconds": (dt.timedelta(milliseconds=rng.choice((100, 250))),
                             dt.timedelta(seconds=90)),
        }[calendar]
        day = start
        while len(out) < n:
            if day.weekday() < 5:
                t = day.replace(hour=9, minute=30)
                end = t + session
                while t < end and len(out) < n:
                    out.append(t)
                    t += step
            day += dt.timedelta(days=1)
    elif calendar == "weekly":
        day = start
        while len(out) < n:
            out.append(day)
            day += dt.timedelta(days=7)
    elif calendar in ("month-end", "month-start"):
        y, m = start.year, start.month
        while len(out) < n:
            if calendar == "month-start":
                out.append(dt.datetime(y, m, 1))
            else:
                ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
                out.append(dt.datetime(ny, nm, 1) - dt.timedelta(days=1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    elif calendar == "yearly":
        out = [dt.datetime(start.year - 200 + k, 1, 1) for k in range(n)]
    else:
        raise ValueError(calendar)
    return out[:n]


# === prices ===


def round_to(value, decimals, floor_tick):
    """`value` rounded to `decimals` (negative: tens, hundreds), never below one tick."""
    return max(round(value, decimals), floor_tick)


def bar_prices(n, rng, features):
    """Open, high, low and close lists of `n` positive bars with consistent ranges."""
    level = 10 ** rng.choice((rng.uniform(-6, -1), rng.uniform(0, 3), rng.uniform(0, 3),
                              rng.uniform(1, 3), rng.uniform(4, 9)))
    # Significant digits: few (ties, equal closes) to many.
    digits = rng.choice((1, 2, 3, 4, 6))
    decimals = digits - math.floor(math.log10(level))
    tick = 10.0 ** -decimals
    vol = rng.choice((0.002, 0.01, 0.02, 0.05))
    drift = rng.uniform(-0.3, 0.3) * vol
    quiet_decimals = rng.choice((5, 6, 7, 8)) - math.floor(math.log10(level))
    quiet_tick = 10.0 ** -quiet_decimals
    o, h, lo, c = [], [], [], []
    price = level
    flat_left = 0
    for i in range(n):
        if "flat" in features and flat_left == 0 and rng.random() < 0.03:
            flat_left = rng.randint(3, 40)
        if "quiet" in features:
            # Prices of many digits moving a few ticks a bar (a cent on 65,432.12): trades
            # that gain or lose next to nothing, moves where a ratio's rounding is a large
            # part of its logarithm, a mean daily return near 0.
            prev = c[-1] if c else round_to(level, quiet_decimals, quiet_tick)
            step = rng.choice((0, 0, -3, -2, -1, 1, 2, 3)) * quiet_tick
            close = round_to(prev + step, quiet_decimals, quiet_tick)
            open_ = prev if rng.random() < 0.7 else round_to(prev + quiet_tick, quiet_decimals,
                                                             quiet_tick)
            o.append(open_), h.append(max(open_, close)), lo.append(min(open_, close))
            c.append(close)
            continue
        if flat_left:
            flat_left -= 1
            p = c[-1] if c else round_to(price, decimals, tick)
            o.append(p), h.append(p), lo.append(p), c.append(p)
            continue
        # Trends that last a while, so that the averages cross back and forth, within two
        # orders of magnitude of the first price (as a market's prices stay).
        if rng.random() < 0.05:
            drift = rng.uniform(-1, 1) * vol
        prev_close = c[-1] if c else price
        if prev_close > 100 * level:
            drift = -abs(drift) or -vol
        elif prev_close < level / 100:
            drift = abs(drift) or vol
        open_ = prev_close * math.exp(rng.gauss(0, vol / 4))
        if "gaps" in features and rng.random() < 0.04:
            open_ = prev_close * (1 + rng.choice((-1, 1)) * rng.uniform(0.03, 0.25))
        if "spike" in features and rng.random() < 0.01:
            open_ = prev_close * rng.choice((2.5, 4.0, 0.3))
        close = open_ * math.exp(drift + rng.gauss(0, vol))
        open_ = round_to(open_, decimals, tick)
        close = round_to(close, decimals, tick)
        top, bottom = max(open_, close), min(open_, close)
        high = round_to(top * (1 + abs(rng.gauss(0, vol / 2))), decimals, tick)
        low = round_to(bottom * (1 - abs(rng.gauss(0, vol / 2))), decimals, tick)
        high, low = max(high, top), min(low, bottom)
        o.append(open_), h.append(high), lo.append(low), c.append(close)
        price = close
    return o, h, lo, c


# === cases ===


def make_case(index, seed):
    """Case `index` of the run seeded `seed`: a dict of its bars and settings."""
    rng = random.Random(f"{seed}:{index}")
    fast = rng.choice((1, 2, 3, 5, 10, rng.randint(2, 30), rng.randint(2, 60)))
    slow = rng.choice((fast, rng.randint(2, 60), rng.randint(fast, 60), 20, 50))
    window = max(fast, slow)
    size_kind = rng.random()
    if size_kind < 0.25:
        n = max(1, window + rng.choice((-window, -2, -1, 0, 1, 2, 3)))
    elif size_kind < 0.65:
        n = rng.randint(window + 3, 600)
    elif size_kind < 0.94:
        n = rng.randint(600, 3000)
    elif size_kind < 0.99:
        n = rng.randint(3000, 8000)
    else:
        # Past 65,536 bars a session takes a second thread for its statistics.
        n = rng.randint(65_536, 100_000)
    calendar = rng.choice(CALENDARS if n < 10_000 else
                          ("daily-all", "hourly-fx", "minutes", "seconds", "irregular"))
    if calendar == "yearly":
        n = min(n, 150)
    features = {f for f in ("flat", "gaps", "spike") if rng.random() < 0.3}
    if rng.random() < 0.08:
        features = {"quiet"}
    times = bar_times(calendar, n, rng)
    o, h, lo, c = bar_prices(n, rng, features)
    commission = rng.choice((0.0, 0.0, 0.0001, 0.001, 0.002, 0.01, 0.05, 0.099, -0.001))
    spread = rng.choice((0.0, 0.0, 0.0, 0.0002, 0.001, 0.01))
    if "quiet" in features:
        # Costs that do not swamp the quiet market's moves.
        commission, spread = rng.choice((0.0, 0.0, 1e-5)), rng.choice((0.0, 0.0, 1e-5))
    money = rng.random()
    if money < 0.1:
        # Less than one unit costs.
        cash = float(f"{c[0] * rng.uniform(0.2, 1.5):.4g}")
    elif money < 0.3:
        # A whole number of some bar's open, with its costs: sizing on a knife's edge.
        p = o[rng.randrange(n)]
        cash = p * rng.randint(1, 500) * rng.choice((1.0, 1 + commission, 1 + commission + spread))
    else:
        cash = rng.choice((1_000.0, 10_000.0, 100_000.0, 1e6, 12_345.67, 1e9, 1e12))
    if cash <= 0 or not math.isfinite(cash):
        cash = 10_000.0
    case = {
        "seed": seed,
        "index": index,
        "n": n,
        "calendar": calendar,
        "features": sorted(features),
        "times": times,
        "open": o, "high": h, "low": lo, "close": c,
        "volume": [rng.randint(0, 10**6) for _ in range(n)] if rng.random() < 0.5 else None,
        "fast": fast,
        "slow": slow,
        "long_only": rng.random() < 0.3,
        "cash": cash,
        "commission": commission,
        "spread": spread,
        "close_at_end": rng.random() < 0.15,
    }
    # Drawn apart, so that the bars and settings above do not depend on it.
    case["csv"] = csv_layout(case, random.Random(f"{seed}:{index}:csv"))
    return case


def label(case):
    parts = [
        f"case {case['index']}:",
        f"{case['n']} {case['calendar']} bars",
        f"fast={case['fast']} slow={case['slow']}",
        "long-only" if case["long_only"] else "long-short",
        f"cash={case['cash']!r}",
        f"commission={case['commission']!r}",
    ]
    if case["spread"]:
        parts.append(f"spread={case['spread']!r}")
    if case["close_at_end"]:
        parts.append("close-at-end")
    if case["features"]:
        parts.append("+".join(case["features"]))
    if case.get("csv"):
        parts.append(f"[{case['csv']['time']} times]")
    return " ".join(parts)


TIME_FORMATS = ("iso", "iso", "iso-t", "iso-z", "epoch-s", "epoch-ms", "compact", "date+time")


def csv_layout(case, rng):
    """How the case's CSV file is written: a time format its times allow, the columns in some
    order, the header in some case."""
    times = case["times"]
    midnight = all(t.hour == t.minute == t.second == t.microsecond == 0 for t in times)
    whole_seconds = all(t.microsecond == 0 for t in times)
    whole_millis = all(t.microsecond % 1000 == 0 for t in times)
    # Epoch milliseconds below 10^11 in magnitude read as seconds (1967 to 1973): none there.
    near_epoch = any(abs(t.year - 1970) <= 4 for t in times)
    allowed = [f for f in TIME_FORMATS
               if (f != "epoch-s" or whole_seconds) and (f != "epoch-ms" or whole_millis)
               and not (f.startswith("epoch") and near_epoch)
               and (f != "compact" or midnight) and (f != "date+time" or whole_seconds)]
    columns = ["Open", "High", "Low", "Close"] + (["Volume"] if case["volume"] else [])
    if rng.random() < 0.3:
        rng.shuffle(columns)
    return {"time": rng.choice(allowed), "columns": columns, "lower": rng.random() < 0.3}


def write_csv(case, path):
    """The case's bars as CSV, every price written so that it reads back to the same float,
    the times in the case's format (naive times are UTC on our side, and `Z` says so)."""
    layout = case.get("csv") or {"time": "iso", "columns": ["Open", "High", "Low", "Close"]
                                 + (["Volume"] if case["volume"] else []), "lower": False}
    fmt = layout["time"]
    midnight = all(t.hour == t.minute == t.second == t.microsecond == 0 for t in case["times"])
    epoch = dt.datetime(1970, 1, 1)

    def stamp(t):
        if fmt in ("epoch-s", "epoch-ms"):
            micros = (t - epoch) // dt.timedelta(microseconds=1)
            return str(micros // (1_000_000 if fmt == "epoch-s" else 1_000))
        if fmt == "compact":
            return t.strftime("%Y%m%d")
        if fmt == "date+time":
            return t.strftime("%Y-%m-%d,%H:%M:%S")
        if midnight and fmt == "iso":
            return t.strftime("%Y-%m-%d")
        text = t.strftime("%Y-%m-%dT%H:%M:%S" if fmt != "iso" else "%Y-%m-%d %H:%M:%S")
        if t.microsecond:
            text += f".{t.microsecond:06d}"
        return text + ("Z" if fmt == "iso-z" else "")

    header = (["Date", "Time"] if fmt == "date+time" else ["Date"]) + layout["columns"]
    if layout["lower"]:
        header = [h.lower() for h in header]
    column = {"Open": "open", "High": "high", "Low": "low", "Close": "close"}
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for i, t in enumerate(case["times"]):
            row = [stamp(t)]
            for name in layout["columns"]:
                row.append(str(case["volume"][i]) if name == "Volume"
                           else repr(case[column[name]][i]))
            f.write(",".join(row) + "\n")


def frame(case):
    pd = crosscheck.pd
    data = pd.DataFrame(
        {"Open": case["open"], "High": case["high"], "Low": case["low"], "Close": case["close"]},
        index=pd.DatetimeIndex(case["times"]),
    )
    if case["volume"]:
        data["Volume"] = [float(v) for v in case["volume"]]
    return data


def command(tracectx, case, path, grid=None):
    """`tracectx backtest` of the case, or `tracectx sweep` over `grid` ((fasts, slows))."""
    cmd = [tracectx, "sweep" if grid else "backtest", "--json", "--data", path,
           "--strategy", "sma-cross"]
    if grid:
        cmd += ["--grid", "fast=" + ",".join(map(str, grid[0])),
                "--grid", "slow=" + ",".join(map(str, grid[1])),
                "--top", "1000", "--concurrency", "1"]
    else:
        cmd += ["--param", f"fast={case['fast']}", "--param", f"slow={case['slow']}"]
    cmd += ["--cash", repr(case["cash"]), "--commission", repr(case["commission"])]
    if case["spread"]:
        cmd += ["--spread", repr(case["spread"])]
    if case["long_only"]:
        cmd.append("--long-only")
    if case["close_at_end"]:
        cmd.append("--close-at-end")
    return cmd


def reference(case, fast=None, slow=None):
    """backtesting.py's run of the case (never with `finalize_trades`: see the module docs),
    and whether its broker cancelled an order for want of cash."""
    bt = crosscheck.Backtest(
        frame(case), crosscheck.SmaCross, cash=case["cash"], commission=case["commission"],
        spread=case["spread"], exclusive_orders=True,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = bt.run(n1=fast or case["fast"], n2=slow or case["slow"],
                       long_only=case["long_only"])
    cancelled = any("canceled" in str(w.message) for w in caught)
    return stats, cancelled


def coverage(case, ref, cancelled, tally):
    """Counts what the case exercised, for the summary."""
    np = crosscheck.np
    seen = tally["seen"]

    def saw(what, yes=True):
        seen[what] = seen.get(what, 0) + bool(yes)

    saw("fewer bars than a window", case["n"] < max(case["fast"], case["slow"]))
    saw("fast > slow", case["fast"] > case["slow"])
    saw("fast == slow", case["fast"] == case["slow"])
    saw("an order cancelled for want of cash", cancelled)
    saw("ruined (equity to zero)", float(ref["Equity Final [$]"]) == 0.0)
    saw("trades left open at the end", len(ref["_strategy"].trades))
    if case["n"] > 1:
        g = daily_returns(ref)[2]
        saw("a mean daily return below 1e-6, not 0", 0 < abs(g) < 1e-6)
    trades = ref["_trades"]
    sizes = trades["Size"].to_numpy(dtype=float)
    saw("sizes beyond 2^53 units", np.any(np.abs(sizes) > 2.0**53))
    saw("an entry closing and reopening the same side",
        np.any((np.sign(sizes[1:]) == np.sign(sizes[:-1]))
               & (trades["ExitBar"].to_numpy()[:-1] == trades["EntryBar"].to_numpy()[1:])))
    strategy = ref["_strategy"]
    f, s = np.asarray(strategy.sma1, dtype=float), np.asarray(strategy.sma2, dtype=float)
    both = ~np.isnan(f) & ~np.isnan(s)
    saw("averages tied on a bar", case["fast"] != case["slow"] and np.any(f[both] == s[both]))


def drawdown_fractions_as_durations(ref):
    """The reference with its drawdown "durations" undefined when they are drawdown fractions
    (no drawdown period: see the module docs), and whether they were."""
    pd = crosscheck.pd
    names = ("Max. Drawdown Duration", "Avg. Drawdown Duration")
    quirk = any(isinstance(ref[k], float) and not pd.isna(ref[k]) for k in names)
    if not quirk:
        return ref, False
    ref = ref.copy()
    for k in names:
        ref[k] = float("nan")
    return ref, True


def record_worst(tally, worst, key, case, windows=None):
    if worst > tally["worst"][0]:
        where = f"case {case['index']}" + (f" sweep {windows}" if windows else "")
        tally["worst"] = (worst, f"{key}, {where}")


def beta_near_zero(ref, stats, problems, notes):
    """`problems` less beta's (and alpha's) when beta is a covariance that cancels to about
    zero: there each side's rounding decides the value (the reference takes logarithms of
    rounded ratios, ours of exact ones), so beta is compared on the scale it would have if
    the series moved together, `sd(x) / sd(y)`, within the same 1e-9, and alpha on that
    scale times the buy-and-hold return. Returns the problems left and whether beta was
    compared so."""
    np = crosscheck.np
    keys = {"beta", "alpha_pct"}
    if not any(p.split(":")[0] in keys for p in problems):
        return problems, False
    ref_beta, ours_beta = ref["Beta"], stats["beta"]
    if ours_beta is None or not np.isfinite(ref_beta):
        return problems, False
    equity = ref["_equity_curve"]["Equity"].values
    close = ref["_strategy"].data.Close
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(equity[1:] / equity[:-1])
        y = np.log(close[1:] / close[:-1])
    scale = np.sqrt(np.var(x, ddof=1) / np.var(y, ddof=1))
    near_zero = scale > 0 and abs(ref_beta) <= 1e-6 * scale
    if not near_zero or abs(ref_beta - ours_beta) > crosscheck.REL_TOL * scale:
        return problems, False
    bh = abs(float(ref["Buy & Hold Return [%]"]))
    ref_alpha, ours_alpha = ref["Alpha [%]"], stats["alpha_pct"]
    alpha_scale = max(abs(ref_alpha), abs(ours_alpha or 0.0), scale * bh)
    if ours_alpha is None or abs(ref_alpha - ours_alpha) > crosscheck.REL_TOL * alpha_scale:
        return problems, False
    notes.append("beta within rounding of zero")
    return [p for p in problems if p.split(":")[0] not in keys], True


def daily_returns(ref):
    """The reference's daily (or weekly, monthly, yearly) returns, periods a year and
    geometric mean return, as `compute_stats` finds them."""
    from backtesting._stats import geometric_mean
    from backtesting._util import _data_period

    equity = ref["_equity_curve"]["Equity"]
    index = equity.index
    freq_days = _data_period(index).days
    have_weekends = index.dayofweek.to_series().between(5, 6).mean() > 2 / 7 * .6
    annual = {7: 52, 31: 12, 365: 1}.get(freq_days, 365 if have_weekends else 252)
    freq = {7: "W", 31: "ME", 365: "YE"}.get(freq_days, "D")
    returns = equity.resample(freq).last().dropna().pct_change().dropna()
    return returns, annual, geometric_mean(returns)


ANNUALISED = {
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
}


def annualised_near_zero(ref, stats, problems, notes):
    """With numpy's AVX-512 code on (DIFFCHECK_NUMPY_SIMD=1), `problems` less the annualised
    figures' when an ulp of 1 in the geometric mean daily return
    `g = exp(mean ln(1 + r)) - 1` explains them. The reference's `exp` and `log` are
    numpy's, which on a CPU with AVX-512 differ from the C library's by an ulp for some
    inputs (a few in a hundred near 1; without AVX-512 numpy calls the C library, as ours
    does), so its `g` may be an ulp of 1 off ours. That is more than 1e-9 of the annualised
    return when `g` is below 1e-7, and of the volatility when the daily returns' variance is
    tiny (`(var + (1 + g)^2)^N - (1 + g)^2N` cancels): the same run gives figures 1e-9
    apart on two machines. So these figures are compared with the reference's own formulas
    evaluated at its `g` moved by up to four ulps of 1: some one `g` must give all five
    within 1e-9. Returns the problems left and whether that was needed."""
    np = crosscheck.np
    if not NUMPY_SIMD or not any(p.split(":")[0] in ANNUALISED for p in problems):
        return problems, False
    day_returns, annual, g_ref = daily_returns(ref)
    equity = ref["_equity_curve"]["Equity"].values
    variance = day_returns.var(ddof=1)
    downside = np.sqrt(np.mean(day_returns.clip(-np.inf, 0) ** 2)) * np.sqrt(annual)
    dd = 1 - equity / np.maximum.accumulate(equity)
    max_dd = -np.nan_to_num(dd.max())

    def figures(g):
        """The five figures at `g`, as `compute_stats` computes them."""
        annualized = (1 + g) ** annual - 1
        vol = np.sqrt((variance + (1 + g) ** 2) ** annual - (1 + g) ** (2 * annual)) * 100
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "return_ann_pct": annualized * 100,
                "volatility_ann_pct": vol,
                "sharpe": annualized * 100 / (vol or np.nan),
                "sortino": annualized / downside,
                "calmar": annualized / (-max_dd or np.nan),
            }

    def agrees(want, got):
        want = crosscheck.plain(want)
        if want is None or got is None:
            return want is got
        return crosscheck.rel_diff(want, got) <= crosscheck.REL_TOL

    # The formulas give the reference's own figures at its own `g`, or this proves nothing.
    if not all(agrees(v, crosscheck.plain(ref[ANNUALISED[k]]))
               for k, v in figures(g_ref).items()):
        return problems, False
    ulp = 2.0 ** -53
    if not any(all(agrees(v, stats[k]) for k, v in figures(g_ref + j * ulp).items())
               for j in range(-4, 5)):
        return problems, False
    notes.append("annualised figures an ulp of 1 off in the mean daily return")
    return [p for p in problems if p.split(":")[0] not in ANNUALISED], True


def trade_mean_near_zero(ref, stats, problems, notes):
    """With numpy's AVX-512 code on, `problems` less the mean trade's when the trades'
    geometric mean return is so near 0 that an ulp of 1 is more than 1e-10 of it: the same
    `exp(mean ln(1 + r)) - 1` as in `annualised_near_zero`, on the trades' returns. Compared at the reference's mean moved
    by up to four ulps of 1. Returns the problems left and whether that was needed."""
    if not NUMPY_SIMD or not any(p.split(":")[0] == "avg_trade_pct" for p in problems):
        return problems, False
    from backtesting._stats import geometric_mean

    g_ref = geometric_mean(ref["_trades"]["ReturnPct"])
    ours = stats["avg_trade_pct"]
    if not 0 < abs(g_ref) < 1e-6 or ours is None:
        return problems, False
    ulp = 2.0 ** -53
    if not any(crosscheck.rel_diff((g_ref + j * ulp) * 100, ours) <= crosscheck.REL_TOL
               for j in range(-4, 5)):
        return problems, False
    notes.append("mean trade within an ulp of a zero return")
    return [p for p in problems if p.split(":")[0] != "avg_trade_pct"], True


def closed_at_end(case, ref, got):
    """`--close-at-end` against the reference run without it, when trades were left open:
    ours are its closed trades, then each open one closed at the last close with the
    semantics' costs; our final equity is its own less the exits' commissions. Returns the
    problems."""
    n = case["n"]
    c = case["commission"]
    last_close = case["close"][-1]
    closed = ref["_trades"]
    still_open = list(ref["_strategy"].trades)
    ours = got["trades"]
    problems = crosscheck.compare_trades(closed, ours[:len(closed)])
    extra = ours[len(closed):]
    if len(extra) != len(still_open):
        problems.append(f"{len(still_open)} trades left open by the reference, "
                        f"{len(extra)} closed at the end by ours")
    exit_fees = 0.0
    for k, (t, mine) in enumerate(zip(still_open, extra)):
        size, entry = float(t.size), t.entry_price
        fee_exit = abs(size) * last_close * c
        commission = fee_exit + abs(size) * entry * c
        exit_fees += fee_exit
        want = {
            "size": size,
            "entry_bar": t.entry_bar,
            "exit_bar": n - 1,
            "entry_price": entry,
            "exit_price": last_close,
            "commission": commission,
            "pnl": size * (last_close - entry) - commission,
            "return_frac": math.copysign(1, size) * (last_close / entry - 1)
            - commission / (abs(size) * entry),
        }
        for key, value in want.items():
            if mine[key] != value:
                problems.append(f"trade closed at the end {k} {key}: expected {value!r}, "
                                f"ours {mine[key]!r}")
                break
    expected_final = float(ref["Equity Final [$]"]) - exit_fees
    if not crosscheck.rel_diff(expected_final, got["stats"]["equity_final"]) <= crosscheck.REL_TOL:
        problems.append(f"equity_final: expected {expected_final!r} "
                        f"(the reference's less the exits' commissions), "
                        f"ours {got['stats']['equity_final']!r}")
    if got["stats"]["trades"] != len(ours):
        problems.append(f"trades: {got['stats']['trades']}, {len(ours)} listed")
    return problems


def sweep_case(case, path, args, tally, notes):
    """`tracectx sweep` over a few windows around the case's (every combination, fast >= slow
    too) against one reference run per combination: each session's statistics as
    `compare_stats` requires. Returns the problems."""
    rng = random.Random(f"{case.get('seed', args.seed)}:{case['index']}:sweep")
    fasts = sorted({case["fast"], rng.randint(1, 30)})
    slows = sorted({case["slow"], rng.randint(2, 60), rng.randint(2, 60)})
    cmd = command(args.tracectx, case, path, grid=(fasts, slows))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return [f"tracectx sweep failed (exit status {out.returncode}): {out.stderr.strip()}"]
    results = json.loads(out.stdout)["results"]
    got = {(r["params"]["fast"], r["params"]["slow"]): r["stats"] for r in results}
    want = [(f, s) for f in fasts for s in slows]
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"sweep combinations: ours {sorted(got)}, expected {want}")
    for key in want:
        if key not in got:
            continue
        ref, _ = reference(case, *key)
        ref, quirk = drawdown_fractions_as_durations(ref)
        found, worst, worst_key = crosscheck.compare_stats(ref, got[key])
        found, rounded = beta_near_zero(ref, got[key], found, notes)
        found, near = annualised_near_zero(ref, got[key], found, notes)
        rounded |= near
        found, near = trade_mean_near_zero(ref, got[key], found, notes)
        rounded |= near
        if quirk:
            notes.append("drawdown fractions as durations")
        if found:
            problems += [f"sweep fast={key[0]} slow={key[1]}: {p}" for p in found]
        elif not rounded:
            record_worst(tally, worst, worst_key, case, key)
    tally["swept"] += len(want)
    notes.append(f"sweep of {len(want)} combinations")
    return problems


def overflowed(ref, ref_error, returncode, stderr):
    """Whether the account's value went past what a float holds: ours refuses the run (exit
    status 1, "overflows"); the reference goes on with arbitrary-precision sizes and NaN or
    infinite figures, or fails sizing an order (`int(nan)`)."""
    np = crosscheck.np
    if returncode != 1 or "overflows" not in stderr:
        return False
    if ref_error is not None:
        return "NaN" in str(ref_error) or "infinity" in str(ref_error)
    equity = ref["_equity_curve"]["Equity"].values
    pnl = ref["_trades"]["PnL"].to_numpy(dtype=float)
    return not (np.isfinite(equity).all() and np.isfinite(pnl).all())


def compare_case(case, ref, cancelled, got, equity_path, tally, notes):
    """The comparison of one case's run: returns the problems."""
    coverage(case, ref, cancelled, tally)
    problems = compare_equity(case, ref, equity_path)
    ref, quirk = drawdown_fractions_as_durations(ref)
    if quirk:
        notes.append("drawdown fractions as durations")
    if case["close_at_end"] and len(ref["_strategy"].trades):
        notes.append("closed at the end")
        problems += closed_at_end(case, ref, got)
    else:
        found, worst, worst_key = crosscheck.compare_stats(ref, got["stats"])
        found, rounded = beta_near_zero(ref, got["stats"], found, notes)
        found, near = annualised_near_zero(ref, got["stats"], found, notes)
        rounded |= near
        found, near = trade_mean_near_zero(ref, got["stats"], found, notes)
        rounded |= near
        found += crosscheck.compare_trades(ref["_trades"], got["trades"])
        if not found and not problems and not rounded:
            record_worst(tally, worst, worst_key, case)
        problems += found
    tally["trades"] += len(got["trades"])
    tally["marks"] += case["n"]
    return problems


def compare_equity(case, ref, equity_path):
    """Our equity curve (`--equity`) against the reference's, mark by mark, exactly (but the
    last mark with `--close-at-end`, which closes trades the reference leaves open)."""
    with open(equity_path) as f:
        lines = f.read().splitlines()[1:]
    ours = [float(line.rsplit(",", 1)[1]) for line in lines]
    want = [float(v) for v in ref["_equity_curve"]["Equity"].values]
    if len(ours) != len(want):
        return [f"equity curve: {len(ours)} marks, the reference {len(want)}"]
    last = len(want) - 1 if case["close_at_end"] else len(want)
    for i in range(last):
        if ours[i] != want[i]:
            return [f"equity at bar {i}: reference {want[i]!r}, ours {ours[i]!r}"]
    return []


def run_case(check, case, args, tally):
    path = os.path.join(args.work, f"case-{case['index']}.csv")
    equity_path = os.path.join(args.work, f"case-{case['index']}-equity.csv")
    write_csv(case, path)
    cmd = command(args.tracectx, case, path) + ["--equity", equity_path]
    problems = []
    got = None
    notes = []
    try:
        # Ours runs while the reference computes.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t0 = time.perf_counter()
        try:
            ref, cancelled = reference(case)
            ref_error = None
        except (ValueError, OverflowError) as e:
            ref, ref_error = None, e
        tally["reference_secs"] += time.perf_counter() - t0
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
            raise
        if overflowed(ref, ref_error, proc.returncode, err):
            notes.append("overflow: ours refuses, the reference goes on with NaN or fails")
        else:
            if ref_error is not None:
                raise ref_error
            if proc.returncode != 0:
                raise subprocess.CalledProcessError(proc.returncode, cmd, out, err)
            got = json.loads(out)
            problems = compare_case(case, ref, cancelled, got, equity_path, tally, notes)
            if (args.sweep_every and case["index"] % args.sweep_every == 0
                    and not case["close_at_end"]):
                problems += sweep_case(case, path, args, tally, notes)
    except Exception as e:  # any failure fails this case only
        problems = crosscheck.failure(e)
    name = label(case)
    for note in notes:
        if not note.startswith("sweep"):
            tally["known"][note] = tally["known"].get(note, 0) + 1
    if problems:
        kept = ""
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            kept_path = os.path.join(args.keep, os.path.basename(path))
            shutil.copyfile(path, kept_path)
            replay = os.path.splitext(kept_path)[0] + ".json"
            with open(replay, "w") as f:
                json.dump(dict(case, times=[t.isoformat() for t in case["times"]]), f)
            kept = (f"\n     rerun alone: scripts/diffcheck.sh --seed {case['seed']} --case "
                    f"{case['index']} (or --replay {replay}, whatever the generator)"
                    f"\n     ours: {' '.join(command('tracectx', case, kept_path)[1:])}")
        check(name, False, "".join(f"\n     {p}" for p in problems[:12]) + kept)
    else:
        known = sorted({n for n in notes if not n.startswith("sweep")})
        swept = [n for n in notes if n.startswith("sweep")]
        trades = f"{len(got['trades'])} trades" if got else "no result"
        check(f"{name}: {trades}" + "".join(f", {n}" for n in swept)
              + (f" (known difference: {', '.join(known)})" if known else ""), True)


def load_case(path):
    """A case kept by a failure (see `run_case`)."""
    with open(path) as f:
        case = json.load(f)
    case["times"] = [dt.datetime.fromisoformat(t) for t in case["times"]]
    return case


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True, help="directory for the generated CSV files")
    parser.add_argument("--tracectx", default="target/release/tracectx",
                        help="the tracectx binary (cargo build --release -p tracectx-cli)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DIFFCHECK_SEED", 2024)))
    parser.add_argument("--cases", type=int, default=int(os.environ.get("DIFFCHECK_CASES", 500)),
                        help="how many cases (DIFFCHECK_CASES)")
    parser.add_argument("--case", type=int, action="append",
                        help="run only this case (repeatable)")
    parser.add_argument("--keep", help="directory where failing cases' CSV files are kept")
    parser.add_argument("--replay", action="append",
                        help="run a case kept by a failure (its .json file; repeatable)")
    parser.add_argument("--sweep-every", type=int, default=10,
                        help="every Nth case also runs a sweep around its windows (0: none)")
    args = parser.parse_args()
    check = Checks()
    # A bound on the whole run, whatever hangs: far above what cases take (0.1 s on average).
    count = len(args.replay or args.case or range(args.cases))
    run_checks(check, lambda: run_cases(check, args), deadline=max(600, 2 * count))


def run_cases(check, args):
    crosscheck.import_reference()
    tally = {"worst": (0.0, "none"), "trades": 0, "marks": 0, "reference_secs": 0.0,
             "known": {}, "seen": {}, "swept": 0}
    t0 = time.perf_counter()
    if args.replay:
        cases = [load_case(path) for path in args.replay]
    else:
        cases = (make_case(i, args.seed) for i in (args.case or range(args.cases)))
    indices = []
    for case in cases:
        indices.append(case["index"])
        run_case(check, case, args, tally)
    origin = "replayed" if args.replay else f"seed {args.seed}"
    print("numpy: " + ("its AVX-512 exp and log where the CPU has them" if NUMPY_SIMD
                       else "the C library's exp and log (AVX-512 code off)"))
    print(f"{origin}: {len(indices)} cases, {tally['trades']} trades and {tally['marks']} "
          f"equity marks compared, "
          f"{tally['swept']} sweep sessions, "
          f"largest relative difference of a statistic in a passing case "
          f"{tally['worst'][0]:.2g} ({tally['worst'][1]}), "
          f"{time.perf_counter() - t0:.1f} s ({tally['reference_secs']:.1f} s in backtesting.py)")
    known = ", ".join(f"{k}: {v}" for k, v in sorted(tally["known"].items()))
    print(f"known differences (compared as the module docs say): {known or 'none'}")
    seen = ", ".join(f"{k}: {v}" for k, v in sorted(tally["seen"].items()))
    print(f"cases that exercised: {seen}")


if __name__ == "__main__":
    main()
