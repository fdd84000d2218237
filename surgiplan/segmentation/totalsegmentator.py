"""Built-in names for TotalSegmentator label ids.

Which version the ids follow
----------------------------
``"totalsegmentator"`` (alias ``"totalsegmentator_v2"``) is the class map of TotalSegmentator
v2's ``total`` task: 117 classes, copied from ``class_map["total"]`` in
``totalsegmentator/map_to_binary.py`` of wasserth/TotalSegmentator. v2 renumbered the classes of
v1, so the same id means different organs in the two versions (v2: 7 pancreas, 52 aorta,
63 inferior_vena_cava; v1: 7 aorta, 8 inferior_vena_cava, 10 pancreas). ``"totalsegmentator_v1"``
is v1's 104-class map (``class_map["total_v1"]``) for outputs of TotalSegmentator 1.x.

A label file does not say which version wrote it and the id ranges overlap, so the scheme is
not guessed: v2 is the default (the current release). Both shared test maps
(``abdomen_ct_totalseg/labels_on_dicom_grid.nii.gz``, 31 ids, and ``labels_3mm.nii.gz``,
41 ids up to 117) follow v2: ids above 104 exist only in v2, and the positions agree with v2
(1 spleen on the patient's left, 5 liver and 2 kidney_right on the right, 86/87 autochthon
left/right, 98..103 left ribs and 110..115 right ribs on their sides, 117 costal cartilages
anterior). Other tasks (``total_mr``, ``liver_vessels``...) are not built in: pass ``names``.
"""

from __future__ import annotations

from collections.abc import Iterable

from surgiplan.errors import InputError

TOTALSEGMENTATOR_V2: dict[int, str] = {
    1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach",
    7: "pancreas", 8: "adrenal_gland_right", 9: "adrenal_gland_left", 10: "lung_upper_lobe_left",
    11: "lung_lower_lobe_left", 12: "lung_upper_lobe_right", 13: "lung_middle_lobe_right",
    14: "lung_lower_lobe_right", 15: "esophagus", 16: "trachea", 17: "thyroid_gland",
    18: "small_bowel", 19: "duodenum", 20: "colon", 21: "urinary_bladder", 22: "prostate",
    23: "kidney_cyst_left", 24: "kidney_cyst_right", 25: "sacrum", 26: "vertebrae_S1",
    27: "vertebrae_L5", 28: "vertebrae_L4", 29: "vertebrae_L3", 30: "vertebrae_L2",
    31: "vertebrae_L1", 32: "vertebrae_T12", 33: "vertebrae_T11", 34: "vertebrae_T10",
    35: "vertebrae_T9", 36: "vertebrae_T8", 37: "vertebrae_T7", 38: "vertebrae_T6",
    39: "vertebrae_T5", 40: "vertebrae_T4", 41: "vertebrae_T3", 42: "vertebrae_T2",
    43: "vertebrae_T1", 44: "vertebrae_C7", 45: "vertebrae_C6", 46: "vertebrae_C5",
    47: "vertebrae_C4", 48: "vertebrae_C3", 49: "vertebrae_C2", 50: "vertebrae_C1", 51: "heart",
    52: "aorta", 53: "pulmonary_vein", 54: "brachiocephalic_trunk", 55: "subclavian_artery_right",
    56: "subclavian_artery_left", 57: "common_carotid_artery_right",
    58: "common_carotid_artery_left", 59: "brachiocephalic_vein_left",
    60: "brachiocephalic_vein_right", 61: "atrial_appendage_left", 62: "superior_vena_cava",
    63: "inferior_vena_cava", 64: "portal_vein_and_splenic_vein", 65: "iliac_artery_left",
    66: "iliac_artery_right", 67: "iliac_vena_left", 68: "iliac_vena_right", 69: "humerus_left",
    70: "humerus_right", 71: "scapula_left", 72: "scapula_right", 73: "clavicula_left",
    74: "clavicula_right", 75: "femur_left", 76: "femur_right", 77: "hip_left", 78: "hip_right",
    79: "spinal_cord", 80: "gluteus_maximus_left", 81: "gluteus_maximus_right",
    82: "gluteus_medius_left", 83: "gluteus_medius_right", 84: "gluteus_minimus_left",
    85: "gluteus_minimus_right", 86: "autochthon_left", 87: "autochthon_right",
    88: "iliopsoas_left", 89: "iliopsoas_right", 90: "brain", 91: "skull", 92: "rib_left_1",
    93: "rib_left_2", 94: "rib_left_3", 95: "rib_left_4", 96: "rib_left_5", 97: "rib_left_6",
    98: "rib_left_7", 99: "rib_left_8", 100: "rib_left_9", 101: "rib_left_10", 102: "rib_left_11",
    103: "rib_left_12", 104: "rib_right_1", 105: "rib_right_2", 106: "rib_right_3",
    107: "rib_right_4", 108: "rib_right_5", 109: "rib_right_6", 110: "rib_right_7",
    111: "rib_right_8", 112: "rib_right_9", 113: "rib_right_10", 114: "rib_right_11",
    115: "rib_right_12", 116: "sternum", 117: "costal_cartilages",
}

TOTALSEGMENTATOR_V1: dict[int, str] = {
    1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver", 6: "stomach",
    7: "aorta", 8: "inferior_vena_cava", 9: "portal_vein_and_splenic_vein", 10: "pancreas",
    11: "adrenal_gland_right", 12: "adrenal_gland_left", 13: "lung_upper_lobe_left",
    14: "lung_lower_lobe_left", 15: "lung_upper_lobe_right", 16: "lung_middle_lobe_right",
    17: "lung_lower_lobe_right", 18: "vertebrae_L5", 19: "vertebrae_L4", 20: "vertebrae_L3",
    21: "vertebrae_L2", 22: "vertebrae_L1", 23: "vertebrae_T12", 24: "vertebrae_T11",
    25: "vertebrae_T10", 26: "vertebrae_T9", 27: "vertebrae_T8", 28: "vertebrae_T7",
    29: "vertebrae_T6", 30: "vertebrae_T5", 31: "vertebrae_T4", 32: "vertebrae_T3",
    33: "vertebrae_T2", 34: "vertebrae_T1", 35: "vertebrae_C7", 36: "vertebrae_C6",
    37: "vertebrae_C5", 38: "vertebrae_C4", 39: "vertebrae_C3", 40: "vertebrae_C2",
    41: "vertebrae_C1", 42: "esophagus", 43: "trachea", 44: "heart_myocardium",
    45: "heart_atrium_left", 46: "heart_ventricle_left", 47: "heart_atrium_right",
    48: "heart_ventricle_right", 49: "pulmonary_artery", 50: "brain", 51: "iliac_artery_left",
    52: "iliac_artery_right", 53: "iliac_vena_left", 54: "iliac_vena_right", 55: "small_bowel",
    56: "duodenum", 57: "colon", 58: "rib_left_1", 59: "rib_left_2", 60: "rib_left_3",
    61: "rib_left_4", 62: "rib_left_5", 63: "rib_left_6", 64: "rib_left_7", 65: "rib_left_8",
    66: "rib_left_9", 67: "rib_left_10", 68: "rib_left_11", 69: "rib_left_12", 70: "rib_right_1",
    71: "rib_right_2", 72: "rib_right_3", 73: "rib_right_4", 74: "rib_right_5", 75: "rib_right_6",
    76: "rib_right_7", 77: "rib_right_8", 78: "rib_right_9", 79: "rib_right_10",
    80: "rib_right_11", 81: "rib_right_12", 82: "humerus_left", 83: "humerus_right",
    84: "scapula_left", 85: "scapula_right", 86: "clavicula_left", 87: "clavicula_right",
    88: "femur_left", 89: "femur_right", 90: "hip_left", 91: "hip_right", 92: "sacrum", 93: "face",
    94: "gluteus_maximus_left", 95: "gluteus_maximus_right", 96: "gluteus_medius_left",
    97: "gluteus_medius_right", 98: "gluteus_minimus_left", 99: "gluteus_minimus_right",
    100: "autochthon_left", 101: "autochthon_right", 102: "iliopsoas_left", 103: "iliopsoas_right",
    104: "urinary_bladder",
}

SCHEMES: dict[str, dict[int, str]] = {
    "totalsegmentator": TOTALSEGMENTATOR_V2,
    "totalsegmentator_v2": TOTALSEGMENTATOR_V2,
    "totalsegmentator_v1": TOTALSEGMENTATOR_V1,
}


def scheme_table(scheme: str) -> dict[int, str]:
    """The id -> name table of ``scheme``; :class:`InputError` naming the known schemes."""
    try:
        return SCHEMES[scheme]
    except KeyError:
        known = ", ".join(sorted(SCHEMES))
        raise InputError(f"unknown label naming scheme {scheme!r}: use one of {known}, or "
                         "give the names explicitly") from None


def fits_scheme(ids: Iterable[int], scheme: str = "totalsegmentator") -> bool:
    """Whether every non-zero id in ``ids`` has a name in ``scheme``."""
    table = scheme_table(scheme)
    return all(int(i) in table for i in ids if int(i) != 0)


def names_for(ids: Iterable[int], scheme: str = "totalsegmentator") -> dict[int, str]:
    """Names of the non-zero ``ids`` in ``scheme``; ids it does not know get ``"label_<id>"``.

    >>> names_for([0, 1, 5, 52, 500])
    {1: 'spleen', 5: 'liver', 52: 'aorta', 500: 'label_500'}
    """
    table = scheme_table(scheme)
    return {int(i): table.get(int(i), f"label_{int(i)}") for i in ids if int(i) != 0}
