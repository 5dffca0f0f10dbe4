"""The candidates of an auto run and the choice, as the trainer reports them.

The default run (``core/training/auto.py``) trains the pretrained head and the
compact network, then keeps the better on validation. Its ``auto`` events —
``plan``, one ``candidate`` per finished candidate, ``decision`` — are shown
here as a short list: each candidate's validation mean AP, run and time (or
why it was skipped), then which run was kept and why.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


def _line(c: dict[str, Any], kept: int | None) -> str:
    label = html.escape(str(c.get("label", "?")))
    status = c.get("status")
    if c.get("skipped"):
        return f"{label}: <i>skipped — {html.escape(str(c['skipped']))}</i>"
    if status is None:
        bound = f"at most {c.get('epochs')} epochs"
        if c.get("budget_s"):
            bound += f" or {float(c['budget_s']) / 60:.0f} min"
        return f"{label}: <i>to train ({bound})</i>"
    if status != "done":
        return f"{label}: <i>{html.escape(str(status))}</i>"
    ap = c.get("mean_ap")
    text = f"{label}: mean AP <b>{'n/a' if ap is None else f'{ap:.3f}'}</b>"
    text += f" · run {c.get('run')} · {float(c.get('seconds') or 0):.0f} s"
    return ("✔ " if kept is not None and c.get("run") == kept else "") + text


class AutoSummary(QLabel):
    """Empty (hidden) until an auto run reports; ``update_from(event)`` follows it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autoSummary")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._candidates: list[dict[str, Any]] = []
        self.hide()

    def clear(self) -> None:
        self._candidates = []
        self.setText("")
        self.hide()

    def update_from(self, event: dict[str, Any]) -> None:
        stage = event.get("stage")
        if stage in ("plan", "decision") and isinstance(event.get("candidates"), list):
            self._candidates = [dict(c) for c in event["candidates"]]
        elif stage == "candidate" and isinstance(event.get("candidate"), dict):
            done = event["candidate"]
            self._candidates = [
                done if c.get("key") == done.get("key") else c for c in self._candidates
            ]
        kept = event.get("kept") if stage == "decision" else None
        lines = "".join(f"<li>{_line(c, kept)}</li>" for c in self._candidates)
        text = f"<b>Auto:</b> the candidates, compared on the same validation cells<ul>{lines}</ul>"
        if stage == "decision":
            reason = html.escape(str(event.get("reason", "")))
            text += (
                f"Kept run {kept}: {reason}." if kept is not None else f"Nothing kept: {reason}."
            )
        self.setText(text)
        self.show()
