"""Command line: ``python -m surgiplan.phantom OUTPUT_DIR [--seed N]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from surgiplan.phantom.generator import DEFAULT_SEED, generate_phantom


def main(argv: list[str] | None = None) -> int:
    """Generate the phantom into the given folder and print a one-line summary."""
    parser = argparse.ArgumentParser(
        prog="python -m surgiplan.phantom",
        description="Write the synthetic abdominal CT phantom (DICOM, labels, facts).",
    )
    parser.add_argument("output_dir", type=Path, help="folder to write (e.g. data/sample_case)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="noise and UID seed")
    args = parser.parse_args(argv)
    case = generate_phantom(args.output_dir, seed=args.seed)
    print(f"wrote {case.n_slices} slices to {case.dicom_dir}")
    print(f"wrote {case.labels_path} and {case.facts_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
