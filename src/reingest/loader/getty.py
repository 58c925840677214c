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


_KEYS = {name: tuple(f"GettyImagesGIFT:{p}" for p in props) for name, props in _FIELDS.items()}


def getty_map(raw_xmp: dict[str, str]) -> dict[str, str]:
    """Reads the flat (not aggregated) XMP, so indexed keys like ``Personality[1]`` never match."""
    out: dict[str, str] = {}
    for name, keys in _KEYS.items():
        for key in keys:
            if value := raw_xmp.get(key):
                out[name] = value
                break
    return out
