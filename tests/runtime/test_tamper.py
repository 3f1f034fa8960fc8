"""Tamper evidence in the student's kernel: honest notebooks flag nothing, rebound functions are
named.

Each scenario runs in a fresh Python with the runtime installed as the grader's setup cell does;
only two of them import TensorFlow (a warm kernel that imported everything before `install`, and a
cold one).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from grader.runtime import KERNEL_PACKAGE_DIR

# Slow: starts Python processes that import TensorFlow.
pytestmark = pytest.mark.slow

SETUP = """
import json, sys, time
sys.path.insert(0, {runtime!r})
{preload}
import grader_kernel
grader_kernel.install(json.dumps({{"legacy_keras": True, "url_map": {{}}, "data_dir": "data"}}))
from grader_kernel import tamper

def fake(*args, **kwargs):
    return 1

def report(label, names=None, **extra):
    started = time.perf_counter()
    names = tamper.rebound() if names is None else names
    print("RESULT", json.dumps({{"label": label, "rebound": names, \
"seconds": time.perf_counter() - started,
                                **extra}}), flush=True)
"""

HEAVY_IMPORTS = (
    "import numpy, pandas, sklearn, sklearn.base, sklearn.metrics, tensorflow, tf_keras, altair"
)

# The course's libraries used the way lab notebooks use them, lazy corners included: TensorFlow's
# `tf.keras`, pandas accessors, scikit-learn's set_output wrappers and HTML repr, Keras subclassing.
# pandas' readers are patched by our dataset runtime, before (warm) or while (cold) pandas is
# imported.
HONEST = """
from tensorflow.keras.layers import Dense
from sklearn.neighbors import KNeighborsClassifier
from pandas.api.types import is_numeric_dtype
import numpy as np, pandas as pd, tensorflow as tf, keras, sklearn, altair as alt
from keras.models import Sequential
from keras.wrappers.scikit_learn import KerasClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

rng = np.random.default_rng(0)
df = pd.DataFrame({"a": rng.random(60), "b": rng.random(60), "name": ["x", "y", "z"] * 20,
                   "day": pd.date_range("2021-01-01", periods=60)})
df["label"] = (df.a > df.b).astype(int)
df["name"].str.upper(), df["day"].dt.year, df["name"].astype("category").cat.codes, df.describe()
df.groupby("name")[["a", "b"]].mean(), df[["a", "b"]].rolling(3).mean(), \
df.to_json(), df._repr_html_()
pd.set_option("display.max_rows", 20), np.set_printoptions(precision=3), is_numeric_dtype(df.a)
df.to_csv("table.csv", index=False)
df = pd.read_csv("table.csv", parse_dates=["day"])
X, y = df[["a", "b"]], df["label"]

class Threshold(BaseEstimator, ClassifierMixin):
    def __init__(self, cut=0.5):
        self.cut = cut
    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self
    def predict(self, X):
        return (np.asarray(X)[:, 0] > self.cut).astype(int)

class Double(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self
    def transform(self, X):
        return X * 2

sklearn.set_config(transform_output="pandas")
pipe = make_pipeline(StandardScaler(), Double(), FunctionTransformer(np.abs), \
LogisticRegression()).fit(X, y)
accuracy_score(y, pipe.predict(X)), pipe._repr_html_()
confusion_matrix(y, clone(Threshold()).fit(X, y).predict(X))
cross_val_score(KNeighborsClassifier(3), X, y, cv=3), \
RandomForestClassifier(5).fit(X, y).predict_proba(X)
DecisionTreeClassifier().fit(*train_test_split(X, y, random_state=0)[::2]), load_iris(as_frame=True)
sklearn.set_config(transform_output="default")

tf.random.set_seed(0)
def build(units=4):
    model = Sequential([Dense(units, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=tf.keras.optimizers.Adam(0.01), \
metrics=["accuracy"])
    return model
wrapper = KerasClassifier(build_fn=build, epochs=2, batch_size=16, verbose=0)
wrapper.fit(X, y), wrapper.predict(X), wrapper.predict_proba(X), wrapper.score(X, y)

class Tiny(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(1)
    def call(self, inputs):
        return self.dense(inputs)
tiny = Tiny()
tiny.compile(loss="mse")
stop = tf.keras.callbacks.EarlyStopping("loss")
tiny.fit(X.to_numpy(), y.to_numpy(), epochs=1, verbose=0, callbacks=[stop])
tiny.predict(X.to_numpy(), verbose=0), tf.keras.backend.clear_session(), \
tf.keras.utils.to_categorical([0, 1])
variable = tf.Variable(1.0)
(variable * 2 + tf.constant(1.0)).numpy(), tf.function(lambda t: t * 2)(tf.constant(1.0))
list(tf.data.Dataset.from_tensor_slices(X.to_numpy()).batch(8))
alt.Chart(df).mark_point().encode(x="a", y="b", color="name:N").to_dict()
try:
    import matplotlib
except ModuleNotFoundError:
    pass
else:
    matplotlib.use("Agg")
    df.plot(x="a", y="b")
report("honest", keras=tf.keras.Model.__module__, \
readers_patched=hasattr(pd.read_csv, "__wrapped__"))
"""

REQUIRED = """
import builtins, types
import grader_kernel.extract as extract
from grader_kernel.keras_classifier import KerasClassifier as Wrapper
probes = [name for name, value in vars(extract).items()
          if isinstance(value, types.FunctionType) and value.__module__ == extract.__name__]
for name in probes:
    setattr(extract, name, fake)
np.mean = sklearn.base.clone = sklearn.metrics.accuracy_score = fake
tf.keras.Model.predict = Wrapper.predict = pd.Series.__eq__ = pd.DataFrame.mean = fake
builtins.sum = fake
report("required", probes=probes)
"""

LIBRARY_PATCHES = {
    "numpy.mean",
    "sklearn.base.clone",
    "sklearn.metrics.accuracy_score",
    "builtins.sum",
    "tf_keras.src.engine.training.Model.predict",
    "pandas.Series.__eq__",
    "pandas.DataFrame.mean",
    "grader_kernel.keras_classifier.KerasClassifier.predict",
}


def run(body: str, preload: str = "", tmp_path=None) -> dict[str, dict]:
    """Run setup + `body` in a fresh Python; the RESULT lines it printed, by label."""
    script = SETUP.format(
        runtime=str(KERNEL_PACKAGE_DIR.parent), preload=preload
    ) + textwrap.dedent(body)
    env = {
        "PATH": "/usr/bin:/bin",
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONHASHSEED": "0",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [
        line.removeprefix("RESULT ")
        for line in done.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    return {result["label"]: result for result in map(json.loads, lines)}


@pytest.fixture(scope="module")
def warm_kernel(tmp_path_factory):
    return run(HONEST + REQUIRED, preload=HEAVY_IMPORTS, tmp_path=tmp_path_factory.mktemp("warm"))


@pytest.fixture(scope="module")
def cold_kernel(tmp_path_factory):
    after = "tf.keras.Model.predict = Wrapper.predict = fake\nreport('patched after import')\n"
    body = (
        HONEST + "from grader_kernel.keras_classifier import KerasClassifier as Wrapper\n" + after
    )
    return run(body, tmp_path=tmp_path_factory.mktemp("cold"))


def test_honest_notebook_on_a_warm_kernel_flags_nothing(warm_kernel):
    honest = warm_kernel["honest"]
    assert honest["keras"] == "tf_keras.src.engine.training"  # legacy mode: tf.keras is tf_keras
    assert honest["readers_patched"]
    assert honest["rebound"] == []
    print(f"\nrebound() with TensorFlow loaded: {warm_kernel['required']['seconds']:.3f} s")


def test_honest_notebook_importing_everything_after_setup_flags_nothing(cold_kernel):
    assert cold_kernel["honest"]["readers_patched"]
    assert cold_kernel["honest"]["rebound"] == []


def test_required_rebindings_are_named(warm_kernel):
    required = warm_kernel["required"]
    assert {"feature_values", "value_of"} <= set(required["probes"])
    probes = {f"grader_kernel.extract.{name}" for name in required["probes"]}
    assert required["rebound"] == sorted(LIBRARY_PATCHES | probes)


def test_modules_first_imported_after_setup_are_watched(cold_kernel):
    assert cold_kernel["patched after import"]["rebound"] == [
        "grader_kernel.keras_classifier.KerasClassifier.predict",
        "tf_keras.src.engine.training.Model.predict",
    ]


CONSOLE = """
import builtins
class Console:
    def ask(self, prompt=""):
        return ""
console = Console()
builtins.input = console.ask
"""

WEIRD = """
class Weird:
    __hash__ = None
    def __getattribute__(self, name):
        raise RuntimeError(name)
    def __eq__(self, other):
        raise RuntimeError("eq")
    def __call__(self, *args):
        raise RuntimeError("call")
class Meta(type):
    def __getattribute__(cls, name):
        raise RuntimeError(name)
"""

# The report itself needs the builtins back.
BUILTINS = "import builtins\nsaved = dict(vars(builtins))"


@pytest.mark.parametrize(
    "preload, patch, expected",
    [
        (
            "",
            "import sklearn.neighbors; sklearn.neighbors.KNeighborsClassifier.predict = fake",
            ["sklearn.neighbors._classification.KNeighborsClassifier.predict"],
        ),
        (
            "",
            "sklearn.base.clone.__code__ = fake.__code__",
            ["sklearn.base.clone", "sklearn.clone"],
        ),
        ("", "pd.DataFrame.shape.__init__(fake)", ["pandas.DataFrame.shape"]),
        (
            "",
            "sys.modules['sklearn.base'] = __import__('types').ModuleType('sklearn.base')",
            ["sklearn.base"],
        ),
        # ipykernel rebinds `input` to a fresh bound method for every request: not a rebinding.
        (CONSOLE, "builtins.input = console.ask; builtins.abs = Console().ask", ["builtins.abs"]),
        ("", "del sys.modules['numpy']", []),
        (
            WEIRD,
            "np.mean = Weird(); pd.Series.__eq__ = Weird(); pd.Series.extra = Meta('X', (), {});"
            "sys.modules['numpy.extra'] = Weird()",
            ["numpy.mean", "pandas.Series.__eq__", "pandas.Series.extra"],
        ),
        (
            BUILTINS,
            "builtins.sorted = builtins.isinstance = builtins.Exception = None\n"
            "names = tamper.rebound()\nvars(builtins).update(saved)",
            ["builtins.Exception", "builtins.isinstance", "builtins.sorted"],
        ),
        # Best effort: a broken check names the module it could not check.
        ("", "tamper._same = None; np.mean = fake", ["grader_kernel.tamper", "numpy"]),
        ("", "tamper._BINDINGS = None", ["grader_kernel.tamper"]),
    ],
    ids=[
        "imported-and-patched-in-one-cell",
        "code-swapped-in-place",
        "property-reinitialised",
        "module-swapped-in-sys-modules",
        "bound-methods",
        "module-deleted",
        "weird-objects",
        "builtins-the-check-uses",
        "check-helper-broken",
        "check-state-broken",
    ],
)
def test_hostile_notebook(tmp_path, preload, patch, expected):
    body = (
        f"import numpy as np, pandas as pd, sklearn.base\nreport('before')\nnames = None\n{patch}\n"
        "report('after', names)\n"
    )
    results = run(body, preload=preload, tmp_path=tmp_path)
    assert results["before"]["rebound"] == []
    assert results["after"]["rebound"] == expected
