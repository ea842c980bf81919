"""compose_cpu: the C++ head-mixing kernels that dcmha_torch uses on the CPU.

Their gradients are held to the reference in test_torch_dcmha.py (every test there runs with and
without them); here: the forward's bits (with and without FMA), thread-count independence, bad
input, the fallback, and the dynamic weights' split (dynamic_fields) against F.rms_norm.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

from dcpoc.kernels import dcmha_reference, dcmha_torch, dynamic_fields, torch_dcmha
from dcpoc.kernels.compose_cpu import ENV_SWITCH, compose_kernel
from tests.test_torch_dcmha import Shape, leaves, make_inputs, rel_err

# four query blocks under the causal mask, as at the cpu-demo size (T = 128)
SHAPE = Shape(B=2, H=4, Tq=130, S=130, d=8, R=2)


@pytest.fixture
def kernel():
    module = compose_kernel()
    if module is None:
        pytest.skip("the C++ compose kernel cannot be built here (no compiler or ninja)")
    return module


def forward_and_grads(window):
    inputs = make_inputs(SHAPE, "pre+post", torch.float32)
    xs = leaves(*inputs)
    out = dcmha_torch(*inputs, causal=True, window=window)
    return out.detach(), torch.autograd.grad(out.square().sum(), xs)


@pytest.mark.parametrize("window", [None, 20])
def test_forward_gives_the_bits_of_the_torch_ops(kernel, window, monkeypatch):
    out, grads = forward_and_grads(window)
    monkeypatch.setenv(ENV_SWITCH, "0")
    ops_out, ops_grads = forward_and_grads(window)
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):   # where the rounding is known
        assert torch.equal(out, ops_out)
    assert rel_err(out, ops_out) < 1e-6
    for grad, ops_grad in zip(grads, ops_grads):   # reassociated sums: equal up to rounding
        assert rel_err(grad, ops_grad) < 1e-5


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="torch's default-capability kernels round as non-fused ops on x86 only")
def test_the_build_without_fma_gives_the_bits_of_the_torch_ops(tmp_path):
    """A CPU without AVX2 (torch told so by ATEN_CPU_CAPABILITY) gets the kernels built without FMA:
    their vector code must still round as torch's own non-fused ops do."""
    code = ("import os, torch\n"
            "from dcpoc.kernels.compose_cpu import compose_kernel\n"
            "from tests.test_compose_cpu import forward_and_grads\n"
            "from tests.test_torch_dcmha import rel_err\n"
            "assert compose_kernel().__name__.startswith('dcpoc_compose_')\n"
            "assert 'fma' not in compose_kernel().__name__\n"
            "out, grads = forward_and_grads(20)\n"
            "os.environ['DCPOC_CPU_COMPOSE_KERNEL'] = '0'\n"
            "ops_out, ops_grads = forward_and_grads(20)\n"
            "print(torch.equal(out, ops_out), max(rel_err(a, b) for a, b in zip(grads, ops_grads)))\n")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "TORCH_EXTENSIONS_DIR": str(tmp_path),
           ENV_SWITCH: "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600, cwd=os.path.dirname(os.path.dirname(__file__)))
    if "compose kernel is not available" in done.stderr:
        pytest.skip("the C++ compose kernel cannot be built here (no compiler or ninja)")
    assert done.returncode == 0, done.stderr
    equal, grad_err = done.stdout.split()
    assert equal == "True"
    assert float(grad_err) < 1e-5


def test_results_do_not_depend_on_the_thread_count(kernel):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = forward_and_grads(None)
        torch.set_num_threads(3)
        three = forward_and_grads(None)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one[0], three[0])
    assert all(torch.equal(a, b) for a, b in zip(one[1], three[1]))


def test_bad_input_raises_a_one_line_error(kernel):
    x = torch.randn(1, 2, 4, 4)
    aq = torch.randn(1, 2, 2, 4)
    with pytest.raises(RuntimeError, match="contiguous CPU tensor"):
        kernel.mix_forward(x.transpose(2, 3), aq, x.new_empty(0), 0, 0, True, -1, 0.0)
    with pytest.raises(RuntimeError, match="mixing matrix must be contiguous"):
        kernel.mix_forward(x, aq[..., :3], x.new_empty(0), 0, 0, True, -1, 0.0)
    with pytest.raises(RuntimeError, match="hold the block's positions"):   # rows 1..4 of 4
        kernel.mix_forward(x, aq, x.new_empty(0), 1, 0, True, -1, 0.0)
    with pytest.raises(RuntimeError, match="no mixing matrix"):
        kernel.mix_forward(x, x.new_empty(0), x.new_empty(0), 0, 0, True, -1, 0.0)
    with pytest.raises(RuntimeError, match="mixing gradients must be contiguous"):
        kernel.mix_backward(x, x.clone(), aq, x.new_empty(0), x.new_empty(0), 0, 0, True, -1, 1,
                            aq[..., :3], x.new_empty(0))
    w = torch.randn(1, 4, 2, 2)                          # (B, T, R, H) with T = 4, not 5
    with pytest.raises(RuntimeError, match=r"w1 and w2 \(B, T, R, H\)"):
        kernel.sides_forward([w], [w], [x.new_empty(0)], [x.new_empty(0)], [1], [5], 1, 2)


def test_query_weights_of_the_wrong_length_raise_value_error():
    """Caught before any kernel reads past a tensor's end."""
    q, k, v, pre, post = make_inputs(SHAPE, "pre+post", torch.float32)
    with pytest.raises((ValueError, RuntimeError), match="dynamic weights|expected"):
        dcmha_torch(q, k, v, pre._replace(qw1=pre.qw1[:, :-1], qw2=pre.qw2[:, :-1]), post)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dynamic_fields_match_the_torch_ops(kernel, dtype, monkeypatch):
    """w1 RMS-normalised over the heads and w2, values and gradients, against F.rms_norm's path."""
    gen = torch.Generator().manual_seed(0)
    dw = torch.randn(3, 2, 5, 2, 2, 4, generator=gen, dtype=dtype)            # (nb, B, T, 2, R, H)
    grads = [torch.randn(3, 2, 5, 2, 4, generator=gen, dtype=dtype) for _ in range(2)]

    def run():
        leaf = dw.clone().requires_grad_()
        w1, w2 = dynamic_fields(leaf, 1e-6)
        (torch.autograd.backward([w1, w2], grads))
        return w1.detach(), w2.detach(), leaf.grad

    with_kernel = run()
    monkeypatch.setenv(ENV_SWITCH, "0")
    with_ops = run()
    for a, b in zip(with_kernel, with_ops):
        assert a.shape == b.shape and a.is_contiguous()
        assert rel_err(a, b) < (1e-12 if dtype == torch.float64 else 1e-6)
    w1 = with_kernel[0]
    assert torch.allclose(w1.square().mean(-1), torch.ones((), dtype=dtype), atol=1e-4)


def test_dynamic_fields_reject_a_strided_input(kernel):
    with pytest.raises(RuntimeError, match=r"dynamic weights must be a contiguous CPU tensor"):
        kernel.fields_forward(torch.randn(4, 2, 2, 3).transpose(2, 3), 1e-6)


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_SWITCH, "0")
    assert compose_kernel() is None


def test_without_a_compiler_the_torch_ops_run(tmp_path):
    """A fresh build folder and no compiler: the build fails, dcmha_torch still matches the reference."""
    code = ("import torch\n"
            "from dcpoc.kernels import dcmha_reference, dcmha_torch\n"
            "from dcpoc.kernels.compose_cpu import compose_kernel\n"
            "from tests.test_torch_dcmha import BASE, make_inputs, rel_err\n"
            "assert compose_kernel() is None\n"
            "inputs = make_inputs(BASE, 'pre+post', torch.float64)\n"
            "print(rel_err(dcmha_torch(*inputs), dcmha_reference(*inputs)))\n")
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path), "CXX": str(tmp_path / "no-such-c++"),
           "PATH": "/usr/bin/nonexistent", ENV_SWITCH: "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 0, done.stderr
    assert "compose kernel is not available" in done.stderr
    assert float(done.stdout) < 1e-10


def test_a_lock_left_by_a_stopped_build_is_removed_not_waited_on_for_ever(kernel, monkeypatch, capsys):
    """A build killed mid-way leaves torch's lock file, and torch waits for it without end: every
    later DCFormer run hung. The real build folder, a real lock: an old one is removed at once, a
    young one waited on until it is older than STALE_LOCK_S (here 2 s), and the build goes on."""
    from torch.utils import cpp_extension
    from dcpoc.kernels import cpp_build
    from dcpoc.kernels.compose_cpu import _build, _variant
    lock = os.path.join(cpp_extension._get_build_directory(cpp_build.install_name(_variant()[0]), False),
                        "lock")
    open(lock, "w").close()
    os.utime(lock, (0, 0))                                      # 1970: long dead
    assert _build.__wrapped__() is not None and not os.path.exists(lock)
    assert "removing " in capsys.readouterr().err
    monkeypatch.setattr(cpp_build, "STALE_LOCK_S", 2.0)
    open(lock, "w").close()                                     # young: a build may be running
    assert _build.__wrapped__() is not None and not os.path.exists(lock)
    err = capsys.readouterr().err
    assert "waiting for another process's build" in err and "removing " in err


def test_each_torch_install_builds_in_its_own_folder(monkeypatch, tmp_path):
    """Two checkouts or virtual environments compile against different torch include folders;
    sharing one build folder made each rebuild the other's kernel on every switch."""
    import torch
    from dcpoc.kernels.cpp_build import install_name
    here = install_name("dcpoc_compose")
    assert here == install_name("dcpoc_compose") and here.startswith("dcpoc_compose_")
    assert here.isidentifier()                                  # the module's name, too
    monkeypatch.setattr(torch, "__file__", str(tmp_path / "other-env" / "torch" / "__init__.py"))
    assert install_name("dcpoc_compose") != here
