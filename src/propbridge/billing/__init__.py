"""Billing and Payments reads: charge codes, resident charges and payments, fees."""
