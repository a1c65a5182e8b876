"""defect-core installs without torch (DESIGN.md §2): importing any of it must not import torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Heavy packages that defect_core must not import at module level (house rules); demo.py may import
# scikit-image lazily inside its functions, so it is left out of the import sweep.
FORBIDDEN = ("torch", "scipy", "skimage")

PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import defect_core
    names = sorted(m.name for m in pkgutil.walk_packages(defect_core.__path__, "defect_core."))
    imported = []
    for name in names:
        if name == "defect_core.builtin.demo":
            continue
        importlib.import_module(name)
        imported.append(name)
    print(json.dumps({"imported": imported, "forbidden": sorted(m for m in %r if m in sys.modules)}))
    """
)


def test_defect_core_does_not_import_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (FORBIDDEN,)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # the sweep really covered the package (a broken walk must not pass vacuously)
    for name in (
        "defect_core.concept_file",
        "defect_core.configs",
        "defect_core.manifest",
        "defect_core.output_layout",
        "defect_core.masks",
        "defect_core.datasets.mvtec",
    ):
        assert name in report["imported"]
    assert report["forbidden"] == []
