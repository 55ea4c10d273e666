"""One module per schema revision, loaded by Alembic (core.store.migrate)."""
