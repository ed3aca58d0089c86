"""Figures for the book: making interactive plotly figures show up everywhere a reader meets them.

A plotly figure is a JSON description that a front end draws with plotly.js. JupyterLab draws it
natively and Colab has its own renderer, but the static HTML book is built by executing the
notebook with no browser attached, so there the figure must arrive as self-contained HTML.
"""

from __future__ import annotations

import sys
from typing import Any

BOOK_RENDERER = "fromzero_book"


def _book_renderer_class() -> type:
    import plotly.io as pio

    class BookHtmlRenderer(pio.base_renderers.MimetypeRenderer):
        """Figures as HTML with plotly.js inlined in the first one, so the page works offline.

        Plotly's own ``notebook`` renderer also loads MathJax from a CDN for every figure, which
        fails offline and which the book does not need (its maths is typeset by the page itself).
        """

        def __init__(self) -> None:
            self.plotlyjs_sent = False

        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
            html = pio.to_html(
                fig_dict,
                include_plotlyjs=not self.plotlyjs_sent,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            self.plotlyjs_sent = True
            return {"text/html": html}

    return BookHtmlRenderer


def use_plotly_renderer() -> str:
    """Choose plotly's renderer for where this notebook runs; return its name.

    Colab gets plotly's ``colab`` renderer. Everywhere else (Jupyter, JupyterLab and the book
    build) figures are emitted as HTML only: the book's builder has no renderer for plotly's JSON
    mime type and would warn about it.
    """
    import plotly.io as pio

    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
    else:
        pio.renderers[BOOK_RENDERER] = _book_renderer_class()()
        pio.renderers.default = BOOK_RENDERER
    return pio.renderers.default
