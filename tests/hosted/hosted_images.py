"""Pictures made for the tests: a document-like card with text and lines."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def document_image(
    seed: int,
    size: tuple[int, int] = (1200, 800),
    *,
    blur: float = 0.0,
    fmt: str = "JPEG",
    exif_gps: bool = False,
) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(200, 250), rng.randrange(200, 250), 235))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((w // 20, h // 10, w // 3, h * 7 // 10), fill=(120, 110, 100))
    for row in range(12):
        y = h // 10 + row * h // 16
        x = w * 2 // 5
        while x < w - w // 20:
            word = rng.randrange(w // 40, w // 8)
            draw.rectangle((x, y, x + word, y + max(2, h // 60)), fill=(20, 20, 30))
            x += word + w // 60
    for _ in range(40):
        x, y = rng.randrange(w), rng.randrange(h)
        draw.line(
            (x, y, x + rng.randrange(-60, 60), y + rng.randrange(-60, 60)),
            fill=(60, 60, 90),
            width=2,
        )
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "TestCam"
        gps = exif.get_ifd(0x8825)
        gps[2] = (52.0, 31.0, 12.0)
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()
