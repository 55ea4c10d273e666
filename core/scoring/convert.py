"""Authors' checkpoints into transformers modules: open_clip CLIP (HPSv2.1) and BLIP (ImageReward).

The authors published state dicts of their own module trees (open_clip's `CLIP`, BLIP's `VisionTransformer` and
`med.BertModel`); transformers has the same architectures (CLIPModel; BlipVisionModel, BlipTextModel), so the
weights are renamed, and fused attention projections split, rather than the authors' code vendored. Each mapping
is exact: every source tensor lands once, every target tensor is filled (`strict` loading checks it).
"""
from __future__ import annotations
from core.lazy import lazy_module

torch = lazy_module("torch")




def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _open_clip_tower(state: dict[str, torch.Tensor], src: str, dst: str, layers: int) -> dict[str, torch.Tensor]:
    out = {}
    for i in range(layers):
        s, d = f"{src}transformer.resblocks.{i}.", f"{dst}encoder.layers.{i}."
        q, k, v = state[s + "attn.in_proj_weight"].chunk(3)
        qb, kb, vb = state[s + "attn.in_proj_bias"].chunk(3)
        out.update({d + "self_attn.q_proj.weight": q, d + "self_attn.k_proj.weight": k,
                    d + "self_attn.v_proj.weight": v, d + "self_attn.q_proj.bias": qb,
                    d + "self_attn.k_proj.bias": kb, d + "self_attn.v_proj.bias": vb,
                    d + "self_attn.out_proj.weight": state[s + "attn.out_proj.weight"],
                    d + "self_attn.out_proj.bias": state[s + "attn.out_proj.bias"]})
        for a, b in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"),
                     ("mlp.c_proj", "mlp.fc2")):
            out[d + b + ".weight"] = state[s + a + ".weight"]
            out[d + b + ".bias"] = state[s + a + ".bias"]
    return out


def open_clip_to_hf(state: dict[str, torch.Tensor], *, vision_layers: int, text_layers: int) -> dict[str, torch.Tensor]:
    """An open_clip ViT CLIP state dict (`visual.*`, `transformer.*`, ...) as a transformers CLIPModel state dict."""
    state = _strip(state, "module.") if all(k.startswith("module.") for k in state) else state
    out = {
        "logit_scale": state["logit_scale"],
        "text_model.embeddings.token_embedding.weight": state["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": state["positional_embedding"],
        "text_model.final_layer_norm.weight": state["ln_final.weight"],
        "text_model.final_layer_norm.bias": state["ln_final.bias"],
        "text_projection.weight": state["text_projection"].t().contiguous(),
        "vision_model.embeddings.class_embedding": state["visual.class_embedding"],
        "vision_model.embeddings.patch_embedding.weight": state["visual.conv1.weight"],
        "vision_model.embeddings.position_embedding.weight": state["visual.positional_embedding"],
        "vision_model.pre_layrnorm.weight": state["visual.ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": state["visual.ln_pre.bias"],
        "vision_model.post_layernorm.weight": state["visual.ln_post.weight"],
        "vision_model.post_layernorm.bias": state["visual.ln_post.bias"],
        "visual_projection.weight": state["visual.proj"].t().contiguous(),
    }
    out.update(_open_clip_tower(state, "", "text_model.", text_layers))
    out.update(_open_clip_tower(state, "visual.", "vision_model.", vision_layers))
    return out


def blip_vision_to_hf(state: dict[str, torch.Tensor], *, layers: int) -> dict[str, torch.Tensor]:
    """BLIP's `VisionTransformer` (timm layout) as a transformers BlipVisionModel state dict."""
    out = {
        "embeddings.class_embedding": state["cls_token"],
        "embeddings.position_embedding": state["pos_embed"],
        "embeddings.patch_embedding.weight": state["patch_embed.proj.weight"],
        "embeddings.patch_embedding.bias": state["patch_embed.proj.bias"],
        "post_layernorm.weight": state["norm.weight"],
        "post_layernorm.bias": state["norm.bias"],
    }
    for i in range(layers):
        s, d = f"blocks.{i}.", f"encoder.layers.{i}."
        for a, b in (("norm1", "layer_norm1"), ("norm2", "layer_norm2"), ("attn.qkv", "self_attn.qkv"),
                     ("attn.proj", "self_attn.projection"), ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")):
            out[d + b + ".weight"] = state[s + a + ".weight"]
            out[d + b + ".bias"] = state[s + a + ".bias"]
    return out


def blip_text_to_hf(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BLIP's `med.BertModel` (no pooler): transformers' BlipTextModel is its port, with the same names; the
    position-id buffer is left out (transformers rebuilds it)."""
    return {k: v for k, v in state.items() if not k.endswith("position_ids")}


def imagereward_parts(state: dict[str, torch.Tensor], *, vision_layers: int) -> tuple[dict, dict, dict]:
    """ImageReward.pt -> (BlipVisionModel, BlipTextModel, reward MLP) state dicts."""
    return (blip_vision_to_hf(_strip(state, "blip.visual_encoder."), layers=vision_layers),
            blip_text_to_hf(_strip(state, "blip.text_encoder.")),
            _strip(state, "mlp."))
