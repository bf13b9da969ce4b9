"""Hardware families: one folder each, the same file names, behind `base.Family`."""
