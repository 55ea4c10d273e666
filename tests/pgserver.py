"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl from Debian's `postgresql` package
(`scripts/install.sh --test` installs it) in a temporary folder, listening only on a unix socket there.

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the `postgres` system
user (`runuser -u postgres --`). Each test gets a database of its own (`create_database`).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
SERVER_OPTIONS = ("-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                  "-c max_connections=200")


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, else the one on PATH, else None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PgServer:
    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="igcs-pg-"))  # in /tmp: the postgres user can reach it
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, user=SUPERUSER, group=SUPERUSER)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.root / "server.log")
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               f"{log.read_text() if log.exists() else ''}")

    def start(self) -> "PgServer":
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", f"-k {self.root} {SERVER_OPTIONS}", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.root}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(host=str(self.root), user=SUPERUSER, dbname="postgres", autocommit=True)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin() as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
