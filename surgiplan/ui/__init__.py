"""The Qt layer: gathers input, calls the core in workers, shows results. No computation here."""
