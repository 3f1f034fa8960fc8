"""Check kinds, one module each, registered by the rubric's `kind`; adding a module adds a kind.

The registry is also where a question meets its kind: it validates each question's params with its
kind's model (the rubric module knows no kinds) and says which parts of a result's details pages may
show.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from grader.engine.checks.base import Check
from grader.engine.rubric import Question, Rubric, RubricError, error_messages, question_problem

CHECKS: dict[str, Check[Any]] = {}

_SUPPORT_MODULES = {"base", "accuracy", "compare", "chart"}
CheckClass = TypeVar("CheckClass", bound=type[Check[Any]])


def register(check_class: CheckClass) -> CheckClass:
    """Class decorator: make one instance of a check kind available under its `kind`."""
    CHECKS[check_class.kind] = check_class()
    return check_class


def check_for(question: Question) -> Check[Any]:
    """The check kind that scores `question` (its kind was validated with the rubric)."""
    return CHECKS[question.kind]


def typed_params(question: Question) -> BaseModel:
    """The question's params as its kind's model."""
    return check_for(question).Params.model_validate(question.params)


def validate_params(rubric: Rubric) -> Rubric:
    """Have each question's kind validate its params; the rubric with them normalised (a `target`
    becomes one band, say), or a RubricError naming every question and field at fault."""
    problems: list[str] = []
    questions: list[Question] = []
    for question in rubric.questions:
        if question.kind not in CHECKS:
            known = ", ".join(sorted(CHECKS))
            problems.append(
                question_problem(
                    question.key, "kind", f"unknown kind {question.kind!r}; known kinds: {known}"
                )
            )
            continue
        try:
            params = typed_params(question)
        except ValidationError as exc:
            problems.append(question_problem(question.key, "", error_messages(exc, "params")))
            continue
        questions.append(question.model_copy(update={"params": params.model_dump()}))
    if problems:
        raise RubricError("\n".join(problems))
    return rubric.model_copy(update={"questions": questions})


def shown_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a question result's details that a check kind declares a student's page may
    show."""
    shown = {key for check in CHECKS.values() for key in check.shown_details}
    return {key: value for key, value in details.items() if key in shown}


for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SUPPORT_MODULES:
        importlib.import_module(f"{__name__}.{_module.name}")
