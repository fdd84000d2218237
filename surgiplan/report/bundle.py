"""The export bundle written beside the report: meshes, label map, markups, plan JSON.

Every file comes from the writers the rest of SurgiPlan uses (all atomic):

- ``meshes/<structure>.stl``: one binary STL per structure (LPS mm, ``SPACE=LPS`` header);
- ``twin.obj``: every structure as one named OBJ object; ``twin.glb``: a binary glTF scene,
  one named, coloured node per structure (:mod:`surgiplan.twin.mesh_export`);
- ``labels.nii.gz`` and its 3D Slicer colour table ``labels.ctbl``
  (:mod:`surgiplan.segmentation.label_export`);
- ``plan.mrk.json``: 3D Slicer markups of the traced incisions, the instrument paths and the
  landmarks (:mod:`surgiplan.plan.markups`), when the plan has any;
- ``plan.json``: the plan in SurgiPlan's plan format (:mod:`surgiplan.plan.plan_json`);
- ``manifest.json``: the case reference, the software version, the frame and the files.

No bundle file carries a patient identifier, whatever the report's ``identify`` option: the
writers store geometry, structure names and plan items only, and texts typed into the plan
(landmark labels) are scrubbed of the identifying values the case holds. A face is an
identifier too: on a head or neck scan the surfaces that can show it (body outline, fat,
muscle; :func:`~surgiplan.report.identity.face_surfaces`) are left out of the meshes, the scene
and the label map unless ``keep_face`` is asked for, and the manifest says so.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from surgiplan import __version__
from surgiplan.case.model import Case
from surgiplan.errors import OutputError
from surgiplan.io.atomic import atomic_path
from surgiplan.plan.markups import trajectories_from_plan, write_markups
from surgiplan.plan.plan_json import write_plan_json
from surgiplan.progress import ProgressCallback, report
from surgiplan.report import identity
from surgiplan.segmentation.label_export import write_colour_table, write_label_map
from surgiplan.simulation.plan_check import CheckResult
from surgiplan.twin.mesh_export import FRAME_NOTE, write_mesh, write_scene
from surgiplan.twin.outputs import safe_name


@dataclass(frozen=True)
class BundleResult:
    """What :func:`write_bundle` wrote.

    Attributes
    ----------
    folder : Path
        The bundle folder.
    meshes : dict of str to Path
        Per structure, its STL.
    files : dict of str to Path
        ``"obj"``, ``"gltf"``, ``"labels"``, ``"colour_table"``, ``"markups"`` (when the plan
        has incisions, paths or landmarks), ``"plan"``, ``"manifest"``.
    left_out : tuple of str
        Structures left out because their surface can show the patient's face.
    """

    folder: Path
    meshes: dict[str, Path]
    files: dict[str, Path]
    left_out: tuple[str, ...] = field(default=())

    def all_files(self) -> list[Path]:
        """Every file written, meshes first."""
        return [*self.meshes.values(), *self.files.values()]


def _folder(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write the export bundle into {folder}: it is a file; "
                          "give a folder")
    try:
        (folder / "meshes").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the export bundle folder {folder}: "
                          f"{exc.strerror}") from exc
    return folder


def write_bundle(case: Case, check: CheckResult, folder: str | os.PathLike[str], *,
                 keep_face: bool = False,
                 progress: ProgressCallback | None = None) -> BundleResult:
    """Write the bundle of ``case`` into ``folder`` (created if needed).

    Parameters
    ----------
    case : Case
        Twin (meshes, label map) and plan.
    check : CheckResult
        Its plan check (traced incisions for the markups).
    folder : path-like
        Bundle folder; files of the same names are replaced atomically, others kept.
    keep_face : bool
        Keep the surfaces that can show the face of a head or neck scan (left out by default).

    Raises
    ------
    OutputError
        When the folder cannot be created or written.
    """
    folder = _folder(folder)
    values = identity.identifying_values(case)
    names = {name: identity.scrub_text(name, values) for name in case.twin.structures}
    meshes = {}
    left_out = () if keep_face else identity.face_surfaces(case)
    structures = [(n, m) for n, m in case.twin.structures.items() if n not in left_out]
    for done, (name, model) in enumerate(structures):
        report(progress, done, len(structures) + 4, f"Exporting {names[name]}")
        meshes[name] = write_mesh(model.surface,
                                  folder / "meshes" / f"{safe_name(names[name])}.stl")
    scene = [(names[name], model.surface, case.twin.display[name].colour
              if name in case.twin.display else model.info.colour)
             for name, model in structures]
    report(progress, len(structures), len(structures) + 4, "Exporting the scene")
    files = {"obj": write_scene(scene, folder / "twin.obj"),
             "gltf": write_scene(scene, folder / "twin.glb")}
    report(progress, len(structures) + 1, len(structures) + 4, "Exporting the label map")
    labelmap = _without(case.twin.labelmap, left_out)
    files["labels"] = write_label_map(labelmap, folder / "labels.nii.gz")
    files["colour_table"] = write_colour_table(labelmap, folder / "labels.ctbl")
    report(progress, len(structures) + 2, len(structures) + 4, "Exporting the plan")
    plan = identity.scrubbed(case.plan, values)
    incisions = [identity.scrubbed(f.path, values) for f in check.context.incisions.values()]
    trajectories = trajectories_from_plan(plan)
    if incisions or trajectories or plan.landmarks:
        files["markups"] = write_markups(folder / "plan.mrk.json", incisions=incisions,
                                         trajectories=trajectories,
                                         landmarks=plan.landmarks.values())
    files["plan"] = write_plan_json(plan, folder / "plan.json")
    files["manifest"] = _manifest(case, folder, meshes, files, [names[n] for n in left_out])
    report(progress, len(structures) + 4, len(structures) + 4, "Bundle written")
    return BundleResult(folder, meshes, files, tuple(left_out))


def _without(labelmap, names: tuple[str, ...]):
    """The label map, or a copy of it without the structures ``names`` (voxels cleared)."""
    if not names:
        return labelmap
    out = copy.deepcopy(labelmap)
    for name in names:
        if name in out.names:
            out.remove(name)
    return out


def _manifest(case: Case, folder: Path, meshes: dict[str, Path],
              files: dict[str, Path], left_out: list[str]) -> Path:
    path = folder / "manifest.json"
    document = {
        "case_reference": identity.case_reference(case),
        "software": f"SurgiPlan {__version__}",
        "frame": FRAME_NOTE + " (glTF: metres, +Y up, see surgiplan.twin.mesh_export)",
        "de_identified": True,
        "meshes": {Path(p).stem: str(p.relative_to(folder)) for p in meshes.values()},
        "files": {kind: str(p.relative_to(folder)) for kind, p in files.items()},
        "left_out": {name: "a head or neck scan: its surface can show the patient's face"
                     for name in left_out},
    }
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
