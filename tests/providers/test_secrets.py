"""No key, token or secret shows in what a call leaves behind: errors, results, logs (DEBUG included)."""
from __future__ import annotations

import logging

import pytest

from core import providers
from core.providers import ProviderError

CASES = {
    "gpt-image-1.5": ("openai_fake", "openai_settings", lambda f: [f.api_key]),
    "imagen-4": ("google_fake", "vertex_settings", lambda f: [f.access_token]),
    "gemini-3.1-flash-image": ("google_fake", "gemini_settings", lambda f: [f.api_key]),
    "volc-general-2.1": ("volc_fake", "volc_settings", lambda f: [f.access_key, f.secret_key]),
    "jimeng-3.0": ("volc_fake", "volc_settings", lambda f: [f.access_key, f.secret_key]),
    "seedream-3": ("ark_fake", "ark_settings", lambda f: [f.api_key]),
    "kling-v1": ("kling_fake", "kling_settings", lambda f: [f.access_key, f.secret_key]),
}


@pytest.mark.parametrize("model", list(CASES))
def test_no_secret_in_errors_results_or_logs(model, request, make_request, caplog, capsys):
    fake_name, settings_name, secrets_of = CASES[model]
    fake, settings = request.getfixturevalue(fake_name), request.getfixturevalue(settings_name)
    secrets = secrets_of(fake)
    caplog.set_level(logging.DEBUG)
    spec, req = make_request(model)

    fake.scenarios.extend(["rate_limit", "ok"])
    result = providers.generate(spec, req, settings=settings)
    texts = [repr(result.sent_params), repr(result.request_id), repr(result.revised_prompt)]
    for scenario in ("unauthorized", "safety", "server_error", "malformed"):
        fake.scenarios.clear()
        fake.scenarios.extend([scenario] * 5)
        with pytest.raises(ProviderError) as e:
            providers.generate(spec, req, settings=settings)
        texts += [str(e.value), repr(e.value.__dict__)]
    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err]
    assert "retry 1 of" in caplog.text  # the logs did record the calls
    for secret in secrets:
        for text in texts:
            assert secret not in text


ECHO = {  # a gateway that quotes the request's Authorization header back in its error
    "gpt-image-2": ("openai_fake", "openai_settings", lambda f: [f.api_key]),
    "gemini-3-pro-image": ("google_fake", "vertex_settings", lambda f: [f.access_token]),
    "gemini-3.1-flash-image": ("google_fake", "gemini_settings", lambda f: [f.api_key]),
    "seedream-4": ("ark_fake", "ark_settings", lambda f: [f.api_key]),
    "kling-v2": ("kling_fake", "kling_settings", lambda f: [f.access_key, f.secret_key]),
}


@pytest.mark.parametrize("model", list(ECHO))
def test_echoed_authorization_is_redacted_tokens_and_jwts_included(model, request, make_request, caplog):
    fake_name, settings_name, secrets_of = ECHO[model]
    fake, settings = request.getfixturevalue(fake_name), request.getfixturevalue(settings_name)
    caplog.set_level(logging.DEBUG)
    fake.scenarios.extend(["echo_auth"] * 6)
    spec, req = make_request(model)
    with pytest.raises(ProviderError) as e:
        providers.generate(spec, req, settings=settings)
    texts = [str(e.value), repr(e.value.__dict__), caplog.text]
    made = list(getattr(fake, "tokens", []))  # the JWTs we signed (Kling): none may show either
    assert "***" in str(e.value)  # the echo did reach the message, redacted
    for secret in [*secrets_of(fake), *made]:
        for text in texts:
            assert secret not in text
    assert "eyJ" not in str(e.value)


def test_redact_knows_jwts_and_bearer_tokens():
    from core.providers.base import redact

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhayJ9.c2lnbmF0dXJlLWhlcmUtMTIzNDU2"
    text = redact(f"Authorization: Bearer ya29.someOAuthToken123 and token={jwt}", [])
    assert "ya29" not in text and jwt not in text and "Bearer ***" in text


EDITS = {  # one edit model per provider: the edit endpoints keep keys out the same way
    "gpt-image-1.5": ("openai_fake", "openai_settings", lambda f: [f.api_key], "bad_image"),
    "gemini-3.1-flash-image": ("google_fake", "gemini_settings", lambda f: [f.api_key], "bad_image"),
    "seedream-4": ("ark_fake", "ark_settings", lambda f: [f.api_key], "safety_image"),
    "kling-v1-5": ("kling_fake", "kling_settings", lambda f: [f.access_key, f.secret_key], "bad_image"),
}


@pytest.mark.parametrize("model", list(EDITS))
def test_no_secret_in_what_an_edit_leaves(model, request, make_request, caplog, capsys, tmp_path):
    from PIL import Image

    from core.jobs import EDIT, InputImage

    fake_name, settings_name, secrets_of, refusal = EDITS[model]
    fake, settings = request.getfixturevalue(fake_name), request.getfixturevalue(settings_name)
    caplog.set_level(logging.DEBUG)
    Image.linear_gradient("L").resize((480, 360)).convert("RGB").save(tmp_path / "src.png")
    spec, req = make_request(model, task=EDIT, inputs=(InputImage.from_path(tmp_path / "src.png"),))
    fake.scenarios.extend(["rate_limit", "ok"])
    result = providers.generate(spec, req, settings=settings)
    texts = [repr(result.sent_params), repr(result.request_id)]
    for scenario in ("unauthorized", refusal, "server_error", "echo_auth"):
        fake.scenarios.clear()
        fake.scenarios.extend([scenario] * 5)
        with pytest.raises(ProviderError) as e:
            providers.generate(spec, req, settings=settings)
        texts += [str(e.value), repr(e.value.__dict__)]
    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err]
    assert "retry 1 of" in caplog.text
    for secret in [*secrets_of(fake), *getattr(fake, "tokens", [])]:
        for text in texts:
            assert secret not in text
