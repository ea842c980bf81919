"""requirements.txt pins a torch / Triton pair that resolves on an ordinary machine, and the kernel
tests (interpreter parity, the sm_90 cross-compile) run with the pinned Triton."""
import re
from importlib import metadata

import pytest

from conftest import REPO_ROOT


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_triton_pin_is_the_one_torch_requires():
    """PyPI's Linux torch 2.13.0 wheel requires triton==3.7.1: another pin makes pip's resolution
    impossible for every new user (scripts/check-requirements.sh checks it against the index)."""
    wanted = {"2.13.0": "3.7.1"}
    assert pins()["torch"] in wanted, "a new torch pin: add the triton it requires to this table"
    assert pins()["triton"] == wanted[pins()["torch"]]


def test_installed_triton_is_the_pinned_one():
    """The kernel tests run under the pinned Triton (CI installs requirements.txt into .venv)."""
    try:
        installed = metadata.version("triton")
    except metadata.PackageNotFoundError:
        pytest.skip("triton not installed")
    requires = [r for r in metadata.requires("torch") or [] if r.startswith("triton")]
    if requires:     # a CUDA build of torch names its triton: the pin must agree
        assert f"=={pins()['triton']}" in requires[0].replace(" ", ""), requires
    assert installed == pins()["triton"], (
        f"triton {installed} installed, requirements.txt pins {pins()['triton']}: "
        "run `bash scripts/setup.sh`")
