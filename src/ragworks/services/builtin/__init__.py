"""The AI services that ship with ragworks, one module each (listed in ``services/registry.py``)."""
