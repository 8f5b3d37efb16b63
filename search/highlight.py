"""What a search hit's highlight may hold: escaped text and our own ``<b>``/``</b>`` markers.

Both backends are asked for exactly that (Tantivy's snippets escape the text; Elasticsearch is
asked for ``"encoder": "html"``), but the page renders the highlight as markup, so what a hit
carries is rebuilt here whatever a backend answered: every piece of text between markers is
unescaped and escaped again (escaped text stays as it was, raw markup becomes text), and only
markers that open and close in turn are kept. Both backends' answers come out alike too
(Elasticsearch writes ``&#x27;`` where Tantivy writes ``'``), and highlights that touch are
joined.
"""

from __future__ import annotations

import html
import re

OPEN, CLOSE = "<b>", "</b>"
_MARKER = re.compile(f"({re.escape(OPEN)}|{re.escape(CLOSE)})")


def highlight_html(fragment: str | None, text: str) -> str:
    """``fragment`` (a backend's highlight of ``text``) as safe HTML; ``text`` escaped when the
    backend highlighted nothing."""
    if not fragment:
        return html.escape(text)
    pieces: list[str] = []
    inside = False
    for piece in _MARKER.split(fragment):
        if piece == (CLOSE if inside else OPEN):
            inside = not inside
            pieces.append(piece)
        elif piece:
            pieces.append(html.escape(html.unescape(piece)))
    if inside:
        pieces.append(CLOSE)
    # Words highlighted one after the other with nothing between (the characters of a Chinese
    # or Japanese word) are one highlight: only markers make "</b><b>", text is escaped.
    return "".join(pieces).replace(CLOSE + OPEN, "")
