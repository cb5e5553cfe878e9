"""Throwaway Redis and PostgreSQL servers for the test suite: temporary directories, free
local ports, stopped when the tests end."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_DIRS = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A redis-server process that a test may stop and start again on the same port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server is not installed; run `make test`, which installs it")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="test-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """initdb + pg_ctl in a temporary directory. PostgreSQL refuses to run as root, so as root
    the server runs as the `postgres` user."""

    def __init__(self) -> None:
        self.bin = next((Path(d) for d in PG_BIN_DIRS if (Path(d) / "initdb").exists()), None)
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found; run `make test`, which installs them")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="test-pg-"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/onboarding_test"

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o700)
        self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", self.user, "--no-sync", "-E", "UTF8")
        # No autovacuum: a test that reads a query plan must not depend on whether autovacuum happened to
        # analyze a table holding the few rows earlier tests left (it then prefers a bitmap scan and a sort).
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
                   " -c autovacuum=off")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.dir / "log", "-w", "start")
        self._run(self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "onboarding_test")

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class ClamdServer:
    """clamd with a one-signature database that recognises the EICAR test string anywhere in a file
    (no signatures can be downloaded here)."""

    BINARIES = ("/usr/sbin/clamd", "/usr/bin/clamd")

    def __init__(self) -> None:
        self.binary = next((b for b in self.BINARIES if os.path.exists(b)), shutil.which("clamd"))
        if not self.binary:
            raise RuntimeError("clamd is not installed; run `make test`, which installs clamav-daemon")
        self.dir = Path(tempfile.mkdtemp(prefix="test-clamd-"))
        self.socket = self.dir / "clamd.sock"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        (self.dir / "db").mkdir()
        (self.dir / "db" / "eicar.ndb").write_text(f"Eicar-Test-Signature:0:*:{EICAR.hex()}\n")
        config = self.dir / "clamd.conf"
        config.write_text(
            f"LocalSocket {self.socket}\nDatabaseDirectory {self.dir / 'db'}\nForeground yes\n"
            f"TemporaryDirectory {self.dir}\nStreamMaxLength 25M\nLogFile {self.dir / 'clamd.log'}\n"
        )
        self.process = subprocess.Popen([self.binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.socket.exists():
                try:
                    with socket.socket(socket.AF_UNIX) as sock:
                        sock.connect(str(self.socket))
                        sock.sendall(b"zPING\0")
                        if sock.recv(8).startswith(b"PONG"):
                            return
                except OSError:
                    pass
            if self.process.poll() is not None:
                raise RuntimeError(f"clamd exited: {(self.dir / 'clamd.log').read_text(errors='replace')[-500:]}")
            time.sleep(0.2)
        raise TimeoutError("clamd did not answer within 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
