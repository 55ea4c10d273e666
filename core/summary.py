"""What a run did, per model and per configuration: counts, p50/p90 seconds, FLOPs, images per second.

Statistics never pool configurations: each (model, size, steps, guidance, speed recipe) is its own line, and first
calls after a load (warm-up included) are left out of the steady-state percentiles.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from core.units import fmt_flops

if TYPE_CHECKING:  # annotations only: the runner imports this module
    from core.generation import Outcome
    from core.runner import Job


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


@dataclass
class ConfigStats:
    """One model at one configuration."""

    ok: int = 0
    failed: int = 0
    total_s: list[float] = field(default_factory=list)  # steady-state calls (first calls left out)
    first_s: list[float] = field(default_factory=list)
    flops: list[float] = field(default_factory=list)
    peak_mem_gb: float | None = None
    cost_usd: float = 0.0
    error: str | None = None


@dataclass
class Summary:
    run_id: int | None = None
    configs: dict[tuple[str, str], ConfigStats] = field(default_factory=dict)  # (model, "WxH, N steps") -> stats
    skipped: dict[str, int] = field(default_factory=dict)  # model -> jobs already stored
    seconds: float = 0.0
    status: str = "finished"
    output_dir: str | None = None
    database: str | None = None

    @classmethod
    def planned(cls, jobs: Sequence["Job"], todo: Sequence["Job"]) -> "Summary":
        summary = cls()
        pending = {j.key for j in todo}
        for job in jobs:
            if job.key not in pending:
                summary.skipped[job.spec.key] = summary.skipped.get(job.spec.key, 0) + 1
        return summary

    @staticmethod
    def config_label(job: "Job") -> str:
        r = job.request
        if job.spec.is_api:
            return f"{r.width}x{r.height}"
        label = f"{r.width}x{r.height}, {r.steps} steps, cfg {r.guidance:g}"
        recipe = getattr(job, "recipe", "eager")
        return label if recipe == "eager" else f"{label}, {recipe}"

    def add(self, job: "Job", outcome: "Outcome") -> None:
        stats = self.configs.setdefault((job.spec.key, self.config_label(job)), ConfigStats())
        if not outcome.ok:
            stats.failed += 1
            stats.error = stats.error or outcome.error
            return
        stats.ok += len(outcome.images)
        stats.cost_usd += outcome.cost_usd or 0.0
        if outcome.total_s is not None:
            (stats.first_s if outcome.first_call else stats.total_s).append(outcome.total_s)
        if outcome.flops_total:
            stats.flops.append(outcome.flops_total)
        if outcome.peak_mem_gb is not None:
            stats.peak_mem_gb = max(stats.peak_mem_gb or 0.0, outcome.peak_mem_gb)

    @property
    def ok(self) -> int:
        return sum(s.ok for s in self.configs.values())

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.configs.values())

    def table(self) -> str:
        width = max([30, *(len(config) for _, config in self.configs)])
        head = (f"{'model':<16} {'configuration':<{width}} {'ok':>4} {'fail':>4} {'p50 s':>8} {'p90 s':>8} {'first s':>8} "
                f"{'img/s':>7} {'FLOPs':>10} {'peak GB':>8} {'USD':>7}")
        lines = [head, "-" * len(head)]
        fmt = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        for (model, config), s in self.configs.items():
            p50 = percentile(s.total_s, 50)
            times = s.total_s or s.first_s
            rate = len(times) / sum(times) if times and sum(times) > 0 else None
            flops = float(np.mean(s.flops)) if s.flops else None
            lines.append(f"{model:<16} {config:<{width}} {s.ok:>4} {s.failed:>4} {fmt(p50, 3):>8} "
                         f"{fmt(percentile(s.total_s, 90), 3):>8} {fmt(s.first_s[0] if s.first_s else None, 3):>8} "
                         f"{fmt(rate, 3):>7} {fmt_flops(flops):>10} {fmt(s.peak_mem_gb):>8} {fmt(s.cost_usd or None, 3):>7}")
        skipped = sum(self.skipped.values())
        run = f"run {self.run_id}" if self.run_id is not None else "no new run"
        lines.append(f"{run}: {self.ok} generated, {self.failed} failed, {skipped} already stored; "
                     f"{self.seconds:.1f} s; status {self.status}")
        if self.output_dir:
            lines.append(f"images: {self.output_dir}")
        if self.database:
            lines.append(f"store: {self.database}")
        errors = [f"  {m} ({c}): {s.error}" for (m, c), s in self.configs.items() if s.error]
        if errors:
            lines += ["errors:", *errors]
        return "\n".join(lines)
