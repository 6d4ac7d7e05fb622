"""Evaluation toolkit: measurements of generated headshots that compare them with real portraits."""
