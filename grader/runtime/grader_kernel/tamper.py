"""Tamper evidence: which functions of the runtime and the course libraries the notebook rebound.

`start()` records, before any student code, what builtins and the watched modules bind; a module
imported later is recorded when its outermost import finishes, so what a library patches while it is
imported is part of its baseline. `rebound()` names what changed since. It is evidence for staff,
never a score input, and best effort: a notebook that knows this module can also break it, or undo
its patches before an export.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import itertools
import operator
import sys
import threading
import types

WATCHED = ("grader_kernel", "numpy", "pandas", "sklearn", "tensorflow", "tf_keras", "keras")
MAX_NAMES = 50
_SUBMODULES = tuple(f"{prefix}." for prefix in WATCHED)
_MISSING = object()
# The notebook may rebind builtins before an export, so what runs after start() uses these instead.
_all, _any, _map, _zip, _is, _repeat = all, any, map, zip, operator.is_, itertools.repeat
_type, _callable, _isinstance, _getattr, _hasattr, _id = (
    type,
    callable,
    isinstance,
    getattr,
    hasattr,
    id,
)
_str, _list, _set, _frozenset, _sorted, _next, _enumerate = (
    str,
    list,
    set,
    frozenset,
    sorted,
    next,
    enumerate,
)
_Exception, _MethodType, _ModuleType = Exception, types.MethodType, types.ModuleType
# Read through the C slots, so that a hostile metaclass or module subclass cannot answer for them.
_module_dict = _ModuleType.__dict__["__dict__"].__get__
_class_dict = _type.__dict__["__dict__"].__get__
_mro = _type.__dict__["__mro__"].__get__
# What a method-like value wraps: changing it in place (`f.__code__ = ...`) rebinds the behaviour
# too.
_INNER = {
    types.FunctionType: "__code__",
    property: "fget",
    staticmethod: "__func__",
    classmethod: "__func__",
}

_BINDINGS: list[_Bindings] = []
_SEEN: dict[int, object] = {}  # id -> module; holding the module keeps its id from being reused
_KEYS: list[str] = []  # the sys.modules key of each recorded module, in step with _MODULES
_MODULES: list[object] = []
_IMPORTS = (
    threading.local()
)  # this thread's import depth, and the modules its outermost import loaded


def start() -> None:
    """Record builtins and the watched modules imported so far, then each one imported later."""
    if _BINDINGS:
        return
    # `_` is the interactive shell's last result, not a binding anyone relies on.
    _BINDINGS.append(
        _Bindings("builtins", vars(builtins), lambda key, value: key != "_", classes=False)
    )
    _catch_up()
    sys.meta_path.insert(0, _RecordingFinder())


def rebound() -> list[str]:
    """Sorted names of what is bound differently than when first recorded (at most MAX_NAMES)."""
    try:
        names = _set()
        try:
            _catch_up()
        except _Exception:
            pass
        # A module swapped in sys.modules is what the export's own `import` would get.
        modules = sys.modules
        if not _all(_map(_is, _map(modules.get, _KEYS, _MODULES), _MODULES)):
            names.update(
                key
                for key, module in _zip(_KEYS, _MODULES)
                if modules.get(key, module) is not module
            )
        for bindings in _BINDINGS[:]:
            try:
                names.update(bindings.changed())
            except _Exception:
                names.add(bindings.label)
        return _sorted(names)[:MAX_NAMES]
    except _Exception:
        # Only a notebook that broke this module's own state gets here, which is the evidence.
        return ["grader_kernel.tamper"]


class _Bindings:
    """What one namespace (a module's or class's dict) binds by identity, and a check against it."""

    def __init__(self, label: str, namespace, keep, classes: bool) -> None:
        self.label, self.namespace, self.classes = label, namespace, classes
        self.keys, self.values, self.inner = [], [], []
        for key, value in _list(namespace.items()):
            if _isinstance(key, _str) and keep(key, value):
                self.keys.append(key)
                self.values.append(value)
                attribute = _INNER.get(_type(value))
                if attribute is not None:
                    self.inner.append((key, value, attribute, _getattr(value, attribute)))
        self.all_keys = _frozenset(namespace.keys())

    def changed(self) -> list[str]:
        """Names bound differently from the baseline and, in a class, method-like values added."""
        namespace, names = self.namespace, []
        if not _all(_map(_is, _map(namespace.get, self.keys, _repeat(_MISSING)), self.values)):
            names += [
                key
                for key, value in _zip(self.keys, self.values)
                if not _same(namespace.get(key, _MISSING), value)
            ]
        names += [
            key
            for key, holder, attribute, inner in self.inner
            if _getattr(holder, attribute) is not inner
        ]
        if self.classes:
            names += [
                key
                for key in namespace.keys() - self.all_keys
                if _isinstance(key, _str) and _method_like(key, namespace.get(key))
            ]
        return [f"{self.label}.{name}" for name in names]


def _same(now, then) -> bool:
    # A bound method is a new object on every attribute access (ipykernel sets `builtins.input` to a
    # fresh one per request): the same function on the same object is the same binding.
    if _type(now) is _MethodType and _type(then) is _MethodType:
        return now.__func__ is then.__func__ and now.__self__ is then.__self__
    return now is then


def _method_like(key: str, value) -> bool:
    return _callable(value) or _any("__get__" in _class_dict(klass) for klass in _mro(_type(value)))


def _module_callable(key: str, value) -> bool:
    return _callable(value) and not _isinstance(value, _ModuleType)


def _watched(name) -> bool:
    return _isinstance(name, _str) and (name in WATCHED or _str.startswith(name, _SUBMODULES))


def _catch_up() -> None:
    """Record watched modules not seen imported: loaded before start(), or around our finder."""
    with _collector_paused():
        for key, module in _list(sys.modules.items()):
            if _watched(key) and _id(module) not in _SEEN:
                try:
                    _record(key, module)
                except _Exception:
                    pass


def _record(key: str, module) -> None:
    _SEEN[_id(module)] = module
    _KEYS.append(key)
    _MODULES.append(module)
    namespace = _module_dict(module)
    name = namespace.get("__name__")
    name = name if _isinstance(name, _str) else key
    _BINDINGS.append(_Bindings(name, namespace, _module_callable, classes=False))
    # A class is recorded once, with the module it says it belongs to
    # (pandas says `pandas` for Series).
    classes = {
        _id(value): value for value in _list(namespace.values()) if _isinstance(value, _type)
    }
    for klass in classes.values():
        try:
            if klass.__module__ == name:
                _BINDINGS.append(
                    _Bindings(
                        f"{name}.{klass.__qualname__}",
                        _class_dict(klass),
                        _method_like,
                        classes=True,
                    )
                )
        except _Exception:
            pass


def _flush() -> None:
    """Record what the outermost import loaded; never fails, as the import it ends must not."""
    pending, _IMPORTS.pending = _IMPORTS.pending, []
    try:
        with _collector_paused():
            for key, _module in pending:
                final = sys.modules.get(key)
                if final is not None and _id(final) not in _SEEN:
                    try:
                        _record(key, final)
                    except _Exception:
                        pass
    except _Exception:
        pass


@contextlib.contextmanager
def _collector_paused():
    # Recording TensorFlow allocates ~100k small objects; the cyclic collector running meanwhile,
    # over all that TensorFlow holds, would make it three times slower.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _RecordingFinder:
    """Asks the finders after it for a watched module, and has the module recorded once loaded."""

    def find_spec(self, fullname, path, target=None):
        if not _watched(fullname):
            return None
        finders = sys.meta_path
        after = _next((index + 1 for index, finder in _enumerate(finders) if finder is self), 0)
        # After us come our own finders (the keras alias, pandas' patched readers):
        # we record their result.
        for finder in finders[after:]:
            find = _getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and _hasattr(spec.loader, "exec_module"):
            spec.loader = _RecordingLoader(spec, spec.loader)
        return spec


class _RecordingLoader:
    """Runs the real loader; when the outermost watched import is done, records what it loaded."""

    def __init__(self, spec, loader) -> None:
        self.spec, self.loader = spec, loader

    def __getattr__(self, name: str):
        # Resource readers, get_source (inspect, linecache) and the like still reach the real
        # loader.
        if name == "loader":
            raise AttributeError(name)
        return _getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        # Recording waits for the outermost import: a package's submodules may still patch its
        # classes.
        depth = _getattr(_IMPORTS, "depth", 0)
        if depth == 0:
            _IMPORTS.pending = []
        _IMPORTS.depth = depth + 1
        try:
            self.loader.exec_module(module)
            _IMPORTS.pending.append((self.spec.name, module))
        finally:
            _IMPORTS.depth = depth
            # From now on the module names its real loader, as if we had never been there.
            self.spec.loader = self.loader
            if _getattr(module, "__loader__", None) is self:
                module.__loader__ = self.loader
            if depth == 0:
                _flush()
