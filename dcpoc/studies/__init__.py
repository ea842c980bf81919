"""Studies: a PoC question as a spec, its plan of runs by stage (sweeps, carried rates) in spec.py, and
what the plan will cost in time and money before it runs, on which hardware, in estimates.py.
No Streamlit, no torch, no i18n: the CLI, the dashboard and the decision all plan with it."""
from .spec import (MAX_NAME_LENGTH, REFERENCE_STUDIES, SWEEPS, StudyPlan, StudySpec, carry_lr,
                   default_lr_grid, ladder, ladder_problems, parse_lr_grid, parse_seeds, plan_stages,
                   plan_study, reference_study, validate_name)
from .estimates import (PLANNING_GPU, STARTUP_S_PER_RUN, ThroughputKey, detect_gpu, estimate_device,
                        estimate_study, measured_throughput, runnable_presets)

__all__ = ["MAX_NAME_LENGTH", "PLANNING_GPU", "REFERENCE_STUDIES", "STARTUP_S_PER_RUN", "SWEEPS",
           "StudyPlan", "StudySpec", "ThroughputKey", "carry_lr", "default_lr_grid", "detect_gpu",
           "estimate_device", "estimate_study", "ladder", "ladder_problems", "measured_throughput",
           "parse_lr_grid", "parse_seeds", "plan_stages", "plan_study", "reference_study",
           "runnable_presets", "validate_name"]
