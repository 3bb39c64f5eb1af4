"""The trainer's memory format per model and device, chosen by measurement (channels_last vs contiguous).

channels_last is faster for conv nets on CUDA (tensor-core convs) and, measured on this project's 2-core AVX2 CPU,
1.3-1.4× faster for the small CNN's training step (oneDNN's NHWC kernels); on other CPUs and models it can be slower.
So on a CPU the choice is measured: a few training steps of the model in both formats, interleaved (so a burst of
load hits both), the median of the paired time ratios; channels_last when it is at least ``MIN_SPEEDUP`` faster.

The two formats give results equal only to float tolerance (other kernels, other summation order), and a
load-dependent timing must not decide which bytes a cache holds: so the choice is made **once per machine** and
kept in a small JSON file (``FORGETSET_CALIBRATION_DIR``, default ``~/.cache/forgetset``), keyed by model, input
shape, device (CPU model name), torch version and thread count. The first process to write a key wins (an exclusive
create); every later process, worker or run reads the same answer, so runs on one machine are bit-identical.
``FORGETSET_MEMORY_FORMAT=channels_last|contiguous`` overrides the measurement.
"""
from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .io import config_key

MIN_SPEEDUP = 1.05  # channels_last only when clearly faster
CALIBRATION_BATCH = 64
CALIBRATION_ROUNDS = 7
FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}

_LOCK = threading.Lock()
_CHOSEN: dict[str, str] = {}
LAST_MEASUREMENT: dict[str, float] = {}  # key -> measured speed-up of channels_last (for benchmarks)


def calibration_dir() -> Path:
    return Path(os.environ.get("FORGETSET_CALIBRATION_DIR") or Path.home() / ".cache" / "forgetset")


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), so a cached choice never moves to another machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    """The GPU's name on CUDA, else the CPU's model name: what a per-machine measurement is keyed by."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


def has_conv(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def format_key(model_name: str, in_shape, num_classes: int, device: torch.device,
               probe: torch.nn.Module | None = None) -> str:
    """Model (name and, when given, a hash of its architecture), input, device, torch version, threads."""
    where = device_name(device)
    arch = config_key({"architecture": repr(probe)})[:12] if probe is not None else ""
    return "|".join(map(str, (model_name, arch, tuple(in_shape), int(num_classes), device.type, where,
                              torch.__version__, torch.get_num_threads())))


def _file() -> Path:
    return calibration_dir() / "memory_format.json"


def _read_all() -> dict[str, str]:
    try:
        return dict(json.loads(_file().read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def _persist(key: str, choice: str) -> str:
    """Record ``choice`` for ``key`` unless another process did first; returns the recorded choice."""
    folder = calibration_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = folder / "memory_format.lock"
        for _ in range(200):  # a tiny critical section guarded by an exclusive lock file
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                if time.time() - lock.stat().st_mtime > 30:  # a crashed writer's lock
                    lock.unlink(missing_ok=True)
                time.sleep(0.05)
        else:
            return choice
        try:
            data = _read_all()
            if key in data:
                return data[key]
            data[key] = choice
            tmp = folder / f"memory_format.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, _file())
            return choice
        finally:
            os.close(fd)
            lock.unlink(missing_ok=True)
    except OSError:
        return choice


def measure_speedup(build, in_shape, num_classes: int, device: torch.device, batch: int = CALIBRATION_BATCH,
                    rounds: int = CALIBRATION_ROUNDS) -> float:
    """Median over ``rounds`` of t(contiguous step) / t(channels_last step), steps interleaved, same data."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *in_shape, generator=gen).to(device)
    y = torch.randint(0, int(num_classes), (batch,), generator=gen).to(device)
    runs = {}
    for name, fmt in FORMATS.items():
        model = build().to(device).to(memory_format=fmt).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        runs[name] = (model, opt, x.contiguous(memory_format=fmt))

    def step(name: str) -> float:
        model, opt, xb = runs[name]
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    step("contiguous"), step("channels_last")  # warm-up: allocations, kernel selection
    ratios = []
    for r in range(rounds):
        order = ("contiguous", "channels_last") if r % 2 == 0 else ("channels_last", "contiguous")
        t = {name: step(name) for name in order}
        ratios.append(t["contiguous"] / max(t["channels_last"], 1e-9))
    ratios.sort()
    return float(ratios[len(ratios) // 2])


def choose_memory_format(model_name: str, build, in_shape, num_classes: int, device: torch.device,
                         probe: torch.nn.Module | None = None) -> torch.memory_format:
    """channels_last or contiguous for ``model_name`` on ``device`` (see the module docstring). ``build()`` makes a
    fresh model for the measurement; ``probe`` (a model already built) says whether it has convolutions at all."""
    forced = os.environ.get("FORGETSET_MEMORY_FORMAT", "").strip().lower()
    if forced in FORMATS:
        return FORMATS[forced]
    if probe is not None and not has_conv(probe):
        return torch.contiguous_format
    if device.type == "cuda":
        return torch.channels_last
    key = format_key(model_name, in_shape, num_classes, device, probe)
    with _LOCK:
        if key not in _CHOSEN:
            stored = _read_all().get(key)
            if stored not in FORMATS:
                speedup = measure_speedup(build, in_shape, num_classes, device)
                LAST_MEASUREMENT[key] = speedup
                stored = _persist(key, "channels_last" if speedup >= MIN_SPEEDUP else "contiguous")
            _CHOSEN[key] = stored
        return FORMATS[_CHOSEN[key]]


def input_format(model: torch.nn.Module) -> torch.memory_format | None:
    """The memory format a batch should have for ``model`` (channels_last when its first conv's weight is)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            return torch.channels_last if m.weight.is_contiguous(memory_format=torch.channels_last) \
                and not m.weight.is_contiguous() else None
    return None


# Evaluation batch (forward passes only). Measured on one thread of this project's CPU (benchmarks/bench_perf.py
# section 0, eval throughput): the small CNN evaluates 2,213 (28×28×1) / 5,185 (32×32×3) images/s in batches of
# 256 vs 1,117 / 2,661 in batches of 2048 (the activations of a large batch leave the cache), while the MLP is
# fastest at 2048 (126k vs 111k images/s). The logits of other batch sizes differ only by float rounding (≤ 1e-7 here:
# oneDNN picks kernels by batch shape) and a given batch size repeats bit for bit (tests/test_kernels.py). CUDA
# keeps large batches.
EVAL_BATCH_CONV_CPU = 256
EVAL_BATCH_DEFAULT = 2048


def eval_batch_size(model: torch.nn.Module, device: torch.device) -> int:
    """The forward-pass batch for evaluation of ``model`` on ``device`` (see the measurement above)."""
    if device.type != "cuda" and has_conv(model):
        return EVAL_BATCH_CONV_CPU
    return EVAL_BATCH_DEFAULT
