"""ICC profile header and text-like tags, named as metadata-extractor's IccDirectory."""

from __future__ import annotations

import struct
from functools import lru_cache

from reingest.loader.exif import decode_text, java_trim
from reingest.loader.xmp import MAX_VALUE_LENGTH, REDACTED

TAG_NAMES: dict[bytes, str] = {
    b"desc": "Profile Description", b"cprt": "Profile Copyright", b"wtpt": "Media White Point",
    b"bkpt": "Media Black Point", b"rXYZ": "Red Colorant", b"gXYZ": "Green Colorant",
    b"bXYZ": "Blue Colorant", b"rTRC": "Red TRC", b"gTRC": "Green TRC", b"bTRC": "Blue TRC",
    b"kTRC": "Gray TRC", b"dmnd": "Device Mfg Description", b"dmdd": "Device Model Description",
    b"vued": "Viewing Conditions Description", b"tech": "Technology", b"lumi": "Luminance",
    b"chad": "Chromatic Adaptation", b"targ": "Char Target",
}  # fmt: skip
_CLASSES = {
    b"scnr": "Input device", b"mntr": "Display device", b"prtr": "Output device",
    b"link": "DeviceLink", b"spac": "ColorSpace Conversion", b"abst": "Abstract",
    b"nmcl": "Named Color",
}  # fmt: skip
_PLATFORMS = {
    b"APPL": "Apple Computer, Inc.", b"MSFT": "Microsoft Corporation",
    b"SGI ": "Silicon Graphics, Inc.", b"SUNW": "Sun Microsystems, Inc.",
    b"TGNT": "Taligent, Inc.",
}  # fmt: skip
_TAG_ENTRY = struct.Struct(">4sII")  # signature, offset, length
_XYZ = struct.Struct(">3i")  # s15Fixed16 X, Y, Z
_INTENTS = ("Perceptual", "Media-Relative Colorimetric", "Saturation", "ICC-Absolute Colorimetric")


def _fmt(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"


#: UTF-8 spends at most four bytes a character: longer text is redacted without decoding it
_MAX_TEXT_BYTES = 4 * MAX_VALUE_LENGTH
_JAVA_SPACE = bytes(range(0x21))


def _text(raw: bytes) -> str:
    """decode_text up to the first NUL, or REDACTED when it is sure to be redacted anyway."""
    text = raw.split(b"\x00", 1)[0]
    if len(text) > _MAX_TEXT_BYTES and len(text.strip(_JAVA_SPACE)) > _MAX_TEXT_BYTES:
        return REDACTED
    return decode_text(text)


def _tag_text(raw: bytes) -> str | None:
    """The description of one tag element, by its type signature."""
    kind = raw[:4]
    if kind == b"desc" and len(raw) >= 12:
        (length,) = struct.unpack(">I", raw[8:12])
        return _text(raw[12 : 12 + length])
    if kind == b"text":
        return _text(raw[8:])
    if kind == b"mluc" and len(raw) >= 28:
        (length, offset) = struct.unpack(">II", raw[20:28])
        return raw[offset : offset + length].decode("utf-16-be", "replace")
    if kind == b"sig ":
        return decode_text(raw[8:12])
    if kind == b"XYZ " and len(raw) >= 20:
        return "(" + ", ".join(_fmt(v / 65536.0) for v in _XYZ.unpack_from(raw, 8)) + ")"
    if kind == b"curv" and len(raw) >= 12:
        (count,) = struct.unpack(">I", raw[8:12])
        if 11 * count - 2 > MAX_VALUE_LENGTH:  # "0.1234567, " per point: redacted anyway
            return REDACTED
        points = struct.unpack(f">{count}H", raw[12 : 12 + 2 * count])
        if count == 1:
            return _fmt(points[0] / 256.0)
        return ", ".join(f"{p / 65535.0:.7f}" for p in points)
    return None


def icc_map(profile: bytes) -> dict[str, str]:
    """Grid's icc map; every value longer than 5000 characters is redacted. Most files carry
    one of a few standard profiles (sRGB, Adobe RGB…), so a profile's map is kept for the next
    file with the same bytes; each caller gets its own copy."""
    if len(profile) > MAX_CACHED_PROFILE:
        return _icc_map(profile)
    return dict(_cached_icc_map(profile))


#: profiles up to this size are cached, so the cache holds at most ~2 MB of profile bytes
MAX_CACHED_PROFILE = 64 * 1024


@lru_cache(maxsize=32)
def _cached_icc_map(profile: bytes) -> dict[str, str]:
    return _icc_map(profile)


def _icc_map(profile: bytes) -> dict[str, str]:
    if len(profile) < 132:
        return {}
    head = profile[:128]
    size, cmm, version = struct.unpack(">I4sI", head[:12])
    out = {
        "Profile Size": str(size),
        "CMM Type": decode_text(cmm),
        "Version": f"{version >> 24}.{(version >> 20) & 0xF}.{(version >> 16) & 0xF}",
        "Class": _CLASSES.get(head[12:16], decode_text(head[12:16])),
        "Color space": decode_text(head[16:20]),
        "Profile Connection Space": decode_text(head[20:24]),
        "Signature": decode_text(head[36:40]),
        "Primary Platform": _PLATFORMS.get(head[40:44], decode_text(head[40:44])),
        "Device manufacturer": decode_text(head[48:52]),
        "Rendering Intent": _INTENTS[head[67]] if head[67] < len(_INTENTS) else str(head[67]),
        "Profile Creator": decode_text(head[80:84]),
    }
    (count,) = struct.unpack(">I", profile[128:132])
    out["Tag Count"] = str(count)
    count = min(count, 256, (len(profile) - 132) // 12)
    # a later element of the same tag wins: each tag's elements, latest first, are described
    # until one has a description, so a tag repeated 256 times is not read 256 times
    elements: dict[str, list[tuple[int, int]]] = {}
    for signature, offset, length in _TAG_ENTRY.iter_unpack(profile[132 : 132 + 12 * count]):
        if (name := TAG_NAMES.get(signature)) is not None:
            elements.setdefault(name, []).append((offset, length))
    texts: dict[tuple[int, int], str | None] = {}  # the R, G and B TRCs often share one curve
    for name, wheres in elements.items():
        for where in reversed(wheres):
            if where not in texts:
                texts[where] = _tag_text(profile[where[0] : where[0] + where[1]])
            if (text := texts[where]) is not None:
                out[name] = text
                break
    return {
        name: REDACTED if len(value) > MAX_VALUE_LENGTH else value
        for name, raw in out.items()
        if (value := java_trim(raw))
    }
