"""The banner and datagram parsers of identification: known answers, look-alikes, and random bytes (never raise)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from svc_basic import coap_answer, mdns_answer, ntp_answer, ssdp_answer, tftp_answer

from iotcop.device.discovery import nmap_command, parse_nmap_xml
from iotcop.device.identify import (
    mqtt_connect,
    parse_banner,
    parse_connack,
    parse_greeting,
    parse_http,
    parse_ssh,
    parse_telnet,
    printable,
    split_product,
)
from iotcop.device.udp import (
    PROBES,
    ber_items,
    coap_get_core,
    mdns_query,
    parse_coap,
    parse_mdns,
    parse_ntp,
    parse_snmp,
    parse_ssdp,
    parse_tftp,
    snmp_v2c_get,
    snmp_v3_discovery,
)

PARSERS = [parse_ssh, parse_telnet, parse_http, parse_greeting, parse_banner, parse_connack, parse_snmp, parse_ssdp,
           parse_mdns, parse_coap, parse_tftp, parse_ntp]


@pytest.mark.parametrize(("data", "name", "product", "version"), [
    (b"SSH-2.0-dropbear_2022.83\r\n", "ssh", "dropbear", "2022.83"),
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "ssh", "OpenSSH", "9.2p1"),
    (b"SSH-1.99-Cisco-1.25\r\n", "ssh", "Cisco", "1.25"),
    (b"Welcome\r\nSSH-2.0-libssh_0.9.6\r\n", "ssh", "libssh", "0.9.6"),
    (b"220 (vsFTPd 3.0.3)\r\n", "ftp", "vsftpd", "3.0.3"),
    (b"220 ProFTPD 1.3.5e Server (Debian)\r\n", "ftp", "ProFTPD", "1.3.5e"),
    (b"220 router FTP server ready\r\n", "ftp", None, None),
    (b"220 mail ESMTP Exim 4.96 Tue\r\n", "smtp", "Exim", "4.96"),
    (b"+OK Dovecot ready.\r\n", "pop3", "Dovecot", None),
    (b"* OK IMAP4rev1 ready\r\n", "imap", None, None),
    (b"HTTP/1.1 401 Unauthorized\r\nServer: GoAhead-Webs\r\n\r\n", "http", "GoAhead-Webs", None),
    (b"HTTP/1.0 200 OK\r\nServer: Boa/0.94.14rc21\r\n\r\n<html>", "http", "Boa", "0.94.14rc21"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "http", None, None),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Hipcam RealServer/V1.0\r\n\r\n", "rtsp", "Hipcam", None),
    (b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", "telnet", None, None),
])
def test_banners_are_identified(data: bytes, name: str, product: str | None, version: str | None) -> None:
    found = parse_banner(data)
    assert found is not None
    assert (found.name, found.product, found.version) == (name, product, version)


@pytest.mark.parametrize("data", [b"", b"hello\r\n", b"SSH2.0-x", b"230 logged in\r\n", b"HTTP/1.1 OK\r\n",
                                  b"\xff\x01\x02", b"GET / HTTP/1.0\r\n\r\n", b"-ERR\r\n"])
def test_look_alikes_are_not_identified(data: bytes) -> None:
    assert parse_banner(data) is None


def test_telnet_negotiation_and_prompt() -> None:
    found = parse_telnet(b"\xff\xfd\x01\xff\xfb\x03\xff\xfa\x18\x01\xff\xf0\r\nlogin: ")
    assert found is not None and found.banner == "IAC DO ECHO, WILL SGA; login:" and found.product is None
    busybox = parse_telnet(b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03\r\n/ # ")
    assert busybox is not None and busybox.product == "BusyBox telnetd" and busybox.banner.endswith("; / #")


def test_split_product() -> None:
    assert split_product("lighttpd/1.4.69") == ("lighttpd", "1.4.69")
    assert split_product("nginx") == ("nginx", None)
    assert split_product("mini_httpd/1.30") == ("mini_httpd", "1.30")
    assert split_product("(vsFTPd") == ("vsFTPd", None)
    assert split_product("1.2.3") == (None, None)


def test_https_names_and_mqtt_connack() -> None:
    found = parse_http(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n", tls=True)
    assert found is not None and (found.name, found.product, found.version) == ("https", "nginx", "1.22.1")
    assert parse_connack(b"\x20\x02\x00\x00") is not None
    assert parse_connack(b"\x20\x02\x00\x05").banner == "CONNACK 5 (not authorized)"  # type: ignore[union-attr]
    assert parse_connack(b"\x20\x02\x00\x09") is None
    assert parse_connack(b"\x30\x02\x00\x00") is None
    packet = mqtt_connect("iotcop-1234")
    assert packet[0] == 0x10 and packet[1] == len(packet) - 2 and b"MQTT\x04\x02" in packet


def test_udp_answers_of_the_test_bed_parse() -> None:
    assert parse_ssdp(ssdp_answer(PROBES["ssdp"][1]("127.0.0.21", 1900)) or b"") is not None
    mdns = parse_mdns(mdns_answer(mdns_query(7)) or b"")
    assert mdns is not None and mdns.banner == "answers: _http._tcp.local"
    coap = parse_coap(coap_answer(coap_get_core(1, b"tokn")) or b"")
    assert coap is not None and coap.banner.startswith("CoAP 2.05: </sensors/temp>")
    tftp = parse_tftp(tftp_answer(PROBES["tftp"][1]("h", 69)) or b"")
    assert tftp is not None and tftp.banner == "TFTP ERROR 1: File not found"
    ntp = parse_ntp(ntp_answer(PROBES["ntp"][1]("h", 123)) or b"")
    assert ntp is not None and "stratum 2" in ntp.banner


def test_requests_are_not_answers() -> None:
    """Our own datagrams echoed back (a reflector, not a server) are not taken for an answer."""
    assert parse_snmp(snmp_v2c_get("x", 5)) is not None  # a well-formed SNMP message, parsed as one
    assert parse_mdns(mdns_query(1)) is None
    assert parse_coap(coap_get_core(1, b"ab")) is None
    assert parse_tftp(PROBES["tftp"][1]("h", 69)) is None
    assert parse_ntp(PROBES["ntp"][1]("h", 123)) is None
    assert parse_ssdp(PROBES["ssdp"][1]("h", 1900)) is None


def test_snmp_messages() -> None:
    v3 = snmp_v3_discovery(42)
    assert ber_items(v3)[0][0] == 0x30
    report = parse_snmp(v3)
    assert report is not None and report.banner.startswith("SNMP v3 report, engine ID empty")
    v2 = parse_snmp(snmp_v2c_get("iotcop-abc", 9))
    assert v2 is not None and v2.banner.startswith("SNMP v2c response")
    assert parse_snmp(b"\x30\x03\x02\x01\x07") is None  # version 7


def test_nmap_xml() -> None:
    xml = ('<?xml version="1.0"?><nmaprun scanner="nmap" version="7.93"><host><status state="up"/>'
           '<address addr="127.0.0.21" addrtype="ipv4"/><ports>'
           '<port protocol="tcp" portid="22"><state state="open"/></port>'
           '<port protocol="tcp" portid="23"><state state="closed"/></port>'
           '<port protocol="tcp" portid="80"><state state="filtered"/></port>'
           '<port protocol="udp" portid="161"><state state="open"/></port>'
           '<port protocol="tcp" portid="99999"><state state="open"/></port>'
           '</ports></host></nmaprun>')
    assert parse_nmap_xml(xml) == ("7.93", {"127.0.0.21": [22]})
    bomb = ('<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<nmaprun version="7.93"><host><address addr="&b;" addrtype="ipv4"/></host></nmaprun>')
    assert parse_nmap_xml(bomb) == ("", {})
    assert parse_nmap_xml("<html/>") == ("", {})
    assert parse_nmap_xml("not xml") == ("", {})


def test_nmap_command_is_a_connect_scan_only() -> None:
    command = nmap_command("nmap", "127.0.0.21", (80, 22, 80), 1.0, 100.0)
    assert command[:6] == ["nmap", "-sT", "-Pn", "-n", "-oX", "-"]
    assert command[-3:] == ["-p", "22,80", "127.0.0.21"]
    assert not {"-sV", "-O", "-A", "-sC", "--script"} & set(command)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parsers_never_raise(data: bytes) -> None:
    for parser in PARSERS:
        parser(data)
    ber_items(data)
    printable(data)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([b"SSH-2.0-", b"\xff\xfd", b"HTTP/1.1 200 OK\r\n", b"220 ", b"\x30\x82", b"\x00\x05",
                        b"\x24", b"\x60\x45", b"\x00\x00\x84\x00\x00\x01\x00\x01"]), st.binary(max_size=300))
def test_parsers_never_raise_on_plausible_prefixes(prefix: bytes, rest: bytes) -> None:
    for parser in PARSERS:
        found = parser(prefix + rest)
        assert found is None or len(found.banner) <= 500
    parse_nmap_xml((prefix + rest).decode("latin-1"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_nmap_xml_never_raises(text: str) -> None:
    parse_nmap_xml("<nmaprun version='7'>" + text)
