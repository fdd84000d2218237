"""The single-file case: volume, twin, plan and provenance in one ``.surgiplan`` file."""
