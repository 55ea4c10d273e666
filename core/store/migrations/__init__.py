"""Alembic migrations of the store (core.store.migrate runs them; env.py is loaded by Alembic, not imported)."""
