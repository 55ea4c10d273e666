"""The Google provider: Imagen (Vertex AI only, `imagen`) and the Gemini image models (`gemini_images`),
both through `google-genai`; this module only sends each model key to the module that serves it."""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import core.providers.gemini_images as gemini_images
import core.providers.genai_client as genai_client
import core.providers.imagen as imagen

if TYPE_CHECKING:
    from core.spec import ModelSpec
    from core.jobs import GenerationRequest
    from core.settings import Settings

PROVIDER = genai_client.PROVIDER
list_model_ids = genai_client.list_model_ids


def _module(spec: "ModelSpec") -> ModuleType:
    return imagen if spec.key in imagen.MODELS else gemini_images


def specs() -> list["ModelSpec"]:
    return gemini_images.specs() + imagen.specs()


def options(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    return _module(spec).options(spec, settings)


def check(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> None:
    _module(spec).check(spec, req, settings)


def estimate_cost_usd(spec: "ModelSpec", req: "GenerationRequest") -> float:
    return _module(spec).estimate_cost_usd(spec, req)


def missing_credentials(spec: "ModelSpec", settings: "Settings") -> str | None:
    return _module(spec).missing_credentials(spec, settings)


def generate(spec: "ModelSpec", req: "GenerationRequest", settings: "Settings") -> Any:
    return _module(spec).generate(spec, req, settings)
