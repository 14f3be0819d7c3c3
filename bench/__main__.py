"""``python -m bench``: measure stask beside bare RQ, print the table, write JSON.

Uses its own Redis DB (``STASK_BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/5``,
flushed), a private SQLite file in a temporary folder and a PostgreSQL database of its own
(``STASK_BENCH_POSTGRES_URL``, default ``.../stask_bench``, created when missing, schema
dropped). Sections: 1 throughput and enqueue, 2 SQL/Redis per task, 3 pickup latency,
4 create_many, 5 pages at a million rows, 6 worker memory, 7 worker-cache hit rate.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import bulk, engine
from bench.env import DEFAULT_MARIADB_URL, DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL, ROOT, BenchEnv, machine
from bench.report import table, verdicts, write_json

SECTIONS = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True)
class Sizes:
    simple: int
    fork: int
    rounds: int
    enqueue_single: int
    statements: int
    pickup: int
    create_many: int
    page_rows: int
    page_repeats: int
    memory_first: int
    memory_total: int
    scale_out: int = 0


FULL = Sizes(
    simple=2000,
    fork=500,
    rounds=3,
    enqueue_single=500,
    statements=200,
    pickup=200,
    create_many=10_000,
    page_rows=1_000_000,
    page_repeats=5,
    memory_first=1000,
    memory_total=100_000,
    scale_out=2000,
)
QUICK = Sizes(
    simple=500,
    fork=100,
    rounds=1,
    enqueue_single=100,
    statements=50,
    pickup=40,
    create_many=10_000,
    page_rows=100_000,
    page_repeats=3,
    memory_first=100,
    memory_total=2_000,
    scale_out=400,
)
#: The smoke test's configuration (tests/test_bench.py): seconds, not minutes.
SMOKE = Sizes(
    simple=20,
    fork=5,
    rounds=1,
    enqueue_single=5,
    statements=20,
    pickup=5,
    create_many=100,
    page_rows=1000,
    page_repeats=1,
    memory_first=10,
    memory_total=50,
    scale_out=20,
)


def bulk_sizes(sizes: Sizes) -> tuple[int, int]:
    """Section 4 measures ``create_many`` at its size and ten times it (10,000 and 100,000 in full)."""
    return (sizes.create_many, 10 * sizes.create_many)


def parse_sections(text: str) -> list[int]:
    chosen = sorted({int(part) for part in text.replace(" ", "").split(",") if part})
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}: choose from {SECTIONS}")
    return chosen


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (about a minute)")
    parser.add_argument(
        "--sections",
        type=parse_sections,
        default=list(SECTIONS),
        help="comma-separated section numbers, e.g. 1,2,7 (default: all)",
    )
    parser.add_argument(
        "--backends",
        default="postgresql,sqlite,mariadb",
        help="databases, in this order, for sections 1 and 3-6 (default: postgresql,sqlite,mariadb;"
        " one that is not reachable is reported n/a)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("STASK_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis DB the bench owns (it is flushed)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("STASK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL database the bench owns (its schema is dropped)",
    )
    parser.add_argument(
        "--mariadb-url",
        default=os.environ.get("STASK_BENCH_MARIADB_URL", DEFAULT_MARIADB_URL),
        help="MariaDB database the bench owns (dropped and created again)",
    )
    parser.add_argument("--page-rows", type=int, default=None, help="rows in s_tasks for section 5")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (SQLite file, worker logs)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, sizes: Sizes, say: Any = print) -> dict[str, Any]:
    """Run the chosen sections; returns the results (also what the smoke test calls)."""
    env = BenchEnv(args.redis_url, args.postgres_url or None, args.mariadb_url or None, keep=args.keep)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results: dict[str, Any] = {"machine": machine(env), "sizes": sizes.__dict__, "sections": args.sections}
    timings: dict[str, float] = {}
    started = time.monotonic()

    def step(name: str) -> Any:
        say(f"... {name}")
        return time.monotonic()

    def guarded(section: str, measure: Any, *args: Any) -> dict[str, Any]:
        """A section that breaks reports its error and the run goes on with the others."""
        try:
            return measure(*args)  # type: ignore[no-any-return]
        except Exception as exc:  # the table shows it; the traceback goes to stderr
            traceback.print_exc()
            return {"skipped": f"error: {type(exc).__name__}: {exc}"[:200], "section": section}

    def usable(backend: str) -> str | None:
        reason = env.available(backend)
        if reason:
            say(f"    skipped: {reason}")
        return reason

    try:
        first = next((b for b in backends if not env.available(b)), None)
        if 1 in args.sections:
            t = step("1 throughput through the commands")
            results["throughput"] = []
            for backend in backends:
                reason = usable(backend)
                for kind, n in (("simple", sizes.simple), ("fork", sizes.fork)):
                    step(f"1 throughput ({backend}, {kind})")
                    results["throughput"].append(
                        {"backend": backend, "worker": kind, "skipped": f"n/a ({reason})"}
                        if reason
                        else guarded("1", engine.throughput, env, backend, kind, n, sizes.rounds)
                    )
            if "postgresql" in backends and not env.available("postgresql"):
                step("1 throughput (postgresql, simple, STASK_WORKER_SYNC_COMMIT=false)")
                results["throughput"].append(
                    guarded("1", engine.throughput, env, "postgresql", "simple", sizes.simple, sizes.rounds, False)
                )
            if first is not None and sizes.scale_out:
                step(f"1 scale-out ({first})")
                results["scale_out"] = guarded("1", engine.scale_out, env, first, sizes.scale_out)
            step("1 enqueue cost")
            results["enqueue"] = guarded("1", engine.enqueue_cost, env, sizes.simple, sizes.enqueue_single)
            timings["1"] = time.monotonic() - t
        if 2 in args.sections:
            t = step("2 statements and commands per task")
            results["statements"] = guarded("2", engine.statements, env, sizes.statements)
            timings["2"] = time.monotonic() - t
        if 3 in args.sections:
            results["pickup"] = []
            for backend in backends:
                t = step(f"3 pickup latency ({backend})")
                reason = usable(backend)
                results["pickup"].append(
                    {"backend": backend, "skipped": f"n/a ({reason})"}
                    if reason
                    else guarded("3", engine.pickup_latency, env, backend, sizes.pickup)
                )
                timings[f"3 {backend}"] = time.monotonic() - t
        if 4 in args.sections:
            results["create_many"] = []
            for backend in backends:
                t = step(f"4 create_many ({backend})")
                reason = usable(backend)
                results["create_many"].append(
                    {"backend": backend, "skipped": f"n/a ({reason})"}
                    if reason
                    else guarded("4", bulk.bulk, env, backend, bulk_sizes(sizes), sizes.rounds)
                )
                timings[f"4 {backend}"] = time.monotonic() - t
        if 6 in args.sections:
            t = step(f"6 worker memory ({first})")
            results["memory"] = (
                guarded("6", engine.memory, env, first, sizes.memory_first, sizes.memory_total)
                if first
                else {"skipped": "n/a (no database)"}
            )
            timings["6"] = time.monotonic() - t
        if 5 in args.sections:
            from bench.pages import pages

            results["pages"] = []
            rows = args.page_rows or sizes.page_rows
            for backend in backends:
                t = step(f"5 pages with {rows:,} rows ({backend})")
                reason = usable(backend)
                results["pages"].append(
                    {"backend": backend, "skipped": f"n/a ({reason})"}
                    if reason
                    else guarded("5", pages, env, backend, rows, sizes.page_repeats)
                )
                timings[f"5 {backend}"] = time.monotonic() - t
        if 7 in args.sections:
            results["cache"] = guarded("7", engine.cache_hit_rate, env)
    finally:
        env.close()
    results["seconds"] = {"total": time.monotonic() - started, **timings}
    return results


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sizes = QUICK if args.quick else FULL
    results = run(args, sizes, say=lambda text: print(text, file=sys.stderr, flush=True))
    print(table(results))
    write_json(results, args.output)
    counts = verdicts(results)
    print(f"\n{counts['PASS']} PASS, {counts['MISS']} MISS in {results['seconds']['total']:.0f} s; JSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
