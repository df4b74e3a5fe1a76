"""API keys, bearer authentication and scopes."""
