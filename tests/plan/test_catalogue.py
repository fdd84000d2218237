"""The instrument catalogue: shipped instruments, display meshes, user files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import CATEGORIES, TIP_TYPES, Primitive, load_catalogue

REQUIRED_IDS = ("scalpel", "biopsy_needle_18g", "biopsy_needle_14g", "ablation_probe",
                "trocar_5mm", "trocar_12mm", "grasper_5mm", "retractor", "drill")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_every_required_instrument_is_there_with_positive_dimensions(catalogue):
    assert set(REQUIRED_IDS) <= set(catalogue.ids)
    assert catalogue.warnings == ()
    for instrument in (catalogue.get(i) for i in REQUIRED_IDS):
        assert instrument.category in CATEGORIES and instrument.tip.type in TIP_TYPES
        assert instrument.shaft_radius_mm > 0 and instrument.working_length_mm > 0
        assert 0 <= instrument.tip.length_mm < instrument.working_length_mm
        assert instrument.primitives and all(0 <= c <= 1 for c in instrument.colour)


def test_real_dimensions(catalogue):
    assert catalogue["biopsy_needle_18g"].shaft_radius_mm == pytest.approx(1.27 / 2)
    assert catalogue["biopsy_needle_14g"].shaft_radius_mm == pytest.approx(2.11 / 2, abs=0.01)
    assert catalogue["trocar_5mm"].lumen_radius_mm == pytest.approx(2.5)
    assert catalogue["trocar_12mm"].lumen_radius_mm == pytest.approx(6.0)
    for trocar in ("trocar_5mm", "trocar_12mm"):
        wall_mm = 2 * (catalogue[trocar].shaft_radius_mm - catalogue[trocar].lumen_radius_mm)
        assert 1.5 <= wall_mm <= 2.0
    assert catalogue["grasper_5mm"].shaft_radius_mm == pytest.approx(2.5)
    assert catalogue["grasper_5mm"].working_length_mm == pytest.approx(330.0)
    laparoscopic = {i for i in catalogue.ids if catalogue[i].laparoscopic}
    assert laparoscopic == {"trocar_5mm", "trocar_12mm", "grasper_5mm"}


@pytest.mark.parametrize("instrument_id", REQUIRED_IDS)
def test_display_mesh_is_watertight_with_the_tip_frontmost(catalogue, instrument_id):
    instrument = catalogue[instrument_id]
    surface = instrument.display_mesh(segments=16)
    mesh = trimesh.Trimesh(surface.vertices_lps_mm, surface.faces, process=False)
    assert mesh.is_watertight
    z_min, z_max = mesh.bounds[:, 2]
    assert z_max == pytest.approx(0.0, abs=1e-9)  # nothing ahead of the tip
    assert -z_min >= instrument.working_length_mm


def test_needle_display_mesh_has_the_expected_length_and_radius(catalogue):
    surface = catalogue["biopsy_needle_18g"].display_mesh(segments=24)
    vertices = surface.vertices_lps_mm
    assert vertices[:, 2].min() == pytest.approx(-170.0)  # 150 mm shaft + 20 mm hub
    shaft = vertices[(vertices[:, 2] < -10) & (vertices[:, 2] > -140)]
    np.testing.assert_allclose(np.hypot(shaft[:, 0], shaft[:, 1]), 0.635, atol=1e-9)


def test_primitives_move_with_the_pose(catalogue):
    needle = catalogue["biopsy_needle_18g"]
    pose = np.eye(4)
    pose[:3, :3] = [[0, 0, 1], [0, 1, 0], [-1, 0, 0]]  # column 2: the shaft points to +x (L)
    pose[:3, 3] = (5, 6, 7)
    tip, shaft, hub = needle.primitives_in_lps(pose)
    np.testing.assert_allclose(tip.params["apex"], (5, 6, 7))
    np.testing.assert_allclose(tip.params["base"], (5 - 2.7, 6, 7))
    np.testing.assert_allclose(shaft.params["segment"][1], (5 - 150, 6, 7))
    np.testing.assert_allclose(hub.params["centre"], (5 - 160, 6, 7))
    np.testing.assert_allclose(hub.params["axes"], pose[:3, :3].T, atol=1e-12)
    assert shaft.params["radius_mm"] == needle.shaft_radius_mm


def test_unknown_id_lists_the_known_ones(catalogue):
    with pytest.raises(InputError, match="no instrument 'laser'.*biopsy_needle_18g"):
        catalogue.get("laser")
    assert "laser" not in catalogue and "drill" in catalogue and len(catalogue) >= 9


def _user_file(tmp_path, rows, version=1):
    path = tmp_path / "my_instruments.json"
    path.write_text(json.dumps({"schema_version": version, "instruments": rows}))
    return path


NEEDLE_22G = {
    "id": "chiba_22g", "name": "22G Chiba needle", "category": "needle", "laparoscopic": False,
    "shaft_radius_mm": 0.359, "working_length_mm": 200.0,
    "tip": {"type": "bevel", "length_mm": 1.5}, "colour": [0.7, 0.7, 0.7],
    "primitives": [{"kind": "capsule", "radius_mm": 0.359,
                    "segment": [[0, 0, -0.359], [0, 0, -200]]}],
}


def test_user_files_add_and_replace_instruments(tmp_path):
    longer_drill = dict(NEEDLE_22G, id="drill", name="long drill", category="drill")
    catalogue = load_catalogue(extra_paths=[_user_file(tmp_path, [NEEDLE_22G, longer_drill])])
    assert catalogue["chiba_22g"].working_length_mm == 200.0
    assert catalogue["drill"].name == "long drill"
    assert len(catalogue.warnings) == 1 and "'drill'" in catalogue.warnings[0]
    assert catalogue.ids.index("drill") == load_catalogue().ids.index("drill")


@pytest.mark.parametrize(("change", "message"), [
    ({"category": "laser"}, "category must be one of"),
    ({"laparoscopic": "no"}, "laparoscopic must be true or false"),
    ({"shaft_radius_mm": -1}, "shaft_radius_mm must be a positive"),
    ({"tip": {"type": "round", "length_mm": 1}}, "tip.type must be one of"),
    ({"tip": {"type": "bevel", "length_mm": 500}}, "shorter than the working length"),
    ({"primitives": []}, "at least one collision primitive"),
    ({"primitives": [{"kind": "sphere"}]}, "kind must be one of"),
    ({"primitives": [{"kind": "capsule", "radius_mm": 1, "segment": [0, 0, 1]}]}, "segment"),
    ({"primitives": [{"kind": "box", "half_extents_mm": [1, 1, 1], "centre": [0, 0, 0],
                      "axes": [[1, 0, 0], [1, 0, 0], [0, 0, 1]]}]}, "orthonormal"),
])
def test_bad_rows_name_the_instrument_and_field(tmp_path, change, message):
    with pytest.raises(InputError, match=message) as info:
        load_catalogue(extra_paths=[_user_file(tmp_path, [dict(NEEDLE_22G, **change)])])
    assert "chiba_22g" in str(info.value)


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_catalogue(extra_paths=[tmp_path / "missing.json"])
    with pytest.raises(InputError, match="schema_version 2"):
        load_catalogue(extra_paths=[_user_file(tmp_path, [NEEDLE_22G], version=2)])
    with pytest.raises(InputError, match="repeat"):
        load_catalogue(extra_paths=[_user_file(tmp_path, [NEEDLE_22G, NEEDLE_22G])])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_catalogue(broken)


def test_primitive_rows_round_trip(catalogue):
    for instrument in catalogue.instruments.values():
        for primitive in instrument.primitives:
            again = Primitive.from_json(json.loads(json.dumps(primitive.to_json())), "row")
            assert (again.kind, again.part) == (primitive.kind, primitive.part)
            for key, value in primitive.params.items():
                np.testing.assert_allclose(again.params[key], value)
