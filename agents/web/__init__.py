"""The dashboard and the shareable operation logs, served on the worker's web port."""
