"""Billing and Payments: charge codes, and the writes of charges and payments into the PMS."""
