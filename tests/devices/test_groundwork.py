"""Scope, the Network frame and the credential engine, against real loopback sockets."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest

from iotcop.device.logins import Attempt, Defence, Result, measure_bruteforce, try_defaults
from iotcop.device.net import NetLimits, Network, OutOfScope
from iotcop.device.scope import make_scope
from iotcop.errors import UsageError
from iotcop.knowledge.credentials import Credential


def test_scope_takes_addresses_ranges_names_and_a_file_with_exclusions(tmp_path: Path) -> None:
    scope_file = tmp_path / "scope.txt"
    scope_file.write_text("# the lab\n127.0.0.64/30\n!127.0.0.65  # the tester\n")
    scope = make_scope(["127.0.0.8", "localhost"], scope_file)
    assert scope.allows("127.0.0.8") and scope.allows("127.0.0.66") and scope.allows("127.0.0.1")
    assert not scope.allows("127.0.0.65") and not scope.allows("127.0.0.9") and not scope.allows("10.0.0.1")
    assert not scope.allows("not an address")
    assert ipaddress.ip_address("127.0.0.66") in scope.hosts()
    assert ipaddress.ip_address("127.0.0.65") not in scope.hosts()


def test_an_ipv6_zone_is_part_of_the_address() -> None:
    scope = make_scope(["fe80::1%eth0"])
    assert scope.allows("fe80::1%eth0")
    assert not scope.allows("fe80::1%eth1") and not scope.allows("fe80::1")


@pytest.mark.parametrize("bad", ["", "10.0.0.0/8", "no such host.invalid", "300.1.1.1/33"])
def test_a_bad_or_huge_target_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError):
        make_scope([bad] if bad else [])


async def _serve_once(host: str) -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-test\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, host, 0)
    return server, server.sockets[0].getsockname()[1]


def test_every_connection_is_scoped_paced_and_logged() -> None:
    async def run() -> Network:
        server, port = await _serve_once("127.0.0.5")
        net = Network(make_scope(["127.0.0.5"]), NetLimits(concurrency=2, rate=50.0, timeout=1.0))
        reader, writer = await net.open_tcp("127.0.0.5", port, "discovery")
        assert (await reader.readline()).startswith(b"SSH-2.0")
        writer.close()
        with pytest.raises(OSError):
            await net.open_tcp("127.0.0.5", 1, "discovery")  # closed port: refused, recorded
        with pytest.raises(OutOfScope):
            await net.open_tcp("127.0.0.6", port, "discovery")  # never sent, recorded as refused by scope
        assert await net.udp_exchange("127.0.0.5", 9, b"x", "udp", timeout=0.2) == []
        starts = []
        for _ in range(5):
            async with net.connection("127.0.0.5", port, "pace") as attempt:
                starts.append(asyncio.get_running_loop().time())
                attempt.outcome = "ok"
        assert starts[-1] - starts[0] >= 4 / 50.0 * 0.9  # five starts at 50/s take at least 80 ms
        server.close()
        return net

    net = asyncio.run(run())
    outcomes = [(c.host, c.probe, c.outcome.split(":")[0]) for c in net.log]
    assert outcomes[:3] == [("127.0.0.5", "discovery", "ok"), ("127.0.0.5", "discovery", "refused"),
                            ("127.0.0.5", "udp", "refused")]
    assert all(c.host == "127.0.0.5" for c in net.log)  # the out-of-scope attempt was refused before connecting


class FakeLogin:
    """An Authenticator over a rule, to test the engine's decisions (protocol modules are tested on real servers)."""

    def __init__(self, accept: set[tuple[str, str]] | None = None, anything: bool = False, lock_after: int = 0,
                 slow_after: int = 0, fast_again_after: int = 0) -> None:
        self.service, self.accept, self.anything = "fake 127.0.0.1:1", accept or set(), anything
        self.lock_after, self.slow_after, self.calls = lock_after, slow_after, 0
        self.fast_again_after = fast_again_after

    async def attempt(self, user: str, password: str) -> Attempt:
        self.calls += 1
        if self.lock_after and self.calls > self.lock_after:
            return Attempt(Result.LOCKED, 0.001, "429 Too Many Requests")
        slow = self.slow_after and self.calls > self.slow_after
        seconds = 0.6 if slow and not (self.fast_again_after and self.calls > self.fast_again_after) else 0.01
        if self.anything or (user, password) in self.accept:
            return Attempt(Result.ACCEPTED, seconds)
        return Attempt(Result.REJECTED, seconds, "Login incorrect")


CREDS = [Credential("root", "xc3511", "mirai"), Credential("admin", "admin", "mirai"),
         Credential("admin", "admin", "vendor")]


def test_defaults_stop_at_the_first_working_credential_after_a_must_fail_probe() -> None:
    fake = FakeLogin(accept={("admin", "admin")})
    result = asyncio.run(try_defaults(fake, CREDS))
    assert result.found == CREDS[1] and result.at_attempt == 2 and result.judged
    assert fake.calls == 3  # the must-fail probe, then two


def test_a_service_that_accepts_anything_is_not_a_default_password() -> None:
    result = asyncio.run(try_defaults(FakeLogin(anything=True), CREDS))
    assert result.accepts_anything and result.found is None


def test_lockout_stops_the_defaults_and_is_the_brute_force_defence() -> None:
    many = [Credential("admin", f"pass{i}", "test") for i in range(10)]
    result = asyncio.run(try_defaults(FakeLogin(lock_after=2), many, lockout_backoff=0.0))
    assert result.found is None and "locked out" in result.stopped
    measured = asyncio.run(measure_bruteforce(FakeLogin(lock_after=5)))
    assert measured.defence is Defence.RATE_LIMIT and measured.attempts == 6 and "after 5 failures" in measured.detail


def test_brute_force_measurement_tells_slowdown_from_nothing() -> None:
    assert asyncio.run(measure_bruteforce(FakeLogin(), attempts=12)).defence is Defence.NONE
    slowed = asyncio.run(measure_bruteforce(FakeLogin(slow_after=6), attempts=12))
    assert slowed.defence is Defence.SLOWDOWN and "stayed slow" in slowed.detail and slowed.attempts == 15
    # slow only while something else loaded the host, then fast again: not a defence
    busy = asyncio.run(measure_bruteforce(FakeLogin(slow_after=9, fast_again_after=12), attempts=12))
    assert busy.defence is Defence.NONE and "transient" in busy.detail
