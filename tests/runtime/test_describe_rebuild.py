"""scikit-learn model descriptions: exported by the student's kernel, rebuilt or refused by the
scorer."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from grader.runtime import KERNEL_PACKAGE_DIR

RUNTIME = str(KERNEL_PACKAGE_DIR.parent)
sys.path.insert(0, RUNTIME)
from grader_kernel.describe import describe_estimator  # noqa: E402
from scoring_kernel import rebuild, sklearn_allowlist  # noqa: E402
from scoring_kernel.rebuild import RebuildRefused, build_estimator, load_fitted_estimator  # noqa: E402
from scoring_kernel.sklearn_allowlist import class_path  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.random((80, 3))
Y = np.where(X[:, 0] + X[:, 1] > 1, "red", "blue")


def crossing(description: dict) -> dict:
    """What reaches the scoring kernel: the description after a trip through strict JSON."""
    return json.loads(json.dumps(description, allow_nan=False))


def described(estimator: dict) -> dict:
    return {"framework": "sklearn", "estimator": estimator}


class HomeMadeClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        return self


@pytest.mark.slow  # starts Python processes
def test_importing_either_side_stays_light():
    code = (
        f"import sys; sys.path.insert(0, {RUNTIME!r})\n"
        "import grader_kernel.describe, scoring_kernel.rebuild\n"
        "print(sorted({'numpy', 'sklearn', 'skops', 'tensorflow', 'keras'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


# --- unfitted: class and parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        KNeighborsClassifier(n_neighbors=3, weights="distance"),
        make_pipeline(
            StandardScaler(), LogisticRegression(C=0.5, class_weight={"red": 2, "blue": 1})
        ),
    ],
    ids=["knn", "pipeline"],
)
def test_unfitted_estimator_round_trip_predicts_like_the_original(estimator):
    rebuilt = build_estimator(crossing(describe_estimator(estimator, fitted=False)))
    assert type(rebuilt) is type(estimator) and rebuilt is not estimator
    np.testing.assert_array_equal(rebuilt.fit(X, Y).predict(X), estimator.fit(X, Y).predict(X))


def test_awkward_parameters_survive_json():
    """Types, tuples, NaN, dicts with number keys and pandas columns come back as scikit-learn needs
    them."""
    frame = pd.DataFrame({"size": [1.0, np.nan, 3.0, 4.0] * 5, "colour": ["a", "b", "a", "c"] * 5})
    labels = np.array([0, 1, 1, 0] * 5)
    numbers = make_pipeline(SimpleImputer(), MinMaxScaler(feature_range=(-1, 1)))
    estimator = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("numbers", numbers, frame.columns[:1]),
                        (
                            "words",
                            OneHotEncoder(handle_unknown="ignore", dtype=np.float32),
                            ["colour"],
                        ),
                    ]
                ),
            ),
            ("model", LogisticRegression(class_weight={0: 1.0, 1: 3.0})),
        ]
    )
    description = crossing(describe_estimator(estimator, fitted=False))
    params = build_estimator(description).get_params()
    assert params["columns__numbers__minmaxscaler__feature_range"] == (-1, 1)
    assert np.isnan(params["columns__numbers__simpleimputer__missing_values"])
    assert params["columns__words__dtype"] is np.float32
    assert params["columns__transformers"][0][2] == ["size"]
    assert params["model__class_weight"] == {0: 1.0, 1: 3.0}
    predictions = build_estimator(description).fit(frame, labels).predict(frame)
    np.testing.assert_array_equal(predictions, estimator.fit(frame, labels).predict(frame))


def test_function_parameters_are_refused_by_name():
    with pytest.raises(ValueError, match="parameter `func` of FunctionTransformer is a function"):
        describe_estimator(FunctionTransformer(func=np.log1p), fitted=False)
    with pytest.raises(ValueError, match="parameter `func` of FunctionTransformer is a function"):
        describe_estimator(make_pipeline(FunctionTransformer(func=lambda x: x * 2)), fitted=False)


def test_home_made_estimator_is_refused_by_name():
    description = crossing(describe_estimator(HomeMadeClassifier(), fitted=False))
    expected = (
        f"your estimator is a `HomeMadeClassifier` (from `{__name__}`), which the grader cannot"
    )
    with pytest.raises(RebuildRefused, match=re.escape(expected)):
        build_estimator(description)


def test_class_paths_outside_the_allow_list_are_never_imported(tmp_path, monkeypatch):
    trap = f"open({str(tmp_path / 'imported')!r}, 'w').close()\nclass Trap:\n    pass\n"
    (tmp_path / "booby_trap.py").write_text(trap)
    monkeypatch.syspath_prepend(str(tmp_path))
    for path in ("os.system", "subprocess.Popen", "booby_trap.Trap", "builtins.eval"):
        estimator = {"class": path, "params": {"args": ["touch", str(tmp_path / "called")]}}
        nested = {"class": class_path(Pipeline), "params": {"steps": [["step", estimator]]}}
        for description in (described(estimator), described(nested)):
            with pytest.raises(RebuildRefused, match="which the grader cannot rebuild"):
                build_estimator(description)
    assert "booby_trap" not in sys.modules
    assert not (tmp_path / "imported").exists() and not (tmp_path / "called").exists()


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"n_neighbors": {"module": "os", "class_name": "system"}},
            "`n_neighbors` of KNeighborsClassifier is",
        ),
        (
            {"n_neighbors": {"dtype": "object"}},
            "`n_neighbors` of KNeighborsClassifier is not a numeric dtype",
        ),
        ({"n_neighbours": 3}, "could not be built: .*n_neighbours"),
        ({"n_neighbors": "many"}, "could not be built: .*n_neighbors"),
    ],
    ids=["object-like dict", "object dtype", "unknown name", "bad value"],
)
def test_hand_written_parameters_are_refused(params, message):
    with pytest.raises(RebuildRefused, match=message):
        build_estimator(described({"class": class_path(KNeighborsClassifier), "params": params}))


def test_pipeline_memory_is_refused():
    estimator = {"class": class_path(Pipeline), "params": {"steps": [], "memory": "/tmp/cache"}}
    with pytest.raises(RebuildRefused, match="parameter `memory` of Pipeline must be None"):
        build_estimator(described(estimator))


def test_allow_list_names_defining_classes():
    allowed = rebuild.ALLOWED_ESTIMATORS
    assert "sklearn.linear_model._logistic.LogisticRegression" in allowed
    assert (
        class_path(ColumnTransformer) in allowed and class_path(FunctionTransformer) not in allowed
    )
    assert len(allowed) == sum(
        map(len, sklearn_allowlist.PUBLIC_ESTIMATORS.values())
    )  # no duplicates


# --- fitted: skops --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(StandardScaler(), LogisticRegression()),
        RandomForestClassifier(n_estimators=5, random_state=0),
        GradientBoostingClassifier(n_estimators=5, random_state=0),
        HistGradientBoostingClassifier(max_iter=5),
        KNeighborsClassifier(),
        SGDClassifier(random_state=0),
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2000, random_state=0),
        ColumnTransformer([("scale", StandardScaler(), [0])], remainder="passthrough"),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_fitted_estimator_round_trip_through_skops(estimator):
    estimator.fit(X, Y)
    description = crossing(describe_estimator(estimator, fitted=True))
    assert description["framework"] == "sklearn" and description["class"] == class_path(
        type(estimator)
    )
    loaded = load_fitted_estimator(description)
    method = "transform" if isinstance(estimator, ColumnTransformer) else "predict"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(estimator, method)(X))


def test_fitted_pipeline_on_a_table_with_text_round_trip_through_skops():
    frame = pd.DataFrame({"size": RNG.random(40), "colour": ["red", "blue", "green", "red"] * 10})
    labels = (frame["size"] > 0.5) | (frame["colour"] == "green")
    columns = ColumnTransformer([("words", OneHotEncoder(), ["colour"])], remainder="passthrough")
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    estimator = make_pipeline(columns, forest).fit(frame, labels)
    loaded = load_fitted_estimator(crossing(describe_estimator(estimator, fitted=True)))
    np.testing.assert_array_equal(loaded.predict(frame), estimator.predict(frame))


def test_unfitted_estimator_cannot_be_exported_as_fitted():
    with pytest.raises(ValueError, match="your `LogisticRegression` has not been fitted yet"):
        describe_estimator(LogisticRegression(), fitted=True)


def _rewritten(estimator, change) -> dict:
    """The fitted description of `estimator`, its skops schema changed by `change` as an attacker
    would."""
    data = skops.io.dumps(estimator.fit(X, Y))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "schema.json":
                schema = json.loads(content)
                change(schema)
                content = json.dumps(schema).encode()
            target.writestr(name, content)
    return {
        "framework": "sklearn",
        "skops": base64.b64encode(out.getvalue()).decode(),
        "class": "anything",
    }


def _add_popen(schema: dict) -> None:
    schema["content"]["content"]["evil"] = {
        "__class__": "Popen",
        "__module__": "subprocess",
        "__loader__": "ObjectNode",
        "content": {},
    }


def _root_is_system(schema: dict) -> None:
    schema["__class__"], schema["__module__"], schema["__loader__"] = "system", "os", "FunctionNode"


def _unchanged(schema: dict) -> None:
    pass


@pytest.mark.parametrize(
    "description, message",
    [
        (
            _rewritten(LogisticRegression(), _add_popen),
            "contains `subprocess.Popen`, which the grader cannot",
        ),
        (
            _rewritten(LogisticRegression(), _root_is_system),
            r"your estimator is a `system` \(from `os`\)",
        ),
        (
            _rewritten(
                make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()), _unchanged
            ),
            "contains `numpy.log1p`, which the grader cannot load",
        ),
        (_rewritten(HomeMadeClassifier(), _unchanged), r"your estimator is a `HomeMadeClassifier`"),
        ({"skops": "not base64!"}, "not valid base64"),
        ({"skops": base64.b64encode(b"PK but not a zip").decode()}, "not a skops file"),
    ],
    ids=[
        "injected Popen",
        "root function",
        "numpy function",
        "home-made",
        "bad base64",
        "not a zip",
    ],
)
def test_hand_crafted_skops_payloads_are_refused(description, message):
    with pytest.raises(RebuildRefused, match=message):
        load_fitted_estimator(description)
