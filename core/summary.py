"""What a run did, per model and per configuration: the CLI's table at the end of a sweep.

The numbers come from `core.stats.config_table` over the rows the run recorded: the same function over the same rows
as `export summary`, Charts and Compare, so every view gives one number for one configuration (first calls apart,
never pooled across configurations).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

from core import stats
from core.jobs import Job
from core.units import fmt_flops

ROW_COLUMNS = stats.CONFIG_COLUMNS + stats.STAT_COLUMNS + ("error",)


@dataclass
class Summary:
    run_id: int | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # what the run recorded (the statistics' input)
    skipped: dict[str, int] = field(default_factory=dict)  # model -> jobs already stored
    seconds: float = 0.0
    status: str = "finished"
    output_dir: str | None = None
    database: str | None = None

    @classmethod
    def planned(cls, jobs: Sequence[Job], todo: Sequence[Job]) -> "Summary":
        summary = cls()
        pending = {j.key for j in todo}
        for job in jobs:
            if job.key not in pending:
                summary.skipped[job.spec.key] = summary.skipped.get(job.spec.key, 0) + 1
        return summary

    def add(self, rows: Sequence[Any]) -> None:
        """The rows one job recorded (store rows or dicts of their columns)."""
        for row in rows:
            record = row if isinstance(row, dict) else row.model_dump()
            self.rows.append({c: record.get(c) for c in ROW_COLUMNS})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.rows, columns=list(ROW_COLUMNS))

    def table_frame(self) -> pd.DataFrame:
        return stats.config_table(self.frame())

    @property
    def ok(self) -> int:
        return sum(1 for r in self.rows if r["status"] == "ok")

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r["status"] != "ok")

    def table(self) -> str:
        table = self.table_frame()
        frame = stats.with_config(self.frame()) if self.rows else None
        width = max([30, *(len(c) for c in table["config"])])
        head = (f"{'model':<16} {'configuration':<{width}} {'ok':>4} {'fail':>4} {'p50 s':>8} {'p90 s':>8} {'first s':>8} "
                f"{'img/s':>7} {'FLOPs':>10} {'peak GB':>8} {'USD':>7}")
        lines = [head, "-" * len(head)]
        fmt = lambda v, d=2: "-" if v is None or pd.isna(v) else f"{v:.{d}f}"  # noqa: E731
        for r in table.to_dict("records"):
            ok = int(r["n"] + r["first_n"])
            flops = None if pd.isna(r["tflop"]) else r["tflop"] * 1e12
            usd = r.get("usd_list")
            lines.append(f"{r['model_key']:<16} {r['config']:<{width}} {ok:>4} {int(r['failed']):>4} {fmt(r['p50_s'], 3):>8} "
                         f"{fmt(r['p90_s'], 3):>8} {fmt(r['first_s'], 3):>8} {fmt(r['images_per_s'], 3):>7} "
                         f"{fmt_flops(flops):>10} {fmt(r['peak_mem_gb']):>8} {fmt(usd if usd else None, 3):>7}")
        skipped = sum(self.skipped.values())
        run = f"run {self.run_id}" if self.run_id is not None else "no new run"
        lines.append(f"{run}: {self.ok} generated, {self.failed} failed, {skipped} already stored; "
                     f"{self.seconds:.1f} s; status {self.status}")
        if self.output_dir:
            lines.append(f"images: {self.output_dir}")
        if self.database:
            lines.append(f"store: {self.database}")
        if frame is not None and "status" in frame.columns:
            failed = frame[frame["status"] != "ok"]
            errors = failed.groupby(["model_key", "config"], sort=False)["error"].first()
            if len(errors):
                lines += ["errors:", *(f"  {m} ({c}): {e}" for (m, c), e in errors.items())]
        return "\n".join(lines)
