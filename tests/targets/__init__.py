"""Target files (and their in-process services) that the target tests point the harness at."""
