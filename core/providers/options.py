"""Per-model options and the image count from the command line, checked against each model's
capabilities before anything is sent.

``parse_params(["gpt-image-1.5.quality=high", "kling-v2.resolution=2k"])`` gives
``{"gpt-image-1.5": {"quality": "high"}, "kling-v2": {"resolution": "2k"}}``: the model key is everything
before the last dot of the left side (keys have dots, option names do not); values are JSON where they
parse (true, 80, 2.5) and text otherwise. Unknown models, unknown options and values a model does not
take are RequestErrors naming ``--param MODEL.NAME`` and the allowed values.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

from core.errors import RequestError
from core.providers import PROVIDERS, api_specs, catalog

if TYPE_CHECKING:
    from core.settings import Settings
    from core.spec import ModelSpec


def _value(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (bool, int, float)) else text


def options_of(spec: "ModelSpec", settings: "Settings | None" = None) -> dict[str, Any]:
    """The options a model takes: name -> rule (its ``str()`` says what is allowed)."""
    return PROVIDERS[spec.provider or ""].options(spec, settings)


def parse_params(items: Iterable[str], settings: "Settings | None" = None) -> dict[str, dict[str, Any]]:
    specs = {s.key: s for s in api_specs()}
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        left, sep, raw = item.partition("=")
        model, dot, name = left.strip().rpartition(".")
        if not sep or not dot or not model or not name:
            raise RequestError("--param", item, "MODEL.NAME=VALUE, e.g. gpt-image-1.5.quality=high")
        spec = specs.get(model)
        if spec is None:
            raise RequestError(f"--param {left}", raw, f"{model!r} is not an API model; known: {', '.join(specs)}")
        catalog.refuse_retired(spec)
        rules = options_of(spec, settings)
        if name not in rules:
            raise RequestError(f"--param {left}", raw, f"{model} takes these options: {', '.join(sorted(rules))}"
                               if rules else f"{model} takes no options")
        value = _value(raw.strip())
        if not rules[name].ok(value):
            raise RequestError(f"--param {left}", value, f"{rules[name]} for {model}")
        out.setdefault(model, {})[name] = value
    return out


def check_images(specs: Iterable["ModelSpec"], n: int) -> None:
    """``--images N`` against each model's images per call."""
    for spec in specs:
        top = spec.max_images_per_call
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= top:
            raise RequestError("--images", n, f"from 1 to {top} for {spec.key}")
