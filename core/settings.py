"""All configuration in one place, read from the environment and `.env`.

Project settings carry the ``IGCS_`` prefix (``IGCS_DATABASE_URL``, ``IGCS_OUTPUT_DIR``, ``IGCS_DEVICE``);
provider keys keep the names their providers document (``OPENAI_API_KEY``, ``HF_TOKEN`` ...).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

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
    # Spread a model over every visible GPU ("balanced" device map): "auto" when it does not fit one,
    # "always" for every pretrained load, "never" to keep each model on one device.
    multi_gpu: Literal["auto", "always", "never"] = "auto"
    # Compiled artifacts of the speed recipes (inductor's FX graph / AOTAutograd / kernel caches and
    # torch.compiler mega-cache files), kept across processes. TORCHINDUCTOR_CACHE_DIR, when set, wins.
    compile_cache_dir: str = "data/compile_cache"
    # torch.compile backend of the recipes: "inductor" (real speed); "aot_eager" or "eager" check the logic on a CPU.
    compile_backend: str = "inductor"

    # USD per GPU-hour for the cost estimate of open models (USD per image = total_s x rate / 3600).
    # Unset: the documented default of the run's GPU (core.pricing.GPU_HOUR_USD), else no estimate.
    gpu_hour_usd: float | None = Field(default=None, ge=0)
    # Dashboard: whether runs may be deleted. Unset: allowed when the server is bound to this machine only
    # (server.address localhost / 127.0.0.1), refused when it serves others.
    allow_delete: bool | None = None
    # Dashboard: require Streamlit's built-in login (OIDC, configured in .streamlit/secrets.toml [auth]).
    require_login: bool = False

    hf_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("HF_TOKEN", "IGCS_HF_TOKEN"))

    # Closed-source image APIs (core.providers). Keys are read under the names their providers
    # document and are never written to the store, the outputs or the logs. `.env.example` lists them.
    # OpenAI (DALL-E 2/3, gpt-image-1)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "IGCS_OPENAI_API_KEY"))
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", validation_alias=AliasChoices("OPENAI_BASE_URL", "IGCS_OPENAI_BASE_URL"))
    # Google Imagen: Vertex AI (project, location, OAuth access token) or the Gemini API (API key).
    # "auto" takes Vertex AI when GOOGLE_GENAI_USE_VERTEXAI says so or its project and token are set,
    # else the Gemini API.
    imagen_backend: Literal["auto", "vertex", "gemini"] = Field(
        default="auto", validation_alias=AliasChoices("IGCS_IMAGEN_BACKEND"))
    google_genai_use_vertexai: bool | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_GENAI_USE_VERTEXAI"))
    google_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_API_KEY", "GEMINI_API_KEY", "IGCS_GOOGLE_API_KEY"))
    google_cloud_project: str | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "IGCS_GOOGLE_CLOUD_PROJECT"))
    google_cloud_location: str = Field(
        default="us-central1", validation_alias=AliasChoices("GOOGLE_CLOUD_LOCATION", "IGCS_GOOGLE_CLOUD_LOCATION"))
    google_access_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_ACCESS_TOKEN", "IGCS_GOOGLE_ACCESS_TOKEN"))
    # Empty: https://{location}-aiplatform.googleapis.com (Vertex) and https://generativelanguage.googleapis.com
    google_vertex_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_VERTEX_BASE_URL", "IGCS_GOOGLE_VERTEX_BASE_URL"))
    google_gemini_base_url: str = Field(
        default="https://generativelanguage.googleapis.com",
        validation_alias=AliasChoices("GOOGLE_GEMINI_BASE_URL", "IGCS_GOOGLE_GEMINI_BASE_URL"))
    # ByteDance: Volcano Engine visual API (AK/SK signature) and Ark (Seedream, Bearer key)
    volc_accesskey: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VOLC_ACCESSKEY", "IGCS_VOLC_ACCESSKEY"))
    volc_secretkey: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VOLC_SECRETKEY", "IGCS_VOLC_SECRETKEY"))
    volc_base_url: str = Field(
        default="https://visual.volcengineapi.com",
        validation_alias=AliasChoices("VOLC_BASE_URL", "IGCS_VOLC_BASE_URL"))
    ark_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ARK_API_KEY", "IGCS_ARK_API_KEY"))
    ark_base_url: str = Field(
        default="https://ark.cn-beijing.volces.com/api/v3",
        validation_alias=AliasChoices("ARK_BASE_URL", "IGCS_ARK_BASE_URL"))
    # Kling AI (a fresh HS256 JWT per request from the access key and secret key)
    kling_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KLING_ACCESS_KEY", "IGCS_KLING_ACCESS_KEY"))
    kling_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KLING_SECRET_KEY", "IGCS_KLING_SECRET_KEY"))
    kling_base_url: str = Field(
        default="https://api-singapore.klingai.com",
        validation_alias=AliasChoices("KLING_BASE_URL", "IGCS_KLING_BASE_URL"))
    # Every API call: per-request timeout (downloads too), one deadline over retries and polling,
    # retries of 429/5xx with exponential backoff (Retry-After wins when longer), poll interval.
    api_timeout_s: float = Field(default=60.0, gt=0)
    api_deadline_s: float = Field(default=300.0, gt=0)
    api_max_retries: int = Field(default=4, ge=0)
    api_backoff_s: float = Field(default=1.0, ge=0)
    api_backoff_max_s: float = Field(default=30.0, ge=0)
    api_poll_interval_s: float = Field(default=2.0, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
