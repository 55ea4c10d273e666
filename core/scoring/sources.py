"""Where a scorer's weights come from, and which revision they are.

Like the generators' weights (core.loading.pretrained_source): a local folder `<IGCS_MODELS_DIR>/<scorer>` when it
exists, else the hub id (through the Hugging Face cache; `HF_HUB_OFFLINE=1` reads the cache only). The revision
makes a score unique per (generation, metric, scorer revision):
- from the hub: the commit of the cached snapshot the files were read from;
- from a local folder: `local-` + a hash of its file names, sizes and the first and last MiB of each file
  (cheap on multi-GB weights, changes whenever a file is replaced).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import hf_hub_download

from core.errors import CaseStudyError
from core.settings import Settings

_CHUNK = 1 << 20


class ScorerWeightsError(CaseStudyError, OSError):
    """A scorer's weights are neither in `<IGCS_MODELS_DIR>/<scorer>` nor reachable on the hub (or its cache)."""


@dataclass(frozen=True)
class WeightsSource:
    """A loadable location (hub snapshot folder or local folder), the id shown to users, and the revision."""

    path: str  # a local folder, or a hub id read at `hub_commit`
    scorer_id: str
    revision: str
    hub_commit: str | None = None
    token: str | None = None

    @property
    def load_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `from_pretrained(path, ...)`: the hub commit the revision names, and the token."""
        kwargs = {"revision": self.hub_commit} if self.hub_commit else {}
        if self.token:
            kwargs["token"] = self.token
        return kwargs

    def __repr__(self) -> str:  # never show the token
        return f"WeightsSource(path={self.path!r}, revision={self.revision!r})"


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


def hub_file(repo_id: str, filename: str, *, scorer: str, settings: Settings) -> tuple[Path, str]:
    """(local path of `filename` in the cached snapshot, snapshot commit). Raises ScorerWeightsError offline."""
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    try:
        path = Path(hf_hub_download(repo_id, filename, token=token))
    except Exception as exc:  # offline, not cached, gated, unknown repo: all say the same thing to the user
        raise ScorerWeightsError(missing_message(scorer, repo_id, filename, settings, exc)) from exc
    # The hub cache keeps files at <cache>/models--owner--name/snapshots/<commit>/<filename>.
    commit = path.parents[len(Path(filename).parts) - 1].name
    return path, commit


def missing_message(scorer: str, repo_id: str, filename: str, settings: Settings, exc: BaseException) -> str:
    where = (f"{Path(settings.models_dir).expanduser() / scorer}" if settings.models_dir
             else f"<IGCS_MODELS_DIR>/{scorer} (IGCS_MODELS_DIR is not set)")
    return (f"scorer {scorer!r}: weights not found. Looked for the folder {where} and for {filename!r} of the hub "
            f"repo {repo_id!r} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}). "
            f"Download them once with `hf download {repo_id}` (then HF_HUB_OFFLINE=1 works), or put "
            f"them in that folder.")


def resolve(scorer: str, repo_id: str, *, settings: Settings, probe: str = "config.json") -> WeightsSource:
    """Where to load `repo_id` from: `<models_dir>/<scorer>` when present, else the hub id pinned to the commit
    whose `probe` file is in the cache (from_pretrained then reads the rest of that commit)."""
    local = local_folder(scorer, settings)
    if local is not None:
        if not (local / probe).is_file():
            raise ScorerWeightsError(f"scorer {scorer!r}: the folder {local} has no {probe}; it must hold what "
                                     f"save_pretrained writes for {repo_id} (or remove it to use the hub)")
        return WeightsSource(path=str(local), scorer_id=str(local), revision=folder_revision(local))
    _, commit = hub_file(repo_id, probe, scorer=scorer, settings=settings)
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    return WeightsSource(path=repo_id, scorer_id=repo_id, revision=commit, hub_commit=commit, token=token)
