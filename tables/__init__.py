"""Faust table declarations: the worker's state, each table changelogged to Kafka so a
restarted or rebalanced worker resumes where the last one stopped."""
