"""The embedded default warehouse: a private PostgreSQL cluster under .local/pg.

`touchpoint warehouse start|stop|status|url`. When WAREHOUSE_URL is set every command
uses it and nothing is started. Run as root, the server runs as an unprivileged user
(PostgreSQL refuses to run as root).
"""
from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from touchpoint.config import Settings, settings

DB_NAME = "touchpoint"
DB_USER = "touchpoint"

NO_SERVER_HELP = """\
No warehouse available: WAREHOUSE_URL is not set and no PostgreSQL server binaries
(pg_ctl, initdb) were found on PATH or under /usr/lib/postgresql/*/bin. Fix it one of
three ways: install the PostgreSQL server (Debian/Ubuntu: `sudo apt-get install -y
postgresql`; macOS: `brew install postgresql@16`) and run the command again; or point
Touchpoint at an existing database with `export
WAREHOUSE_URL=postgresql://user:password@host:5432/dbname`; or start the bundled one
with `docker compose up -d warehouse` and `export
WAREHOUSE_URL=postgresql://touchpoint:touchpoint@localhost:5433/touchpoint`."""


class WarehouseError(RuntimeError):
    """A warehouse problem with a message meant for the operator."""


@dataclass(frozen=True)
class Cluster:
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path
    password_file: Path
    port: int
    run_as: str | None  # unprivileged OS user when we are root

    @property
    def url(self) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{self.port}/{DB_NAME}"


def find_bin_dir() -> Path | None:
    """Directory holding pg_ctl and initdb, or None."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    if on_path:  # Debian links pg_ctl onto PATH but not initdb
        real = Path(on_path).resolve().parent
        if (real / "initdb").exists():
            return real
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise WarehouseError("running as root but neither a 'postgres' nor a 'nobody' user exists to run the server")


def _can_reach(user: str, path: Path) -> bool:
    """Can `user` traverse to `path` (its nearest existing ancestor, when it doesn't exist yet)?"""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    entry = pwd.getpwnam(user)
    return subprocess.run(["test", "-x", str(probe)], user=entry.pw_uid, group=entry.pw_gid,
                          extra_groups=[]).returncode == 0


def _pg_dir(cfg: Settings, run_as: str | None) -> Path:
    """Where the cluster lives: .local/pg, unless the server user cannot reach it.

    As root the server runs as an unprivileged user; a clone under a 0700 folder (say
    /root/src) is out of its reach, so the cluster then lives in a private folder of its
    own under /var/tmp, one per checkout.
    """
    if run_as is None or _can_reach(run_as, cfg.pg_dir):
        return cfg.pg_dir
    digest = hashlib.sha1(str(cfg.pg_dir).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"touchpoint-pg-{digest}"  # created by initdb's set-up, not here


def cluster(cfg: Settings | None = None) -> Cluster:
    cfg = cfg or settings()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise WarehouseError(NO_SERVER_HELP)
    run_as = _unprivileged_user()
    pg_dir = _pg_dir(cfg, run_as)
    return Cluster(
        bin_dir=bin_dir,
        data_dir=pg_dir / "data",
        socket_dir=pg_dir / "run",
        log_file=pg_dir / "server.log",
        password_file=pg_dir / "password",
        port=cfg.embedded_port,
        run_as=run_as,
    )


def _run(c: Cluster, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    kwargs: dict = {"capture_output": True, "text": True, "cwd": "/"}
    if c.run_as:
        entry = pwd.getpwnam(c.run_as)
        kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                      env={**os.environ, "HOME": entry.pw_dir or "/"})
    proc = subprocess.run([str(c.bin_dir / args[0]), *args[1:]], **kwargs)
    if check and proc.returncode != 0:
        raise WarehouseError(f"{args[0]} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def _chown_tree(c: Cluster, path: Path) -> None:
    if c.run_as:
        entry = pwd.getpwnam(c.run_as)
        for p in [path, *path.rglob("*")]:
            os.chown(p, entry.pw_uid, entry.pw_gid)


def is_running(c: Cluster) -> bool:
    if not (c.data_dir / "PG_VERSION").exists():
        return False
    return _run(c, ["pg_ctl", "status", "-D", str(c.data_dir)], check=False).returncode == 0


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _init(c: Cluster) -> None:
    pg_dir = c.data_dir.parent
    pg_dir.mkdir(parents=True, exist_ok=True)
    c.socket_dir.mkdir(parents=True, exist_ok=True)
    if not c.password_file.exists():
        c.password_file.write_text(secrets.token_urlsafe(18) + "\n")
    os.chmod(c.password_file, 0o600)
    _chown_tree(c, pg_dir)
    _run(c, [
        "initdb", "-D", str(c.data_dir), "-U", DB_USER, "--pwfile", str(c.password_file),
        "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256",
    ])
    # A dev/CI cluster tuned for bulk loads on a small machine; loopback only.
    conf = c.data_dir / "postgresql.auto.conf"
    with conf.open("a") as fh:
        fh.write(
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{c.socket_dir}'\n"
            "shared_buffers = '512MB'\n"
            "work_mem = '64MB'\n"
            "maintenance_work_mem = '512MB'\n"
            "max_wal_size = '4GB'\n"
            "synchronous_commit = off\n"
            "timezone = 'UTC'\n"
            "max_connections = 200\n"
        )


def start(cfg: Settings | None = None) -> str:
    """Start the embedded cluster (idempotent) and return its URL."""
    cfg = cfg or settings()
    if cfg.warehouse_url:
        return cfg.warehouse_url
    c = cluster(cfg)
    if is_running(c):
        return c.url
    if not (c.data_dir / "PG_VERSION").exists():
        _init(c)
    if _port_busy(c.port):
        raise WarehouseError(
            f"port {c.port} on 127.0.0.1 is taken by another program; set TOUCHPOINT_WAREHOUSE_PORT "
            f"to a free port (or WAREHOUSE_URL to use that server)."
        )
    _chown_tree(c, c.data_dir.parent)
    _run(c, ["pg_ctl", "start", "-w", "-t", "60", "-D", str(c.data_dir), "-l", str(c.log_file),
             "-o", f"-p {c.port}"])
    _ensure_database(c)
    return c.url


def _ensure_database(c: Cluster) -> None:
    import psycopg

    admin_url = c.url.rsplit("/", 1)[0] + "/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                exists = conn.execute("select 1 from pg_database where datname = %s", (DB_NAME,)).fetchone()
                if not exists:
                    conn.execute(f'create database "{DB_NAME}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise


def stop(cfg: Settings | None = None) -> str:
    cfg = cfg or settings()
    if cfg.warehouse_url:
        return "WAREHOUSE_URL is set: nothing to stop (Touchpoint did not start that server)."
    c = cluster(cfg)
    if not is_running(c):
        return "embedded warehouse is not running"
    _run(c, ["pg_ctl", "stop", "-w", "-m", "fast", "-D", str(c.data_dir)])
    return "embedded warehouse stopped"


def status(cfg: Settings | None = None) -> tuple[bool, str]:
    cfg = cfg or settings()
    if cfg.warehouse_url:
        return True, f"using WAREHOUSE_URL ({redact(cfg.warehouse_url)}); the embedded cluster is not used"
    c = cluster(cfg)
    if is_running(c):
        return True, f"embedded warehouse running on 127.0.0.1:{c.port}, data in {c.data_dir}"
    if (c.data_dir / "PG_VERSION").exists():
        return False, f"embedded warehouse stopped (data in {c.data_dir}); `touchpoint warehouse start` starts it"
    return False, "embedded warehouse not initialised; `touchpoint warehouse start` creates it"


def url(cfg: Settings | None = None) -> str:
    """URL of the warehouse, without starting anything."""
    cfg = cfg or settings()
    if cfg.warehouse_url:
        return cfg.warehouse_url
    c = cluster(cfg)
    if not c.password_file.exists():
        raise WarehouseError("the embedded warehouse has not been created yet: run `touchpoint warehouse start`")
    return c.url


def redact(u: str) -> str:
    """URL with the password hidden, for logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(u)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return u
