"""The HTML report as PDF, laid out by WeasyPrint (A4, print stylesheet, every drill-down open).

WeasyPrint is imported when a PDF is made, not with iotcop: it is heavy (Pango, fonts) and most runs never
need it. The page references nothing outside itself, and the fetcher refuses any URL anyway, so a hostile
string can never make PDF rendering read a file or touch the network. The output is deterministic: the
creation date is the assessment's own time (``dcterms.created`` in the page), the file identifier a digest
of the page.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from iotcop.catalogue import Catalogue
from iotcop.model import Assessment
from iotcop.reports.html import render_printable_html


def render_pdf(assessment: Assessment, catalogue: Catalogue) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # lazy: see the module docstring

    # the screen-only CSS (phone layout, scroll boxes) is what WeasyPrint warns about: not the user's concern
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    page = render_printable_html(assessment, catalogue)
    document = HTML(string=page.decode("utf-8"), base_url=None, url_fetcher=_refusing_fetcher())
    identifier = hashlib.sha256(page).hexdigest()[:32].encode()
    data: bytes = document.write_pdf(pdf_identifier=identifier, uncompressed_pdf=False)
    return data


def _refusing_fetcher() -> Any:
    from weasyprint.urls import URLFetcher, URLFetchingError  # type: ignore[import-untyped]

    class Refusing(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise URLFetchingError(f"iotcop reports reference no external resource (refused {url[:80]!r})")

    return Refusing()
