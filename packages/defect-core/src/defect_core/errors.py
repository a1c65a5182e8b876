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
