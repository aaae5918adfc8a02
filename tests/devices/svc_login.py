"""Login services for the device test bed (127.0.0.31-39): telnet, SSH and FTP, vulnerable and protected.

- ``python_telnet``: an asyncio telnet server (IAC negotiation, login/password prompts, a '# ' shell), with
  ``users``, an optional ``lockout_after`` (failures, then 'Too many failed logins; locked' and close) and
  ``delay_step`` (after ``delay_free`` failures, each failure answered that much later than the one
  before); ``users=None`` greets with a shell.
- ``dropbear``: the real dropbear (root, in a private mount namespace whose /etc/passwd and /etc/shadow are a
  temp dir's, so ``admin:admin`` exists for it alone); ``password=False`` is key-only.
- ``pyftpd``: pyftpdlib (MIT) with users, optional anonymous, ``failure_delay`` (pyftpdlib's
  auth_failed_timeout) and ``max_login_attempts``.

Each is a context manager yielding (host, port); started processes are killed by their pid on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from svc_basic import free_port  # one free-port picker for the whole test bed

from iotcop.model import RunStatus
from iotcop.runner import RunResult

IAC, DO, WILL = 255, 253, 251


def verdict(result: RunResult) -> str:
    """'fail' (completed with findings), 'pass' (completed without), or the run status of the only check."""
    run = result.runs[0]
    if run.status is RunStatus.COMPLETED:
        return "fail" if result.findings else "pass"
    return run.status.value


def wait_listening(host: str, port: int, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


class _TelnetServer:
    def __init__(self, users: dict[str, str] | None, lockout_after: int | None, delay: tuple[float, int]) -> None:
        self.users, self.lockout_after, self.delay_step, self.delay_free = users, lockout_after, *delay
        self.failures = 0

    async def _line(self, reader: asyncio.StreamReader) -> str:
        raw = await asyncio.wait_for(reader.readline(), 5)
        text = bytearray()
        i = 0
        while i < len(raw):
            if raw[i] == IAC:
                i += 3
                continue
            text.append(raw[i])
            i += 1
        return text.decode("latin-1").strip("\r\n\0 ")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(bytes([IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 24]) + b"\r\nAcme IPCam v2.1\r\n")
            if self.users is None:
                writer.write(b"BusyBox v1.30 built-in shell (ash)\r\n# ")
                await writer.drain()
                await asyncio.sleep(0.2)
                return
            if self.lockout_after is not None and self.failures >= self.lockout_after:
                writer.write(b"Too many failed logins; account locked\r\n")
                return
            writer.write(b"ipcam login: ")
            await writer.drain()
            user = await self._line(reader)
            writer.write(b"Password: ")
            await writer.drain()
            password = await self._line(reader)
            if self.users.get(user) == password:
                writer.write(b"\r\n\r\nBusyBox v1.30 built-in shell (ash)\r\n~ # ")
                await writer.drain()
                await asyncio.sleep(0.1)
                return
            self.failures += 1
            await asyncio.sleep(self.delay_step * max(0, self.failures - self.delay_free))
            writer.write(b"\r\nLogin incorrect\r\nipcam login: ")
            await writer.drain()
            await asyncio.sleep(0.05)
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()


@contextlib.contextmanager
def python_telnet(host: str, users: dict[str, str] | None = None, *, lockout_after: int | None = None,
                  delay_step: float = 0.0, delay_free: int = 0) -> Iterator[tuple[str, int]]:
    server = _TelnetServer(users, lockout_after, (delay_step, delay_free))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: list[asyncio.base_events.Server] = []

    async def start() -> None:
        holder.append(await asyncio.start_server(server.handle, host, 0))
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(5)
    port = holder[0].sockets[0].getsockname()[1]
    try:
        yield host, port
    finally:
        loop.call_soon_threadsafe(holder[0].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@contextlib.contextmanager
def _process(argv: list[str], host: str, port: int) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(host, port)
        yield host, port
    finally:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def dropbear(host: str, directory: Path, *, password: bool = True,
             users: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    for tool in ("dropbear", "dropbearkey", "openssl", "unshare"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "host_rsa"
    if not key.exists():
        subprocess.run(["dropbearkey", "-t", "rsa", "-s", "2048", "-f", str(key)], check=True, capture_output=True)
    users = {"admin": "admin"} if users is None else users
    passwd, shadow = ["root:x:0:0:root:/root:/bin/sh"], ["root:*:19000:0:99999:7:::"]
    for user, secret in users.items():
        hashed = subprocess.run(["openssl", "passwd", "-6", secret], check=True, capture_output=True,
                                text=True).stdout.strip()
        passwd.append(f"{user}:x:0:0:{user}:{directory}:/bin/sh")
        shadow.append(f"{user}:{hashed}:19000:0:99999:7:::")
    (directory / "passwd").write_text("\n".join(passwd) + "\n")
    (directory / "shadow").write_text("\n".join(shadow) + "\n")
    (directory / "shadow").chmod(0o600)
    port = free_port(host)
    daemon = f"exec dropbear -F -E -r {key} -p {host}:{port}" + ("" if password else " -s")
    script = (f"mount --bind {directory}/passwd /etc/passwd && mount --bind {directory}/shadow /etc/shadow && "
              + daemon)
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespace here (unshare -m needs root)")
    with _process(["unshare", "-m", "--propagation", "private", "sh", "-c", script], host, port) as where:
        yield where


@contextlib.contextmanager
def pyftpd(host: str, directory: Path, users: dict[str, str] | None = None, *, anonymous: bool = False,
           failure_delay: float = 0.0) -> Iterator[tuple[str, int]]:
    authorizers = pytest.importorskip("pyftpdlib.authorizers")
    handlers = pytest.importorskip("pyftpdlib.handlers")
    servers = pytest.importorskip("pyftpdlib.servers")
    directory.mkdir(parents=True, exist_ok=True)
    auth = authorizers.DummyAuthorizer()
    for user, secret in (users or {}).items():
        auth.add_user(user, secret, str(directory), perm="elr")
    if anonymous:
        auth.add_anonymous(str(directory), perm="elr")
    handler = type("Handler", (handlers.FTPHandler,), {"authorizer": auth, "auth_failed_timeout": failure_delay,
                                                       "max_login_attempts": 100, "banner": "Acme NAS FTP ready"})
    server = servers.FTPServer((host, 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1, "blocking": True}, daemon=True)
    thread.start()
    try:
        yield host, port
    finally:
        server.close_all()
        thread.join(5)
