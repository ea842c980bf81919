"""How long each dashboard page's script takes on the server with a large database.

Fills a temporary SQLite database with 500 runs (10 studies, both architectures, every status) and
500,000 metric rows (about 1,050 per started run, shaped like the training loop's: train_loss / lr /
grad_norm every step, tokens_per_s and val_loss now and then), then runs every page through Streamlit's
AppTest and prints the script run time: cold (caches cleared) and warm (a rerun within the cache
TTL, as a live page or a click sees it). Target: under 1 s each (3 s with --reference).

--reference instead imports the shipped reference study (45 runs, 149,505 metric rows) and times
the pages that decide on it: the Overview, the Decision page and the Report page, each computing
the study's decision (two bootstraps of 300 resamples) when cold.

    .venv/bin/python scripts/bench_dashboard.py [--runs 500] [--metric-rows 500000] [--repeat 3]
    .venv/bin/python scripts/bench_dashboard.py --reference [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
PAGES = ["app.py", "pages/1_Launch.py", "pages/2_Runs.py", "pages/3_Compare.py",
         "pages/4_Settings.py"]
DECISION_PAGES = ["app.py", "pages/6_Decision.py", "pages/7_Report.py"]
STATUSES = ["succeeded"] * 16 + ["failed", "cancelled", "running", "queued"]


def metric_rows(steps: int, rng: random.Random) -> list[dict]:
    """Rows of one run: 3 per step, tokens_per_s every 4 steps, val_loss every 12."""
    rows = []
    for step in range(1, steps + 1):
        tokens, wall = step * 2048, step * 0.05
        loss = 5.5 * step ** -0.15 + rng.gauss(0, 0.02)
        for key, value in (("train_loss", loss), ("lr", 1e-3), ("grad_norm", 1 + rng.random())):
            rows.append({"step": step, "key": key, "value": value, "tokens": tokens, "wall_s": wall})
        if step % 4 == 0:
            rows.append({"step": step, "key": "tokens_per_s", "value": 40960.0, "tokens": tokens,
                         "wall_s": wall})
        if step % 12 == 0:
            rows.append({"step": step, "key": "val_loss", "value": loss + 0.05, "tokens": tokens,
                         "wall_s": wall})
    return rows


def fill(store, n_runs: int, n_rows: int) -> int:
    """n_runs runs; n_rows metric rows shared out over the runs that have started."""
    from dcpoc.config import make_config
    rng = random.Random(0)
    statuses = [STATUSES[i % len(STATUSES)] for i in range(n_runs)]
    started = sum(s != "queued" for s in statuses)
    left, total = n_rows, 0
    for i, status in enumerate(statuses):
        arch = ("transformer", "dcformer")[i % 2]
        rows = []
        if status != "queued":
            want = -(-left // started)       # ceil: the remaining rows over the remaining runs
            rows = metric_rows(want // 3 + 1, rng)[:want]
            left, started = left - len(rows), started - 1
        steps = rows[-1]["step"] if rows else 300
        run = make_config(arch, "cpu-demo", steps=steps, seed=i // 20 + 1)
        done = status != "queued"
        run_id = store.create_run(
            arch=arch, preset="cpu-demo", config=run.to_dict(), seed=run.train.seed,
            corpus_spec="pydoc", study=f"study-{i % 10}", status=status, total_steps=steps,
            device="cpu" if done else None, step=steps if status == "succeeded" else steps // 2,
            final_val_loss=3.0 + rng.random() if status == "succeeded" else None,
            tokens_per_s=40000.0 * (0.7 if arch == "dcformer" else 1.0) if done else None,
            peak_mem_bytes=300 * 2**20, wall_s=steps * 0.05 if done else None,
            cost_usd=steps * 0.05 / 3600 * 0.1 if status == "succeeded" else None,
            versions={"torch": "2.13.0"}, git_commit="bench")
        if rows:
            store.log_metrics(run_id, rows)
            total += len(rows)
    return total


def time_page(page: str, repeat: int) -> tuple[float, float]:
    import logging

    import streamlit as st
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from streamlit.testing.v1 import AppTest
    cold, warm = [], []
    for _ in range(repeat):
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
        if page != "app.py":
            at.run()                 # AppTest learns the pages from a first run of app.py
            at.switch_page(page)
        st.cache_data.clear()
        start = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - start)
        assert not at.exception, (page, at.exception)
        start = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - start)
    return statistics.median(cold), statistics.median(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--metric-rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", action="store_true",
                        help="the shipped reference study instead of the generated runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(DCPOC_HOME=tmp, DCPOC_DB=f"sqlite:///{tmp}/dcpoc.db",
                          DCPOC_NO_AUTOWORKER="1")
        os.environ.pop("DCPOC_PASSWORD", None)
        from dcpoc.runs.store import Store
        start = time.perf_counter()
        if args.reference:
            from dcpoc.runs.bundle import import_study, reference_bundle
            import_study(Store(), reference_bundle())
            print(f"imported the reference study in {time.perf_counter() - start:.1f} s")
        else:
            n_rows = fill(Store(), args.runs, args.metric_rows)
            print(f"filled {args.runs} runs and {n_rows:,} metric rows in {time.perf_counter() - start:.1f} s "
                  f"({os.path.getsize(f'{tmp}/dcpoc.db') / 2**20:.0f} MB)")
        target = 3.0 if args.reference else 1.0    # a cold decision: two bootstraps, then the page
        print(f"{'page':<22}{'cold (s)':>10}{'warm (s)':>10}  target < {target:g} s")
        worst = 0.0
        for page in DECISION_PAGES if args.reference else PAGES:
            cold, warm = time_page(page, args.repeat)
            worst = max(worst, cold)
            print(f"{page:<22}{cold:>10.3f}{warm:>10.3f}  {'ok' if cold < target else 'SLOW'}")
    print(f"slowest page: {worst:.3f} s (median of {args.repeat}, cold caches)")
    return 0 if worst < target else 1


if __name__ == "__main__":
    sys.exit(main())
