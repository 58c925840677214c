"""Grid's SupplierProcessorsTest, case by case (inputs and expected outputs), then the parts
of the port its cases do not reach."""

from __future__ import annotations

from typing import Any

import pytest

from reingest.dates import parse_iso
from reingest.loader.processors import chain, process
from reingest.loader.suppliers import pa_parser, usage_rights_to_metadata
from reingest.loader.usage_rights import (
    agency,
    contract_photographer,
    photographer_rights,
    staff_photographer,
)
from reingest.model import Asset, FileMetadata, Image, ImageMetadata

NO_RIGHTS: dict[str, Any] = {}
APL = "Allstar Picture Library"
GETTY = FileMetadata(getty={"Asset ID": "123"})
#: a field Grid's case does not assert
ANY = object()


def image_from(file_metadata: FileMetadata | None = None, /, **metadata: str) -> Image:
    """Grid's MetadataHelper.createImageFromMetadata: no usage rights, metadata as given."""
    fields = ImageMetadata.model_validate(metadata)
    return Image(
        id="test",
        uploadTime="2026-01-01T00:00:00.000Z",
        uploadedBy="tester",
        source=Asset(file="http://example.com/image.jpg", size=0),
        fileMetadata=file_metadata or FileMetadata(),
        metadata=fields,
        originalMetadata=fields,
    )


def suppliers(image: Image) -> Image:
    return process(image, chain("suppliers"))


def lines(*text: str) -> str:
    """A Scala ``\"\"\"…\"\"\".stripMargin`` block: a leading newline, each line ended by one."""
    return "\n" + "".join(f"{line}\n" for line in text)


def case(
    name: str,
    given: dict[str, str],
    rights: Any = ANY,
    file: FileMetadata | None = None,
    **out: Any,
) -> Any:
    return pytest.param(given, file, rights, out, id=name)


CASES = [
    case("nothing set: no rights, no credit", {}, NO_RIGHTS, credit=None),
    case("unknown credit", {"credit": "Unknown Party"}, NO_RIGHTS, credit="Unknown Party"),
    case(
        "byline same as credit is kept",
        {"credit": "Lorem Ipsum", "byline": "Lorem Ipsum"},
        byline="Lorem Ipsum",
        credit="Lorem Ipsum",
    ),
    # Photographer
    case(
        "staff photographer",
        {"byline": "Graham Turner"},
        staff_photographer("Graham Turner", "The Guardian"),
        credit="The Guardian",
    ),
    case(
        "contract photographer",
        {"byline": "Linda Nylind"},
        contract_photographer("Linda Nylind", "The Guardian"),
        credit="The Guardian",
    ),
    case(
        "photographer casing",
        {"byline": "Murdo MacLeod"},
        contract_photographer("Murdo MacLeod", "The Guardian"),
        byline="Murdo MacLeod",
    ),
    case(
        "agency rights win over a photographer's",
        {"byline": "Murdo MacLeod", "credit": "PA Wire/PA Images"},
        agency("PA"),
        byline="Murdo MacLeod",
    ),
    # AAP
    case("AAPIMAGE", {"credit": "AAPIMAGE"}, agency("AAP"), credit="AAP"),
    # Action Images
    *(
        case(credit, {"credit": credit}, agency("Action Images"), credit="Action Images/Reuters")
        for credit in (
            "Action Images",
            "Action Images/Reuters",
            "Action Images/REUTERS",
            "Action images/Reuters",
        )
    ),
    # Alamy
    case("Alamy", {"credit": "Alamy"}, agency("Alamy"), credit="Alamy"),
    case("Alamy Stock Photo", {"credit": "Alamy Stock Photo"}, agency("Alamy"), credit="Alamy"),
    case(
        "Alamy suffix",
        {"credit": "Prod.DB/Alamy Stock Photo"},
        agency("Alamy"),
        credit="Prod.DB/Alamy",
    ),
    case(
        "Alamy Live News is not Alamy's yet",
        {"credit": "Alamy Live News/Alamy Live News"},
        NO_RIGHTS,
        credit="Alamy Live News/Alamy Live News",
    ),
    # Allstar
    case(
        "Allstar Picture Library → Allstar",
        {"credit": "Allstar Picture Library"},
        agency(APL),
        credit="Allstar",
    ),
    case(
        "Sportsphoto Ltd./Allstar",
        {"credit": "Sportsphoto Ltd./Allstar"},
        agency(APL, "Sportsphoto"),
        credit="Sportsphoto/Allstar",
    ),
    case(
        "Sportsphoto LtdX/Allstar: no match, case fixed",
        {"credit": "Sportsphoto LtdX/Allstar"},
        agency(APL, "Sportsphoto Ltdx"),
        credit="Sportsphoto Ltdx/Allstar",
    ),
    case(
        "Allstar prefix",
        {"credit": "Allstar/UNIVERSAL"},
        agency(APL, "Universal"),
        credit="Universal/Allstar",
    ),
    case(
        "Allstar suffix",
        {"credit": "UNIVERSAL/Allstar"},
        agency(APL, "Universal"),
        credit="Universal/Allstar",
    ),
    case(
        "Allstar infix",
        {"credit": "UNIVERSAL/Allstar/Magic Pictures"},
        agency(APL, "Universal/Magic Pictures"),
        credit="Universal/Magic Pictures/Allstar",
    ),
    case(
        "redundant byline gives its casing",
        {"credit": "Allstar/UNIVERSAL PICTURES", "byline": "Universal Pictures"},
        agency(APL, "Universal Pictures"),
        credit="Universal Pictures/Allstar",
        byline=None,
    ),
    case(
        "/Allstar leaves the byline",
        {"credit": "Sportsphoto Ltd./Allstar", "byline": "David Gadd/Allstar"},
        byline="David Gadd",
    ),
    case(
        "/Allstar Picture Library leaves the byline",
        {"credit": "Sportsphoto Ltd./Allstar", "byline": "David Gadd/Allstar Picture Library"},
        byline="David Gadd",
        credit="Sportsphoto/Allstar",
    ),
    case(
        "/Allstar moves from byline to credit",
        {"credit": "Sportsphoto Ltd.", "byline": "David Gadd/Allstar"},
        byline="David Gadd",
        credit="Sportsphoto/Allstar",
    ),
    case(
        "/Allstar Picture Library moves from byline to credit",
        {"credit": "Sportsphoto Ltd.", "byline": "David Gadd/Allstar Picture Library"},
        byline="David Gadd",
        credit="Sportsphoto/Allstar",
    ),
    case(
        "Allstar byline moves to the credit",
        {"credit": "THE RANK ORGANISATION/Sportsphoto Ltd.", "byline": "Allstar"},
        credit="The Rank Organisation/Sportsphoto/Allstar",
        byline=None,
    ),
    case(
        "Allstar byline already in the credit",
        {"credit": "THE RANK ORGANISATION/Allstar/Sportsphoto Ltd.", "byline": "Allstar"},
        credit="The Rank Organisation/Sportsphoto/Allstar",
        byline=None,
    ),
    case(
        "Sportsphoto deduplicated",
        {"credit": "Sportsphoto/Sportsphoto Ltd."},
        credit="Sportsphoto",
    ),
    case(
        "Allstar after Sportsphoto",
        {"credit": "Sportsphoto/Allstar/Sportsphoto Ltd."},
        credit="Sportsphoto/Allstar",
    ),
    case(
        "rest of the credit keeps its order",
        {"credit": "A/B/C/D/Sportsphoto/E/F/G/H/Sportsphoto Ltd./I/J/K/L"},
        credit="A/B/C/D/E/F/G/H/I/J/K/L/Sportsphoto",
    ),
    # AP
    case("AP", {"credit": "AP"}, agency("AP"), credit="AP"),
    case("Associated Press", {"credit": "Associated Press"}, agency("AP"), credit="AP"),
    case("ASSOCIATED PRESS", {"credit": "ASSOCIATED PRESS"}, agency("AP"), credit="AP"),
    case("Invision", {"credit": "Invision"}, agency("AP", "Invision"), credit="Invision"),
    case(
        "Invision for ___",
        {"credit": "Invision for Quaker"},
        agency("AP", "Invision"),
        credit="Invision for Quaker",
    ),
    case(
        "intermediary/AP",
        {"credit": "Lehtikuva/AP"},
        agency("AP", "Lehtikuva"),
        credit="Lehtikuva/AP",
    ),
    case(
        "intermediary/ap, AP capitalised",
        {"credit": "Lehtikuva/ap"},
        agency("AP", "Lehtikuva"),
        credit="Lehtikuva/AP",
    ),
    case("ABC/NYT/AP", {"credit": "ABC/NYT/AP"}, agency("AP", "ABC/NYT"), credit="ABC/NYT/AP"),
    case("not ABC/NYT/AP AP", {"credit": "ABC/NYT/AP AP"}, NO_RIGHTS, credit="ABC/NYT/AP AP"),
    case(
        "not ABC/Associated Press",
        {"credit": "ABC/Associated Press"},
        NO_RIGHTS,
        credit="ABC/Associated Press",
    ),
    case(
        "Photographer /Invision/AP",
        {"credit": "Photographer /Invision/AP"},
        agency("AP", "Photographer /Invision"),
        credit="Photographer /Invision/AP",
    ),
    # Corbis
    case(
        "Corbis source",
        {"credit": "Demotix/Corbis", "source": "Corbis"},
        agency("Corbis"),
        credit="Demotix/Corbis",
        source="Corbis",
    ),
    # EPA
    case("EPA", {"credit": "EPA"}, agency("EPA")),
    # Getty Images
    case(
        "no Asset ID, not Getty",
        {"credit": "Getty Images", "source": "Getty Images Europe"},
        NO_RIGHTS,
    ),
    case(
        "Getty metadata",
        {"credit": "Getty Images", "source": "Getty Images Europe"},
        agency("Getty Images", "Getty Images Europe"),
        GETTY,
        suppliersReference="123",
        credit="Getty Images",
        source="Getty Images Europe",
    ),
    *(
        case(
            f"Getty collection {collection}",
            {"credit": collection, "source": "Getty Images Europe"},
            agency("Getty Images", collection),
            GETTY,
            suppliersReference="123",
            credit=collection,
            source="Getty Images Europe",
        )
        for collection in ("AFP", "FilmMagic", "WireImage", "Hulton")
    ),
    case(
        "Getty collection hulton, capitalised",
        {"credit": "hulton", "source": "Getty Images Europe"},
        agency("Getty Images", "Hulton"),
        GETTY,
        suppliersReference="123",
        credit="hulton",
        source="Getty Images Europe",
    ),
    case(
        "Getty credit when none",
        {},
        agency("Getty Images"),
        GETTY,
        suppliersReference="123",
        credit="Getty Images",
        source=None,
    ),
    # PA
    case("PA credit", {"credit": "PA"}, agency("PA")),
    case("PA source", {"credit": "BBC/PA", "source": "PA"}, agency("PA")),
    case("PA WIRE", {"credit": "PA WIRE"}, agency("PA")),
    case("Press Association Images", {"credit": "Press Association Images"}, agency("PA")),
    case("PA archive", {"credit": "PA Archive/PA Images"}, agency("PA")),
    # Reuters
    case("REUTERS", {"credit": "REUTERS"}, agency("Reuters"), credit="Reuters"),
    case("RETUERS", {"credit": "RETUERS"}, agency("Reuters"), credit="Reuters"),
    *(
        case(
            copyright,
            {"copyright": copyright},
            agency("Reuters"),
            credit="USA Today Sports",
        )
        for copyright in ("USA Today Sports", "USA TODAY Sports")
    ),
    *(
        case(
            f"Reuters credit {credit!r}",
            {"credit": credit},
            agency("Reuters"),
            credit="John Doe/intermediary/Reuters",
        )
        for credit in (
            "John Doe/intermediary/via reuters",
            "John Doe/intermediary/ REUTERS",
            "John Doe/intermediary retuERS",
        )
    ),
    # Rex Features
    case(
        "Rex Features source",
        {"credit": "Tim Ireland/REX Shutterstock", "source": "Rex Features"},
        agency("Rex Features"),
        credit="Tim Ireland/REX Shutterstock",
        source="Rex Features",
    ),
    case(
        "*/ Rex Features credit",
        {"credit": "Bleddyn Butcher / Rex Features"},
        agency("Rex Features"),
    ),
    # Ronald Grant
    *(
        case(credit, {"credit": credit}, agency("Ronald Grant Archive"), credit="Ronald Grant")
        for credit in ("www.ronaldgrantarchive.com", "Ronald Grant Archive")
    ),
]

RASHFORD = (
    "Marcus Rashford left winger of Barcelona and England during the Copa del Rey "
    "quarter-final match between Albacete Balompie and FC Barcelona at Estadio Carlos Belmonte "
    "on February 3, 2026 in Albacete, Spain.",
    "Albacete Balompie v FC Barcelona - Copa Del Rey, Spain - 03 Feb 2026",
)
NEW_YORK = (
    "New Yorkers demonstrate at 780 3rd avenue in Manhattan, the location of the Bank of Korea "
    "and the offices of Senator Chuck Schumer and Kirstin Gillibrand, against the "
    "sabre-rattling by both the Trump Administration and the government of the DPRK, also "
    "known as North Korea.",
    "Anti-nuclear war demonstration, New York, USA - 21 Aug 2017",
)
ZUMA = {"source": "Rex Features", "credit": "REX/Shutterstock", "byline": "ZUMA Wire"}
ZUMA_REFERENCE = {**ZUMA, "suppliersReference": "9011672i"}
LEAVITT = (
    "Mandatory Credit: Photo by Yuri Gripas - Pool via CNP/Shutterstock (16452941i)",
    "White House Press Secretary Karoline Leavitt holds a press briefing in the James S Brady "
    "Press Briefing Room of the White House in Washington, DC, USA,.",
    "Karoline Leavitt press briefing - Washington, Washington, District of Columbia, USA - "
    "26 Jan 2026",
)
SELBY = (
    "Mandatory Credit: Photo by Kobe Li/Nexpher via ZUMA Press Wire/Shutterstock (16520092w)",
    "English snooker player, Mark Selby during a game at the 2026 World Snooker Grand Prix on "
    "February 5, 2026 in Hong Kong.",
    "2026 World Snooker Grand Prix - Day 3, Hong Kong, China - 05 Feb 2026",
)
SHUTTERSTOCK = "Shutterstock Editorial"
REX_DESCRIPTIONS = [
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "NurPhoto/Shutterstock", "byline": "Jose Breton",
         "specialInstructions": "RESTRICTED TO EDITORIAL USE",
         "suppliersReference": "16507315bs"},
        lines("RESTRICTED TO EDITORIAL USE",
              "Mandatory Credit: Photo by Jose Breton/NurPhoto/Shutterstock (16507315bs)",
              *RASHFORD),
        lines(*RASHFORD),
        id="instructions and credit removed, 1",
    ),
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "ITV/Shutterstock", "byline": "Ken McKay",
         "specialInstructions": "Editorial use only", "suppliersReference": "16513246a"},
        lines("Editorial use only",
              "Mandatory Credit: Photo by Ken McKay/ITV/Shutterstock (16513246a)",
              "Katie Piper", "'Loose Women' TV show, London, UK - 04 Feb 2026"),
        lines("Katie Piper", "'Loose Women' TV show, London, UK - 04 Feb 2026"),
        id="instructions and credit removed, 2",
    ),
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "ITV/Shutterstock", "byline": "Action Press",
         "suppliersReference": "16512200n"},
        lines("Mandatory Credit: Photo by Action Press/Shutterstock (16512200n)",
              "Mark Tallman", "Apple TV+ Press Day, Santa Monica, USA - 03 Feb 2026"),
        lines("Mark Tallman", "Apple TV+ Press Day, Santa Monica, USA - 03 Feb 2026"),
        id="credit removed, 1",
    ),
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "ITV/Shutterstock", "byline": "Anthony Harvey",
         "suppliersReference": "16501549o"},
        lines("Mandatory Credit: Photo by Anthony Harvey/Shutterstock (16501549o)",
              "Alison Oliver", "'Wuthering Heights' film photocall, London, UK - 04 Feb 2026"),
        lines("Alison Oliver", "'Wuthering Heights' film photocall, London, UK - 04 Feb 2026"),
        id="credit removed, 2",
    ),
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "NurPhoto/Shutterstock", "byline": "Jose Breton",
         "specialInstructions": "(RESTRICTED TO EDITORIAL USE",
         "suppliersReference": "(16507315bs"},
        lines("(RESTRICTED TO EDITORIAL USE",
              "Mandatory Credit: Photo by Jose Breton/NurPhoto/Shutterstock ((16507315bs)",
              *RASHFORD),
        lines(*RASHFORD),
        id="regex reserved chars in the metadata",
    ),
    pytest.param(
        ZUMA_REFERENCE,
        lines("Mandatory Credit: Photo by Sachelle Babbar/ZUMA Wire/REX/Shutterstock (9011672i)",
              *NEW_YORK),
        lines("Mandatory Credit: Photo by Sachelle Babbar/ZUMA Wire/REX/Shutterstock (9011672i)",
              *NEW_YORK),
        id="credit kept: a byline not in the metadata, 1",
    ),
    pytest.param(
        ZUMA_REFERENCE,
        lines("Mandatory Credit: Photo by ZUMA Wire/Sachelle Babbar/REX/Shutterstock (9011672i)",
              *NEW_YORK),
        lines("Mandatory Credit: Photo by ZUMA Wire/Sachelle Babbar/REX/Shutterstock (9011672i)",
              *NEW_YORK),
        id="credit kept: a byline not in the metadata, 2",
    ),
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "Pool/Yuri Gripas - Pool/CNP/Shutterstock",
         "byline": "Yuri Gripas", "suppliersReference": "16452941i"},
        lines(*LEAVITT),
        lines(*LEAVITT),
        id="credit kept: a byline not in the metadata, 3",
    ),
    pytest.param(
        {"source": SHUTTERSTOCK, "credit": "Nexpher/ZUMA Press Wire/Shutterstock",
         "byline": "Kobe Li", "suppliersReference": "16520092w"},
        lines(*SELBY),
        lines(*SELBY),
        id="credit kept: a byline not in the metadata, 4",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("given", "file", "rights", "expected"), CASES)
def test_supplier_processors(
    given: dict[str, str], file: FileMetadata | None, rights: Any, expected: dict[str, Any]
) -> None:
    processed = suppliers(image_from(file, **given))
    if rights is not ANY:
        assert processed.usageRights == rights
    for field, value in expected.items():
        assert getattr(processed.metadata, field) == value, field


@pytest.mark.parametrize(("given", "description", "expected"), REX_DESCRIPTIONS)
def test_rex_description(given: dict[str, str], description: str, expected: str) -> None:
    processed = suppliers(image_from(description=description, **given))
    assert processed.usageRights == agency("Rex Features")
    assert processed.metadata.description == expected


@pytest.mark.parametrize(
    ("credit", "cleaned"),
    [
        ("Ben Blackall/Netflix/PA", "Ben Blackall/Netflix/PA"),
        ("Ben Blackall/Netflix/PA wIRE/PA Photos", "Ben Blackall/Netflix/PA"),
        ("Ben Blackall/PA/Netflix", "Ben Blackall/Netflix/PA"),
        ("Ben Blackall/PA Archive/PA Images/Netflix", "Ben Blackall/Netflix/PA"),
    ],
)
def test_pa_parser_moves_pa_to_the_end(credit: str, cleaned: str) -> None:
    processed = pa_parser(image_from(credit=credit))
    assert processed.metadata.credit == cleaned
    assert processed.usageRights == agency("PA")


def test_pa_parser_leaves_an_unmatched_credit() -> None:
    credit = "Ben Blackall/NPA Archive/PA Images/Netflix"
    processed = pa_parser(image_from(credit=credit))
    assert (processed.metadata.credit, processed.usageRights) == (credit, NO_RIGHTS)


# Beyond Grid's cases


def test_usage_rights_json_is_what_play_writes() -> None:
    assert agency("Getty Images", "AFP") == {
        "category": "agency",
        "supplier": "Getty Images",
        "suppliersCollection": "AFP",
    }
    assert list(agency("PA")) == ["category", "supplier"]
    assert list(staff_photographer("A B", "The Guardian")) == [
        "category",
        "photographer",
        "publication",
    ]
    assert contract_photographer("A B", None) == {
        "category": "contract-photographer",
        "photographer": "A B",
    }


def test_an_exclusive_rex_image_has_no_rights_even_after_an_earlier_match() -> None:
    given = {"credit": "AP", "source": "Rex Features", "specialInstructions": "EXCLUSIVE: x"}
    assert suppliers(image_from(**given)).usageRights == NO_RIGHTS


@pytest.mark.parametrize(
    ("taken", "publication"),
    [("2025-04-27T23:59:59.000Z", "The Observer"), ("2025-04-28T00:00:00.000Z", "The Guardian")],
)
def test_a_contract_follows_the_date_taken(taken: str, publication: str) -> None:
    processed = suppliers(image_from(byline="andy hall", dateTaken=taken))
    assert processed.usageRights == contract_photographer("andy hall", publication)
    assert (processed.metadata.credit, processed.metadata.byline) == (publication, "andy hall")


def test_without_a_date_taken_the_upload_time_decides() -> None:
    upload_time = parse_iso("2026-01-01T00:00:00.000Z")
    assert photographer_rights("Gary Calton", upload_time) == contract_photographer(
        "Gary Calton", "The Guardian"
    )
    assert photographer_rights("Nobody Listed", upload_time) is None


@pytest.mark.parametrize(
    ("copyright", "expected"),
    [(None, "The Observer"), ("The Guardian", "The Observer"), ("Jane Doe", "Jane Doe")],
)
def test_a_staff_photographer_takes_a_staff_publication_copyright(
    copyright: str | None, expected: str
) -> None:
    given = {"byline": "Tony McGrath"} | ({"copyright": copyright} if copyright else {})
    processed = suppliers(image_from(**given))
    assert processed.metadata.copyright == expected
    assert processed.metadata.imageType == "Photograph"


@pytest.mark.parametrize(
    ("rights", "expected"),
    [
        (
            {"category": "commissioned-illustrator", "creator": "C", "publication": "P"},
            ("C", "P", "Illustration"),
        ),
        ({"category": "staff-illustrator", "creator": "C"}, ("C", "C", "Illustration")),
        ({"category": "composite", "suppliers": "A, B"}, ("By", "A, B", "Composite")),
        ({"category": "screengrab"}, ("By", "Cr", None)),
        (agency("AP"), ("By", "Cr", None)),
    ],
)
def test_usage_rights_imply_metadata(
    rights: dict[str, str], expected: tuple[str | None, ...]
) -> None:
    image = image_from(byline="By", credit="Cr").model_copy(update={"usageRights": rights})
    metadata = usage_rights_to_metadata(image).metadata
    assert (metadata.byline, metadata.credit, metadata.imageType) == expected


def test_originals_are_the_processed_values() -> None:
    processed = suppliers(image_from(credit="AAPIMAGE"))
    assert processed.originalUsageRights == processed.usageRights == agency("AAP")
    assert processed.originalMetadata == processed.metadata
    assert processed.originalMetadata is not processed.metadata
