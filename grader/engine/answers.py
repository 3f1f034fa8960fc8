"""Reading answers statically: which names a section's code defines, and its source and text.

Cells are attacker data read by the trusted worker: a cell too large to parse cheaply, or one that
does not parse, is read by a single pass over its lines instead of a backtracking regular
expression.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

import nbformat

# Honest answer cells are a few kB; parsing much more only costs the worker time and memory.
MAX_PARSED_CHARS = 100_000
# Both patterns are anchored at the start of one line and cannot backtrack more than its leading
# spaces.
_SHELL_OR_CELL_MAGIC = re.compile(r"^\s*(!|%%)")
_LINE_MAGIC = re.compile(r"^(\s*)%(?:time|timeit|capture)\b\s*")


def defined_names(source: str) -> set[str]:
    """Names a code cell binds at the notebook's top level (def, class, assignment, import, for,
    with)."""
    cleaned = _cleaned(source)
    tree = _parsed(cleaned)
    if tree is None:
        return {name for line in cleaned.split("\n") if (name := _scanned_definition(line))}
    collector = _TopLevelNames()
    collector.visit(tree)
    return collector.names


def imported_modules(source: str) -> list[str]:
    """Top-level packages a code cell imports (`import tensorflow as tf`,
    `from sklearn.x import y`)."""
    tree = _parsed(_cleaned(source))
    if tree is None:
        return []
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module.split(".")[0])
    return modules


def _cleaned(source: str) -> str:
    return "\n".join(_without_magic(line) for line in source.splitlines())


def _parsed(cleaned: str) -> ast.Module | None:
    """The cell's syntax tree; None when it is too large to parse or does not parse."""
    if len(cleaned) > MAX_PARSED_CHARS:
        return None
    try:
        return ast.parse(cleaned)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a null byte
        return None


def _scanned_definition(line: str) -> str | None:
    """The name a line defines, read forgivingly: `def name`, `class name` (at any indent), or
    `name = ...`, `name: type = ...` at the start of the line."""
    stripped = line.lstrip()
    for keyword in ("def", "class"):
        if stripped.startswith(keyword) and stripped[len(keyword) : len(keyword) + 1].isspace():
            return _leading_name(stripped[len(keyword) :].lstrip()) or None
    name = _leading_name(line)
    if not name:
        return None
    rest = line[len(name) :].lstrip()
    if rest.startswith(":"):
        rest = rest[rest.find("=") :] if "=" in rest else ""
    return name if rest.startswith("=") and not rest.startswith("==") else None


def _leading_name(text: str) -> str:
    """The identifier `text` starts with, or ''."""
    if not text or not (text[0].isascii() and text[0].isalpha() or text[0] == "_"):
        return ""
    end = 1
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[:end]


def _without_magic(line: str) -> str:
    """`%time x = 1` keeps `x = 1`; shell escapes, cell magics and other line magics become
    blank."""
    if _SHELL_OR_CELL_MAGIC.match(line):
        return ""
    if line.lstrip().startswith("%"):
        kept = _LINE_MAGIC.sub(r"\1", line)
        return "" if kept.lstrip().startswith("%") else kept
    return line


class _TopLevelNames(ast.NodeVisitor):
    """Bindings outside function and class bodies, which is what a later cell can see."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_FunctionDef(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> None:
        self.names.add(node.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)

    visit_ImportFrom = visit_Import


def code_source(cells: Iterable[nbformat.NotebookNode]) -> str:
    return "\n\n".join(
        cell.source for cell in cells if cell.cell_type == "code" and cell.source.strip()
    )
