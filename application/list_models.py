"""Use-case: the models of the configured providers, in a stable order."""

from __future__ import annotations

from domain.catalogue import Catalogue
from domain.models import ModelInfo


class ListModels:
    def __init__(self, *, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def execute(self) -> tuple[ModelInfo, ...]:
        return self._catalogue.models
