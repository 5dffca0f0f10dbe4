"""Use a model exported by ``mtlabel export-model`` with plain PyTorch and Pillow.

    python export_example.py EXPORT_DIR IMAGE [IMAGE ...]

prints, for each image, every task's probability and whether it is present
(probability >= the task's threshold). Nothing of mtlabel is needed: only
torch, Pillow and the two files ``model.pt`` and ``model.json``.

``load_pixels`` turns an image file into exactly the pixels the program trains
and predicts on (the sidecar's "preprocessing": EXIF orientation, JPEG draft
decoding, a bilinear "stretch" to S×S), so the probabilities equal the
program's own predictions. (A plain ``Image.open(f).convert("RGB").resize((S, S),
Image.BILINEAR)`` gives nearly the same numbers, not the same ones.)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
from PIL import Image

TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def load_pixels(path: str | Path, size: int) -> torch.Tensor:
    """The image as the model's input: uint8 (size, size, 3), RGB."""
    with Image.open(path) as im:
        w, h = im.size
        target = None
        if im.format in ("JPEG", "MPO") and min(w, h) > size:
            # JPEG draft mode: decode at 1/2, 1/4 or 1/8 scale, short side still >= size.
            m = max(size, math.ceil(size * max(w, h) / min(w, h)))
            if max(w, h) > m:
                k = m / max(w, h)
                target = (max(1, min(m, round(w * k))), max(1, min(m, round(h * k))))
                im.draft("RGB", (math.ceil(w * k), math.ceil(h * k)))
        im.load()
        orientation = im.getexif().get(0x0112, 1)
        if im.has_transparency_data:  # composite on white
            rgba = (im.convert("LA") if im.mode == "La" else im).convert("RGBA")
            rgb = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb.alpha_composite(rgba)
            rgb = rgb.convert("RGB")
        else:
            rgb = im.convert("RGB")
    if target is not None and rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if orientation in TRANSPOSE:
        rgb = rgb.transpose(TRANSPOSE[orientation])
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    data = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return data.view(size, size, 3)


def main(export_dir: str, images: list[str]) -> None:
    folder = Path(export_dir)
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    model = torch.jit.load(str(folder / "model.pt"), map_location="cpu").eval()
    size = meta["input"]["size"]
    batch = torch.stack([load_pixels(path, size) for path in images])  # (N, S, S, 3) uint8
    with torch.no_grad():
        probabilities = model(batch)  # (N, T): sigmoid outputs, tasks in meta["tasks"] order
    for path, row in zip(images, probabilities.tolist(), strict=True):
        print(path)
        for task, p in zip(meta["tasks"], row, strict=True):
            verdict = "present" if p >= task["threshold"] else "absent"
            print(f"  {task['name']:<24} {p:.4f}  {verdict}  (threshold {task['threshold']:.3f})")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python export_example.py EXPORT_DIR IMAGE [IMAGE ...]")
    main(sys.argv[1], sys.argv[2:])
