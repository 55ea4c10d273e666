"""Closed-source image API clients, one module per provider (no torch import here)."""
