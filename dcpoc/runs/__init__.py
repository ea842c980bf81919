"""The run database and the run lifecycle: tables (schema.py), the engine (engine.py), the Store's
reads and writes (store.py, rows.py), schema upgrades (migrate.py, migrations/), run
states (status.py), artifact paths (paths.py), what a person does to runs (lifecycle.py), a study's
stages in the queue (stages.py), the worker and its registry (worker.py, registry.py), the processes
they start (processes.py), training one run into the store (execute.py, sink.py), and the SLURM
executor (executors.py: submit, cancel, resume and reconcile by job; slurm.py: the scheduler's
commands).

Importing this folder imports nothing: decision/ reads runs.status without the database engine,
and the dashboard stays torch-free; the names below load on first use."""

from importlib import import_module

_WHERE = {  # name -> the module of this folder that defines it
    "execute_run": "execute",
    "RunError": "lifecycle", "cancel_run": "lifecycle", "create_run": "lifecycle",
    "resume_run": "lifecycle", "retry_run": "lifecycle",
    "checkpoint_path": "paths", "home_dir": "paths", "log_tail": "paths", "run_dir": "paths",
    "restart_workers": "registry", "start_workers": "registry", "waiting_without_worker": "registry",
    "worker_alive": "registry",
    "launch_study": "stages", "study_stage": "stages",
    "STATUSES": "status", "Status": "status",
    "Store": "store", "StoreError": "store", "UnknownRunError": "store", "default_url": "store",
    "new_run_id": "store",
    "run_worker": "worker",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'dcpoc.runs' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
