"""Documents shown inline: images are re-encoded without their metadata (pure)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from kycd.console import previews


def _png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Secret Person")
    info.add_text("GPS", "52.52,13.40")
    out = io.BytesIO()
    Image.new("RGBA", (6, 4), (1, 2, 3, 128)).save(out, format="PNG", pnginfo=info)
    return out.getvalue() + b"TRAILING-PAYLOAD"


def _gif_two_frames() -> bytes:
    frames = [Image.new("P", (5, 5), 1), Image.new("P", (5, 5), 2)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], comment=b"hi")
    return out.getvalue()


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 7), (9, 9, 9)).save(out, format="WEBP")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "media_type", "size", "absent"),
    [
        (_png_with_text(), "image/png", (6, 4), [b"Secret Person", b"52.52", b"TRAILING"]),
        (_gif_two_frames(), "image/png", (5, 5), [b"hi"]),
        (_webp(), "image/png", (3, 7), []),
    ],
)
def test_images_are_reencoded_without_metadata(
    data: bytes, media_type: str, size: tuple[int, int], absent: list[bytes]
) -> None:
    body, kind = previews.reencode_image(data)
    assert kind == media_type
    image = Image.open(io.BytesIO(body))
    assert image.size == size
    assert not getattr(image, "text", {})
    for secret in absent:
        assert secret not in body


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40],
)
def test_what_is_not_an_image_gets_no_preview(data: bytes) -> None:
    with pytest.raises(previews.PreviewError):
        previews.reencode_image(data)


def test_huge_images_are_refused_before_decoding() -> None:
    out = io.BytesIO()
    # A small file announcing a huge canvas: the classic decompression bomb.
    Image.new("1", (10_000, 6_000)).save(out, format="PNG")
    with pytest.raises(previews.PreviewError, match="too large"):
        previews.reencode_image(out.getvalue())


@pytest.mark.parametrize(
    ("content_type", "previewable"),
    [
        ("image/jpeg", True),
        ("application/pdf", True),
        ("image/heic", False),
        ("text/html", False),
    ],
)
def test_which_types_have_a_preview(content_type: str, previewable: bool) -> None:
    assert previews.can_preview(content_type) is previewable
