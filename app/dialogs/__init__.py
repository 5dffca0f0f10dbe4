"""Dialogs: one per module, each shown by a small helper the main window calls."""
