"""Panel UI: param state + Viewer components and the app layout.

Imports ``domain`` and ``hub`` only -- never ``kucoin`` or ``simulator`` -- so every component runs
in a notebook on a fake or replayed feed.
"""
