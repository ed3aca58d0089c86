"""Projections and the embedding explorer (fromzero.viz): shapes, seeds, planted structure, clear errors."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import numpy as np
import plotly.graph_objects as go
import pytest

from fromzero.errors import InputError
from fromzero.projection import PROJECTION_METHODS, PROJECTION_NAMES, neighbours_kept, project, projection_quality
from fromzero.viz import BOOK_BUILD_VARIABLE, EmbeddingExplorer, plotly_js_file, use_plotly_renderer


def two_clusters(per_cluster: int = 20, dim: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points around two opposite directions (+e0 and -e0) with small noise, and their cluster labels."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(dim)
    centre[0] = 1.0
    vectors = np.vstack(
        [centre + 0.1 * rng.normal(size=(per_cluster, dim)), -centre + 0.1 * rng.normal(size=(per_cluster, dim))]
    )
    return vectors, np.repeat([0, 1], per_cluster)


def separation(points: np.ndarray, labels: np.ndarray) -> float:
    """Distance between the two cluster means over the largest distance of a point from its own mean."""
    means = [points[labels == label].mean(axis=0) for label in (0, 1)]
    spread = max(np.linalg.norm(points[labels == label] - means[label], axis=1).max() for label in (0, 1))
    return float(np.linalg.norm(means[0] - means[1]) / spread)


@pytest.fixture(scope="module")
def clusters() -> tuple[np.ndarray, np.ndarray]:
    return two_clusters()


@pytest.fixture(scope="module")
def projections(clusters: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Every method once on the planted clusters (UMAP's first fit compiles, so compute each only once)."""
    return {method: project(clusters[0], method, seed=0, neighbours=10) for method in PROJECTION_METHODS}


@pytest.mark.parametrize("method", PROJECTION_METHODS)
def test_projection_has_one_finite_2d_point_per_vector(projections: dict[str, np.ndarray], method: str) -> None:
    points = projections[method]
    assert points.shape == (40, 2)
    assert np.isfinite(points).all()


@pytest.mark.parametrize("method", PROJECTION_METHODS)
def test_projection_is_deterministic_for_a_seed(
    clusters: tuple[np.ndarray, np.ndarray], projections: dict[str, np.ndarray], method: str
) -> None:
    again = project(clusters[0], method, seed=0, neighbours=10)
    np.testing.assert_allclose(again, projections[method], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", PROJECTION_METHODS)
def test_two_well_separated_clusters_stay_separated(
    clusters: tuple[np.ndarray, np.ndarray], projections: dict[str, np.ndarray], method: str
) -> None:
    labels = clusters[1]
    points = projections[method]
    assert separation(points, labels) > 2, f"{method} merged the two clusters"
    # Every point's nearest neighbour in the picture comes from its own cluster.
    distances = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).all()


def test_pca_finds_the_direction_the_clusters_differ_along(
    clusters: tuple[np.ndarray, np.ndarray], projections: dict[str, np.ndarray]
) -> None:
    vectors, labels = clusters
    first_axis = projections["pca"][:, 0]
    # The clusters differ along e0, so the first component alone separates them (its sign is arbitrary).
    assert abs(np.corrcoef(first_axis, labels)[0, 1]) > 0.99
    assert abs(np.corrcoef(first_axis, vectors[:, 0])[0, 1]) > 0.99


def test_pca_of_points_on_a_plane_keeps_their_distances() -> None:
    # Unit vectors in the plane of e0 and e1 (on a circle): PCA to 2-D is then a rotation, losing nothing.
    angles = np.sort(np.random.default_rng(2).uniform(0, np.pi, 12))  # random, so no two distances tie
    vectors = np.zeros((12, 5))
    vectors[:, 0], vectors[:, 1] = np.cos(angles), np.sin(angles)
    points = project(vectors, "pca")
    before = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    after = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.testing.assert_allclose(after, before, atol=1e-9)
    quality = projection_quality(vectors, points, k=2)
    assert quality["distance correlation"] == pytest.approx(1.0)
    assert quality["trustworthiness"] == pytest.approx(1.0)


def test_projection_quality_is_perfect_for_an_exact_map_and_low_for_a_shuffled_one() -> None:
    rng = np.random.default_rng(1)
    flat = np.hstack([rng.normal(size=(30, 2)), np.zeros((30, 3))])
    points = flat[:, :2] / np.linalg.norm(flat[:, :2], axis=1, keepdims=True)  # the vectors' own unit directions
    exact = projection_quality(flat, points, k=5)
    assert exact["neighbours kept"] == pytest.approx(1.0)
    shuffled = projection_quality(flat, points[rng.permutation(30)], k=5)
    assert shuffled["neighbours kept"] < 0.5 and shuffled["trustworthiness"] < exact["trustworthiness"]


def test_projection_rejects_bad_input() -> None:
    vectors, _ = two_clusters(per_cluster=3)
    with pytest.raises(ValueError, match="unknown projection method 'mds'"):
        project(vectors, "mds")
    with pytest.raises(ValueError, match="at least 4 vectors"):
        project(vectors[:3], "pca")
    with pytest.raises(ValueError, match="2-D array"):
        project(vectors[0], "pca")
    broken = vectors.copy()
    broken[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        project(broken, "pca")
    with pytest.raises(ValueError, match="shape"):
        projection_quality(vectors, np.zeros((len(vectors), 3)))


# The explorer: words on two clusters, so that each query's neighbours are known in advance.
WORDS = [f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)]


@pytest.fixture(scope="module")
def explorer(clusters: tuple[np.ndarray, np.ndarray]) -> EmbeddingExplorer:
    vectors, labels = clusters
    return EmbeddingExplorer(WORDS, vectors, groups=["cluster A" if label == 0 else "cluster B" for label in labels])


def test_explorer_figure_has_every_word_in_its_hover_text(explorer: EmbeddingExplorer) -> None:
    fig = explorer.figure()
    assert [trace.name for trace in fig.data] == ["cluster A", "cluster B"]
    hover = [word for trace in fig.data for word in trace.hovertext]
    assert sorted(hover) == sorted(WORDS)
    for trace in fig.data:  # each point's hover text is its own word, at its own coordinates
        for word, x, y in zip(trace.hovertext, trace.x, trace.y, strict=True):
            assert (x, y) == tuple(explorer.points("pca")[explorer.index[word]])


def test_explorer_highlights_queries_and_their_neighbours(explorer: EmbeddingExplorer) -> None:
    fig = explorer.figure(["a0", "b3"], k=4)
    by_name = {trace.name: trace for trace in fig.data}
    assert {"a0", "b3", "4 nearest to a0", "4 nearest to b3"} <= set(by_name)
    assert list(by_name["a0"].text) == ["a0"]
    neighbours_of_a0 = list(by_name["4 nearest to a0"].text)
    assert neighbours_of_a0 == [word for word, _ in explorer.neighbours("a0", 4)]
    assert len(neighbours_of_a0) == 4 and all(word.startswith("a") and word != "a0" for word in neighbours_of_a0)
    assert all(word.startswith("b") for word in by_name["4 nearest to b3"].text)
    # One line from the query to each neighbour: (query, neighbour, gap) three times four.
    lines = [trace for trace in fig.data if trace.mode == "lines" and trace.legendgroup == "a0"]
    assert len(lines) == 1 and len(lines[0].x) == 12


def test_explorer_reuses_its_projection(explorer: EmbeddingExplorer) -> None:
    assert explorer.points("pca") is explorer.points("pca")
    first = explorer.figure("a1", method="pca")
    second = explorer.figure("a1", method="pca")
    assert np.array_equal(first.data[0].x, second.data[0].x)


def test_explorer_rejects_unknown_words_by_name(explorer: EmbeddingExplorer) -> None:
    with pytest.raises(ValueError, match="'zebra' is not among the explorer's 40 words"):
        explorer.figure(["a0", "zebra"])
    with pytest.raises(ValueError, match="'zebra'"):
        explorer.neighbours("zebra")
    with pytest.raises(ValueError, match="'zebra'"):
        explorer.widget("zebra")
    with pytest.raises(ValueError, match="k must be between 1 and 39"):
        explorer.figure("a0", k=40)
    with pytest.raises(ValueError, match="unknown projection method"):
        explorer.figure("a0", method="lda")


def test_explorer_rejects_mismatched_or_repeated_words(clusters: tuple[np.ndarray, np.ndarray]) -> None:
    vectors, _ = clusters
    with pytest.raises(InputError, match="39 words but 40 vectors"):
        EmbeddingExplorer(WORDS[:-1], vectors)
    with pytest.raises(InputError, match="repeated: 'a0'"):
        EmbeddingExplorer(["a0", *WORDS[:-1]], vectors)
    with pytest.raises(InputError, match="3 group labels for 40 words"):
        EmbeddingExplorer(WORDS, vectors, groups=["x", "y", "z"])


def test_explorer_widget_has_controls_and_redraws(explorer: EmbeddingExplorer, monkeypatch) -> None:
    import ipywidgets as widgets

    drawn = []
    original = explorer.figure
    monkeypatch.setattr(explorer, "figure", lambda *args: drawn.append(args) or original(*args))
    ui = explorer.widget("a0", k=3)
    controls = {type(child).__name__: child for box in ui.children[:2] for child in getattr(box, "children", [box])}
    assert {"Combobox", "IntSlider", "ToggleButtons"} <= set(controls)
    assert isinstance(ui.children[-1], widgets.Output)
    assert drawn[-1] == ("a0", 3, "pca")
    controls["IntSlider"].value = 6
    controls["Combobox"].value = "b2"
    assert drawn[-1] == ("b2", 6, "pca")
    controls["Combobox"].value = "b"  # half-typed: nothing to draw yet
    assert drawn[-1] == ("b2", 6, "pca")


MENU_WORDS = ["a0", "b3", "a7"]


@pytest.fixture(scope="module")
def menu(explorer: EmbeddingExplorer) -> go.Figure:
    return explorer.menu_figure(MENU_WORDS, k=4)


def press(fig: go.Figure, button: object) -> None:
    """Do to ``fig`` what plotly.js does when a reader clicks ``button`` of an update menu."""
    if button.method == "update":
        fig.plotly_update(restyle_data=button.args[0], relayout_data=button.args[1])
    else:
        assert button.method == "restyle"
        fig.plotly_restyle(button.args[0], trace_indexes=button.args[1])


def assert_shows(fig: go.Figure, explorer: EmbeddingExplorer, word: str, method: str) -> None:
    """The visible traces are exactly those of ``explorer.figure(word, method=method)``, on the explorer's points."""
    visible = [trace for trace in fig.data if trace.visible]
    expected = explorer.figure(word, k=4, method=method).data
    assert [trace.name for trace in visible] == [trace.name for trace in expected]
    for shown, wanted in zip(visible, expected, strict=True):
        for key in ("x", "y", "text", "hovertext", "mode"):
            assert shown[key] == wanted[key], f"{method}, {word}: {shown.name}'s {key} differs"
    groups = [trace for trace in visible if trace.mode == "markers"]
    assert sorted(word for trace in groups for word in trace.hovertext) == sorted(WORDS)
    for trace in groups:
        for point_word, x, y in zip(trace.hovertext, trace.x, trace.y, strict=True):
            assert (x, y) == tuple(explorer.points(method)[explorer.index[point_word]])
    assert fig.layout.xaxis.title.text == f"{PROJECTION_NAMES[method]} 1"


def test_menu_figure_has_projection_buttons_and_a_word_menu(menu: go.Figure) -> None:
    projections, words = menu.layout.updatemenus
    assert [button.label for button in projections.buttons] == ["PCA", "t-SNE", "UMAP"]
    assert [button.label for button in words.buttons] == MENU_WORDS
    assert projections.active == 0 and words.active == 0


def test_menu_figure_starts_on_the_first_projection_and_word(explorer: EmbeddingExplorer, menu: go.Figure) -> None:
    assert_shows(menu, explorer, "a0", "pca")


@pytest.mark.parametrize("word_first", [False, True], ids=["projection then word", "word then projection"])
def test_every_choice_of_the_menus_shows_exactly_its_projection_and_word(
    explorer: EmbeddingExplorer, menu: go.Figure, word_first: bool
) -> None:
    projections, words = menu.layout.updatemenus
    for method, projection_button in zip(PROJECTION_METHODS, projections.buttons, strict=True):
        for word, word_button in zip(MENU_WORDS, words.buttons, strict=True):
            fig = go.Figure(menu)
            for button in (word_button, projection_button) if word_first else (projection_button, word_button):
                press(fig, button)
            assert_shows(fig, explorer, word, method)


def test_menu_figure_rejects_bad_requests_before_projecting(explorer: EmbeddingExplorer) -> None:
    with pytest.raises(InputError, match="'zebra' is not among"):
        explorer.menu_figure(["a0", "zebra"])
    with pytest.raises(InputError, match="at least one query word"):
        explorer.menu_figure([])
    with pytest.raises(InputError, match="unknown projection method 'lda'"):
        explorer.menu_figure("a0", methods=["pca", "lda"])


@pytest.fixture
def plotly_default() -> Iterator[None]:
    """Restore plotly's default renderer after a test that chooses one."""
    import plotly.io as pio

    previous = pio.renderers.default
    yield
    pio.renderers.default = previous


def bundle(figure: go.Figure) -> dict[str, object]:
    import plotly.io as pio

    return pio.renderers._build_mime_bundle(figure.to_dict())


def test_book_build_figures_leave_plotly_js_to_the_page(monkeypatch, plotly_default: None) -> None:
    monkeypatch.setenv(BOOK_BUILD_VARIABLE, "1")
    assert use_plotly_renderer() == "fromzero_book"
    html = bundle(go.Figure(go.Scatter(y=[1, 2])))["text/html"]
    assert "plotly-graph-div" in html and "Plotly.newPlot" in html
    assert len(html) < 20_000, "plotly.js must come from the book's _static folder, not from every figure"
    assert "<script src" not in html and "cdn" not in html.lower(), "the book must work offline"


def test_outside_the_book_each_figure_is_plotly_json(monkeypatch, plotly_default: None) -> None:
    # JupyterLab, Notebook 7 and VS Code draw this mime type with their own plotly.js: a figure needs no
    # earlier output, so it comes back after a page reload and inside a widget that redraws.
    monkeypatch.delenv(BOOK_BUILD_VARIABLE, raising=False)
    assert use_plotly_renderer() == "plotly_mimetype"
    assert set(bundle(go.Figure(go.Scatter(y=[1, 2])))) == {"application/vnd.plotly.v1+json"}


def test_colab_gets_plotlys_colab_renderer(monkeypatch, plotly_default: None) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv(BOOK_BUILD_VARIABLE, "1")  # Colab wins even if the variable leaked into its environment
    assert use_plotly_renderer() == "colab"


def test_the_installed_plotly_ships_plotly_js_for_the_book() -> None:
    path = plotly_js_file()
    assert path is not None and path.stat().st_size > 1_000_000
    assert path.read_text(encoding="utf-8")[:2000].lstrip().startswith("/**"), "not the plotly.js bundle"


def test_neighbours_kept_is_one_number_per_word_and_averages_to_the_quality() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 6))
    points = rng.normal(size=(30, 2))
    kept = neighbours_kept(vectors, points, k=4)
    assert kept.shape == (30,) and ((kept >= 0) & (kept <= 1)).all()
    assert kept.mean() == pytest.approx(projection_quality(vectors, points, k=4)["neighbours kept"])
    flat = np.hstack([points, np.zeros((30, 4))])  # the picture is the vectors themselves, up to scale
    assert (neighbours_kept(flat, points / np.linalg.norm(points, axis=1, keepdims=True), k=4) == 1).all()
