"""``colourModel`` and ``colourModelInformation`` without running GraphicsMagick/ImageMagick.

Grid asks the imaging tools; their answers follow from header fields, mapped here.
"""

from __future__ import annotations

from reingest.loader.containers import Container
from reingest.loader.exif import describe
from reingest.loader.mime import JPEG, PNG

PHOTOMETRIC = 0x0106
_PNG_COLOUR_TYPES = {
    0: "Greyscale", 2: "True Color", 3: "Indexed Color", 4: "Greyscale with Alpha",
    6: "True Color with Alpha",
}  # fmt: skip
_TIFF_MODELS = {0: "Greyscale", 1: "Greyscale", 5: "CMYK", 8: "LAB", 9: "LAB", 10: "LAB"}
LINEAR_GAMMA = 100000  # gAMA 1.0: ImageMagick calls the image LinearGray, which Grid maps to RGB


def colour_model(mime: str, container: Container) -> str:
    colour = container.colour
    if mime == JPEG:
        components = colour.get("components")
        if components == 1:
            return "Greyscale"
        if components == 4 and colour.get("adobe_transform") != 2:  # 2 = YCCK → "RGB"
            return "CMYK"
        return "RGB"
    if mime == PNG:
        greyscale = colour.get("type") in (0, 4)
        return "Greyscale" if greyscale and colour.get("gamma") != LINEAR_GAMMA else "RGB"
    photometric = container.ifd0.get(PHOTOMETRIC)
    return _TIFF_MODELS.get(photometric.first_int or 0 if photometric else 2, "RGB")


def colour_information(mime: str, container: Container) -> dict[str, str]:
    colour = container.colour
    if mime == PNG:
        colour_type = colour.get("type", -1)
        info = {
            "hasAlpha": str(colour_type in (4, 6) or "trns" in colour).lower(),
            "colorType": _PNG_COLOUR_TYPES.get(colour_type, f"Unknown ({colour_type})"),
            "bitsPerSample": str(colour.get("depth")),
        }
        if colour_type == 3 and "trns" in colour:
            info["paletteHasTransparency"] = "1"
        if "palette" in colour:
            info["paletteSize"] = str(colour["palette"])
        if container.png_icc_name:
            info["iccProfileName"] = container.png_icc_name
        return info
    ifd0 = container.ifd0
    if mime == JPEG:
        info = {"hasAlpha": "false", "bitsPerSample": "8"}
        if container.exif is not None:
            ifd0 = container.exif.read_ifd(container.exif.ifd0_offset)
    else:
        extra = ifd0.get(0x0152)
        info = {"hasAlpha": str(bool(extra and set(extra.ints) & {1, 2})).lower()}
        bits = ifd0.get(0x0102)
        if bits is not None and bits.first_int is not None:
            info["bitsPerSample"] = str(bits.first_int)
    photometric = ifd0.get(PHOTOMETRIC)
    if photometric is not None and (text := describe(photometric, ifd0)):
        info["photometricInterpretation"] = text
    return info
