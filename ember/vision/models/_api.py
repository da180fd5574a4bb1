"""Weights enums, the local checkpoint cache and the model registry (torchvision's
``torchvision.models._api``), without downloads: files are looked up in a cache folder.

The cache folder follows torch.hub: ``$TORCH_HOME/hub/checkpoints`` (``TORCH_HOME`` defaults to
``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch``); ``EMBER_HOME`` takes precedence over
``TORCH_HOME`` so ember can keep its own folder. A user who already ran torchvision on this
machine therefore finds the same ``resnet18-f37072fd.pth`` file picked up by ember.
"""
from __future__ import annotations

import enum
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, Union

from ...nn.modules.module import Module

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models", "get_dir", "load_weights"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(eq=False)
class Weights:
    """A published checkpoint: where torchvision serves it, its inference transforms, and its
    metadata (``num_params``, ``min_size``, ``_metrics``, ...).

    Args:
        url: the download address torchvision uses; its last path part is the file name.
        transforms: callable building the preprocessing module (``weights.transforms()``).
        meta: metadata dictionary.

    Shape:
        not applicable.

    Example:
        >>> ResNet18_Weights.IMAGENET1K_V1.value.file_name
        'resnet18-f37072fd.pth'
    """

    url: str
    transforms: Callable
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Weights):
            return NotImplemented
        return self.url == other.url and self.meta == other.meta


class WeightsEnum(enum.Enum):
    """Base of the per-architecture enums (``ResNet18_Weights`` ...).

    Members hold :class:`Weights`; ``url``, ``transforms`` and ``meta`` read through to it,
    ``DEFAULT`` names the recommended member, and ``get_state_dict()`` loads the file from the
    local cache folder (it never downloads).

    Args:
        value: the :class:`Weights` of the member.

    Shape:
        not applicable.

    Example:
        >>> ResNet18_Weights.verify("IMAGENET1K_V1") is ResNet18_Weights.IMAGENET1K_V1
        True
    """

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """None, a member, or a member's name (``"IMAGENET1K_V1"``, ``"X_Weights.DEFAULT"``)."""
        if obj is None:
            return None
        if isinstance(obj, str):
            name = obj.replace(cls.__name__ + ".", "")
            try:
                return cls[name]
            except KeyError:
                raise ValueError(f"Failed to find Weights {obj} in {cls.__name__}.") from None
        if not isinstance(obj, cls):
            raise TypeError(f"Invalid Weights class provided; expected {cls.__name__} but "
                            f"received {obj.__class__.__name__}.")
        return obj

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Callable:
        return self.value.transforms

    @property
    def meta(self) -> Dict[str, Any]:
        return self.value.meta

    @property
    def file_name(self) -> str:
        return self.value.file_name

    def get_state_dict(self, progress: bool = True, check_hash: bool = False,
                       model_dir: Optional[PathLike] = None, *args, **kwargs) -> Mapping:
        """Load this checkpoint from the cache folder; FileNotFoundError names the file."""
        path = cached_path(self, model_dir)
        if check_hash:
            _check_hash(path)
        import ember
        return ember.load(path, map_location="cpu", weights_only=True)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"


def get_dir() -> str:
    """The hub folder: ``$EMBER_HOME/hub``, else ``$TORCH_HOME/hub``, else
    ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub``."""
    home = os.environ.get("EMBER_HOME") or os.environ.get("TORCH_HOME")
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
        home = os.path.join(cache, "torch")
    return os.path.join(os.path.expanduser(home), "hub")


def cached_path(weights: WeightsEnum, model_dir: Optional[PathLike] = None) -> str:
    folder = os.fspath(model_dir) if model_dir is not None else os.path.join(get_dir(),
                                                                             "checkpoints")
    path = os.path.join(folder, weights.file_name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{weights!r} needs the file '{weights.file_name}', expected at '{path}'. ember does "
            f"not download: fetch it from {weights.url} (or copy it from a torchvision cache) "
            f"into '{folder}', set TORCH_HOME/EMBER_HOME to the folder holding "
            f"'hub/checkpoints', or pass weights='/path/to/{weights.file_name}'.")
    return path


_HASH_RE = re.compile(r"-([a-f0-9]+)\.")


def _check_hash(path: str) -> None:
    # torch.hub's convention: the file name carries the first hex digits of its sha256.
    m = _HASH_RE.search(os.path.basename(path))
    if m is None:
        return
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if not digest.startswith(m.group(1)):
        raise RuntimeError(f'invalid hash value (expected "{m.group(1)}", got "{digest}")')


def resolve_weights(weights: Any, enum_cls: Type[WeightsEnum]) -> Any:
    """``weights=`` may be None, a member or its name, or a path to a checkpoint file.

    Returns None, a member of ``enum_cls``, or a path string."""
    if weights is None or isinstance(weights, enum_cls):
        return weights
    if isinstance(weights, WeightsEnum):
        return enum_cls.verify(weights)  # raises TypeError for another architecture's enum
    if isinstance(weights, os.PathLike):
        return os.fspath(weights)
    if isinstance(weights, str):
        name = weights.replace(enum_cls.__name__ + ".", "")
        if name in enum_cls.__members__:
            return enum_cls[name]
        if os.path.sep in weights or weights.endswith((".pth", ".pt", ".bin")) \
                or os.path.exists(weights):
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"weights file '{weights}' does not exist")
            return weights
        raise ValueError(f"Failed to find Weights {weights} in {enum_cls.__name__} (and it is "
                         f"not a path to a file).")
    raise TypeError(f"weights must be None, a {enum_cls.__name__} member, its name or a path; "
                    f"got {type(weights).__name__}")


def load_weights(model: Module, weights: Any, progress: bool = True,
                 remap: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None) -> None:
    """Load a member's cached checkpoint or a file path into ``model`` with strict=True."""
    if isinstance(weights, WeightsEnum):
        state = weights.get_state_dict(progress=progress)
    else:
        import ember
        state = ember.load(weights, map_location="cpu", weights_only=True)
        if isinstance(state, Module):
            state = state.state_dict()
        elif isinstance(state, dict) and "state_dict" in state and "model" not in state \
                and not any(k.endswith(".weight") for k in state):
            state = state["state_dict"]
    state = dict(state)
    if remap is not None:
        state = remap(state)
    _fill_num_batches_tracked(model, state)
    model.load_state_dict(state, strict=True)


def _fill_num_batches_tracked(model: Module, state: Dict[str, Any]) -> None:
    # Checkpoints saved before BatchNorm had `num_batches_tracked` (torch < 0.4.1, e.g. several
    # published ImageNet files) lack it; torch's BatchNorm loads them with the counter at 0.
    import ember
    for key, buf in model.state_dict().items():
        if key.endswith(".num_batches_tracked") and key not in state:
            prefix = key[:-len("num_batches_tracked")]
            if prefix + "running_mean" in state:
                state[key] = ember.zeros_like(buf)


def _ovewrite_named_param(kwargs: Dict[str, Any], param: str, new_value: Any) -> None:
    # torchvision's helper (its spelling kept): weights fix some constructor arguments.
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                             f"{kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def _num_classes_from(weights: Any, kwargs: Dict[str, Any]) -> None:
    if isinstance(weights, WeightsEnum):
        _ovewrite_named_param(kwargs, "num_classes", weights.meta["num_classes"])


# ------------------------------------------------------------------------------ registry
BUILTIN_MODELS: Dict[str, Callable[..., Module]] = {}
_WEIGHTS_OF: Dict[str, Type[WeightsEnum]] = {}


def register_model(name: Optional[str] = None, weights_enum: Optional[Type[WeightsEnum]] = None):
    def wrapper(fn: Callable[..., Module]) -> Callable[..., Module]:
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        if weights_enum is not None:
            _WEIGHTS_OF[key] = weights_enum
        return fn
    return wrapper


def list_models(module: Any = None, include: Any = None, exclude: Any = None) -> List[str]:
    """Names of the registered builders, sorted; ``include``/``exclude`` are fnmatch patterns."""
    import fnmatch
    names = set(BUILTIN_MODELS)
    if include:
        pats = [include] if isinstance(include, str) else include
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)}
    if exclude:
        pats = [exclude] if isinstance(exclude, str) else exclude
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in pats)}
    return sorted(names)


def get_model_builder(name: str) -> Callable[..., Module]:
    name = name.lower()
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name: str, **config: Any) -> Module:
    """Build a registered model by name: ``get_model("resnet18", num_classes=10)``."""
    return get_model_builder(name)(**config)


def get_model_weights(name: Union[str, Callable]) -> Type[WeightsEnum]:
    """The weights enum of a builder (by name or the builder itself)."""
    if callable(name):
        name = next(k for k, v in BUILTIN_MODELS.items() if v is name)
    try:
        return _WEIGHTS_OF[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_weight(name: str) -> WeightsEnum:
    """A member from its full name: ``get_weight("ResNet50_Weights.IMAGENET1K_V2")``."""
    try:
        enum_name, member = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    for cls in _WEIGHTS_OF.values():
        if cls.__name__ == enum_name:
            return cls[member]
    raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                     "retrieved.")


# ------------------------------------------------------------------------- meta helpers
_IMAGENET = {"num_classes": 1000, "min_size": (1, 1)}


def imagenet_weights(file: str, num_params: int, acc1: float, acc5: float, crop: int = 224,
                     resize: int = 256, recipe: str = "", min_size=(1, 1), **extra: Any
                     ) -> Weights:
    """A published ImageNet-1K checkpoint served from download.pytorch.org/models."""
    from ._presets import ImageClassification
    transform_kw = extra.pop("_transform_kw", {})
    meta = dict(_IMAGENET)
    meta.update({"num_params": num_params, "min_size": tuple(min_size), "recipe": recipe,
                 "_metrics": {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}}})
    meta.update(extra)
    return Weights(url=f"https://download.pytorch.org/models/{file}",
                   transforms=partial(ImageClassification, crop_size=crop, resize_size=resize,
                                      **transform_kw),
                   meta=meta)


def aux_model_kwargs(kwargs: Dict[str, Any], weights: Any) -> None:
    """Constructor arguments for GoogLeNet/Inception v3 when loading weights: the files carry
    the auxiliary heads, are not re-initialised, and (for a published enum) re-normalise the
    input and fix the class count, as torchvision does."""
    if "transform_input" not in kwargs and isinstance(weights, WeightsEnum):
        _ovewrite_named_param(kwargs, "transform_input", True)
    _ovewrite_named_param(kwargs, "aux_logits", True)
    _ovewrite_named_param(kwargs, "init_weights", False)
    _num_classes_from(weights, kwargs)
