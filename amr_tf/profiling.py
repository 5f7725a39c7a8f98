"""Where a train step's time goes: a TensorFlow profiler trace and its top ops by self time.

`python -m amr_tf.bench --profile=DIR` writes the trace of a few timed steps under DIR (open it
with TensorBoard's profile plugin, or read it here) and prints `op_table`'s rows: each op type's
time per step on TensorFlow's inter-op threads, its calls per step and its share of all op time,
and the same summed by kind (convolutions forward / backward, oneDNN layout reorders, instance
norm, LeakyReLU, spectral norm, concat and slicing, the generator's cond, the rest).

Self time: an op event's duration less that of the events nested in it on the same thread
(kernels are leaves, so an op's self time is its wall time on the thread that ran it, including
the intra-op threads it waited for). With two inter-op threads, ops overlap: the shares are of
the summed op time, and `wall_ms` beside them is the step's own time.
"""

import collections
import glob
import os
import re

# (kind, test on (op type, op name)): the first that matches names the op's kind.
KINDS = (
    ("oneDNN reorder", lambda t, n: "ToTf" in t or "Reorder" in t or t in ("_MklToTf", "Transpose")),
    ("conv backprop filter", lambda t, n: "Conv2DBackpropFilter" in t),
    ("conv backprop input", lambda t, n: "Conv2DBackpropInput" in t),
    ("conv forward", lambda t, n: "Conv2D" in t),
    ("spectral norm", lambda t, n: "spectral_norm" in n or "power_iteration" in n),
    ("instance norm", lambda t, n: "group_normalization" in n or "instance_norm" in n),
    ("LeakyReLU", lambda t, n: t.startswith("LeakyRelu")),
    ("norm + activation (XLA)", lambda t, n: t == "XLA fusion"),
    ("pooling / upsampling", lambda t, n: "Pool" in t or "Resize" in t or "up_sampling" in n),
    ("concat / slice / gather", lambda t, n: t in ("ConcatV2", "Concat", "StridedSlice", "StridedSliceGrad", "Slice",
                                                 "GatherV2", "Gather", "Tile", "Pack", "Unpack", "Split", "SplitV")),
    ("cond / control", lambda t, n: t in ("If", "StatelessIf", "Switch", "Merge", "Identity", "NoOp")),
    ("optimizer", lambda t, n: "Apply" in t or "AssignSub" in t or "AssignAdd" in t or "adam" in n.lower()),
)
# A TensorFlow op event is "op/name:OpType"; the runtime's own events ("ExecutorState::Process",
# "EagerLocalExecute: __inference_...", "ThreadpoolListener::Record") are not.
_OP_EVENT = re.compile(r"^[\w./\-]+:[\w]+$")
# A loop of an XLA computation (the fused norm and activation ops) is an event named after what
# XLA fused into it ("subtract_multiply_fusion", "convert_reduce_fusion.2"): counted as op type
# "XLA fusion".
_XLA_EVENT = re.compile(r"^[a-z0-9_]+_fusion(\.\d+)?$")


def kind_of(op_type, op_name):
    """The kind (one of KINDS' names, or "other") of an op by its type and name."""
    for kind, test in KINDS:
        if test(op_type, op_name):
            return kind
    return "other"


def latest_xplane(directory):
    """The newest `*.xplane.pb` under `directory` (where tf.profiler writes it)."""
    paths = glob.glob(os.path.join(directory, "plugins", "profile", "*", "*.xplane.pb"))
    if not paths:
        raise ValueError(f"no profiler trace (*.xplane.pb) under {directory}")
    return max(paths, key=os.path.getmtime)


def op_events(path):
    """[(op name, op type, self time in ms)] of every TensorFlow op event in the trace at `path`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    out = []
    for plane in space.planes:
        for line in plane.lines:
            events = sorted(((e.offset_ps, e.offset_ps + e.duration_ps, plane.event_metadata[e.metadata_id].name)
                             for e in line.events), key=lambda e: (e[0], -e[1]))
            stack = []  # [end, name, duration, children's time]

            def close(entry):
                end, name, duration, children = entry
                if _OP_EVENT.match(name) and "::" not in name:
                    op_name, op_type = name.rsplit(":", 1)
                    out.append((op_name, op_type, max(duration - children, 0) / 1e9))
                elif _XLA_EVENT.match(name):
                    out.append((name, "XLA fusion", max(duration - children, 0) / 1e9))
                if stack:
                    stack[-1][3] += duration

            for start, end, name in events:
                while stack and stack[-1][0] <= start:
                    close(stack.pop())
                stack.append([end, name, end - start, 0])
            while stack:
                close(stack.pop())
    return out


def op_table(events, steps, top=15):
    """(by op type, by kind) rows {name, ms_per_step, calls_per_step, share}, largest first."""
    total = sum(ms for _, _, ms in events) or 1.0
    by_type, by_kind = collections.defaultdict(lambda: [0.0, 0]), collections.defaultdict(lambda: [0.0, 0])
    for name, op_type, ms in events:
        for table, key in ((by_type, op_type), (by_kind, kind_of(op_type, name))):
            table[key][0] += ms
            table[key][1] += 1

    def rows(table, limit):
        ordered = sorted(table.items(), key=lambda kv: -kv[1][0])[:limit]
        return [{"name": key, "ms_per_step": ms / steps, "calls_per_step": calls / steps, "share": ms / total}
                for key, (ms, calls) in ordered]

    return rows(by_type, top), rows(by_kind, len(KINDS) + 1)


def format_table(type_rows, kind_rows, wall_ms):
    """The two tables as text (Markdown), with the step's wall time."""
    lines = [f"step wall time {wall_ms:.1f} ms; op self time summed over threads "
             f"{sum(r['ms_per_step'] for r in kind_rows):.1f} ms", "",
             "| kind | ms/step | share |", "|---|---|---|"]
    lines += [f"| {r['name']} | {r['ms_per_step']:.1f} | {100 * r['share']:.1f}% |" for r in kind_rows]
    lines += ["", "| op type | ms/step | calls/step | share |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['ms_per_step']:.1f} | {r['calls_per_step']:.1f} | {100 * r['share']:.1f}% |"
              for r in type_rows]
    return "\n".join(lines)
