"""Floor plans and units: the places leases, charges and fees are attached to."""
