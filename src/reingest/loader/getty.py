"""Grid's ``getty`` map: a few simple GettyImagesGIFT properties under readable names."""

from __future__ import annotations

_FIELDS: dict[str, tuple[str, ...]] = {
    "Asset ID": ("AssetId", "AssetID"),
    "Call For Image": ("CallForImage",),
    "Camera Filename": ("CameraFilename",),
    "Camera Make Model": ("CameraMakeModel",),
    "Composition": ("Composition",),
    "Exclusive Coverage": ("ExclusiveCoverage",),
    "Image Rank": ("ImageRank",),
    "Original Create Date Time": ("OriginalCreateDateTime",),
    "Original Filename": ("OriginalFilename",),
    "Personality": ("Personality",),
    "Time Shot": ("TimeShot",),
}


def getty_map(raw_xmp: dict[str, str]) -> dict[str, str]:
    """Reads the flat (not aggregated) XMP, so indexed keys like ``Personality[1]`` never match."""
    out: dict[str, str] = {}
    for name, properties in _FIELDS.items():
        value = next((v for p in properties if (v := raw_xmp.get(f"GettyImagesGIFT:{p}"))), None)
        if value is not None:
            out[name] = value
    return out
