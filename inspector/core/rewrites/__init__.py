"""Rewrites that write a new model file and prove it by running it (never the user's own file)."""
