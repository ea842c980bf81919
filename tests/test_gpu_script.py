"""The prepared GPU script (`bench gpu`, scripts/gpu-bench.sh) is ready for a GPU lent for minutes:
its stages write JSON as they finish, respect a time budget, survive a failing stage, and import
nothing beyond what the lent GPU image holds plus the wheels scripts/gpu-kit.sh carries there."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, home_env, run_cli
from dcpoc.bench import bench_kernels
from dcpoc.bench_gpu import format_gpu, gaps, run_stages
from dcpoc.config import ConfigError

IMAGE_PACKAGES = REPO_ROOT / "scripts" / "gpu-image-packages.txt"


def _kit_packages() -> set[str]:
    """The packages scripts/gpu-kit.sh downloads (its KIT=(...) line)."""
    text = (REPO_ROOT / "scripts" / "gpu-kit.sh").read_text()
    return set(re.search(r"^KIT=\(([^)]*)\)", text, re.M).group(1).split())


def test_stages_write_json_as_they_finish_and_a_failure_does_not_stop_the_rest(tmp_path):
    out = tmp_path / "gpu.json"
    seen_on_disk = {}

    def read_back(deadline):   # what a killed run would have left after the first stage
        seen_on_disk.update(json.loads(out.read_text()))
        return "read"

    def fails(deadline):
        raise ConfigError("a stage broke\nsecond line")

    stages = [("kernels", lambda deadline: bench_kernels("cpu", [16], deadline=deadline)),
              ("read_back", read_back), ("fails", fails), ("after", lambda deadline: "ran")]
    result = run_stages({"benchmark": "gpu"}, stages, out, budget_s=600)
    on_disk = json.loads(out.read_text())
    assert seen_on_disk["kernels"]["rows"] and "read_back" not in seen_on_disk
    assert on_disk["errors"] == {"fails": "ConfigError: a stage broke second line"} == result["errors"]
    assert on_disk["after"] == "ran" and on_disk["skipped"] == []
    assert set(on_disk["stage_s"]) == {"kernels", "read_back", "fails", "after"}


def test_stages_past_the_budget_are_skipped_and_said_so(tmp_path):
    out = tmp_path / "gpu.json"

    def runs_past_the_deadline(deadline):
        time.sleep(max(0.0, deadline - time.monotonic()) + 0.05)
        return bench_kernels("cpu", [16], deadline=deadline)   # every row starts after it

    stages = [("kernels", runs_past_the_deadline), ("model", lambda deadline: "never")]
    result = run_stages({"benchmark": "gpu"}, stages, out, budget_s=0.2)
    assert result["skipped"] == ["model"] and "model" not in json.loads(out.read_text())
    assert {r["skipped"] for r in result["kernels"]["rows"]} == {"time budget spent"}
    assert "skipped (time budget of 0.2 s spent): model" in format_gpu(result)


def test_bench_model_lists_presets_past_the_deadline_as_skipped():
    from dcpoc.bench import bench_model, format_result
    result = bench_model("tiny", 1, "cpu", deadline=time.monotonic() - 1)
    assert result["rows"] == [] and result["skipped"] == {"tiny": "time budget spent"}
    assert "tiny: skipped (time budget spent)" in format_result(result)


def test_a_budget_that_is_not_positive_or_not_for_gpu_is_one_clear_line(dcpoc_home):
    from dcpoc.bench_gpu import bench_gpu
    for bad in (0, -5, float("nan")):
        with pytest.raises(ConfigError, match="--budget-s .*: must be > 0"):
            bench_gpu(Path(os.devnull), bad)
    result = run_cli("bench", "kernels", "--budget-s", "60")
    assert result.returncode == 2 and "--budget-s is for `bench gpu` only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_gaps_name_what_keeps_a_result_from_complete():
    """A failed kernel row, rows and presets the budget cut, a failed check: each one line; a row
    out of memory (the eager reference at long T) is a finding, not a gap."""
    check = {"shape": "B2-H16-T333-d64-R2", "dtype": "torch.bfloat16", "window": None,
             "max_rel_error": 0.5, "tolerance": 0.02}
    result = {"budget_s": 60, "skipped": ["model"], "errors": {}, "selfcheck": {"passed": True},
              "checks": [{**check, "ok": True}, {**check, "ok": False}],
              "kernels": {"rows": [{"T": 2048, "impl": "triton", "fwd_ms": 1.0},
                                   {"T": 2048, "impl": "reference", "skipped": "out of memory"},
                                   {"T": 2048, "impl": "triton_8warps", "skipped": "failed: E: x"},
                                   {"T": 4096, "impl": "triton", "skipped": "time budget spent"}]},
              "kernels_more": {"rows": [{"T": 8192, "impl": "torch", "skipped": "failed: E: y"}]},
              "model": {"skipped": {}, "notes": {"paper-405m": "out of memory at micro-batch 16: "
                                                                "timed at 8"}}}
    assert gaps(result) == [
        "skipped (time budget of 60 s spent): model",
        "check B2-H16-T333-d64-R2 torch.bfloat16 window=None failed: error 5.00e-01 over 0.02",
        "kernels T 2048 triton_8warps: failed: E: x", "kernels T 4096 triton: time budget spent",
        "kernels T 8192 torch: failed: E: y",
        "model paper-405m: out of memory at micro-batch 16: timed at 8"]
    complete = {"budget_s": 60, "skipped": [], "errors": {}, "selfcheck": {"passed": True},
                "checks": [{**check, "ok": True}], "model": {"skipped": {}},
                "kernels": {"rows": result["kernels"]["rows"][:2]}}
    assert gaps(complete) == [] and gaps({**complete, "selfcheck": {"passed": False, "error": "E"}}) \
        == ["self-check failed: E"]


# --- the lent GPU image: torch and triton, no streamlit, no database layer -------------------------

IMAGE_SIM = r"""
import importlib.abc, importlib.metadata as md, json, os, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

allowed = {norm(n) for n in open(os.environ["IMAGE_PACKAGES"]).read().split() if not n.startswith("#")}
allowed |= {norm(n) for n in os.environ["KIT_PACKAGES"].split()}
# a module is blocked when every distribution that provides it is outside the image and the kit
blocked = {module for module, dists in md.packages_distributions().items()
           if not any(norm(d) in allowed for d in dists)}

class NotInImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the GPU image)")
        return None

sys.meta_path.insert(0, NotInImage())
assert "streamlit" in blocked and "torch" not in blocked   # the simulation blocks what it should

from pathlib import Path
from dcpoc.bench import bench_kernels, bench_model
from dcpoc.bench_gpu import launch_check, run_stages
from dcpoc.runs.selfchecks import selfcheck_for_bench
stages = [("launch", lambda deadline: launch_check(deadline, "cpu")),
          ("selfcheck", lambda deadline: selfcheck_for_bench()),
          ("kernels", lambda deadline: bench_kernels("cpu", [16], deadline=deadline)),
          ("model", lambda deadline: bench_model("tiny", 1, "cpu", deadline=deadline))]
result = run_stages({"benchmark": "gpu"}, stages, Path(sys.argv[1]), budget_s=600)
from dcpoc.cli import main   # the command line itself, as gpu-bench.sh calls it
cli_rc = main(["bench", "kernels", "--device", "cpu", "--seq-lens", "16", "--out", sys.argv[1] + ".cli"])
print(json.dumps({"errors": result["errors"], "stages": [n for n, _ in stages if n in result],
                  "chosen": result.get("selfcheck", {}).get("chosen"), "cli_rc": cli_rc}))
"""


def test_the_gpu_script_needs_only_the_image_and_the_kit(tmp_path):
    """The GPU script's stages, run on the CPU (the self-check under Triton's interpreter) in a
    Python that refuses every package the lent image lacks, except the kit's wheels."""
    env = {**os.environ, **home_env(tmp_path / "home"), "PYTHONPATH": str(REPO_ROOT),
           "TRITON_INTERPRET": "1", "DCPOC_SELFCHECK_ON_CPU": "1",
           "IMAGE_PACKAGES": str(IMAGE_PACKAGES), "KIT_PACKAGES": " ".join(_kit_packages())}
    run = subprocess.run([sys.executable, "-c", IMAGE_SIM, str(tmp_path / "gpu.json")], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["errors"] == {} and summary["stages"] == ["launch", "selfcheck", "kernels", "model"]
    assert summary["chosen"] in ("triton", "torch") and summary["cli_rc"] == 0
    assert _kit_packages() == {"sqlalchemy", "alembic", "mako"}


def test_gpu_bench_script_collects_its_outputs_and_says_why_it_stopped(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "DCPOC_HOME": str(tmp_path / "h"),
           "GPU_KIT": str(tmp_path / "no-kit"), "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu-bench.sh"), "--budget-s", "60"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr   # no GPU: the one-line error, nothing else run
    assert "needs a CUDA GPU" in (out / "bench-gpu.log").read_text()
    assert "torch" in (out / "machine.txt").read_text()
    assert not (out / "registers.md").exists()


def _python_without_the_database_layer(tmp_path: Path) -> Path:
    """A python3 that cannot import sqlalchemy or alembic, like the lent GPU image's."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class NotInImage(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('sqlalchemy', 'alembic'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NotInImage())\n")
    wrapper = tmp_path / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{site}:$PYTHONPATH" exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.parametrize("kit_files, says", [
    ({}, "holds no wheels: run scripts/gpu-kit.sh"),
    ({"sqlalchemy-0-cp399-cp399-manylinux_2_28_x86_64.whl": b"not a wheel"},
     "do not install on this Python"),
])
def test_gpu_bench_script_without_a_usable_kit_stops_with_what_to_do(tmp_path, kit_files, says):
    kit = tmp_path / "kit"
    kit.mkdir()
    for name, data in kit_files.items():
        (kit / name).write_bytes(data)
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "GPU_KIT": str(kit),
           "PYTHON": str(_python_without_the_database_layer(tmp_path))}
    run = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu-bench.sh")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3 and says in run.stdout, run.stdout + run.stderr
    assert says in (out / "bench-gpu.log").read_text() and not (out / "bench-gpu.json").exists()
