"""Tables for the RAG notebooks: re-exported from :mod:`genai_lab.tables`, the package's one printer."""

from genai_lab.tables import markdown_table, show_table

__all__ = ["markdown_table", "show_table"]
