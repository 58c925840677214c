"""Grid's thumbnail (grid-model.md §2.1 step 9): a 256-px-wide oriented JPEG of the original.

Pillow stands in for GraphicsMagick: orient per EXIF, flatten transparency onto #333333, resize
to width 256 (small images are up-scaled), quality 85, progressive ("interlace Line").
"""

from __future__ import annotations

import io

from PIL import Image as PilImage
from PIL import ImageOps

from reingest.errors import CorruptFile
from reingest.loader.containers import check_size
from reingest.model import Asset, Dimensions

WIDTH = 256
BACKGROUND = (0x33, 0x33, 0x33)
QUALITY = 85
_SWAPPING = frozenset({5, 6, 7, 8})


def make_thumbnail(data: bytes) -> bytes:
    """The thumbnail JPEG; raises CorruptFile when Pillow cannot decode the original."""
    try:
        with PilImage.open(io.BytesIO(data)) as image:
            check_size(*image.size)
            swap = image.getexif().get(0x0112) in _SWAPPING
            width, height = image.size[::-1] if swap else image.size
            target = (WIDTH, max(1, round(height * WIDTH / width)))
            # decode JPEGs at the smallest DCT scale that still covers the target
            image.draft("RGB", target[::-1] if swap else target)
            oriented = ImageOps.exif_transpose(image)
            flat = _flatten(oriented).resize(target, PilImage.Resampling.LANCZOS)
    except PilImage.UnidentifiedImageError as error:  # its message names a Python object
        raise CorruptFile(
            "cannot make a thumbnail: the pixels are in no format Pillow reads"
        ) from error
    except (OSError, ValueError, SyntaxError, PilImage.DecompressionBombError) as error:
        raise CorruptFile(f"cannot make a thumbnail: {error}") from error
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=QUALITY, progressive=True)
    return out.getvalue()


def _flatten(image: PilImage.Image) -> PilImage.Image:
    """RGB, with any transparency composited onto Grid's #333333 background."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = PilImage.new("RGB", rgba.size, BACKGROUND)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale: scale to 8 bits
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def thumbnail_asset(uri: str, data: bytes) -> Asset:
    """The ``thumbnail`` Asset of a stored thumbnail (already oriented, so no EXIF fields)."""
    with PilImage.open(io.BytesIO(data)) as image:
        width, height = image.size
    return Asset(
        file=uri,
        size=len(data),
        mimeType="image/jpeg",
        dimensions=Dimensions(width=width, height=height),
        orientation="portrait" if width < height else "landscape",
    )
