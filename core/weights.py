"""`python -m core.bench weights`: what every open model and every scorer needs, where it looks, what is present,
and the command that fetches what is missing.

    python -m core.bench weights                 (everything)
    python -m core.bench weights --missing       (only what is not there, with its commands)
    python -m core.bench weights --json          (one object per download, for scripts)

Where weights are looked for, in order (core.loading.pretrained_source, core.scoring.sources):
1. `<IGCS_MODELS_DIR>/<key>`: a model key or a scorer's folder (clip, pick, pick-processor, aesthetic, hps, ...),
   holding what save_pretrained writes (or the authors' checkpoint file, for aesthetic, hps and imagereward);
2. the Hugging Face cache (`HF_HUB_CACHE`, by default ~/.cache/huggingface/hub), filled by `hf download`.
A download is "present" when its probe file (model_index.json, config.json, or the named checkpoint) is there
with weight files beside it, "partial" when the probe is there without weight files, else "missing". Gated repos
need their licence accepted on the hub page and `HF_TOKEN` set before `hf download`. Nothing here touches the
network.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants as hub_constants

from core.families import get_family
from core.registry import all_specs
from core.scoring.scorers import SCORERS
from core.scoring.sources import cached_file, fetch_command, has_weights, snapshot_folder
from core.settings import Settings

SCRIPT_FILES = (".pt", ".pth")  # single checkpoint files: present means that file is cached


@dataclass(frozen=True)
class Download:
    """One hub download a model or a scorer needs, and what this machine has of it."""

    kind: str  # model | scorer
    owner: str  # model key or metric
    repo: str
    holds: str  # what it is for
    gated: bool
    probe: str
    include: tuple[str, ...]
    local_dir: str | None  # <models_dir>/<folder>, when IGCS_MODELS_DIR is set
    status: str  # present | partial | missing
    found_at: str | None  # the folder or file used, when present or partial
    command: str


def _status(repo: str, probe: str, local: Path | None, weights: bool = True) -> tuple[str, str | None]:
    if local is not None and local.is_dir():
        if (local / probe).is_file():
            return ("present" if not weights or has_weights(local) else "partial"), str(local)
        return "partial", str(local)
    path = cached_file(repo, probe)
    if path is None:
        return "missing", None
    if path.suffix in SCRIPT_FILES:
        return "present", str(path)
    folder = snapshot_folder(path, probe)
    return ("present" if not weights or has_weights(folder) else "partial"), str(folder)


def cache_folder(repo: str) -> str:
    """Where the Hugging Face cache keeps `repo` (huggingface_hub's layout: models--owner--name)."""
    return str(Path(hub_constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--")))


def _local(settings: Settings, folder: str) -> Path | None:
    return Path(settings.models_dir).expanduser() / folder if settings.models_dir else None


def model_downloads(settings: Settings) -> list[Download]:
    """Every open model's downloads (its own repo, and the others its family reads: decoder, text encoder)."""
    out = []
    for spec in all_specs("open"):
        if not spec.hf_id or not spec.family:
            continue
        for i, hub in enumerate(get_family(spec.family).hub_repos(spec)):
            local = _local(settings, spec.key) if i == 0 else None  # <models_dir>/<key> replaces the main repo
            status, found = _status(hub.repo, hub.probe, local)
            out.append(Download("model", spec.key, hub.repo, hub.holds, hub.gated, hub.probe, (),
                                str(local) if local else None, status, found, fetch_command(hub.repo)))
    return out


def scorer_downloads(settings: Settings) -> list[Download]:
    out = []
    for metric, cls in SCORERS.items():
        for need in cls.needs:
            local = _local(settings, need.folder) if need.folder else None
            status, found = _status(need.repo, need.probe, local, need.weights)
            out.append(Download("scorer", metric, need.repo, need.purpose, False, need.probe, need.include,
                                str(local) if local else None, status, found, fetch_command(need.repo, need.include)))
    return out


def _line(d: Download) -> list[str]:
    gated = " · gated: accept its licence on the hub page, set HF_TOKEN" if d.gated else ""
    where = d.found_at or (f"{d.local_dir}, then {cache_folder(d.repo)}" if d.local_dir else cache_folder(d.repo))
    lines = [f"  {d.owner:<14} {d.repo:<52} {d.status:<8} {d.holds}{gated}", f"  {'':<14} looks in {where}"]
    if d.status != "present":
        lines.append(f"  {'':<14} fetch:   {d.command}")
    return lines


def report(downloads: list[Download], settings: Settings) -> str:
    models_dir = settings.models_dir or "(IGCS_MODELS_DIR not set)"
    offline = "  (HF_HUB_OFFLINE=1)" if hub_constants.HF_HUB_OFFLINE else ""
    head = [f"HF cache: {hub_constants.HF_HUB_CACHE}{offline}",
            f"local folders: {models_dir}/<model key or scorer folder>, used instead of the hub when present", ""]
    body = []
    for kind, title in (("model", "Open models (pretrained weights)"), ("scorer", "Scorers (pretrained weights)")):
        rows = [d for d in downloads if d.kind == kind]
        if rows:
            body += [f"{title}:", *[line for d in rows for line in _line(d)], ""]
    missing = [d for d in downloads if d.status != "present"]
    tail = [f"{len(downloads) - len(missing)} of {len(downloads)} downloads present"]
    if not body:
        tail = ["everything is present"]
    return "\n".join(head + body + tail)
