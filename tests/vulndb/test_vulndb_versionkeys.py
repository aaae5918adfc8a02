"""The cached generic sort keys order versions exactly as univers' DebianVersion does (the scheme they replace
for speed), on real-looking and on random version strings."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.vulndb.match import _generic_key, _parse, compare

SAMPLES = ["1.0", "1.0~rc1", "1.0.0", "1.0a", "1.0+dfsg", "1:0.9", "1.0-1", "1.0-1~bpo1", "1.0-1+deb7u5",
           "1.0.1e-2+deb7u4", "1.0.1e-2+deb7u5", "2.78", "2.9", "2.80~rc1", "2016.74", "0", "1.0.2~beta1", "a1",
           "1.36.0", "1.4", "10", "1.0-0", "1.0-", "1..0", "1.0.0.0", "1~~", "1~~a", "1~", "1a", "1.0-1-2"]


def univers_compare(a: str, b: str) -> int | None:
    va, vb = _parse("", a), _parse("", b)
    if va is None or vb is None:
        return None
    return -1 if va < vb else 1 if vb < va else 0


def test_samples_agree_with_univers() -> None:
    for a, b in itertools.product(SAMPLES, repeat=2):
        assert compare(None, a, b) == univers_compare(a, b), (a, b)


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"(\d:)?[0-9][0-9A-Za-z.+~]{0,8}(-[0-9A-Za-z.+~]{1,6})?", fullmatch=True),
       st.from_regex(r"(\d:)?[0-9][0-9A-Za-z.+~]{0,8}(-[0-9A-Za-z.+~]{1,6})?", fullmatch=True))
def test_random_versions_agree_with_univers(a: str, b: str) -> None:
    assert compare(None, a, b) == univers_compare(a, b)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_any_string_never_raises(text: str) -> None:
    _generic_key(text)
    compare(None, text, "1.0")
    assert compare(None, text, text) in (0, None)  # equal to itself when it parses
