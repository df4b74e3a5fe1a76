"""Stand-ins for the PMSs propbridge talks to, for demos, tests and benchmarks.

Nothing here imports from the rest of propbridge: a sandbox must behave like the real PMS,
not like our idea of it.
"""
