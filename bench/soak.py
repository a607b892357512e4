"""Soak test: concurrent writers make audited changes while PostgreSQL restarts and Redis stops.

`make soak` (not part of `make test`): 8 writer processes × 10,000 audited changes each
through the services (and some through the REST API with a token), a random 10% inside
transactions that roll back. Mid-run PostgreSQL is restarted once (pg_ctl restart -m fast)
and Redis is stopped for 10 seconds; sealing runs alongside, as beat would run it. Both
servers are dedicated ones on spare ports, started by scripts/devservices.py, so the shared
servers are never touched; devservices sets up the two logins of docs/trust.md there (as
that server's superuser): the writers and the API run as the application's login
(DATABASE_URL), migrations, sealing and verification as the owner's (DATABASE_OWNER_URL).
The API's per-token throttle is real: a 429 is honoured as a client would (sleep its
Retry-After plus jitter, then retry) and counted. At the end:
- every committed change has exactly its audit rows (one per changed property, one change id);
- no rolled-back change has any;
- no duplicates;
- after a last seal, `verify_audit_chain` (signed digest files) exits 0 for every
  organisation and the platform chain;
- the application's login is refused: UPDATE and DELETE of an audit row,
  `SELECT audit_purge(...)` and `SET ROLE auditdesk_owner`;
- writers met errors only as clean retries (reconnect, check whether the change landed,
  retry it if not).
It prints those counts and exits non-zero if any check fails.
"""

import argparse
import importlib.util
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "auditdesk_soak"
PROPERTIES = ("name", "phone")  # each change sets both: two rows sharing one change id


def _devservices() -> Any:
    spec = importlib.util.spec_from_file_location("devservices", ROOT / "scripts/devservices.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["devservices"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


APP_LOGIN, OWNER_LOGIN = "auditdesk_web", "auditdesk_owner"


def _server_url(args: argparse.Namespace, user: str, database: str = DATABASE) -> str:
    return f"postgres://{user}@127.0.0.1:{args.pg_port}/{database}"


def _env(args: argparse.Namespace) -> dict[str, str]:
    workdir = Path(args.workdir)
    return {
        **os.environ,
        "DATABASE_URL": _server_url(args, APP_LOGIN),
        "DATABASE_OWNER_URL": _server_url(args, OWNER_LOGIN),
        "REDIS_URL": f"redis://127.0.0.1:{args.redis_port}/0",
        # The run's own signing key and digest files: nothing shared with the dev database.
        "AUDIT_SIGNING_KEY": str(workdir / "audit-signing-key.pem"),
        "AUDIT_DIGEST_DIR": str(workdir / "digests"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }


def _django(args: argparse.Namespace) -> None:
    os.environ.update(_env(args))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _marker(writer: int, change: int, rolled_back: bool) -> tuple[str, str]:
    kind = "r" if rolled_back else "c"
    return f"soak w{writer} {kind}{change}", f"+1 555 {writer:02d} {change:06d}"


# --------------------------------------------------------------------------- setup


def setup(args: argparse.Namespace) -> None:
    """Organisations, each writer's customers and its API token; written to a JSON file."""
    _django(args)
    from accounts.models import User
    from accounts.services import api_token_create, organization_create
    from conversations.services import customer_create
    from core.tenancy import tenant

    plan: dict[str, Any] = {"writers": {}}
    orgs = []
    for n in range(args.orgs):
        org = organization_create(
            name=f"Soak Org {n}",
            admin_email=f"admin@soak{n}.test",
            admin_password="soak-password-123",
        )
        orgs.append(org)
    for index in range(args.writers):
        org = orgs[index % len(orgs)]
        with tenant(org):
            admin = User.objects.get(email=f"admin@soak{index % len(orgs)}.test")
            customers = [
                customer_create(name=f"Customer {index}-{k}").pk for k in range(args.customers)
            ]
            _, secret = api_token_create(name=f"Soak token {index}", scopes=["customers:write"])
        plan["writers"][str(index)] = {
            "org_id": org.pk,
            "user_id": admin.pk,
            "customers": customers,
            "token": secret,
        }
    Path(args.plan).write_text(json.dumps(plan))


# --------------------------------------------------------------------------- writer


class RolledBack(Exception):
    """Raised inside a change's transaction to roll it back on purpose."""


def _retry_after(response: Any) -> float:
    """Seconds a 429 asks to wait (Retry-After in seconds; 1 if absent or unreadable)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def writer(args: argparse.Namespace) -> None:
    _django(args)
    from django.db import DatabaseError, InterfaceError, connection, transaction
    from django.test import Client

    from conversations.models import Customer
    from conversations.services import customer_update
    from core.context import Actor
    from core.tenancy import tenant

    # A request cut off by the restart is logged by Django as a 500; here it is a clean
    # retry, counted below, not an error worth a traceback.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    plan = json.loads(Path(args.plan).read_text())["writers"][str(args.index)]
    rng = random.Random(args.seed * 1000 + args.index)
    actor = Actor("user", str(plan["user_id"]), f"Soak writer {args.index}")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plan['token']}", raise_request_exception=True)
    cached: dict[int, Customer] = {}
    ledger: dict[str, Any] = {
        "committed": [],
        "rolled_back": [],
        "via_api": 0,
        "retries": {},
        "throttled": 0,
        "throttled_seconds": 0.0,
    }
    retries: Counter[str] = Counter()
    jitter = random.Random(args.seed * 1000 + args.index + 500)  # keeps `rng`'s plan as it was

    def customer(pk: int) -> Customer:
        if pk not in cached:
            cached[pk] = Customer.all_tenants.get(pk=pk)
        return cached[pk]

    def landed(pk: int, name: str) -> bool:
        return Customer.all_tenants.filter(pk=pk, name=name).exists()

    def reconnect() -> None:
        deadline = time.monotonic() + 120
        while True:
            try:
                connection.close()
            except DatabaseError:
                pass
            try:
                connection.ensure_connection()
                return
            except DatabaseError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    with tenant(plan["org_id"], actor=actor):
        for change in range(args.changes):
            pk = plan["customers"][change % len(plan["customers"])]
            rolled_back = rng.random() < 0.10
            via_api = not rolled_back and rng.random() < 0.20
            name, phone = _marker(args.index, change, rolled_back)
            while True:
                try:
                    if via_api:
                        response = api.patch(
                            f"/api/v1/customers/{pk}/",
                            {"name": name, "phone": phone},
                            content_type="application/json",
                        )
                        if response.status_code == 429:
                            # Throttled (nothing was changed): wait as the API says, plus
                            # jitter so the writers do not come back in step, and retry.
                            pause = _retry_after(response) + jitter.uniform(0.0, 1.0)
                            ledger["throttled"] += 1
                            ledger["throttled_seconds"] += pause
                            time.sleep(pause)
                            continue
                        if response.status_code != 200:
                            raise RuntimeError(f"API answered {response.status_code}")
                        cached.pop(pk, None)
                    else:
                        with transaction.atomic():
                            customer_update(customer=customer(pk), name=name, phone=phone)
                            if rolled_back:
                                raise RolledBack
                    ledger["committed"].append(name)
                    ledger["via_api"] += via_api
                    break
                except RolledBack:
                    cached.pop(pk, None)  # its in-memory values are the rolled-back ones
                    ledger["rolled_back"].append(name)
                    break
                except (DatabaseError, InterfaceError) as error:
                    # A clean retry: reconnect, then redo the change unless it landed.
                    retries[type(error).__name__] += 1
                    cached.pop(pk, None)
                    reconnect()
                    if rolled_back:
                        ledger["rolled_back"].append(name)
                        break
                    if landed(pk, name):
                        ledger["committed"].append(name)
                        ledger["via_api"] += via_api
                        break
            if change % 250 == 0:
                print(f"progress {change}", flush=True)
    ledger["retries"] = dict(retries)
    Path(args.ledger).write_text(json.dumps(ledger))
    print(f"progress {args.changes}", flush=True)


# --------------------------------------------------------------------------- controller


def _manage(args: argparse.Namespace, *command: str, check: bool = True) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *command],
        env=_env(args),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def _servers_up(args: argparse.Namespace, ds: Any) -> dict[str, Any]:
    # Neither login URL set, the server's superuser as DATABASE_ADMIN_URL: devservices
    # creates the two logins and the soak database (owned by the owner's login) there.
    env = {
        key: value
        for key, value in _env(args).items()
        if key not in ("DATABASE_URL", "DATABASE_OWNER_URL")
    }
    env["DATABASE_ADMIN_URL"] = _server_url(args, "postgres")
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/devservices.py"),
            "up",
            "--pg-port",
            str(args.pg_port),
            "--redis-port",
            str(args.redis_port),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"devservices up failed:\n{result.stderr}")
    exported = dict(
        line.removeprefix("export ").split("=", 1)
        for line in result.stdout.splitlines()
        if line.startswith("export ")
    )
    wanted = {key: _env(args)[key] for key in ("DATABASE_URL", "DATABASE_OWNER_URL")}
    if any(exported.get(key) != url for key, url in wanted.items()):
        raise SystemExit(f"devservices exported {exported}, expected {wanted}")
    state = ds.load_state(ds.state_path(args.pg_port, args.redis_port))
    # Restarting and stopping servers is only ever done to servers this run's devservices
    # started on the soak's own ports.
    if not state.get("postgres") or not state.get("redis"):
        raise SystemExit(
            f"ports {args.pg_port}/{args.redis_port} are served by servers devservices did not "
            "start; choose free ports with --pg-port/--redis-port"
        )
    return state


def _signing_key(path: Path) -> None:
    """The run's own Ed25519 key for the signed digests (as `make run` makes one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _restart_postgres(entry: dict[str, Any]) -> float:
    prefix = ["runuser", "-u", entry["run_as"], "--"] if entry.get("run_as") else []
    started = time.monotonic()
    # The server's output goes to its log file: a pipe would be inherited by the new server.
    subprocess.run(
        [*prefix, str(Path(entry["bindir"]) / "pg_ctl"), "-D", entry["datadir"], "-l",
         entry["log"], "-m", "fast", "-w", "-t", "60", "restart"],
        cwd=Path(entry["datadir"]).parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )  # fmt: skip
    return time.monotonic() - started


def controller(args: argparse.Namespace) -> int:
    started = time.monotonic()
    ds = _devservices()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    _signing_key(workdir / "audit-signing-key.pem")
    state = _servers_up(args, ds)
    pg, redis_entry = state["postgres"], state["redis"]
    print(
        f"PostgreSQL on :{args.pg_port} and Redis on :{args.redis_port} (dedicated); "
        f"logins {APP_LOGIN} (writers, API) and {OWNER_LOGIN} (migrate, seal, verify)"
    )
    # A fresh database each run, made by the owner's login (CREATEDB), which owns it.
    for statement in (
        f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)',
        f'CREATE DATABASE "{DATABASE}"',
    ):
        subprocess.run(
            [str(Path(pg["bindir"]) / "psql"), "-h", "127.0.0.1", "-p", str(args.pg_port),
             "-U", OWNER_LOGIN, "-qc", statement, "postgres"],
            check=True,
        )  # fmt: skip
    _manage(args, "migrate", "--noinput", "-v0")
    plan = workdir / "plan.json"
    common = ["--pg-port", str(args.pg_port), "--redis-port", str(args.redis_port)]
    subprocess.run(
        [sys.executable, __file__, "setup", *common, "--plan", str(plan),
         "--writers", str(args.writers), "--orgs", str(args.orgs),
         "--customers", str(args.customers)],
        env=_env(args),
        check=True,
    )  # fmt: skip
    print(f"{args.writers} writers × {args.changes:,} changes, 10% rolled back on purpose")

    progress = [0] * args.writers
    writers = []
    for index in range(args.writers):
        process = subprocess.Popen(
            [sys.executable, __file__, "writer", *common, "--plan", str(plan),
             "--index", str(index), "--changes", str(args.changes), "--seed", str(args.seed),
             "--ledger", str(workdir / f"ledger-{index}.json")],
            env=_env(args),
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        writers.append(process)

        def follow(process: subprocess.Popen, index: int = index) -> None:
            for line in process.stdout:
                if line.startswith("progress "):
                    progress[index] = int(line.split()[1])

        threading.Thread(target=follow, args=(process,), daemon=True).start()

    total = args.writers * args.changes
    events: list[str] = []
    restarted = redis_stopped = False
    last_seal = last_report = time.monotonic()
    seals_run = 0
    while any(process.poll() is None for process in writers):
        done = sum(progress)
        if not restarted and done >= total * 0.35:
            took = _restart_postgres(pg)
            restarted = True
            events.append(f"PostgreSQL restarted at {done:,} changes ({took:.1f} s)")
            print(events[-1], flush=True)
        if restarted and not redis_stopped and done >= total * 0.60:
            ds.stop_redis(redis_entry)
            events.append(f"Redis stopped at {done:,} changes")
            print(events[-1], flush=True)
            time.sleep(10)
            redis_entry = ds.start_redis(ds.parse_redis_url(_env(args)["REDIS_URL"], None))
            ds.save_state(
                ds.state_path(args.pg_port, args.redis_port), {**state, "redis": redis_entry}
            )
            redis_stopped = True
            events.append(f"Redis back after 10 s at {sum(progress):,} changes")
            print(events[-1], flush=True)
        if time.monotonic() - last_seal > args.seal_every:
            # What beat does every few minutes; a failure (PostgreSQL restarting) is retried.
            _manage(args, "seal_audit_chain", "--margin", "5", check=False)
            seals_run += 1
            last_seal = time.monotonic()
        time.sleep(0.5)
        if time.monotonic() - last_report > 15:
            last_report = time.monotonic()
            print(f"{sum(progress):>8,} / {total:,} changes", flush=True)
    failed = [i for i, process in enumerate(writers) if process.returncode != 0]
    if failed:
        print(f"FAIL: writers {failed} crashed (errors other than clean retries)")
        return 1
    writing = time.monotonic() - started
    return _check(args, workdir, events, seals_run, writing, started)


def _attack_as_app_login(args: argparse.Namespace, org_id: int) -> dict[str, str]:
    """What the application's login must be refused, each tried in its own transaction with
    the row's organisation as the session's (so row-level security is not what stops it):
    returns {attack: how it ended}; "REFUSED: …" for the expected outcome."""
    import psycopg

    outcomes: dict[str, str] = {}
    with psycopg.connect(_server_url(args, APP_LOGIN), autocommit=True) as conn:
        who = conn.execute(
            "SELECT current_user, rolsuper, pg_has_role(current_user, %s, 'MEMBER') "
            "FROM pg_roles WHERE rolname = current_user",
            (OWNER_LOGIN,),
        ).fetchone()
        outcomes["connect as the app login"] = ("UNSAFE" if who[1] or who[2] else "OK") + (
            f": connected as {who[0]} (superuser: {who[1]}, member of {OWNER_LOGIN}: {who[2]})"
        )
        conn.execute("SELECT set_config('app.org_id', %s, false)", (str(org_id),))
        event_id, before = conn.execute(
            "SELECT id, actor_name FROM auditlog_auditevent WHERE org_id = %s ORDER BY id LIMIT 1",
            (org_id,),
        ).fetchone()
        attacks = {
            "UPDATE an audit row": (
                "UPDATE auditlog_auditevent SET actor_name = 'forged' WHERE id = %s",
                (event_id,),
            ),
            "DELETE an audit row": ("DELETE FROM auditlog_auditevent WHERE id = %s", (event_id,)),
            "SELECT audit_purge(...)": (
                "SELECT audit_purge(%s, 'Customer', 1)",
                (org_id,),
            ),
            f"SET ROLE {OWNER_LOGIN}": (f"SET ROLE {OWNER_LOGIN}", None),
        }
        for attack, (statement, params) in attacks.items():
            try:
                with conn.transaction():
                    cursor = conn.execute(statement, params)
                    outcomes[attack] = f"ALLOWED ({cursor.rowcount} rows)"
            except psycopg.Error as error:
                outcomes[attack] = f"REFUSED: {type(error).__name__}: {str(error).splitlines()[0]}"
        after = conn.execute(
            "SELECT actor_name FROM auditlog_auditevent WHERE id = %s", (event_id,)
        ).fetchone()
        if after is None or after[0] != before:
            outcomes["the attacked row afterwards"] = f"CHANGED: {after!r}, was {before!r}"
    return outcomes


def _check(
    args: argparse.Namespace,
    workdir: Path,
    events: list[str],
    seals_run: int,
    writing: float,
    started: float,
) -> int:
    _django(args)
    from django.db import connections

    from accounts.models import Organization
    from auditlog.roles import owner_db, owner_mode
    from core import context

    ledgers = [json.loads((workdir / f"ledger-{i}.json").read_text()) for i in range(args.writers)]
    committed = {name for ledger in ledgers for name in ledger["committed"]}
    rolled_back = {name for ledger in ledgers for name in ledger["rolled_back"]}
    retries: Counter[str] = Counter()
    for ledger in ledgers:
        retries.update(ledger["retries"])
    via_api = sum(ledger["via_api"] for ledger in ledgers)
    throttled = sum(ledger.get("throttled", 0) for ledger in ledgers)
    throttled_seconds = sum(ledger.get("throttled_seconds", 0.0) for ledger in ledgers)

    # As the owner, one organisation at a time: row-level security is forced on the owner
    # too, so each organisation's rows are read within its own context.
    found: list[tuple[str, int, int]] = []
    duplicates = change_rows = 0
    owner = connections[owner_db()]
    for org_id in (
        Organization.objects.using(owner.alias).order_by("pk").values_list("pk", flat=True)
    ):
        with context.use(org_id=org_id), owner_mode(), owner.cursor() as cursor:
            # Per change (one change id): its rows and the name it set; per name, its changes.
            cursor.execute(
                """
                WITH changes AS (
                  SELECT change_id, count(*) AS rows,
                         max(after #>> '{}') FILTER (WHERE property = 'name') AS name
                    FROM auditlog_auditevent
                   WHERE org_id = %(org)s AND section = 'Customer' AND action = 'update'
                   GROUP BY change_id)
                SELECT name, count(*) OVER (PARTITION BY name), rows
                  FROM changes WHERE name LIKE 'soak w%%'
                """,
                {"org": org_id},
            )
            found += cursor.fetchall()
            cursor.execute(
                """
                SELECT count(*) FROM (
                  SELECT change_id, property FROM auditlog_auditevent WHERE org_id = %(org)s
                   GROUP BY change_id, property HAVING count(*) > 1) AS twice
                """,
                {"org": org_id},
            )
            duplicates += cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM auditlog_auditevent WHERE org_id = %(org)s "
                "AND section = 'Customer' AND action = 'update' "
                "AND (after #>> '{}') LIKE ANY(ARRAY['soak w%%', '+1 555 %%'])",
                {"org": org_id},
            )
            change_rows += cursor.fetchone()[0]
    rows_by_name = {name: (count, per_change) for name, count, per_change in found}
    missing = [n for n in committed if n not in rows_by_name]
    wrong = [n for n in committed if n in rows_by_name and rows_by_name[n] != (1, len(PROPERTIES))]
    leaked = [n for n in rolled_back if n in rows_by_name]

    # The platform jobs as beat runs them (the owner's login): a last seal of everything,
    # then a full verification against the signed digest files.
    sealing = _manage(args, "seal_audit_chain", "--margin", "0", check=False)
    verification = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "verify_audit_chain", "--digests", "files"],
        env=_env(args),
        capture_output=True,
        text=True,
        check=False,
    )
    chains = [line for line in verification.stdout.splitlines() if ": " in line]
    intact = [line for line in chains if ": intact," in line]
    orgs = Organization.objects.using(owner.alias).count()
    verified = (
        verification.returncode == 0
        and len(intact) == orgs + 1
        and any(line.startswith("Platform chain: intact") for line in intact)
    )
    sealed = sum(
        int(line.split(": intact, ", 1)[1].split(" sealed", 1)[0].replace(",", ""))
        for line in intact
    )
    plan = json.loads((workdir / "plan.json").read_text())
    attacks = _attack_as_app_login(args, plan["writers"]["0"]["org_id"])
    refused = all(
        outcome.startswith("OK" if attack == "connect as the app login" else "REFUSED")
        for attack, outcome in attacks.items()
    )

    print()
    print(f"changes attempted          {len(committed) + len(rolled_back):>10,}")
    print(f"  committed                {len(committed):>10,}  ({via_api:,} through the REST API)")
    print(f"  rolled back on purpose   {len(rolled_back):>10,}")
    print(f"audit rows of the changes  {change_rows:>10,}  (expected {len(committed) * 2:,})")
    print(f"committed without rows     {len(missing):>10,}")
    print(f"committed with wrong rows  {len(wrong):>10,}")
    print(f"rolled back with rows      {len(leaked):>10,}")
    print(f"duplicate rows             {duplicates:>10,}")
    print(f"API answers 429, retried   {throttled:>10,}  (Retry-After honoured: "
          f"{throttled_seconds:,.0f} s slept over all writers)")  # fmt: skip
    print(f"sealing passes during run  {seals_run:>10,}")
    print(
        f"last seal                  {sealing.strip().splitlines()[-1] if sealing.strip() else '?'}"
    )
    print(f"verify_audit_chain         exit {verification.returncode}: {len(intact)} of "
          f"{orgs + 1} chains intact ({orgs} organisations + platform), {sealed:,} sealed "
          f"events checked against signed digest files")  # fmt: skip
    for line in chains:
        if line not in intact:
            print(f"  {line}")
    if verification.returncode != 0:
        print(f"  {verification.stderr.strip()[-1500:]}")
    print("app login attacks:")
    for attack, outcome in attacks.items():
        print(f"  {attack:<28} {outcome}")
    print(f"clean retries by writers   {sum(retries.values()):>10,}  {dict(retries)}")
    for event in events:
        print(f"fault: {event}")
    print(f"writing took {writing:.0f} s; total {time.monotonic() - started:.0f} s")
    checks = {
        "every committed change has its rows": not missing and not wrong,
        "no rolled-back change has rows": not leaked,
        "no duplicates": not duplicates,
        "rows = 2 per committed change": change_rows == len(committed) * 2,
        "verify_audit_chain: every chain intact": verified,
        "app login refused": refused and "the attacked row afterwards" not in attacks,
        "PostgreSQL restarted and Redis stopped mid-run": len(events) == 3,
    }
    ok = all(checks.values())
    print(
        "SOAK PASSED" if ok else "SOAK FAILED: " + "; ".join(c for c, v in checks.items() if not v)
    )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="run", choices=["run", "setup", "writer"])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--changes", type=int, default=10_000, help="changes per writer")
    parser.add_argument("--orgs", type=int, default=4)
    parser.add_argument("--customers", type=int, default=50, help="customers per writer")
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--redis-port", type=int, default=56379)
    parser.add_argument("--seal-every", type=float, default=20.0, help="seconds between seals")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the soak servers running")
    parser.add_argument("--workdir", default="/tmp/auditdesk-soak")  # noqa: S108
    parser.add_argument("--plan")
    parser.add_argument("--index", type=int)
    parser.add_argument("--ledger")
    args = parser.parse_args()
    if args.role == "setup":
        setup(args)
    elif args.role == "writer":
        writer(args)
    else:
        code = 1
        try:
            code = controller(args)
        finally:
            if not args.keep:
                subprocess.run(
                    [sys.executable, str(ROOT / "scripts/devservices.py"), "down",
                     "--pg-port", str(args.pg_port), "--redis-port", str(args.redis_port)],
                    env=_env(args),
                    check=False,
                )  # fmt: skip
        sys.exit(code)


if __name__ == "__main__":
    main()
