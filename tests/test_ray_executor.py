"""The Ray executor on a local Ray of 2 CPUs (started once for the module): the same rows as the local
executor, a worker killed mid-sweep, Cancel, the CLI end to end, and a bad --ray-address."""
from __future__ import annotations

import os
import signal
import socket
from dataclasses import replace

import pytest
from PIL import Image
from sqlmodel import select

from core.cli.bench import main
from core.executors.ray_executor import RayExecutor, runtime_env
from core.runner import Progress
from core.settings import get_settings
from core.store import Generation, Run, make_engine, session_scope
from core.sweep import Sweep, prepare

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

MODELS = "sd21,pixart-sigma"


@pytest.fixture(scope="module")
def ray_cpus():
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env(None), logging_level="WARNING")
    yield
    ray.shutdown()


def _sweep(tmp_path, name: str, **kw) -> Sweep:
    return Sweep(models=MODELS, prompts=("a red cube", "a cat", "two dogs"), seeds=(0, 1), weights="tiny",
                 db=str(tmp_path / f"{name}.db"), out=str(tmp_path / name), device="cpu", **kw)


def _run(sweep: Sweep, executor=None, progress=None):
    prepared = prepare(sweep)
    runner = prepared.runner(**({"executor": executor} if executor is not None else {}))
    return prepared, runner, runner.run(prepared.jobs, progress=progress)


def _rows(db_path) -> list[Generation]:
    with session_scope(make_engine(f"sqlite:///{db_path}"), read_only=True) as s:
        return list(s.exec(select(Generation).order_by(Generation.id)))


def _pixels(rows) -> dict[str, bytes]:
    return {r.job_key: Image.open(r.image_path).tobytes() for r in rows if r.status == "ok"}


def _executor(**kw) -> RayExecutor:
    return RayExecutor(weights="tiny", settings=get_settings(), device="cpu", cpu_workers=2, **kw)


def test_ray_gives_exactly_the_rows_of_the_local_executor(tmp_path, ray_cpus):
    _, _, local = _run(_sweep(tmp_path, "local"))
    _, _, remote = _run(_sweep(tmp_path, "ray"), _executor())
    assert local.status == remote.status == "finished" and local.ok == remote.ok == 12
    local_rows, ray_rows = _rows(tmp_path / "local.db"), _rows(tmp_path / "ray.db")
    assert len(ray_rows) == len({r.job_key for r in ray_rows}) == 12
    assert _pixels(ray_rows) == _pixels(local_rows)  # same keys, same image for each seed
    host = socket.gethostname()
    assert {(r.host, r.gpu_count, r.gpu_ids) for r in ray_rows} == {(host, 0, None)}


def test_speed_recipes_run_on_ray_as_they_do_locally(tmp_path, ray_cpus, monkeypatch):
    """One model session for both executors: a recipe group on Ray gets its recipe, compile_s and delta against eager."""
    monkeypatch.setenv("IGCS_COMPILE_BACKEND", "eager")  # torch.compile's eager backend: the recipe path, no codegen
    get_settings.cache_clear()
    sweep = lambda name, executor="local": Sweep(  # noqa: E731
        models="sdxl", prompts=("a red cube",), seeds=(0, 1), weights="tiny", db=str(tmp_path / f"{name}.db"),
        out=str(tmp_path / name), device="cpu", recipes=("eager", "compile"), executor=executor)
    _, _, local = _run(sweep("local"))
    _, _, remote = _run(sweep("ray", "ray"), _executor())
    assert local.ok == remote.ok == 4 and remote.failed == 0
    rows = {(r.recipe, r.seed): r for r in _rows(tmp_path / "ray.db")}
    assert set(rows) == {("eager", 0), ("eager", 1), ("compile", 0), ("compile", 1)}
    compiled = rows["compile", 0]
    assert compiled.job_key == rows["eager", 0].job_key + "~compile"
    assert "compile" in compiled.profile["recipe"]["applied"] and compiled.psnr_db is not None
    assert rows["eager", 0].compile_s is None
    assert _pixels(_rows(tmp_path / "ray.db")) == _pixels(_rows(tmp_path / "local.db"))


class KillOnce(Progress):
    """After the first recorded job, SIGKILL a worker that has chunks in flight (as the OOM killer would)."""

    def __init__(self, executor: RayExecutor):
        self.executor, self.killed = executor, None

    def job_done(self, job, outcome, rows) -> None:
        if self.killed is None:
            busy = [s for s in self.executor.slots if s.inflight]
            self.killed = busy[0].info["pid"]
            os.kill(self.killed, signal.SIGKILL)


def test_a_worker_killed_mid_sweep_is_restarted_and_the_run_completes_without_duplicates(tmp_path, ray_cpus):
    executor = _executor()
    progress = KillOnce(executor)
    prepared, _, summary = _run(_sweep(tmp_path, "kill"), executor, progress)
    assert progress.killed is not None and executor.retried >= 1  # the kill hit work in flight
    rows = _rows(tmp_path / "kill.db")
    assert summary.status == "finished" and summary.failed == 0
    assert sorted(r.job_key for r in rows) == sorted(j.key for j in prepared.jobs)  # each job once, all ok
    assert {r.status for r in rows} == {"ok"}
    # resume by job key: nothing left to do
    _, _, again = _run(_sweep(tmp_path, "kill"), _executor())
    assert again.status == "nothing to do"


class CancelAfterFirst(Progress):
    def __init__(self):
        self.runner = None

    def job_done(self, job, outcome, rows) -> None:
        self.runner.cancel.set()


def test_cancel_stops_a_ray_batch_and_records_it_cancelled(tmp_path, ray_cpus):
    prepared = prepare(replace(_sweep(tmp_path, "cancel"), models="pixart-sigma"))
    executor = _executor()
    runner = prepared.runner(executor=executor)
    progress = CancelAfterFirst()
    progress.runner = runner
    summary = runner.run(prepared.jobs, progress=progress)
    rows = _rows(tmp_path / "cancel.db")
    assert summary.status == "cancelled" and 1 <= len(rows) < len(prepared.jobs)
    assert len({r.job_key for r in rows}) == len(rows) and executor.slots == []  # workers gone
    with session_scope(make_engine(f"sqlite:///{tmp_path / 'cancel.db'}"), read_only=True) as s:
        assert s.exec(select(Run)).one().status == "cancelled"


def test_the_cli_runs_a_sweep_on_ray(tmp_path, ray_cpus, capsys):
    argv = _sweep(tmp_path, "cli", executor="ray").argv()[3:]
    assert main(argv) == 0
    rows = _rows(tmp_path / "cli.db")
    assert len(rows) == 12 and {r.status for r in rows} == {"ok"}
    with session_scope(make_engine(f"sqlite:///{tmp_path / 'cli.db'}"), read_only=True) as s:
        assert s.exec(select(Run)).one().params["executor"] == {"name": "ray", "address": None}


@pytest.mark.parametrize("address, message", [
    ("nohost", "ray-address: 'nohost' is not allowed"),
    ("127.0.0.1:1", "ray-address: nothing answers at 127.0.0.1:1"),
])
def test_a_bad_ray_address_fails_before_anything_loads(tmp_path, capsys, address, message):
    argv = _sweep(tmp_path, "bad", executor="ray", ray_address=address).argv()[3:]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    with session_scope(make_engine(f"sqlite:///{tmp_path / 'bad.db'}"), read_only=True) as s:
        assert s.exec(select(Run)).all() == []  # no run started


def test_a_ray_address_needs_the_ray_executor(tmp_path, capsys):
    assert main(["--models", "sd21", "--weights", "tiny", "--prompt", "x", "--ray-address", "auto",
                 "--db", str(tmp_path / "r.db")]) == 2
    assert "ray-address: 'auto' is not allowed; only with --executor ray" in capsys.readouterr().err


class LoseEveryWorker(Progress):
    """After the first recorded job, every worker dies for good (what a Ray node that goes down does to its actors:
    Ray cannot restart them anywhere)."""

    def __init__(self, executor: RayExecutor):
        self.executor, self.lost = executor, False

    def job_done(self, job, outcome, rows) -> None:
        if not self.lost:
            self.lost = True
            for slot in self.executor.slots:
                ray.kill(slot.handle, no_restart=True)


def test_a_lost_node_stops_the_run_as_interrupted_without_inventing_failed_rows(tmp_path, ray_cpus):
    """Issue 21, bug 4: no failed rows for jobs that never ran, no crash in the runner, the run is `interrupted`;
    the same sweep again resumes what is left."""
    executor = _executor()
    progress = LoseEveryWorker(executor)
    prepared, runner, summary = _run(_sweep(tmp_path, "lost"), executor, progress)
    assert progress.lost
    assert summary.status == "interrupted"
    assert "resume" in runner.interrupted and "\n" not in runner.interrupted
    rows = _rows(tmp_path / "lost.db")
    assert rows and {r.status for r in rows} == {"ok"}  # what ran is kept; nothing invented for the rest
    assert len(rows) < len(prepared.jobs)
    with session_scope(make_engine(f"sqlite:///{tmp_path / 'lost.db'}"), read_only=True) as s:
        assert s.exec(select(Run)).one().status == "interrupted"
    _, _, again = _run(_sweep(tmp_path, "lost"), _executor())
    assert again.status == "finished" and again.failed == 0
    assert sorted(r.job_key for r in _rows(tmp_path / "lost.db")) == sorted(j.key for j in prepared.jobs)


def test_the_cli_says_a_lost_cluster_interrupted_the_run_in_one_line(tmp_path, ray_cpus, capsys, monkeypatch):
    import core.executors.ray_executor as ray_executor

    real = ray_executor.RayExecutor._dispatch

    def dispatch(self, *args, **kwargs):
        yield from real(self, *args, **kwargs)
        if any(s.inflight for s in self.slots) and not getattr(self, "_lost", False):
            self._lost = True
            for slot in self.slots:
                ray.kill(slot.handle, no_restart=True)

    monkeypatch.setattr(ray_executor.RayExecutor, "_dispatch", dispatch)
    argv = _sweep(tmp_path, "cli-lost", executor="ray").argv()[3:]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1 and "same command" in lines[0], captured.err
    assert all(r.status == "ok" for r in _rows(tmp_path / "cli-lost.db"))


def test_a_local_ray_says_what_token_auth_means_once_instead_of_rays_warning(tmp_path):
    """Issue 21, start-up: Ray's per-start token-auth warning is replaced by one line of ours."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = ("import logging; logging.basicConfig(level=logging.INFO)\n"
            "from core.executors.ray_executor import connect; connect(None)\n"
            "import ray; ray.shutdown()\n")
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Token authentication is enabled for this Ray cluster" not in done.stderr
    assert done.stderr.count("Ray starts on this machine with token authentication") == 1
