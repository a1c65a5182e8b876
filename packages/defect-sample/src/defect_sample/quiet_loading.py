"""Turning off the progress bars that diffusers, transformers and huggingface_hub draw while loading.

Loading a pipeline from disk draws "Loading pipeline components" (diffusers) with a "Loading weights" bar per
transformers model inside it, and applying a concept draws another; they last a second, interleave with our
own progress bar and log, and ``--quiet`` promises none. Each library keeps one process-wide switch, so the
switches are restored afterwards: a caller who wants the bars elsewhere keeps them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def library_progress_bars_off() -> Iterator[None]:
    """Within the block, diffusers, transformers and huggingface_hub draw no progress bars."""
    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    diffusers_on = diffusers_logging.is_progress_bar_enabled()
    transformers_on = transformers_logging.is_progress_bar_enabled()
    hub_on = not hub_utils.are_progress_bars_disabled()
    with warnings.catch_warnings():
        # huggingface_hub warns when HF_HUB_DISABLE_PROGRESS_BARS overrides a switch: the user's setting wins
        warnings.filterwarnings("ignore", message="Cannot (en|dis)able progress bars")
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()  # also turns huggingface_hub's off
        hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Cannot (en|dis)able progress bars")
            if diffusers_on:
                diffusers_logging.enable_progress_bar()
            if transformers_on:
                transformers_logging.enable_progress_bar()
            if hub_on:
                hub_utils.enable_progress_bars()
            else:
                hub_utils.disable_progress_bars()
