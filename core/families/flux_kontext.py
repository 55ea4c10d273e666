"""FLUX.1 Kontext [dev] (FluxKontextPipeline): FLUX.1 [dev]'s MMDiT (same architecture and configs) fine-tuned
to edit in context: the source's latent tokens are appended to the noise tokens, so every denoiser pass
attends over twice FLUX's image sequence (4096 + 4096 tokens at 1024x1024).

Quirks (diffusers 0.42's pipeline and the black-forest-labs/FLUX.1-Kontext-dev model card):
  - Guidance-distilled like FLUX.1 [dev]: ``guidance_scale`` (2.5 in the card) is an embedding, one pass per
    step, no negative prompt (the pipeline's optional ``true_cfg_scale`` stays 1); 28 steps.
  - One source image. The pipeline would resize it to the trained resolution nearest its aspect ratio
    (``PREFERRED_KONTEXT_RESOLUTIONS``, about 1 megapixel) and rescale the output size to ``max_area``
    (1024x1024 pixels). Here the request's size is the output size: by default the same preferred
    resolution (`edit_size`), the source is resized to it before the call, and the pipeline is called with
    ``_auto_resize=False`` and ``max_area`` = width x height, so it changes neither. At the default size
    this is exactly the authors' path; a size asked for is kept rather than silently changed.
  - T5 prompt length ``max_sequence_length`` 512, capped at what the tokenizer holds (as FLUX.1 [dev]).
"""
from __future__ import annotations

from diffusers import FluxKontextPipeline
from diffusers.pipelines.flux.pipeline_flux_kontext import PREFERRED_KONTEXT_RESOLUTIONS

from core.families import EditFamily, get_family, register


@register
class FluxKontextFamily(EditFamily):
    name = "flux_kontext"
    text_encoders = ("text_encoder", "text_encoder_2")
    denoiser = "transformer"
    tiny_size = 32

    @property
    def speed(self):  # the same transformer as FLUX.1 [dev]: the same recipes and reasons
        return get_family("flux").speed

    def build_tiny(self, spec):
        flux = get_family("flux").build_tiny(spec)  # FLUX.1 [dev]'s tiny components: the same architecture
        return FluxKontextPipeline(**{k: v for k, v in flux.components.items()})

    def edit_size(self, spec, source_size):
        """The trained resolution nearest the source's aspect ratio, scaled to the spec's area (1:1 at
        1024x1024, the card's default; the tiny twin's is tiny)."""
        width, height = source_size
        aspect = width / height
        _, w, h = min((abs(aspect - w / h), w, h) for w, h in PREFERRED_KONTEXT_RESOLUTIONS)
        scale = (spec.width * spec.height / (1024 * 1024)) ** 0.5
        m = spec.size_multiple
        return max(m, round(w * scale / m) * m), max(m, round(h * scale / m) * m)

    def call_kwargs(self, spec, req, images=None):
        kwargs = {
            "image": (images or [None])[0],
            "prompt": req.prompt,
            "num_inference_steps": req.steps,
            "guidance_scale": req.guidance,  # distilled guidance: an input embedding, one pass per step
            "width": req.width,
            "height": req.height,
            "max_area": req.width * req.height,  # keep the requested size (the pipeline rescales to this area)
            "_auto_resize": False,  # the source is already at the output size (edit_images)
            "num_images_per_prompt": req.num_images,
        }
        if "max_sequence_length" in req.extra:
            kwargs["max_sequence_length"] = int(req.extra["max_sequence_length"])
        return kwargs

    def run(self, pipe, spec, req, generator, images=None):
        kwargs = self.call_kwargs(spec, req, images=images)
        limit = getattr(getattr(pipe, "tokenizer_2", None), "model_max_length", None)
        if limit and "max_sequence_length" in kwargs:
            kwargs["max_sequence_length"] = min(kwargs["max_sequence_length"], int(limit))
        return list(pipe(**kwargs, generator=generator, output_type="pil").images)
