"""The package's helpers: one lazy compile helper (nothing compiled at import, one switch, a warned
fallback), lazy imports, and progress bars that the site can silence."""

import subprocess
import sys

import pytest
import torch

from l2l import _compile


def _double(x):
    return 2 * x


def test_lazy_compiles_on_the_first_call_only(monkeypatch):
    built = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: built.append(kw) or fn.__call__)
    lazy = _compile.Lazy(_double, dynamic=True)
    assert not built and not lazy.compiled
    assert lazy(torch.ones(2)).tolist() == [2.0, 2.0]
    lazy(torch.ones(3))
    assert built == [{"dynamic": True}] and lazy.compiled


def test_the_switch_turns_compilation_off(monkeypatch):
    monkeypatch.setenv("L2L_COMPILE", "0")
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled with L2L_COMPILE=0"))
    lazy = _compile.Lazy(_double)
    assert lazy(torch.ones(1)).item() == 2.0 and not lazy.compiled
    assert _compile.traced(_double, (torch.ones(1),), "double") is _double
    monkeypatch.setenv("L2L_COMPILE", "1")
    assert _compile.enabled()


def test_a_failed_compilation_warns_once_and_runs_eagerly(monkeypatch):
    def broken(*args):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", lambda fn, **kw: broken)
    lazy = _compile.Lazy(_double)
    with pytest.warns(UserWarning, match=r"could not compile _double \(RuntimeError: no C\+\+ compiler\)"):
        assert lazy(torch.ones(1)).item() == 2.0
    assert not lazy.compiled and lazy(torch.ones(1)).item() == 2.0  # no second warning: eager for good


def test_an_error_of_the_function_itself_is_raised_as_it_is_and_compilation_stays_on(monkeypatch):
    import warnings

    def wrong_shape(x):
        raise ValueError(f"x must have 3 entries, got {x.numel()}")

    monkeypatch.setattr(torch, "compile", lambda fn, **kw: lambda *a: fn(*a))  # "compiled": fails alike
    lazy = _compile.Lazy(wrong_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "could not compile" warning
        with pytest.raises(ValueError, match="x must have 3 entries, got 1") as caught:
            lazy(torch.ones(1))
    assert caught.value.__context__ is None and lazy.compiled  # unwrapped; still the compiled path


def test_traced_compiles_a_graph_equal_to_the_function():
    x = torch.randn(5)
    fast = _compile.traced(_double, (x,), "double")
    assert fast is not _double
    torch.testing.assert_close(fast(x), _double(x))


def test_traced_falls_back_when_tracing_fails():
    def untraceable(x):
        return torch.tensor(x.tolist())  # data-dependent: make_fx with fake tensors cannot trace it

    with pytest.warns(UserWarning, match="could not compile untraceable"):
        assert _compile.traced(untraceable, (torch.ones(2),), "untraceable") is untraceable


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys; {code}; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_l2l_loads_no_compiler_no_plotting_and_no_experiment():
    loaded = _modules_after("import l2l")
    assert not {"torch", "matplotlib", "seaborn", "l2l.experiments", "l2l.maml"} & loaded
    loaded = _modules_after("import l2l; l2l.LSTMOptimizer; l2l.train_maml; l2l.adapt")
    assert "torch" in loaded and not {"torch._dynamo", "torch._inductor", "matplotlib"} & loaded


def test_subpackages_import_their_modules_on_first_use():
    loaded = _modules_after("import l2l; l2l.tasks.regression.SineTasks")
    assert "l2l.tasks.regression" in loaded and "l2l.tasks.navigation" not in loaded
    import l2l

    with pytest.raises(AttributeError, match="'l2l.tasks' has no attribute 'nothing'"):
        l2l.tasks.nothing  # noqa: B018


def test_progress_bars_obey_tqdm_disable_and_the_show_switch():
    code = ("from l2l._progress import progress_bar\n"
            "for _ in progress_bar(range(3), show={show}): pass\n")
    def stderr(show, **env):
        import os
        run = subprocess.run([sys.executable, "-c", code.format(show=show)], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True)
        return run.stderr
    assert "3/3" in stderr(True, TQDM_DISABLE="")
    assert stderr(True, TQDM_DISABLE="1") == ""  # the site: no bar
    assert stderr(False, TQDM_DISABLE="") == ""
