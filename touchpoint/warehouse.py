"""The embedded default warehouse: a private PostgreSQL cluster under .local/pg.

`touchpoint warehouse start|stop|status|url`. When WAREHOUSE_URL is set every command
uses it and nothing is started. Run as root, the server runs as an unprivileged user
(PostgreSQL refuses to run as root).

Private by default (issue 10): every connection, socket or TCP, needs a password
(scram-sha-256; no `trust` line in pg_hba.conf), the server listens on 127.0.0.1 only,
and its socket folder is 0700 (no other OS user can reach the socket). Three roles:

- `touchpoint_admin`, the cluster's superuser: set-up only (roles, databases). Its
  password is in `.local/pg/admin-password`; nothing in the nightly run uses it.
- `touchpoint`, the pipeline: owns the `touchpoint` database and every schema in it;
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS, no pg_* role (so no
  COPY TO PROGRAM, no server files). `touchpoint warehouse url` is its URL.
- `touchpoint_bi` (touchpoint/bi.py): reads the published `marts` views only.

A cluster created before this (superuser `touchpoint`, trust on the socket) is brought
in line at its next start: the admin role is created, `touchpoint` loses its
attributes, pg_hba.conf is rewritten.
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
from urllib.parse import quote

from touchpoint.config import Settings, settings

DB_NAME = "touchpoint"
DB_USER = "touchpoint"
ADMIN_USER = "touchpoint_admin"
ADMIN_URL_ENV = "TOUCHPOINT_ADMIN_URL"
PIPELINE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
# No `trust` and no `peer`: a password for every connection, loopback only.
PG_HBA = """\
# Written by Touchpoint (touchpoint/warehouse.py): every connection needs a password.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""

NO_SERVER_HELP = """\
No warehouse available: WAREHOUSE_URL is not set and no PostgreSQL server binaries
(pg_ctl, initdb) were found on PATH or under /usr/lib/postgresql/*/bin. Fix it one of
three ways: install the PostgreSQL server (Debian/Ubuntu: `sudo apt-get install -y
postgresql`; macOS: `brew install postgresql@16`) and run the command again; or point
Touchpoint at an existing database with `export
WAREHOUSE_URL=postgresql://user:password@host:5432/dbname`; or start the bundled one
with `make compose-env && docker compose up -d warehouse` and `export
WAREHOUSE_URL=postgresql://touchpoint:<TOUCHPOINT_DB_PASSWORD from .env>@127.0.0.1:5433/touchpoint`."""


class WarehouseError(RuntimeError):
    """A warehouse problem with a message meant for the operator."""


@dataclass(frozen=True)
class Cluster:
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path
    password_file: Path
    admin_password_file: Path
    port: int
    run_as: str | None  # unprivileged OS user when we are root

    @property
    def url(self) -> str:
        """The pipeline role's URL (what every command uses)."""
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def admin_url(self) -> str:
        """The superuser's URL, to the `postgres` database: set-up only."""
        password = quote(self.admin_password_file.read_text().strip(), safe="")
        return f"postgresql://{ADMIN_USER}:{password}@127.0.0.1:{self.port}/postgres"


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
        admin_password_file=pg_dir / "admin-password",
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
    if c.run_as and path.exists():
        entry = pwd.getpwnam(c.run_as)
        for p in [path, *path.rglob("*")]:
            os.chown(p, entry.pw_uid, entry.pw_gid)


def _write_secret(path: Path, value: str) -> None:
    """A 0600 file owned by whoever runs Touchpoint (not by the server's OS user)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")


def _secure_layout(c: Cluster) -> None:
    """Who may reach what: the server's user owns data, socket folder and log; the
    password files stay with the invoking user, 0600; the folder holding them is
    traversable by the server's user only as far as it must be (0711)."""
    pg_dir = c.data_dir.parent
    pg_dir.mkdir(parents=True, exist_ok=True)
    for folder in (c.data_dir, c.socket_dir):  # initdb fills an existing empty data folder
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o700)
    c.log_file.touch(exist_ok=True)
    os.chown(pg_dir, os.geteuid(), os.getegid())  # an older layout gave it to the server's user
    os.chmod(pg_dir, 0o711 if c.run_as else 0o700)
    os.chmod(c.log_file, 0o600)
    for secret in (c.password_file, c.admin_password_file):
        if secret.exists():
            os.chown(secret, os.geteuid(), os.getegid())
            os.chmod(secret, 0o600)
    for owned in (c.data_dir, c.socket_dir, c.log_file):
        _chown_tree(c, owned)


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
    for secret in (c.password_file, c.admin_password_file):
        if not secret.exists():
            _write_secret(secret, secrets.token_urlsafe(18))
    _secure_layout(c)
    # initdb reads the superuser's password as the server's user: a short-lived copy
    # inside the (server-owned, 0700) socket folder.
    pwfile = c.socket_dir / "initdb-pwfile"
    pwfile.write_text(c.admin_password_file.read_text())
    os.chmod(pwfile, 0o600)
    _chown_tree(c, pwfile)
    try:
        _run(c, [
            "initdb", "-D", str(c.data_dir), "-U", ADMIN_USER, "--pwfile", str(pwfile),
            "-E", "UTF8", "--no-locale", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
        ])
    finally:
        pwfile.unlink(missing_ok=True)
    # A dev/CI cluster tuned for bulk loads on a small machine; loopback only.
    conf = c.data_dir / "postgresql.auto.conf"
    with conf.open("a") as fh:
        fh.write(
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{c.socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            "password_encryption = 'scram-sha-256'\n"
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
        if _write_hba(c):  # an older cluster, started before it was made private
            _run(c, ["pg_ctl", "reload", "-D", str(c.data_dir)])
        _secure_layout(c)
        if not c.admin_password_file.exists():
            _ensure_roles(c)
        return c.url
    if not (c.data_dir / "PG_VERSION").exists():
        _init(c)
    if _port_busy(c.port):
        raise WarehouseError(
            f"port {c.port} on 127.0.0.1 is taken by another program; set TOUCHPOINT_WAREHOUSE_PORT "
            f"to a free port (or WAREHOUSE_URL to use that server)."
        )
    _write_hba(c)
    _secure_layout(c)
    _run(c, ["pg_ctl", "start", "-w", "-t", "60", "-D", str(c.data_dir), "-l", str(c.log_file),
             "-o", f"-p {c.port}"])
    _ensure_roles(c)
    return c.url


def _write_hba(c: Cluster) -> bool:
    """pg_hba.conf as Touchpoint wants it (also replaces an older cluster's `trust`).
    Returns whether it changed."""
    hba = c.data_dir / "pg_hba.conf"
    if hba.exists() and hba.read_text() == PG_HBA:
        return False
    hba.write_text(PG_HBA)
    os.chmod(hba, 0o600)
    _chown_tree(c, hba)
    return True


def _connect_retrying(url: str):
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _adopt_legacy_superuser(c: Cluster) -> None:
    """A cluster made before the admin role existed: its superuser was `touchpoint`."""
    from psycopg import sql

    if not c.admin_password_file.exists():
        _write_secret(c.admin_password_file, secrets.token_urlsafe(18))
    with _connect_retrying(c.url.rsplit("/", 1)[0] + "/postgres") as conn:
        if not conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]:
            raise WarehouseError(
                f"cannot log in as {ADMIN_USER} (password file {c.admin_password_file}) and {DB_USER} is not a "
                "superuser: restore the admin password file, or remove .local/pg to start a new cluster")
        verb = "alter" if conn.execute("select 1 from pg_roles where rolname = %s", (ADMIN_USER,)).fetchone() \
            else "create"
        conn.execute(sql.SQL(f"{verb} role {{}} login superuser password {{}}").format(
            sql.Identifier(ADMIN_USER), sql.Literal(c.admin_password_file.read_text().strip())))


def _ensure_roles(c: Cluster) -> None:
    """The admin, pipeline and BI roles as the module docstring describes (idempotent)."""
    import psycopg
    from psycopg import sql

    try:
        conn = _connect_retrying(c.admin_url) if c.admin_password_file.exists() else None
    except psycopg.OperationalError as exc:
        if "password authentication failed" not in str(exc):
            raise
        conn = None
    if conn is None:
        _adopt_legacy_superuser(c)
        conn = _connect_retrying(c.admin_url)
    pipeline = sql.Identifier(DB_USER)
    with conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (DB_USER,)).fetchone()
        conn.execute(sql.SQL(f"{'alter' if exists else 'create'} role {{}} {PIPELINE_ATTRIBUTES} password {{}}")
                     .format(pipeline, sql.Literal(c.password_file.read_text().strip())))
        # No predefined role that reaches the server's files or programs.
        for (granted,) in conn.execute(
                "select parent.rolname from pg_auth_members as membership "
                "join pg_roles as parent on parent.oid = membership.roleid "
                "join pg_roles as child on child.oid = membership.member where child.rolname = %s",
                (DB_USER,)).fetchall():
            conn.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(granted), pipeline))
        if not conn.execute("select 1 from pg_database where datname = %s", (DB_NAME,)).fetchone():
            conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(DB_NAME), pipeline))
        else:
            conn.execute(sql.SQL("alter database {} owner to {}").format(sql.Identifier(DB_NAME), pipeline))
    with psycopg.connect(with_admin_database(c, DB_NAME), autocommit=True) as conn:
        from touchpoint import bi

        try:
            bi.ensure_role(conn, owner=DB_USER)
        except bi.BiRoleError:
            pass  # reported by `touchpoint bi url`; the pipeline does not need it


def with_admin_database(c: Cluster, dbname: str) -> str:
    return c.admin_url.rsplit("/", 1)[0] + "/" + dbname


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


def admin_url(cfg: Settings | None = None) -> str:
    """A URL that may create databases (tests, benchmarks): the embedded cluster's
    admin, else TOUCHPOINT_ADMIN_URL, else WAREHOUSE_URL itself (its user must then
    have CREATEDB). Never used by the nightly run."""
    cfg = cfg or settings()
    if os.environ.get(ADMIN_URL_ENV):
        return os.environ[ADMIN_URL_ENV]
    if cfg.warehouse_url:
        return cfg.warehouse_url
    c = cluster(cfg)
    if not c.admin_password_file.exists():
        raise WarehouseError("the embedded warehouse has not been created yet: run `touchpoint warehouse start`")
    return c.admin_url


def admin_url_for(target: str, cfg: Settings | None = None) -> str:
    """admin_url() when `target` is on the embedded cluster or TOUCHPOINT_ADMIN_URL is
    set; otherwise `target` itself (another server: its user must have CREATEDB)."""
    from urllib.parse import urlsplit

    cfg = cfg or settings()
    if os.environ.get(ADMIN_URL_ENV):
        return os.environ[ADMIN_URL_ENV]
    parts = urlsplit(target)
    try:
        c = cluster(cfg)
    except WarehouseError:
        return target
    if parts.hostname in ("127.0.0.1", "localhost") and parts.port == c.port and c.admin_password_file.exists():
        return c.admin_url
    return target


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
