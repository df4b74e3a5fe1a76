"""PMS integrations: their settings, encrypted credentials and admin endpoints."""
