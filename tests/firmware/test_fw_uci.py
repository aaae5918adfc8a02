"""OpenWrt's UCI format (iotcop.firmware.uci): sections, options, lists, quoting and comments, as libuci reads
them, on OpenWrt's own package configurations and on hostile text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from serviceconfigs import OPENWRT_DROPBEAR_CONFIG, OPENWRT_UHTTPD_CONFIG, OPENWRT_UPNPD_CONFIG

from iotcop.firmware.uci import parse_uci, uci_bool


def test_openwrt_dropbear_defaults() -> None:
    package = parse_uci(OPENWRT_DROPBEAR_CONFIG, "/etc/config/dropbear")
    [section] = package.of_type("dropbear")
    assert (section.type, section.name, section.line) == ("dropbear", "main", 2)
    assert [(v.name, v.value, v.line) for v in section.values] == [
        ("enable", "1", 3), ("PasswordAuth", "1", 4), ("RootPasswordAuth", "1", 5), ("Port", "22", 6)]
    assert section.flag("PasswordAuth", False) is True
    assert section.value("BannerFile") is None  # commented out
    assert package.errors == ()


def test_openwrt_uhttpd_lists_and_sections() -> None:
    package = parse_uci(OPENWRT_UHTTPD_CONFIG, "/etc/config/uhttpd")
    main = package.named("main")
    assert main is not None and main.type == "uhttpd"
    assert [(v.value, v.line) for v in main.get_list("listen_http")] == [("0.0.0.0:80", 5), ("[::]:80", 6)]
    assert [v.value for v in main.get_list("listen_https")] == ["0.0.0.0:443", "[::]:443"]
    assert main.value("redirect_https") == "1"
    assert main.get_list("lua_prefix")[0].value == "/cgi-bin/luci=/usr/lib/lua/luci/sgi/uhttpd.lua"
    assert main.get_list("interpreter") == []  # both lines are commented out
    assert package.named("defaults") is not None and package.named("defaults").value("commonname") == "%D"  # type: ignore[union-attr]
    assert package.errors == ()


def test_anonymous_sections() -> None:
    package = parse_uci(OPENWRT_UPNPD_CONFIG)
    assert [(s.type, s.name) for s in package.sections] == [
        ("upnpd", "config"), ("internal_network", None), ("perm_rule", None)]
    assert package.named("config").value("enabled") == "0"  # type: ignore[union-attr]


def test_quoting_rules() -> None:
    text = ("config test 'x'\n"
            "\toption single 'a \"b\" \\n'\n"  # no escapes in single quotes
            "\toption double \"a \\\"b\\\" \\\\ c\"\n"
            "\toption joined 'a'\"b\"c\\ d\n"
            "\toption hash a#b  # a comment\n"
            "\toption multi 'first\nsecond'\n"
            "\toption after 'x'\n"
            "\toption cont one\\\n"
            "two\n"
            "\toption empty ''\n")
    s = parse_uci(text).sections[0]
    assert s.value("single") == 'a "b" \\n'
    assert s.value("double") == 'a "b" \\ c'
    assert s.value("joined") == "abc d"
    assert s.value("hash") == "a#b"
    assert s.value("multi") == "first\nsecond"
    assert s.get("after").line == 8  # type: ignore[union-attr]  # the value before ran over two lines
    assert s.value("cont") == "onetwo"
    assert s.value("empty") == ""


def test_later_option_wins_and_list_replaces() -> None:
    text = ("config t\n option a '1'\n option a '2'\n list l 'x'\n list l 'y'\n option l 'z'\n"
            " option m 'o'\n list m 'p'\n")
    s = parse_uci(text).sections[0]
    assert s.value("a") == "2"
    assert s.get_list("l") == [] and s.value("l") == "z"
    assert s.value("m") is None and [v.value for v in s.get_list("m")] == ["p"]


def test_errors_are_recorded_not_raised() -> None:
    text = ("option orphan 'x'\n"
            "config 'bad type!' name\n"
            "\toption lost 'y'\n"
            "config good 'ok'\n"
            "\toption 'bad-name' 'z'\n"
            "\toption fine 'w'\n"
            "\tbogus statement here\n"
            "\toption unterminated 'v\n")
    package = parse_uci(text, "/etc/config/x")
    assert [(s.type, s.name) for s in package.sections] == [("good", "ok")]
    assert package.sections[0].value("fine") == "w"
    assert [e.split(":")[1] for e in package.errors] == ["1", "2", "3", "5", "7", "8"]
    assert all(e.startswith("/etc/config/x:") for e in package.errors)


def test_uci_bool() -> None:
    assert [uci_bool(v, False) for v in ("1", "on", "true", "yes", "enabled", " YES ")] == [True] * 6
    assert [uci_bool(v, True) for v in ("0", "off", "false", "no", "disabled")] == [False] * 5
    assert uci_bool("maybe", True) is True and uci_bool(None, False) is False


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from(list("configoptlis '\"\\#\n\t{}abc_=-")))))
def test_random_text_never_raises(text: str) -> None:
    package = parse_uci(text)
    for section in package.sections:
        assert section.line >= 1
        for value in section.values:
            assert value.kind in ("option", "list") and value.line >= section.line
