"""Properties, leases and residents: the records clients need to address their writes."""
