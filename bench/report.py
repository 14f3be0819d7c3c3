"""Targets of issue 4, the printed table and the JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    value: str
    target: str = ""
    verdict: str = ""  # PASS, MISS or "" (informative figure)


def check(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return ""
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "MISS"


def below(value: float | None, limit: float) -> str:
    """Strict targets ("< 10 ms")."""
    if value is None:
        return ""
    return "PASS" if value < limit else "MISS"


def _f(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def rows(results: dict[str, Any]) -> list[Row]:
    """One row per figure; sections missing from ``results`` are simply not shown."""
    out: list[Row] = []
    add = out.append
    for item in results.get("throughput", []):
        if "skipped" in item:
            add(Row("1 throughput", f"{item.get('backend', '')} {item.get('worker', '')}", item["skipped"]))
            continue
        relaxed = item.get("sync_commit") is False
        add(
            Row(
                "1 throughput",
                f"{item['backend']}, -w {item['worker']}{', STASK_WORKER_SYNC_COMMIT=false' if relaxed else ''}:"
                f" stask / bare RQ ({item['tasks']:,} no-op, CLI burst)",
                f"{item['stask_per_s']:,.0f} / {item['bare_per_s']:,.0f} tasks/s = {item['ratio']:.2f}x",
                "" if relaxed else ">= 0.90x",
                "" if relaxed else check(item["ratio"], 0.9, True),
            )
        )
        if "stask_cpu_ms" in item:
            add(
                Row(
                    "1 throughput",
                    f"{item['backend']}, -w {item['worker']}: worker CPU per task, stask / bare RQ",
                    f"{item['stask_cpu_ms']:.2f} / {item['bare_cpu_ms']:.2f} ms",
                )
            )
        stats = item.get("pg_statistics")
        if stats:
            written = stats["rows_written_per_task"]
            add(
                Row(
                    "1 SQL",
                    f"{item['backend']}: s_tasks rows written per task (pg_stat_user_tables;"
                    f" commits {stats['commits_per_task']:.2f})",
                    f"{written:.2f}",
                    "<= 3",
                    check(written, 3, False),
                )
            )
            if "statements_per_task" in stats:
                add(
                    Row(
                        "1 SQL",
                        f"{item['backend']}: INSERT/UPDATE statements per task (pg_stat_statements)",
                        f"{stats['statements_per_task']:.2f}",
                        "<= 3",
                        check(stats["statements_per_task"], 3, False),
                    )
                )
    scale = results.get("scale_out")
    if scale and "skipped" in scale:
        add(Row("1 scale-out", "", scale["skipped"]))
    elif scale:
        for row in scale["rows"]:
            two = row["processes"] == 2 and not row["split"]
            add(
                Row(
                    "1 scale-out",
                    f"{scale['backend']}, {row['processes']} simple process(es)"
                    + (", split over two Redis URLs" if row["split"] else ", one Redis URL"),
                    f"{row['per_s']:,.0f} tasks/s = {row['speedup']:.2f}x one",
                    ">= 1.80x" if two else "",
                    check(row["speedup"], 1.8, True) if two else "",
                )
            )
        for row in scale.get("bare_rows", []):
            add(
                Row(
                    "1 scale-out",
                    f"bare RQ beside it (the machine's ceiling), {row['processes']} SimpleWorker process(es)",
                    f"{row['per_s']:,.0f} jobs/s = {row['speedup']:.2f}x one",
                )
            )
    for key, section in (
        ("enqueue", "1 enqueue"),
        ("statements", "2 SQL"),
        ("memory", "6 memory"),
        ("cache", "7 cache"),
    ):
        if "skipped" in (results.get(key) or {}):
            add(Row(section, key, results[key]["skipped"]))
    enqueue = results.get("enqueue")
    if enqueue and "skipped" not in enqueue:
        add(
            Row(
                "1 enqueue",
                f"bulk ({enqueue['bulk_tasks']:,}): stask create_many / RQ enqueue_many",
                f"{enqueue['stask_create_many_per_s']:,.0f} / {enqueue['bare_enqueue_many_per_s']:,.0f} tasks/s",
            )
        )
        add(
            Row(
                "1 enqueue",
                f"one by one ({enqueue['single_tasks']:,}): stask create / RQ enqueue",
                f"{enqueue['stask_create_per_s']:,.0f} / {enqueue['bare_enqueue_per_s']:,.0f} tasks/s",
            )
        )
    counts = results.get("statements")
    if counts and "skipped" not in counts:
        for key, label in (("stask_create_many", "create_many"), ("stask_create", "create")):
            item = counts[key]
            add(
                Row(
                    "2 SQL",
                    f"statements per task, stask via {label} ({item['tasks']} tasks)",
                    f"{item['sql_per_task']:.2f}",
                    "<= 3",
                    check(item["sql_per_task"], 3, False),
                )
            )
        for key, label in (
            ("stask_create_many", "stask create_many"),
            ("bare_enqueue_many", "bare enqueue_many"),
            ("stask_create", "stask create"),
            ("bare_enqueue", "bare enqueue"),
        ):
            add(Row("2 Redis", f"commands per task, {label}", f"{counts[key]['redis_per_task']:.1f}"))
    for item in results.get("pickup", []):
        if "skipped" in item:
            add(Row("3 pickup", item.get("backend", ""), item["skipped"]))
            continue
        add(
            Row(
                "3 pickup",
                f"idle flask stask worker -w simple, {item['backend']}: p50 ({item['samples']} tasks)",
                _f(item["p50_ms"], 1, " ms"),
                "< 5 ms",
                below(item["p50_ms"], 5),
            )
        )
        add(
            Row(
                "3 pickup",
                f"idle flask stask worker, {item['backend']}: p95 / max",
                f"{item['p95_ms']:.1f} / {item['max_ms']:.1f} ms",
            )
        )
        if "after_create_p50_ms" in item:
            add(
                Row(
                    "3 pickup",
                    f"idle flask stask worker, {item['backend']}: p50 from create() returning (row and job in place)",
                    _f(item["after_create_p50_ms"], 1, " ms"),
                )
            )
    for item in results.get("create_many", []):
        out.extend(bulk_rows(item))
    pages = results.get("pages")
    for item in pages or []:
        if "skipped" in item:
            add(Row("5 pages", item.get("backend", ""), item["skipped"]))
            continue
        for page in item["pages"]:
            target = page["target_ms"]
            value = page.get("median_ms")
            shown = (
                page["note"]
                if value is None
                else f"{value:,.1f} ms (min {page['min_ms']:,.1f}, first {page['cold_ms']:,.0f})"
            )
            add(
                Row(
                    "5 pages",
                    f"{page['name']}, {item['backend']}, {item['rows']:,} rows",
                    shown,
                    f"< {target} ms" if target else "",
                    below(value, target) if target else "",
                )
            )
    mem = results.get("memory")
    if mem and "skipped" not in mem:
        add(
            Row(
                "6 memory",
                f"worker RSS ({mem.get('backend', 'sqlite')}) after {mem['total']:,} tasks - after {mem['first']:,}",
                f"{mem['growth_mb']:+.2f} MB ({mem['rss_first_kb'] / 1024:.1f} -> {mem['rss_total_kb'] / 1024:.1f} MB)",
                "< 10 MB",
                below(mem["growth_mb"], 10),
            )
        )
        add(Row("6 memory", "worker subprocess throughput meanwhile", f"{mem['worker_per_s']:,.0f} tasks/s"))
    cache = results.get("cache")
    if cache and "skipped" not in cache:
        rate = cache["hit_rate"]
        add(
            Row(
                "7 cache",
                f"worker-resolution hit rate ({cache['lookups']:,} lookups, {cache['misses']} misses)",
                "n/a" if rate is None else f"{rate * 100:.2f} %",
                ">= 99 %",
                "" if rate is None else check(rate, 0.99, True),
            )
        )
    return out


def bulk_rows(item: dict[str, Any]) -> list[Row]:
    """Section 4 (:func:`bench.bulk.bulk`): create_many beside RQ's enqueue_many, per size."""
    if "skipped" in item:
        return [Row("4 create_many", item.get("backend", ""), item["skipped"])]
    return [
        Row(
            "4 create_many",
            f"stask create_many / RQ enqueue_many, {size['tasks']:,} no-op tasks, {item['backend']} "
            f"(best of {item['rounds']}; {size['statements']} SQL statements)",
            f"{size['stask_per_s']:,.0f} / {size['bare_per_s']:,.0f} tasks/s = {size['ratio']:.2f}x",
            ">= 1.00x",
            check(size["ratio"], 1.0, True),
        )
        for size in item["sizes"]
    ]


def table(results: dict[str, Any]) -> str:
    lines = []
    machine = results.get("machine", {})
    if machine:
        lines.append("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items() if v is not None))
        lines.append("")
    body = rows(results)
    header = Row("Section", "Measure", "Value", "Target", "Result")
    widths = [
        max(len(getattr(r, name)) for r in [header, *body])
        for name in ("section", "measure", "value", "target", "verdict")
    ]

    def line(row: Row) -> str:
        cells = (row.section, row.measure, row.value, row.target, row.verdict)
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    lines.append(line(header))
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(line(r) for r in body)
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The same table for docs/performance.md."""
    out = ["| Section | Measure | Value | Target | Result |", "|---|---|---|---|---|"]
    out += [f"| {r.section} | {r.measure} | {r.value} | {r.target} | {r.verdict} |" for r in rows(results)]
    return "\n".join(out)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def verdicts(results: dict[str, Any]) -> dict[str, int]:
    counts = {"PASS": 0, "MISS": 0}
    for row in rows(results):
        if row.verdict in counts:
            counts[row.verdict] += 1
    return counts
