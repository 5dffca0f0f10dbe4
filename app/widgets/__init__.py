"""The window's widgets, one per module; each talks only to the ``ProjectSession``."""
