"""The explorer: random fault schedules against the simulated cluster, shrunk to a script."""
