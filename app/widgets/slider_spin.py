"""A slider and a spin box that show one value: the spin box's, the slider in steps."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QDoubleSpinBox, QSlider


def link_slider_and_spin(
    slider: QSlider, spin: QDoubleSpinBox, steps: int, changed: Callable[[], None]
) -> None:
    """Keep ``slider`` at ``round(spin.value() × steps)`` and the spin box at
    ``slider.value() / steps``, whichever the user moves; ``changed()`` runs once per
    change of the spin box's value (the one the dialogs read)."""

    def slider_moved(value: int) -> None:
        if round(spin.value() * steps) != value:
            spin.setValue(value / steps)

    def spin_changed(value: float) -> None:
        step = round(value * steps)
        if slider.value() != step:
            with QSignalBlocker(slider):
                slider.setValue(step)
        changed()

    slider.valueChanged.connect(slider_moved)
    spin.valueChanged.connect(spin_changed)
