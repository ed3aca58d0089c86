"""Figures for the book: making interactive plotly figures show up everywhere a reader meets them.

A plotly figure is a JSON description that a front end draws with plotly.js. JupyterLab draws it
natively; Colab needs its own renderer; the static HTML book needs the figure as self-contained
HTML (plotly.js included), because the page is built by executing the notebook with no browser attached.
"""

from __future__ import annotations

import sys


def use_plotly_renderer() -> str:
    """Choose plotly's renderer for where this notebook runs; return its name.

    Outside Colab the figure is emitted as HTML with plotly.js embedded once per notebook: Jupyter
    and JupyterLab display it, and the static book shows it offline too. (The plotly JSON mime type
    is deliberately not emitted: the book's builder has no renderer for it and would warn.)
    """
    import plotly.io as pio

    pio.renderers.default = "colab" if "google.colab" in sys.modules else "notebook"
    return pio.renderers.default
