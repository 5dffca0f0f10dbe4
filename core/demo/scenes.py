"""Synthetic street scenes for the demo project: Pillow drawing, no files, no database.

Each scene has a sky, a ground (road, grass or pavement), clutter (buildings,
trees, clouds, lamp posts, patches on the ground) and any subset of the four
demo objects, each drawn with its own shape and colours:

* pedestrian: round head, body, arms and legs, varied skin and clothing colours;
* car: a box body with a cabin and windows on top, two dark wheels, side view;
* stop sign: a red octagon with a white rim and a white bar, on a grey pole;
* traffic light: a dark housing with red / amber / green lamps, one lit, on a pole.

The truth returned with each image is what was actually drawn: an object is
only placed where its main body lies wholly inside the image and is at most
slightly covered by other objects; clutter is drawn first and never hides an
object. A task whose objects could not be placed is reported absent.

Scenes are drawn at twice the requested size and reduced, for antialiasing;
brightness, colour cast, blur and noise then vary per image.
"""

from __future__ import annotations

import colorsys
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEMO_TASKS: tuple[str, ...] = ("pedestrian", "car", "stop sign", "traffic light")
PRESENCE_PROBABILITY = 0.4
"""Each task is present in an image with this probability, independently."""
COUNT_WEIGHTS = (0.6, 0.3, 0.1)
"""Probabilities of 1, 2 or 3 objects of a task that is present."""
MIN_SIZE = 32
MAX_SIZE = 1024
MAX_COVERED = 0.3
"""Most of an object's main body that other objects may cover, as a fraction."""

_SUPERSAMPLE = 2
_PLACEMENT_TRIES = 40

Colour = tuple[int, int, int]
Box = tuple[float, float, float, float]
RandomSource = np.random.Generator | random.Random


# -- randomness and colours ---------------------------------------------------------


def as_generator(rng: RandomSource) -> np.random.Generator:
    """A numpy Generator from either kind of random source (a Random is advanced)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(128))
    raise TypeError(f"rng must be a numpy Generator or a random.Random, not {type(rng).__name__}")


def _byte(value: float) -> int:
    return max(0, min(255, round(value)))


def _jitter(rng: np.random.Generator, colour: Colour, amount: int) -> Colour:
    d = rng.integers(-amount, amount + 1, size=3)
    return (_byte(colour[0] + d[0]), _byte(colour[1] + d[1]), _byte(colour[2] + d[2]))


def _grey(rng: np.random.Generator, low: int, high: int, tint: int = 4) -> Colour:
    value = int(rng.integers(low, high + 1))
    return _jitter(rng, (value, value, value), tint)


def _hsv(h: float, s: float, v: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (_byte(r * 255), _byte(g * 255), _byte(b * 255))


def _vivid(rng: np.random.Generator) -> Colour:
    return _hsv(rng.random(), rng.uniform(0.65, 0.95), rng.uniform(0.6, 0.95))


def _muted(rng: np.random.Generator) -> Colour:
    return _hsv(rng.random(), rng.uniform(0.15, 0.45), rng.uniform(0.3, 0.8))


def _pick(rng: np.random.Generator, options: tuple[Colour, ...], amount: int = 10) -> Colour:
    return _jitter(rng, options[int(rng.integers(len(options)))], amount)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (
        _byte(a[0] + (b[0] - a[0]) * t),
        _byte(a[1] + (b[1] - a[1]) * t),
        _byte(a[2] + (b[2] - a[2]) * t),
    )


_SKIES: tuple[tuple[Colour, Colour], ...] = (
    ((105, 150, 215), (185, 205, 230)),  # clear
    ((150, 160, 170), (195, 200, 205)),  # overcast
    ((100, 105, 160), (230, 168, 160)),  # dusk
    ((170, 190, 210), (215, 220, 225)),  # hazy
)
_BUILDINGS: tuple[Colour, ...] = (
    (150, 150, 150), (185, 185, 180), (115, 120, 130), (140, 150, 165),
    (200, 195, 160), (170, 175, 150), (95, 100, 110), (210, 210, 205),
)  # fmt: skip
_SKIN: tuple[Colour, ...] = (
    (241, 194, 165), (224, 172, 130), (198, 134, 96), (160, 106, 70), (115, 76, 52),
)  # fmt: skip
_HAIR: tuple[Colour, ...] = ((25, 20, 20), (60, 40, 30), (200, 170, 100), (150, 150, 150))
_TROUSERS: tuple[Colour, ...] = (
    (40, 50, 90), (30, 30, 35), (100, 100, 105), (170, 150, 110), (60, 80, 60),
)  # fmt: skip
_CAR_NEUTRAL: tuple[Colour, ...] = ((232, 232, 232), (180, 182, 186), (38, 38, 42), (80, 82, 88))
_LAMPS: tuple[Colour, ...] = ((235, 35, 30), (250, 175, 20), (40, 215, 90))


def _mix_point(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _disc(d: ImageDraw.ImageDraw, centre: tuple[float, float], r: float, fill: Colour) -> None:
    d.ellipse((centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r), fill=fill)


# -- objects ---------------------------------------------------------------------


@dataclass
class _Object:
    """A placed object: its task, the box of its main body and how to draw it."""

    task: str
    body: Box
    depth: float
    """Where it stands on the ground (larger is nearer); nearer objects are drawn later."""
    draw: Callable[[ImageDraw.ImageDraw], None]
    covered: float = 0.0


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlap(a: Box, b: Box) -> float:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def _pedestrian(rng: np.random.Generator, x: float, base: float, unit: float) -> _Object:
    h = unit * 0.42
    skin = _pick(rng, _SKIN, 8)
    hair = _pick(rng, _HAIR, 8)
    shirt = _vivid(rng) if rng.random() < 0.5 else _muted(rng)
    trousers = _pick(rng, _TROUSERS, 10)
    shoes = _grey(rng, 20, 60)
    stride = rng.uniform(0.02, 0.12) * h
    swing = rng.uniform(-0.06, 0.06) * h
    head_r = 0.085 * h
    head_y = base - h + head_r
    shoulder_y = base - 0.78 * h
    hip_y = base - 0.45 * h
    limb = max(1.0, 0.075 * h)
    short_sleeves = bool(rng.random() < 0.5)

    def draw(d: ImageDraw.ImageDraw) -> None:
        # legs, then torso, arms and head
        for side in (-1, 1):
            foot_x = x + side * stride
            d.line([(x + side * 0.05 * h, hip_y), (foot_x, base - 0.03 * h)], trousers, round(limb))
            d.ellipse((foot_x - 0.06 * h, base - 0.05 * h, foot_x + 0.06 * h, base), fill=shoes)
        d.polygon(
            [
                (x - 0.13 * h, shoulder_y), (x + 0.13 * h, shoulder_y),
                (x + 0.1 * h, hip_y + 0.03 * h), (x - 0.1 * h, hip_y + 0.03 * h),
            ],
            fill=shirt,
        )  # fmt: skip
        for side in (-1, 1):
            shoulder = (x + side * 0.12 * h, shoulder_y + 0.02 * h)
            hand = (x + side * 0.17 * h + swing * side, hip_y - 0.02 * h)
            arm = round(limb * 0.8)
            if short_sleeves:
                elbow = _mix_point(shoulder, hand, 0.45)
                d.line([elbow, hand], skin, arm)
                d.line([shoulder, elbow], shirt, arm)
            else:
                d.line([shoulder, hand], shirt, arm)
            _disc(d, hand, 0.035 * h, skin)
        d.rectangle((x - 0.03 * h, shoulder_y - 0.05 * h, x + 0.03 * h, shoulder_y), fill=skin)
        d.ellipse((x - head_r, head_y - head_r, x + head_r, head_y + head_r), fill=skin)
        d.pieslice((x - head_r, head_y - head_r, x + head_r, head_y + head_r), 180, 360, fill=hair)

    return _Object("pedestrian", (x - 0.2 * h, base - h, x + 0.2 * h, base), base, draw)


def _car(rng: np.random.Generator, x: float, base: float, unit: float) -> _Object:
    w = unit * 0.55
    colour = _vivid(rng) if rng.random() < 0.65 else _pick(rng, _CAR_NEUTRAL, 6)
    glass = _jitter(rng, (70, 90, 115), 12)
    tyre = _grey(rng, 18, 34, 2)
    hub = _grey(rng, 140, 190)
    facing = 1 if rng.random() < 0.5 else -1
    x0 = x - w / 2
    r = 0.11 * w
    body_bottom = base - 0.6 * r
    body_top = body_bottom - rng.uniform(0.2, 0.26) * w
    cabin_top = body_top - rng.uniform(0.16, 0.21) * w
    rear_in = rng.uniform(0.12, 0.22)
    front_in = rng.uniform(0.22, 0.32)

    def fx(t: float) -> float:
        """A position along the car, 0 at the rear, 1 at the front."""
        return x0 + (t if facing > 0 else 1 - t) * w

    def draw(d: ImageDraw.ImageDraw) -> None:
        cabin = [
            (fx(rear_in), body_top + 1), (fx(rear_in + 0.1), cabin_top),
            (fx(1 - front_in - 0.12), cabin_top), (fx(1 - front_in + 0.04), body_top + 1),
        ]  # fmt: skip
        d.polygon(cabin, fill=colour)
        inset = 0.025 * w
        windows = [
            (fx(rear_in + 0.04), body_top), (fx(rear_in + 0.11), cabin_top + inset),
            (fx(1 - front_in - 0.13), cabin_top + inset), (fx(1 - front_in - 0.01), body_top),
        ]  # fmt: skip
        d.polygon(windows, fill=glass)
        pillar = fx(0.5 - (front_in - rear_in) / 2)
        d.line([(pillar, cabin_top), (pillar, body_top)], colour, max(1, round(0.025 * w)))
        d.rounded_rectangle((x0, body_top, x0 + w, body_bottom), radius=0.06 * w, fill=colour)
        d.rectangle(
            (min(fx(0.96), fx(1.0)), body_top + 0.03 * w, max(fx(0.96), fx(1.0)),
             body_top + 0.07 * w),
            fill=(245, 235, 190),
        )  # fmt: skip
        for t in (0.2, 0.8):
            cx = fx(t)
            d.ellipse((cx - r, base - 2 * r, cx + r, base), fill=tyre)
            d.ellipse((cx - 0.45 * r, base - 1.45 * r, cx + 0.45 * r, base - 0.55 * r), fill=hub)

    return _Object("car", (x0, cabin_top, x0 + w, base), base, draw)


def _stop_sign(
    rng: np.random.Generator, x: float, base: float, unit: float, lift: float
) -> _Object:
    diameter = unit * 0.2
    radius = diameter / 2
    cy = base - lift * unit * 0.5 - radius
    red = _jitter(rng, (205, 25, 35), 15)
    white = _grey(rng, 225, 245, 3)
    pole = _grey(rng, 120, 160)
    angles = np.deg2rad(22.5 + 45 * np.arange(8))
    with_text = bool(rng.random() < 0.7)

    def octagon(rad: float) -> list[tuple[float, float]]:
        return [(x + rad * float(np.cos(a)), cy + rad * float(np.sin(a))) for a in angles]

    def draw(d: ImageDraw.ImageDraw) -> None:
        pw = max(1.0, 0.05 * diameter)
        d.rectangle((x - pw, cy, x + pw, base), fill=pole)
        d.polygon(octagon(radius), fill=white)
        d.polygon(octagon(radius * 0.86), fill=red)
        if with_text:  # four white blocks, like the letters of STOP
            for i in range(4):
                left = x + (i * 0.3 - 0.55) * radius
                d.rectangle(
                    (left, cy - 0.15 * radius, left + 0.2 * radius, cy + 0.15 * radius),
                    fill=white,
                )

    return _Object("stop sign", (x - radius, cy - radius, x + radius, cy + radius), base, draw)


def _traffic_light(
    rng: np.random.Generator, x: float, base: float, unit: float, lift: float
) -> _Object:
    height = unit * 0.3
    width = height * 0.36
    bottom = base - lift * unit * 0.4
    top = bottom - height
    housing = _grey(rng, 22, 40, 3)
    pole = _grey(rng, 70, 110)
    lit = int(rng.integers(3))
    lamp_r = width * 0.32

    def draw(d: ImageDraw.ImageDraw) -> None:
        pw = max(1.0, 0.12 * width)
        d.rectangle((x - pw, bottom, x + pw, base), fill=pole)
        d.rounded_rectangle(
            (x - width / 2, top, x + width / 2, bottom), radius=width * 0.2, fill=housing
        )
        for i, lamp in enumerate(_LAMPS):
            cy = top + height * (i + 0.5) / 3
            colour = lamp if i == lit else _mix(housing, lamp, 0.3)
            d.ellipse((x - lamp_r, cy - lamp_r, x + lamp_r, cy + lamp_r), fill=colour)

    return _Object("traffic light", (x - width / 2, top, x + width / 2, bottom), base, draw)


# -- the scene -------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    width: float
    height: float
    horizon: float
    unit: float
    """The length object sizes are measured in (the height of a 4:3 image)."""


def _propose(rng: np.random.Generator, task: str, layout: _Layout, shrink: float) -> _Object:
    low = layout.horizon + 0.06 * layout.height
    high = layout.height * 0.985
    base = rng.uniform(low, high)
    near = (base - low) / max(1.0, high - low)
    unit = layout.unit * (0.5 + 0.5 * near) * rng.uniform(0.85, 1.15) * shrink
    x = rng.uniform(0, layout.width)
    if task == "pedestrian":
        return _pedestrian(rng, x, base, unit)
    if task == "car":
        return _car(rng, x, base, unit)
    lift = rng.uniform(0.6, 1.0)
    if task == "stop sign":
        return _stop_sign(rng, x, base, unit, lift)
    return _traffic_light(rng, x, base, unit, lift)


def _fits(obj: _Object, placed: list[_Object], layout: _Layout) -> bool:
    left, top, right, bottom = obj.body
    if left < 1 or top < 1 or right > layout.width - 1 or bottom > layout.height - 1:
        return False
    area = _area(obj.body)
    covered = 0.0
    for other in placed:
        shared = _overlap(obj.body, other.body)
        if shared == 0:
            continue
        covered += shared
        if (other.covered + shared) > MAX_COVERED * _area(other.body):
            return False
    return covered <= MAX_COVERED * area


def _place_objects(rng: np.random.Generator, layout: _Layout) -> list[_Object]:
    present = [t for t in DEMO_TASKS if rng.random() < PRESENCE_PROBABILITY]
    counts = {t: int(rng.choice(len(COUNT_WEIGHTS), p=COUNT_WEIGHTS)) + 1 for t in present}
    # The first object of every present task is placed before any second one.
    order = list(rng.permutation(present))
    queue = order + [t for t in order for _ in range(counts[t] - 1)]
    placed: list[_Object] = []
    for task in queue:
        for attempt in range(_PLACEMENT_TRIES):
            obj = _propose(rng, str(task), layout, 0.97**attempt)
            if _fits(obj, placed, layout):
                for other in placed:
                    shared = _overlap(obj.body, other.body)
                    other.covered += shared
                    obj.covered += shared
                placed.append(obj)
                break
    return placed


def _background(rng: np.random.Generator, w: int, h: int, horizon: float) -> Image.Image:
    top, low = _SKIES[int(rng.integers(len(_SKIES)))]
    top, low = _jitter(rng, top, 12), _jitter(rng, low, 12)
    kind = rng.random()
    if kind < 0.55:
        ground = _grey(rng, 85, 125, 6)  # asphalt
    elif kind < 0.8:
        ground = _jitter(rng, (95, 135, 72), 14)  # grass
    else:
        ground = _grey(rng, 140, 175, 6)  # pavement
    far = _mix(ground, low, 0.25)
    rows = np.zeros((h, 3), dtype=np.float32)
    hz = int(horizon)
    t_sky = np.linspace(0.0, 1.0, hz, dtype=np.float32)[:, None]
    rows[:hz] = np.array(top, np.float32) * (1 - t_sky) + np.array(low, np.float32) * t_sky
    t_ground = np.linspace(0.0, 1.0, h - hz, dtype=np.float32)[:, None]
    rows[hz:] = np.array(far, np.float32) * (1 - t_ground) + np.array(ground, np.float32) * t_ground
    pixels = np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (h, w, 3)).astype(np.uint8))
    return Image.fromarray(pixels, "RGB")


def _clutter(rng: np.random.Generator, d: ImageDraw.ImageDraw, layout: _Layout) -> None:
    w, h, hz = layout.width, layout.height, layout.horizon
    for _ in range(int(rng.integers(0, 4))):  # clouds
        cx, cy = rng.uniform(0, w), rng.uniform(0, hz * 0.6)
        rx, ry = rng.uniform(0.06, 0.16) * w, rng.uniform(0.03, 0.07) * h
        d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=_grey(rng, 225, 245, 3))
    if rng.random() < 0.7:  # a row of buildings with gaps
        x = -rng.uniform(0, 0.1) * w
        while x < w:
            bw = rng.uniform(0.12, 0.35) * w
            if rng.random() < 0.8:
                roof = max(0.04 * h, hz - rng.uniform(0.1, 0.4) * h)
                colour = _pick(rng, _BUILDINGS, 12)
                d.rectangle((x, roof, x + bw, hz + 1), fill=colour)
                if rng.random() < 0.6:
                    window = (
                        _jitter(rng, (75, 88, 110), 10)
                        if rng.random() < 0.7
                        else _jitter(rng, (220, 210, 150), 10)
                    )
                    step = rng.uniform(0.05, 0.08) * layout.unit
                    wy = roof + step * 0.5
                    while wy + step * 0.5 < hz - step * 0.3:
                        wx = x + step * 0.4
                        while wx + step * 0.5 < x + bw:
                            d.rectangle((wx, wy, wx + step * 0.5, wy + step * 0.5), fill=window)
                            wx += step
                        wy += step
            x += bw + rng.uniform(0, 0.05) * w
    for _ in range(int(rng.integers(0, 4))):  # trees
        tx = rng.uniform(0, w)
        size = rng.uniform(0.08, 0.18) * layout.unit
        trunk_bottom = hz + rng.uniform(0.0, 0.05) * h
        d.rectangle(
            (tx - size * 0.1, trunk_bottom - size * 1.4, tx + size * 0.1, trunk_bottom),
            fill=_jitter(rng, (70, 62, 55), 6),
        )
        d.ellipse(
            (tx - size * 0.6, trunk_bottom - size * 2.3, tx + size * 0.6, trunk_bottom - size),
            fill=_jitter(rng, (62, 115, 55), 15),
        )
    ground_colour = _grey(rng, 80, 150, 8)
    for _ in range(int(rng.integers(0, 5))):  # patches and shadows on the ground
        cx, cy = rng.uniform(0, w), rng.uniform(hz, h)
        rx, ry = rng.uniform(0.04, 0.15) * w, rng.uniform(0.01, 0.04) * h
        d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=ground_colour)
    if rng.random() < 0.5:  # lane markings
        y = rng.uniform(hz + 0.15 * (h - hz), h - 0.1 * (h - hz))
        paint = _jitter(rng, (230, 230, 225), 8) if rng.random() < 0.7 else (225, 195, 70)
        dash, x = rng.uniform(0.06, 0.12) * w, rng.uniform(-0.1, 0) * w
        thick = max(1.0, 0.012 * h)
        while x < w:
            d.rectangle((x, y - thick, x + dash, y + thick), fill=paint)
            x += dash * rng.uniform(1.8, 2.4)
    for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.35 else 0):  # lamp posts
        px = rng.uniform(0, w)
        pbase = rng.uniform(hz + 0.05 * h, h)
        ph = (0.3 + 0.4 * (pbase - hz) / max(1.0, h - hz)) * layout.unit
        pole = _grey(rng, 60, 110)
        pw = max(1.0, 0.012 * layout.unit)
        d.rectangle((px - pw, pbase - ph, px + pw, pbase), fill=pole)
        d.line([(px, pbase - ph), (px + 0.08 * layout.unit, pbase - ph)], pole, round(pw * 2))
        lamp = (px + 0.085 * layout.unit, pbase - ph + pw)
        _disc(d, lamp, 0.025 * layout.unit, (235, 230, 200))


def _finish(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
    pixels = np.asarray(image, dtype=np.float32)
    gain = rng.uniform(0.75, 1.2) * rng.uniform(0.95, 1.05, size=3).astype(np.float32)
    noise = rng.normal(0.0, rng.uniform(2.0, 7.0), size=pixels.shape).astype(np.float32)
    out = np.clip(pixels * gain + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB")


def draw_scene(
    rng: RandomSource, size: tuple[int, int] = (160, 120)
) -> tuple[Image.Image, dict[str, int]]:
    """Draw one street scene of ``size`` = (width, height) pixels.

    Returns the RGB image and the truth: task name → 1 if at least one object
    of that task is visible in the image, else 0, for every name in DEMO_TASKS.
    The same generator state always gives the same image.
    """
    width, height = check_size(size)
    gen = as_generator(rng)
    cw, ch = width * _SUPERSAMPLE, height * _SUPERSAMPLE
    layout = _Layout(
        width=cw,
        height=ch,
        horizon=ch * gen.uniform(0.35, 0.58),
        unit=min(ch, cw * 0.75),
    )
    canvas = _background(gen, cw, ch, layout.horizon)
    d = ImageDraw.Draw(canvas)
    _clutter(gen, d, layout)
    objects = _place_objects(gen, layout)
    for obj in sorted(objects, key=lambda o: o.depth):
        obj.draw(d)
    image = _finish(gen, canvas.reduce(_SUPERSAMPLE))
    present = {o.task for o in objects}
    return image, {task: int(task in present) for task in DEMO_TASKS}


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) as ints, or ValueError if they are not whole numbers in range."""
    try:
        width, height = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height), not {size!r}") from None
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"size must be two whole numbers, not {size!r}")
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise ValueError(
                f"image size {width}×{height} is out of range: each side must be "
                f"{MIN_SIZE} to {MAX_SIZE} pixels"
            )
    return int(width), int(height)
