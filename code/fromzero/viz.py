"""Figures for the book: interactive plotly figures that show up everywhere, and maps of word vectors.

A plotly figure is a JSON description that a front end draws with plotly.js (4.8 MB). Where that
library comes from depends on where the notebook runs, and :func:`use_plotly_renderer` chooses:

* **The book build** (the book's extension ``.ci/sphinx_book.py`` sets the environment variable
  :data:`BOOK_BUILD_VARIABLE` before it executes the notebooks): every figure is a plain HTML ``div``
  and a script that calls ``Plotly.newPlot``, without plotly.js. The extension copies plotly.js
  from the installed ``plotly`` package into the book's ``_static`` folder once and loads it in the
  pages that have a figure, so the library is downloaded once per book (then cached), and nothing
  comes from a CDN: the book works offline.
* **Colab**: plotly's ``colab`` renderer, where every figure loads plotly.js itself.
* **Everywhere else** (JupyterLab, Notebook 7, VS Code): plotly's JSON mime type, which the front
  end draws with its own copy of plotly.js (JupyterLab and Notebook 7 through the
  ``jupyterlab-plotly`` extension that ships inside the ``plotly`` package). Nothing depends on an
  earlier output, so a figure redraws after a page reload and inside a widget.

The second half serves Chapter 5: :class:`EmbeddingExplorer`, on maps of word vectors that
:mod:`fromzero.projection` draws, is a small version of the TensorFlow Embedding Projector: a
hoverable scatter of words with query words and their nearest neighbours highlighted, a figure whose
own menus switch projection and query word without Python (for the static page), and, with a kernel
running, ipywidgets controls.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from fromzero.errors import InputError
from fromzero.evaluate import nearest_neighbours
from fromzero.projection import PROJECTION_METHODS, PROJECTION_NAMES, checked_vectors, project

BOOK_RENDERER = "fromzero_book"
BOOK_BUILD_VARIABLE = "FROMZERO_BOOK_BUILD"  # set (to "1") by .ci/sphinx_book.py while the book executes notebooks


def plotly_js_file() -> Path | None:
    """The minified plotly.js that the installed ``plotly`` package ships (``None`` without plotly)."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.exists() else None


def _book_renderer_class() -> type:
    import plotly.io as pio

    class BookHtmlRenderer(pio.base_renderers.MimetypeRenderer):
        """Figures as HTML without plotly.js, which the book's pages load once from ``_static``.

        Plotly's own HTML renderers either inline plotly.js (4.8 MB in every page that has a figure)
        or load it from a CDN, which fails offline; they also load MathJax from a CDN, which the
        book does not need (its maths is typeset by the page itself).
        """

        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
            html = pio.to_html(
                fig_dict,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            return {"text/html": html}

    return BookHtmlRenderer


def in_book_build() -> bool:
    """Whether this process runs inside the book build (see :data:`BOOK_BUILD_VARIABLE`)."""
    return os.environ.get(BOOK_BUILD_VARIABLE, "") not in ("", "0")


def use_plotly_renderer() -> str:
    """Choose plotly's renderer for where this notebook runs (see the module's docstring); return its name."""
    import plotly.io as pio

    if "google.colab" in sys.modules:
        name = "colab"
    elif in_book_build():
        pio.renderers[BOOK_RENDERER] = _book_renderer_class()()
        name = BOOK_RENDERER
    else:
        name = "plotly_mimetype"
    pio.renderers.default = name
    return name


class EmbeddingExplorer:
    """Words, their vectors and optional group labels, shown as an interactive 2-D map.

    :meth:`figure` draws a plotly scatter (hover a point for its word) with query words and their
    nearest neighbours highlighted; the neighbours are found in the full vector space, among the
    explorer's words, and joined to their query by lines, so the picture shows where a projection
    keeps a neighbourhood together and where it tears it apart. :meth:`widget` wraps the figure in
    ipywidgets controls (word, projection, number of neighbours) that work when a kernel is running.
    Projections are computed once per method and kept.
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        groups: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.words = [str(word) for word in words]  # NumPy strings would show as np.str_('...') in the controls
        self.vectors = checked_vectors(vectors, self.words)
        if groups is not None and len(groups) != len(self.words):
            raise InputError(f"{len(groups)} group labels for {len(self.words)} words: give one label per word")
        self.groups = None if groups is None else [str(group) for group in groups]
        self.seed = seed
        self.index = {word: row for row, word in enumerate(self.words)}
        self._points: dict[str, np.ndarray] = {}

    def points(self, method: str = "pca") -> np.ndarray:
        """The words' 2-D coordinates under ``method`` (computed on first use, then cached)."""
        if method not in self._points:
            self._points[method] = project(self.vectors, method, seed=self.seed)
        return self._points[method]

    def neighbours(self, word: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` explorer words nearest to ``word`` by cosine similarity, with the similarities."""
        self._check_word(word)
        if not 1 <= k < len(self.words):
            raise InputError(f"k must be between 1 and {len(self.words) - 1}, got {k}")
        return nearest_neighbours(self.vectors, self.words, word, k)

    def _check_word(self, word: str) -> None:
        if word not in self.index:
            raise InputError(f"{word!r} is not among the explorer's {len(self.words)} words")

    def _check_request(self, queries: Sequence[str], k: int, methods: Sequence[str]) -> None:
        """Validate everything before the (possibly slow) projections."""
        for word in queries:
            self._check_word(word)
        if not 1 <= k < len(self.words):
            raise InputError(f"k must be between 1 and {len(self.words) - 1}, got {k}")
        for method in methods:
            if method not in PROJECTION_METHODS:
                raise InputError(f"unknown projection method {method!r}: choose one of {', '.join(PROJECTION_METHODS)}")

    def _group_traces(self, points: np.ndarray, opacity: float) -> list[Any]:
        """Every word as a point, one trace per group (so that a click on the legend hides a group)."""
        import plotly.graph_objects as go

        groups = self.groups or ["words"] * len(self.words)
        traces = []
        for group in dict.fromkeys(groups):
            rows = [row for row, label in enumerate(groups) if label == group]
            traces.append(
                go.Scatter(
                    x=points[rows, 0].tolist(),
                    y=points[rows, 1].tolist(),
                    mode="markers",
                    name=group,
                    hovertext=[self.words[row] for row in rows],
                    hoverinfo="text",
                    marker={"size": 7, "opacity": opacity},
                )
            )
        return traces

    def _query_traces(self, points: np.ndarray, word: str, k: int) -> list[Any]:
        """Three traces: lines from ``word`` to its ``k`` neighbours, the neighbours circled, ``word`` as a star."""
        import plotly.graph_objects as go

        found = self.neighbours(word, k)
        rows = [self.index[neighbour] for neighbour, _ in found]
        centre = points[self.index[word]].tolist()
        line_x = [value for row in rows for value in (centre[0], float(points[row, 0]), None)]
        line_y = [value for row in rows for value in (centre[1], float(points[row, 1]), None)]
        return [
            go.Scatter(
                x=line_x,
                y=line_y,
                mode="lines",
                line={"width": 1, "color": "grey"},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=word,
            ),
            go.Scatter(
                x=points[rows, 0].tolist(),
                y=points[rows, 1].tolist(),
                mode="markers+text",
                name=f"{k} nearest to {word}",
                text=[neighbour for neighbour, _ in found],
                textposition="top center",
                legendgroup=word,
                hovertext=[f"{neighbour} (cos {similarity:.2f} to {word})" for neighbour, similarity in found],
                hoverinfo="text",
                marker={"size": 10, "symbol": "circle-open", "line": {"width": 2}},
            ),
            go.Scatter(
                x=[centre[0]],
                y=[centre[1]],
                mode="markers+text",
                name=word,
                text=[word],
                textposition="bottom center",
                hovertext=[word],
                hoverinfo="text",
                legendgroup=word,
                marker={"size": 16, "symbol": "star", "line": {"width": 1, "color": "black"}},
            ),
        ]

    @staticmethod
    def _axis_titles(method: str) -> dict[str, str]:
        name = PROJECTION_NAMES[method]
        return {"xaxis.title.text": f"{name} 1", "yaxis.title.text": f"{name} 2"}

    def figure(
        self, queries: Sequence[str] | str = (), k: int = 5, method: str = "pca", title: str | None = None
    ) -> Any:
        """A plotly figure: every word as a point (one trace per group), each query and its neighbours on top."""
        import plotly.graph_objects as go

        queries = [queries] if isinstance(queries, str) else list(queries)
        self._check_request(queries, k, [method])
        points = self.points(method)
        fig = go.Figure(self._group_traces(points, opacity=0.35 if queries else 0.8))
        for word in queries:
            fig.add_traces(self._query_traces(points, word, k))
        if title is None:
            title = f"{len(self.words)} words, {PROJECTION_NAMES[method]}"
            if queries:
                title += f": {', '.join(queries)} and their {k} nearest neighbours"
        fig.update_layout(
            title=title, height=560, legend={"itemsizing": "constant"}, margin={"l": 40, "r": 10, "t": 50, "b": 40}
        )
        fig.plotly_relayout(self._axis_titles(method))
        return fig

    def menu_figure(
        self,
        queries: Sequence[str] | str,
        k: int = 5,
        methods: Sequence[str] = PROJECTION_METHODS,
        title: str | None = None,
    ) -> Any:
        """The explorer without a kernel: one figure whose own controls choose the projection and the query word.

        It holds the traces of every projection in ``methods`` (the first is shown first): buttons
        show one projection's traces and hide the others, and a menu lists ``queries``. Choosing a
        word rewrites the data of the three highlighting traces (lines, neighbours, star) of
        *every* projection at once, so the two controls combine freely: plotly.js does it all in
        the browser, which is why this figure works on a static page, where :meth:`widget` cannot.
        """
        import plotly.graph_objects as go

        queries = [queries] if isinstance(queries, str) else list(queries)
        methods = list(methods)
        if not queries or not methods:
            raise InputError("menu_figure needs at least one query word and one projection method")
        self._check_request(queries, k, methods)
        fig = go.Figure()
        shown_with: list[str] = []  # the projection method each trace belongs to
        query_traces: list[int] = []  # the highlighting traces, which the word menu rewrites
        for method in methods:
            points = self.points(method)
            fig.add_traces(self._group_traces(points, opacity=0.35))
            highlights = self._query_traces(points, queries[0], k)
            query_traces += range(len(fig.data), len(fig.data) + len(highlights))
            fig.add_traces(highlights)
            shown_with += [method] * (len(fig.data) - len(shown_with))
        for trace, method in zip(fig.data, shown_with, strict=True):
            trace.visible = method == methods[0]

        projection_buttons = [
            {
                "label": PROJECTION_NAMES[method],
                "method": "update",
                "args": [{"visible": [owner == method for owner in shown_with]}, self._axis_titles(method)],
            }
            for method in methods
        ]
        word_buttons = [
            {"label": word, "method": "restyle", "args": [self._query_changes(word, k, methods), query_traces]}
            for word in queries
        ]
        fig.update_layout(
            title=title or f"{len(self.words)} words: a query word and its {k} nearest neighbours",
            height=620,
            legend={"itemsizing": "constant"},
            margin={"l": 40, "r": 10, "t": 100, "b": 40},
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "buttons": projection_buttons,
                    "active": 0,
                    "x": 0,
                    "xanchor": "left",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "pad": {"r": 0, "t": 0},
                },
                {
                    "type": "dropdown",
                    "direction": "down",
                    "buttons": word_buttons,
                    "active": 0,
                    "x": 0.56,
                    "xanchor": "left",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "pad": {"r": 0, "t": 0},
                },
            ],
            annotations=[
                {
                    "text": "query word:",
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.55,
                    "xanchor": "right",
                    "y": 1.035,
                    "yanchor": "bottom",
                }
            ],
        )
        fig.plotly_relayout(self._axis_titles(methods[0]))
        return fig

    def _query_changes(self, word: str, k: int, methods: Sequence[str]) -> dict[str, list[Any]]:
        """The restyle that puts ``word`` in every projection's highlighting traces: one value per trace."""
        traces = [trace for method in methods for trace in self._query_traces(self.points(method), word, k)]
        keys = ("x", "y", "text", "hovertext", "name", "legendgroup")
        return {
            key: [list(trace[key]) if isinstance(trace[key], tuple) else trace[key] for trace in traces] for key in keys
        }

    def widget(self, query: str | None = None, k: int = 5, method: str = "pca") -> Any:
        """ipywidgets controls around :meth:`figure`: pick a word, a projection and the neighbourhood size.

        The controls need a running kernel (Jupyter, JupyterLab, Colab); on a static page use
        :meth:`menu_figure`. Each redraw displays a complete figure through plotly's renderer (see
        :func:`use_plotly_renderer`), which never relies on an earlier output having loaded
        plotly.js, so the figure comes back after a page reload. Only widgets that exist in
        ipywidgets 7 and 8 are used: Colab runs ipywidgets 7.
        """
        import ipywidgets as widgets
        from IPython.display import display

        query = self.words[0] if query is None else query
        self._check_request([query], k, [method])
        word_box = widgets.Combobox(
            value=query, options=sorted(self.words), ensure_option=True, description="word", placeholder="type a word"
        )
        method_buttons = widgets.ToggleButtons(
            options=[(PROJECTION_NAMES[m], m) for m in PROJECTION_METHODS], value=method, description="projection"
        )
        k_slider = widgets.IntSlider(value=k, min=1, max=min(30, len(self.words) - 1), description="neighbours")
        output = widgets.Output()

        def redraw(_change: object = None) -> None:
            if word_box.value not in self.index:  # still typing
                return
            with output:
                output.clear_output(wait=True)
                display(self.figure(word_box.value, k_slider.value, method_buttons.value))

        for control in (word_box, method_buttons, k_slider):
            control.observe(redraw, names="value")
        redraw()
        return widgets.VBox([widgets.HBox([word_box, k_slider]), method_buttons, output])
