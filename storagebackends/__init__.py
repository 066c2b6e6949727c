"""The one storage interface of Moorage and its adapters."""
