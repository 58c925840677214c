"""XMP packets → Adobe XMPCore-style flat paths → Grid's aggregated ``xmp`` map.

XMPCore (used by metadata-extractor) names properties by its registered prefix rather than the
file's own, normalises the Dublin Core arrays and reads ``rdf:about="uuid:…"`` as
xmpMM:InstanceID; Grid then redacts long values, cleans dates and aggregates arrays.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any
from xml.etree.ElementTree import Element, XMLParser

from reingest.loader.dates import clean_date

log = logging.getLogger(__name__)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
XMP_MM = "http://ns.adobe.com/xap/1.0/mm/"
GETTY = "http://xmp.gettyimages.com/gift/1.0/"

#: XMPCore's standard registry plus Grid's pre-registered Getty namespace
PREFIXES: dict[str, str] = {
    XML: "xml", RDF: "rdf", "http://purl.org/dc/elements/1.1/": "dc",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://ns.adobe.com/DICOM/": "DICOM", "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "adobe:ns:meta/": "x", "http://ns.adobe.com/iX/1.0/": "iX",
    "http://ns.adobe.com/xap/1.0/": "xmp", "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    XMP_MM: "xmpMM", "http://ns.adobe.com/xap/1.0/bj/": "xmpBJ",
    "http://ns.adobe.com/xmp/note/": "xmpNote", "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://ns.adobe.com/pdfx/1.3/": "pdfx", "http://www.npes.org/pdfx/ns/id/": "pdfxid",
    "http://www.aiim.org/pdfa/ns/schema#": "pdfaSchema",
    "http://www.aiim.org/pdfa/ns/property#": "pdfaProperty",
    "http://www.aiim.org/pdfa/ns/type#": "pdfaType",
    "http://www.aiim.org/pdfa/ns/field#": "pdfaField",
    "http://www.aiim.org/pdfa/ns/id/": "pdfaid",
    "http://www.aiim.org/pdfa/ns/extension/": "pdfaExtension",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop", "http://ns.adobe.com/album/1.0/": "album",
    "http://ns.adobe.com/exif/1.0/": "exif", "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/exif/1.0/aux/": "aux", "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/png/1.0/": "png", "http://ns.adobe.com/jpeg/1.0/": "jpeg",
    "http://ns.adobe.com/jp2k/1.0/": "jp2k",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://ns.adobe.com/StockPhoto/1.0/": "bmsp",
    "http://ns.adobe.com/creatorAtom/1.0/": "creatorAtom", "http://ns.adobe.com/asf/1.0/": "asf",
    "http://ns.adobe.com/xmp/wav/1.0/": "wav", "http://ns.adobe.com/bwf/bext/1.0/": "bext",
    "http://ns.adobe.com/riff/info/": "riffinfo", "http://ns.adobe.com/xmp/1.0/Script/": "xmpScript",
    "http://ns.adobe.com/TransformXMP/": "txmp", "http://ns.adobe.com/swf/1.0/": "swf",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/": "xmpDM",
    "http://ns.adobe.com/xmp/transient/1.0/": "xmpx", "http://ns.adobe.com/xap/1.0/t/": "xmpT",
    "http://ns.adobe.com/xap/1.0/t/pg/": "xmpTPg", "http://ns.adobe.com/xap/1.0/g/": "xmpG",
    "http://ns.adobe.com/xap/1.0/g/img/": "xmpGImg",
    "http://ns.adobe.com/xap/1.0/sType/Font#": "stFnt",
    "http://ns.adobe.com/xap/1.0/sType/Dimensions#": "stDim",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef",
    "http://ns.adobe.com/xap/1.0/sType/Version#": "stVer",
    "http://ns.adobe.com/xap/1.0/sType/Job#": "stJob",
    "http://ns.adobe.com/xap/1.0/sType/ManifestItem#": "stMfs",
    "http://ns.adobe.com/xmp/Identifier/qual/1.0/": "xmpidq", GETTY: "GettyImagesGIFT",
}  # fmt: skip

#: XMPNormalizer's Dublin Core array forms: a simple value becomes a one-item array
_DC_ALT_TEXT = frozenset({"dc:description", "dc:rights", "dc:title"})
_DC_ARRAYS = _DC_ALT_TEXT | {
    "dc:contributor", "dc:language", "dc:publisher", "dc:relation", "dc:source", "dc:subject",
    "dc:type", "dc:creator", "dc:date",
}  # fmt: skip
_RDF_ATTRS = frozenset(f"{{{RDF}}}{n}" for n in ("about", "ID", "nodeID", "parseType", "resource"))
_LANG_OR_RDF_ATTRS = _RDF_ATTRS | {f"{{{XML}}}lang"}
_CONTAINERS = frozenset(f"{{{RDF}}}{n}" for n in ("Bag", "Seq", "Alt"))
_LANG = f"{{{XML}}}lang"
_RDF_LI = f"{{{RDF}}}li"
_RDF_ALT = f"{{{RDF}}}Alt"
_RDF_DESCRIPTION = f"{{{RDF}}}Description"
_RDF_RDF = f"{{{RDF}}}RDF"
_RDF_PARSE_TYPE = f"{{{RDF}}}parseType"
_RDF_RESOURCE = f"{{{RDF}}}resource"
_RDF_ABOUT = f"{{{RDF}}}about"
#: a markup declaration (``<!DOCTYPE``, ``<!ENTITY``…), also spelt with UTF-16/32's NULs;
#: comments (``<!--``) and CDATA (``<![CDATA[``) do not match
_DECLARATION = re.compile(rb"<\x00{0,3}!\x00{0,3}[A-Z]")
_XMLNS = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""")
_UUID = re.compile(r"(?:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

MAX_VALUE_LENGTH = 5000
#: structs and arrays nested deeper than this are dropped (the flattening recurses per level)
MAX_DEPTH = 100
#: XMP read per file; Grid's own test files carry at most tens of kilobytes
MAX_XMP_BYTES = 2 * 1024 * 1024
#: chunks of a JPEG's ExtendedXMP (a full 2 MB in 64 KB segments takes 33)
MAX_EXTENDED_CHUNKS = 256
REDACTED = (
    "REDACTED (value longer than 5000 characters, please refer to the metadata stored in the "
    "file itself)"
)
_NOT_REDACTED = frozenset({"dc:description", "photoshop:Headline", "photoshop:Instructions"})
_KEY_ROOT = re.compile(r"[\[/]")


@lru_cache(maxsize=4096)
def _registered_name(tag: str) -> str | None:
    """``prefix:local`` for a tag in a registered namespace, else None. Cached across files:
    the same few hundred tags recur in every packet."""
    uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    prefix = PREFIXES.get(uri)
    return f"{prefix}:{local}" if prefix else None


class _Flattener:
    """Walks one packet's RDF, emitting ``path → value`` in XMPCore's iteration order."""

    def __init__(self, packet: bytes) -> None:
        self.packet = packet
        self.file_prefixes: dict[str, str] | None = None
        self.props: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def name(self, tag: str) -> str:
        name = _registered_name(tag) or self.names.get(tag)
        if name is None:
            uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
            name = self.names[tag] = f"{self.file_prefix(uri) or 'ns'}:{local}"
        return name

    def file_prefix(self, uri: str) -> str | None:
        """The packet's own prefix for an unregistered namespace (its declarations are only
        scanned when one turns up)."""
        if self.file_prefixes is None:
            self.file_prefixes = {}
            for prefix, declared in _XMLNS.findall(self.packet):
                self.file_prefixes.setdefault(
                    declared.decode("utf-8", "replace"), prefix.decode("ascii")
                )
        return self.file_prefixes.get(uri)

    def emit(self, path: str, value: str) -> None:
        self.props.setdefault(path, value)

    def description(self, node: Element, base: str) -> None:
        """Properties of an rdf:Description (or a struct body) under ``base``; plain values
        (most properties) are emitted inline rather than through ``simple``/``property``."""
        props, name = self.props, self.name
        prefix = f"{base}/" if base else ""
        for attr, value in node.attrib.items():
            if attr not in _LANG_OR_RDF_ATTRS:
                path = prefix + name(attr)
                if path in _DC_ARRAYS:
                    self.simple(path, value, None)
                else:
                    props.setdefault(path, value)
        for child in node:
            path = prefix + name(child.tag)
            if child.attrib or len(child) or path in _DC_ARRAYS:
                self.property(child, path)
            else:
                props.setdefault(path, child.text or "")

    def simple(self, path: str, value: str, lang: str | None) -> None:
        if path not in _DC_ARRAYS:
            self.props.setdefault(path, value)
            if lang:
                self.emit(f"{path}/xml:lang", _normalise_lang(lang))
        elif path in _DC_ALT_TEXT:
            self.emit(f"{path}[1]", value)
            self.emit(f"{path}[1]/xml:lang", _normalise_lang(lang or "x-default"))
        else:
            self.emit(f"{path}[1]", value)

    def property(self, node: Element, path: str) -> None:
        if not node.attrib and not len(node):  # a plain text value
            self.simple(path, node.text or "", None)
            return
        if path.count("/") + path.count("[") > MAX_DEPTH:
            log.warning("XMP %s dropped: nested deeper than %d levels", _root(path), MAX_DEPTH)
            return
        for child in node:
            if child.tag in _CONTAINERS:
                self.array(child, path)
                return
        if node.get(_RDF_PARSE_TYPE) == "Resource":
            self.description(node, path)
        elif len(node) and node[0].tag == _RDF_DESCRIPTION:
            self.description(node[0], path)
        elif (resource := node.get(_RDF_RESOURCE)) is not None:
            self.simple(path, resource, node.get(_LANG))
        elif _has_property_attrs(node):
            self.description(node, path)
        elif not len(node):
            self.simple(path, node.text or "", node.get(_LANG))

    def array(self, container: Element, path: str) -> None:
        items = [li for li in container if li.tag == _RDF_LI]
        if container.tag == _RDF_ALT:  # XMPCore puts x-default first
            items.sort(key=lambda li: li.get(_LANG) != "x-default")
        props = self.props
        for index, item in enumerate(items, 1):
            item_path = f"{path}[{index}]"
            attrib = item.attrib
            if len(item) or (attrib and _has_property_attrs(item)):
                self.property(item, item_path)
            else:
                props.setdefault(item_path, item.text or "")
            if lang := attrib.get(_LANG):
                self.emit(f"{item_path}/xml:lang", _normalise_lang(lang))


def _has_property_attrs(node: Element) -> bool:
    return not _LANG_OR_RDF_ATTRS.issuperset(node.attrib)


def _normalise_lang(lang: str) -> str:
    """XMPCore's language-tag normalisation: ``en-us`` → ``en-US``, ``X-Default`` → lower."""
    parts = lang.lower().split("-")
    return "-".join(p.upper() if i == 1 and len(p) == 2 else p for i, p in enumerate(parts))


def _parse(packet: bytes) -> Element | None:
    """The packet's XML through ElementTree's C parser, or None if malformed. A packet with a
    DTD is refused before parsing: without one no entity can be declared, so no expansion bomb
    (defusedxml's guarantee, without its much slower pure-Python parser)."""
    packet = _without_trailer(packet)
    if _DECLARATION.search(packet):
        return None
    parser = XMLParser()
    try:
        parser.feed(packet.strip(b"\x00 \r\n\t"))
        root: Element = parser.close()
    except Exception:  # expat's ParseError, or an encoding it does not know
        return None
    return root


_XMPMETA_END = b"</x:xmpmeta>"
_XML_SPACE = b" \t\r\n"
#: the packet trailer, ``<?xpacket end="w"?>`` (a processing instruction, which the tree
#: leaves out), then only what the parse strips from the end anyway
_TRAILER = re.compile(rb"""<\?xpacket[ \t\r\n]+end=(["'])[rw]\1[ \t\r\n]*\?>[\x00 \t\r\n]*""")


def _without_trailer(packet: bytes) -> bytes:
    """The packet up to ``</x:xmpmeta>`` when only XML whitespace and the packet trailer
    follow it: writers pad packets with kilobytes of spaces, which the XML parser need not
    scan, and the parse comes out the same."""
    end = packet.rfind(_XMPMETA_END)
    if end < 0:
        return packet
    end += len(_XMPMETA_END)
    trailer = packet.rfind(b"<?xpacket", end)
    if trailer < 0 or packet[end:trailer].translate(None, _XML_SPACE):
        return packet
    return packet[:end] if _TRAILER.fullmatch(packet, trailer) else packet


def parse_packet(packet: bytes) -> dict[str, str]:
    """One XMP packet flattened to XMPCore paths; malformed XML yields nothing."""
    root = _parse(packet)
    if root is None:
        return {}
    flattener = _Flattener(packet)
    rdf_root = next(root.iter(_RDF_RDF), None)  # root itself, or its first descendant
    for desc in rdf_root.findall(_RDF_DESCRIPTION) if rdf_root is not None else []:
        flattener.description(desc, "")
        about = _UUID.fullmatch((desc.get(_RDF_ABOUT) or "").lower())
        if about is not None:
            flattener.emit("xmpMM:InstanceID", f"uuid:{about.group(1)}")
    return flattener.props


def raw_properties(
    packets: list[bytes], extension: Sequence[tuple[int, bytes]] = ()
) -> dict[str, str]:
    """All packets merged (the first packet wins per key), trimmed, empty values dropped,
    long values redacted and date keys cleaned, as Grid's FileMetadataReader does. A JPEG's
    ExtendedXMP (``extension``: see Container.xmp_extension) comes last, as metadata-extractor
    adds its directory after those of the main packets.

    Packets beyond MAX_XMP_BYTES per file (the ExtendedXMP included) are skipped with a
    warning, so a hostile file (a 10 MB packet, hundreds of XMP segments) costs bounded time
    and memory."""
    merged: dict[str, str] = {}
    budget = MAX_XMP_BYTES
    guid: str | None = None
    guid_packet = 0
    for index, packet in enumerate(packets):
        budget -= len(packet)
        if budget < 0:
            log.warning(
                "XMP packet of %d bytes skipped: the file's XMP exceeds %d bytes",
                len(packet),
                MAX_XMP_BYTES,
            )
            continue
        properties = parse_packet(packet)
        if guid is None and (guid := properties.get(_HAS_EXTENDED)) is not None:
            guid_packet = index
        _merge(merged, properties)
    if guid is not None and extension:
        chunks = [chunk for after, chunk in extension if after > guid_packet]
        if (extended := extended_packet(guid, chunks, max(budget, 0))) is not None:
            _merge(merged, parse_packet(extended))
    return merged


def _merge(merged: dict[str, str], properties: dict[str, str]) -> None:
    for key, value in properties.items():
        if key not in merged and (value := value.strip()):
            # "ate" is a cheap superset of _cleaned's date-key test
            long_or_date = len(value) > MAX_VALUE_LENGTH or "ate" in key
            merged[key] = _cleaned(key, value) if long_or_date else value


_HAS_EXTENDED = "xmpNote:HasExtendedXMP"
#: an ExtendedXMP chunk: 32-character GUID, full length, offset (both 32-bit big-endian)
_CHUNK_HEADER = struct.Struct(">32sII")


def extended_packet(guid: str, chunks: Sequence[bytes], limit: int) -> bytes | None:
    """The ExtendedXMP packet named by ``guid``, reassembled as metadata-extractor does it:
    chunks for another GUID are ignored, the first matching chunk fixes the full length, a
    chunk giving another length (or reaching past it) is ignored, chunks land at their offset
    in any order (a later one overwrites), and the GUID is not checked against the MD5.

    None, with a warning, unless the chunks cover the whole packet (metadata-extractor parses
    the zero-filled gaps, which fails unless a gap is whitespace), or when the packet is over
    ``limit`` bytes or comes in more than MAX_EXTENDED_CHUNKS chunks."""
    mine = [c for c in chunks if len(c) >= _CHUNK_HEADER.size and c[:32] == guid.encode()]
    if not mine:
        return None
    _, length, _ = _CHUNK_HEADER.unpack_from(mine[0])
    if length > limit or len(mine) > MAX_EXTENDED_CHUNKS:
        log.warning(
            "ExtendedXMP skipped: %d bytes in %d chunks (limits %d bytes, %d chunks)",
            length,
            len(mine),
            limit,
            MAX_EXTENDED_CHUNKS,
        )
        return None
    packet = bytearray(length)
    spans: list[tuple[int, int]] = []
    for chunk in mine:
        _, full, offset = _CHUNK_HEADER.unpack_from(chunk)
        end = offset + len(chunk) - _CHUNK_HEADER.size
        if full == length and end <= length:
            packet[offset:end] = chunk[_CHUNK_HEADER.size :]
            spans.append((offset, end))
    covered = 0
    for start, end in sorted(spans):
        if start > covered:
            break
        covered = max(covered, end)
    if covered < length:
        log.warning("ExtendedXMP skipped: its chunks leave a gap at byte %d of %d", covered, length)
        return None
    return bytes(packet)


def _cleaned(key: str, value: str) -> str:
    if len(value) > MAX_VALUE_LENGTH and _KEY_ROOT.split(key, maxsplit=1)[0] not in _NOT_REDACTED:
        return REDACTED
    return clean_date(value) if "Date" in key or "date" in key else value  # Grid: .*[Dd]ate.*


def aggregate(flat: dict[str, str]) -> dict[str, Any]:
    """Grid's FileMetadataAggregator: ``k[n]`` keys → arrays, ``k/q`` → ``["{'q':'v'}"]``.

    Level by level, each key loses its last ``[n]`` or ``/q`` and merges with its siblings,
    ordered by ``n``; a key without an index sorts after them, the earlier it stopped changing
    the later. Ranks are ``n + level`` so that unchanged keys keep theirs from level to level.
    Keys only ever merge with keys of the same root, so each root is aggregated on its own and
    the many plain keys skip the levels altogether."""
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, str]] = {}  # roots with more than a plain key
    for key, value in flat.items():
        root = key if "/" not in key and not key.endswith("]") else _root(key)
        group = groups.get(root)
        if group is not None:
            group[key] = value
        elif root in out:  # so far only the plain key
            groups[root] = {root: out[root], key: value}
        elif root == key:
            out[key] = value
        else:
            groups[root] = {key: value}
            out[root] = None  # holds the root's place in the output order
    for root, keys in groups.items():
        out[root] = _aggregate_root(root, keys)
    return out


def _aggregate_root(root: str, keys: dict[str, str]) -> Any:
    """The value of one root's keys: a plain array (only ``root[n]`` keys) is just the values
    in index order; anything else goes level by level."""
    indices = _array_indices(root, keys)
    if indices is not None:
        values = list(keys.values())
        return [values[i] for i in sorted(range(len(values)), key=indices.__getitem__)]
    if len(keys) == 2:  # the commonest other shape: a one-language lang-alt, whose levels give
        value, lang = keys.get(f"{root}[1]"), keys.get(f"{root}[1]/xml:lang")
        if value is not None and lang is not None:
            return [value, [_stringify("xml:lang", lang)]]
    if (structs := _struct_array(root, keys)) is not None:
        return structs
    level, pending = _aggregate_level({k: (_UNINDEXED, v) for k, v in keys.items()}, 1)
    depth = 1
    while pending:
        depth += 1
        level, pending = _aggregate_level(level, depth)
    return level[root][1]


def _array_indices(root: str, keys: Iterable[str]) -> list[int] | None:
    """Each key's n when every key is exactly ``root[n]`` (n in ASCII digits), else None."""
    indices = []
    for key in keys:
        digits = key[len(root) + 1 : -1]
        bracketed = key.startswith("[", len(root)) and key.endswith("]")
        if not (bracketed and digits.isascii() and digits.isdigit()):
            return None
        indices.append(int(digits))
    return indices


def _struct_array(root: str, keys: dict[str, str]) -> list[list[str]] | None:
    """When every key is ``root[n]/field`` (an array of structs such as xmpMM:History), what
    the two levels give: per n in index order, its fields in key order; else None."""
    items: dict[str, list[str]] = {}
    start = len(root) + 1
    for key, value in keys.items():
        close = key.find("]/", start)
        digits, field = key[start:close], key[close + 2 :]
        if not (
            close > 0
            and key[start - 1] == "["
            and digits.isascii()
            and digits.isdigit()
            and not _STRUCTURE.intersection(field)
        ):
            return None
        items.setdefault(digits, []).append(_stringify(field, value))
    indices = {digits: int(digits) for digits in items}
    if len(set(indices.values())) != len(indices):  # "01" and "1": left to the levels
        return None
    return [items[digits] for digits in sorted(items, key=indices.__getitem__)]


_STRUCTURE = frozenset("/[]")


def _root(key: str) -> str:
    """The key this one ends up in once every level has stripped its ``[n]`` or ``/q``."""
    while True:
        if key.endswith("]"):
            key = key[: key.rindex("[")]
        elif "/" in key:
            key = key[: key.rindex("/")]
        else:
            return key


_UNINDEXED = 2**31 - 2


def _last_index(key: str) -> int:
    return int(key[key.rindex("[") + 1 : key.rindex("]")].strip())


def _aggregate_level(
    nodes: dict[str, tuple[int, Any]], depth: int
) -> tuple[dict[str, tuple[int, Any]], bool]:
    """One level; also says whether another is needed."""
    out: dict[str, tuple[int, Any]] = {}
    clashes: dict[str, list[tuple[int, Any]]] = {}
    pending = False
    for key, node in nodes.items():
        if key.endswith("]"):
            bracket = key.rindex("[")
            node = (int(key[bracket + 1 : -1].strip()) + depth, [node[1]])
            key = key[:bracket]
            pending = pending or key.endswith("]") or "/" in key
        elif "/" in key:
            slash = key.rindex("/")
            rank = _last_index(key) + depth if "]/" in key else node[0]
            node = (rank, [_stringify(key[slash + 1 :], node[1])])
            key = key[:slash]
            pending = pending or key.endswith("]") or "/" in key
        if key in out:
            clashes.setdefault(key, [out[key]]).append(node)
        else:
            out[key] = node
    for key, entries in clashes.items():
        entries.sort(key=_rank)
        arrays = [item for _, v in entries if isinstance(v, list) for item in v]
        strings = [v for _, v in entries if not isinstance(v, list)]
        out[key] = (entries[0][0], arrays + strings)
    return out, pending


def _rank(node: tuple[int, Any]) -> int:
    return node[0]


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _stringify(field: str, value: Any) -> str:
    """Play's ``Json.stringify({field: value})`` with double quotes turned into single ones
    (a string value, the common case, skips the encoder's generic machinery)."""
    if isinstance(value, str):
        text = f"{{{encode_basestring(field)}:{encode_basestring(value)}}}"
    else:
        text = _JSON.encode({field: value})
    return text.replace('"', "'")
