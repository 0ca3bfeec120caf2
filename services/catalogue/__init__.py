"""Catalogue: micro-credential descriptions (Annex I elements), their quality-assurance workflow, and what is approved."""
