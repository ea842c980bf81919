"""Price table, device kinds, run cost; the prices command edits the table in the database."""
import pytest

from dcpoc.costs import PriceError, device_kind, parse_price, peak_flops, run_cost_usd
from dcpoc.runs.store import Store

from conftest import run_cli


def test_device_kinds_and_peaks():
    assert device_kind("cpu") == "cpu"
    assert device_kind("NVIDIA H200") == "h200" and device_kind("NVIDIA H100 80GB HBM3") == "h100"
    assert device_kind("NVIDIA A100-SXM4-40GB") == "a100" and device_kind("Tesla T4") == "other-gpu"
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12 and peak_flops("cpu") is None


def test_run_cost_uses_device_hours_and_overrides():
    assert run_cost_usd(3600, "NVIDIA H200") == pytest.approx(3.50)
    assert run_cost_usd(1800, "NVIDIA H100", n_devices=2, prices={"h100": 2.0}) == pytest.approx(2.0)
    assert run_cost_usd(3600, "cpu", kind="h100") == pytest.approx(2.50)


@pytest.mark.parametrize("item", ["tpu=1", "h100", "h100=abc", "h100=-2", "h100=inf", "h100=2e30",
                                  "cpu=1e308", "h100=nan"])
def test_bad_prices(item):
    with pytest.raises(PriceError):
        parse_price(item)


def test_prices_command_edits_and_resets(dcpoc_home):
    result = run_cli("prices", "--set", "h100=2.2", "--set", "cpu=0.05")
    assert result.returncode == 0 and "$2.20/hour" in result.stdout
    assert Store().get_setting("prices") == {"h100": 2.2, "cpu": 0.05}
    bad = run_cli("prices", "--set", "h100=cheap")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "h100=cheap" in bad.stderr
    assert Store().get_setting("prices") == {"h100": 2.2, "cpu": 0.05}
    assert run_cli("prices", "--reset").returncode == 0 and Store().get_setting("prices") == {}
