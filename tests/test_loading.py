"""Loading and unloading: pretrained from a local directory; unload gives memory back (measured)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline, UNet2DConditionModel

from core.families.sd import tiny_clip_config, tiny_vae
from core.families.tokenizers import clip_tokenizer
from transformers import CLIPTextModel
from diffusers import DDIMScheduler


REPO = Path(__file__).resolve().parent.parent


def _save_sd_pipeline(path: Path, channels: tuple[int, int]) -> int:
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=channels, layers_per_block=2, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=32)
    pipe = StableDiffusionPipeline(unet=unet, scheduler=DDIMScheduler(), vae=tiny_vae(),
                                   text_encoder=CLIPTextModel(tiny_clip_config()), tokenizer=clip_tokenizer(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(path)
    return sum(p.numel() for p in unet.parameters())


MEASURE = """
import gc, json, sys, weakref
import torch
from pathlib import Path
from core.generation import Engine

def rss_mb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20

engine = Engine(weights="pretrained", device="cpu")
engine.load("sd21")  # a first load and unload imports every module a load needs
engine.unload("sd21")
gc.collect()
base = rss_mb()
model = engine.load("sd21")
with torch.no_grad():  # safetensors maps weights lazily: touch them so they are resident
    sum(float(p.sum()) for p in model.pipe.unet.parameters())
loaded = rss_mb()
unet = weakref.ref(model.pipe.unet)
params, load_s = model.params["unet"], model.load_s
del model
engine.unload("sd21")
after = rss_mb()
freed = unet() is None or all(p.is_meta for p in unet().parameters())
print(json.dumps(dict(base=base, loaded=loaded, after=after, params=params, load_s=load_s,
                      resident=list(engine.resident), freed=freed)))
"""


def test_pretrained_from_local_dir_and_unload_returns_memory(tmp_path):
    """Measured in a fresh process, so memory freed by earlier tests cannot hide the load."""
    unet_params = _save_sd_pipeline(tmp_path / "models" / "sd21", (256, 512))
    weight_mb = unet_params * 4 / 2**20  # loaded in fp32 on CPU
    assert weight_mb > 100
    env = {**os.environ, "IGCS_MODELS_DIR": str(tmp_path / "models"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", MEASURE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    m = json.loads(done.stdout.strip().splitlines()[-1])
    assert m["params"] == unet_params and m["load_s"] > 0
    assert m["resident"] == [] and m["freed"]
    grew, returned = m["loaded"] - m["base"], m["loaded"] - m["after"]
    print(f"weights {weight_mb:.0f} MB; RSS +{grew:.0f} MB on load, -{returned:.0f} MB on unload")
    assert grew > 0.8 * weight_mb  # the weights became resident...
    assert returned > 0.9 * grew  # ...and unloading gave (nearly) all of it back


def test_dev_mode_keeps_models_resident_and_adds_without_unloading(tiny_engine):
    tiny_engine.load("sd21")
    tiny_engine.load("pixart-alpha")
    assert set(tiny_engine.resident) == {"sd21", "pixart-alpha"}
    first = tiny_engine.resident["sd21"]
    assert tiny_engine.load("sd21") is first  # no reload
    tiny_engine.unload("sd21")
    assert set(tiny_engine.resident) == {"pixart-alpha"}
