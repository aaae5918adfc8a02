"""The document parsers on hostile input: random or malformed bytes give text or a problem, never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.documents.policy import TIMELINE, read_policy
from iotcop.documents.securitytxt import parse
from iotcop.documents.text import DocumentText, document_text, html_text, pdf_text

FIELDS = st.sampled_from(["Contact", "Expires", "Policy", "Canonical", "Encryption", "Hiring", "X-Junk", "",
                          "-----BEGIN PGP SIGNED MESSAGE-----", "-----BEGIN PGP SIGNATURE-----"])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_are_text_or_a_problem(data: bytes) -> None:
    for kind in ("text/plain", "text/html", "application/pdf", ""):
        text = document_text(data, kind)
        assert isinstance(text, DocumentText)
        read_policy(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(FIELDS, st.text(max_size=60)), max_size=20), st.booleans())
def test_security_txt_lines_never_raise(lines: list[tuple[str, str]], crlf: bool) -> None:
    body = ("\r\n" if crlf else "\n").join(f"{k}: {v}" if k else v for k, v in lines).encode("utf-8", "replace")
    fields, _signed, problems = parse(body, "https://x.invalid/.well-known/security.txt")
    assert all(f.line >= 1 for f in fields)
    assert all(p.code for p in problems)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_security_txt_bytes_never_raise(data: bytes) -> None:
    parse(data, "file")


def test_truncated_and_corrupt_pdfs_are_a_problem_not_a_crash() -> None:
    assert pdf_text(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>").problem
    assert pdf_text(b"%PDF-1.4\n" + b"\x00" * 100).problem


def test_html_text_keeps_blocks_and_drops_scripts() -> None:
    text = html_text(b"<p>One <b>line</b></p><script>alert(1)</script><li>Two</li><style>x{}</style>")
    assert text.lines == ("One line", "Two")


def test_timelines_are_stated_times_not_any_number() -> None:
    said = ["within 5 working days", "within five (5) business days", "every 14 days", "in 72 hours", "weekly"]
    for phrase in said:
        assert TIMELINE.search(f"We reply {phrase}."), phrase
    for phrase in ["promptly", "as soon as possible", "in due course", "version 5 of the product"]:
        assert not TIMELINE.search(f"We reply {phrase}."), phrase
