"""Alembic migrations of the store (core.migrate runs them; env.py is loaded by Alembic, not imported)."""
