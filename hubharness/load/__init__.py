"""Load: many simulated users doing what a person does, driven by one asyncio loop.

journey.py runs them against a hub (login, spawn, kernel, a result, stop), figures.py
turns what they saw into per-phase figures and thresholds, page.py draws load.json as
one self-contained HTML page. Nothing here imports a target: the caller hands over
what the load needs of a deployment (journey.Hub).
"""
