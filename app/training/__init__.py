"""Training from the window: the trainer process, its settings panel, live charts, the
per-task metrics table, and the widgets that show and compare finished runs.

The trainer is always a separate process (``trainer_process.TrainerProcess``
runs ``python -m core.cli.main train PATH ... --json`` in a ``QProcess``);
nothing here imports torch. What a run leaves in the project (status, metrics,
checkpoint, predictions) is read back through ``core.runs``.
"""
