"""Write bench/REPORT.md and bench/report.png from the JSON results `make bench` left behind.

Reads bench/results/<size>/<benchmark>.json (bench/scale.py writes them), checks the
acceptance targets of the scale issue against them, and draws latency and throughput
against table size with matplotlib. bench/TUNING.md (what each change did to the figures,
written by hand from measured runs) is appended as it is.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, machine, server_url  # noqa: E402

VIEWER_FIRST_P95 = 50.0
API_FIRST_P95 = 40.0
DEEP_RATIO = 1.5
GROWTH = 1.5
INGEST_RATIO = 0.75


def load_results(root: Path) -> list[tuple[str, dict[str, Any]]]:
    from bench.scale import parse_size

    found = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        try:
            size = parse_size(directory.name)
        except SystemExit:
            continue
        results = {
            path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))
        }
        if results:
            found.append((size, directory.name, results))
    found.sort()
    return [(label, results) for _, label, results in found]


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(f"{server_url()}/postgres") as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - the report still stands without it
        return "unknown"


def load_cell(result: dict[str, Any] | None) -> str:
    if not result or "load" not in result:
        return "–"
    load = result["load"]
    return f"{load['loadavg_1min_mean']:.1f} (max {load['loadavg_1min_max']:.1f}), CPU {load['cpu_busy_percent']:.0f}%"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def mark(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[ok]


def _endpoint(results: dict[str, Any], name: str, field: str) -> float | None:
    endpoint = results.get("load", {}).get("endpoints", {}).get(name)
    return None if endpoint is None else endpoint[field]


def acceptance(
    scales: list[tuple[str, dict[str, Any]]], growth: dict[str, Any] | None = None
) -> list[tuple[str, str, str]]:
    """(criterion, figures, verdict) rows."""
    rows = []
    by_label = dict(scales)
    measured = [label for label, r in scales if "skipped" not in r]
    # The latency targets are set at 10M events.
    largest_label = "10M" if "10M" in measured else (measured[-1] if measured else None)
    largest = by_label.get(largest_label, {})
    load = largest.get("load")
    if load:
        viewer = _endpoint(largest, "viewer: first page", "p95_ms")
        api = _endpoint(largest, "api: first page", "p95_ms")
        rows.append(
            (
                f"At {largest_label}: viewer first page p95 ≤ {VIEWER_FIRST_P95:.0f} ms under load",
                ms(viewer),
                mark(viewer is not None and viewer <= VIEWER_FIRST_P95),
            )
        )
        rows.append(
            (
                f"At {largest_label}: API first page p95 ≤ {API_FIRST_P95:.0f} ms under load",
                ms(api),
                mark(api is not None and api <= API_FIRST_P95),
            )
        )
        errors = load["errors"] + load["writers"]["errors"]
        rows.append((f"At {largest_label}: 0 errors under load", str(errors), mark(errors == 0)))
        for deep, first in (
            ("viewer: deep page", "viewer: first page"),
            ("api: deep page", "api: first page"),
        ):
            d, f = _endpoint(largest, deep, "p95_ms"), _endpoint(largest, first, "p95_ms")
            if d is not None and f:
                rows.append(
                    (
                        f"At {largest_label}: {deep} p95 within {DEEP_RATIO}× of first page",
                        f"{d:.1f} / {f:.1f} ms = {d / f:.2f}×",
                        mark(d <= DEEP_RATIO * f),
                    )
                )
    viewer_results = largest.get("viewer")
    if viewer_results:
        ratio = viewer_results["deep_over_first"]
        rows.append(
            (
                f"At {largest_label}: viewer deep page (page {viewer_results['depth_pages']:,}) within "
                f"{DEEP_RATIO}× of first, server time (median, no concurrent load)",
                f"{viewer_results['deep_page']['median_ms']:.1f} / "
                f"{viewer_results['first_page']['median_ms']:.1f} ms = {ratio:.2f}×",
                mark(ratio <= DEEP_RATIO),
            )
        )
    if growth:
        sizes = growth["sizes"]
        base = growth["results"][sizes[0]]
        for label in sizes[1:]:
            for kind, what in (("page", "viewer"), ("api", "API")):
                a = base[kind]["median_ms"]
                b = growth["results"][label][kind]["median_ms"]
                rows.append(
                    (
                        f"{what} first page server time {sizes[0]} → {label} grows < {GROWTH}× "
                        f"(bench/growth.py: one process, {growth['runs']} interleaved rounds)",
                        f"{a:.1f} → {b:.1f} ms = {b / a:.2f}×",
                        mark(b / a < GROWTH),
                    )
                )
    loaded = [(label, r) for label, r in scales if "load" in r]
    if len(loaded) >= 2:
        (small_label, small), (big_label, big) = loaded[0], loaded[-1]
        for name in ("viewer: first page", "api: first page"):
            a, b = _endpoint(small, name, "p50_ms"), _endpoint(big, name, "p50_ms")
            if a and b:
                rows.append(
                    (
                        f"{name} p50 under load {small_label} → {big_label} grows < {GROWTH}×",
                        f"{a:.1f} → {b:.1f} ms = {b / a:.2f}×",
                        mark(b / a < GROWTH),
                    )
                )
    for label, results in scales:
        if "skipped" in results:
            rows.append(
                (
                    f"{label} events: every benchmark, and growth from 1M to {label}",
                    results["skipped"]["reason"],
                    "**not measured** (this machine cannot hold it)",
                )
            )
    ingest = largest.get("ingest")
    if ingest:
        rows.append(
            (
                f"At {largest_label}: audited ingest with {ingest['writers']} writers ≥ "
                f"{INGEST_RATIO}× unaudited",
                f"{ingest['audited_changes_per_s']:,.0f} / {ingest['unaudited_changes_per_s']:,.0f} "
                f"changes/s = {ingest['ratio']:.2f}×",
                mark(ingest["ratio"] >= INGEST_RATIO),
            )
        )
    return rows


def chart(
    scales: list[tuple[str, dict[str, Any]]],
    path: Path,
    title: str,
    growth: dict[str, Any] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.scale import parse_size

    sizes = [parse_size(label) for label, _ in scales]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    fig.suptitle(title, fontsize=10)

    def series(ax: Any, getter: Any, label: str, style: str = "o-") -> None:
        points = []
        for size, (_, results) in zip(sizes, scales, strict=True):
            try:
                value = getter(results)
            except (KeyError, TypeError):
                value = None
            if value is not None:
                points.append((size, value))
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)

    def interleaved(ax: Any, kind: str) -> None:
        """bench/growth.py's first pages: every size timed in one process, round by round."""
        if not growth:
            return
        points = [
            (parse_size(label), growth["results"][label][kind]["median_ms"])
            for label in growth["sizes"]
        ]
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            "D-",
            color="black",
            label="first page, server, one process (growth)",
        )

    ax = axes[0][0]
    ax.set_title("Audit Log page: latency vs table size")
    series(ax, lambda r: r["viewer"]["first_page"]["median_ms"], "first page, server median")
    interleaved(ax, "page")
    series(ax, lambda r: r["viewer"]["deep_page"]["median_ms"], "deep page, server median", "s--")
    series(
        ax,
        lambda r: r["load"]["endpoints"]["viewer: first page"]["p95_ms"],
        "first page p95 under load",
    )
    series(
        ax,
        lambda r: r["load"]["endpoints"]["viewer: deep page"]["p95_ms"],
        "deep page p95 under load",
        "s:",
    )
    ax.axhline(VIEWER_FIRST_P95, color="grey", linewidth=0.8, linestyle="--")

    ax = axes[0][1]
    ax.set_title("REST API: latency vs table size")
    series(ax, lambda r: r["viewer"]["api_first_page"]["median_ms"], "first page, server median")
    interleaved(ax, "api")
    series(
        ax, lambda r: r["viewer"]["api_deep_page"]["median_ms"], "deep page, server median", "s--"
    )
    series(
        ax,
        lambda r: r["load"]["endpoints"]["api: first page"]["p95_ms"],
        "first page p95 under load",
    )
    series(
        ax,
        lambda r: r["load"]["endpoints"]["api: deep page"]["p95_ms"],
        "deep page p95 under load",
        "s:",
    )
    ax.axhline(API_FIRST_P95, color="grey", linewidth=0.8, linestyle="--")

    ax = axes[1][0]
    ax.set_title("Ingest: changes/s vs table size")
    series(ax, lambda r: r["ingest"]["unaudited_changes_per_s"], "8 writers, unaudited", "s--")
    series(ax, lambda r: r["ingest"]["audited_changes_per_s"], "8 writers, audited")
    series(
        ax,
        lambda r: r["recorder"]["shapes"]["one save per transaction"]["audited_per_s"],
        "1 process, audited saves",
        "^-",
    )
    series(
        ax, lambda r: r["load"]["writers"]["changes_per_s"], "writers during the load test", "d:"
    )

    ax = axes[1][1]
    ax.set_title("Export: rows/s vs table size (largest organisation)")
    series(ax, lambda r: r["export"]["formats"]["csv"]["http_rows_per_s"], "CSV over HTTP")
    series(ax, lambda r: r["export"]["formats"]["csv"]["copy_rows_per_s"], "CSV bare COPY", "s--")
    series(ax, lambda r: r["export"]["formats"]["ndjson"]["http_rows_per_s"], "NDJSON over HTTP")
    series(
        ax, lambda r: r["export"]["formats"]["ndjson"]["copy_rows_per_s"], "NDJSON bare COPY", "s--"
    )

    for row in axes:
        for ax in row:
            ax.set_xscale("log")
            ax.set_xlabel("audit events in the table")
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    axes[0][0].set_ylabel("ms")
    axes[0][1].set_ylabel("ms")
    axes[1][0].set_ylabel("audited changes / s")
    axes[1][1].set_ylabel("rows / s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(
    scales: list[tuple[str, dict[str, Any]]], chart_name: str, growth: dict[str, Any] | None
) -> str:
    box = machine()
    pg = postgres_version()
    lines = [
        "# Auditdesk at scale: benchmark report",
        "",
        "Written by `make bench` (bench/scale.py, bench/report.py); do not edit by hand —",
        "the tuning notes at the end come from bench/TUNING.md.",
        "",
        f"**Machine**: {box['nproc']} CPUs ({box['cpu_model']}), {box['memory_gb']} GB RAM, "
        f"PostgreSQL {pg}, Python {box['python']}, {box['os']}. The CPUs are shared with other",
        "work, so every figure carries the load average (1-minute, mean and max) and the",
        "whole machine's CPU use sampled while it was taken.",
        "",
        f"![latency and throughput against table size]({chart_name})",
        "",
        "## Acceptance",
        "",
        "| criterion | figures | verdict |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in acceptance(scales, growth)]
    if growth:
        lines += [
            "",
            f"### Growth, measured in one process (bench/growth.py, {growth['runs']} rounds)",
            "",
            "Each size's first pages timed round by round in the same process, switching "
            "databases, so machine noise hits every size alike (the per-size sections below "
            f"were measured minutes apart). Load: {load_cell(growth)}.",
            "",
            "| size | largest organisation's events | Audit Log first page | SQL | API first page | SQL |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label in growth["sizes"]:
            r = growth["results"][label]
            lines.append(
                f"| {label} | {r['organisation_events']:,} | {r['page']['median_ms']:.1f} ms | "
                f"{r['page']['sql_ms']:.1f} ms | {r['api']['median_ms']:.1f} ms | "
                f"{r['api']['sql_ms']:.1f} ms |"
            )
    for label, results in scales:
        lines += ["", f"## {label} events", ""]
        if "skipped" in results:
            lines.append(f"Skipped: {results['skipped']['reason']}.")
            continue
        stamps = sorted({r.get("measured_at", "") for r in results.values()} - {""})
        if stamps:
            lines.append(
                f"Measured {stamps[0]}" + (f" to {stamps[-1]}" if len(stamps) > 1 else "") + "."
            )
            lines.append("")
        load = results.get("load")
        if load:
            gun = load["gunicorn"]
            lines += [
                f"### Concurrent load ({load['administrators']} Administrators, "
                f"{load['api_clients']} API clients, {load['writers']['writers']} writers)",
                "",
                f"gunicorn {gun['workers'] or 'default'} workers × {gun['threads'] or 'default'} threads "
                f"(config/gunicorn.conf.py), database connections: {load['db_mode']}"
                + (f" (pool of ≤ {load['pool_size']} per worker)" if load.get("pool_size") else "")
                + f"; think time {load['admin_wait_s'][0]:g}–{load['admin_wait_s'][1]:g} s between "
                f"pages, API pause {load['api_wait_s'][0]:g}–{load['api_wait_s'][1]:g} s; "
                f"{load['seconds']:.0f} s measured after sign-in and warm-up. Load: {load_cell(load)}.",
                "",
                "| endpoint | requests | req/s | p50 | p95 | p99 | max | errors |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for name, e in load["endpoints"].items():
                lines.append(
                    f"| {name} | {e['requests']} | {e['rps']:.1f} | {e['p50_ms']:.1f} | "
                    f"{e['p95_ms']:.1f} | {e['p99_ms']:.1f} | {e['max_ms']:.0f} | {e['errors']} |"
                )
            w = load["writers"]
            lines += [
                "",
                f"Total {load['requests_per_s']:.1f} requests/s, {load['errors']} errors. Writers: "
                f"{w['changes_per_s']:.1f} audited changes/s"
                + (
                    f" (paced at {w['rate_per_writer']:g}/s each)"
                    if w.get("rate_per_writer")
                    else " (unpaced)"
                )
                + f", {w['errors']} errors. Deep pages: "
                + ", ".join(
                    f"{slug} page {', '.join(f'{d:,}' for d in depths)}"
                    for slug, depths in sorted(load["deep_depths"].items())[:2]
                )
                + ".",
            ]
        viewer = results.get("viewer")
        if viewer:
            lines += [
                "",
                "### Server time, no concurrent load (bench/viewer.py)",
                "",
                f"Largest organisation: {viewer['organisation_events']:,} events; "
                f"{viewer['common_matching']:,} match `event_type=work_session` over 90 days. "
                f"Median of {viewer['runs']} interleaved runs, in-process (middleware, filters, "
                f"query, template or serializer). Load: {load_cell(viewer)}.",
                "",
                "| page | median | SQL | CPU | best |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for key, name in (
                ("first_page", "Audit Log, first page"),
                ("deep_page", f"Audit Log, page {viewer['depth_pages']:,}"),
                ("api_first_page", "API, first page"),
                ("api_deep_page", f"API, page {viewer['depth_pages']:,}"),
                ("event_page", "One event's page"),
            ):
                t = viewer.get(key)
                if t is None:  # results written before the page was measured
                    continue
                lines.append(
                    f"| {name} | {t['median_ms']:.1f} ms | {t['sql_ms']:.1f} ms | "
                    f"{t['cpu_ms']:.1f} ms | {t['best_ms']:.1f} ms |"
                )
            lines += [
                "",
                "| filter combination (Audit Log page) | median | SQL | CPU | plan |",
                "| --- | ---: | ---: | ---: | --- |",
            ]
            for c in viewer["combinations"]:
                lines.append(
                    f"| {c['filters']} | {c['median_ms']:.1f} ms | {c['sql_ms']:.1f} ms | "
                    f"{c['cpu_ms']:.1f} ms | {'SEQ SCAN' if c['seq_scan'] else 'index scans'} |"
                )
        ingest = results.get("ingest")
        if ingest:
            lines += [
                "",
                "### Ingest (bench/ingest.py)",
                "",
                f"{ingest['writers']} writer processes, {ingest['rounds']} interleaved windows of "
                f"{ingest['seconds']:g} s per mode, medians: audited "
                f"**{ingest['audited_changes_per_s']:,.0f}** changes/s vs unaudited "
                f"{ingest['unaudited_changes_per_s']:,.0f} = **{ingest['ratio']:.2f}×** "
                f"(target ≥ {INGEST_RATIO}). {ingest['audit_rows']:,} audit rows for "
                f"{ingest['audited_changes']:,} audited changes, {ingest['errors']} errors. "
                f"Load: {load_cell(ingest)}.",
            ]
        recorder = results.get("recorder")
        if recorder:
            lines += [
                "",
                "### Recorder, one process (bench/recorder.py)",
                "",
                "| shape | unaudited/s | audited/s | ratio | target |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for name, s in recorder["shapes"].items():
                lines.append(
                    f"| {name} | {s['unaudited_per_s']:,.0f} | {s['audited_per_s']:,.0f} | "
                    f"{s['ratio']:.2f} | ≥ {s['target']} |"
                )
            lines += [
                "",
                f"{recorder['saves']} saves per run; the ratio is the median of "
                f"{recorder['rounds']} rounds' paired ratios (audited and unaudited back to back). "
                f"Load: {load_cell(recorder)}.",
            ]
        export = results.get("export")
        if export:
            lines += [
                "",
                f"### Export of the largest organisation, {export['events']:,} events (bench/export.py)",
                "",
                "| format | bare COPY rows/s | HTTP endpoint rows/s | ratio | worker RSS growth |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for fmt, f in export["formats"].items():
                lines.append(
                    f"| {fmt} | {f['copy_rows_per_s']:,.0f} | {f['http_rows_per_s']:,.0f} | "
                    f"{f['ratio']:.2f} | {f['rss_growth_mb']:.1f} MB |"
                )
            lines += [
                "",
                f"Unformatted COPY of the same rows: {export['raw_copy_rows_per_s']:,.0f} rows/s. "
                f"Median of {export['rounds']} rounds. Load: {load_cell(export)}.",
            ]
    tuning = ROOT / "bench" / "TUNING.md"
    if tuning.exists():
        lines += ["", tuning.read_text().strip()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--report", default=str(ROOT / "bench" / "REPORT.md"))
    parser.add_argument("--chart", default=str(ROOT / "bench" / "report.png"))
    args = parser.parse_args()
    scales = load_results(Path(args.results))
    growth_path = Path(args.results) / "growth.json"
    growth = json.loads(growth_path.read_text()) if growth_path.exists() else None
    if not scales:
        raise SystemExit(f"no results under {args.results}: run make bench")
    report_path, chart_path = Path(args.report), Path(args.chart)
    box = machine()
    chart(
        scales,
        chart_path,
        f"Auditdesk, {box['nproc']} CPUs, {box['memory_gb']} GB, PostgreSQL {postgres_version()}",
        growth,
    )
    report_path.write_text(report(scales, os.path.relpath(chart_path, report_path.parent), growth))
    print(f"wrote {report_path} and {chart_path}")


if __name__ == "__main__":
    main()
