"""Anatomy names -> tissue, critical flag and colour; built-in TotalSegmentator names."""

from __future__ import annotations

import pytest

from surgiplan.errors import InputError
from surgiplan.segmentation.anatomy import (
    PALETTE,
    match_anatomy,
    normalise_name,
    structure_info,
)
from surgiplan.segmentation.totalsegmentator import (
    TOTALSEGMENTATOR_V1,
    TOTALSEGMENTATOR_V2,
    fits_scheme,
    names_for,
    scheme_table,
)


def test_normalise_joins_words_with_underscores():
    assert normalise_name("  Inferior Vena-Cava ") == "inferior_vena_cava"
    assert normalise_name("Kidney (left)") == "kidney_left"


@pytest.mark.parametrize("name", [
    "aorta", "Inferior vena cava", "inferior_vena_cava", "vena_cava", "Portal vein",
    "portal_vein_and_splenic_vein", "hepatic_veins", "iliac_artery_left",
    "subclavian_artery_right", "iliac_vena_right", "liver_vessels", "vessels", "optic_nerve_left",
    "spinal_cord", "superior_vena_cava", "brachiocephalic_trunk",
])
def test_vessels_and_nerves_are_critical(name):
    info = structure_info(name, 3)
    assert info.critical
    assert info.tissue in ("vessel", "nerve")
    assert info.name == name and info.label == 3


@pytest.mark.parametrize(("name", "tissue"), [
    ("liver", "liver"), ("kidney_left", "kidney"), ("Kidney right", "kidney"),
    ("spleen", "spleen"), ("tumour", "tumour"), ("Tumor", "tumour"), ("liver_tumor", "tumour"),
    ("lesion_2", "tumour"), ("pancreas", "pancreas"), ("stomach", "stomach"),
    ("gallbladder", "gallbladder"), ("lung_upper_lobe_left", "lung"), ("vertebrae_L5", "bone"),
    ("rib_right_12", "bone"), ("spine", "bone"), ("skin", "skin"), ("fat", "fat"),
    ("autochthon_left", "muscle"), ("heart", "heart"), ("brain", "brain"),
    ("trachea", "airway"), ("costal_cartilages", "cartilage"), ("colon", "bowel"),
])
def test_organs_get_their_tissue_and_are_not_critical(name, tissue):
    info = structure_info(name)
    assert info.tissue == tissue
    assert not info.critical


def test_compound_names_take_the_head_noun():
    assert match_anatomy("kidney_cyst_left").name == "cyst"
    assert match_anatomy("lung_vessels").name == "vessel"
    assert match_anatomy("renal_artery").name == "artery"


def test_unknown_names_are_soft_tissue_with_distinct_palette_colours():
    infos = [structure_info(f"thing_{n}", n) for n in range(1, len(PALETTE) + 1)]
    assert all(i.tissue == "soft_tissue" and not i.critical for i in infos)
    assert len({i.colour for i in infos}) == len(PALETTE)
    # Without a label the colour still depends only on the name (stable between runs).
    assert structure_info("gizmo").colour == structure_info("gizmo").colour


def test_colour_override_and_defaults_are_rgb():
    assert structure_info("liver", colour=(0.1, 0.2, 0.3)).colour == (0.1, 0.2, 0.3)
    colour = structure_info("aorta").colour
    assert len(colour) == 3 and all(0.0 <= c <= 1.0 for c in colour)


def test_empty_name_is_refused():
    with pytest.raises(InputError, match="needs a name"):
        structure_info("  ")


def test_totalsegmentator_v2_map_has_117_classes_and_known_ids():
    assert sorted(TOTALSEGMENTATOR_V2) == list(range(1, 118))
    assert sorted(TOTALSEGMENTATOR_V1) == list(range(1, 105))
    assert names_for([0, 1, 2, 3, 5, 52, 63, 64]) == {
        1: "spleen", 2: "kidney_right", 3: "kidney_left", 5: "liver", 52: "aorta",
        63: "inferior_vena_cava", 64: "portal_vein_and_splenic_vein"}
    assert names_for([7, 8], "totalsegmentator_v1") == {7: "aorta", 8: "inferior_vena_cava"}
    assert names_for([999]) == {999: "label_999"}
    assert fits_scheme([0, 117]) and not fits_scheme([117], "totalsegmentator_v1")


def test_every_totalsegmentator_name_is_known_anatomy():
    for table in (TOTALSEGMENTATOR_V2, TOTALSEGMENTATOR_V1):
        unknown = [n for n in table.values() if match_anatomy(n) is None]
        assert unknown == []


def test_unknown_scheme_names_the_choices():
    with pytest.raises(InputError, match="totalsegmentator_v1"):
        scheme_table("nnunet_magic")
