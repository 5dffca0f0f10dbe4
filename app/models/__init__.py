"""Qt item models over the project's data: lists of ids with explicit roles."""
