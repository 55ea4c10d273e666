"""The machine a run happened on: GPUs, driver, library versions, git revision."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


@lru_cache
def git_revision() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5)
        rev = out.stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{rev}-dirty" if rev and dirty else rev
    except (OSError, subprocess.SubprocessError):
        return None


def cuda_present() -> bool:
    """Whether this process can see an NVIDIA GPU, without importing torch (pages ask before any model loads):
    torch's answer once torch is loaded, else the driver's device files and CUDA_VISIBLE_DEVICES."""
    if "torch" in sys.modules:
        return bool(sys.modules["torch"].cuda.is_available())
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return Path("/dev/nvidia0").exists() or any(Path("/proc/driver/nvidia/gpus").glob("*"))


def _gpus_from_nvidia_smi() -> list[dict]:
    """`gpus()` before torch is loaded: nvidia-smi's view, in CUDA_VISIBLE_DEVICES order (nothing allocated by
    this process yet)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,memory.total,memory.free",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    rows = {}
    for line in out.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4 and parts[0].isdigit():
            rows[parts[0]] = parts
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    order = [v for v in visible if v in rows] if visible else sorted(rows, key=int)
    return [{"index": i, "name": rows[k][1], "total_gb": float(rows[k][2]) * 1.048576e-3,
             "free_gb": float(rows[k][3]) * 1.048576e-3, "allocated_gb": 0.0} for i, k in enumerate(order)]


def gpus() -> list[dict]:
    """Visible CUDA devices: index, name, total and free memory in GB (torch's view once torch is loaded; before
    that nvidia-smi's, so that drawing a page does not import torch)."""
    if "torch" not in sys.modules:
        return _gpus_from_nvidia_smi() if cuda_present() else []
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            out.append({"index": i, "name": torch.cuda.get_device_name(i), "total_gb": total / 1e9,
                        "free_gb": free / 1e9, "allocated_gb": torch.cuda.memory_allocated(i) / 1e9})
    return out


def physical_gpu_ids(devices: list[str]) -> list[str]:
    """The machine's ids of CUDA devices as this process names them ("cuda:0" is the first of
    CUDA_VISIBLE_DEVICES, which Ray sets for each GPU worker); CPU devices have none."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    out = []
    for device in devices:
        if not device.startswith("cuda"):
            continue
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        out.append(visible[index] if index < len(visible) else str(index))
    return out


def _driver_version() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def fingerprint(device: str | None = None) -> dict:
    """Fields of `Run` that describe the environment."""
    import torch

    visible = gpus()
    return {
        "hostname": socket.gethostname(),
        "device": device,
        "gpu_name": visible[0]["name"] if visible else None,
        "gpu_count": len(visible),
        "driver_version": _driver_version() if visible else None,
        "cuda_version": torch.version.cuda,
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "diffusers_version": _version("diffusers"),
        "transformers_version": _version("transformers"),
        "git_revision": git_revision(),
        "git_dirty": (git_revision() or "").endswith("-dirty") if git_revision() else None,
    }
