"""Executors: where a run's jobs go. The runner (core.runner) plans, keys, records and scores; an executor
only runs each model's chunks somewhere and hands back `(job, Outcome)` events.

    local           this process, one model at a time on the engine's device (core.executors.local)
    ray             Ray actors, one per GPU (or CPU slot), over one node or a cluster (core.executors.ray_executor)
"""
from __future__ import annotations

from core.errors import RequestError

EXECUTORS: tuple[str, ...] = ("local", "ray")


def check_executor(name: str, ray_address: str | None = None) -> None:
    """A bad --executor or --ray-address is an error naming the field, before anything starts."""
    if name not in EXECUTORS:
        raise RequestError("executor", name, " or ".join(EXECUTORS))
    if ray_address is None:
        return
    if name != "ray":
        raise RequestError("ray-address", ray_address, "only with --executor ray")
    text = ray_address.strip()
    if text == "auto":
        return
    rest = text[len("ray://"):] if text.startswith("ray://") else text
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest:
        raise RequestError("ray-address", ray_address, "auto, ray://HOST:PORT (Ray Client, e.g. port 10001) or "
                                                       "HOST:PORT (the head's GCS, e.g. port 6379)")
