"""Lazy modules: the input feature/channel count is inferred at the first forward call.

A lazy module starts with UninitializedParameter/UninitializedBuffer placeholders. The first
call (or a load_state_dict carrying real tensors) materializes them; after the first call the
module turns into its ordinary class (LazyLinear -> Linear), as torch does.
"""
from __future__ import annotations

import itertools

import ember as E
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .._uninitialized import UninitializedBuffer, UninitializedParameter, is_lazy
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                   ConvTranspose3d)
from .extra_layers import BatchNorm3d, InstanceNorm3d
from .linear import Linear
from .module import Module
from .normalization import (BatchNorm1d, BatchNorm2d, InstanceNorm1d, InstanceNorm2d,
                            _BatchNorm, _InstanceNorm, _NormBase)


class LazyModuleMixin:
    """Mixin for modules whose parameters are shaped by their first input.

    A subclass implements ``initialize_parameters(*args)`` and sets ``cls_to_become``.
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._load_hook = self.register_load_state_dict_pre_hook(_lazy_load_hook)

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer is still uninitialized."""
        d = self.__dict__
        return any(is_lazy(t) for t in itertools.chain(d.get("_parameters", {}).values(),
                                                       d.get("_buffers", {}).values()))

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _infer_parameters(self, args, kwargs) -> None:
        self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        self._load_hook.remove()
        del self.__dict__["_load_hook"]
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def __call__(self, *args, **kwargs):
        # Materialize before any user hook sees the call, then run the (new) class normally.
        if "_load_hook" in self.__dict__:
            self._infer_parameters(args, kwargs)
        return Module._call_impl(self, *args, **kwargs)

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        # Placeholders go into the state dict as themselves (torch's behaviour).
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if (keep_vars or is_lazy(p)) else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if (keep_vars or is_lazy(b)) else b.detach()


def _lazy_load_hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
                    unexpected_keys, error_msgs) -> None:
    """Before loading, give each placeholder the shape of the tensor it will receive."""
    for name, t in itertools.chain(module._parameters.items(), module._buffers.items()):
        key = prefix + name
        if t is None or not is_lazy(t) or key not in state_dict:
            continue
        src = state_dict[key]
        if isinstance(src, Tensor) and not is_lazy(src):
            with no_grad():
                t.materialize(tuple(src.shape))


# --------------------------------------------------------------------------------- linear
class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose ``in_features`` is inferred from the first input's last dim.

    Args:
        out_features; bias; device, dtype.

    Shape:
        ``(*, H_in)`` -> ``(*, out_features)``.

    Example:
        >>> m = nn.LazyLinear(3); m(ember.randn(2, 5)).shape, type(m).__name__
        (torch.Size([2, 3]), 'Linear')
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = int(input.shape[-1])
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()


# ----------------------------------------------------------------------------------- conv
class _LazyConvXdMixin(LazyModuleMixin):
    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _get_in_channels(self, input: Tensor) -> int:
        nb = self._n + 1
        if input.dim() not in (nb, nb + 1):
            raise RuntimeError(f"Expected {nb}D (unbatched) or {nb + 1}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: "
                               f"{list(input.shape)}")
        return int(input.shape[1] if input.dim() == nb + 1 else input.shape[0])

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        self.in_channels = self._get_in_channels(input)
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        with no_grad():
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _lazy_setup(self, out_channels: int, bias: bool, device, dtype) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)


def _lazy_conv(base, n: int):
    class _Lazy(_LazyConvXdMixin, base):
        cls_to_become = base

        def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                     groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                     device=None, dtype=None) -> None:
            super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                             padding_mode)
            self._lazy_setup(out_channels, bias, device, dtype)
    return _Lazy


def _lazy_conv_t(base, n: int):
    class _Lazy(_LazyConvXdMixin, base):
        cls_to_become = base

        def __init__(self, out_channels: int, kernel_size, stride=1, padding=0,
                     output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                     padding_mode: str = "zeros", device=None, dtype=None) -> None:
            super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups,
                             False, dilation, padding_mode)
            self._lazy_setup(out_channels, bias, device, dtype)
    return _Lazy


def _named(cls, name: str, doc: str):
    cls.__name__ = cls.__qualname__ = name
    cls.__doc__ = doc
    return cls


_CONV_DOC = """{base} whose ``in_channels`` is inferred from the first input (dim 1, or dim 0
    when unbatched).

    Args:
        As {base}, without in_channels.

    Shape:
        As {base}.

    Example:
        >>> m = nn.{name}(4, 3); _ = m(ember.randn({shape})); type(m).__name__
        '{base}'
    """

LazyConv1d = _named(_lazy_conv(Conv1d, 1), "LazyConv1d",
                    _CONV_DOC.format(base="Conv1d", name="LazyConv1d", shape="1, 2, 5"))
LazyConv2d = _named(_lazy_conv(Conv2d, 2), "LazyConv2d",
                    _CONV_DOC.format(base="Conv2d", name="LazyConv2d", shape="1, 2, 5, 5"))
LazyConv3d = _named(_lazy_conv(Conv3d, 3), "LazyConv3d",
                    _CONV_DOC.format(base="Conv3d", name="LazyConv3d", shape="1, 2, 4, 4, 4"))
LazyConvTranspose1d = _named(
    _lazy_conv_t(ConvTranspose1d, 1), "LazyConvTranspose1d",
    _CONV_DOC.format(base="ConvTranspose1d", name="LazyConvTranspose1d", shape="1, 2, 5"))
LazyConvTranspose2d = _named(
    _lazy_conv_t(ConvTranspose2d, 2), "LazyConvTranspose2d",
    _CONV_DOC.format(base="ConvTranspose2d", name="LazyConvTranspose2d", shape="1, 2, 5, 5"))
LazyConvTranspose3d = _named(
    _lazy_conv_t(ConvTranspose3d, 3), "LazyConvTranspose3d",
    _CONV_DOC.format(base="ConvTranspose3d", name="LazyConvTranspose3d",
                     shape="1, 2, 3, 3, 3"))


# ------------------------------------------------------------------------------------ norm
class _LazyNormBase(LazyModuleMixin, _NormBase):
    def __init__(self, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        # Built without affine/stats first so that no zero-size tensors are made, then the
        # placeholders are put in.
        super().__init__(0, eps, momentum, False, False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = E.tensor(0, dtype=E.int64, device=device)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        self.num_features = int(input.shape[1])
        with no_grad():
            if self.affine:
                self.weight.materialize((self.num_features,))
                self.bias.materialize((self.num_features,))
            if self.track_running_stats:
                self.running_mean.materialize((self.num_features,))
                self.running_var.materialize((self.num_features,))
            self.reset_parameters()


_NORM_DOC = """{base} whose ``num_features`` is inferred from the first input's dim 1.

    Args:
        eps, momentum, affine, track_running_stats (as {base}).

    Shape:
        As {base}.

    Example:
        >>> m = nn.{name}(); _ = m(ember.randn({shape})); type(m).__name__
        '{base}'
    """


def _lazy_norm(base, name: str, shape: str, instance: bool):
    parent = _InstanceNorm if instance else _BatchNorm
    ns = {"cls_to_become": base, "_check_input_dim": base._check_input_dim}
    if instance:
        ns["_spatial"] = base._spatial
    cls = type(name, (_LazyNormBase, parent), ns)
    cls.__qualname__ = name
    cls.__module__ = __name__
    cls.__doc__ = _NORM_DOC.format(base=base.__name__, name=name, shape=shape)
    return cls


LazyBatchNorm1d = _lazy_norm(BatchNorm1d, "LazyBatchNorm1d", "4, 3", False)
LazyBatchNorm2d = _lazy_norm(BatchNorm2d, "LazyBatchNorm2d", "2, 3, 4, 4", False)
LazyBatchNorm3d = _lazy_norm(BatchNorm3d, "LazyBatchNorm3d", "2, 3, 2, 2, 2", False)
LazyInstanceNorm1d = _lazy_norm(InstanceNorm1d, "LazyInstanceNorm1d", "2, 3, 6", True)
LazyInstanceNorm2d = _lazy_norm(InstanceNorm2d, "LazyInstanceNorm2d", "2, 3, 4, 4", True)
LazyInstanceNorm3d = _lazy_norm(InstanceNorm3d, "LazyInstanceNorm3d", "2, 3, 2, 2, 2", True)
