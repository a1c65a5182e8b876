"""Every dataset kind a command accepts, and opening a dataset by its kind: :func:`open_dataset`.

Two families share one list of names, :data:`DATASET_KINDS`:

- reader kinds (``defect-spectrum``, ``folder``, ``ksdd2``, ``mvtec``, ``visa``): a dataset folder on disk,
  ``root``;
- built-in datasets (``demo``, ``surface-strips``, :mod:`defect_core.builtin.datasets`): written by the code
  into the cache on first use, in MVTec AD layout, so they take no root (they need ``defect-core[demo]``).

A ``folder`` dataset names neither its object nor its one defect category; the caller names both, as
:class:`~defect_core.datasets.folder.FolderReader` takes them. The other kinds name their own, so a command
passes the names it has and the same call opens every kind.
"""

from __future__ import annotations

import logging
from pathlib import Path

from defect_core.builtin.datasets import BUILTIN_DATASETS, builtin_dataset_root, is_builtin_dataset
from defect_core.configs import require

# the reader modules register their kinds on import; DATASET_KINDS below lists what they registered
from defect_core.datasets import defect_spectrum, folder, ksdd2, mvtec, visa  # noqa: F401
from defect_core.datasets.base import DatasetReader, available_readers, create_reader, official_test_kinds

logger = logging.getLogger(__name__)

UNNAMED_KINDS = ("folder",)
"""Kinds whose folder does not name its object and defect: the caller's ``object_name`` / ``defect_name``."""

NORMALS_ROOT_KINDS = ("defect-spectrum",)
"""Kinds whose dataset ships no defect-free images: ``normals_root`` names the folder that has them."""

DATASET_KINDS: tuple[str, ...] = (*BUILTIN_DATASETS, *available_readers())
"""Every kind :func:`open_dataset` opens and every command accepts: built-in datasets, then readers."""


def require_dataset_choice(config: object, root_field: str = "dataset_root") -> None:
    """Validate a config's ``dataset`` (one of :data:`DATASET_KINDS`) and its root (needed unless built in);
    raise ``ValueError`` naming the field, as every config's checks do."""
    kind, root = config.dataset, getattr(config, root_field)
    require(config, kind in DATASET_KINDS, "dataset", f"must be one of {', '.join(DATASET_KINDS)}")
    flag = "--" + root_field.replace("_", "-")
    require(
        config, is_builtin_dataset(kind) or root is not None, root_field, f"dataset {kind!r} needs {flag} DIR"
    )


def has_official_test_split(kind: str | None) -> bool:
    """True when datasets of ``kind`` ship an official test split of defect images (KSDD2's ``test/``), which
    ``--test-split test`` selects; the built-in datasets and MVTec-style layouts do not."""
    return kind in official_test_kinds()


def require_test_split(
    config: object, split_field: str = "test_split", dataset_field: str = "dataset"
) -> None:
    """A config's ``test`` split needs a dataset with an official test split: ``ValueError`` naming the field
    and the kinds that have one, as every config's checks do."""
    kind = getattr(config, dataset_field)
    require(
        config,
        getattr(config, split_field) != "test" or has_official_test_split(kind),
        split_field,
        f"'test' is the official test split of a dataset that ships one ({', '.join(official_test_kinds())}); "
        f"dataset {kind!r} does not: use held_out (its defects split by the DefectFill rule)",
    )


def open_dataset(
    kind: str,
    root: str | Path | None = None,
    *,
    object_name: str | None = None,
    defect_name: str | None = None,
    normals_root: str | Path | None = None,
    **options: object,
) -> DatasetReader:
    """The reader of the dataset of ``kind`` (one of :data:`DATASET_KINDS`).

    ``root`` is the dataset folder; a built-in dataset has its own (written on first use, read as ``mvtec``)
    and ignores a given one with a warning. ``object_name`` and ``defect_name`` name the object and the
    defect category of a ``folder`` dataset, which needs both; the other kinds name their own and do not
    use them. ``normals_root`` is where the defect-free images of a dataset that ships none are
    (:data:`NORMALS_ROOT_KINDS`: the original MVTec AD folder for ``defect-spectrum``); any other kind refuses
    it. ``options`` go to the reader's constructor (``mask_threshold`` and ``cache_dir`` of ``folder``,
    ``split_file`` of ``visa``, ``defect_split`` of ``ksdd2``, ``captions`` of ``defect-spectrum``). Raises ``ValueError`` for an unknown kind
    (listing the kinds), a missing root or a missing name, and
    :class:`~defect_core.errors.InputFileError` for a root that is not a folder.
    """
    if normals_root is not None:
        if kind not in NORMALS_ROOT_KINDS:
            raise ValueError(
                f"normals_root (--normals-root) is for datasets that ship no defect-free images "
                f"({', '.join(NORMALS_ROOT_KINDS)}); dataset {kind!r} has its own"
            )
        options = {**options, "normals_root": normals_root}
    if is_builtin_dataset(kind):
        if options:
            raise ValueError(f"built-in dataset {kind!r} takes no reader options, got {sorted(options)}")
        if root is not None:
            logger.warning("dataset %r is built in: ignoring the dataset root %s", kind, root)
        return create_reader("mvtec", builtin_dataset_root(kind))
    if kind not in available_readers():
        raise ValueError(f"unknown dataset kind {kind!r}; available: {', '.join(DATASET_KINDS)}")
    if root is None:
        raise ValueError(f"dataset {kind!r} needs its root folder")
    if kind in UNNAMED_KINDS:
        missing = [
            name for name, value in (("object_name", object_name), ("defect_name", defect_name)) if not value
        ]
        if missing:
            raise ValueError(
                f"a {kind!r} dataset does not name its object and defect: give "
                f"{' and '.join(missing)} ({root})"
            )
        options = {"object_name": object_name, "defect_name": defect_name, **options}
    return create_reader(kind, root, **options)
