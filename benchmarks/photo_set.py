"""A generated set of photo-like images: real photographs composited on real textures.

    python benchmarks/photo_set.py DIR [--images 1100] [--unknown 0.5] [--seed 7]

Used by ``transfer_evidence.py --kind photos`` as the second image set next to
the drawn street scenes of ``mtlabel demo``. Every image (224 × 168 JPEG) is a
background cut from one of scikit-image's photographed textures (grass, gravel,
brick), colour-jittered, with each of five photographed objects — the
astronaut (a person), Chelsea (a cat), the coffee cup, the rocket, the
motorcycle, all shipped inside scikit-image, so nothing is downloaded — pasted
or not (each with probability 0.35), at a random scale (a quarter to a half of
the image), place, crop, flip, small rotation, brightness/contrast/saturation
jitter and sometimes blur, through a soft elliptical mask so that no straight
edge gives an object away. The tasks are the five objects; their presence is the
truth.

The project has the layout of a demo project (``demo/images``, ``demo/truth.csv``)
so the demo's helpers (``read_truth``, ``images_folder``) read it; a share
``--unknown`` of the cells is left unknown at random, the others hold the truth.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import skimage.data
from eval_sets import write_labelled_set  # type: ignore[import-not-found]  # sibling script
from PIL import Image, ImageEnhance, ImageFilter

from core.demo.project import images_folder

SIZE = (224, 168)
PRESENCE = 0.35
OBJECTS: dict[str, tuple[str, tuple[int, int, int, int] | None]] = {
    # task: (scikit-image's photo file, box around the object or None for all of it)
    "person": ("astronaut.png", (40, 0, 430, 512)),
    "cat": ("chelsea.png", (60, 0, 420, 300)),
    "coffee cup": ("coffee.png", (60, 20, 520, 390)),
    "rocket": ("rocket.jpg", (120, 0, 330, 640)),
    "motorcycle": ("motorcycle_left.png", None),
}
TEXTURES = ("grass.png", "gravel.png", "brick.png")
PHOTOS = Path(skimage.data.__file__).parent
"""The files lie in the installed package (not the ones scikit-image downloads)."""


def _rgb(name: str) -> Image.Image:
    with Image.open(PHOTOS / name) as image:
        return image.convert("RGB")


def _background(rng: np.random.Generator, textures: list[Image.Image]) -> Image.Image:
    texture = textures[rng.integers(len(textures))]
    scale = rng.uniform(0.4, 1.0)
    w, h = int(texture.width * scale), int(texture.height * scale)
    cut_w, cut_h = min(w, SIZE[0] * 2), min(h, SIZE[1] * 2)
    x, y = int(rng.integers(0, w - cut_w + 1)), int(rng.integers(0, h - cut_h + 1))
    part = texture.resize((w, h)).crop((x, y, x + cut_w, y + cut_h)).resize(SIZE)
    tint = np.asarray(part, dtype=np.float32) * rng.uniform(0.6, 1.3, 3)
    return Image.fromarray(np.clip(tint, 0, 255).astype(np.uint8))


def _object(rng: np.random.Generator, photo: Image.Image) -> tuple[Image.Image, Image.Image]:
    """A jittered cut of the photo and its soft elliptical mask."""
    w, h = photo.size
    keep = rng.uniform(0.75, 1.0)
    cw, ch = int(w * keep), int(h * keep)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    part = photo.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        part = part.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    part = ImageEnhance.Brightness(part).enhance(rng.uniform(0.7, 1.3))
    part = ImageEnhance.Contrast(part).enhance(rng.uniform(0.7, 1.3))
    part = ImageEnhance.Color(part).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.25:
        part = part.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    side = rng.uniform(0.25, 0.5) * SIZE[1] * 2
    scale = side / max(part.size)
    part = part.resize((max(8, int(part.width * scale)), max(8, int(part.height * scale))))
    yy, xx = np.mgrid[0 : part.height, 0 : part.width]
    r = ((xx - part.width / 2) / (part.width / 2)) ** 2 + (
        (yy - part.height / 2) / (part.height / 2)
    ) ** 2
    mask = Image.fromarray((np.clip((1.15 - r) / 0.3, 0, 1) * 255).astype(np.uint8))
    angle = rng.uniform(-15, 15)
    return part.rotate(angle, expand=True), mask.rotate(angle, expand=True)


def draw(
    rng: np.random.Generator, photos: dict[str, Image.Image], textures: list[Image.Image]
) -> tuple[Image.Image, dict[str, bool]]:
    """One image and which objects are in it; an object is placed where it overlaps the
    ones already there by at most a fifth of its area (else left out), so every object
    the truth names can be seen."""
    image = _background(rng, textures)
    taken = np.zeros((SIZE[1], SIZE[0]), dtype=bool)
    present = dict.fromkeys(OBJECTS, False)
    for task in rng.permutation(list(OBJECTS)):
        if rng.random() >= PRESENCE:
            continue
        part, mask = _object(rng, photos[str(task)])
        for _ in range(20):
            x = int(rng.integers(-part.width // 4, SIZE[0] - part.width * 3 // 4 + 1))
            y = int(rng.integers(-part.height // 4, SIZE[1] - part.height * 3 // 4 + 1))
            full = Image.new("L", SIZE)
            full.paste(mask, (x, y))
            footprint = np.asarray(full) > 127
            if (footprint & taken).sum() <= 0.2 * max(1, footprint.sum()):
                image.paste(part, (x, y), mask)
                taken |= footprint
                present[str(task)] = True
                break
    return image, present


def create_photo_set(folder: Path, images: int, unknown: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    photos = {}
    for task, (name, box) in OBJECTS.items():
        photo = _rgb(name)
        photos[task] = photo.crop(box) if box else photo
    textures = [_rgb(name) for name in TEXTURES]
    out = images_folder(folder)
    out.mkdir(parents=True)
    truth: dict[str, dict[str, bool]] = {}
    for i in range(images):
        image, present = draw(rng, photos, textures)
        name = f"photo_{i:05d}.jpg"
        image.save(out / name, quality=85)
        truth[name] = present
    write_labelled_set(folder, list(OBJECTS), truth, 1.0 - unknown, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--images", type=int, default=1100)
    parser.add_argument("--unknown", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    create_photo_set(args.folder, args.images, args.unknown, args.seed)
    print(f"created {args.images} photo-like images in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
