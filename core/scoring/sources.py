"""Where a scorer's weights come from, and which revision they are.

Like the generators' weights (core.loading.pretrained_source): a local folder `<IGCS_MODELS_DIR>/<scorer>` when it
exists, else the hub id through the Hugging Face cache. The cache is read first: a file already there loads from its
snapshot folder with no network call at all (from_pretrained on that folder never asks the hub for optional
files). A file not in the cache is downloaded only when the hub answers one quick connection attempt
(`HUB_PROBE_S`); offline (`HF_HUB_OFFLINE=1`, or no route to the hub) the error comes at once, with the command
that fetches the weights, instead of huggingface_hub's five retries with backoff (about 25 s per file, each retry
logged). The revision makes a score unique per (generation, metric, scorer revision):
- from the hub: the commit of the cached snapshot the files were read from;
- from a local folder: `local-` + a hash of its file names, sizes and the first and last MiB of each file
  (cheap on multi-GB weights, changes whenever a file is replaced).
"""
from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

from huggingface_hub import constants as hub_constants
from huggingface_hub import hf_hub_download, snapshot_download, try_to_load_from_cache

from core.errors import CaseStudyError
from core.settings import Settings

_CHUNK = 1 << 20
HUB_PROBE_S = 1.5  # one TCP connection attempt to the hub before a download; offline fails within it


@dataclass(frozen=True)
class HubFiles:
    """One download a scorer's pretrained weights need: `include` (file names or glob patterns; empty: the whole
    repo) of the hub repo `repo`; `probe` is the file whose presence in the cache (or in `<models_dir>/<folder>`)
    means the download is there."""

    repo: str
    probe: str
    include: tuple[str, ...] = ()
    folder: str = ""  # the `<models_dir>/<folder>` that replaces the download when it exists
    purpose: str = "weights"
    weights: bool = True  # False: a tokenizer or processor download, present without weight files


class ScorerWeightsError(CaseStudyError, OSError):
    """A scorer's weights are neither in `<IGCS_MODELS_DIR>/<scorer>` nor reachable on the hub (or its cache)."""


@dataclass(frozen=True)
class WeightsSource:
    """A loadable location (hub snapshot folder or local folder), the id shown to users, and the revision."""

    path: str  # a local folder: `<models_dir>/<scorer>` or the cached hub snapshot of `hub_commit`
    scorer_id: str
    revision: str
    hub_commit: str | None = None

    @property
    def load_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `from_pretrained(path, ...)`: none, `path` is a local folder (no network)."""
        return {}


def local_folder(name: str, settings: Settings) -> Path | None:
    """`<models_dir>/<name>` when that folder exists."""
    if settings.models_dir:
        local = Path(settings.models_dir).expanduser() / name
        if local.is_dir():
            return local
    return None


def folder_revision(folder: Path) -> str:
    """`local-<12 hex>`: file names, sizes and the first and last MiB of every file under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as f:
            digest.update(f.read(_CHUNK))
            if size > 2 * _CHUNK:
                f.seek(-_CHUNK, 2)
                digest.update(f.read(_CHUNK))
    return "local-" + digest.hexdigest()[:12]


def fetch_command(repo_id: str, include: Sequence[str] = ()) -> str:
    """The command that puts `repo_id` (only `include`: file names, or glob patterns) into the Hugging Face cache."""
    if include and not any(c in p for p in include for c in "*?["):
        return " ".join(["hf download", repo_id, *include])
    return f"hf download {repo_id}" + "".join(f" --include '{p}'" for p in include)


def hub_reachable(timeout: float = HUB_PROBE_S) -> bool:
    """False when offline mode is on or one TCP connection to the hub endpoint fails within `timeout` seconds."""
    if hub_constants.is_offline_mode():
        return False
    url = urlsplit(hub_constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    answered, done = threading.Event(), threading.Event()

    def connect() -> None:  # in a thread: a name lookup with no DNS server can outlast any socket timeout
        try:
            with socket.create_connection((url.hostname, port), timeout=timeout):
                answered.set()
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=connect, daemon=True, name="hub-probe").start()
    done.wait(timeout)
    return answered.is_set()


def cached_file(repo_id: str, filename: str) -> Path | None:
    """`filename` of `repo_id` in the Hugging Face cache (the snapshot `main` points at), or None."""
    found = try_to_load_from_cache(repo_id, filename)
    return Path(found) if isinstance(found, str) else None


def snapshot_folder(path: Path, filename: str) -> Path:
    """The cache keeps files at <cache>/models--owner--name/snapshots/<commit>/<filename>: that snapshot folder."""
    return path.parents[len(Path(filename).parts) - 1]


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def has_weights(folder: Path) -> bool:
    """Whether a snapshot folder holds a weight file (a repo's config alone is not a usable download)."""
    return any(p.suffix in WEIGHT_SUFFIXES for p in folder.rglob("*"))


def _token(settings: Settings) -> str | None:
    return settings.hf_token.get_secret_value() if settings.hf_token else None


def _offline_reason() -> str:
    return ("HF_HUB_OFFLINE is set" if hub_constants.is_offline_mode()
            else f"not in the Hugging Face cache, and {hub_constants.ENDPOINT} did not answer within {HUB_PROBE_S} s")


def hub_file(repo_id: str, filename: str, *, scorer: str, settings: Settings,
             include: Sequence[str] = ()) -> tuple[Path, str]:
    """(local path of `filename`, snapshot commit): from the cache when there, else downloaded when the hub answers
    at once; else ScorerWeightsError naming `fetch_command(repo_id, include or [filename])`."""
    include = tuple(include) or (filename,)
    path = cached_file(repo_id, filename)
    if path is None:
        if not hub_reachable():
            raise ScorerWeightsError(missing_message(scorer, repo_id, filename, settings, _offline_reason(), include))
        try:
            path = Path(hf_hub_download(repo_id, filename, token=_token(settings)))
        except Exception as exc:  # gated, unknown repo, lost connection: all say the same thing to the user
            detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
            raise ScorerWeightsError(missing_message(scorer, repo_id, filename, settings, detail, include)) from exc
    return path, snapshot_folder(path, filename).name


def missing_message(scorer: str, repo_id: str, filename: str, settings: Settings, reason: str,
                    include: Sequence[str] = ()) -> str:
    where = (f"{Path(settings.models_dir).expanduser() / scorer}" if settings.models_dir
             else f"<IGCS_MODELS_DIR>/{scorer} (IGCS_MODELS_DIR is not set)")
    return (f"scorer {scorer!r}: weights not found. Looked for the folder {where} and for {filename!r} of the hub "
            f"repo {repo_id!r} ({reason}). Download them once with `{fetch_command(repo_id, include)}` (then "
            f"HF_HUB_OFFLINE=1 works), or put them in that folder. `python -m core.bench weights` lists what every "
            f"scorer and model needs.")


def resolve(scorer: str, repo_id: str, *, settings: Settings, probe: str = "config.json",
            include: Sequence[str] = ()) -> WeightsSource:
    """Where to load `repo_id` from: `<models_dir>/<scorer>` when present, else its cached hub snapshot (the one
    holding `probe`), fetched first (the files matching `include`, all when empty) when the cache lacks `probe` and
    the hub answers. from_pretrained then reads a local folder: no network call."""
    local = local_folder(scorer, settings)
    if local is not None:
        if not (local / probe).is_file():
            raise ScorerWeightsError(f"scorer {scorer!r}: the folder {local} has no {probe}; it must hold what "
                                     f"save_pretrained writes for {repo_id} (or remove it to use the hub)")
        return WeightsSource(path=str(local), scorer_id=str(local), revision=folder_revision(local))
    path = cached_file(repo_id, probe)
    if path is None:
        if not hub_reachable():
            raise ScorerWeightsError(missing_message(scorer, repo_id, probe, settings, _offline_reason(), include))
        try:
            folder = Path(snapshot_download(repo_id, allow_patterns=list(include) or None, token=_token(settings)))
            if "*.safetensors" in include and not has_weights(folder):  # a repo of .bin files only
                folder = Path(snapshot_download(repo_id, allow_patterns=["*.bin"], token=_token(settings)))
        except Exception as exc:
            detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
            raise ScorerWeightsError(missing_message(scorer, repo_id, probe, settings, detail, include)) from exc
    else:
        folder = snapshot_folder(path, probe)
    return WeightsSource(path=str(folder), scorer_id=repo_id, revision=folder.name, hub_commit=folder.name)


def load_error(scorer: str, source: WeightsSource, exc: BaseException,
               include: Sequence[str] = ()) -> ScorerWeightsError:
    """A from_pretrained failure on a resolved folder (a snapshot missing its weight files): the fetch command."""
    fix = (f"download them with `{fetch_command(source.scorer_id, include)}`" if source.hub_commit
           else "that folder must hold what save_pretrained writes")
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ScorerWeightsError(f"scorer {scorer!r}: could not load {source.scorer_id} from {source.path} "
                              f"({type(exc).__name__}: {first}); {fix}")
