#!/usr/bin/env python3
"""Writes a large log of many interleaved runs, in tracectx's own line format, for
benches/extract.sh.

Text lines are the default layout (`[timestamp] [run_id] [trace_id] LEVEL target - message
fields`), JSON lines what `JsonFormat` writes (`timestamp`, `level`, `run_id`, `trace_id`,
`span_id`, `target`, `message`, then the fields). A run id appears in its lines' stamp and
nowhere else, so `grep -F RUN_ID` must find exactly the lines `tracectx logs RUN_ID` finds. Two
runs, `backtest_ab1` and `backtest_ab12`, write a few lines each: one id is a prefix of the
other, so there a substring search finds more lines than the run wrote.

Prints one JSON object describing the file: bytes, lines, the run to search for and how many
lines each run of interest wrote.

    python3 benches/gen_log.py --format text --size-mib 1024 --runs 2000 --out /tmp/x.log
"""

import argparse
import json
import random
import sys

PREFIX_SHORT = "backtest_ab1"
PREFIX_LONG = "backtest_ab12"
# One line of each prefix run every this many lines.
PREFIX_EVERY = 100_003

MESSAGES = [
    ("INFO", "engine::session", "bar processed", "i={i} px={px}.25 qty={q}"),
    ("INFO", "engine::orders", "order filled", "side=\"buy\" qty={q} px={px}.50 fee=0.{q}"),
    ("DEBUG", "engine::strategy", "signal", "fast={q} slow={px} cross=false"),
    ("INFO", "engine::risk", "exposure checked", "gross={px}.0 limit=100000.0"),
    ("WARN", "engine::orders", "partial fill", "filled={q} wanted={px}"),
    ("ERROR", "engine::data", "gap in bars", "missing={q} at={i}"),
]
# How often each of MESSAGES is picked (out of 100).
WEIGHTS = [62, 18, 10, 7, 2, 1]


def run_ids(rng, n):
    """`n` run ids as `RunId::generate("backtest")` makes them: a UUIDv7 in hex, so runs
    started close together share their first hex digits."""
    ms = 0x0190_5F3A_2B00
    ids = []
    for _ in range(n):
        ms += rng.randrange(1, 400)
        tail = rng.getrandbits(62) | (0b10 << 62)
        ids.append(f"backtest_{ms:012x}7{rng.getrandbits(12):03x}{tail:016x}")
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", choices=["text", "json"], required=True)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    runs = run_ids(rng, args.runs)
    traces = [f"{rng.getrandbits(32):08x}" for _ in runs]
    target = args.runs // 2
    picks = [m for m, w in zip(MESSAGES, WEIGHTS) for _ in range(w)]
    json_picks = []
    for level, tgt, msg, fields in picks:
        # The same fields as JSON members: `k=v` becomes `"k":v`.
        members = ",".join(
            '"{}":{}'.format(*kv.split("=", 1)) for kv in fields.split(" ")
        )
        json_picks.append((level, tgt, msg, members))
    # Each round writes one line of every run, in a shuffled order; a few orders are reused.
    orders = []
    for _ in range(16):
        order = list(range(args.runs))
        rng.shuffle(order)
        orders.append(order)

    limit = args.size_mib << 20
    counts = {"target": 0, "short": 0, "long": 0}
    written = lines = 0
    i = 0
    with open(args.out, "w", buffering=16 << 20) as out:
        while written < limit:
            chunk = []
            for r in orders[(i // args.runs) % len(orders)]:
                us = i * 7
                sec = us // 1_000_000
                ts = f"2024-01-01T{10 + sec // 3600 % 14:02}:{sec // 60 % 60:02}:{sec % 60:02}.{us % 1_000_000:06}Z"
                q = i % 97 + 1
                px = 100 + i % 913
                if i % PREFIX_EVERY == 0:
                    run, trace = (PREFIX_SHORT, "ab1ab1ab") if (i // PREFIX_EVERY) % 2 == 0 else (PREFIX_LONG, "ab12ab12")
                    counts["short" if run == PREFIX_SHORT else "long"] += 1
                elif i % 211 == 0:
                    run, trace = None, None
                else:
                    run, trace = runs[r], traces[r]
                    if r == target:
                        counts["target"] += 1
                k = i % 100
                if args.format == "text":
                    level, tgt, msg, fields = picks[k]
                    chunk.append(
                        f"[{ts}] [{run or '-'}] [{trace or '-'}] {level} {tgt} - {msg} "
                        + fields.format(i=i, px=px, q=q)
                        + "\n"
                    )
                else:
                    level, tgt, msg, members = json_picks[k]
                    ids = (
                        f'"run_id":"{run}","trace_id":"{trace}","span_id":"{i & 0xFFFF_FFFF:016x}",'
                        if run
                        else ""
                    )
                    chunk.append(
                        f'{{"timestamp":"{ts}","level":"{level}",{ids}"target":"{tgt}","message":"{msg}",'
                        + members.format(i=i, px=px, q=q)
                        + "}\n"
                    )
                i += 1
            text = "".join(chunk)
            out.write(text)
            written += len(text)
            lines += len(chunk)

    json.dump(
        {
            "format": args.format,
            "bytes": written,
            "lines": lines,
            "runs": args.runs,
            "target": runs[target],
            "target_lines": counts["target"],
            "short": PREFIX_SHORT,
            "short_lines": counts["short"],
            "long": PREFIX_LONG,
            "long_lines": counts["long"],
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
