"""`@both_backends`: run a test that uses the `db_url` or `db` fixture on SQLite and on PostgreSQL."""
import pytest

BACKENDS = ("sqlite", "postgresql")
both_backends = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
