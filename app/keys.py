"""The keyboard scheme, in one place: the shortcuts and the help overlay both read it."""

from __future__ import annotations

# (keys as shown to the user, what they do)
LABEL_KEYS: list[tuple[str, str]] = [
    ("1 … 9", "cycle task 1–9 of the current image: ? → present → absent → ?"),
    ("Shift+1 … 9", "set task 1–9 to absent"),
    ("Ctrl+1 … 9", "set task 1–9 back to unknown (?)"),
    ("A", "every unknown task of the image → absent"),
    ("C", "copy all labels from the previous image"),
    ("P", "accept the run's predictions for the unknown tasks (the button says which)"),
]
NAVIGATION_KEYS: list[tuple[str, str]] = [
    ("→  J  Space", "next image"),
    ("←  K", "previous image"),
    ("U", "next image with an unknown task"),
    ("N", "label next: the images the run is least sure of, most useful first"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
    ("F  /  Ctrl+0", "fit the image to the view"),
    ("wheel, drag", "zoom, pan"),
    ("F1  or  ?", "show or hide this help"),
]
MAX_TASK_KEYS = 9
