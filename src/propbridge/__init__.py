"""propbridge: a self-hostable unified API for property-management systems.

Speaks Propexo's HTTP API; the first PMS is ResMan.
"""

__version__ = "0.1.0"
