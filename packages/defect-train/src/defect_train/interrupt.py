"""Ctrl-C during training: the first one lets the step finish and a checkpoint be written, a second aborts.

Shared by the concept trainer and the base-model stages: the loop polls the flag after each step, writes a
checkpoint and raises :class:`TrainingInterrupted`, whose message says how to continue.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C: a checkpoint was written, ``resume`` continues from it."""


@contextmanager
def interrupt_flag() -> Iterator[dict[str, bool]]:
    """Yield ``{"stop": False}``; the first SIGINT sets ``stop`` (the loop checkpoints and stops), a second
    one raises ``KeyboardInterrupt`` at once. Outside the main thread no handler can be installed and
    Ctrl-C behaves as usual. The previous handler is restored on exit."""
    flag = {"stop": False}
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag["stop"]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag["stop"] = True
        logger.warning("interrupt: finishing this step and writing a checkpoint (Ctrl-C again to abort)")

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
