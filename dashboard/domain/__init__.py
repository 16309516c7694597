"""Venue-neutral vocabulary: models, the exact order book, interfaces and errors.

Imports nothing else from ``dashboard`` and no I/O or UI library.
"""
