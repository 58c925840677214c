"""A deterministic sample library for ``reingest quickstart``.

``generate_sample_library`` paints small pictures with Pillow and embeds EXIF, IPTC and XMP
with python-exiv2 (libexiv2), so the loader reads metadata written by a real library rather than
hand-made byte strings. Next to the good originals it writes files the loader must reject, and it
returns Grid-shaped service data (usages, collections, leases, crops, edits, soft deletes,
syndication; grid-model.md §1) for about a third of the images, keyed by image id.

Everything is derived from ``random.Random(seed)`` and fixed dates: the same ``seed`` and
``count`` give byte-identical files. Image ``i`` depends only on the seed and the images before
it, so a smaller ``count`` gives a prefix of a larger library. Byte identity assumes the same
Pillow (libjpeg, zlib) and libexiv2 builds, i.e. the pinned virtualenv.

XMP namespaces: exiv2's prefix registry is process-wide. Getty's namespace is registered as
``GettyImagesGIFT`` (as Grid does), and the IPTC extension namespace is written with its usual
``Iptc4xmpExt`` prefix for the duration of a generation and then put back to exiv2's default
``iptcExt``, so other exiv2 users in the process see no change afterwards.

PNG and TIFF take the same metadata as JPEG: exiv2 stores PNG IPTC as a "Raw profile type iptc"
text chunk (what exiv2, exiftool and ImageMagick write) and TIFF IPTC in tag 33723.
"""

from __future__ import annotations

import hashlib
import io
import random
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import exiv2
from PIL import Image, ImageDraw

GETTY_NS = "http://xmp.gettyimages.com/gift/1.0/"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_UTF8_CHARSET = "\x1b%G"  # IPTC 1:90 CodedCharacterSet escape sequence for UTF-8

# Service dates are offsets from here; shooting dates from _SHOT_EPOCH. Both are in the past so
# a loader's "not after upload time" bound keeps them.
_SERVICE_EPOCH = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
_SHOT_EPOCH = datetime(2012, 1, 1, 8, 0, tzinfo=UTC)
_MEDIA_API = "https://api.media.example.org/images"

# Which metadata blocks image i gets: cycled so every mix occurs in a small library.
_PROFILES: tuple[frozenset[str], ...] = tuple(
    frozenset(p.split()) if p else frozenset()
    for p in (
        "iptc xmp exif",
        "iptc",
        "xmp",
        "iptc exif",
        "exif",
        "iptc xmp exif",
        "xmp exif",
        "iptc",
        "",
        "iptc xmp",
        "iptc xmp exif",
    )
)
_ASPECTS = ((3, 2), (2, 3), (4, 3), (3, 4), (1, 1), (16, 9), (9, 16), (5, 3), (2, 1), (5, 4))
_PHOTOGRAPHERS = (
    "Zoë Łódź",
    "Christof Stache",
    "Søren Kierkegård",
    "Linda Nylind",
    "José Müller",
    "Murdo MacLeod",
    "Ana Ibáñez",
    "Tom Jenkins",
)
_PEOPLE = ("Renée Côté", "Björn Ångström", "Jane Doe", "Kwame Mensah", "Zoë Łódź", "Li Wei")
# (city, province/state, country, ISO country code)
_PLACES = (
    ("London", "England", "United Kingdom", "GBR"),
    ("Kitzbühel", "Tyrol", "Austria", "AUT"),
    ("Łódź", "Łódź Voivodeship", "Poland", "POL"),
    ("Manchester", "England", "United Kingdom", "GBR"),
    ("Melbourne", "Victoria", "Australia", "AUS"),
    ("São Paulo", "São Paulo", "Brazil", "BRA"),
    ("Edinburgh", "Scotland", "United Kingdom", "GBR"),
)
# (credit, source)
_SUPPLIERS = (
    ("AFP/Getty Images", "AFP"),
    ("Getty Images", "Getty Images Europe"),
    ("Reuters", "Reuters"),
    ("PA", "PA Wire"),
    ("The Guardian", "The Guardian"),
    ("EPA", "EPA"),
    ("Alamy Stock Photo", "Alamy"),
)
# (IPTC category, supplemental categories, keywords, headline template)
_TOPICS = (
    ("S", ("SKI",), ("sport", "skiing", "alpine"), "Downhill training in {city}"),
    ("S", ("CRI", "SPO"), ("cricket", "sport", "test match"), "Cricket at the ground in {city}"),
    ("P", ("POL",), ("politics", "parliament", "election"), "Campaign rally in {city}"),
    ("O", ("WEA",), ("weather", "storm", "rain"), "Storm clouds gather over {city}"),
    ("E", ("ENT", "FILM"), ("film", "premiere", "culture"), "Film premiere in {city}"),
    ("A", ("NAT",), ("nature", "wildlife", "park"), "Spring arrives in {city}"),
    ("F", ("BIZ",), ("business", "markets", "economy"), "Traders at work in {city}"),
)
_INSTRUCTIONS = ("Mandatory credit", "NO SALES. NO ARCHIVES", "Not for use after 2030")
_MAKES = (("Canon", "Canon EOS 5D Mark IV"), ("NIKON CORPORATION", "NIKON D5"), ("SONY", "ILCE-9"))
_COLLECTIONS = (
    ("sport", "cricket"),
    ("sport", "skiing"),
    ("news", "uk"),
    ("culture", "film"),
    ("g2",),
    ("Weekend", "Travel"),
)
_SECTIONS = ("sport", "uk-news", "world", "film", "business", "environment")
_LABELS = ("homepage", "obituary", "lede", "picture-desk")
_ACCESS = ("allow-use", "deny-use", "allow-syndication", "deny-syndication")
_EDITORS = ("picture.desk@example.org", "jo.bloggs@example.org", "sam.smith@example.org")
# Month names spelled out here: strftime's %B follows the process locale.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ASCII_FOLD = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Å": "A", "å": "a", "©": "(c)"}
)


@dataclass(frozen=True)
class SampleLibrary:
    """What ``generate_sample_library`` wrote, and the service data to serve for it."""

    good: list[Path]
    broken: list[Path]
    services: dict[str, dict[str, Any]]


def generate_sample_library(dest: Path, count: int = 240, seed: int = 7) -> SampleLibrary:
    """Write ``count`` good originals and the broken files into ``dest``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    good: list[Path] = []
    services: dict[str, dict[str, Any]] = {}
    with _namespaces():
        for index in range(count):
            # One child generator per image: image i does not depend on ``count``.
            image_rng = random.Random(rng.getrandbits(64))
            ext, data, size = _sample_file(index, image_rng)
            path = dest / f"sample-{index:04d}.{ext}"
            path.write_bytes(data)
            good.append(path)
            if index % 3 == 1:
                image_id = hashlib.sha1(data).hexdigest()
                services[image_id] = _service_data(index // 3, image_id, size, image_rng)
    broken = _write_broken(dest, good[0].read_bytes())  # image 0 is always a JPEG
    return SampleLibrary(good=good, broken=broken, services=services)


@contextmanager
def _namespaces() -> Iterator[None]:
    """Pin the XMP prefixes written, whatever other exiv2 users registered before."""
    exiv2.XmpProperties.registerNs(GETTY_NS, "GettyImagesGIFT")
    exiv2.XmpProperties.registerNs(IPTC_EXT_NS, "Iptc4xmpExt")
    try:
        yield
    finally:
        exiv2.XmpProperties.registerNs(IPTC_EXT_NS, "iptcExt")


def _sample_file(index: int, rng: random.Random) -> tuple[str, bytes, tuple[int, int]]:
    """One good original: (extension, bytes, raw pixel size)."""
    parts = _PROFILES[index % len(_PROFILES)]
    # Orientation 6 is set on a landscape raster, as cameras do for portrait shots; an explicit
    # 1 ("no rotation") is a case the loader must treat as no orientation.
    orientation = 6 if index % 8 == 2 else 1 if index % 8 == 5 else None
    size = _pick_size(rng, landscape=orientation == 6)
    kind = index % 10
    if kind == 3:
        ext = "png"
        data = _encode(_paint(rng, size, rng.choice(("RGB", "RGB", "RGBA", "L"))), "PNG")
    elif kind == 7:
        ext = "tif"
        image = _paint(rng, size, rng.choice(("RGB", "RGB", "L")))
        data = _encode(image, "TIFF", compression=rng.choice((None, "tiff_lzw")))
    else:
        ext = "jpg"
        image = _paint(rng, size, "L" if index % 20 == 9 else "RGB")
        data = _encode(image, "JPEG", quality=rng.choice((75, 85, 92)))
    return ext, _embed(data, parts, orientation if "exif" in parts else None, rng), size


def _pick_size(rng: random.Random, *, landscape: bool) -> tuple[int, int]:
    """A 48–160 px raster with a common aspect ratio."""
    a, b = rng.choice(_ASPECTS)
    long_ratio, short_ratio = max(a, b), min(a, b)
    long_side = rng.randint(-(-48 * long_ratio // short_ratio), 160)
    short_side = round(long_side * short_ratio / long_ratio)
    if landscape or a >= b:
        return long_side, short_side
    return short_side, long_side


def _paint(rng: random.Random, size: tuple[int, int], mode: str) -> Image.Image:
    """A gradient with a few shapes: cheap, deterministic, and different per image."""
    width, height = size
    mask = Image.linear_gradient("L")
    turn = rng.choice((None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180))
    if turn is not None:
        mask = mask.transpose(turn)
    image = Image.composite(
        Image.new("RGB", size, _colour(rng)),
        Image.new("RGB", size, _colour(rng)),
        mask.resize(size),
    )
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 6)):
        x0, x1 = sorted(rng.randrange(-10, width + 10) for _ in range(2))
        y0, y1 = sorted(rng.randrange(-10, height + 10) for _ in range(2))
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=_colour(rng))
    return image if mode == "RGB" else image.convert(mode)


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _ascii(text: str) -> str:
    """Fold to ASCII for EXIF ASCII fields and IPTC without a UTF-8 charset marker."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return folded.encode("ascii", "ignore").decode("ascii")


def embed_metadata(data: bytes, seed: int) -> bytes:
    """``data`` (a JPEG, PNG or TIFF) with EXIF, IPTC and XMP written into it by exiv2, as the
    sample's fully tagged originals have them (the benchmarks' bigger originals get them so)."""
    with _namespaces():
        return _embed(data, _PROFILES[0], None, random.Random(seed))


def _embed(
    data: bytes, parts: frozenset[str], orientation: int | None, rng: random.Random
) -> bytes:
    """Write the chosen metadata blocks into ``data`` with exiv2; return the new file bytes."""
    if not parts:
        return data
    byline = rng.choice(_PHOTOGRAPHERS)
    city, state, country, code = rng.choice(_PLACES)
    credit, source = rng.choice(_SUPPLIERS)
    category, supplemental, keywords, headline = rng.choice(_TOPICS)
    headline = headline.format(city=city)
    shot = _SHOT_EPOCH + timedelta(days=rng.randrange(4000), minutes=rng.randrange(600))
    when = f"{_MONTHS[shot.month - 1]} {shot.day}, {shot.year}"
    description = f"{headline} on {when}. Photograph: {byline}/{credit}"
    copyright_notice = f"© {shot.year} {byline}" if rng.random() < 0.5 else credit
    people = rng.sample(_PEOPLE, rng.randint(0, 2))

    image = exiv2.ImageFactory.open(data)
    image.readMetadata()
    if "exif" in parts:
        exif = image.exifData()
        exif["Exif.Image.Artist"] = _ascii(byline)
        exif["Exif.Image.Copyright"] = _ascii(copyright_notice)
        exif["Exif.Image.ImageDescription"] = _ascii(description)
        make, model = rng.choice(_MAKES)
        exif["Exif.Image.Make"] = make
        exif["Exif.Image.Model"] = model
        exif["Exif.Photo.DateTimeOriginal"] = f"{shot:%Y:%m:%d %H:%M:%S}"
        if orientation is not None:
            exif["Exif.Image.Orientation"] = exiv2.UShortValue(orientation)
    if "iptc" in parts:
        utf8 = rng.random() < 0.4
        iptc = image.iptcData()
        if utf8:
            iptc["Iptc.Envelope.CharacterSet"] = _UTF8_CHARSET
        fields = {
            "Byline": byline,
            "Caption": description,
            "Credit": credit,
            "Headline": headline,
            "City": city,
            "ProvinceState": state,
            "CountryName": country,
            "CountryCode": code,
            "Category": category,
            "Copyright": copyright_notice,
            "Source": source,
            "ObjectName": str(rng.randrange(10**8, 10**9)),
        }
        for name, value in fields.items():
            iptc[f"Iptc.Application2.{name}"] = value if utf8 else _ascii(value)
        iptc["Iptc.Application2.DateCreated"] = exiv2.DateValue(shot.year, shot.month, shot.day)
        for name, values in (("SuppCategory", supplemental), ("Keywords", keywords)):
            for value in values:
                iptc.add(exiv2.IptcKey(f"Iptc.Application2.{name}"), exiv2.StringValue(value))
        if utf8 and people:
            # Non-ASCII names where the charset marker says they are UTF-8.
            iptc.add(exiv2.IptcKey("Iptc.Application2.Keywords"), exiv2.StringValue(people[0]))
        if rng.random() < 0.3:
            iptc["Iptc.Application2.SpecialInstructions"] = rng.choice(_INSTRUCTIONS)
    if "xmp" in parts:
        xmp = image.xmpData()
        xmp["Xmp.dc.creator"] = _xmp_array(exiv2.TypeId.xmpSeq, [byline])
        xmp["Xmp.dc.description"] = exiv2.LangAltValue(f"lang=x-default {description}")
        xmp["Xmp.dc.subject"] = _xmp_array(exiv2.TypeId.xmpBag, [*keywords, *people])
        xmp["Xmp.photoshop.Credit"] = credit
        xmp["Xmp.photoshop.City"] = city
        xmp["Xmp.photoshop.Country"] = country
        xmp["Xmp.photoshop.Headline"] = headline
        xmp["Xmp.photoshop.DateCreated"] = f"{shot:%Y-%m-%dT%H:%M:%S}+00:00"
        if people:
            xmp["Xmp.Iptc4xmpExt.PersonInImage"] = _xmp_array(exiv2.TypeId.xmpBag, people)
        if "Getty" in credit and rng.random() < 0.6:
            xmp["Xmp.GettyImagesGIFT.AssetID"] = str(rng.randrange(10**8, 10**9))
            if people:
                xmp["Xmp.GettyImagesGIFT.Personality"] = _xmp_array(exiv2.TypeId.xmpBag, people)
    image.writeMetadata()
    return bytes(image.io().data())


def _xmp_array(kind: exiv2.TypeId, items: list[str]) -> exiv2.XmpArrayValue:
    value = exiv2.XmpArrayValue(kind)
    for item in items:
        value.read(item)
    return value


def _write_broken(dest: Path, jpeg: bytes) -> list[Path]:
    """Files the loader must reject: damaged, empty, not images, raw, unsupported type."""
    gif = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    cr2 = b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(range(256)) * 4
    contents = {
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "empty.jpg": b"",
        "notes.jpg": b"Shoot notes: these are not pictures.\nCall the desk before filing.\n",
        "IMG_0001.CR2": cr2[:1024],
        "anim.gif": gif.getvalue(),
    }
    paths = []
    for name, content in contents.items():
        path = dest / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def _iso(moment: datetime) -> str:
    """Grid's ISO date: millis always, UTC as ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _pattern(moment: datetime) -> str:
    """Grid's pattern date (``yyyy-MM-dd'T'HH:mm:ss.SSSZZ``): the offset as ``+00:00``."""
    return _iso(moment)[:-1] + "+00:00"


def _service_data(
    k: int, image_id: str, size: tuple[int, int], rng: random.Random
) -> dict[str, Any]:
    """Grid-shaped service answers for the ``k``-th image that has any."""
    moment = _SERVICE_EPOCH + timedelta(days=k, minutes=rng.randrange(600))
    data: dict[str, Any] = {}
    if rng.random() < 0.5:
        data["usages"] = [
            _usage(rng, moment + timedelta(hours=n)) for n in range(rng.randint(1, 3))
        ]
    if rng.random() < 0.4:
        paths = rng.sample(_COLLECTIONS, rng.randint(1, 2))
        data["collections"] = [_collection(list(p), rng, moment) for p in paths]
    if rng.random() < 0.35:
        data["leases"] = _leases(image_id, rng, moment)
    if rng.random() < 0.35:
        data["crops"] = [_crop(image_id, size, rng, moment)]
    if rng.random() < 0.4:
        data["edits"] = _edits(rng, moment)
    if k % 30 == 3:
        data["status"] = {
            "id": image_id,
            "deletedBy": rng.choice(_EDITORS),
            "deleteTime": _iso(moment + timedelta(days=2)),
            "isDeleted": True,
        }
    if k % 9 == 4:
        data["syndication"] = _syndication(rng, moment)
    if not data:
        data["usages"] = [_usage(rng, moment)]
    return data


def _usage(rng: random.Random, moment: datetime) -> dict[str, Any]:
    section = rng.choice(_SECTIONS)
    slug = f"story-{rng.randrange(10**6):06d}"
    month = _MONTHS[moment.month - 1][:3].lower()
    url = f"https://www.theguardian.com/{section}/{moment.year}/{month}/{moment:%d}/{slug}"
    return {
        "id": f"composer/{rng.getrandbits(128):032x}",
        "references": [{"type": "frontend", "uri": url}],
        "platform": "digital",
        "media": "image",
        "status": "published",
        "dateAdded": _iso(moment),
        "lastModified": _iso(moment + timedelta(minutes=5)),
        "digitalUsageMetadata": {
            "webUrl": url,
            "webTitle": slug.replace("-", " ").capitalize(),
            "sectionId": section,
        },
    }


def _collection(path: list[str], rng: random.Random, moment: datetime) -> dict[str, Any]:
    return {
        "path": path,
        "pathId": "/".join(path).lower(),
        "description": path[-1],
        "actionData": {"author": rng.choice(_EDITORS), "date": _pattern(moment)},
    }


def _leases(image_id: str, rng: random.Random, moment: datetime) -> dict[str, Any]:
    leases = []
    for n in range(rng.randint(1, 2)):
        created = moment + timedelta(hours=n)
        lease: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "leasedBy": rng.choice(_EDITORS),
        }
        window = rng.choice(("open", "current", "expired"))
        if window == "current":
            lease["startDate"] = _iso(created)
            lease["endDate"] = _iso(datetime(2030, 1, 1, tzinfo=UTC))
        elif window == "expired":
            lease["startDate"] = _iso(created - timedelta(days=400))
            lease["endDate"] = _iso(created - timedelta(days=30))
        lease["access"] = rng.choice(_ACCESS)
        if rng.random() < 0.5:
            lease["notes"] = "Agreed with the agency by phone"
        lease["mediaId"] = image_id
        lease["createdAt"] = _iso(created)
        # Fixed flags that stay true to the dates: created in the past, "current" ends in 2030.
        lease["active"] = window != "expired"
        leases.append(lease)
    return {"leases": leases, "lastModified": max(lease["createdAt"] for lease in leases)}


def _crop(
    image_id: str, size: tuple[int, int], rng: random.Random, moment: datetime
) -> dict[str, Any]:
    """A 5:3 crop that fits inside the raw raster."""
    width, height = size
    unit = max(1, min(width // 5, height // 3) * rng.randint(6, 10) // 10)
    bounds = {
        "x": rng.randint(0, width - 5 * unit),
        "y": rng.randint(0, height - 3 * unit),
        "width": 5 * unit,
        "height": 3 * unit,
    }
    return {
        "id": "{x}_{y}_{width}_{height}".format(**bounds),
        "author": rng.choice(_EDITORS),
        "date": _iso(moment + timedelta(minutes=30)),
        "specification": {
            "uri": f"{_MEDIA_API}/{image_id}",
            "bounds": bounds,
            "aspectRatio": "5:3",
            "type": "crop",
        },
        "assets": [],
    }


def _edits(rng: random.Random, moment: datetime) -> dict[str, Any]:
    keywords = rng.sample(("portrait", "archive", "feature", "landscape"), 2)
    metadata: dict[str, Any] = {"title": "Edited title", "keywords": keywords}
    if rng.random() < 0.3:
        metadata["description"] = ""  # an empty edit still wins over the file's value
    edits: dict[str, Any] = {
        "archived": rng.random() < 0.2,
        "labels": rng.sample(_LABELS, rng.randint(0, 2)),
        "metadata": metadata,
        "lastModified": _iso(moment + timedelta(hours=1)),
    }
    if rng.random() < 0.3:
        edits["usageRights"] = {"category": "agency", "supplier": "Getty Images"}
    return edits


def _syndication(rng: random.Random, moment: datetime) -> dict[str, Any]:
    rights: dict[str, Any] = {
        "suppliers": [{"supplierName": "Getty Images", "supplierId": "getty", "prAgreement": True}],
        "rights": [{"rightCode": "PUBLISH", "acquired": True, "properties": []}],
        "isInferred": False,
    }
    if rng.random() < 0.7:
        rights = {"published": _pattern(moment + timedelta(days=1)), **rights}
    return rights
