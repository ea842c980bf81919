"""Studies: a PoC question as a spec, its plan of runs by stage (sweeps, carried rates), and what the
plan will cost in time and money before it runs."""
