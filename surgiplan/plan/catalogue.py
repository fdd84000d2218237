"""The instrument catalogue: real dimensions, tip geometry and analytic collision primitives.

The catalogue is data (``data/instruments.json``, documented there) that users extend with
their own files of the same schema (:func:`load_catalogue` ``extra_paths``).

Tip frame: every instrument's geometry is given with the origin at its tip (the frontmost
point) and +z along the shaft pointing from the handle toward the tip, so the shaft, hub and
handle lie along -z. A placement's pose (:attr:`InstrumentPlacement.pose_lps`) maps the tip frame
to patient LPS mm: column 2 is +z, column 3 the tip position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from surgiplan.errors import InputError
from surgiplan.io.json_data import read_json
from surgiplan.paths import data_file
from surgiplan.twin.mesh import SurfaceMesh

SCHEMA_VERSION = 1
CATEGORIES = ("needle", "blade", "probe", "trocar", "grasper", "retractor", "drill")
TIP_TYPES = ("bevel", "trocar", "blunt", "blade", "cone")
PRIMITIVE_KINDS = ("capsule", "cone", "box")


def _vector(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A finite float array of ``shape`` or :class:`InputError` naming ``what``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != shape or not np.isfinite(array).all():
        raise InputError(f"{what} must be finite numbers of shape {list(shape)}, got {value!r}")
    array.setflags(write=False)
    return array


def _positive(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and number > 0):
        raise InputError(f"{what} must be a positive number of millimetres, got {value!r}")
    return number


def rigid_transform(pose: Any, what: str = "pose") -> np.ndarray:
    """A rigid (4, 4) transform as a float array, or :class:`InputError`."""
    matrix = _vector(pose, (4, 4), what)
    rotation = matrix[:3, :3]
    if not (np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-6)
            and np.linalg.det(rotation) > 0 and np.allclose(matrix[3], (0, 0, 0, 1))):
        raise InputError(f"{what} must be a rigid 4x4 transform (rotation and translation in mm)")
    return matrix


@dataclass(frozen=True, eq=False)
class Primitive:
    """One analytic collision primitive, in the frame its parameters are given in (mm).

    Attributes
    ----------
    kind : {"capsule", "cone", "box"}
        Shape.
    params : mapping
        ``capsule``: ``radius_mm`` float, ``segment`` (2, 3) end points.
        ``cone``: ``base_radius_mm`` float, ``apex`` (3,), ``base`` (3,) centre of the base disc.
        ``box``: ``half_extents_mm`` (3,), ``centre`` (3,), ``axes`` (3, 3) rows = unit box axes.
    part : str
        What it models (``"shaft"``, ``"tip"``, ``"handle"``...).
    """

    kind: str
    params: Mapping[str, Any]
    part: str = ""

    @classmethod
    def from_json(cls, row: Mapping[str, Any], where: str) -> Primitive:
        """Parse one primitive of a catalogue file; ``where`` names it in error messages."""
        kind = row.get("kind") if isinstance(row, Mapping) else None
        if kind not in PRIMITIVE_KINDS:
            raise InputError(f"{where}: kind must be one of {', '.join(PRIMITIVE_KINDS)}, "
                             f"got {kind!r}")
        if kind == "capsule":
            params = {"radius_mm": _positive(row.get("radius_mm"), f"{where} radius_mm"),
                      "segment": _vector(row.get("segment"), (2, 3), f"{where} segment")}
        elif kind == "cone":
            params = {"base_radius_mm": _positive(row.get("base_radius_mm"),
                                                  f"{where} base_radius_mm"),
                      "apex": _vector(row.get("apex"), (3,), f"{where} apex"),
                      "base": _vector(row.get("base"), (3,), f"{where} base")}
            if np.linalg.norm(params["base"] - params["apex"]) <= 1e-9:
                raise InputError(f"{where}: the cone's apex and base coincide: give it a height")
        else:
            params = {"half_extents_mm": _vector(row.get("half_extents_mm"), (3,),
                                                 f"{where} half_extents_mm"),
                      "centre": _vector(row.get("centre"), (3,), f"{where} centre"),
                      "axes": _vector(row.get("axes", np.eye(3)), (3, 3), f"{where} axes")}
            if not (params["half_extents_mm"] > 0).all():
                raise InputError(f"{where}: half_extents_mm must all be positive")
            axes = params["axes"]
            if not np.allclose(axes @ axes.T, np.eye(3), atol=1e-6):
                raise InputError(f"{where}: box axes must be 3 orthonormal rows")
        return cls(kind, params, str(row.get("part", "")))

    def to_json(self) -> dict[str, Any]:
        """The primitive as a catalogue-file row."""
        row: dict[str, Any] = {"kind": self.kind, "part": self.part}
        for key, value in self.params.items():
            row[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return row

    def transformed(self, pose: np.ndarray) -> Primitive:
        """The primitive moved by a rigid (4, 4) ``pose`` (points rotated and translated)."""
        rotation, translation = pose[:3, :3], pose[:3, 3]
        moved: dict[str, Any] = {}
        for key, value in self.params.items():
            if key in ("segment", "apex", "base", "centre"):
                moved[key] = value @ rotation.T + translation
            elif key == "axes":
                moved[key] = value @ rotation.T
            else:
                moved[key] = value
        return Primitive(self.kind, moved, self.part)

    def mesh(self, segments: int = 24) -> trimesh.Trimesh:
        """Closed triangle mesh of the primitive (``segments`` around round shapes)."""
        p = self.params
        if self.kind == "box":
            transform = np.eye(4)
            transform[:3, :3] = p["axes"].T
            transform[:3, 3] = p["centre"]
            return trimesh.creation.box(extents=2.0 * p["half_extents_mm"], transform=transform)
        if self.kind == "capsule":
            a, b = p["segment"]
            length = float(np.linalg.norm(b - a))
            return trimesh.creation.capsule(height=length, radius=p["radius_mm"],
                                            count=[segments, segments],
                                            transform=_z_to(b - a, (a + b) / 2.0))
        apex, base = p["apex"], p["base"]
        return trimesh.creation.cone(radius=p["base_radius_mm"],
                                     height=float(np.linalg.norm(apex - base)),
                                     sections=segments, transform=_z_to(apex - base, base))


def _z_to(direction: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(4, 4) transform taking +z to ``direction`` (any length; identity if zero) at ``origin``."""
    transform = np.eye(4)
    norm = np.linalg.norm(direction)
    if norm > 1e-12:
        rotation = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], direction / norm)
        transform[:3, :3] = rotation[:3, :3]
    transform[:3, 3] = origin
    return transform


@dataclass(frozen=True)
class TipGeometry:
    """Tip shape (one of :data:`TIP_TYPES`) and its length along the axis (mm)."""

    type: str
    length_mm: float


@dataclass(frozen=True, eq=False)
class Instrument:
    """One catalogue instrument; geometry in its tip frame (see the module docstring).

    Attributes
    ----------
    id, name : str
        Catalogue key and the name a surgeon uses.
    category : str
        One of :data:`CATEGORIES`.
    laparoscopic : bool
        Pivots about its port's skin entry point.
    shaft_radius_mm : float
        Outer shaft radius (half the blade width for flat instruments), mm.
    working_length_mm : float
        Deepest insertion it reaches, mm.
    tip : TipGeometry
        Tip type and length.
    colour : (r, g, b)
        Display colour in 0..1.
    primitives : tuple of Primitive
        Analytic collision primitives in the tip frame; their union is the instrument.
    lumen_radius_mm : float or None
        Inner radius of a cannula (trocars).
    notes, source : str
        Sources and assumptions; the file it came from.
    """

    id: str
    name: str
    category: str
    laparoscopic: bool
    shaft_radius_mm: float
    working_length_mm: float
    tip: TipGeometry
    colour: tuple[float, float, float]
    primitives: tuple[Primitive, ...]
    lumen_radius_mm: float | None = None
    notes: str = ""
    source: str = ""

    @classmethod
    def from_json(cls, row: Mapping[str, Any], source: str = "") -> Instrument:
        """Parse one catalogue row; :class:`InputError` names the file, id and field."""
        if not isinstance(row, Mapping) or not isinstance(row.get("id"), str) or not row["id"]:
            raise InputError(f"{source}: every instrument needs a text 'id'")
        where = f"{source}: instrument {row['id']!r}"
        if row.get("category") not in CATEGORIES:
            raise InputError(f"{where}: category must be one of {', '.join(CATEGORIES)}")
        tip = row.get("tip") if isinstance(row.get("tip"), Mapping) else {}
        if tip.get("type") not in TIP_TYPES:
            raise InputError(f"{where}: tip.type must be one of {', '.join(TIP_TYPES)}")
        working = _positive(row.get("working_length_mm"), f"{where} working_length_mm")
        tip_length = float(_vector(tip.get("length_mm", -1.0), (), f"{where} tip.length_mm"))
        if not 0.0 <= tip_length < working:
            raise InputError(f"{where}: tip.length_mm must be >= 0 and shorter than the "
                             "working length")
        rows = row.get("primitives")
        if not isinstance(rows, Sequence) or isinstance(rows, str) or not rows:
            raise InputError(f"{where}: give at least one collision primitive")
        if not isinstance(row.get("laparoscopic", False), bool):
            raise InputError(f"{where}: laparoscopic must be true or false")
        lumen = row.get("lumen_radius_mm")
        return cls(
            id=row["id"], name=str(row.get("name", row["id"])), category=row["category"],
            laparoscopic=row.get("laparoscopic", False),
            shaft_radius_mm=_positive(row.get("shaft_radius_mm"), f"{where} shaft_radius_mm"),
            working_length_mm=working, tip=TipGeometry(tip["type"], tip_length),
            colour=tuple(float(c) for c in _vector(row.get("colour", (0.7, 0.7, 0.7)), (3,),
                                                    f"{where} colour")),
            primitives=tuple(Primitive.from_json(p, f"{where} primitive {n}")
                             for n, p in enumerate(rows)),
            lumen_radius_mm=None if lumen is None else _positive(lumen, f"{where} lumen"),
            notes=str(row.get("notes", "")), source=source,
        )

    def display_mesh(self, segments: int = 24) -> SurfaceMesh:
        """A display surface in the tip frame (mm), built from the primitives.

        The primitives' closed meshes are concatenated (overlapping shells, not a boolean
        union): each shell is closed so the whole is watertight, but its enclosed volume
        counts overlaps twice. ``segments`` sets the facets around round shapes.
        """
        if segments < 3:
            raise InputError(f"segments must be at least 3, got {segments}")
        mesh = trimesh.util.concatenate([p.mesh(segments) for p in self.primitives])
        return SurfaceMesh(mesh.vertices, mesh.faces)

    def primitives_in_lps(self, pose: Any) -> list[Primitive]:
        """The primitives moved by a placement pose: (4, 4) tip frame -> LPS mm."""
        matrix = rigid_transform(pose, f"the pose of {self.id!r}")
        return [p.transformed(matrix) for p in self.primitives]


@dataclass(frozen=True)
class Catalogue:
    """Instruments by id, with the files read and any overrides noted in ``warnings``."""

    instruments: dict[str, Instrument] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def ids(self) -> list[str]:
        return list(self.instruments)

    def get(self, instrument_id: str) -> Instrument:
        """The instrument ``instrument_id``; :class:`InputError` listing the known ids."""
        if instrument_id not in self.instruments:
            raise InputError(f"no instrument {instrument_id!r} in the catalogue: use one of "
                             f"{', '.join(self.instruments) or 'none'} or add it in a user file")
        return self.instruments[instrument_id]

    __getitem__ = get

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self.instruments

    def __iter__(self) -> Iterator[str]:
        return iter(self.instruments)

    def __len__(self) -> int:
        return len(self.instruments)


def _read_rows(path: Path) -> list[Mapping[str, Any]]:
    """The instrument rows of one catalogue file, checked for schema and duplicate ids."""
    document = read_json(path, "instrument catalogue")
    if not isinstance(document, Mapping) or not isinstance(document.get("instruments"), list):
        raise InputError(f"{path}: expected an object with an 'instruments' list")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(f"{path}: schema_version {version!r} is not {SCHEMA_VERSION}: write the "
                         "file in the schema of data/instruments.json")
    ids = [row.get("id") for row in document["instruments"] if isinstance(row, Mapping)]
    duplicates = sorted({str(i) for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InputError(f"{path}: instrument ids repeat ({', '.join(duplicates)}): give each "
                         "its own id")
    return document["instruments"]


def load_catalogue(path: str | Path | None = None,
                   extra_paths: Iterable[str | Path] = ()) -> Catalogue:
    """Read the shipped catalogue, then merge user files over it.

    Parameters
    ----------
    path : path, optional
        Base catalogue; ``data/instruments.json`` when omitted.
    extra_paths : iterable of path
        User files of the same schema, merged in order; an id already present is replaced and
        the replacement noted in :attr:`Catalogue.warnings`.

    Returns
    -------
    Catalogue
        Instruments in file order (replacements keep their place).

    Raises
    ------
    InputError
        A missing or unreadable file, or a row that breaks the schema (the message names the
        file, the instrument and the field).
    """
    paths = [Path(path) if path is not None else data_file("instruments.json")]
    paths += [Path(p) for p in extra_paths]
    instruments: dict[str, Instrument] = {}
    warnings: list[str] = []
    for source in paths:
        for row in _read_rows(source):
            instrument = Instrument.from_json(row, str(source))
            if instrument.id in instruments:
                warnings.append(f"instrument {instrument.id!r} from {source} replaces the one "
                                f"from {instruments[instrument.id].source}")
            instruments[instrument.id] = instrument
    return Catalogue(instruments, tuple(warnings), tuple(str(p) for p in paths))
