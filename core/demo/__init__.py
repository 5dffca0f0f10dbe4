"""A demo project generator: synthetic street scenes with partly hidden labels.

``create_demo`` makes a ready-to-train project with the four DEMO_TASKS, part
of whose cells are unknown; ``read_truth`` gives the true value of every cell,
so that how well training recovers the hidden ones can be measured.
``draw_scene`` draws one image and its truth without any project.
"""

from core.demo.project import DemoSummary, create_demo, read_truth, truth_path
from core.demo.scenes import DEMO_TASKS, draw_scene

__all__ = ["DEMO_TASKS", "DemoSummary", "create_demo", "draw_scene", "read_truth", "truth_path"]
