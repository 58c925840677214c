"""Grid's image processors (``image.processors``): one chain of ``Image → Image`` functions
that the loader runs on the image it has just built.

A chain setting is a comma-separated list of names; Grid's default runs the Guardian metadata
cleaners, then the supplier processors. ``none`` adds nothing, so ``none`` alone gives the
converter's output (what expected.json records).
"""

from __future__ import annotations

from reingest.errors import ConfigurationError
from reingest.loader.cleaners import GUARDIAN, clean
from reingest.loader.suppliers import SUPPLIER_PROCESSORS, Processor
from reingest.model import Image

DEFAULT_PROCESSORS = "guardian-cleaners,suppliers"


def guardian_cleaners(image: Image) -> Image:
    """Grid's GuardianMetadataCleaners as one processor (its cleaners only touch metadata)."""
    return image.model_copy(
        update={"metadata": clean(image.metadata, GUARDIAN, image.fileMetadata)}
    )


CHAINS: dict[str, tuple[Processor, ...]] = {
    "none": (),
    "guardian-cleaners": (guardian_cleaners,),
    "suppliers": SUPPLIER_PROCESSORS,
}


def chain(setting: str) -> tuple[Processor, ...]:
    """The processors a setting names, in its order; ConfigurationError for an unknown name."""
    names = [name.strip() for name in setting.split(",")]
    unknown = [name for name in names if name not in CHAINS]
    if unknown:
        raise ConfigurationError(
            f"unknown processors {', '.join(map(repr, unknown))}: expected a comma-separated "
            f"list of {', '.join(CHAINS)}"
        )
    return tuple(processor for name in names for processor in CHAINS[name])


def process(image: Image, processors: tuple[Processor, ...]) -> Image:
    """Runs the chain; then, as Grid's loader does, originalMetadata and originalUsageRights
    become the processed values."""
    for processor in processors:
        image = processor(image)
    return image.model_copy(
        update={
            "originalMetadata": image.metadata.model_copy(deep=True),
            "originalUsageRights": dict(image.usageRights),
        }
    )
