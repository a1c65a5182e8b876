"""Defect Spectrum's published class ids of DS-MVTec, per object.

Source: ``DS-MVTec/DS-MVTec.md`` of the dataset as published on the Hugging Face hub
(``DefectSpectrum/Defect_Spectrum``, commit c3525c6), whose ``defects_dict`` gives every object's
``{defect name: id}``; 0 is the background. The tables are copied as published, including what differs from
MVTec AD's own categories: the ids are not in sorted name order (capsule: crack 1, poke 2, faulty_imprint 3),
cable lists ``combined`` as a class, pill lists no ``combined`` but has ``pill_type``, toothbrush's one MVTec
category ``defective`` is split into contamination / missing / messy, wood has a ``crack``, metal_nut has no
``flip`` and zipper no ``rough``.

A ``classes.json`` in an object's folder replaces the object's table
(:mod:`defect_core.datasets.classes_file`).
"""

from __future__ import annotations

from defect_core.class_labels import validate_class_table

# {object: {id: name}} — written as the published {name: id} and turned round below, so that this table
# reads line by line against DS-MVTec.md
_PUBLISHED_DS_MVTEC: dict[str, dict[str, int]] = {
    "bottle": {"broken_large": 1, "broken_small": 2, "contamination": 3},
    "cable": {
        "bent_wire": 1,
        "cable_swap": 2,
        "combined": 3,
        "cut_inner_insulation": 4,
        "cut_outer_insulation": 5,
        "missing_cable": 6,
        "missing_wire": 7,
        "poke_insulation": 8,
    },
    "capsule": {"crack": 1, "poke": 2, "faulty_imprint": 3, "scratch": 4, "squeeze": 5},
    "carpet": {"color": 1, "cut": 2, "hole": 3, "metal_contamination": 4, "thread": 5},
    "grid": {"bent": 1, "broken": 2, "glue": 3, "metal_contamination": 4, "thread": 5},
    "hazelnut": {"cut": 1, "crack": 2, "hole": 3, "print": 4},
    "leather": {"color": 1, "cut": 2, "fold": 3, "glue": 4, "poke": 5},
    "metal_nut": {"scratch": 1, "bent": 2, "color": 3},
    "pill": {"color": 1, "contamination": 2, "crack": 3, "faulty_imprint": 4, "scratch": 5, "pill_type": 6},
    "screw": {
        "manipulated_front": 1,
        "scratch_head": 2,
        "scratch_neck": 3,
        "thread_side": 4,
        "thread_top": 5,
    },
    "tile": {"crack": 1, "glue_strip": 2, "gray_stroke": 3, "oil": 4, "rough": 5},
    "toothbrush": {"contamination": 1, "missing": 2, "messy": 3},
    "transistor": {"bent_lead": 1, "cut_lead": 2, "damaged_case": 3, "misplaced": 4},
    "wood": {"color": 1, "crack": 2, "scratch": 3, "hole": 4, "liquid": 5},
    "zipper": {
        "broken_teeth": 1,
        "fabric_border": 2,
        "fabric_interior": 3,
        "split_teeth": 4,
        "squeezed_teeth": 5,
    },
}

DS_MVTEC_CLASSES: dict[str, dict[int, str]] = {
    name: validate_class_table({i: defect for defect, i in table.items()}, f"DS-MVTec {name}")
    for name, table in _PUBLISHED_DS_MVTEC.items()
}
"""``{object: {id: defect name}}`` of all 15 DS-MVTec objects, as published in DS-MVTec.md."""


def builtin_class_table(object_name: str) -> dict[int, str] | None:
    """The published class table of a DS-MVTec object (a copy), or ``None`` for an object it does not list."""
    table = DS_MVTEC_CLASSES.get(object_name)
    return dict(table) if table is not None else None
