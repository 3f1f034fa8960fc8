"""Turning an executed notebook into HTML for the feedback page."""

from __future__ import annotations

import nbformat
from nbconvert import HTMLExporter


def notebook_to_html(notebook: nbformat.NotebookNode) -> str:
    """Render a notebook as a standalone HTML page with its images embedded."""
    exporter = HTMLExporter(template_name="classic", embed_images=True)
    body, _ = exporter.from_notebook_node(notebook)
    return body
