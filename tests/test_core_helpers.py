"""explain_error, path safety inside the output folder, GPU-hour pricing, per-configuration summary."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from core import outputs, pricing, stats
from core.errors import RequestError
from core.explain import explain_error

HF_OFFLINE = ("OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them "
              "in the cached files. Check your internet connection or see how to run the library in offline mode "
              "at 'https://huggingface.co/docs/diffusers/installation#offline-mode'.")
HF_LOCAL_ONLY = ("OSError: Cannot find the requested files in the disk cache and outgoing traffic has been disabled. "
                 "To enable hub look-ups and downloads online, set 'local_files_only' to False. "
                 "pass local_files_only=False, see the stacktrace above")


@pytest.mark.parametrize("text", [HF_OFFLINE, HF_LOCAL_ONLY])
def test_hugging_face_errors_become_one_clear_line_with_the_text_kept(text):
    line, detail = explain_error(text)
    assert "not on this machine" in line and "IGCS_MODELS_DIR" in line
    assert "local_files_only" not in line and "stacktrace" not in line and "\n" not in line
    assert detail == text


def test_an_exception_keeps_its_traceback_as_the_detail():
    try:
        try:
            raise FileNotFoundError("no file named model_index.json")
        except FileNotFoundError as inner:
            raise OSError("pass local_files_only=False; see the stacktrace above") from inner
    except OSError as exc:
        line, detail = explain_error(exc)
    assert "not on this machine" in line
    assert "Traceback" in detail and "model_index.json" in detail


def test_our_own_errors_keep_their_message():
    line, _ = explain_error(RequestError("steps", 0, "1 to 200"))
    assert line == "steps: 0 is not allowed; 1 to 200"
    assert explain_error("RequestError: steps: 0 is not allowed; 1 to 200")[0].startswith("steps: 0")
    assert "gated" in explain_error("GatedRepoError: 401 Client Error. Access to model x is restricted")[0]
    assert "Out of GPU memory" in explain_error("OutOfMemoryError: CUDA out of memory. Tried ...")[0]
    assert explain_error("ValueError: first\nsecond") == ("ValueError: first", "ValueError: first\nsecond")
    assert explain_error(None) == ("", "")


def test_paths_outside_the_output_folder_are_refused_and_never_touched(tmp_path):
    root = tmp_path / "outputs"
    (root / "run").mkdir(parents=True)
    inside = root / "run" / "a.png"
    inside.write_bytes(b"x")
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    sneaky = root / "run" / ".." / ".." / "precious.txt"
    link = root / "run" / "link.png"
    os.symlink(outside, link)
    removed, problems = outputs.delete_files([inside, outside, sneaky, link, root / "gone.png"], root)
    assert removed == 1 and not inside.exists()
    assert outside.read_text() == "keep me" and link.is_symlink()
    assert len(problems) == 3 and all("outside the output folder" in p for p in problems)
    assert outputs.readable_file(outside, root) is None and outputs.readable_file(sneaky, root) is None
    assert outputs.readable_file(None, root) is None


def test_removing_a_run_takes_its_batch_log_and_prompts_file(tmp_path):
    root = tmp_path / "outputs"
    run_dir = root / "20260101-000000-abc"
    (root / "batches").mkdir(parents=True)
    run_dir.mkdir()
    image = run_dir / "a.png"
    image.write_bytes(b"x")
    (run_dir / "generation_config.json").write_text("{}")
    log, prompts, other = (root / "batches" / "mine-1.log", root / "batches" / "mine-1.txt",
                           root / "batches" / "other.log")
    for f in (log, prompts, other):
        f.write_text("x")
    removed, problems = outputs.remove_run_files(root=root, image_paths=[str(image)], run_dir=str(run_dir),
                                                 run_name="mine-1")
    assert (removed, problems) == (1, [])
    assert not log.exists() and not prompts.exists() and not run_dir.exists() and other.exists()
    # a run folder outside is refused, and a name cannot walk out of batches/
    _, problems = outputs.remove_run_files(root=root, image_paths=[], run_dir=str(tmp_path), run_name="../../x")
    assert problems and "outside" in problems[0]
    assert outputs.batch_files(root, "../../x") == [root / "batches" / "x.log", root / "batches" / "x.txt"]


def test_gpu_hour_defaults_and_the_estimate():
    assert pricing.default_rate("NVIDIA H200") == pricing.GPU_HOUR_USD["H200"]
    assert pricing.default_rate("NVIDIA H100 80GB HBM3") == pricing.GPU_HOUR_USD["H100"]
    assert pricing.default_rate("NVIDIA L40S") == pricing.GPU_HOUR_USD["L40S"]
    assert pricing.default_rate("NVIDIA A100-SXM4-80GB") == pricing.GPU_HOUR_USD["A100"]
    assert pricing.default_rate("NVIDIA GeForce RTX 4090") == pricing.GPU_HOUR_USD["RTX 4090"]
    assert pricing.default_rate("Some Future GPU") is None
    assert pricing.rate_for(None, 5.0) is None  # a CPU run gets no GPU-hour estimate
    assert pricing.rate_for("NVIDIA H200", 5.0) == 5.0
    assert pricing.usd_per_image(7.2, 3.0) == pytest.approx(0.006)
    assert pricing.usd_per_image(None, 3.0) is None and pricing.usd_per_image(1.0, None) is None


def test_gpu_hour_setting(monkeypatch):
    from core.settings import Settings

    monkeypatch.setenv("IGCS_GPU_HOUR_USD", "2.5")
    assert Settings().gpu_hour_usd == 2.5
    monkeypatch.setenv("IGCS_GPU_HOUR_USD", "-1")
    with pytest.raises(ValueError, match="gpu_hour_usd"):
        Settings()


def test_latency_summary_never_pools_and_leaves_first_calls_out():
    rows = pd.DataFrame({
        "model_key": "m", "status": "ok", "weights": "tiny", "steps": [2, 2, 2, 4, 4], "width": 64, "height": 64,
        "total_s": [9.0, 1.0, 3.0, 2.0, 4.0], "first_call": [True, False, False, False, False],
        "prompt": "p", "seed": 0, "repeat": [0, 1, 2, 0, 1]})
    table = stats.config_table(rows)
    assert list(table["config"]) == ["64×64 · 2 steps", "64×64 · 4 steps"]
    two = table.iloc[0]
    assert (two["n"], two["p50_s"], two["p90_s"]) == (2, 2.0, pytest.approx(2.8))
    assert (two["first_n"], two["first_s"]) == (1, 9.0)  # the first call kept apart
    assert two["repeats"] == 2 and two["repeat_spread_s"] == 2.0
    assert "repeat_spread_s" not in stats.config_table(rows.drop(columns="repeat")).columns
    assert "repeat_spread_s" not in stats.config_table(rows.assign(repeat=0)).columns
