"""Grid's mapping (mapping.json) and check_document, which refuses what Elasticsearch would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.test_index_contract import grid_image, image
from reingest.errors import LoaderError, MappingRejection
from reingest.index.documents import DocumentUpdate, apply_image
from reingest.index.mapping import MAPPING, NESTED_OBJECTS_LIMIT, SETTINGS, check_document
from reingest.loader import build_image
from reingest.loader.processors import DEFAULT_PROCESSORS, chain
from reingest.originals.base import StoredOriginal, UploadRecord, image_id_of, storage_key

NOW = "2024-01-01T00:00:00.000Z"


#: what a projection indexes: Grid's default loader chain
DEFAULT_CHAIN = chain(DEFAULT_PROCESSORS)


def objects(mapping: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object and nested field of a mapping, with its dotted path."""
    for name, field in mapping.get("properties", {}).items():
        if field.get("type", "object") in ("object", "nested"):
            yield f"{path}{name}", field
            yield from objects(field, f"{path}{name}.")


def field(path: str) -> dict[str, Any]:
    found: dict[str, Any] = MAPPING
    for name in path.split("."):
        found = found["properties"][name]
    return found


def test_every_object_is_strict_but_the_ones_grid_leaves_dynamic() -> None:
    dynamic = {path for path, mapping in objects(MAPPING) if mapping.get("dynamic") == "true"}
    assert dynamic == {
        "fileMetadata",
        "identifiers",
        "esInfo.migration.failures",
        "exports.specification",
        *(f"{m}.domainMetadata" for m in ("metadata", "originalMetadata", "userMetadata.metadata")),
        *(
            f"{asset}.orientationMetadata"
            for asset in ("source", "thumbnail", "optimisedPng", "exports.master", "exports.assets")
        ),
    }
    assert MAPPING["dynamic"] == "strict"
    assert all(
        mapping["dynamic"] == "strict" for path, mapping in objects(MAPPING) if path not in dynamic
    )


def test_grids_fields_are_mapped_as_grid_maps_them() -> None:
    assert field("usagesPlatform") == {"type": "keyword"}
    assert field("usagesStatus") == {"type": "keyword"}
    assert field("usages")["type"] == "nested"
    assert field("usages.platform") == {"type": "keyword", "copy_to": ["usagesPlatform"]}
    assert field("leases.leases")["type"] == "object"
    assert field("leases.leases.active") == {"type": "keyword"}
    assert field("metadata.englishAnalysedCatchAll")["analyzer"] == "english_s_stemmer"
    copied = {
        name
        for name, mapping in field("metadata")["properties"].items()
        if mapping.get("copy_to") == ["metadata.englishAnalysedCatchAll"]
    }
    assert copied == {
        "byline", "credit", "suppliersReference", "source", "keywords", "specialInstructions",
        "subLocation", "city", "state", "country", "peopleInImage",
    }  # fmt: skip
    assert "englishAnalysedCatchAll" not in field("originalMetadata")["properties"]
    assert field("userMetadata.labels")["copy_to"] == ["metadata.englishAnalysedCatchAll"]
    assert field("collections.pathId")["copy_to"] == ["collections.pathHierarchy"]
    assert field("collections.pathHierarchy")["analyzer"] == "hierarchyAnalyzer"
    suggester = {"type": "completion", "analyzer": "simple", "search_analyzer": "simple"}
    assert field("suggestMetadataCredit") == field("userMetadata.photoshoot.suggest") == suggester
    assert field("source.file") == {"type": "text", "index": False}
    assert field("embedding.cohereEmbedV4.image")["dims"] == 256
    assert field("embedding.cohereEmbedEnglishV3.image")["dims"] == 1024
    assert set(field("usageRights")["properties"]) >= {"licence", "contentLink", "suppliers"}
    [keywords, stored] = MAPPING["dynamic_templates"]
    assert keywords["file_metadata_fields_as_keywords"]["mapping"]["ignore_above"] == 29489
    assert stored["stored_json_object_template"]["path_match"] == "fileMetadata.*"


def test_grids_index_settings() -> None:
    assert SETTINGS["index"]["mapping.total_fields.limit"] == 2**31 - 1
    assert SETTINGS["index"]["max_result_window"] == 101_000
    analysis = SETTINGS["analysis"]
    assert analysis["analyzer"]["english_s_stemmer"]["filter"] == [
        "lowercase", "asciifolding", "english_possessive_stemmer", "gu_stopwords", "s_stemmer",
    ]  # fmt: skip
    assert analysis["filter"]["s_stemmer"] == {"type": "stemmer", "name": "minimal_english"}
    assert analysis["filter"]["gu_stopwords"] == {"type": "stop", "stopwords": ["_english_"]}


def test_every_grid_fixture_image_and_a_document_with_every_part_are_accepted(
    fixtures_dir: Path,
) -> None:
    checked = 0
    for path in sorted(fixtures_dir.rglob("*")):
        if path.is_dir() or path.suffix in (".json", ".md", ".icc"):
            continue
        data = path.read_bytes()
        image_id = image_id_of(data)
        upload = UploadRecord(uploaded_by="u", upload_time=NOW, filename=path.name)
        original = StoredOriginal(image_id, data, f"s3://b/{storage_key(image_id)}", upload, NOW)
        try:
            projected = build_image(original, NOW, processors=DEFAULT_CHAIN).to_json()
        except LoaderError:  # unsupported or corrupt: never indexed
            continue
        check_document(apply_image(None, DocumentUpdate.image(projected, NOW)))
        checked += 1
    assert checked >= 20
    check_document(grid_image("a"))


def rejection(document: dict[str, Any]) -> str:
    with pytest.raises(MappingRejection) as caught:
        check_document(document)
    return str(caught.value)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"foo": None},
            "strict_dynamic_mapping_exception: mapping set to strict, dynamic introduction of "
            "[foo] within [_doc] is not allowed",
        ),
        (
            {"userMetadata": {"metadata": {"foo": []}}},
            "strict_dynamic_mapping_exception: mapping set to strict, dynamic introduction of "
            "[foo] within [userMetadata.metadata] is not allowed",
        ),
        (
            {"metadata.foo": "x"},
            "strict_dynamic_mapping_exception: mapping set to strict, dynamic introduction of "
            "[foo] within [metadata] is not allowed",
        ),
        (
            {"usages": [{"id": "u", "bar": 1}]},
            "strict_dynamic_mapping_exception: mapping set to strict, dynamic introduction of "
            "[bar] within [usages] is not allowed",
        ),
        (
            {"source": {"file": "f", "size": "12kB"}},
            "document_parsing_exception: failed to parse field [source.size] of type [integer] "
            "in document with id 'a'. Preview of field's value: '12kB'",
        ),
        (
            {"source": {"file": "f", "size": 2**31}},
            "document_parsing_exception: failed to parse field [source.size] of type [integer] "
            "in document with id 'a'. Preview of field's value: '2147483648'",
        ),
        (
            {"source": {"file": "f", "size": True}},
            "document_parsing_exception: failed to parse field [source.size] of type [integer] "
            "in document with id 'a'. Preview of field's value: 'true'",
        ),
        (
            {"metadata": {"credit": {"name": "AFP"}}},
            "document_parsing_exception: failed to parse field [metadata.credit] of type "
            "[keyword] in document with id 'a'. Preview of field's value: '{name=AFP}'",
        ),
        (
            {"metadata": {"keywords": ["ok", {"no": 1}]}},
            "document_parsing_exception: failed to parse field [metadata.keywords] of type "
            "[keyword] in document with id 'a'. Preview of field's value: '{no=1}'",
        ),
        (
            {"lastModified": "2024-02-30T00:00:00Z"},
            "document_parsing_exception: failed to parse field [lastModified] of type [date] "
            "in document with id 'a'. Preview of field's value: '2024-02-30T00:00:00Z'",
        ),
        (
            {"uploadTime": "01/02/2024"},
            "document_parsing_exception: failed to parse field [uploadTime] of type [date] "
            "in document with id 'a'. Preview of field's value: '01/02/2024'",
        ),
        (
            {"uploadTime": False},
            "document_parsing_exception: failed to parse field [uploadTime] of type [date] "
            "in document with id 'a'. Preview of field's value: 'false'",
        ),
        (
            {"userMetadata": {"archived": "yes"}},
            "document_parsing_exception: failed to parse field [userMetadata.archived] of type "
            "[boolean] in document with id 'a'. Preview of field's value: 'yes'",
        ),
        (
            {"userMetadata": {"archived": 1}},
            "document_parsing_exception: failed to parse field [userMetadata.archived] of type "
            "[boolean] in document with id 'a'. Preview of field's value: '1'",
        ),
        (
            {"metadata": "a title"},
            "document_parsing_exception: object mapping for [metadata] tried to parse field "
            "[metadata] as object, but found a concrete value",
        ),
        (
            {"usages": ["u1"]},
            "document_parsing_exception: object mapping for [usages] tried to parse field "
            "[usages] as object, but found a concrete value",
        ),
        (
            {"suggestMetadataCredit": {"input": ["AFP"], "score": 1}},
            "document_parsing_exception: failed to parse: unknown field name [score], must be "
            "one of [input, weight, contexts]",
        ),
        (
            {"suggestMetadataCredit": {"input": [1]}},
            "document_parsing_exception: failed to parse: input array must have string values, "
            "but was [VALUE_NUMBER]",
        ),
        (
            {"suggestMetadataCredit": {"input": "AFP", "weight": 1.5}},
            "document_parsing_exception: failed to parse: weight must be an integer, but was [1.5]",
        ),
        (
            {"userMetadata": {"photoshoot": {"suggest": ["A shoot", None]}}},
            "document_parsing_exception: failed to parse: failed to parse [suggest]: expected "
            "text or object, but got VALUE_NULL",
        ),
        (
            {"embedding": {"cohereEmbedV4": {"image": [0.1, 0.2]}}},
            "document_parsing_exception: failed to parse: The [dense_vector] field "
            "[embedding.cohereEmbedV4.image] in doc [document with id 'a'] has a different "
            "number of dimensions [2] than defined in the mapping [256]",
        ),
        (
            {"embedding": {"cohereEmbedV4": {"image": [0] * 256}}},
            "document_parsing_exception: failed to parse: The [cosine] similarity does not "
            "support vectors with zero magnitude.",
        ),
        (
            {"metadata..title": "x"},
            "document_parsing_exception: object field starting or ending with a [.] makes "
            "object resolution ambiguous: [metadata..title]",
        ),
        ({"": 1}, "document_parsing_exception: field name cannot be an empty string"),
    ],
)
def test_what_elasticsearch_refuses_is_refused_with_its_error(
    fields: dict[str, Any], error: str
) -> None:
    assert rejection(image("a", **fields)) == error


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata": None, "usages": None, "source": {"file": "f", "size": None}},
        {"metadata": [{"title": "t"}, [{"credit": "c"}]], "usages": [None, []]},
        {"metadata": {"keywords": [["a", ["b"]], None, 1, True, 2.5]}},
        {"source": {"file": "f", "size": "1234"}},
        {"source": {"file": "f", "size": " 12.7 "}},
        {"source": {"file": "f", "size": ""}},
        {"source": {"file": "f", "size": 12.9}},
        {"uploadTime": 1_700_000_000_000},
        {"uploadTime": "1700000000000"},
        {"uploadTime": "2024"},
        {"uploadTime": "2024-02"},
        {"uploadTime": "2024-02-29T23:59:59.123456789+05:30"},
        {"uploadTime": "2024-02-29T23:59:58,5-0800"},
        {"uploadTime": "2024-02-29T10Z"},
        {"userMetadata": {"archived": "false"}},
        {"userMetadata": {"archived": ""}},
        {"metadata.title": "dotted path into a mapped object"},
        {"fileMetadata": {"anything": {"at": ["all", {"deep": 1}]}, "": None}},
        {"identifiers": {"x": 1}},
        {"suggestMetadataCredit": "AFP"},
        {"suggestMetadataCredit": [{"input": "AFP", "weight": "3"}, "PA"]},
        {"suggestMetadataCredit": {"input": []}},
        {"esInfo": {"migration": {"failures": {"images_2020": "anything"}}}},
    ],
)
def test_what_elasticsearch_takes_is_taken(fields: dict[str, Any]) -> None:
    check_document(image("a", **fields))


def test_at_most_ten_thousand_nested_usages() -> None:
    usages = [{"id": str(i)} for i in range(NESTED_OBJECTS_LIMIT)]
    check_document(image("a", usages=usages))
    assert rejection(image("a", usages=[*usages, {"id": "one more"}])) == (
        "document_parsing_exception: The number of nested documents has exceeded the allowed "
        "limit of [10000]. This limit can be set by changing the "
        "[index.mapping.nested_objects.limit] index level setting."
    )
