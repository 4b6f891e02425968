"""Tests of locnet.torch (tools/python/locnet/torch.py): gradients by torch.autograd.gradcheck in double for every
LRN and BatchNorm convention and layout and for LocallyConnected1d/2d, outputs against PyTorch, training with a
torch optimizer, storage shared with locnet, and the errors.

The conformance references (tests/conformance/lrn_pytorch, bn_pytorch, lc_pytorch) are REAL PyTorch outputs,
written by their generate.py with Debian's python3-torch; the gradcheck references are torch's finite differences.
Skipped when torch is not installed.
Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tools/python/tests/test_torch.py
"""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import locnet.torch as lt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONFORMANCE = os.path.join(ROOT, "tests", "conformance")
f64 = torch.float64


def load(case_dir, name, tag):
    return torch.from_numpy(np.load(os.path.join(CONFORMANCE, case_dir, f"{name}_{tag}.npy")))


def cases(case_dir):
    with open(os.path.join(CONFORMANCE, case_dir, "cases.txt")) as f:
        return [line.split() for line in f if line.strip() and not line.startswith("#")]


def check_gradients(module, x):
    """gradcheck of the output against x and every parameter (the parameters are the module's own tensors)."""
    x = x.clone().requires_grad_(True)
    params = [p for p in module.parameters() if p.requires_grad]
    assert torch.autograd.gradcheck(lambda x, *p: module(x), (x, *params), eps=1e-6, atol=1e-6)


def test_importing_locnet_does_not_import_torch():
    code = "import sys, locnet; assert 'torch' not in sys.modules; import locnet.torch; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


# -- LocalResponseNorm: every convention, both layouts --------------------------------------------------------------
LRN = [
    ("pytorch", (3,), {"alpha": 0.5}), ("pytorch", (4,), {"alpha": 0.5}), ("tensorflow", (), {"depth_radius": 1}),
    ("caffe", (), {"local_size": 3}), ("caffe", (), {"local_size": 3, "norm_region": "WITHIN_CHANNEL"}),
    ("wolfram", (), {"ChannelWindowSize": 1}), ("onnx", (4,), {"alpha": 0.5}),
    ("onednn", (), {"local_size": 4}), ("onednn", (), {"local_size": 3, "alg_kind": "lrn_within_channel"}),
    ("mxnet", (3,), {"alpha": 0.5}), ("neupy", (), {"depth_radius": 3, "alpha": 0.5}),
    ("LocalResponseNorm.caffe", (), {}),
]


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("convention,args,kwargs", LRN)
def test_lrn_gradients(convention, args, kwargs, layout):
    torch.manual_seed(0)
    module = lt.LocalResponseNorm(*args, convention=convention, data_format=layout, **kwargs)
    shape = (2, 5, 3, 2) if layout == "channels_first" else (2, 3, 2, 5)
    check_gradients(module, torch.randn(*shape, dtype=f64))


def test_lrn_matches_pytorch():
    for name, size, alpha, beta, k in cases("lrn_pytorch"):
        module = lt.LocalResponseNorm(int(size), alpha=float(alpha), beta=float(beta), k=float(k))
        x = load("lrn_pytorch", name, "x").requires_grad_(True)
        y = module(x)
        y.backward(load("lrn_pytorch", name, "dy"))
        torch.testing.assert_close(y.detach(), load("lrn_pytorch", name, "y"), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(x.grad, load("lrn_pytorch", name, "dx"), rtol=1e-10, atol=1e-12)


# -- BatchNorm: every convention, rank and layout, training mode ------------------------------------------------------
BN = [("pytorch", {}), ("pytorch", {"affine": False}), ("pytorch", {"momentum": None}), ("numpy-ml", {}),
      ("keras", {}), ("keras", {"center": False}), ("caffe", {}), ("BatchNorm2D.keras", {})]


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("convention,kwargs", BN)
def test_batch_norm_gradients(convention, kwargs, rank, layout):
    torch.manual_seed(0)
    if convention == "BatchNorm2D.keras":
        convention = f"BatchNorm{rank}D.keras"
    cls = {1: lt.BatchNorm1d, 2: lt.BatchNorm2d, 3: lt.BatchNorm3d}[rank]
    module = cls(3, convention=convention, data_format=layout, dtype=f64, **kwargs)
    spatial = {1: (4,), 2: (3, 2), 3: (2, 2, 2)}[rank]
    shape = (2, 3) + spatial if layout == "channels_first" else (2,) + spatial + (3,)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(0.5, 1.5)
    check_gradients(module.train(), torch.randn(*shape, dtype=f64) * 2 + 1)


def test_batch_norm_matches_pytorch():
    for name, spatial, c, momentum, eps in cases("bn_pytorch"):
        cls = [lt.BatchNorm1d, lt.BatchNorm1d, lt.BatchNorm2d, lt.BatchNorm3d][int(spatial)]
        module = cls(int(c), eps=float(eps), momentum=None if momentum == "None" else float(momentum), dtype=f64)
        get = lambda tag: load("bn_pytorch", name, tag)  # noqa: E731
        with torch.no_grad():
            module.weight.copy_(get("weight"))
            module.bias.copy_(get("bias"))
        xs = [get(f"x{i}").requires_grad_(True) for i in range(3)]
        for x in xs:
            module.zero_grad()
            y = module(x)
        y.backward(get("dy"))
        close = lambda a, b: torch.testing.assert_close(a.detach(), b, rtol=1e-10, atol=1e-10)  # noqa: E731
        close(y, get("y"))
        close(xs[-1].grad, get("dx"))
        close(module.weight.grad, get("dweight"))
        close(module.bias.grad, get("dbias"))
        close(module.running_mean, get("running_mean"))
        close(module.running_var, get("running_var"))
        assert module.num_batches_tracked.item() == 3
        with torch.no_grad():
            close(module.eval()(xs[0]), get("y_eval"))


def test_batch_norm_loads_a_pytorch_state_dict_and_follows_train_eval():
    torch.manual_seed(0)
    ref = torch.nn.BatchNorm2d(3).double()
    x = torch.randn(4, 3, 5, 5, dtype=f64) * 3 + 2
    ref(x)  # running statistics move
    module = lt.BatchNorm2d(3, dtype=f64)
    module.load_state_dict(ref.state_dict())  # num_batches_tracked: int64 scalar -> locnet's float (1,)
    torch.testing.assert_close(module.running_mean, ref.running_mean)
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x), ref.eval()(x))
        torch.testing.assert_close(module.train()(x), ref.train()(x))
    torch.testing.assert_close(module.running_var, ref.running_var)
    with torch.no_grad():  # another spatial size: the layer is rebuilt, its values kept
        torch.testing.assert_close(module(x[:, :, :2]), ref(x[:, :, :2]))


def test_batch_norm_refuses_gradients_in_eval_mode():
    module = lt.BatchNorm2d(2).eval()
    y = module(torch.randn(2, 2, 3, 3, requires_grad=True))
    with pytest.raises(RuntimeError, match="no gradients through eval"):
        y.sum().backward()


# -- LocallyConnected1d/2d -----------------------------------------------------------------------------------------
LC2D = [dict(), dict(bias=False), dict(stride=2), dict(stride=(2, 1), padding=1), dict(padding="same", dilation=2),
        dict(padding=((1, 0), (2, 1))), dict(kernel_size=(2, 3), padding="same")]


@pytest.mark.parametrize("options", LC2D)
def test_locally_connected_2d_gradients(options):
    torch.manual_seed(0)
    options = {"kernel_size": 3, **options}
    module = lt.LocallyConnected2d(2, 3, input_size=(5, 6), dtype=f64, **options)
    check_gradients(module, torch.randn(2, 2, 5, 6, dtype=f64))


@pytest.mark.parametrize("options", [dict(), dict(bias=False), dict(stride=3), dict(padding="causal", dilation=2),
                                     dict(padding=(2, 1)), dict(padding="same", kernel_size=4)])
def test_locally_connected_1d_gradients(options):
    torch.manual_seed(0)
    options = {"kernel_size": 3, **options}
    module = lt.LocallyConnected1d(2, 3, input_size=9, dtype=f64, **options)
    check_gradients(module, torch.randn(2, 2, 9, dtype=f64))


# The channels_first cases of tests/conformance/lc_pytorch/cases.txt; their weights are in the module's layout.
LC_CASES = [("lc2d_same_cf_strided", lt.LocallyConnected2d, dict(kernel_size=3, stride=(2, 1), padding="same")),
            ("lc2d_explicit_cf", lt.LocallyConnected2d, dict(kernel_size=2, dilation=(1, 2), padding=((1, 0), (2, 1)))),
            ("lc1d_causal_cf", lt.LocallyConnected1d, dict(kernel_size=2, dilation=2, padding="causal"))]


@pytest.mark.parametrize("name,cls,options", LC_CASES)
def test_locally_connected_matches_pytorch(name, cls, options):
    get = lambda tag: load("lc_pytorch", name, tag)  # noqa: E731
    x, kernel = get("x").requires_grad_(True), get("kernel")
    module = cls(x.shape[1], kernel.shape[2], input_size=tuple(x.shape[2:]), dtype=f64, **options)
    with torch.no_grad():
        module.weight.copy_(kernel)
        module.bias.copy_(get("bias"))
    y = module(x)
    y.backward(get("dy"))
    for got, tag in ((y.detach(), "y"), (x.grad, "dx"), (module.weight.grad, "dkernel"), (module.bias.grad, "dbias")):
        torch.testing.assert_close(got, get(tag), rtol=1e-10, atol=1e-12, msg=tag)


def test_a_small_model_trains_with_sgd():
    torch.manual_seed(0)
    lc = lt.LocallyConnected2d(4, 6, 3)  # lazy: sized by the first input, after the optimizer took it
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), lc, torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(6 * 6 * 6, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, target = torch.randn(16, 1, 10, 10), torch.randint(0, 3, (16,))
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    # The optimizer moved locnet's own weights: the torch parameter is the layer's storage.
    np.testing.assert_array_equal(lc.layer.get_weights()[0], lc.weight.detach().numpy())


class Spy:
    """Records the arrays crossing into and out of the locnet layer."""

    def __init__(self, impl):
        self.impl, self.seen = impl, {}

    def forward(self, x, training):
        self.seen["x"], self.seen["y"] = x, self.impl.forward(x, training)
        return self.seen["y"]

    def __getattr__(self, name):
        return getattr(self.impl, name)


def test_zero_copy_parameters_input_and_output():
    module = lt.LocallyConnected2d(2, 3, 3, input_size=(64, 64))
    for (_, value, *_), p in zip(module.layer._impl.params(), module.parameters()):
        assert p.data_ptr() == value.ctypes.data
    module.layer._impl = spy = Spy(module.layer._impl)
    x = torch.randn(2, 2, 64, 64)
    y = module(x)
    assert spy.seen["x"].ctypes.data == x.data_ptr()
    assert spy.seen["y"].ctypes.data == y.data_ptr()


def test_non_contiguous_input_second_call_and_conversions():
    torch.manual_seed(0)
    module = lt.LocallyConnected2d(2, 3, 2, input_size=(4, 5))
    x = torch.randn(2, 5, 4, 2).permute(0, 3, 2, 1)  # not contiguous
    torch.testing.assert_close(module(x), module(x.contiguous()))
    # Two forwards, then the first one's backward: the module replays the first forward.
    x1, x2 = torch.randn(2, 2, 4, 5, requires_grad=True), torch.randn(2, 2, 4, 5)
    g = torch.randn(2, 3, 3, 4)
    module(x1).backward(g)
    expected = x1.grad.clone()
    x1.grad = None
    y1 = module(x1)
    module(x2)
    y1.backward(g)
    torch.testing.assert_close(x1.grad, expected)
    before = module.weight.detach().clone()
    module.double()
    assert module.weight.dtype == f64 and module.weight.data_ptr() == module.layer._impl.params()[0][1].ctypes.data
    torch.testing.assert_close(module.weight.detach().float(), before)
    assert module(x.double()).dtype == f64


def test_errors():
    module = lt.LocallyConnected2d(2, 3, 2, input_size=(4, 5))
    with pytest.raises(TypeError, match="the input is torch.float64 but the module is f32"):
        module(torch.randn(1, 2, 4, 5, dtype=f64))
    with pytest.raises(TypeError, match="float32 or float64"):
        module(torch.ones(1, 2, 4, 5, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        module(torch.empty(1, 2, 4, 5, device="meta"))
    with pytest.raises(ValueError, match=r"input must be \(N, 2, H, W\)"):
        module(torch.randn(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"as built"):
        module(torch.randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match="unknown LocalResponseNorm convention 'cafe'"):
        lt.LocalResponseNorm(convention="cafe")


def test_the_example_trains():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "torch_locally_connected.py")],
                         check=True, capture_output=True, text=True, env=dict(os.environ)).stdout
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("step")]
    assert len(losses) == 10 and losses[-1] < losses[0]


def test_deepcopy_and_torch_save_keep_the_values():
    import copy
    import io
    torch.manual_seed(0)
    model = torch.nn.Sequential(lt.LocallyConnected2d(2, 3, 2, input_size=(4, 5)), lt.BatchNorm2d(3),
                                lt.LocalResponseNorm(2))
    x = torch.randn(2, 2, 4, 5)
    model(x)  # running statistics move
    buffer = io.BytesIO()  # saved with the running statistics of now
    torch.save(model, buffer)
    buffer.seek(0)
    copies = (copy.deepcopy(model), torch.load(buffer))
    with torch.no_grad():
        expected_eval, expected_train = model.eval()(x), model.train()(x)
    for other in copies:
        with torch.no_grad():
            torch.testing.assert_close(other.eval()(x), expected_eval)
            torch.testing.assert_close(other.train()(x), expected_train)
        assert other[0].weight.data_ptr() == other[0].layer._impl.params()[0][1].ctypes.data
        assert other[0].weight.data_ptr() != model[0].weight.data_ptr()
