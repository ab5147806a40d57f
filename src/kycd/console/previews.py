"""Documents shown inline in the console.

An uploaded image is never handed to the browser as uploaded: it is decoded
and encoded again with Pillow, which drops everything but the pixels (EXIF
with its GPS position and camera serial, XMP, ICC tricks, trailing payloads,
polyglot files), and is turned upright from its EXIF orientation first.
Pure: bytes in, bytes out.
"""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

# Larger images are refused rather than decoded: a decompression bomb must not
# take the server down. 50 megapixels covers any scanner or phone camera.
MAX_PIXELS = 50_000_000
# Types Pillow decodes without plugins; HEIC/HEIF need one and get no preview.
PREVIEWABLE_IMAGES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"}
)
PDF = "application/pdf"


class PreviewError(Exception):
    pass


def can_preview(content_type: str) -> bool:
    return content_type in PREVIEWABLE_IMAGES or content_type == PDF


def reencode_image(data: bytes) -> tuple[bytes, str]:
    """The image's pixels as a fresh JPEG (photos) or PNG (everything else),
    with no metadata. Returns the bytes and their content type."""
    try:
        with Image.open(BytesIO(data)) as source:
            if source.width * source.height > MAX_PIXELS:
                raise PreviewError("image too large to preview")
            source.seek(0)  # animated GIF/WebP, multi-page TIFF: the first frame
            is_jpeg = source.format == "JPEG"
            upright = ImageOps.exif_transpose(source)
            out = BytesIO()
            if is_jpeg:
                upright.convert("RGB").save(out, format="JPEG", quality=90, optimize=True)
                return out.getvalue(), "image/jpeg"
            mode = "RGBA" if upright.mode in {"RGBA", "LA", "P", "PA"} else "RGB"
            upright.convert(mode).save(out, format="PNG", optimize=True)
            return out.getvalue(), "image/png"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PreviewError(f"cannot decode image: {exc}") from exc
