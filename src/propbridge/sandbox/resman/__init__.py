"""A faithful local ResMan: v1 form/MITS surface, v2 partner JSON surface, Partner Transactions."""
