"""The optional dependencies of the review app, which ``pip install 'defect-sample[review]'`` installs.

Nothing in ``defect_sample`` imports them at module level: the slim install imports every module of the
package, and must neither need nor pull them in.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = (
    "pip install 'defect-sample[review]' (in this repository: uv sync, which installs the dev group)"
)


class MissingExtraError(ImportError):
    """An optional part of defect-sample is not installed; the message names the extra that installs it."""


def _require(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{what}, which the optional 'review' extra installs: {INSTALL_HINT}"
        ) from exc


def require_gradio() -> ModuleType:
    """The ``gradio`` module, or :class:`MissingExtraError` naming the ``review`` extra."""
    return _require("gradio", "defect-sample review needs gradio")


def require_metrics() -> ModuleType:
    """The ``defect_metrics`` module (the KID panel), or :class:`MissingExtraError` naming the extra."""
    return _require("defect_metrics", "the KID panel needs defect-metrics")
