"""Known anatomy names -> tissue type, critical flag and default colour.

The table is data (``data/anatomy_names.json``), not code: add a synonym there, not an ``if`` here.
A structure made by a seed, a preset or an imported label map gets its defaults from its name;
the label map's :meth:`~surgiplan.segmentation.labelmap.LabelMap.update` edits them afterwards.

Example
-------
>>> from surgiplan.segmentation.anatomy import structure_info
>>> structure_info("Iliac artery left", 4).critical
True
>>> structure_info("kidney_right").tissue
'kidney'
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from surgiplan.errors import InputError
from surgiplan.io.json_data import read_json
from surgiplan.paths import data_file
from surgiplan.segmentation.labelmap import StructureInfo

ANATOMY_TABLE = "anatomy_names.json"
UNKNOWN_TISSUE = "soft_tissue"
# Distinct, readable colours for structures whose name the table does not know.
PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.90, 0.60, 0.00), (0.35, 0.70, 0.90), (0.00, 0.60, 0.50), (0.95, 0.90, 0.25),
    (0.00, 0.45, 0.70), (0.80, 0.40, 0.00), (0.80, 0.60, 0.70), (0.55, 0.35, 0.65),
    (0.40, 0.75, 0.40), (0.65, 0.50, 0.35), (0.95, 0.50, 0.55), (0.50, 0.50, 0.85),
)


@dataclass(frozen=True)
class AnatomyEntry:
    """One row of the anatomy table.

    Attributes
    ----------
    name : str
        Canonical normalised name, e.g. ``"vena_cava"``.
    tissue : str
        Tissue type, e.g. ``"vessel"``.
    critical : bool
        Whether instruments must keep away from it.
    colour : tuple of float
        Default display RGB in 0..1.
    """

    name: str
    tissue: str
    critical: bool
    colour: tuple[float, float, float]


def normalise_name(name: str) -> str:
    """Lowercase ``name`` and join its words with single underscores.

    >>> normalise_name("  Inferior Vena-Cava ")
    'inferior_vena_cava'
    """
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


@lru_cache(maxsize=4)
def _load_table(path: Path) -> dict[str, AnatomyEntry]:
    data = read_json(path, "anatomy table")
    table: dict[str, AnatomyEntry] = {}
    for row in data["entries"]:
        entry = AnatomyEntry(row["name"], row["tissue"], bool(row["critical"]),
                             tuple(float(c) for c in row["colour"]))
        for spelling in (row["name"], *row.get("synonyms", ())):
            table[normalise_name(spelling)] = entry
    return table


def anatomy_table(path: Path | None = None) -> dict[str, AnatomyEntry]:
    """Every known normalised spelling (names and synonyms) -> its :class:`AnatomyEntry`."""
    return _load_table(Path(path) if path is not None else data_file(ANATOMY_TABLE))


def _best_token_match(words: list[str], table: dict[str, AnatomyEntry]) -> AnatomyEntry | None:
    """The entry whose words occur consecutively in ``words``: most words, then ending last."""
    best: tuple[int, int] | None = None
    found = None
    for start in range(len(words)):
        for stop in range(start + 1, len(words) + 1):
            entry = table.get("_".join(words[start:stop]))
            rank = (stop - start, stop)
            if entry is not None and (best is None or rank > best):
                best, found = rank, entry
    return found


def match_anatomy(name: str, *, table_path: Path | None = None) -> AnatomyEntry | None:
    """The table entry that ``name`` refers to, or ``None`` when the name is not known.

    Matching is by normalised name first, then by its words: ``"iliac_artery_left"`` matches
    ``artery``, ``"kidney_cyst_left"`` matches ``cyst`` (the longest match, then the one ending
    last: the head noun of English compound names).
    """
    table = anatomy_table(table_path)
    key = normalise_name(name)
    if key in table:
        return table[key]
    words = [w for w in key.split("_") if w]
    return _best_token_match(words, table)


def palette_colour(name: str, label: int = 0) -> tuple[float, float, float]:
    """A palette colour: by label when given (neighbouring labels differ), else by name."""
    index = label - 1 if label > 0 else zlib.crc32(normalise_name(name).encode())
    return PALETTE[index % len(PALETTE)]


def structure_info(name: str, label: int = 0, *,
                   colour: tuple[float, float, float] | None = None) -> StructureInfo:
    """Table entry for a new structure, defaults taken from its name.

    Parameters
    ----------
    name : str
        The structure's name as the user or the file gave it (kept as is in the result).
    label : int
        Voxel value in the label map; 0 lets :meth:`LabelMap.add` choose one.
    colour : (3,) float tuple, optional
        Display RGB in 0..1 overriding the table's default.

    Returns
    -------
    StructureInfo
        Known names: the table's tissue, critical flag and colour. Unknown names: tissue
        ``"soft_tissue"``, not critical, a palette colour.
    """
    if not name or not name.strip():
        raise InputError("a structure needs a name: type one (e.g. 'liver' or 'tumour')")
    entry = match_anatomy(name)
    if entry is None:
        chosen = colour if colour is not None else palette_colour(name, label)
        return StructureInfo(label, name, tuple(float(c) for c in chosen), UNKNOWN_TISSUE, False)
    chosen = colour if colour is not None else entry.colour
    return StructureInfo(label, name, tuple(float(c) for c in chosen), entry.tissue,
                         entry.critical)
