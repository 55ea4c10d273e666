"""Loopback servers that speak the closed image APIs' protocols, for the provider tests.

One module per provider; each server runs on 127.0.0.1 (port 0) in a thread, checks credentials the way
the real service does, validates request bodies like it, answers like it, and can be told (``scenarios``)
to answer with a rate limit, a safety refusal, an auth failure, a server error, a slow or malformed answer.
"""
