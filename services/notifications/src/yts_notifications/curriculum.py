"""The curriculum modules' titles in kk, ru and en, which weekly summaries name sessions by.

Read from a TOML file in the sessions service's curriculum format (``[[modules]]`` with ``id``
and ``names.kk/ru/en``; other keys are ignored): services share no code, and no event carries
the titles, so this service keeps its copy (``curriculum.toml``), or reads the file the
deployment gives sessions too (``YTS_NOTIFICATIONS_CURRICULUM_FILE``)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

CURRICULUM = Path(__file__).parent / "curriculum.toml"

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ModuleNames(BaseModel):
    model_config = ConfigDict(frozen=True)

    kk: Title
    ru: Title
    en: Title


class Module(BaseModel):
    model_config = ConfigDict(frozen=True)  # tolerant: sessions' other keys (core) are ignored

    id: str
    names: ModuleNames


class CurriculumFile(BaseModel):
    modules: list[Module]


class CurriculumUnusable(SystemExit):
    """The curriculum file cannot be read; raised at start-up with the reason."""


def load_module_titles(path: Path = CURRICULUM) -> dict[str, ModuleNames]:
    """Each module's names by its id."""
    try:
        with path.open("rb") as file:
            curriculum = CurriculumFile.model_validate(tomllib.load(file))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as error:
        raise CurriculumUnusable(f"curriculum file {path} is not usable: {error}") from error
    return {module.id: module.names for module in curriculum.modules}
