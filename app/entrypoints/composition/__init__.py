"""Composition, in one place: which engines and feed adapters PKG ships (`defaults`,
light: the seed's names on `app` install them) and how the service's parts are built from the
settings (`builders`, imported by the entry points that serve)."""

from __future__ import annotations

from app.entrypoints.composition.defaults import install_defaults

__all__ = ["install_defaults"]
