"""The readable text of a vendor document (HTML, PDF or plain text), bounded, never raising.

Checks quote documents by line, so the text keeps the document's block structure: one paragraph, heading,
list item or table row per line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

MAX_PDF_PAGES = 200
MAX_CHARS = 2_000_000
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header",
           "footer", "table", "ul", "ol", "dt", "dd", "pre", "blockquote", "title", "main", "nav", "td", "th"}
_SKIP = {"script", "style", "noscript", "template", "svg"}
MAX_HTML_CHARS = 512 * 1024  # html.parser's cost grows faster than linearly on hostile markup (CVE-2025-6069)
# Constructs html.parser scans to the end of the data for when they are never closed, and what closes them: the
# opener, how far into it the closer may start, the closer. Escaping the '<' of those that cannot close gives the
# same text (the parser hands them over as text anyway) without a scan per opener.
_UNCLOSABLE = ((re.compile(r"<!--"), 4, re.compile(r"--\s*>")),
               (re.compile(r"<!\[(?:temp|cdata|ignore|include|rcdata)(?![-_.a-zA-Z0-9])", re.IGNORECASE), 3,
                re.compile(r"\]\s*\]\s*>")),
               (re.compile(r"<!\["), 3, re.compile(r"\]\s*>")),
               (re.compile(r"<"), 1, re.compile(r">")))


@dataclass(frozen=True)
class DocumentText:
    """What a person reads in the document, one block per line, and links it makes."""

    lines: tuple[str, ...]
    links: tuple[str, ...] = ()
    kind: str = "text"  # text | html | pdf
    problem: str = ""  # why the text may be incomplete or missing

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.skipping:
            self.skipping -= 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line for raw in text.splitlines() if (line := re.sub(r"\s+", " ", raw).strip()))


def decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _defused(html: str) -> str:
    """``html`` with the openers that are never closed escaped (see ``_UNCLOSABLE``), in linear time."""
    for opener, reach, closer in _UNCLOSABLE:
        last = -1
        for last_close in closer.finditer(html):
            last = last_close.start()
        cut = max(0, last - reach + 1) if last >= 0 else 0
        html = html[:cut] + opener.sub(lambda m: "&lt;" + m.group(0)[1:], html[cut:])
    return html


def html_text(content: bytes) -> DocumentText:
    parser = _Html()
    html = decode(content)
    cut = f"HTML cut at {MAX_HTML_CHARS // 1024} KB: the rest was not read" if len(html) > MAX_HTML_CHARS else ""
    try:
        parser.feed(_defused(html[:MAX_HTML_CHARS]))
        parser.close()
    except Exception as exc:  # html.parser is lenient; anything left is a malformed document, not a crash
        return DocumentText(_lines("".join(parser.parts)), tuple(parser.links), "html",
                            "; ".join(filter(None, (f"malformed HTML: {exc}", cut))))
    return DocumentText(_lines("".join(parser.parts)), tuple(parser.links), "html", cut)


def pdf_text(content: bytes) -> DocumentText:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        reader = PdfReader(io.BytesIO(content), strict=False)
        pages = reader.pages
        texts: list[str] = []
        links: list[str] = []
        for number, page in enumerate(pages):
            if number >= MAX_PDF_PAGES:
                return DocumentText(_lines("\n".join(texts)), tuple(links), "pdf",
                                    f"only the first {MAX_PDF_PAGES} pages were read")
            texts.append(page.extract_text() or "")
            links.extend(_pdf_links(page))
            if sum(map(len, texts)) > MAX_CHARS:
                return DocumentText(_lines("\n".join(texts)), tuple(links), "pdf", "text cut at 2 million characters")
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, OSError, RecursionError,
            AssertionError, IndexError, ZeroDivisionError) as exc:
        return DocumentText((), (), "pdf", f"the PDF could not be read ({type(exc).__name__}: {str(exc)[:200]})")
    return DocumentText(_lines("\n".join(texts)), tuple(links), "pdf",
                        "" if any(texts) else "the PDF has no extractable text (scanned pages?)")


def _pdf_links(page: object) -> list[str]:
    out = []
    for annot in page.get("/Annots") or []:  # type: ignore[attr-defined]
        obj = annot.get_object()
        action = obj.get("/A") or {}
        uri = action.get("/URI") if hasattr(action, "get") else None
        if isinstance(uri, str):
            out.append(uri)
    return out


def document_text(content: bytes, content_type: str = "", name: str = "") -> DocumentText:
    """Dispatch on content type, file name and magic bytes (vendors serve PDFs as octet-stream)."""
    kind = content_type.split(";")[0].strip().lower()
    head = content[:1024].lstrip().lower()
    if content.startswith(b"%PDF") or kind == "application/pdf" or name.lower().endswith(".pdf"):
        return pdf_text(content)
    if "html" in kind or head.startswith((b"<!doctype html", b"<html")) or name.lower().endswith((".html", ".htm")):
        return html_text(content)
    return DocumentText(_lines(decode(content)[:MAX_CHARS]), tuple(re.findall(r"https?://[^\s<>\"')]+",
                                                                             decode(content)[:MAX_CHARS])))
