"""All configuration in one place, read from the environment and `.env`.

Project settings carry the ``IGCS_`` prefix (``IGCS_DATABASE_URL``, ``IGCS_OUTPUT_DIR``, ``IGCS_DEVICE``);
provider keys keep the names their providers document (``OPENAI_API_KEY``, ``HF_TOKEN`` ...).
"""
from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="IGCS_", extra="ignore")

    database_url: str = "sqlite:///data/results.db"
    output_dir: str = "data/outputs"
    # "auto" picks cuda when present, else cpu; "cuda:1", "cpu" ... pin a device.
    device: str = "auto"
    # Pretrained weights: `<models_dir>/<model key>` is used when it exists, else the hub id.
    models_dir: str | None = None
    # Spread a model over every visible GPU when it does not fit one ("balanced" device map).
    multi_gpu: bool = True

    hf_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("HF_TOKEN", "IGCS_HF_TOKEN"))


@lru_cache
def get_settings() -> Settings:
    return Settings()
