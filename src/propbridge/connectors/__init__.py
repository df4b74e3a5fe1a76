"""PMS connectors: one plugin per PMS behind the interface of `base.py`."""
