"""Which scikit-learn classes the scoring kernel rebuilds,
and which types a fitted one's skops dump may hold.

Classes are named by their defining path (`type(x).__module__ + "." + type(x).__qualname__`), found
by importing them from scikit-learn's public modules, so that a private module moving does not break
the list. Building the lists imports scikit-learn, so they are built on first use.
"""

from __future__ import annotations

import functools
import importlib

_MAX_DEPTH = 100

PUBLIC_ESTIMATORS = {
    "linear_model": (
        "LogisticRegression",
        "LinearRegression",
        "Ridge",
        "RidgeClassifier",
        "Lasso",
        "ElasticNet",
        "SGDClassifier",
        "SGDRegressor",
        "Perceptron",
    ),
    "neighbors": ("KNeighborsClassifier", "KNeighborsRegressor"),
    "tree": ("DecisionTreeClassifier", "DecisionTreeRegressor"),
    "ensemble": (
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "AdaBoostClassifier",
        "AdaBoostRegressor",
        "BaggingClassifier",
        "BaggingRegressor",
        "VotingClassifier",
        "VotingRegressor",
    ),
    "svm": ("SVC", "SVR", "LinearSVC", "LinearSVR"),
    "naive_bayes": ("GaussianNB", "MultinomialNB", "BernoulliNB"),
    "dummy": ("DummyClassifier", "DummyRegressor"),
    "neural_network": ("MLPClassifier", "MLPRegressor"),
    "pipeline": ("Pipeline",),
    "compose": ("ColumnTransformer",),
    "preprocessing": (
        "StandardScaler",
        "MinMaxScaler",
        "RobustScaler",
        "MaxAbsScaler",
        "Normalizer",
        "PolynomialFeatures",
        "OneHotEncoder",
        "OrdinalEncoder",
    ),
    "impute": ("SimpleImputer",),
    "decomposition": ("PCA",),
}
# Public helpers that fitted allow-listed estimators hold. ColumnTransformer keeps "passthrough" as
# an identity FunctionTransformer; a FunctionTransformer with a `func` needs a function node, which
# is refused.
_PUBLIC_HELPERS = {
    "neighbors": ("BallTree", "KDTree"),
    "tree": ("ExtraTreeClassifier", "ExtraTreeRegressor"),
    "preprocessing": ("FunctionTransformer", "LabelBinarizer", "LabelEncoder"),
    "utils": ("Bunch",),
}
# Private helpers of the same kind; one that moved in a new scikit-learn is left out (refusing the
# models that use it) instead of breaking every load. Every class of the listed modules is a plain
# data holder.
_PRIVATE_HELPER_MODULES = (
    "sklearn._loss.link",
    "sklearn._loss.loss",
    "sklearn._loss._loss",
    "sklearn.linear_model._sgd_fast",
    "sklearn.metrics._dist_metrics",
    "sklearn.neural_network._stochastic_optimizers",
)
_PRIVATE_HELPERS = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
)
# skops nodes that build values or allow-listed classes;
# function, method and reduce nodes are refused.
SKOPS_LOADERS = frozenset(
    {
        "DictNode",
        "ListNode",
        "TupleNode",
        "SetNode",
        "JsonNode",
        "NdArrayNode",
        "DTypeNode",
        "ObjectNode",
        "LossNode",
        "TreeNode",
        "RandomStateNode",
        "RandomGeneratorNode",
        "SliceNode",
        "TypeNode",
        "CachedNode",
    }
)


@functools.cache
def estimator_classes() -> dict[str, type]:
    """The allow-list: defining class path -> class, found through scikit-learn's public modules."""
    return {class_path(cls): cls for cls in _public_classes(PUBLIC_ESTIMATORS)}


@functools.cache
def fitted_types() -> frozenset[str]:
    """Every type (by defining path) a skops dump of an allow-listed fitted estimator may hold."""
    import numpy

    plain = [
        dict,
        list,
        tuple,
        set,
        slice,
        str,
        int,
        float,
        bool,
        type(None),
        numpy.ndarray,
        numpy.dtype,
        numpy.random.RandomState,
        numpy.random.Generator,
        *set(numpy.sctypeDict.values()),
    ]
    private = []
    for path in _PRIVATE_HELPERS:
        module_name, _, name = path.rpartition(".")
        private.append(getattr(_module_or_none(module_name), name, None))
    for module_name in _PRIVATE_HELPER_MODULES:
        module = _module_or_none(module_name)
        if module is not None:
            private += [
                item
                for item in vars(module).values()
                if getattr(item, "__module__", None) == module_name
            ]
    # PyFuncDistance calls the Python function it holds: kept out,
    # though function nodes are refused anyway.
    private = [
        item
        for item in private
        if isinstance(item, type) and not item.__name__.startswith("PyFunc")
    ]
    types = [*plain, *_public_classes(_PUBLIC_HELPERS), *private]
    return frozenset({class_path(item) for item in types} | set(estimator_classes()))


def first_disallowed(node, depth: int = 0) -> str | None:
    """The first node kind or type in a skops schema that is not allowed, quoted,
    or None if all are.

    skops itself trusts every scikit-learn estimator and every numpy function, hence this walk.
    """
    if depth > _MAX_DEPTH:
        return f"values nested more than {_MAX_DEPTH} levels deep"
    children = node if isinstance(node, list) else []
    if isinstance(node, dict):
        loader, what = node.get("__loader__"), f"{node.get('__module__')}.{node.get('__class__')}"
        if loader is not None and (not isinstance(loader, str) or loader not in SKOPS_LOADERS):
            return f"`{what[:80]}`"
        if ("__module__" in node or "__class__" in node) and what not in fitted_types():
            return f"`{what[:80]}`"
        children = list(node.values())
    for child in children:
        found = first_disallowed(child, depth + 1)
        if found is not None:
            return found
    return None


def class_path(cls: type) -> str:
    """The defining path of a class, as descriptions and skops dumps name it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _public_classes(names: dict[str, tuple[str, ...]]) -> list[type]:
    return [
        getattr(importlib.import_module(f"sklearn.{module}"), name)
        for module, module_names in names.items()
        for name in module_names
    ]


def _module_or_none(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None
