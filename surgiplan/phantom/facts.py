"""Ground-truth facts of the phantom, written as ``facts.json``.

Schema (``schema_version`` 1). Lengths are mm, volumes mL, positions patient LPS mm
(+x Left, +y Posterior, +z Superior); voxel arrays are indexed ``[k, j, i]``::

    {
      "schema_version": 1,
      "generator": "surgiplan.phantom",
      "seed": int,                       # noise / UID seed (anatomy is seed independent)
      "units": {...},                    # human-readable reminder of the above
      "grid": {
        "shape_kji": [nk, nj, ni],
        "spacing_mm": [dx, dy, dz],
        "origin_lps_mm": [x0, y0, z0],   # centre of voxel (i, j, k) = (0, 0, 0)
        "affine_lps": 4x4 list           # (i, j, k, 1) -> (x, y, z, 1)
      },
      "labels": {"1": "skin", ...},      # label id (string) -> structure name
      "hu": {name: HU},                  # noise-free HU per structure, plus "air"
      "cortical_bone": {"hu": 700, "structures": ["ribs", "spine"], ...},
      "noise": {"sd_hu": ..., "blur_sigma_voxels_kji": [...], ...},
      "structures": {name: {
        "label": int,
        "voxel_count": int,
        "volume_ml": voxel_count * voxel volume / 1000,
        "analytic_volume_ml": float or null,   # exact solid volume where the shape is simple
        "centroid_lps_mm": [x, y, z],          # mean voxel centre
        "bbox_lps_mm": [[xmin, ymin, zmin], [xmax, ymax, zmax]]  # extreme voxel centres
      }},
      "tumour": {
        "label": 7, "centre_lps_mm": [x, y, z], "radius_mm": r,
        "min_distance_to_portal_vein_mm": d,   # analytic: tumour surface to vessel surface
        "min_distance_to_hepatic_veins_mm": d,
        "min_distance_to_vessels_mm": {vessel: d},
        "min_distance_to_liver_surface_mm": d  # voxel-based, see tumour_liver_margin_mm
      },
      "vessels": {name: {
        "label": int,
        "radius_mm": radius of the first (trunk) segment,
        "segments": [{"name": str, "radius_mm": r, "centreline_lps_mm": [[x, y, z], ...]}]
      }},                                # aorta, vena_cava, portal_vein, hepatic_veins
      "ribs": {"label": 4, "radius_mm": r, "centrelines_lps_mm": [[[x, y, z], ...], ...]},
      "dicom": {"study_instance_uid": ..., "series_instance_uid": ...,
                "frame_of_reference_uid": ..., "transfer_syntax_uid": ...,
                "n_slices": nk, "patient_name": ..., "patient_id": ...}
    }

Vessel and rib centrelines are the exact curves the tubes were rasterised from,
sampled every ~2 mm; they may run up to the faces of the field of view.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from surgiplan.phantom import anatomy_spec as spec
from surgiplan.phantom import dicom_writer, intensity
from surgiplan.phantom.anatomy import PhantomAnatomy, analytic_volumes_ml
from surgiplan.phantom.grid import PhantomGrid
from surgiplan.phantom.shapes import distance_to_polyline

SCHEMA_VERSION = 1
_DECIMALS = 3
_LIVERISH = ("liver", "tumour", "portal_vein", "hepatic_veins")
_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][^\[\]{}\"]*?)\s*\]")


def _round(value: Any) -> Any:
    """Round floats (also inside arrays, lists and dicts) to :data:`_DECIMALS` places."""
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), _DECIMALS) + 0.0
    if isinstance(value, np.integer):
        return int(value)
    return value


def structure_facts(labels: np.ndarray, grid: PhantomGrid) -> dict[str, dict[str, Any]]:
    """Voxel count, volume, centroid and bounding box of every label present.

    Parameters
    ----------
    labels : numpy.ndarray
        uint8 label map, shape ``grid.shape_kji``.
    grid : PhantomGrid
        Its grid.

    Returns
    -------
    dict
        Structure name -> facts (see module docstring), LPS mm and mL.
    """
    counts = np.bincount(labels.ravel(), minlength=256)
    ids = [label for label in spec.LABELS if counts[label] > 0]
    centroids = ndimage.center_of_mass(np.ones(labels.shape, np.float32), labels, ids)
    boxes = ndimage.find_objects(labels)
    analytic = analytic_volumes_ml(grid)
    out = {}
    for label, centroid in zip(ids, centroids, strict=True):
        name = spec.LABELS[label]
        box = boxes[label - 1]
        lo = grid.index_to_lps([s.start for s in box])
        hi = grid.index_to_lps([s.stop - 1 for s in box])
        out[name] = {
            "label": label,
            "voxel_count": int(counts[label]),
            "volume_ml": counts[label] * grid.voxel_volume_mm3 / 1000.0,
            "analytic_volume_ml": analytic[name],
            "centroid_lps_mm": grid.index_to_lps(centroid),
            "bbox_lps_mm": [lo, hi],
        }
    return out


def tumour_liver_margin_mm(anatomy: PhantomAnatomy) -> float:
    """Smallest distance (mm) from a tumour voxel centre to a voxel outside the liver.

    "Inside the liver" means liver parenchyma, tumour, portal and hepatic veins. The
    value is voxel based (an over-estimate of the surface gap by up to about one voxel).
    """
    grid, labels = anatomy.grid, anatomy.labels
    inside = np.isin(labels, [spec.LABEL_IDS[name] for name in _LIVERISH])
    margin = anatomy.tumour_radius_mm + 60.0
    sl = grid.box_slices(anatomy.tumour_centre_mm - margin, anatomy.tumour_centre_mm + margin)
    sampling = grid.spacing_mm[::-1]
    dist = ndimage.distance_transform_edt(inside[sl], sampling=sampling)
    return float(dist[labels[sl] == spec.LABEL_IDS["tumour"]].min())


def tumour_facts(anatomy: PhantomAnatomy) -> dict[str, Any]:
    """Tumour centre, radius and analytic surface-to-surface distances to every vessel."""
    centre, radius = anatomy.tumour_centre_mm, anatomy.tumour_radius_mm
    gaps = {
        name: min(
            float(distance_to_polyline(centre[None], s.centreline_mm)[0]) - s.radius_mm - radius
            for s in segments
        )
        for name, segments in anatomy.vessels.items()
    }
    return {
        "label": spec.LABEL_IDS["tumour"],
        "centre_lps_mm": centre,
        "radius_mm": radius,
        "min_distance_to_portal_vein_mm": gaps["portal_vein"],
        "min_distance_to_hepatic_veins_mm": gaps["hepatic_veins"],
        "min_distance_to_vessels_mm": gaps,
        "min_distance_to_liver_surface_mm": tumour_liver_margin_mm(anatomy),
    }


def vessel_facts(anatomy: PhantomAnatomy) -> dict[str, Any]:
    """Label, trunk radius and segment centrelines of every vessel."""
    return {
        name: {
            "label": spec.LABEL_IDS[name],
            "radius_mm": segments[0].radius_mm,
            "segments": [
                {"name": s.name, "radius_mm": s.radius_mm, "centreline_lps_mm": s.centreline_mm}
                for s in segments
            ],
        }
        for name, segments in anatomy.vessels.items()
    }


def _grid_facts(grid: PhantomGrid) -> dict[str, Any]:
    return {
        "shape_kji": list(grid.shape_kji),
        "spacing_mm": list(grid.spacing_mm),
        "origin_lps_mm": list(grid.origin_lps_mm),
        "affine_lps": grid.affine_lps,
    }


def _imaging_facts() -> dict[str, Any]:
    return {
        "cortical_bone": {
            "hu": spec.CORTICAL_BONE_HU,
            "structures": list(spec.BONE_STRUCTURES),
            "definition": "bone voxels 6-connected to non-bone voxels",
        },
        "noise": {
            "sd_hu": intensity.NOISE_SD_HU,
            "blur_sigma_voxels_kji": list(intensity.BLUR_SIGMA_VOXELS),
            "correlation_sigma_voxels_kji": list(intensity.NOISE_CORRELATION_SIGMA_VOXELS),
            "region": f"body outline dilated in-plane by {intensity.NOISE_MARGIN_VOXELS} voxels",
        },
    }


def build_facts(anatomy: PhantomAnatomy, seed: int) -> dict[str, Any]:
    """Assemble the complete facts dictionary (see module docstring), floats rounded."""
    grid = anatomy.grid
    uids = dicom_writer.SeriesUIDs.from_seed(seed)
    facts = {
        "schema_version": SCHEMA_VERSION,
        "generator": "surgiplan.phantom",
        "seed": seed,
        "units": {"length": "mm", "volume": "mL", "frame": "DICOM patient LPS", "hu": "HU"},
        "grid": _grid_facts(grid),
        "labels": {str(k): v for k, v in spec.LABELS.items()},
        "hu": dict(spec.HU),
        **_imaging_facts(),
        "structures": structure_facts(anatomy.labels, grid),
        "tumour": tumour_facts(anatomy),
        "vessels": vessel_facts(anatomy),
        "ribs": {
            "label": spec.LABEL_IDS["ribs"],
            "radius_mm": spec.RIB_RADIUS_MM,
            "centrelines_lps_mm": list(anatomy.rib_centrelines_mm),
        },
        "dicom": {
            "study_instance_uid": uids.study,
            "series_instance_uid": uids.series,
            "frame_of_reference_uid": uids.frame_of_reference,
            "transfer_syntax_uid": str(dicom_writer.TRANSFER_SYNTAX),
            "n_slices": grid.shape_kji[0],
            "patient_name": dicom_writer.PATIENT_NAME,
            "patient_id": dicom_writer.PATIENT_ID,
        },
    }
    return _round(facts)


def _inline_numbers(match: re.Match[str]) -> str:
    """Collapse one multi-line JSON list of numbers onto a single line."""
    return "[" + ", ".join(v.strip() for v in match.group(1).split(",")) + "]"


def write_facts(facts: dict[str, Any], path: Path) -> None:
    """Write ``facts`` as indented UTF-8 JSON, one line per list of numbers."""
    text = json.dumps(facts, indent=1)
    text = _NUMBER_LIST.sub(_inline_numbers, text)
    path.write_text(text + "\n", encoding="utf-8")
