"""The review app (``defect-sample review``, the ``review`` extra): an expert draws the region, describes the
defect, generates candidates and accepts or rejects each; accepted ones are written as ``defect-sample``
writes its items, every decision is appended to ``review.jsonl``.

- :class:`ReviewConfig`: the settings (the command's flags);
- :class:`ReviewSession`, :class:`GenerationRequest`: the app without its page (the Python API);
- :class:`ReviewRecord`, :class:`GenerationInfo`, :class:`ReviewLog`: what is recorded;
- :func:`build_review_app`, :func:`launch_review_app`: the Gradio page and its server.

Importing this package imports neither Gradio nor torch.
"""

from defect_core.lazy_exports import lazy_exports

_EXPORTS = {
    "ReviewConfig": "config",
    "ReviewSession": "session",
    "GenerationRequest": "session",
    "Generation": "session",
    "ReviewRecord": "records",
    "GenerationInfo": "records",
    "ReviewLog": "review_log",
    "build_review_app": "app",
    "launch_review_app": "app",
    "MissingExtraError": "extras",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, list(_EXPORTS))

__all__ = list(_EXPORTS)
