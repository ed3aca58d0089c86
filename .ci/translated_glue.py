"""A Sphinx extension of the book: glue roles inside a translated paragraph find their notebook's glued values.

Sphinx applies a translation by parsing the translated paragraph as a small document of its own, after the page
itself was parsed. myst-nb's glue roles look their values up in the document being parsed, through the notebook
renderer that the page's parser attaches to it while it runs; the small document has none, so every
``{glue:text}`` and ``{glue:md}`` of a translation would fail. This extension keeps the renderer of the page last
parsed (a role in the page's English text has just used it: a translation keeps the roles of its English message,
``.ci/translate.py check``) and lends it to a glue role of that page's translations. A role with a notebook path
(``other.ipynb::key``) does not come here.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from myst_nb.ext.glue import directives, roles, utils
from sphinx.application import Sphinx

_last_page: dict[str, Any] = {}  # the docname and notebook renderer of the page whose glue roles were read last


def retrieve_glue_data(document: nodes.document, key: str) -> utils.VariableOutput:
    """myst-nb's lookup; a translated paragraph of a page borrows the renderer that the page's own roles used."""
    docname = document.settings.env.docname
    if "nb_renderer" in document:
        _last_page.update(docname=docname, renderer=document["nb_renderer"])
        return utils.retrieve_glue_data(document, key)
    if _last_page.get("docname") != docname:
        return utils.retrieve_glue_data(document, key)  # raises myst-nb's own error
    document["nb_renderer"] = _last_page["renderer"]
    try:
        return utils.retrieve_glue_data(document, key)
    finally:
        del document["nb_renderer"]


def setup(app: Sphinx) -> dict[str, Any]:
    roles.retrieve_glue_data = retrieve_glue_data
    directives.retrieve_glue_data = retrieve_glue_data
    return {"parallel_read_safe": True, "parallel_write_safe": True}
