"""``--param MODEL.NAME=VALUE`` / ``--images N`` checks, the catalog table and available_models."""
from __future__ import annotations

import pytest

from core.errors import RequestError
from core.providers import listing
from core.providers.options import check_images, parse_params
from core.registry import get_spec


def test_parse_params_types_values_and_groups_by_model():
    got = parse_params(["gpt-image-1.5.quality=high", "gpt-image-1.5.output_compression=80",
                        "gpt-image-1.5.output_format=webp", "kling-v2.resolution=2k", "imagen-4.add_watermark=false",
                        "gemini-3-pro-image.image_size=4K"])
    assert got == {"gpt-image-1.5": {"quality": "high", "output_compression": 80, "output_format": "webp"},
                   "kling-v2": {"resolution": "2k"}, "imagen-4": {"add_watermark": False},
                   "gemini-3-pro-image": {"image_size": "4K"}}


@pytest.mark.parametrize("item,field,hint", [
    ("quality=high", "--param", "MODEL.NAME=VALUE"),
    ("gpt-image-1.5.quality", "--param", "MODEL.NAME=VALUE"),
    ("nope.quality=high", "--param nope.quality", "not an API model"),
    ("gpt-image-1.5.style=vivid", "--param gpt-image-1.5.style", "quality"),
    ("gpt-image-1.5.quality=xhigh", "--param gpt-image-1.5.quality", "'high'"),
    ("kling-v1.resolution=2k", "--param kling-v1.resolution", "'1k'"),
    ("kling-v1.aspect_ratio=21:9", "--param kling-v1.aspect_ratio", "'16:9'"),
    ("dall-e-3.quality=hd", "model", "gpt-image-2"),
])
def test_parse_params_names_the_field(item, field, hint):
    with pytest.raises(RequestError) as e:
        parse_params([item])
    assert e.value.field == field and hint in e.value.allowed


def test_images_against_each_models_images_per_call():
    check_images([get_spec("gpt-image-2"), get_spec("kling-v1")], 9)
    with pytest.raises(RequestError) as e:
        check_images([get_spec("kling-v1"), get_spec("gemini-3.1-flash-image")], 2)
    assert e.value.field == "--images" and "gemini-3.1-flash-image" in e.value.allowed
    with pytest.raises(RequestError):
        check_images([get_spec("gpt-image-2")], 0)


def test_catalog_table_shows_status_and_price_source():
    table = listing.catalog_table()
    line = next(x for x in table.splitlines() if x.startswith("dall-e-3 "))
    assert "retired 2026-05-12; use gpt-image-2" in line
    mini = next(x for x in table.splitlines() if x.startswith("gpt-image-1-mini "))
    assert "available" in mini and "developers.openai.com" in mini and "2026-12-02" in mini


def test_available_models_from_the_openai_list(openai_fake, openai_settings):
    rows = {a.key: a for a in listing.available_models("openai", openai_settings)}
    assert rows["gpt-image-2"].listed is True and rows["gpt-image-2"].usable
    assert rows["gpt-image-2.6-flare"].listed is False and not rows["gpt-image-2.6-flare"].usable  # not on this key
    assert rows["dall-e-3"].state == "retired" and not rows["dall-e-3"].usable
    assert [r.path for r in openai_fake.requests] == ["/v1/models"]


def test_available_models_from_the_gemini_list(google_fake, gemini_settings):
    rows = {a.key: a for a in listing.available_models("google", gemini_settings)}
    assert rows["gemini-3.1-flash-image"].listed is True and rows["gemini-3.1-flash-lite-image"].listed is False


def test_available_models_without_a_list_call_or_keys(make_settings):
    kling = listing.available_models("kling", make_settings())
    assert {a.listed for a in kling} == {None} and "no list-models call" in kling[0].note
    openai = listing.available_models("openai", make_settings())
    assert {a.listed for a in openai} == {None} and "OPENAI_API_KEY" in openai[0].note
    with pytest.raises(ValueError, match="known"):
        listing.available_models("midjourney", make_settings())


def test_cli_list_says_which_models_this_key_can_use(openai_fake, monkeypatch, capsys):
    from core.cli.bench import main
    from core.settings import get_settings

    monkeypatch.setenv("OPENAI_API_KEY", openai_fake.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_fake.base_url)
    get_settings.cache_clear()
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("openai: this key can use"))
    assert "gpt-image-2," in line and "not on this key: " in line and "gpt-image-2.6-flare" in line.split("not on")[1]
    assert "kling:" not in out and openai_fake.api_key not in out
