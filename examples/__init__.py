"""Runnable examples of eventweave (``make demo`` runs :mod:`examples.tour`)."""
