"""Reading answers statically: which names a section's code defines, and its source and text."""
from __future__ import annotations

import ast
import re

_SHELL_OR_CELL_MAGIC = re.compile(r"^\s*(!|%%)")
_LINE_MAGIC = re.compile(r"^(\s*)%(?:time|timeit|capture)\b\s*")
_DEF_OR_ASSIGN = re.compile(r"^\s*(?:def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


def defined_names(source: str) -> set[str]:
    """Names a code cell binds at the notebook's top level (def, class, assignment, import, for, with)."""
    cleaned = "\n".join(_without_magic(line) for line in source.splitlines())
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        return {a or b for a, b in _DEF_OR_ASSIGN.findall(cleaned)}
    collector = _TopLevelNames()
    collector.visit(tree)
    return collector.names


def imported_modules(source: str) -> list[str]:
    """Top-level packages a code cell imports (`import tensorflow as tf`, `from sklearn.x import y`)."""
    try:
        tree = ast.parse("\n".join(_without_magic(line) for line in source.splitlines()))
    except SyntaxError:
        return []
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module.split(".")[0])
    return modules


def _without_magic(line: str) -> str:
    """`%time x = 1` keeps `x = 1`; shell escapes, cell magics and other line magics become blank."""
    if _SHELL_OR_CELL_MAGIC.match(line):
        return ""
    if line.lstrip().startswith("%"):
        kept = _LINE_MAGIC.sub(r"\1", line)
        return "" if kept.lstrip().startswith("%") else kept
    return line


class _TopLevelNames(ast.NodeVisitor):
    """Bindings outside function and class bodies, which is what a later cell can see."""

    def __init__(self):
        self.names: set[str] = set()

    def visit_FunctionDef(self, node):
        self.names.add(node.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        pass

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_Import(self, node):
        self.names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)

    visit_ImportFrom = visit_Import


def code_source(cells) -> str:
    return "\n\n".join(cell.source for cell in cells if cell.cell_type == "code" and cell.source.strip())


def all_text(cells) -> str:
    return "\n".join(cell.source for cell in cells)
