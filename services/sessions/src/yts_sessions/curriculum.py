"""The curriculum of the Young Trainers' School: modules with stable ids and names in kk, ru
and en, kept as a data file (``curriculum.toml``) so programme staff change it without code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from yts_contracts.vocabulary import ModuleSlug

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ModuleNames(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kk: Name
    ru: Name
    en: Name


class Module(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ModuleSlug
    core: bool = Field(default=True, description="needed for certification")
    names: ModuleNames


class Curriculum(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    modules: tuple[Module, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_unique_and_some_core(self) -> Self:
        ids = [m.id for m in self.modules]
        if len(set(ids)) != len(ids):
            raise ValueError("module ids must be unique")
        if not any(m.core for m in self.modules):
            raise ValueError("at least one module must be core")
        return self

    def get(self, module_id: str) -> Module | None:
        return next((m for m in self.modules if m.id == module_id), None)

    @property
    def core_ids(self) -> frozenset[str]:
        return frozenset(m.id for m in self.modules if m.core)


class CurriculumError(SystemExit):
    """The curriculum file cannot be used; raised at start-up with the reason."""


def load_curriculum(path: Path) -> Curriculum:
    try:
        with path.open("rb") as file:
            return Curriculum.model_validate(tomllib.load(file))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise CurriculumError(f"curriculum file {path} is not usable: {exc}") from exc
