"""SQL box benchmark: the capped, streamed fetch (ours) vs fetching the whole result into pandas.

Both sides run the same statement on the same store under the same DuckDB memory limit and time
limit (each in its own child process, so its peak RSS is its own): ``SELECT repeat('x', SIZE)
FROM range(ROWS)``, the probe of issue 13 (D6) scaled down. The baseline is what the SQL box did
before: ``relation.limit(n).df()`` with a timer that interrupts the connection.

    python bench/sql_box.py [--rows 300] [--value-bytes 1000000] [--db DIR/cre.duckdb]

Prints one JSON line per side, then ``{"name", "ours", "baseline", "unit", "ratio"}`` (peak RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIME_LIMIT_S = 5.0
MEMORY_LIMIT_MB = 2048


def run_ours(db: str, sql: str) -> str:
    from cre_core.query.sql_box import SqlBoxError, run_readonly_sql

    try:
        result = run_readonly_sql(db, sql, time_limit_s=TIME_LIMIT_S, memory_limit_mb=MEMORY_LIMIT_MB)
        return f"{len(result.frame)} rows"
    except SqlBoxError as exc:
        return f"refused: {exc}"


def run_baseline(db: str, sql: str) -> str:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("ATTACH ? AS store (READ_ONLY)", [db])
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT_MB}MB'")
    timer = threading.Timer(TIME_LIMIT_S, con.interrupt)
    timer.start()
    try:
        return f"{len(con.sql(sql).limit(1001).df())} rows"
    except duckdb.Error as exc:
        return f"failed: {str(exc).splitlines()[0]}"
    finally:
        timer.cancel()
        con.close()


def child(side: str, db: str, sql: str) -> None:
    started = time.perf_counter()
    outcome = (run_ours if side == "ours" else run_baseline)(db, sql)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": side, "outcome": outcome[:100], "seconds": round(seconds, 2),
                      "peak_rss_mb": round(peak_mb)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--value-bytes", type=int, default=1_000_000)
    parser.add_argument("--db", help="a store to attach (default: an empty one in a temp folder)")
    parser.add_argument("--side", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sql = f"SELECT repeat('x', {int(args.value_bytes)}) AS s FROM range({int(args.rows)})"
    if args.side:
        child(args.side, args.db, sql)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            import duckdb

            db = str(Path(tmp) / "empty.duckdb")
            duckdb.connect(db).close()
        results = {}
        for side in ("ours", "baseline"):
            out = subprocess.run(
                [sys.executable, __file__, "--rows", str(args.rows), "--value-bytes", str(args.value_bytes),
                 "--db", db, "--side", side],
                check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
            print(out)
            results[side] = json.loads(out)
    ours, base = results["ours"]["peak_rss_mb"], results["baseline"]["peak_rss_mb"]
    print(json.dumps({"name": "sql_box_peak_rss", "ours": ours, "baseline": base,
                      "unit": "MB peak RSS (lower is better)", "ratio": round(base / ours, 2)}))


if __name__ == "__main__":
    main()
