"""MQTT probe and checks against real mosquitto brokers (anonymous plain; TLS with a password file)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from svc_iot import ELSEWHERE, MQTT_HOST, Endpoint, mosquitto

from iotcop.checks.net.mqtt import anonymous, plaintext
from iotcop.checks.registry import spec_of
from iotcop.device.logins import Result, try_defaults
from iotcop.device.mqtt import MqttAuthenticator, MqttFacts, MqttService, probe_mqtt, read_packet
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.knowledge.credentials import Credential
from iotcop.model import RunStatus
from iotcop.runner import run_checks

RETAINED = {"home/livingroom/temperature": "21.5", "home/door/lock": "SECRET-STATE"}


@pytest.fixture(scope="module")
def open_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with mosquitto(tmp_path_factory.mktemp("mqtt-open"), retained=RETAINED) as ep:
        yield ep


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with mosquitto(tmp_path_factory.mktemp("mqtt-tls"), tls=True, users={"owner": "S3cure-unique-pass"}) as ep:
        yield ep


def _net() -> Network:
    return Network(make_scope([MQTT_HOST]), NetLimits(timeout=2.0))


def _probe(net: Network, *eps: Endpoint) -> MqttFacts:
    found = Discovered(hosts=(MQTT_HOST,), services=tuple(e.service() for e in eps))
    return asyncio.run(probe_mqtt(net, found, DeviceOptions()))


def _run(facts: MqttFacts) -> dict[str, list[str]]:
    result = run_checks([spec_of(plaintext), spec_of(anonymous)], {MqttFacts: facts}, {})
    out: dict[str, list[str]] = {r.check_id: [] for r in result.runs}
    for f in result.findings:
        out[f.check_id].append(f"{f.location.path}:{f.severity.value}" if f.location else "?")
    return out


def test_anonymous_plain_broker_is_reported_with_its_topics_but_not_their_payloads(open_broker: Endpoint) -> None:
    net = _net()
    facts = _probe(net, open_broker)
    [svc] = facts.services
    assert svc.anonymous and svc.subscribed and not svc.tls
    assert set(svc.topics) == set(RETAINED)
    where = f"{MQTT_HOST}:{open_broker.port}"
    assert _run(facts) == {"net.mqtt.plaintext": [f"{where}:high"], "net.mqtt.anonymous": [f"{where}:high"]}
    result = run_checks([spec_of(anonymous)], {MqttFacts: facts}, {})
    assert "home/door/lock" in result.findings[0].message
    assert "SECRET-STATE" not in result.findings[0].model_dump_json()
    assert net.log and all(c.host == MQTT_HOST and c.port == open_broker.port for c in net.log)


def test_tls_broker_with_passwords_passes_both_checks_and_the_authenticator_works(tls_broker: Endpoint) -> None:
    net = _net()
    facts = _probe(net, tls_broker)
    [svc] = facts.services
    assert svc.tls and svc.return_code == 5 and not svc.anonymous
    assert _run(facts) == {"net.mqtt.plaintext": [], "net.mqtt.anonymous": []}
    auth = MqttAuthenticator(net, MQTT_HOST, tls_broker.port, tls=True)
    creds = [Credential("admin", "admin", "test"), Credential("owner", "S3cure-unique-pass", "test")]
    login = asyncio.run(try_defaults(auth, creds))
    assert login.judged and login.found == creds[1] and login.at_attempt == 2
    assert asyncio.run(auth.attempt("owner", "wrong")).result is Result.REJECTED
    assert all(c.host == MQTT_HOST for c in net.log)


def test_tls_only_port_spoken_to_in_plain_is_not_a_plaintext_finding(tls_broker: Endpoint) -> None:
    # a plain CONNECT to the TLS listener gets no CONNACK: inconclusive, never "plaintext"
    facts = _probe(_net(), Endpoint(MQTT_HOST, tls_broker.port, "mqtt", tls=False))
    assert facts.services[0].return_code is None
    result = run_checks([spec_of(plaintext)], {MqttFacts: facts}, {})
    assert not result.findings and result.runs[0].status is RunStatus.INCONCLUSIVE


def test_no_broker_is_not_applicable_and_out_of_scope_is_never_contacted() -> None:
    result = run_checks([spec_of(plaintext), spec_of(anonymous)], {MqttFacts: MqttFacts()}, {})
    assert {r.status for r in result.runs} == {RunStatus.NOT_APPLICABLE}
    net = _net()
    facts = _probe(net, Endpoint(ELSEWHERE, 1883, "mqtt"))
    assert "scope" in facts.services[0].error and net.log == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_the_frame_reader_never_raises_anything_but_its_own_errors(data: bytes) -> None:
    from iotcop.device.mqtt import MqttError, publish_topic

    async def read() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        try:
            first, body = await read_packet(reader)
            publish_topic(first, body)
        except (MqttError, asyncio.IncompleteReadError):
            pass

    asyncio.run(read())


def test_service_where_and_answer() -> None:
    assert MqttService("h", 1, False, return_code=4).answer.endswith("(bad user name or password)")
