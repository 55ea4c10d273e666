"""What the pages and ``--list`` show of the API models: the catalog with status and price source, and
which models a key can use (through the provider's own list-models call, where it has one)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.providers import PROVIDERS, ProviderError, api_specs, catalog, imagen, missing_credentials
from core.providers.base import PRICES, Price

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass(frozen=True)
class Availability:
    key: str
    name: str
    provider: str
    state: str  # available | deprecated | retired
    status: str  # e.g. "retired 2026-05-12; use gpt-image-2"
    listed: bool | None  # in the provider's list for this key; None: no list call, or it could not be asked
    note: str = ""

    @property
    def usable(self) -> bool:
        return self.state != "retired" and self.listed is not False


def provider_model_id(key: str) -> str:
    """The name the provider's list uses for one of our keys."""
    return imagen.MODELS[key].model_id if key in imagen.MODELS else key


def available_models(provider: str, settings: "Settings") -> list[Availability]:
    """Every model of ``provider`` with its catalog status and whether this key's list has it.

    Providers without a list-models call (ByteDance, Kling), or without keys set, give ``listed=None``
    and say why in ``note``; a failing list call is reported in ``note``, never raised."""
    if provider not in PROVIDERS:
        raise ValueError(f"provider: {provider!r} is not known; known: {', '.join(PROVIDERS)}")
    module = PROVIDERS[provider]
    specs = [s for s in api_specs() if s.provider == provider]
    lister = getattr(module, "list_model_ids", None)
    ids: set[str] | None = None
    note = "" if lister else f"{provider} has no list-models call"
    if lister and specs:
        missing = missing_credentials(next(s for s in specs if catalog.is_available(s.key)), settings)
        if missing:
            note = missing
        else:
            try:
                ids = set(lister(settings))
            except ProviderError as err:
                note = f"list-models failed: {err}"
    out = []
    for spec in specs:
        st = catalog.status(spec.key)
        listed = None if ids is None else provider_model_id(spec.key) in ids
        out.append(Availability(spec.key, spec.name, provider, st.state, st.describe(), listed, note))
    return out


def price_of(key: str) -> Price | None:
    """The price row that stands for a model (its per-image price, or its first quality/size row)."""
    if key in PRICES:
        return PRICES[key]
    family = "gpt-image-2.x" if key.startswith("gpt-image-2.") else key
    rows = [p for k, p in PRICES.items() if k.startswith(family + "/")]
    high = [p for k, p in PRICES.items() if k.startswith(family + "/high/")]
    return (high or rows or [None])[0]


def catalog_table() -> str:
    """One line per API model: key, provider, status, price and its source (for ``--list``)."""
    specs = api_specs()
    statuses = {s.key: catalog.status(s.key).describe() for s in specs}
    kw = max([3, *(len(s.key) for s in specs)])
    pw = max([8, *(len(s.provider or "") for s in specs)])
    sw = max([6, *(len(v) for v in statuses.values())])
    rows = [f"{'key':<{kw}}  {'provider':<{pw}}  {'status':<{sw}} {'USD/image':>9}  price source (as of)"]
    for spec in specs:
        p = price_of(spec.key)
        money = f"{p.usd:.3f}" if p else "?"
        source = _source(p) if p else "no price"
        rows.append(f"{spec.key:<{kw}}  {spec.provider or '':<{pw}}  {statuses[spec.key]:<{sw}} {money:>9}  {source}")
    return "\n".join(rows)


def _source(price: Price) -> str:
    """The price's source with its date once: a source that already names the month is not followed by the day."""
    return price.source if price.as_of[:7] in price.source else f"{price.source} ({price.as_of})"


def key_table(settings: "Settings") -> str:
    """For each provider whose keys are set and that has a list-models call: which of our models this key's list
    has (``--list``). Empty when no such provider is set up."""
    lines = []
    for provider, module in PROVIDERS.items():
        if not getattr(module, "list_model_ids", None):
            continue
        rows = available_models(provider, settings)
        if not rows or rows[0].listed is None and rows[0].note and "list-models failed" not in rows[0].note:
            continue  # no keys for it: nothing to ask
        if rows[0].listed is None:
            lines.append(f"{provider}: {rows[0].note}")
            continue
        usable = [r.key for r in rows if r.usable]
        missing = [r.key for r in rows if r.listed is False and r.state != "retired"]
        lines.append(f"{provider}: this key can use {', '.join(usable) or 'none of our models'}"
                     + (f"; not on this key: {', '.join(missing)}" if missing else ""))
    return "\n".join(lines)
