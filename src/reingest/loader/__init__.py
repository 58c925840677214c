"""Re-reads an original image and produces what Grid's image-loader produces.

Pure: bytes in, models out. No file system access, no global state touched.
"""

from __future__ import annotations

from reingest.loader.converter import image_metadata
from reingest.loader.image import build_image
from reingest.loader.reader import FileFacts, read_file

__all__ = ["FileFacts", "build_image", "image_metadata", "read_file"]
