"""Writes to a PMS: accepting, recording, sending and reconciling charges and payments."""
