"""defect_core: the typed contracts and file formats that every defectfill package shares (no torch).

At the top, the contracts and formats: ``defect_example`` / ``concept_card`` / ``sample_record``,
``class_labels`` (class-index label images, class tables, the palette), ``concept_file`` (LoRA tensors + card in one safetensors),
``generator_card`` (the card of a Defect-Gen generator folder), ``manifest`` / ``output_layout`` (the generation
output folder), ``configs`` (dataclass ⇄ TOML ⇄ CLI, and the field / validation / path helpers every config
uses), ``errors``, ``weight_files`` (the pretrained files and their caches), ``devices`` (what ``--device``
means), ``preview`` / ``plotting`` (pictures), ``atomic``, ``images``. Subpackages: ``masks`` (binary masks and
their resampling, shapes, placement), ``datasets`` (MVTec AD, VisA, KSDD2, folder readers, ``open_dataset``,
splits), ``builtin`` (the demo and surface-strips datasets; the demo needs the ``demo`` extra).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("defect-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from defect_core.class_labels import (  # noqa: E402
    PALETTE,
    color_to_labels,
    labels_to_color,
    load_labels,
    validate_class_table,
)
from defect_core.concept_card import CONCEPT_FORMAT_VERSION, BaseModelRef, ConceptCard  # noqa: E402
from defect_core.concept_file import Concept, load_concept, read_concept_card, save_concept  # noqa: E402
from defect_core.datasets.splits import Split, select_split, split_examples  # noqa: E402
from defect_core.defect_example import DefectExample  # noqa: E402
from defect_core.errors import (  # noqa: E402
    ConceptFileError,
    DatasetError,
    DefectfillError,
    GeneratorFolderError,
    InputFileError,
    MissingWeightsError,
    NonFiniteLossError,
)
from defect_core.generator_card import (  # noqa: E402
    GENERATOR_CARD_NAME,
    GeneratorCard,
    read_generator_card,
)
from defect_core.manifest import append_record, read_manifest  # noqa: E402
from defect_core.output_layout import GenerationWriter  # noqa: E402
from defect_core.sample_record import SampleRecord  # noqa: E402

__all__ = [
    "CONCEPT_FORMAT_VERSION",
    "PALETTE",
    "BaseModelRef",
    "Concept",
    "ConceptCard",
    "ConceptFileError",
    "DatasetError",
    "DefectExample",
    "DefectfillError",
    "GENERATOR_CARD_NAME",
    "GenerationWriter",
    "GeneratorCard",
    "GeneratorFolderError",
    "InputFileError",
    "MissingWeightsError",
    "NonFiniteLossError",
    "SampleRecord",
    "Split",
    "__version__",
    "append_record",
    "color_to_labels",
    "labels_to_color",
    "load_labels",
    "load_concept",
    "read_concept_card",
    "read_generator_card",
    "read_manifest",
    "save_concept",
    "select_split",
    "split_examples",
    "validate_class_table",
]
