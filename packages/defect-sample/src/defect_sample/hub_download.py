"""Fetching a base model's pipeline folder from the model hub, or from the local hub cache.

The folder is fetched first and loaded second (:func:`defect_sample.model_loading.load_base_model`), so that
every hub failure becomes one :class:`~defect_sample.hub_errors.HubModelError`, and the hub's commit hash is
known: the hub cache keeps a snapshot per commit, ``.../models--<owner>--<name>/snapshots/<commit>/``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from defect_sample.hub_errors import hub_failure
from defect_sample.quiet_loading import library_progress_bars_off

logger = logging.getLogger(__name__)

# diffusers' download logs "Couldn't connect to the Hub: <404 text>. Will try to load from local cache." before
# failing; the HubModelError that follows says the same in one line, with what to do
_DIFFUSERS_DOWNLOAD_LOGGER = "diffusers.pipelines.pipeline_utils"


@dataclass(frozen=True)
class HubSnapshot:
    """A hub repository's pipeline folder in the local cache, and the commit it holds (when the path says)."""

    folder: Path
    commit: str | None


def snapshot_commit(folder: Path) -> str | None:
    """The commit hash of a hub-cache snapshot folder (``.../snapshots/<40 hex digits>``), else ``None``."""
    folder = Path(folder)
    if folder.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", folder.name):
        return folder.name
    return None


@contextmanager
def _errors_only(name: str) -> Iterator[None]:
    log = logging.getLogger(name)
    before = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(before)


def fetch_pipeline_folder(
    hub_id: str,
    *,
    revision: str | None = None,
    local_files_only: bool | None = None,
    progress: bool = True,
    asked_for: str | None = None,
) -> HubSnapshot:
    """Download (or find in the hub cache) the files of an inpainting pipeline on the hub.

    Only the files diffusers loads are fetched (safetensors weights, configs, tokenizer). With
    ``HF_HUB_OFFLINE=1`` the cache alone is asked. ``progress`` shows huggingface_hub's download bars. Any
    failure raises :class:`~defect_sample.hub_errors.HubModelError` (one line: id, cause, what to do);
    ``asked_for`` is the removed id that ``hub_id`` mirrors, for that message.
    """
    from diffusers import StableDiffusionInpaintPipeline
    from huggingface_hub import constants

    kwargs: dict[str, object] = {"revision": revision}
    if local_files_only is None and constants.HF_HUB_OFFLINE:
        # asking the hub first would only log "offline mode is enabled" and then read the cache anyway
        local_files_only = True
    if local_files_only is not None:
        kwargs["local_files_only"] = local_files_only
    try:
        with (
            nullcontext() if progress else library_progress_bars_off(),
            _errors_only(_DIFFUSERS_DOWNLOAD_LOGGER),
        ):
            folder = Path(StableDiffusionInpaintPipeline.download(hub_id, **kwargs))
    except (TypeError, AttributeError, NameError, ImportError):
        raise  # a programming error, not the hub's answer
    except Exception as exc:
        raise hub_failure(hub_id, exc, revision=revision, asked_for=asked_for) from exc
    snapshot = HubSnapshot(folder, snapshot_commit(folder))
    logger.debug("%s: hub snapshot %s (commit %s)", hub_id, snapshot.folder, snapshot.commit)
    return snapshot
