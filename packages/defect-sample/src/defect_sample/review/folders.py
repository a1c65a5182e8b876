"""The folders the review app was started with: it reads only inside them and writes only inside ``--out``.

Paths are resolved (``..`` and symbolic links followed) before the check, so neither a name such as
``../../etc/passwd`` nor a link inside an allowed folder that points outside it gets through.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from defect_core.errors import InputFileError


class PathOutsideError(InputFileError):
    """A path lies outside the folders the app may use."""


class AllowedFolders:
    """Folders (or single files) the app may read, and the one folder it may write."""

    def __init__(self, read: Iterable[Path | None], write: Path) -> None:
        self.write_root = Path(write).expanduser().resolve()
        self.read_roots = [self.write_root] + [Path(p).expanduser().resolve() for p in read if p is not None]

    @staticmethod
    def _inside(path: Path, root: Path) -> bool:
        return path == root or path.is_relative_to(root)

    def readable(self, path: str | Path) -> Path:
        """``path`` resolved; :class:`PathOutsideError` unless it lies in a folder the app may read."""
        resolved = Path(path).expanduser().resolve()
        if not any(self._inside(resolved, root) for root in self.read_roots):
            raise PathOutsideError(path, "is outside the folders this app was started with (refused)")
        return resolved

    def writable(self, path: str | Path) -> Path:
        """``path`` resolved; :class:`PathOutsideError` unless it lies in the output folder."""
        resolved = Path(path).expanduser().resolve()
        if not self._inside(resolved, self.write_root):
            raise PathOutsideError(path, f"is outside the output folder {self.write_root} (refused)")
        return resolved
