"""Comparing two models: structure, and what they compute (:mod:`.numeric`)."""
