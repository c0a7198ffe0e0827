"""Faust agents and the worker's web endpoints: the thin shell around ``detector``."""
