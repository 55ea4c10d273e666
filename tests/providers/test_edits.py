"""The closed APIs' edit endpoints against their loopback fakes: what arrives (the source bytes intact, the mask,
the provider's own options), what each model refuses before sending, and how each provider's edit errors are classed."""
from __future__ import annotations

import base64
import hashlib

import pytest
from PIL import Image

from core import providers
from core.errors import RequestError
from core.jobs import EDIT, InputImage
from core.providers import ProviderError, gemini_images


@pytest.fixture
def source(tmp_path):
    """An image file on disk as an InputImage: a gradient (so every file's bytes differ), any size, mode, format."""
    def make(name: str = "src.png", size: tuple[int, int] = (512, 384), *, fmt: str = "PNG", mode: str = "RGB",
             alpha_hole: bool = False) -> InputImage:
        w, h = size
        ramp = Image.linear_gradient("L")
        bands = {"R": ramp.rotate(90).resize(size), "G": ramp.resize(size),
                 "B": Image.new("L", size, len(name) * 37 % 256), "A": Image.new("L", size, 255)}
        bands["L"] = bands["G"]
        img = Image.merge(mode, [bands[b] for b in mode])
        if alpha_hole:  # a transparent square: where an OpenAI mask says "edit here"
            img.paste((0, 0, 0, 0), (w // 4, h // 4, w // 2, h // 2))
        path = tmp_path / name
        img.save(path, format=fmt)
        return InputImage.from_path(path)

    return make


def _bytes(image: InputImage) -> bytes:
    with open(image.path, "rb") as fh:
        return fh.read()


def _edit(make_request, model: str, *inputs: InputImage, **kw):
    return make_request(model, task=EDIT, inputs=tuple(inputs), prompt="make the cube red", **kw)


# -- OpenAI images.edit ----------------------------------------------------------------------------------------------
def test_openai_edit_sends_the_sources_the_mask_and_input_fidelity(openai_fake, openai_settings, make_request, source):
    first, second = source("a.png"), source("b.jpg", fmt="JPEG")
    mask = source("mask.png", mode="RGBA", alpha_hole=True)
    spec, req = _edit(make_request, "gpt-image-1.5", first, second, mask=mask, width=1024, height=1024,
                      extra={"input_fidelity": "high", "quality": "low"})
    result = providers.generate(spec, req, settings=openai_settings)

    (seen,) = openai_fake.api_requests()
    assert (seen.method, seen.path) == ("POST", "/v1/images/edits")
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    files = seen.notes["files"]
    assert [(f.name, f.content_type) for f in files] == [("image[]", "image/png"), ("image[]", "image/jpeg"),
                                                         ("mask", "image/png")]
    assert [f.data for f in files] == [_bytes(first), _bytes(second), _bytes(mask)]  # byte for byte
    fields = seen.notes["fields"]
    assert fields["input_fidelity"] == "high" and fields["quality"] == "low" and fields["model"] == "gpt-image-1.5"
    assert fields["prompt"] == "make the cube red" and fields["size"] == "1024x1024" and fields["n"] == "1"

    assert len(result.images) == 1 and result.images[0].size == (1024, 1024)
    # priced like a generation (low, 1024) plus the input image tokens the answer reported
    assert result.sent_params["usage_tokens"]["input_image"] == 2 * 323
    assert result.cost_usd == pytest.approx(0.009 + 2 * 323 * 8e-6)
    assert [i["sha256"] for i in result.sent_params["image"]] == [first.sha256, second.sha256]
    assert result.sent_params["mask"]["sha256"] == mask.sha256 and result.sent_params["endpoint"] == "images.edit"
    assert "base64" not in repr(result.sent_params) and first.path not in repr(result.sent_params)


def test_openai_one_source_goes_as_image_and_the_estimate_counts_its_tokens(openai_fake, openai_settings,
                                                                            make_request, source):
    src = source(size=(1024, 1024))
    spec, req = _edit(make_request, "gpt-image-1-mini", src, extra={"input_fidelity": "low", "quality": "medium"})
    # 1024² scales to 768², four 512 px tiles: 85 + 4 * 170 tokens at 2.50 USD per 1M
    assert providers.estimate_cost_usd(spec, req) == pytest.approx(0.011 + 765 * 2.5e-6, abs=1e-6)
    result = providers.generate(spec, req, settings=openai_settings)
    (seen,) = openai_fake.api_requests()
    assert [(f.name, f.data) for f in seen.notes["files"]] == [("image", _bytes(src))]
    assert result.cost_usd == pytest.approx(0.011 + 323 * 2.5e-6, abs=1e-6)


@pytest.mark.parametrize("case", ["fidelity_gpt2", "fidelity_mini_high", "fidelity_text_to_image", "mask_no_alpha",
                                  "mask_size", "not_an_image", "gif", "changed"])
def test_openai_refuses_before_sending(case, openai_fake, openai_settings, make_request, source, tmp_path):
    src = source()
    kw, model, field = {}, "gpt-image-1.5", "inputs[0]"
    if case == "fidelity_gpt2":
        model, field, kw = "gpt-image-2", "extra.input_fidelity", {"extra": {"input_fidelity": "low"}}
    elif case == "fidelity_mini_high":
        model, field, kw = "gpt-image-1-mini", "extra.input_fidelity", {"extra": {"input_fidelity": "high"}}
    elif case == "mask_no_alpha":
        field, kw = "mask", {"mask": source("m.png")}
    elif case == "mask_size":
        field, kw = "mask", {"mask": source("m.png", size=(256, 256), mode="RGBA", alpha_hole=True)}
    elif case == "not_an_image":
        (tmp_path / "x.png").write_bytes(b"not an image at all")
        src = InputImage.from_path(tmp_path / "x.png")
    elif case == "gif":
        src = source("x.gif", fmt="GIF", mode="L")
    with pytest.raises(RequestError) as e:
        if case == "fidelity_text_to_image":
            field = "extra.input_fidelity"
            spec, req = make_request(model, extra={"input_fidelity": "high"})
        else:
            spec, req = _edit(make_request, model, src, **kw)
        if case == "changed":  # the file changed after the job was keyed: its row would lie about its source
            with open(src.path, "ab") as fh:
                fh.write(b"\0")
        providers.check_request(spec, req, settings=openai_settings)
    assert e.value.field == field, str(e.value)
    if case == "changed":
        assert "plan the job again" in str(e.value)
    assert openai_fake.requests == []


@pytest.mark.parametrize("scenario, kind, code", [("bad_image", "bad_request", "invalid_image_file"),
                                                  ("too_large", "bad_request", "image_too_large"),
                                                  ("safety", "safety", "moderation_blocked")])
def test_openai_edit_errors_are_classed_and_not_retried(scenario, kind, code, openai_fake, openai_settings,
                                                        make_request, source, sleeps):
    openai_fake.scenarios.extend([scenario, "ok"])
    spec, req = _edit(make_request, "gpt-image-2", source())
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=openai_settings)
    assert (e.value.kind, e.value.code, e.value.attempts) == (kind, code, 1) and sleeps == []


def test_openai_edit_rate_limit_is_retried(openai_fake, openai_settings, make_request, source, sleeps):
    openai_fake.scenarios.extend(["rate_limit", "ok"])
    src = source()
    spec, req = _edit(make_request, "gpt-image-2", src)
    result = providers.generate(spec, req, settings=openai_settings)
    assert result.attempts == 2 and len(sleeps) == 1 and sleeps[0] >= 1.0  # Retry-After: 1
    assert all(r.notes["files"][0].data == _bytes(src) for r in openai_fake.api_requests() if r.scenario == "ok")


# -- Gemini generateContent with inline images ----------------------------------------------------------------------
@pytest.mark.parametrize("settings_name", ["gemini_settings", "vertex_settings"])
def test_gemini_edit_sends_inline_images(settings_name, request, google_fake, make_request, source):
    settings = request.getfixturevalue(settings_name)
    png, jpg = source("a.png"), source("b.jpg", fmt="JPEG")
    spec, req = _edit(make_request, "gemini-3-pro-image", png, jpg)
    result = providers.generate(spec, req, settings=settings)
    (seen,) = google_fake.api_requests()
    assert seen.path.endswith("/gemini-3-pro-image:generateContent")
    assert seen.notes["inline_images"] == [("image/png", _bytes(png)), ("image/jpeg", _bytes(jpg))]
    parts = seen.json["contents"][0]["parts"]
    assert parts[0] == {"text": "make the cube red"} and [list(p) for p in parts[1:]] == [["inlineData"]] * 2
    assert [i["sha256"] for i in result.sent_params["image"]] == [png.sha256, jpg.sha256]
    assert result.sent_params["usage_tokens"]["input"] == 4 + 2 * 1290
    assert result.cost_usd == pytest.approx(0.156) and len(result.images) == 1


def test_gemini_refuses_too_many_or_too_much_before_sending(google_fake, gemini_settings, make_request, source,
                                                            monkeypatch):
    srcs = [source(f"{i}.png", size=(64, 64)) for i in range(4)]
    with pytest.raises(RequestError) as e:  # 2.5 Flash Image: up to 3 sources
        _edit(make_request, "gemini-2.5-flash-image", *srcs)
    assert e.value.field == "inputs"
    monkeypatch.setattr(gemini_images, "MAX_INLINE_BYTES", 100)
    spec, req = _edit(make_request, "gemini-3.1-flash-image", *srcs)
    with pytest.raises(RequestError, match="20 MB") as e:
        providers.check_request(spec, req, settings=gemini_settings)
    assert e.value.field == "inputs" and google_fake.requests == []


@pytest.mark.parametrize("scenario, kind", [("bad_image", "bad_request"), ("too_large", "bad_request"),
                                            ("safety", "safety")])
def test_gemini_edit_errors_are_classed(scenario, kind, google_fake, gemini_settings, make_request, source, sleeps):
    google_fake.scenarios.extend([scenario, "ok"])
    spec, req = _edit(make_request, "gemini-3.1-flash-image", source())
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=gemini_settings)
    assert e.value.kind == kind and e.value.attempts == 1 and sleeps == []


def test_gemini_edit_rate_limit_waits_the_retry_delay(google_fake, gemini_settings, make_request, source, sleeps):
    google_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = _edit(make_request, "gemini-3.1-flash-image", source())
    result = providers.generate(spec, req, settings=gemini_settings)
    assert result.attempts == 2 and sleeps == [4.0]  # RetryInfo retryDelay "4s"


# -- Ark Seedream 4.0: the image field ------------------------------------------------------------------------------
def test_seedream_edit_sends_data_uris_one_or_a_list(ark_fake, ark_settings, make_request, source):
    one = source("a.png")
    spec, req = _edit(make_request, "seedream-4", one)
    result = providers.generate(spec, req, settings=ark_settings)
    body = ark_fake.api_requests()[-1].json
    assert isinstance(body["image"], str) and body["image"].startswith("data:image/png;base64,")
    assert base64.b64decode(body["image"].split(",", 1)[1]) == _bytes(one)
    assert result.sent_params["image"][0]["sha256"] == one.sha256 and "base64" not in repr(result.sent_params)
    assert result.cost_usd == pytest.approx(0.03)

    two = source("b.jpg", fmt="JPEG")
    spec, req = _edit(make_request, "seedream-4", one, two)
    providers.generate(spec, req, settings=ark_settings)
    seen = ark_fake.api_requests()[-1]
    assert [u.split(";")[0] for u in seen.json["image"]] == ["data:image/png", "data:image/jpeg"]
    assert seen.notes["images"] == [("png", _bytes(one)), ("jpeg", _bytes(two))]


def test_seedream_refuses_before_sending(ark_fake, ark_settings, make_request, source):
    with pytest.raises(RequestError) as e:  # Seedream 3.0 t2i takes no image
        _edit(make_request, "seedream-3", source())
    assert e.value.field == "task"
    for bad in (source("w.webp", fmt="WEBP"), source("wide.png", size=(800, 200))):
        spec, req = _edit(make_request, "seedream-4", bad)
        with pytest.raises(RequestError) as e:
            providers.check_request(spec, req, settings=ark_settings)
        assert e.value.field == "inputs[0]"
    assert ark_fake.requests == []


@pytest.mark.parametrize("scenario, kind, code", [("bad_image", "bad_request", "InvalidParameter"),
                                                  ("too_large", "bad_request", "InvalidParameter"),
                                                  ("safety_image", "safety", "InputImageRiskDetection")])
def test_seedream_edit_errors_are_classed(scenario, kind, code, ark_fake, ark_settings, make_request, source, sleeps):
    ark_fake.scenarios.extend([scenario, "ok"])
    spec, req = _edit(make_request, "seedream-4", source())
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=ark_settings)
    assert (e.value.kind, e.value.code, e.value.attempts) == (kind, code, 1) and sleeps == []


def test_seedream_edit_rate_limit_is_retried(ark_fake, ark_settings, make_request, source, sleeps):
    ark_fake.scenarios.extend(["rate_limit", "ok"])
    spec, req = _edit(make_request, "seedream-4", source())
    assert providers.generate(spec, req, settings=ark_settings).attempts == 2 and len(sleeps) == 1


# -- Kling image-to-image -------------------------------------------------------------------------------------------
def test_kling_edit_sends_bare_base64_and_its_options(kling_fake, kling_settings, make_request, source):
    src = source(size=(640, 480))
    spec, req = _edit(make_request, "kling-v1-5", src, extra={"image_fidelity": 0.7, "human_fidelity": 0.2})
    result = providers.generate(spec, req, settings=kling_settings)
    create = kling_fake.api_requests()[0]
    body = create.json
    assert base64.b64decode(body["image"]) == _bytes(src) and not body["image"].startswith("data:")
    assert body["image_reference"] == "subject"  # kling-v1-5 needs one with an image: subject unless asked
    assert (body["image_fidelity"], body["human_fidelity"]) == (0.7, 0.2)
    task = kling_fake.tasks[result.task_id]
    assert hashlib.sha256(task["image"]).hexdigest() == src.sha256 and task["polls"] >= 2
    assert result.cost_usd == pytest.approx(0.04)  # the image-to-image price, not text-to-image's 0.02
    assert result.sent_params["image"][0]["sha256"] == src.sha256 and "image_reference" in result.sent_params
    assert providers.estimate_cost_usd(spec, req) == pytest.approx(0.04)


def test_kling_v2_new_only_edits(kling_fake, kling_settings, make_request, source):
    with pytest.raises(RequestError) as e:
        make_request("kling-v2-new")
    assert e.value.field == "task"
    spec, req = _edit(make_request, "kling-v2-new", source(size=(600, 400)), extra={"resolution": "2k"})
    result = providers.generate(spec, req, settings=kling_settings)
    assert kling_fake.api_requests()[0].json["model_name"] == "kling-v2-new" and len(result.images) == 1
    assert "image_reference" not in kling_fake.api_requests()[0].json


@pytest.mark.parametrize("case", ["small", "negative", "fidelity_text_to_image", "human_with_face", "webp"])
def test_kling_refuses_before_sending(case, kling_fake, kling_settings, make_request, source):
    src, kw, field, model = source(), {}, "inputs[0]", "kling-v1-5"
    if case == "small":
        src = source("s.png", size=(299, 400))
    elif case == "webp":
        src = source("w.webp", fmt="WEBP")
    elif case == "negative":
        field, kw = "negative_prompt", {"negative_prompt": "blurry"}
    elif case == "human_with_face":
        field, kw = "extra.human_fidelity", {"extra": {"image_reference": "face", "human_fidelity": 0.5}}
    with pytest.raises(RequestError) as e:
        if case == "fidelity_text_to_image":
            field = "extra.image_fidelity"
            spec, req = make_request("kling-v2", extra={"image_fidelity": 0.5})
        else:
            spec, req = _edit(make_request, model, src, **kw)
        providers.check_request(spec, req, settings=kling_settings)
    assert e.value.field == field, str(e.value)
    assert kling_fake.requests == []


@pytest.mark.parametrize("scenario, kind", [("bad_image", "bad_request"), ("too_large", "bad_request")])
def test_kling_edit_errors_are_classed(scenario, kind, kling_fake, kling_settings, make_request, source, sleeps):
    kling_fake.scenarios.extend([scenario, "ok"])
    spec, req = _edit(make_request, "kling-v1", source())
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert (e.value.kind, e.value.code, e.value.attempts) == (kind, 1201, 1) and sleeps == []


def test_kling_edit_refused_source_and_rate_limit(kling_fake, kling_settings, make_request, source):
    spec, req = _edit(make_request, "kling-v2-1", source())
    kling_fake.scenarios.extend(["rate_limit", "ok"])
    assert providers.generate(spec, req, settings=kling_settings).attempts == 2
    kling_fake.task_mode = "fail"  # risk control refuses the source once the task runs
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=kling_settings)
    assert e.value.kind == "safety" and e.value.task_id in kling_fake.tasks


# -- every edit model says so in its spec ---------------------------------------------------------------------------
def test_edit_capable_specs_declare_tasks_and_inputs():
    from core.providers import api_specs, catalog

    editors = {s.key: s for s in api_specs() if "edit" in s.tasks}
    assert set(editors) == set(catalog.EDITS)
    assert all(s.max_input_images >= 1 and catalog.edit_source(s.key) for s in editors.values())
    assert editors["gpt-image-1.5"].max_input_images == 16 and editors["gpt-image-1.5"].takes_mask
    assert editors["seedream-4"].max_input_images == 10 and editors["kling-v1"].max_input_images == 1
    assert editors["kling-v2-new"].tasks == ("edit",)
    text_only = {s.key for s in api_specs() if "edit" not in s.tasks}
    assert {"imagen-4", "seedream-3", "volc-general-2.1", "jimeng-3.0", "dall-e-3"} <= text_only
    assert all(s.max_input_images == 0 for s in api_specs() if s.key in text_only)


def test_no_citation_leaves_the_repository():
    """Sources cited in the product are the providers' own pages and SDKs, or docs/apis.md: never ../shared."""
    from core.providers import catalog
    from core.providers.base import PRICES

    texts = [s.source for s in catalog.STATUS.values()] + list(catalog.EDITS.values()) + \
        [p.source for p in PRICES.values()]
    assert texts and not [t for t in texts if "shared/" in t or "image-apis.md" in t]

