"""The package graph of DESIGN.md §2, read from the sources with ``ast``: every import between the five packages
follows an arrow of the picture, no package imports another's private modules or names, each shared helper
is defined once, and the lazy export tables agree with their ``TYPE_CHECKING`` blocks.

The checker is tested too: a source tree with deliberately wrong imports must produce exactly the expected
violations (a checker that finds nothing would pass the real tree vacuously).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"

#: DESIGN.md §2: package -> the packages it may import (solid arrows)
ALLOWED: dict[str, set[str]] = {
    "defect_core": set(),
    "defect_sample": {"defect_core"},
    "defect_train": {"defect_core", "defect_sample"},
    "defect_metrics": {"defect_core"},
    "defect_inspect": {"defect_core", "defect_metrics"},
}
#: dashed arrows of optional extras: (package, first module name) -> the further packages the modules named so
#: (or ``<name>_*``, or inside a subpackage of that name) may import. defect-inspect[experiment] runs
#: train -> sample -> inspect -> metrics; defect-sample[review] shows the KID of the accepted set.
EXTRAS: dict[tuple[str, str], set[str]] = {
    ("defect_inspect", "experiment"): {"defect_train", "defect_sample"},
    ("defect_sample", "review"): {"defect_metrics"},
}
_MODULE_STRING = re.compile(r"^(defect_(?:core|sample|train|metrics|inspect))(\.[A-Za-z_]\w*)*$")


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _source_files(packages_dir: Path) -> Iterator[tuple[str, str, Path]]:
    """(package, module path inside it, file) for every module under ``packages_dir/*/src/<package>``."""
    for path in sorted(packages_dir.glob("*/src/*/**/*.py")):
        src = next(p for p in path.parents if p.name == "src")
        parts = path.relative_to(src).with_suffix("").parts
        package, inner = parts[0], [p for p in parts[1:] if p != "__init__"]
        yield package, ".".join(inner), path


def _imports(tree: ast.AST, package: str, module: str, is_init: bool) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, imported names, line) of every import statement, relative ones resolved, and of every
    call with a package's module name as a string argument (``importlib.import_module("defect_metrics")``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = [package, *module.split(".")] if module else [package]
                keep = len(base) - node.level + (1 if is_init else 0)
                target = ".".join(base[:keep] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Call):
            for arg in node.args[:1]:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and _MODULE_STRING.match(arg.value)
                ):
                    yield arg.value, [], node.lineno


def arrow_violations(packages_dir: Path) -> list[str]:
    """Every import that DESIGN.md §2 does not allow, as ``file:line: what``."""
    problems = []
    for package, module, path in _source_files(packages_dir):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        allowed = set(ALLOWED.get(package, set()))
        first = module.split(".")[0]
        for (owner, prefix), extra in EXTRAS.items():
            # experiment.py, experiment_report.py, and the experiment/ subpackage they may become
            if owner == package and (first == prefix or first.startswith(prefix + "_")):
                allowed |= extra
        where = f"{path.relative_to(packages_dir).as_posix()}"
        for target, names, line in _imports(tree, package, module, path.name == "__init__.py"):
            top = target.split(".")[0]
            if top not in ALLOWED or top == package:
                continue
            if top not in allowed:
                problems.append(f"{where}:{line}: {package} imports {target} (no such arrow in DESIGN.md §2)")
            private = [p for p in target.split(".")[1:] if _is_private(p)] + [
                n for n in names if _is_private(n)
            ]
            if private:
                problems.append(f"{where}:{line}: imports private {', '.join(private)} of {target}")
    return problems


def test_every_import_follows_an_arrow_of_the_design() -> None:
    files = list(_source_files(PACKAGES))
    assert {package for package, _, _ in files} == set(ALLOWED)  # the walk saw all five packages
    assert len(files) > 100
    assert arrow_violations(PACKAGES) == []


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_the_checker_finds_wrong_arrows_and_private_imports(tmp_path: Path) -> None:
    _write(tmp_path, "defect-core/src/defect_core/__init__.py", "")
    _write(
        tmp_path,
        "defect-core/src/defect_core/bad.py",
        """\
        import numpy
        import defect_sample
        from . import errors
        """,
    )
    _write(
        tmp_path,
        "defect-metrics/src/defect_metrics/ok.py",
        """\
        from defect_core.configs import require
        from defect_core.errors import MissingWeightsError
        """,
    )
    _write(
        tmp_path,
        "defect-metrics/src/defect_metrics/wrong.py",
        """\
        import importlib
        from defect_sample.conditioning import unet_input
        from defect_core._private import helper
        from defect_core.configs import _path_kind
        def load():
            return importlib.import_module("defect_train.trainer")
        """,
    )
    _write(tmp_path, "defect-inspect/src/defect_inspect/data/real.py", "import defect_train\n")
    _write(
        tmp_path,
        "defect-inspect/src/defect_inspect/experiment/protocol.py",
        """\
        import defect_sample
        import defect_train
        from defect_metrics import kid
        """,
    )
    _write(
        tmp_path,
        "defect-inspect/src/defect_inspect/experiment/report.py",
        "from defect_sample import working_size\n",
    )
    _write(
        tmp_path,
        "defect-sample/src/defect_sample/review/feedback.py",
        """\
        def kid():
            return _require("defect_metrics", "the KID panel")
        """,
    )
    _write(
        tmp_path,
        "defect-sample/src/defect_sample/review/__init__.py",
        "from ..conditioning import unet_input\n",
    )
    _write(tmp_path, "defect-sample/src/defect_sample/generate.py", "from defect_metrics import kid\n")
    _write(tmp_path, "defect-sample/src/defect_sample/reviewer.py", "import defect_metrics\n")
    _write(
        tmp_path,
        "defect-train/src/defect_train/trainer.py",
        """\
        from defect_sample.devices import resolve_device
        from defect_sample.__main__ import main
        from defect_inspect import evaluate
        """,
    )

    found = arrow_violations(tmp_path)
    expected = [
        "defect-core/src/defect_core/bad.py:2: defect_core imports defect_sample (no such arrow in DESIGN.md §2)",
        "defect-inspect/src/defect_inspect/data/real.py:1: defect_inspect imports defect_train (no such arrow in "
        "DESIGN.md §2)",
        "defect-metrics/src/defect_metrics/wrong.py:2: defect_metrics imports defect_sample.conditioning (no such "
        "arrow in DESIGN.md §2)",
        "defect-metrics/src/defect_metrics/wrong.py:3: imports private _private of defect_core._private",
        "defect-metrics/src/defect_metrics/wrong.py:4: imports private _path_kind of defect_core.configs",
        "defect-metrics/src/defect_metrics/wrong.py:6: defect_metrics imports defect_train.trainer (no such arrow "
        "in DESIGN.md §2)",
        "defect-sample/src/defect_sample/generate.py:1: defect_sample imports defect_metrics (no such arrow in "
        "DESIGN.md §2)",
        "defect-sample/src/defect_sample/reviewer.py:1: defect_sample imports defect_metrics (no such arrow in "
        "DESIGN.md §2)",
        "defect-train/src/defect_train/trainer.py:3: defect_train imports defect_inspect (no such arrow in "
        "DESIGN.md §2)",
    ]
    assert sorted(found) == sorted(expected)


def test_relative_imports_resolve_inside_their_own_package() -> None:
    tree = ast.parse("from . import errors\nfrom ..conditioning import unet_input\nfrom .x import y\n")
    got = [t for t, _, _ in _imports(tree, "defect_sample", "review.feedback", is_init=False)]
    assert got == ["defect_sample.review", "defect_sample.conditioning", "defect_sample.review.x"]
    got = [t for t, _, _ in _imports(tree, "defect_sample", "review", is_init=True)]
    assert got == ["defect_sample.review", "defect_sample.conditioning", "defect_sample.review.x"]


# -- one home for each shared idea ----------------------------------------------------------------------

#: helper -> how many top-level definitions the packages hold (issue 12: config helpers, errors, weight
#: files, devices; one device picker per torch package family: defect-sample's and defect-metrics')
ONE_HOME = {
    "config_field": 1,
    "require": 1,
    "coerce_paths": 1,
    "parse_config": 1,
    "NonFiniteLossError": 1,
    "MissingWeightsError": 1,
    "torch_hub_checkpoints_dir": 1,
    "torch_hub_file": 1,
    "clean_fid_cache_dir": 1,
    "inception_weights_path": 1,
    "lpips_backbone_path": 1,
    "load_lpips_trunk": 1,
    "choose_device": 1,
    "resolve_device": 2,
    # the names the copies had: none may come back
    "_f": 0,
    "need": 0,
    "_need": 0,
    "bad": 0,
    "_device_for_rank": 0,
    "LpipsWeightsError": 0,
    "torch_hub_checkpoint_dir": 0,
    "load_trunk_weights": 0,
}


def test_each_shared_helper_is_defined_once() -> None:
    counts = dict.fromkeys(ONE_HOME, 0)
    where: dict[str, list[str]] = {name: [] for name in ONE_HOME}
    for _, _, path in _source_files(PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in counts:
                counts[node.name] += 1
                where[node.name].append(path.relative_to(PACKAGES).as_posix())
    assert counts == ONE_HOME, where


@pytest.mark.parametrize("package", ["defect_sample", "defect_metrics", "defect_inspect"])
def test_lazy_export_table_and_type_checking_block_agree(package: str) -> None:
    init = next(PACKAGES.glob(f"*/src/{package}/__init__.py"))
    tree = ast.parse(init.read_text(encoding="utf-8"))
    exports = None
    typed: dict[str, str] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS":
            exports = ast.literal_eval(node.value)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                typed.update({alias.name: stmt.module for alias in stmt.names})
    assert exports, f"{init} has no _EXPORTS table"
    assert typed == {name: f"{package}.{module}" for name, module in exports.items()}
