"""The decision: from a study's runs to comparisons, the compute multiplier, tuning facts, the verdict
and the next step. Torch-free and database-free: it reads frames from a Store."""
