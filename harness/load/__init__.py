"""Load testing: Locust against the live cluster, a nemesis beside it, one checker judging."""
