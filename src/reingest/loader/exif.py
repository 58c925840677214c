"""EXIF IFD0 and SubIFD as Grid stores them: metadata-extractor tag names → descriptions."""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from reingest.errors import CorruptFile
from reingest.loader.tiff import ASCII, Entry, Rational, Tiff

log = logging.getLogger(__name__)

EXIF_SUB_IFD, GPS_IFD, INTEROP_IFD, SUB_IFDS = 0x8769, 0x8825, 0xA005, 0x014A
ORIENTATION = 0x0112
#: tags that are pointers or that metadata-extractor routes into other directories
_NOT_STORED = frozenset(
    {EXIF_SUB_IFD, GPS_IFD, INTEROP_IFD, SUB_IFDS, 0x02BC, 0x83BB, 0x8773, 0x8649, 0x927C}
)

TAG_NAMES: dict[int, str] = {
    0x00FE: "New Subfile Type", 0x00FF: "Subfile Type", 0x0100: "Image Width",
    0x0101: "Image Height", 0x0102: "Bits Per Sample", 0x0103: "Compression",
    0x0106: "Photometric Interpretation", 0x0107: "Thresholding", 0x010A: "Fill Order",
    0x010D: "Document Name", 0x010E: "Image Description", 0x010F: "Make", 0x0110: "Model",
    0x0111: "Strip Offsets", 0x0112: "Orientation", 0x0115: "Samples Per Pixel",
    0x0116: "Rows Per Strip", 0x0117: "Strip Byte Counts", 0x0118: "Minimum Sample Value",
    0x0119: "Maximum Sample Value", 0x011A: "X Resolution", 0x011B: "Y Resolution",
    0x011C: "Planar Configuration", 0x011D: "Page Name", 0x0128: "Resolution Unit",
    0x0129: "Page Number", 0x012D: "Transfer Function", 0x0131: "Software",
    0x0132: "Date/Time", 0x013B: "Artist", 0x013C: "Host Computer", 0x013D: "Predictor",
    0x013E: "White Point", 0x013F: "Primary Chromaticities", 0x0142: "Tile Width",
    0x0143: "Tile Length", 0x0144: "Tile Offsets", 0x0145: "Tile Byte Counts",
    0x0152: "Extra Samples", 0x0153: "Sample Format", 0x015B: "JPEG Tables",
    0x0200: "JPEG Proc", 0x0211: "YCbCr Coefficients", 0x0212: "YCbCr Sub-Sampling",
    0x0213: "YCbCr Positioning", 0x0214: "Reference Black/White", 0x4746: "Rating",
    0x4749: "Rating Percent", 0x828D: "CFA Repeat Pattern Dim", 0x828E: "CFA Pattern 2",
    0x828F: "Battery Level", 0x8298: "Copyright", 0x829A: "Exposure Time", 0x829D: "F-Number",
    0x8822: "Exposure Program", 0x8824: "Spectral Sensitivity", 0x8827: "ISO Speed Ratings",
    0x8828: "Opto-electric Conversion Function (OECF)", 0x8829: "Interlace",
    0x882A: "Time Zone Offset", 0x882B: "Self Timer Mode", 0x8830: "Sensitivity Type",
    0x8831: "Standard Output Sensitivity", 0x8832: "Recommended Exposure Index",
    0x8833: "ISO Speed", 0x8834: "ISO Speed Latitude yyy", 0x8835: "ISO Speed Latitude zzz",
    0x9000: "Exif Version", 0x9003: "Date/Time Original", 0x9004: "Date/Time Digitized",
    0x9010: "Offset Time", 0x9011: "Offset Time Original", 0x9012: "Offset Time Digitized",
    0x9101: "Components Configuration", 0x9102: "Compressed Bits Per Pixel",
    0x9201: "Shutter Speed Value", 0x9202: "Aperture Value", 0x9203: "Brightness Value",
    0x9204: "Exposure Bias Value", 0x9205: "Max Aperture Value", 0x9206: "Subject Distance",
    0x9207: "Metering Mode", 0x9208: "White Balance", 0x9209: "Flash", 0x920A: "Focal Length",
    0x920B: "Flash Energy", 0x920C: "Spatial Frequency Response", 0x920D: "Noise",
    0x920E: "Focal Plane X Resolution", 0x920F: "Focal Plane Y Resolution",
    0x9211: "Image Number", 0x9212: "Security Classification", 0x9213: "Image History",
    0x9214: "Subject Location", 0x9215: "Exposure Index", 0x9216: "TIFF/EP Standard ID",
    0x9286: "User Comment", 0x9290: "Sub-Sec Time", 0x9291: "Sub-Sec Time Original",
    0x9292: "Sub-Sec Time Digitized", 0x9400: "Temperature", 0x9401: "Humidity",
    0x9402: "Pressure", 0x9403: "Water Depth", 0x9404: "Acceleration",
    0x9405: "Camera Elevation Angle", 0x9C9B: "Windows XP Title", 0x9C9C: "Windows XP Comment",
    0x9C9D: "Windows XP Author", 0x9C9E: "Windows XP Keywords", 0x9C9F: "Windows XP Subject",
    0xA000: "FlashPix Version", 0xA001: "Color Space", 0xA002: "Exif Image Width",
    0xA003: "Exif Image Height", 0xA004: "Related Sound File", 0xA20B: "Flash Energy",
    0xA20C: "Spatial Frequency Response", 0xA20E: "Focal Plane X Resolution",
    0xA20F: "Focal Plane Y Resolution", 0xA210: "Focal Plane Resolution Unit",
    0xA214: "Subject Location", 0xA215: "Exposure Index", 0xA217: "Sensing Method",
    0xA300: "File Source", 0xA301: "Scene Type", 0xA302: "CFA Pattern",
    0xA401: "Custom Rendered", 0xA402: "Exposure Mode", 0xA403: "White Balance Mode",
    0xA404: "Digital Zoom Ratio", 0xA405: "Focal Length 35", 0xA406: "Scene Capture Type",
    0xA407: "Gain Control", 0xA408: "Contrast", 0xA409: "Saturation", 0xA40A: "Sharpness",
    0xA40B: "Device Setting Description", 0xA40C: "Subject Distance Range",
    0xA420: "Unique Image ID", 0xA430: "Camera Owner Name", 0xA431: "Body Serial Number",
    0xA432: "Lens Specification", 0xA433: "Lens Make", 0xA434: "Lens Model",
    0xA435: "Lens Serial Number", 0xA500: "Gamma", 0xC4A5: "Print Image Matching (PrintIM) Info",
    0xEA1C: "Padding",
}  # fmt: skip

#: value → label lookups (metadata-extractor's indexed/switch descriptions)
_LABELS: dict[int, dict[int, str]] = {
    0x00FE: dict(enumerate((
        "Full-resolution image", "Reduced-resolution image", "Single page of multi-page image",
        "Single page of multi-page reduced-resolution image", "Transparency mask",
        "Transparency mask of reduced-resolution image", "Transparency mask of multi-page image",
        "Transparency mask of reduced-resolution multi-page image"))),
    0x00FF: {1: "Full-resolution image", 2: "Reduced-resolution image",
             3: "Single page of multi-page image"},
    0x0103: {1: "Uncompressed", 2: "CCITT 1D", 3: "T4/Group 3 Fax", 4: "T6/Group 4 Fax",
             5: "LZW", 6: "JPEG (old-style)", 7: "JPEG", 8: "Adobe Deflate", 9: "JBIG B&W",
             10: "JBIG Color", 99: "JPEG", 262: "Kodak 262", 32766: "Next",
             32767: "Sony ARW Compressed", 32769: "Packed RAW", 32770: "Samsung SRW Compressed",
             32771: "CCIRLEW", 32772: "Samsung SRW Compressed 2", 32773: "PackBits",
             32809: "Thunderscan", 32867: "Kodak KDC Compressed", 32895: "IT8CTPAD",
             32896: "IT8LW", 32897: "IT8MP", 32898: "IT8BL", 32908: "PixarFilm",
             32909: "PixarLog", 32946: "Deflate", 32947: "DCS", 34661: "JBIG",
             34676: "SGILog", 34677: "SGILog24", 34712: "JPEG 2000",
             34713: "Nikon NEF Compressed", 34715: "JBIG2 TIFF FX", 34892: "Lossy JPEG",
             65000: "Kodak DCR Compressed", 65535: "Pentax PEF Compressed"},
    0x0106: {0: "WhiteIsZero", 1: "BlackIsZero", 2: "RGB", 3: "RGB Palette",
             4: "Transparency Mask", 5: "CMYK", 6: "YCbCr", 8: "CIELab", 9: "ICCLab",
             10: "ITULab", 32803: "Color Filter Array", 32844: "Pixar LogL",
             32845: "Pixar LogLuv", 32892: "Linear Raw"},
    0x0107: {1: "No dithering or halftoning", 2: "Ordered dither or halftone",
             3: "Randomized dither"},
    0x010A: {1: "Normal", 2: "Reversed"},
    0x0112: {1: "Top, left side (Horizontal / normal)", 2: "Top, right side (Mirror horizontal)",
             3: "Bottom, right side (Rotate 180)", 4: "Bottom, left side (Mirror vertical)",
             5: "Left side, top (Mirror horizontal and rotate 270 CW)",
             6: "Right side, top (Rotate 90 CW)",
             7: "Right side, bottom (Mirror horizontal and rotate 90 CW)",
             8: "Left side, bottom (Rotate 270 CW)"},
    0x011C: {1: "Chunky (contiguous for each subsampling pixel)",
             2: "Separate (Y-plane/Cb-plane/Cr-plane format)"},
    0x0128: {1: "(No unit)", 2: "Inch", 3: "cm"},
    0x013D: {1: "No prediction scheme used before coding", 2: "Horizontal differencing",
             3: "Floating point horizontal differencing"},
    0x0152: {0: "Unspecified", 1: "Associated alpha", 2: "Unassociated alpha"},
    0x0213: {1: "Center of pixel array", 2: "Datum point"},
    0x8822: dict(enumerate(("", "Manual control", "Program normal", "Aperture priority",
                            "Shutter priority", "Program creative (slow program)",
                            "Program action (high-speed program)", "Portrait mode",
                            "Landscape mode"))),
    0x8830: dict(enumerate((
        "Unknown", "Standard Output Sensitivity", "Recommended Exposure Index", "ISO Speed",
        "Standard Output Sensitivity and Recommended Exposure Index",
        "Standard Output Sensitivity and ISO Speed", "Recommended Exposure Index and ISO Speed",
        "Standard Output Sensitivity, Recommended Exposure Index and ISO Speed"))),
    0x9207: {0: "Unknown", 1: "Average", 2: "Center weighted average", 3: "Spot",
             4: "Multi-spot", 5: "Multi-segment", 6: "Partial", 255: "(Other)"},
    0x9208: {0: "Unknown", 1: "Daylight", 2: "Fluorescent", 3: "Tungsten (Incandescent)",
             4: "Flash", 9: "Fine Weather", 10: "Cloudy", 11: "Shade",
             12: "Daylight Fluorescent", 13: "Day White Fluorescent",
             14: "Cool White Fluorescent", 15: "White Fluorescent",
             16: "Warm White Fluorescent", 17: "Standard Light A", 18: "Standard Light B",
             19: "Standard Light C", 20: "D55", 21: "D65", 22: "D75", 23: "D50",
             24: "ISO Studio Tungsten", 255: "Other"},
    0xA001: {1: "sRGB", 65535: "Undefined"},
    0xA210: {1: "(No unit)", 2: "Inches", 3: "cm"},
    0xA217: {1: "(Not defined)", 2: "One-chip color area sensor",
             3: "Two-chip color area sensor", 4: "Three-chip color area sensor",
             5: "Color sequential area sensor", 7: "Trilinear sensor",
             8: "Color sequential linear sensor"},
    0xA300: {1: "Film Scanner", 2: "Reflection Print Scanner",
             3: "Digital Still Camera (DSC)"},
    0xA301: {1: "Directly photographed image"},
    0xA401: {0: "Normal process", 1: "Custom process"},
    0xA402: {0: "Auto exposure", 1: "Manual exposure", 2: "Auto bracket"},
    0xA403: {0: "Auto white balance", 1: "Manual white balance"},
    0xA406: {0: "Standard", 1: "Landscape", 2: "Portrait", 3: "Night scene"},
    0xA407: {0: "None", 1: "Low gain up", 2: "Low gain down", 3: "High gain up",
             4: "High gain down"},
    0xA408: {0: "None", 1: "Soft", 2: "Hard"},
    0xA409: {0: "None", 1: "Low saturation", 2: "High saturation"},
    0xA40A: {0: "None", 1: "Low", 2: "Hard"},
    0xA40C: {0: "Unknown", 1: "Macro", 2: "Close view", 3: "Distant view"},
}  # fmt: skip

#: tags whose description is the generic value followed by a unit
_SUFFIXES: dict[int, str] = {
    0x0100: "pixels", 0x0101: "pixels", 0xA002: "pixels", 0xA003: "pixels",
    0x0102: "bits/component/pixel", 0x0115: "samples/pixel", 0x0116: "rows/strip",
    0x0117: "bytes",
}  # fmt: skip

_SAMPLE_FORMATS = ("", "Unsigned", "Signed", "Float", "Undefined", "Complex int", "Complex float")
_CFA_COLOURS = ("Red", "Green", "Blue", "Cyan", "Magenta", "Yellow", "White")
_USER_COMMENT_CHARSETS = {"ASCII": "utf-8", "UNICODE": "utf-16-le", "JIS": "shift_jis"}
_EXIF_DATE = re.compile(r"(\d{4})[:\-.](\d{2})[:\-.](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


_JAVA_WHITESPACE = "".join(map(chr, range(0x21)))


def java_trim(text: str) -> str:
    """Java's ``String.trim``: strips every code point <= U+0020 (NULs included)."""
    return text.strip(_JAVA_WHITESPACE)


def decode_text(raw: bytes) -> str:
    """Text in the file's bytes: UTF-8 when valid, else ISO-8859-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _ascii(raw: bytes) -> str:
    return decode_text(raw.split(b"\x00", 1)[0])


def generic(entry: Entry) -> str:
    """metadata-extractor's default description: the value, arrays space-joined (a float's
    ``str`` is its shortest round-trip ``repr``)."""
    if entry.type == ASCII and isinstance(value := entry.value, bytes):
        return _ascii(value)
    if entry.count > 16:  # the count alone decides: big arrays are never decoded
        return f"[{entry.count} values]"
    return " ".join(map(str, entry.value))


def _f_stop(value: float) -> str:
    return f"f/{_decimal(value, 1, 1)}"


def _decimal(value: float, min_digits: int, max_digits: int) -> str:
    """java.text.DecimalFormat("0.0##")-style: between min and max fraction digits."""
    text = f"{value:.{max_digits}f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min_digits, "0")
        return f"{whole}.{frac}" if frac else whole
    return text


def _focal_length(value: float) -> str:
    return f"{_decimal(value, 0, 1)} mm"


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _first_rational(entry: Entry) -> Rational | None:
    rationals = entry.head_rationals(1)
    return rationals[0] if rationals else None


def _resolution(entry: Entry, ifd: dict[int, Entry]) -> str | None:
    value = _first_rational(entry)
    if value is None:
        return None
    unit = ifd.get(0x0128)
    label = _LABELS[0x0128].get(unit.first_int or 0) if unit else None
    return f"{value.simple()} dots" + (f" per {label.lower()}" if label else "")


def _focal_plane_resolution(entry: Entry, ifd: dict[int, Entry]) -> str | None:
    value = _first_rational(entry)
    if value is None:
        return None
    unit = ifd.get(0xA210)
    label = _LABELS[0xA210].get(unit.first_int or 0) if unit else None
    return value.reciprocal().simple() + (f" {label.lower()}" if label else "")


def _version(entry: Entry) -> str:
    """Each value as a Java ``char`` (16 bits); a surrogate, which no valid string holds
    alone, becomes U+FFFD."""
    out = []
    for i, value in enumerate(entry.head_ints(4)):
        if i == 2:
            out.append(".")
        code = value & 0xFFFF
        code = code + 48 if code < 48 else code
        char = "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)
        if i == 0 and char == "0":
            continue
        out.append(char)
    return "".join(out)


def _components(entry: Entry) -> str:
    names = ("", "Y", "Cb", "Cr", "R", "G", "B")
    return "".join(names[j] for j in entry.head_ints(4) if 0 < j < len(names))


def _shutter_speed(entry: Entry) -> str | None:
    value = _first_rational(entry)
    if value is None:
        return None
    apex = _float32(float(value))
    if apex <= 1:
        power = _float32(1 / math.exp(apex * math.log(2)))
        return f"{_decimal(round(power * 10) / 10, 0, 2)} sec"
    return f"1/{int(math.exp(apex * math.log(2)))} sec"


def _aperture(entry: Entry) -> str | None:
    value = _first_rational(entry)
    return _f_stop(math.sqrt(2) ** float(value)) if value is not None else None


def _flash(entry: Entry) -> str | None:
    value = entry.first_int
    if value is None:
        return None
    text = "Flash fired" if value & 0x1 else "Flash did not fire"
    if value & 0x4:
        text += ", return detected" if value & 0x2 else ", return not detected"
    if value & 0x10:
        text += ", auto"
    if value & 0x40:
        text += ", red-eye reduction"
    return text


def _byte_array(entry: Entry) -> bytes:
    """metadata-extractor's getByteArray: numbers become Java bytes (their low eight bits)."""
    value = entry.value
    return value if isinstance(value, bytes) else bytes(v & 0xFF for v in entry.ints)


def _user_comment(entry: Entry) -> str:
    raw = _byte_array(entry)
    if len(raw) >= 10:
        head = raw[:10].decode("latin-1")
        for name, charset in _USER_COMMENT_CHARSETS.items():
            if head.startswith(name):
                start = next((j for j in range(len(name), 10) if raw[j] not in b"\x00 "), 10)
                return java_trim(raw[start:].decode(charset, "replace"))
    return java_trim(decode_text(raw))


def _cfa_pattern(entry: Entry) -> str | None:
    raw = _byte_array(entry)
    if len(raw) < 4:
        return None
    rows, cols = struct.unpack(">hh", raw[:4])
    if 2 + rows * cols > len(raw):
        rows, cols = struct.unpack("<hh", raw[:4])
    pattern = [rows, cols, *struct.unpack(f"{len(raw) - 4}b", raw[4:])]
    if rows == 0 and cols == 0:
        return "<zero pattern size>"
    end = 2 + rows * cols
    if end > len(pattern):
        return "<invalid pattern size>"
    out = ["["]
    for pos in range(2, end):
        colour = pattern[pos]
        out.append(_CFA_COLOURS[colour] if 0 <= colour < len(_CFA_COLOURS) else "Unknown")
        if (pos - 2) % cols == 0:
            out.append(",")
        elif pos != end - 1:
            out.append("][")
    out.append("]")
    return "".join(out)


def _lens_specification(entry: Entry) -> str | None:
    values = entry.head_rationals(4) if entry.count == 4 else ()
    if len(values) != 4 or (values[0].num == 0 and values[2].num == 0):
        return None
    low, high, f_low, f_high = values
    text = f"{low.simple()}mm" if float(low) == float(high) else f"{low.simple()}-{high.simple()}mm"
    if f_low.num != 0:
        if float(f_low) == float(f_high):
            text += " " + _f_stop(float(f_low))
        else:
            text += f" f/{_decimal(float(f_low), 1, 1)}-{_decimal(float(f_high), 1, 1)}"
    return text


def _rational_text(fmt: Callable[[Rational], str]) -> Callable[[Entry], str | None]:
    def describe(entry: Entry) -> str | None:
        value = _first_rational(entry)
        return fmt(value) if value is not None else None

    return describe


def _int_text(fmt: Callable[[int], str]) -> Callable[[Entry], str | None]:
    def describe(entry: Entry) -> str | None:
        value = entry.first_int
        return fmt(value) if value is not None else None

    return describe


def _compressed_bpp(value: Rational) -> str:
    ratio = value.simple()
    return f"{ratio} bit/pixel" if value.is_integer and ratio == "1" else f"{ratio} bits/pixel"


def _subject_distance(value: Rational) -> str:
    if value.num == 0xFFFFFFFF:
        return "Infinity"
    if value.num == 0:
        return "Unknown"
    return f"{_decimal(float(value), 1, 3)} metres"


def _ycbcr_subsampling(entry: Entry) -> str | None:
    ints = entry.head_ints(2)
    if len(ints) < 2:
        return None
    return {(2, 1): "YCbCr4:2:2", (2, 2): "YCbCr4:2:0"}.get((ints[0], ints[1]), "(Unknown)")


def _reference_black_white(entry: Entry) -> str | None:
    ints = entry.head_ints(6)
    if len(ints) < 6:
        return None
    return f"[{ints[0]},{ints[2]},{ints[4]}] [{ints[1]},{ints[3]},{ints[5]}]"


def _windows_xp(entry: Entry) -> str:
    raw = _byte_array(entry)
    return raw.decode("utf-16-le", "replace").rstrip("\x00")


Describer = Callable[[Entry], "str | None"]

_DESCRIBERS: dict[int, Describer] = {
    0x829A: _rational_text(lambda v: f"{v.simple()} sec"),
    0x829D: _rational_text(lambda v: _f_stop(float(v))),
    0x8827: _int_text(str),
    0x9000: _version,
    0xA000: _version,
    0x9101: _components,
    0x9102: _rational_text(_compressed_bpp),
    0x9201: _shutter_speed,
    0x9202: _aperture,
    0x9205: _aperture,
    0x9203: _rational_text(lambda v: "Unknown" if v.den == 0 else _decimal(float(v), 1, 3)),
    0x9204: _rational_text(lambda v: f"{v.simple()} EV"),
    0x9206: _rational_text(_subject_distance),
    0x9209: _flash,
    0x920A: _rational_text(lambda v: _focal_length(float(v))),
    0x9286: _user_comment,
    0xA302: _cfa_pattern,
    0xA404: _rational_text(
        lambda v: "Digital zoom not used" if v.num == 0 else _decimal(float(v), 0, 1)
    ),
    0xA405: _int_text(lambda v: "Unknown" if v == 0 else _focal_length(v)),
    0xA432: _lens_specification,
    0x0153: lambda e: ", ".join(
        _SAMPLE_FORMATS[v] if 0 < v < len(_SAMPLE_FORMATS) else f"Unknown ({v})" for v in e.ints
    ),
    0x0212: _ycbcr_subsampling,
    0x0214: _reference_black_white,
    **dict.fromkeys((0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F), _windows_xp),
}
IfdDescriber = Callable[[Entry, dict[int, Entry]], "str | None"]


def _labelled(entry: Entry, _ifd: dict[int, Entry]) -> str | None:
    value = entry.first_int
    if value is None:
        return None
    return _LABELS[entry.tag].get(value) or f"Unknown ({value})"


def _suffixed(entry: Entry, _ifd: dict[int, Entry]) -> str:
    return f"{generic(entry)} {_SUFFIXES[entry.tag]}"


def _ignoring_ifd(describer: Describer) -> IfdDescriber:
    return lambda entry, _ifd: describer(entry)


def _generic(entry: Entry, _ifd: dict[int, Entry]) -> str:
    return generic(entry)


#: tag → how metadata-extractor describes it (by precedence: IFD-aware, own describer, label
#: table, unit suffix); any other tag gets the generic description
_BY_TAG: dict[int, IfdDescriber] = {
    **dict.fromkeys(_SUFFIXES, _suffixed),
    **dict.fromkeys(_LABELS, _labelled),
    **{tag: _ignoring_ifd(describer) for tag, describer in _DESCRIBERS.items()},
    0x011A: _resolution,
    0x011B: _resolution,
    0xA20E: _focal_plane_resolution,
    0xA20F: _focal_plane_resolution,
}
#: the tags Grid stores (named ones, except Padding and pointers) → (name, describer)
_STORED: dict[int, tuple[str, IfdDescriber]] = {
    tag: (name, _BY_TAG.get(tag, _generic))
    for tag, name in TAG_NAMES.items()
    if name != "Padding" and tag not in _NOT_STORED
}


def describe(entry: Entry, ifd: dict[int, Entry]) -> str | None:
    """The description metadata-extractor gives this tag (``None`` when it gives none)."""
    return _BY_TAG.get(entry.tag, _generic)(entry, ifd)


#: what describing one odd value can raise (a value past the decoding budget included)
VALUE_ERRORS = (ValueError, ArithmeticError, LookupError, struct.error)


def directory_map(ifd: dict[int, Entry]) -> dict[str, str]:
    """Grid's exportDirectory: named tags only, no Padding, trimmed, empty values dropped.
    A value that cannot be described is dropped with a warning: it costs only that tag."""
    out: dict[str, str] = {}
    stored = _STORED
    for tag, entry in ifd.items():
        if (how := stored.get(tag)) is not None:
            try:
                value = how[1](entry, ifd)
            except VALUE_ERRORS as error:
                log.warning("EXIF %s dropped: %s", how[0], error)
                continue
            if value and (value := value.strip(_JAVA_WHITESPACE)):
                out[how[0]] = value
    return out


def date_original_composite(sub: dict[int, Entry]) -> str | None:
    """ExifSubIFDDirectory.getDateOriginal (+ sub-seconds, offset) as an ISO UTC string; None,
    with a warning, when a value cannot be read."""
    try:
        return _date_original(sub)
    except VALUE_ERRORS as error:
        log.warning("EXIF Date/Time Original Composite dropped: %s", error)
        return None


def _date_original(sub: dict[int, Entry]) -> str | None:
    entry = sub.get(0x9003)
    if entry is None or not isinstance(entry.value, bytes):
        return None
    match = _EXIF_DATE.match(_ascii(entry.value).strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    zone: timezone = UTC
    offset = sub.get(0x9011)
    if offset is not None and isinstance(offset.value, bytes):
        found = _OFFSET.fullmatch(_ascii(offset.value).strip())
        if found:
            sign = -1 if found.group(1) == "-" else 1
            hours, minutes = int(found.group(2)), int(found.group(3))
            if hours < 24 and minutes < 60:  # Java's TimeZone falls back to GMT otherwise
                zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None
    subsec = sub.get(0x9291)
    if subsec is not None and isinstance(subsec.value, bytes):
        digits = _ascii(subsec.value).strip()
        if digits.isdigit():
            moment += timedelta(milliseconds=int(float("." + digits) * 1000))
    return iso_millis(moment)


#: years in a Gregorian cycle: the calendar repeats, so a date can be moved by it and back
_CYCLE_YEARS = 400


def iso_millis(moment: datetime) -> str:
    """Joda's ISO print in UTC: ``2015-01-22T00:00:00.000Z``, also when UTC falls outside
    Python's years 1-9999 (``9999-12-31T23:00:00-10:00`` is ``10000-01-01T09:00:00.000Z``)."""
    try:
        u = moment.astimezone(UTC)
        year = u.year
    except OverflowError:
        shift = -_CYCLE_YEARS if moment.year > _CYCLE_YEARS else _CYCLE_YEARS
        offset = moment.utcoffset() or timedelta(0)
        u = moment.replace(year=moment.year + shift, tzinfo=None) - offset
        year = u.year - shift
    sign = "-" if year < 0 else ""
    return (
        f"{sign}{abs(year):04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
        f"{u.second:02d}.{u.microsecond // 1000:03d}Z"
    )


def read_exif(tiff: Tiff) -> tuple[dict[int, Entry], dict[int, Entry]]:
    """IFD0 and Exif SubIFD entries (an unreadable SubIFD is treated as absent)."""
    ifd0 = tiff.read_ifd(tiff.ifd0_offset)
    sub: dict[int, Entry] = {}
    pointer = ifd0.get(EXIF_SUB_IFD)
    if pointer is not None and pointer.first_int:
        try:
            sub = tiff.read_ifd(pointer.first_int)
        except (CorruptFile, struct.error):  # a broken SubIFD loses only that directory
            sub = {}
    return ifd0, sub
