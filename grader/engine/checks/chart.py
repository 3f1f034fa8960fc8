"""What a displayed chart shows: rules on a Vega-Lite spec's mark and encodings, and the reading of
those specs from a cell's outputs (Altair's display data, or the spec inside its HTML)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal, NamedTuple, get_args

from pydantic import Field, model_validator

from grader.engine.checks.base import Params

Mark = Literal[
    "arc", "area", "bar", "boxplot", "circle", "errorband", "errorbar", "geoshape", "image",
    "line", "point", "rect", "rule", "square", "text", "tick", "trail",
]  # fmt: skip
Channel = Literal[
    "x", "y", "x2", "y2", "xOffset", "yOffset", "color", "fill", "stroke", "opacity",
    "fillOpacity", "strokeOpacity", "strokeWidth", "strokeDash", "size", "angle", "shape",
    "theta", "theta2", "radius", "radius2", "text", "tooltip", "detail", "key", "order", "href",
    "description", "url", "latitude", "longitude", "latitude2", "longitude2", "row", "column",
    "facet",
]  # fmt: skip
FieldType = Literal["quantitative", "nominal", "ordinal", "temporal"]
Aggregate = Literal[
    "count", "valid", "values", "missing", "distinct", "sum", "product", "mean", "variance",
    "variancep", "stdev", "stdevp", "stderr", "median", "q1", "q3", "ci0", "ci1", "min", "max",
]  # fmt: skip
_AGGREGATES = set(get_args(Aggregate))
# Vega-Lite's synonym for `mean`: a student's `average(price)` is the instructor's `mean(price)`.
_SYNONYMS = {"average": "mean"}
_TYPE_LETTERS = {
    "Q": "quantitative",
    "N": "nominal",
    "O": "ordinal",
    "T": "temporal",
    "G": "geojson",
}
_SHORTHAND = re.compile(
    r"(?:(?P<function>[A-Za-z0-9]+)\((?P<inner>.*)\)|(?P<plain>.*?))"
    r"(?::(?P<type>[QNOTG]|quantitative|nominal|ordinal|temporal|geojson))?",
    re.DOTALL,
)
_VEGALITE_MIME = re.compile(r"application/vnd\.vegalite\.v\d+\+json")
# Where Altair's HTML renderers put the spec: `var spec = {...}`, `const spec = {...}`, or the
# argument of the embedding function, `})({...}, {"mode": "vega-lite"})`.
_EMBEDDED_SPEC = re.compile(r"(?:\bspec\s*=\s*|\}\)\()(?=\{)")
# A chart is attacker data: only this much of it is ever looked at.
MAX_EMBEDDED_TRIES = 8
MAX_NODES = 500
MAX_DEPTH = 20
MAX_DEFS = 50
MAX_NAME = 400


class FieldUse(NamedTuple):
    """A field as a channel shows it; in a rule, None means "not checked"."""

    field: str | None
    type: str | None
    aggregate: str | None


def parse_shorthand(text: str) -> FieldUse:
    """Altair's shorthand (`price`, `price:Q`, `mean(price):Q`, `count()`) as its parts; a
    ValueError for a function that is no aggregate (time units such as `month(date)`)."""
    found = _SHORTHAND.fullmatch(text)
    assert found is not None  # every text matches: the plain group takes anything
    kind = found["type"] and _TYPE_LETTERS.get(found["type"], found["type"])
    if found["function"] is None:
        return FieldUse(found["plain"], kind, None)
    function = _SYNONYMS.get(found["function"], found["function"])
    if function not in _AGGREGATES:
        raise ValueError(f"`{found['function']}(...)` is not an aggregate")
    return FieldUse(found["inner"] or None, kind, function)


class EncodingRule(Params):
    field: str | None = Field(None, min_length=1, max_length=300)
    type: FieldType | None = None
    aggregate: Aggregate | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            use = parse_shorthand(value)
        except ValueError as exc:
            raise ValueError(f"{exc}; give the field as {{field: ..., type: ...}}") from None
        return {"field": use.field, "type": use.type, "aggregate": use.aggregate}

    @model_validator(mode="after")
    def _checks_something(self) -> EncodingRule:
        if self.expected == FieldUse(None, None, None):
            raise ValueError("give a field, a type or an aggregate")
        return self

    @property
    def expected(self) -> FieldUse:
        return FieldUse(self.field, self.type, self.aggregate)

    @property
    def wanted(self) -> str:
        return _describe(self.expected, self.type is not None, blank="a field")


class ChartRules(Params):
    mark: Mark | None = None
    encoding: dict[Channel, EncodingRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _checks_something(self) -> ChartRules:
        if self.mark is None and not self.encoding:
            raise ValueError("give a mark, an encoding or both")
        return self

    def summary(self) -> str:
        """The chart asked for, in words: a `bar` chart with x axis `month`."""
        parts = [f"{_channel_name(c)} {rule.wanted}" for c, rule in self.encoding.items()]
        mark = f"a `{self.mark}` chart" if self.mark else "a chart"
        return mark + (" with " + ", ".join(parts) if parts else "")


@dataclass
class View:
    """One single chart (a unit view) of a spec: its mark and what the rules' channels show."""

    mark: str | None
    channels: dict[str, list[FieldUse]]


def specs_in(output: dict[str, Any]) -> list[dict[str, Any]]:
    """The Vega-Lite specs one output carries: Altair's display data, else the spec its HTML
    renderer embeds in a script."""
    data = output.get("data")
    if not isinstance(data, dict):
        return []
    direct = [spec for mime, spec in data.items() if _VEGALITE_MIME.fullmatch(str(mime))]
    if direct:
        return [spec for spec in direct if isinstance(spec, dict)]
    html = data.get("text/html")
    return _embedded_specs(html) if isinstance(html, str) else []


def _embedded_specs(html: str) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    for tries, found in enumerate(_EMBEDDED_SPEC.finditer(html)):
        if tries == MAX_EMBEDDED_TRIES:
            break
        try:
            spec, _ = decoder.raw_decode(html, found.end())
        except (ValueError, RecursionError):
            continue
        if isinstance(spec, dict) and "vega-lite" in str(spec.get("$schema", "")):
            specs.append(spec)
    return specs


def views(spec: dict[str, Any], channels: Collection[str]) -> list[View]:
    """The unit views of a layered, concatenated, faceted or repeated spec, each with the
    encodings it inherits; at most MAX_NODES nodes, MAX_DEPTH deep."""
    found: list[View] = []
    stack: list[tuple[Any, dict[str, Any], dict[str, Any], int]] = [(spec, {}, {}, 0)]
    queued = 1
    while stack:
        node, inherited, repeat, depth = stack.pop()
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            continue
        encoding = {**inherited, **_own_channels(node, channels)}
        repeat = {**repeat, **_repeated(node.get("repeat"))}
        if "mark" in node:
            found.append(View(_mark(node["mark"]), _shown(encoding, repeat)))
        children = [node["spec"]] if "spec" in node else []
        for key in ("layer", "concat", "hconcat", "vconcat"):
            if isinstance(node.get(key), list):
                children.extend(node[key][: max(0, MAX_NODES - queued - len(children))])
        children = children[: MAX_NODES - queued]
        queued += len(children)
        stack.extend((child, encoding, repeat, depth + 1) for child in reversed(children))
    return found


def _own_channels(node: dict[str, Any], channels: Collection[str]) -> dict[str, Any]:
    encoding = node.get("encoding")
    own = {c: encoding[c] for c in channels if c in encoding} if isinstance(encoding, dict) else {}
    facet = node.get("facet")
    if isinstance(facet, dict):
        # `facet` is one field definition, or one per `row` and `column`.
        own.update(
            {"facet": facet}
            if "field" in facet
            else {c: facet[c] for c in ("row", "column") if c in facet}
        )
    return {c: value for c, value in own.items() if c in channels}


def _repeated(repeat: Any) -> dict[str, list[Any]]:
    if isinstance(repeat, list):
        return {"repeat": repeat[:MAX_DEFS]}
    if isinstance(repeat, dict):
        return {k: v[:MAX_DEFS] for k, v in repeat.items() if isinstance(v, list)}
    return {}


def _text(value: Any) -> str | None:
    """A name from the spec, cut short: longer than any rule's, it can match none, and a message
    quoting it stays readable."""
    return value[:MAX_NAME] if isinstance(value, str) else None


def _mark(mark: Any) -> str | None:
    """A mark is written `"bar"` or `{"type": "bar", ...}`."""
    return _text(mark.get("type") if isinstance(mark, dict) else mark)


def _shown(encoding: dict[str, Any], repeat: dict[str, Any]) -> dict[str, list[FieldUse]]:
    return {
        channel: [
            _use(definition, name)
            for definition, name in islice(_candidates(value, repeat), MAX_DEFS)
            if isinstance(name, str) or name is None
        ]
        for channel, value in encoding.items()
    }


def _candidates(value: Any, repeat: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """A channel's field definitions, each with a field name: a list (tooltip, detail) gives
    several, a condition may hold one, and a repeated field is each of the repeated names."""
    for item in value[:MAX_DEFS] if isinstance(value, list) else [value]:
        if not isinstance(item, dict):
            continue
        conditions = item.get("condition")
        for definition in [
            item,
            *(conditions[:MAX_DEFS] if isinstance(conditions, list) else [conditions]),
        ]:
            if (
                not isinstance(definition, dict)
                or definition is not item
                and "field" not in definition
            ):
                continue
            field = definition.get("field")
            if isinstance(field, dict):
                key = _text(field.get("repeat"))
                yield from ((definition, name) for name in repeat.get(key or "", []))
            else:
                yield definition, field


def _use(definition: dict[str, Any], name: str | None) -> FieldUse:
    try:
        # Altair resolves shorthand, but leaves it in a field given as `field="mean(b):Q"`.
        parsed = parse_shorthand(name[:MAX_NAME]) if name else FieldUse(None, None, None)
    except ValueError:
        parsed = FieldUse(name[:MAX_NAME] if name else None, None, None)
    kind, aggregate = _text(definition.get("type")), _text(definition.get("aggregate"))
    return FieldUse(
        parsed.field,
        kind or parsed.type,
        _SYNONYMS.get(aggregate, aggregate) if aggregate else parsed.aggregate,
    )


def mismatches(view: View, rules: ChartRules) -> list[str]:
    """What in one view differs from the rules, in words for the student (empty: it matches)."""
    problems = []
    if rules.mark is not None and view.mark != rules.mark:
        shown = f"`{view.mark}`" if view.mark else "not readable"
        problems.append(f"its mark is {shown}, expected `{rules.mark}`")
    for channel, rule in rules.encoding.items():
        shown_uses = view.channels.get(channel, [])
        if any(_agrees(rule.expected, use) for use in shown_uses):
            continue
        if not shown_uses:
            problems.append(f"its {_channel_name(channel)} is not used, expected {rule.wanted}")
            continue
        actual = ", ".join(_describe(use, rule.type is not None) for use in shown_uses[:3])
        problems.append(f"its {_channel_name(channel)} shows {actual}, expected {rule.wanted}")
    return problems


def _agrees(expected: FieldUse, actual: FieldUse) -> bool:
    return all(want is None or want == got for want, got in zip(expected, actual))


def _describe(use: FieldUse, with_type: bool, blank: str = "no field") -> str:
    """A field use in words, as Altair's shorthand: `mean(price)`, with its type if checked."""
    name = use.field or ""
    if use.aggregate:
        name = f"{use.aggregate}({name})"
    text = f"`{name}`" if name else blank
    if with_type:
        text += f" ({use.type or 'no type'})"
    return text


def _channel_name(channel: str) -> str:
    return {"x": "x axis", "y": "y axis"}.get(channel, f"{channel} channel")
