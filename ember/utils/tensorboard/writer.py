"""SummaryWriter: torch.utils.tensorboard's writer over tensorboardX, for ember tensors."""
from __future__ import annotations

import sys
from typing import Any, Optional, Union

import numpy as np

_TBX = None


def _tensorboardx():
    """Import tensorboardX without letting it import PyTorch.

    tensorboardX tries ``import torch`` at import time to accept torch tensors; ember must not
    load PyTorch (it is slow, and under ``ember run`` the name means ember). While it imports,
    ``sys.modules["torch"] = None`` makes that attempt fail, which tensorboardX handles.
    """
    global _TBX
    if _TBX is not None:
        return _TBX
    blocked = "torch" not in sys.modules
    if blocked:
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import tensorboardX
    except ImportError as e:
        raise ImportError("ember.utils.tensorboard needs the tensorboardX package: "
                          "pip install tensorboardX (or ember[tensorboard])") from e
    finally:
        if blocked and sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    _TBX = tensorboardX
    return tensorboardX


def _is_tensor(x) -> bool:
    from ...tensor import Tensor
    return isinstance(x, Tensor)


def _np(x):
    """An ember Tensor (or list of them) as a NumPy array; anything else unchanged."""
    if _is_tensor(x):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)) and x and all(_is_tensor(t) for t in x):
        return np.stack([_np(t) for t in x])
    return x


def _scalar(x):
    # A Python number for a scalar Tensor or NumPy scalar (TensorBoard stores plain floats).
    if _is_tensor(x):
        return x.item()
    if isinstance(x, np.generic):
        return x.item()
    return x


class SummaryWriter:
    """Writes TensorBoard event files (``torch.utils.tensorboard.SummaryWriter``).

    Args:
        log_dir: where to write; default ``runs/<date>_<host><comment>``.
        comment: suffix of the default ``log_dir``.
        purge_step: drop events at or after this step left by a crashed run.
        max_queue: events kept in memory before a write.
        flush_secs: seconds between flushes to disk.
        filename_suffix: suffix of the event file name.

    Shape:
        ``add_image``: ``(C, H, W)`` by default (``dataformats="HWC"``, ``"HW"`` ... also);
        ``add_images``: ``(N, C, H, W)``; ``add_embedding``: ``mat`` is ``(N, D)``,
        ``label_img`` ``(N, C, H, W)``. Float images are in [0, 1], uint8 ones in [0, 255].

    Example:
        >>> writer = SummaryWriter("runs/exp1")
        >>> for step in range(100):
        ...     writer.add_scalar("loss/train", loss.item(), step)
        >>> writer.add_graph(model, example_input)
        >>> writer.close()
    """

    def __init__(self, log_dir: Optional[str] = None, comment: str = "",
                 purge_step: Optional[int] = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        tbx = _tensorboardx()
        self._w = tbx.SummaryWriter(logdir=log_dir, comment=comment, purge_step=purge_step,
                                    max_queue=max_queue, flush_secs=flush_secs,
                                    filename_suffix=filename_suffix)
        self.log_dir = self._w.logdir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix

    def get_logdir(self) -> str:
        """The directory the event files go to."""
        return self.log_dir

    def _get_file_writer(self):
        return self._w._get_file_writer()

    # ------------------------------------------------------------------ scalars
    def add_scalar(self, tag: str, scalar_value: Any, global_step: Optional[int] = None,
                   walltime: Optional[float] = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """Log one number (a Python number or a one-element Tensor) under ``tag``."""
        self._w.add_scalar(tag, float(_scalar(scalar_value)), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict,
                    global_step: Optional[int] = None, walltime: Optional[float] = None) -> None:
        """Several curves in one chart; each is its own run, ``<log_dir>/<main_tag>/<tag>``
        (tensorboardX's layout; torch's writer names it ``<main_tag>_<tag>``)."""
        values = {k: float(_scalar(v)) for k, v in tag_scalar_dict.items()}
        self._w.add_scalars(main_tag, values, global_step, walltime)

    # ------------------------------------------------------------------ tensors
    def add_histogram(self, tag: str, values: Any, global_step: Optional[int] = None,
                      bins: Union[str, int, np.ndarray] = "tensorflow",
                      walltime: Optional[float] = None, max_bins: Optional[int] = None) -> None:
        """A histogram of a Tensor's values (``bins`` as ``numpy.histogram`` or
        ``"tensorflow"`` for TensorFlow's exponential buckets)."""
        self._w.add_histogram(tag, np.asarray(_np(values)), global_step, bins, walltime,
                              max_bins)

    def add_histogram_raw(self, tag: str, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step: Optional[int] = None,
                          walltime: Optional[float] = None) -> None:
        """A histogram from precomputed statistics and buckets."""
        self._w.add_histogram_raw(tag, _scalar(min), _scalar(max), _scalar(num), _scalar(sum),
                                  _scalar(sum_squares), _np(bucket_limits),
                                  _np(bucket_counts), global_step, walltime)

    def add_image(self, tag: str, img_tensor: Any, global_step: Optional[int] = None,
                  walltime: Optional[float] = None, dataformats: str = "CHW") -> None:
        """One image: ``(C, H, W)`` by default; ``dataformats`` may be ``"HWC"``, ``"HW"``..."""
        self._w.add_image(tag, np.asarray(_np(img_tensor)), global_step, walltime,
                          dataformats)

    def add_images(self, tag: str, img_tensor: Any, global_step: Optional[int] = None,
                   walltime: Optional[float] = None, dataformats: str = "NCHW") -> None:
        """A batch of images shown as one grid: ``(N, C, H, W)`` by default."""
        self._w.add_images(tag, np.asarray(_np(img_tensor)), global_step, walltime,
                           dataformats)

    def add_image_with_boxes(self, tag: str, img_tensor: Any, box_tensor: Any,
                             global_step: Optional[int] = None,
                             walltime: Optional[float] = None, rescale: int = 1,
                             dataformats: str = "CHW", labels: Optional[list] = None) -> None:
        """An image with rectangles ``(N, 4)`` as ``(xmin, ymin, xmax, ymax)`` drawn on it."""
        self._w.add_image_with_boxes(tag, np.asarray(_np(img_tensor)),
                                     np.asarray(_np(box_tensor)), global_step=global_step,
                                     walltime=walltime, dataformats=dataformats,
                                     labels=labels, rescale=rescale)

    def add_figure(self, tag: str, figure: Any, global_step: Optional[int] = None,
                   close: bool = True, walltime: Optional[float] = None) -> None:
        """A matplotlib figure (or a list of them), rendered to an image."""
        self._w.add_figure(tag, figure, global_step, close, walltime)

    def add_video(self, tag: str, vid_tensor: Any, global_step: Optional[int] = None,
                  fps: Union[int, float] = 4, walltime: Optional[float] = None) -> None:
        """A video ``(N, T, C, H, W)`` (needs moviepy, as in torch)."""
        self._w.add_video(tag, np.asarray(_np(vid_tensor)), global_step=global_step, fps=fps,
                          walltime=walltime)

    def add_audio(self, tag: str, snd_tensor: Any, global_step: Optional[int] = None,
                  sample_rate: int = 44100, walltime: Optional[float] = None) -> None:
        """A clip of audio ``(1, L)`` with values in [-1, 1]."""
        self._w.add_audio(tag, np.asarray(_np(snd_tensor)), global_step, sample_rate, walltime)

    def add_text(self, tag: str, text_string: str, global_step: Optional[int] = None,
                 walltime: Optional[float] = None) -> None:
        """Text (Markdown) under ``tag``."""
        self._w.add_text(tag, text_string, global_step, walltime)

    def add_pr_curve(self, tag: str, labels: Any, predictions: Any,
                     global_step: Optional[int] = None, num_thresholds: int = 127,
                     weights: Any = None, walltime: Optional[float] = None) -> None:
        """A precision-recall curve from binary labels and predicted probabilities."""
        self._w.add_pr_curve(tag, np.asarray(_np(labels)), np.asarray(_np(predictions)),
                             global_step, num_thresholds, _np(weights), walltime)

    def add_mesh(self, tag: str, vertices: Any, colors: Any = None, faces: Any = None,
                 config_dict: Optional[dict] = None, global_step: Optional[int] = None,
                 walltime: Optional[float] = None) -> None:
        """A 3-D point cloud or mesh: ``vertices`` ``(B, N, 3)``."""
        self._w.add_mesh(tag, _np(vertices), _np(colors), _np(faces), config_dict,
                         global_step, walltime)

    def add_custom_scalars(self, layout: dict) -> None:
        """Group scalar tags into charts of the Custom Scalars dashboard."""
        self._w.add_custom_scalars(layout)

    # ------------------------------------------------------------------ structure
    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """The model's graph, recorded by ``ember.jit``'s tracer on ``input_to_model``.

        Ops are grouped by module (``Net/Linear[fc1]``) as in torch's graph view; parameters
        are nodes named by their ``state_dict`` key.
        """
        from ._graph import graph_def
        gd = graph_def(model, input_to_model, verbose)
        self._get_file_writer().add_onnx_graph(gd)

    def add_hparams(self, hparam_dict: dict, metric_dict: dict,
                    hparam_domain_discrete: Optional[dict] = None,
                    run_name: Optional[str] = None,
                    global_step: Optional[int] = None) -> None:
        """Hyperparameters and the metrics they gave, for the HParams dashboard.

        Args:
            hparam_dict: name -> bool/str/int/float (or a one-element Tensor).
            metric_dict: name -> number; also logged as scalars of the hparams run.
            hparam_domain_discrete: accepted for torch compatibility (not written).
            run_name: the sub-run directory (default: the current time).
        """
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        hp = {k: _scalar(v) for k, v in hparam_dict.items()}
        metrics = {k: float(_scalar(v)) for k, v in metric_dict.items()}
        self._w.add_hparams(hp, metrics, name=run_name, global_step=global_step)

    def add_embedding(self, mat: Any, metadata: Optional[list] = None, label_img: Any = None,
                      global_step: Optional[int] = None, tag: str = "default",
                      metadata_header: Optional[list] = None) -> None:
        """Points for the Projector: ``mat`` ``(N, D)``, optional labels and thumbnails."""
        mat = np.asarray(_np(mat))
        if mat.ndim != 2:
            raise ValueError(f"add_embedding expects a 2-D mat (N, D), got shape "
                             f"{list(mat.shape)}")
        img = _np(label_img)
        if img is not None:
            img = np.asarray(img)
        self._w.add_embedding(mat, metadata, img, global_step, tag, metadata_header)

    # ------------------------------------------------------------------ lifetime
    def flush(self) -> None:
        """Write pending events to disk."""
        self._w.flush()

    def close(self) -> None:
        """Flush and close the event files."""
        self._w.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
