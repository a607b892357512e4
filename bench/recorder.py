"""Recorder benchmark: audited vs unaudited saves of the same model, in one run, as a ratio.

Two shapes: one save per transaction, and many saves per transaction. The audited runs
have a full request context set (actor, org, IP, user agent, request id). Each round runs
the audited and unaudited shape back to back (alternating which goes first), and the
reported ratio is the median of the rounds' paired ratios: a commit's fsync on this
machine's disk swings by 2x within a minute, and pairing keeps that drift out of the ratio.
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import LoadSampler, load_text, write_json  # noqa: E402
from bench._setup import use_bench_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=200, help="saves per measured run")
    parser.add_argument(
        "--rounds", type=int, default=41, help="paired rounds; the median ratio is reported"
    )
    parser.add_argument(
        "--batch", type=int, default=100, help="saves per transaction in the 'many' shape"
    )
    parser.add_argument("--database", default="auditdesk_bench_recorder")
    parser.add_argument("--json", help="write the results here (for make bench's report)")
    args = parser.parse_args()

    use_bench_database(args.database)

    from django.db import connection, transaction
    from django.db.models.signals import post_save
    from tqdm import tqdm

    from accounts.models import Organization, RoleGroup, User
    from accounts.services import organization_create
    from auditlog import recorder
    from core import context
    from core.context import Actor

    org = Organization.objects.filter(slug="recorder-bench").first()
    if org is None:
        org = organization_create(
            name="Recorder Bench",
            admin_email="bench@recorder.test",
            admin_password="bench-password",
        )
        Organization.objects.filter(pk=org.pk).update(slug="recorder-bench")
    with context.use(org_id=org.pk):
        admin = User.objects.get(email="bench@recorder.test")
        group, _ = RoleGroup.objects.get_or_create(name="Bench group", defaults={"permissions": []})
    request_context = context.AuditContext(
        org_id=org.pk,
        actor=Actor.for_user(admin),
        ip_address="203.0.113.77",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
        request_id="0123456789abcdef0123456789abcdef",
    )

    run_tag = uuid.uuid4().hex[:8]  # saved names never collide with an earlier run's

    def one_per_transaction(n: int, offset: int) -> None:
        for i in range(n):
            with transaction.atomic():
                group.name = f"Bench group {run_tag}-{offset + i}"
                group.save()

    def many_per_transaction(n: int, offset: int) -> None:
        for start in range(0, n, args.batch):
            with transaction.atomic():
                for i in range(start, min(start + args.batch, n)):
                    group.name = f"Bench group {run_tag}-{offset + i}"
                    group.save()

    def measure(shape, audited: bool, offset: int) -> float:
        if not audited:
            post_save.disconnect(
                recorder._on_save, sender=RoleGroup, dispatch_uid="audit-save-accounts.RoleGroup"
            )
        try:
            with context.use(request_context):
                started = time.perf_counter()
                shape(args.saves, offset)
                elapsed = time.perf_counter() - started
        finally:
            if not audited:
                post_save.connect(
                    recorder._on_save,
                    sender=RoleGroup,
                    dispatch_uid="audit-save-accounts.RoleGroup",
                )
        return args.saves / elapsed

    # Row-level security: the organisation's rows are read within its context.
    with context.use(org_id=org.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auditlog_auditevent WHERE org_id = %s", [org.pk])
        rows_before = cursor.fetchone()[0]

    shapes = {
        "one save per transaction": one_per_transaction,
        "many saves per transaction": many_per_transaction,
    }
    results: dict[str, dict[bool, list[float]]] = {name: {False: [], True: []} for name in shapes}
    # Warm up connections, caches and prepared plans before measuring.
    for shape in shapes.values():
        measure(shape, True, 0)
        measure(shape, False, 0)
    offset = 0
    sampler = LoadSampler()
    sampler.start()
    progress = tqdm(
        total=args.rounds * len(shapes) * 2, desc="recorder bench", unit="run", disable=None
    )
    for round_no in range(args.rounds):
        for name, shape in shapes.items():
            order = (False, True) if round_no % 2 == 0 else (True, False)
            for audited in order:
                offset += args.saves
                results[name][audited].append(measure(shape, audited, offset))
                progress.update()
    progress.close()
    load = sampler.stop()

    with context.use(org_id=org.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auditlog_auditevent WHERE org_id = %s", [org.pk])
        rows_written = cursor.fetchone()[0] - rows_before
    expected_rows = args.rounds * len(shapes) * args.saves + sum(1 for _ in shapes) * args.saves
    targets = {"one save per transaction": 0.75, "many saves per transaction": 0.85}
    print()
    print(
        f"Recorder benchmark: {args.saves} saves per run, median of {args.rounds} paired rounds"
        f" ({load_text(load)})"
    )
    print(f"{'shape':<28} {'unaudited/s':>12} {'audited/s':>12} {'ratio':>7} {'target':>7}")
    ok = True
    summary = {}
    for name in shapes:
        plain = statistics.median(results[name][False])
        audited = statistics.median(results[name][True])
        ratio = statistics.median(
            a / u for a, u in zip(results[name][True], results[name][False], strict=True)
        )
        ok &= ratio >= targets[name]
        summary[name] = {
            "unaudited_per_s": plain,
            "audited_per_s": audited,
            "ratio": ratio,
            "ratio_of_medians": audited / plain,
            "round_ratios": [
                a / u for a, u in zip(results[name][True], results[name][False], strict=True)
            ],
            "target": targets[name],
        }
        print(
            f"{name:<28} {plain:>12,.0f} {audited:>12,.0f} {ratio:>7.2f} {'≥' + str(targets[name]):>7}"
        )
    print(f"audit rows written by the audited runs: {rows_written:,} (expected {expected_rows:,})")
    print("targets met" if ok else "BELOW TARGET")
    write_json(
        args.json,
        {
            "benchmark": "recorder",
            "database": args.database,
            "saves": args.saves,
            "rounds": args.rounds,
            "shapes": summary,
            "rows_written": rows_written,
            "rows_expected": expected_rows,
            "met": ok,
            "load": load,
        },
    )


if __name__ == "__main__":
    main()
