"""Exceptions that name the file and the problem, so that a user can fix their input."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DefectfillError(Exception):
    """Base class of every error that defectfill raises on purpose."""


class InputFileError(DefectfillError, ValueError):
    """One input file is unusable: ``path`` says which, ``problem`` says why."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DatasetError(DefectfillError, ValueError):
    """A dataset has one or more bad files; every problem is listed, not only the first."""

    def __init__(self, root: str | Path, problems: Sequence[InputFileError]) -> None:
        self.root = Path(root)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"dataset at {self.root} has {len(self.problems)} problem(s):\n{lines}")


class ConceptFileError(InputFileError):
    """A concept file cannot be read or does not fit the requested use."""


class GeneratorFolderError(InputFileError):
    """A Defect-Gen generator folder is incomplete, corrupt, holds pickled weights, or disagrees with its card."""


class NonFiniteLossError(DefectfillError, RuntimeError):
    """A training loss became NaN or infinite; the message says where (step or epoch) and what was kept."""


class MissingWeightsError(DefectfillError, FileNotFoundError):
    """A pretrained weight file is not on disk (and was not, or could not be, downloaded).

    The message names the weights (``what``), the file (``path``: where it was looked for and where it goes;
    ``None`` when no file exists at all), where to get it (``source``: an address or a command), why it is
    missing (``reason``), the other places searched, and ``way_out``: what the user can do instead.
    """

    def __init__(
        self,
        what: str,
        path: str | Path | None,
        source: str,
        *,
        reason: str | None = None,
        searched: Sequence[str | Path] = (),
        way_out: str = "pass its path explicitly",
    ) -> None:
        self.what = what
        self.path = Path(path) if path is not None else None
        self.source = source
        self.reason = reason
        why = f" ({reason})" if reason else ""
        if self.path is None:
            super().__init__(f"{what} weights: none exist{why}; {way_out}.")
            return
        others = [str(p) for p in searched if Path(p) != self.path]
        also = f" (also looked in: {', '.join(others)})" if others else ""
        super().__init__(
            f"{what} weights not found: {self.path}{also}{why}. Get {source} on a machine with "
            f"network access and save it as {self.path}, or {way_out}."
        )
