"""ember.profiler: per-op CPU (and CUDA) time and call counts, like ``torch.profiler``.

While a :class:`profile` is active, ``ember.ops.registry.PROFILER`` points at it and every
``Primitive.apply`` call is timed as one event named ``ember::<op>`` (torch names its ops
``aten::<op>``). :class:`record_function` adds user-named ranges; an op inside a range is its
child, so a range's *CPU total* includes its ops and its *self CPU* does not.
``key_averages().table(sort_by=...)`` prints torch's table; ``export_chrome_trace`` writes the
JSON that chrome://tracing and Perfetto open.
"""
from __future__ import annotations

from ._profile import (EventList, FunctionEvent, FunctionEventAvg, ProfilerAction,
                       ProfilerActivity, profile, record_function, schedule,
                       supported_activities, tensorboard_trace_handler)

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "tensorboard_trace_handler", "supported_activities", "EventList", "FunctionEvent",
           "FunctionEventAvg"]
