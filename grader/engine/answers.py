"""Reading answers statically: which names a section's code defines, and its source and text."""
from __future__ import annotations

import ast
import re

_MAGIC = re.compile(r"^\s*[%!]")
_DEF_OR_ASSIGN = re.compile(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


def defined_names(source: str) -> set[str]:
    """Top-level names a code cell binds (def, class, assignment, import, for, with)."""
    cleaned = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        return {a or b for a, b in _DEF_OR_ASSIGN.findall(cleaned)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def code_source(cells) -> str:
    return "\n\n".join(cell.source for cell in cells if cell.cell_type == "code" and cell.source.strip())


def all_text(cells) -> str:
    return "\n".join(cell.source for cell in cells)
