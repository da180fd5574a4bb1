"""The profiler itself: event recording, schedules, averages, torch's table and Chrome traces."""
from __future__ import annotations

import enum
import gzip
import json
import os
import socket
import threading
import time
from contextlib import ContextDecorator
from typing import Any, Callable, Iterable, Optional

from ..ops import registry as _reg

_now = time.perf_counter_ns
_get_ident = threading.get_ident


class ProfilerActivity(enum.Enum):
    """What to profile: host-side op time (CPU) and device kernel time (CUDA, via CuPy)."""

    CPU = 0
    CUDA = 1


class ProfilerAction(enum.Enum):
    """What a :func:`schedule` asks the profiler to do at a step."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities() -> set:
    """The activities this build can profile (CUDA only when CuPy sees a device)."""
    acts = {ProfilerActivity.CPU}
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            acts.add(ProfilerActivity.CUDA)
    except Exception:  # no CuPy, or no driver: CPU only
        pass
    return acts


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0,
             skip_first: int = 0) -> Callable[[int], ProfilerAction]:
    """The step -> action function of ``torch.profiler.schedule``.

    After ``skip_first`` steps, cycles of ``wait`` idle steps, ``warmup`` steps and ``active``
    recorded steps repeat ``repeat`` times (forever when 0); the last active step of a cycle is
    ``RECORD_AND_SAVE``, after which ``on_trace_ready`` is called.
    """
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError("Invalid profiler schedule arguments")

    def fn(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return fn


def _format_time(us: float) -> str:
    # torch's table prints microseconds, switching to ms and s for long times.
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_memory(nbytes: int) -> str:
    kb, mb, gb = 1024, 1024 ** 2, 1024 ** 3
    if abs(nbytes) >= gb:
        return f"{nbytes / gb:.2f} Gb"
    if abs(nbytes) >= mb:
        return f"{nbytes / mb:.2f} Mb"
    if abs(nbytes) >= kb:
        return f"{nbytes / kb:.2f} Kb"
    return f"{nbytes} b"


class FunctionEvent:
    """One profiled op call or :class:`record_function` range.

    Times are microseconds. ``cpu_children`` are the events nested inside this one on the same
    thread; ``self_cpu_time_total`` is the total minus the children's totals.
    """

    def __init__(self, id: int, name: str, thread: int, start_us: float, end_us: float,
                 input_shapes: Optional[list] = None, cpu_memory_usage: Optional[int] = 0,
                 device_time: float = 0.0, is_user_annotation: bool = False) -> None:
        self.id = id
        self.name = name
        self.thread = thread
        self.start_us = start_us
        self.end_us = end_us
        self.input_shapes = input_shapes or []
        self._mem = cpu_memory_usage
        self.device_time = device_time
        self.is_user_annotation = is_user_annotation
        self.cpu_children: list = []
        self.cpu_parent: Optional[FunctionEvent] = None
        self.count = 1
        self.device_type = "cpu"

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return self.end_us - self.start_us

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total

    @property
    def cpu_memory_usage(self) -> int:
        if self._mem is None:
            return sum(c.cpu_memory_usage for c in self.cpu_children)
        return self._mem

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    @property
    def device_time_total(self) -> float:
        return self.device_time + sum(c.device_time_total for c in self.cpu_children)

    @property
    def self_device_time_total(self) -> float:
        return self.device_time

    cuda_time_total = device_time_total
    self_cuda_time_total = self_device_time_total

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_total:.3f}"
                f"us self_cpu_time={self.self_cpu_time_total:.3f}us "
                f"input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one key (op name, optionally with input shapes) added up."""

    def __init__(self, key: str = "", input_shapes: Optional[list] = None) -> None:
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.device_time_total = 0.0
        self.self_device_time_total = 0.0
        self.is_user_annotation = False

    def add(self, ev) -> "FunctionEventAvg":
        if not self.key:
            self.key = ev.key
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        self.cpu_memory_usage += ev.cpu_memory_usage
        self.self_cpu_memory_usage += ev.self_cpu_memory_usage
        self.device_time_total += ev.device_time_total
        self.self_device_time_total += ev.self_device_time_total
        self.is_user_annotation = ev.is_user_annotation
        return self

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def device_time(self) -> float:
        return self.device_time_total / self.count if self.count else 0.0

    @property
    def cuda_time_total(self) -> float:
        return self.device_time_total

    @property
    def self_cuda_time_total(self) -> float:
        return self.self_device_time_total

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}"
                f"us cpu_time={self.cpu_time_total:.3f}us count={self.count} "
                f"input_shapes={self.input_shapes}>")


_SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "count", "cpu_memory_usage",
              "self_cpu_memory_usage", "device_time", "device_time_total",
              "self_device_time_total", "cuda_time_total", "self_cuda_time_total")


class EventList(list):
    """A list of :class:`FunctionEvent` (or of averages) with torch's summaries."""

    def __init__(self, events: Iterable = (), profile_memory: bool = False,
                 with_device: bool = False, group_by_input_shape: bool = False) -> None:
        super().__init__(events)
        self._profile_memory = profile_memory
        self._with_device = with_device
        self._group_by_input_shape = group_by_input_shape

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape: bool = False,
                     group_by_stack_n: int = 0) -> "EventList":
        """One :class:`FunctionEventAvg` per op name (and input shapes, when asked)."""
        groups: dict = {}
        for ev in self:
            shapes = ev.input_shapes if group_by_input_shape else None
            k = (ev.key, str(shapes)) if group_by_input_shape else ev.key
            avg = groups.get(k)
            if avg is None:
                avg = groups[k] = FunctionEventAvg(ev.key, shapes)
            avg.add(ev)
        return EventList(groups.values(), self._profile_memory, self._with_device,
                         group_by_input_shape)

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for ev in self:
            total.add(ev)
        total.key = "Total"
        return total

    def table(self, sort_by: Optional[str] = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: Optional[str] = None,
              top_level_events_only: bool = False) -> str:
        """torch's profiler table: Name, Self CPU %, Self CPU, CPU total %, CPU total, CPU time
        avg, (CUDA and memory columns when profiled), # of Calls, (Input Shapes when grouped).

        Args:
            sort_by: an attribute to sort by, descending (``"cpu_time_total"``,
                ``"self_cpu_time_total"``, ``"count"``, ``"cpu_memory_usage"``, ...); None keeps
                the order of first appearance.
            row_limit: at most this many rows (-1 or 0 for all).
        """
        return _build_table(self, sort_by, row_limit, max_name_column_width,
                            max_shapes_column_width, header, top_level_events_only)

    def export_chrome_trace(self, path: str) -> None:
        _write_chrome_trace(self, path, {})

    def __str__(self) -> str:
        return self.table()


def _build_table(events, sort_by, row_limit, max_name, max_shapes, header, top_level) -> str:
    rows = list(events)
    if top_level:
        rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
    if sort_by is not None:
        if sort_by not in _SORT_KEYS:
            raise AttributeError(f"sort_by must be one of {', '.join(_SORT_KEYS)}; got "
                                 f"{sort_by!r}")
        rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    self_total = sum(e.self_cpu_time_total for e in events) or 1.0
    device_total = sum(e.self_device_time_total for e in events) or 1.0
    if row_limit and row_limit > 0:
        rows = rows[:row_limit]
    with_device = getattr(events, "_with_device", False)
    with_mem = getattr(events, "_profile_memory", False)
    with_shapes = getattr(events, "_group_by_input_shape", False)

    name_w = min(max([len(e.key) for e in rows] + [4]) + 4, max_name)
    cols = [("Name", name_w)]
    num = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if with_device:
        num += ["Self CUDA", "Self CUDA %", "CUDA total", "CUDA time avg"]
    if with_mem:
        num += ["CPU Mem", "Self CPU Mem"]
    num += ["# of Calls"]
    cols += [(n, 12) for n in num]
    if with_shapes:
        cols.append(("Input Shapes", max_shapes))
    sep = "  ".join("-" * w for _, w in cols)

    def fmt_row(cells):
        out = []
        for (title, w), c in zip(cols, cells):
            if title == "Input Shapes":
                out.append(c[:w].ljust(w))
            else:
                out.append(c.rjust(w))
        return "  ".join(out).rstrip()

    lines = []
    if header:
        lines += ["=" * len(sep), header]
    lines += [sep, fmt_row([t for t, _ in cols]), sep]
    for e in rows:
        name = e.key if len(e.key) <= name_w else e.key[:name_w - 3] + "..."
        cells = [name,
                 f"{100.0 * e.self_cpu_time_total / self_total:.2f}%",
                 _format_time(e.self_cpu_time_total),
                 f"{100.0 * e.cpu_time_total / self_total:.2f}%",
                 _format_time(e.cpu_time_total),
                 _format_time(e.cpu_time_total / max(e.count, 1))]
        if with_device:
            cells += [_format_time(e.self_device_time_total),
                      f"{100.0 * e.self_device_time_total / device_total:.2f}%",
                      _format_time(e.device_time_total),
                      _format_time(e.device_time_total / max(e.count, 1))]
        if with_mem:
            cells += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        cells.append(str(e.count))
        if with_shapes:
            cells.append(str(e.input_shapes))
        lines.append(fmt_row(cells))
    lines.append(sep)
    lines.append(f"Self CPU time total: {_format_time(sum(e.self_cpu_time_total for e in events))}")
    if with_device:
        lines.append("Self CUDA time total: "
                     f"{_format_time(sum(e.self_device_time_total for e in events))}")
    return "\n".join(lines) + "\n"


def _write_chrome_trace(events, path: str, metadata: dict, epoch_us: float = 0.0) -> None:
    pid = os.getpid()
    trace = []
    for e in events:
        args: dict = {}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.cpu_memory_usage:
            args["Allocated Bytes"] = e.cpu_memory_usage
        trace.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op",
                      "name": e.name, "pid": pid, "tid": e.thread,
                      "ts": epoch_us + e.start_us, "dur": e.cpu_time_total, "args": args})
        if e.device_time:
            trace.append({"ph": "X", "cat": "kernel", "name": e.name, "pid": pid,
                          "tid": "cuda", "ts": epoch_us + e.start_us, "dur": e.device_time,
                          "args": {}})
    doc = {"schemaVersion": 1, "traceEvents": trace, "displayTimeUnit": "ms"}
    doc.update(metadata)
    text = json.dumps(doc)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        with open(path, "w") as fh:
            fh.write(text)


def _nbytes(out) -> int:
    # Bytes an op allocated: its outputs, except views (they share their input's memory).
    if type(out) is tuple:
        return sum(_nbytes(o) for o in out)
    if getattr(out, "_base", None) is not None:
        return 0
    data = getattr(out, "_data", None)
    return int(getattr(data, "nbytes", 0))


class profile:
    """Profile the ops run inside a ``with`` block (``torch.profiler.profile``).

    Args:
        activities: :class:`ProfilerActivity` values; default CPU (plus CUDA when available).
            CUDA time is measured with CuPy events around ops whose tensors are on a GPU.
        schedule: a step -> :class:`ProfilerAction` function (see :func:`schedule`); each
            :meth:`step` call advances it. Without one, everything in the block is recorded.
        on_trace_ready: called with the profiler when a recorded cycle ends.
        record_shapes: keep each op's input shapes (for ``group_by_input_shape``).
        profile_memory: count the bytes each op allocates for its outputs.
        with_stack, with_flops, with_modules: accepted for compatibility; not recorded.

    Shape:
        Not applicable (it times code, it does not compute).

    Example:
        >>> with ember.profiler.profile(record_shapes=True) as prof:
        ...     with ember.profiler.record_function("model_inference"):
        ...         model(x)
        >>> print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
        >>> prof.export_chrome_trace("trace.json")
    """

    def __init__(self, *, activities: Optional[Iterable[ProfilerActivity]] = None,
                 schedule: Optional[Callable[[int], ProfilerAction]] = None,
                 on_trace_ready: Optional[Callable[["profile"], Any]] = None,
                 record_shapes: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False, experimental_config: Any = None,
                 execution_trace_observer: Any = None, acc_events: bool = False,
                 use_cuda: Optional[bool] = None, enabled: bool = True) -> None:
        acts = set(activities) if activities is not None else supported_activities()
        if use_cuda:
            acts.add(ProfilerActivity.CUDA)
        self.activities = acts
        self._cuda = ProfilerActivity.CUDA in acts
        self._cpu = ProfilerActivity.CPU in acts or self._cuda
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.enabled = enabled
        self.step_num = 0
        self._action = ProfilerAction.RECORD if schedule is None else schedule(0)
        self._raw: list = []
        self._events: Optional[EventList] = None
        self._on = False
        self._prev_profiler = None
        self._prev_small = None
        self._t0 = 0
        self._epoch_us = 0.0
        self._metadata: dict = {}

    # ------------------------------------------------------------------ recording
    def record(self, cls, args, kwargs):
        """Called by ``Primitive.apply`` while profiling: run the op and time it."""
        cuda_pair = None
        if self._cuda:
            cuda_pair = self._cuda_events(args)
        shapes = None
        if self.record_shapes:
            shapes = [list(a.shape) if hasattr(a, "_data") else [] for a in args]
        _reg.PROFILER = None  # the op runs unprofiled (and its own apply must not recurse)
        t0 = _now()
        try:
            if cuda_pair is not None:
                cuda_pair[0].record()
            out = cls.apply(*args, **kwargs)
            if cuda_pair is not None:
                cuda_pair[1].record()
        finally:
            t1 = _now()
            _reg.PROFILER = self
        mem = _nbytes(out) if self.profile_memory else 0
        self._raw.append(("ember::" + cls.op_name, t0, t1, _get_ident(), shapes, mem,
                          cuda_pair, False))
        return out

    def _cuda_events(self, args):
        for a in args:
            dev = getattr(a, "_device", None)
            if dev is not None:
                if dev.type != "cuda":
                    return None
                import cupy
                return (cupy.cuda.Event(), cupy.cuda.Event())
        return None

    def backward_node(self, node, grads: tuple):
        """Called by the autograd engine while profiling: run one backward node, timed as
        torch names it (``autograd::engine::evaluate_function: MulBackward0``); the ops its
        backward runs are recorded as its children."""
        t0 = _now()
        out = node.apply_backward(grads)
        self._add_range("autograd::engine::evaluate_function: " + node.name(), t0, _now(),
                        user=False)
        return out

    def _add_range(self, name: str, t0: int, t1: int, user: bool = True) -> None:
        # mem None: a range's allocations are those of the ops inside it.
        self._raw.append((name, t0, t1, _get_ident(), None, None, None, user))

    def _enable(self) -> None:
        if self._on or not self.enabled:
            return
        from .. import _tensor_methods as tm
        self._prev_profiler = _reg.PROFILER
        _reg.PROFILER = self
        # Small CPU operators skip Primitive.apply for speed; send them through it so that
        # every op is counted (the jit tracer does the same).
        self._prev_small = tm._SMALL
        tm._SMALL = 0
        self._on = True

    def _disable(self) -> None:
        if not self._on:
            return
        from .. import _tensor_methods as tm
        _reg.PROFILER = self._prev_profiler
        tm._SMALL = self._prev_small
        self._on = False

    @staticmethod
    def _recording(action: ProfilerAction) -> bool:
        return action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._t0 = _now()
        self._epoch_us = time.time() * 1e6
        self._raw = []
        self._events = None
        if self._recording(self._action):
            self._enable()

    def stop(self) -> None:
        was_on = self._on
        self._disable()
        if was_on:
            self._finish_cycle()

    def __enter__(self) -> "profile":
        self.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False

    def step(self) -> None:
        """Tell the profiler a training step ended (advances the schedule)."""
        self.step_num += 1
        if self.schedule is None:
            return
        prev = self._action
        self._action = self.schedule(self.step_num)
        if prev is ProfilerAction.RECORD_AND_SAVE:
            self._disable()
            self._finish_cycle()
            self._raw = []
        if self._recording(self._action):
            self._enable()
        else:
            self._disable()

    def _finish_cycle(self) -> None:
        self._events = self._build_events()
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _build_events(self) -> EventList:
        t0 = self._t0
        evs = []
        for i, (name, s, e, tid, shapes, mem, pair, user) in enumerate(self._raw):
            dev_us = 0.0
            if pair is not None:
                pair[1].synchronize()
                import cupy
                dev_us = cupy.cuda.get_elapsed_time(pair[0], pair[1]) * 1e3
            evs.append(FunctionEvent(i, name, tid, (s - t0) / 1e3, (e - t0) / 1e3, shapes,
                                     mem, dev_us, user))
        # Nest events per thread: sorted by start (longest first on ties), an event is a child
        # of the innermost open event that contains it.
        by_thread: dict = {}
        for ev in evs:
            by_thread.setdefault(ev.thread, []).append(ev)
        for lst in by_thread.values():
            lst.sort(key=lambda ev: (ev.start_us, -ev.end_us))
            stack: list = []
            for ev in lst:
                while stack and stack[-1].end_us < ev.end_us:
                    stack.pop()
                if stack:
                    ev.cpu_parent = stack[-1]
                    stack[-1].cpu_children.append(ev)
                stack.append(ev)
        evs.sort(key=lambda ev: ev.start_us)
        return EventList(evs, self.profile_memory, self._cuda)

    # ------------------------------------------------------------------ results
    def events(self) -> EventList:
        """Every recorded event of the last finished cycle."""
        if self._events is None:
            if self._on:
                raise RuntimeError("Profiler didn't finish running")
            self._events = self._build_events()
        return self._events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """Events averaged per op name (``.table(sort_by=...)`` prints them)."""
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("group_by_input_shape needs profile(record_shapes=True)")
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def total_average(self) -> FunctionEventAvg:
        return self.events().total_average()

    @property
    def self_cpu_time_total(self) -> float:
        return self.events().self_cpu_time_total

    def add_metadata(self, key: str, value: str) -> None:
        self._metadata[key] = value

    def add_metadata_json(self, key: str, value: str) -> None:
        self._metadata[key] = json.loads(value)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (gzip when ``path`` ends in ``.gz``)."""
        _write_chrome_trace(self.events(), path, self._metadata, self._epoch_us)


class record_function(ContextDecorator):
    """Label a region of code; the profiler shows it as an event with its ops as children.

    Args:
        name: the label shown in the table and the trace.
        args: an optional string attached to the event (accepted for compatibility).

    Shape:
        Not applicable.

    Example:
        >>> with ember.profiler.profile() as prof:
        ...     with ember.profiler.record_function("forward"):
        ...         y = model(x)
    """

    def __init__(self, name: str, args: Optional[str] = None) -> None:
        self.name = name
        self.args = args
        self._prof = None
        self._t0 = 0

    def __enter__(self) -> "record_function":
        # Only a profile that is recording has installed itself as the registry hook.
        self._prof = _reg.PROFILER
        if self._prof is not None:
            self._t0 = _now()
        return self

    def __exit__(self, *exc) -> bool:
        prof = self._prof
        if prof is not None:
            prof._add_range(self.name, self._t0, _now())
            self._prof = None
        return False


def tensorboard_trace_handler(dir_name: str, worker_name: Optional[str] = None,
                              use_gzip: bool = False) -> Callable[[profile], None]:
    """An ``on_trace_ready`` that writes ``<worker>.<time>.pt.trace.json`` into ``dir_name``
    (the layout TensorBoard's profiler plugin reads)."""
    def handler(prof: profile) -> None:
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json"
        if use_gzip:
            name += ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, name))
    return handler
