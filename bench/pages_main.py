"""``python -m bench.pages_main`` (``make bench-pages``): every page's server time at scale.

Loads 10,000,000 rows into ``s_tasks`` on PostgreSQL and 1,000,000 on SQLite and MariaDB
(the issue's targets), times each page of :data:`bench.pages.PAGES` and prints one line per
page with its median, the database and PASS/MISS against the page's target. ``--reuse`` keeps
a database that already holds the asked number of rows (migrating it to the newest revision)
instead of loading it again: the load takes minutes, a page change seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import sqlalchemy as sa
from flask import Flask

from bench.env import DEFAULT_MARIADB_URL, DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL, BenchEnv
from bench.pages import fill, time_pages

#: Rows per database: the issue's scale (PostgreSQL is the production database).
DEFAULT_ROWS = {"postgresql": 10_000_000, "sqlite": 1_000_000, "mariadb": 1_000_000}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pages_main", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,sqlite,mariadb")
    parser.add_argument("--rows", type=int, default=None, help="rows on every database (default: 10M PG, 1M others)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="time only pages whose name contains this text")
    parser.add_argument("--reuse", action="store_true", help="keep a database that already holds the rows")
    parser.add_argument("--redis-url", default=os.environ.get("STASK_BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--postgres-url", default=os.environ.get("STASK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    return parser.parse_args(argv)


def _reused_app(env: BenchEnv, backend: str, rows: int) -> Flask | None:
    """The app on an existing database holding ``rows`` tasks (migrated to the head), else None."""
    from flask_migrate import upgrade

    from stask import create_app

    try:
        app = create_app(env.config(backend))
        with app.app_context():
            db = app.extensions["stask"].db
            count = db.session.scalar(sa.text("SELECT count(*) FROM s_tasks"))
            db.session.remove()
            if count != rows:
                return None
            upgrade()
            logging.getLogger("stask").disabled = False
            app.extensions["stask"].discover_workers()
            db.session.remove()
    except sa.exc.SQLAlchemyError:
        return None
    return app


def run_backend(env: BenchEnv, backend: str, rows: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    app = _reused_app(env, backend, rows) if args.reuse else None
    if app is None:
        app = env.app(backend)
        print(f"... loading {rows:,} rows into {backend}", flush=True)
        print(f"    {fill(app, backend, rows):.0f} s", flush=True)
    return time_pages(app, args.repeats, args.only)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    env = BenchEnv(args.redis_url, args.postgres_url, os.environ.get("STASK_BENCH_MARIADB_URL", DEFAULT_MARIADB_URL))
    misses = 0
    try:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            reason = env.available(backend) if not args.reuse else None
            if reason:
                print(f"{backend}: skipped ({reason})")
                continue
            rows = args.rows or DEFAULT_ROWS[backend]
            for entry in run_backend(env, backend, rows, args):
                target = entry["target_ms"]
                if "median_ms" not in entry:
                    print(f"{backend:<10} {rows:>10,}  {entry['name']:<58} {entry.get('note', '')}")
                    continue
                verdict = "" if target is None else ("PASS" if entry["median_ms"] < target else "MISS")
                misses += verdict == "MISS"
                print(
                    f"{backend:<10} {rows:>10,}  {entry['name']:<58} {entry['median_ms']:8.1f} ms"
                    f"  (min {entry['min_ms']:.1f}, cold {entry['cold_ms']:.1f})  {verdict}",
                    flush=True,
                )
    finally:
        env.close()
    print(f"{misses} page(s) missed their target")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
