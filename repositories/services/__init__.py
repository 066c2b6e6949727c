"""Writes of the repositories domain, one module per entity."""
