"""The ``ember`` command: ``ember run script.py [args]`` and ``ember info``.

``ember run`` installs a meta-path finder that answers ``import torch``, ``import torch.nn``,
``from torch.utils.data import DataLoader``, ``import torchvision`` ... with ember's modules
(the same module objects, so ``torch.nn is ember.nn``), then runs the script as ``__main__``.
A name ember lacks fails with "ember does not implement torch.foo yet".
"""
from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import platform
import runpy
import sys
import types
from typing import Sequence

# Top-level torch-ecosystem names and the ember packages that stand in for them.
ALIASES = {"torch": "ember", "torchvision": "ember.vision"}


class EmberAttributeError(AttributeError):
    """An attribute of torch's API that ember does not provide."""


class EmberModuleNotFoundError(ModuleNotFoundError):
    """A torch module that ember does not provide."""


def torch_to_ember(fullname: str) -> str | None:
    """``torch.nn.functional`` -> ``ember.nn.functional``; None for names not aliased."""
    head, _, rest = fullname.partition(".")
    if head not in ALIASES:
        return None
    return ALIASES[head] + ("." + rest if rest else "")


class _AliasedModule(types.ModuleType):
    """The class given to an ember module once it is served under a torch name: a missing
    attribute then names the torch path in its error."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        torch_name = _TORCH_NAME_OF.get(self.__name__, self.__name__)
        raise EmberAttributeError(f"ember does not implement {torch_name}.{name} yet")


# ember module name -> the torch name it was imported as (for error messages).
_TORCH_NAME_OF: dict = {}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, ember_name: str, torch_name: str) -> None:
        self.ember_name = ember_name
        self.torch_name = torch_name
        self._real_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.ember_name)
        self._real_spec = getattr(module, "__spec__", None)
        _TORCH_NAME_OF.setdefault(module.__name__, self.torch_name)
        if type(module) is types.ModuleType:
            # Only plain modules: a module with its own class keeps its own behaviour.
            module.__class__ = _AliasedModule
        return module

    def exec_module(self, module) -> None:
        # The import machinery stamped the alias spec on the module; give it its own back so
        # that ember's relative imports and reloads keep working.
        if self._real_spec is not None:
            module.__spec__ = self._real_spec


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``torch*`` and ``torchvision*`` imports to ember modules."""

    def find_spec(self, fullname: str, path=None, target=None):
        ember_name = torch_to_ember(fullname)
        if ember_name is None:
            return None
        try:
            found = importlib.util.find_spec(ember_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            # Raised (not returned as None) so that `from torch import foo` reports it too.
            raise EmberModuleNotFoundError(f"ember does not implement {fullname} yet")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(ember_name, fullname),
                                              is_package=found.submodule_search_locations
                                              is not None)


def install_aliases() -> TorchAliasFinder:
    """Make ``import torch`` (and friends) import ember in this process."""
    for finder in sys.meta_path:
        if isinstance(finder, TorchAliasFinder):
            return finder
    for name in list(sys.modules):
        if torch_to_ember(name) is not None:
            del sys.modules[name]  # a real torch imported earlier must not shadow ember
    finder = TorchAliasFinder()
    sys.meta_path.insert(0, finder)
    return finder


def uninstall_aliases() -> None:
    """Undo ``install_aliases`` (used by tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, TorchAliasFinder)]
    for name in list(sys.modules):
        if torch_to_ember(name) is not None:
            del sys.modules[name]


def run(target: str, args: Sequence[str], as_module: bool = False) -> None:
    """Run a script (or ``-m`` module) as ``__main__`` with torch resolving to ember."""
    install_aliases()
    if as_module:
        sys.argv = [target] + list(args)
        sys.path.insert(0, os.getcwd())
        runpy.run_module(target, run_name="__main__", alter_sys=True)
        return
    if not os.path.exists(target):
        raise SystemExit(f"ember run: can't open file {target!r}: no such file")
    sys.argv = [target] + list(args)
    # As `python script.py` does: the script's folder comes first on sys.path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
    runpy.run_path(target, run_name="__main__")


# Distribution names of the extras whose import name differs.
_DIST_OF = {"PIL": "pillow", "cudnn": "nvidia-cudnn-frontend"}


def _have(module: str) -> str:
    # The installed version from package metadata, without importing: importing tensorboardX
    # would load PyTorch (it probes for it), which ember never does, and take seconds.
    if importlib.util.find_spec(module) is None:
        return "not installed"
    try:
        from importlib.metadata import version
        return version(_DIST_OF.get(module, module))
    except Exception:
        pass
    try:
        mod = importlib.import_module(module)
    except Exception:
        return "not installed"
    return str(getattr(mod, "__version__", "installed"))


def _blas_line() -> str:
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def info() -> str:
    """The text ``ember info`` prints."""
    import numpy as np
    import ember
    lines = [f"ember {ember.__version__}",
             f"python {platform.python_version()} ({sys.executable})",
             f"platform {platform.platform()}",
             f"numpy {np.__version__}, BLAS: {_blas_line()}"]
    cupy = _have("cupy")
    if cupy == "not installed":
        lines.append("cupy: not installed (CPU only; pip install ember[gpu] for CUDA)")
    else:
        try:
            import cupy
            n = cupy.cuda.runtime.getDeviceCount()
            lines.append(f"cupy {cupy.__version__}, CUDA devices: {n}")
        except Exception as e:
            lines.append(f"cupy {cupy}, CUDA unavailable: {e}")
    extras = ["tqdm", "matplotlib", "PIL", "onnx", "tensorboardX", "tensorboard", "mpi4py",
              "safetensors", "ml_dtypes", "cudnn"]
    lines.append("optional extras: " + ", ".join(f"{m} {_have(m)}" for m in extras))
    import shutil
    lines.append("graphviz dot (viz.make_dot pictures): "
                 + (shutil.which("dot") or "not found (DOT text only)"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ember`` console script and ``python -m ember``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["torchrun"]:
        # torchrun's own options follow; the ranks import ember for `import torch`.
        from .distributed.run import main as torchrun_main
        return torchrun_main(["--alias-torch"] + args[1:])
    parser = argparse.ArgumentParser(prog="ember", description="ember: PyTorch's API on NumPy")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("torchrun", help="launch N ranks like torchrun (torch resolves to ember)")
    p_run = sub.add_parser("run", help="run a PyTorch script with torch resolving to ember")
    p_run.add_argument("-m", dest="module", action="store_true",
                       help="run a module (like python -m) instead of a file")
    p_run.add_argument("target", help="the script (or module with -m)")
    p_run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    sub.add_parser("info", help="versions, BLAS, CUDA and optional extras")
    ns = parser.parse_args(argv)
    if ns.command == "run":
        run(ns.target, ns.args, as_module=ns.module)
        return 0
    if ns.command == "info":
        print(info())
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
