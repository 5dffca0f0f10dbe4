"""A generated set of grayscale, non-photographic images: composites of drawn digits.

    python benchmarks/digit_set.py DIR [--images 2000] [--unknown 0.5] [--seed 7]

Each 64 × 64 grayscale PNG holds one to four digits 0–9, each drawn as pen strokes
(no font, so every machine draws the same) whose control points are jittered per
image, then scaled (16–26 px tall), sheared, rotated (±20°) and stroked 2–4 px
wide in a random grey, on a dark background with a gradient, noise and a few
stray strokes. A digit appears at most once per image. The tasks are "digit 0"
… "digit 9" (is that digit in the image?): ten tasks, each present in about a
quarter of the images. Images that ImageNet features describe badly — the set
on which a network trained from scratch must beat the pretrained head.

The layout is a demo project's (``demo/images``, ``demo/truth.csv``), with a share
``--unknown`` of the cells left unknown at random (``eval_sets.write_labelled_set``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from eval_sets import write_labelled_set  # type: ignore[import-not-found]  # sibling script
from PIL import Image, ImageDraw, ImageFilter

from core.demo.project import images_folder

SIZE = 64
PRESENCE = 0.25


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    steps = 14
    return [
        (
            cx + rx * math.cos(2 * math.pi * k / steps),
            cy + ry * math.sin(2 * math.pi * k / steps),
        )
        for k in range(steps + 1)
    ]


# Each digit: strokes, each a polyline in a unit box (x right, y down).
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_ellipse(0.5, 0.5, 0.32, 0.47)],
    1: [[(0.3, 0.22), (0.55, 0.0), (0.55, 1.0)]],
    2: [
        [(0.15, 0.25), (0.3, 0.05), (0.7, 0.05), (0.85, 0.25), (0.8, 0.45), (0.15, 1.0), (0.9, 1.0)]
    ],
    3: [[(0.15, 0.1), (0.5, 0.0), (0.85, 0.2), (0.5, 0.48), (0.9, 0.7), (0.5, 1.0), (0.1, 0.9)]],
    4: [[(0.7, 1.0), (0.7, 0.0), (0.1, 0.7), (0.95, 0.7)]],
    5: [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.9, 0.65), (0.6, 1.0), (0.1, 0.9)]],
    6: [
        [
            (0.8, 0.05),
            (0.4, 0.1),
            (0.15, 0.6),
            (0.3, 0.95),
            (0.7, 0.95),
            (0.85, 0.7),
            (0.6, 0.5),
            (0.2, 0.65),
        ]
    ],
    7: [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    8: [_ellipse(0.5, 0.26, 0.28, 0.24), _ellipse(0.5, 0.74, 0.34, 0.26)],
    9: [_ellipse(0.5, 0.3, 0.32, 0.28), [(0.82, 0.3), (0.72, 1.0)]],
}
TASKS = [f"digit {d}" for d in range(10)]


Point = tuple[float, float]


def _place(
    rng: np.random.Generator,
    points: list[Point],
    height: float,
    centre: Point,
    angle: float,
    shear: float,
) -> list[Point]:
    cx, cy = centre
    out = []
    width = height * rng.uniform(0.55, 0.75)
    cos, sin = math.cos(angle), math.sin(angle)
    for x, y in points:
        x, y = x + rng.normal(0, 0.045), y + rng.normal(0, 0.045)
        px, py = (x - 0.5) * width + shear * (y - 0.5) * height, (y - 0.5) * height
        out.append((cx + cos * px - sin * py, cy + sin * px + cos * py))
    return out


def draw(rng: np.random.Generator) -> tuple[Image.Image, dict[str, bool]]:
    """One image and which digits are in it."""
    ramp = np.linspace(0, rng.uniform(0, 60), SIZE)
    base = rng.uniform(0, 50) + (ramp[None, :] if rng.random() < 0.5 else ramp[:, None])
    pixels = base + rng.normal(0, 8, (SIZE, SIZE))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    pen = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 3))):  # stray strokes
        xy = [tuple(rng.uniform(0, SIZE, 2)) for _ in range(int(rng.integers(2, 4)))]
        pen.line(xy, fill=int(rng.uniform(60, 160)), width=int(rng.integers(1, 3)))
    digits = [d for d in range(10) if rng.random() < PRESENCE]
    if not digits:
        digits = [int(rng.integers(0, 10))]
    digits = [int(d) for d in rng.permutation(digits)[:4]]
    # Up to four slots (a jittered 2 × 2 grid), so digits rarely cover each other.
    slots = rng.permutation(4)
    for digit, slot in zip(digits, slots, strict=False):
        height = rng.uniform(16, 26)
        cx = (0.27 + 0.46 * (slot % 2)) * SIZE + rng.uniform(-4, 4)
        cy = (0.27 + 0.46 * (slot // 2)) * SIZE + rng.uniform(-4, 4)
        angle, shear = rng.uniform(-0.35, 0.35), rng.uniform(-0.3, 0.3)
        ink, width = int(rng.uniform(150, 255)), int(rng.integers(2, 5))
        for stroke in STROKES[digit]:
            pen.line(
                _place(rng, stroke, height, (cx, cy), angle, shear),
                fill=ink,
                width=width,
                joint="curve",
            )
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
    present = {task: d in digits for d, task in enumerate(TASKS)}
    return image, present


def create_digit_set(folder: Path, images: int, unknown: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = images_folder(folder)
    out.mkdir(parents=True)
    truth: dict[str, dict[str, bool]] = {}
    for i in range(images):
        image, present = draw(rng)
        name = f"digits_{i:05d}.png"
        image.save(out / name)
        truth[name] = present
    write_labelled_set(folder, TASKS, truth, 1.0 - unknown, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--unknown", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    create_digit_set(args.folder, args.images, args.unknown, args.seed)
    print(f"created {args.images} digit images in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
