"""The one caching primitive (:meth:`Store.cached`) and its two relatives, :meth:`Store.lookup` and
:meth:`Store.put`."""
from __future__ import annotations

import time
from typing import Any, Callable

from ..io import config_key
from ..errors import CheckpointError, ConfigError
from .circumstances import CorruptArtifact
from .records import Cached, Computed, fail_status


class CachedResults:
    """Serving, computing and recording results by key (a mixin of :class:`~unlearn_core.store.Store`: uses its
    runs table and artifact files)."""

    def cached(self, kind: str, config: dict, compute: Callable[[], Computed], *, fmt: str,
               decode: Callable[[Any, dict], Any] | None = None, on_log: Callable[[str], None] | None = None,
               cancel: Callable[[], None] | None = None) -> Cached:
        """Serve ``config``'s result from the store, or claim it, ``compute()`` it, save and record it.

        ``fmt`` is the artifact format (``arrays``: dict of numpy arrays; ``model``: an ``nn.Module`` or state
        dict; ``json``; ``table``: a DataFrame). ``decode(payload, meta)`` turns a loaded payload into the value a
        caller expects (e.g. builds the model from a state dict); the computed value is returned as is.
        """
        key = config_key(config)
        while True:
            run = self.done_run(key)
            corrupt = False
            if run is not None:
                try:
                    payload, meta = self.decode(fmt, run)
                    return Cached(decode(payload, meta) if decode else payload, True, run, meta)
                except (CorruptArtifact, CheckpointError) as err:
                    # CheckpointError: the payload decodes but is unusable (NaN or absurd weights, another model's
                    # tensors, forget-set indices out of range): as untrustworthy as a failed checksum.
                    corrupt = True  # re-claimed below even though its row says done
                    if on_log:
                        on_log(f"cached {kind} {key[:10]} is corrupt ({err}); recomputing it")
            token = self.claim(key, kind, config, cancel=cancel, replace=corrupt)
            if token is not None:
                break
        t0 = time.time()
        try:
            out = compute()
            artifacts = self.encode(fmt, kind, key, out.value, out.meta)
        except BaseException as err:
            self.fail(key, token, f"{type(err).__name__}: {err}", fail_status(err))
            raise
        timings = {**out.timings, "total_s": time.time() - t0}
        if not self.finish(key, token, out.metrics, timings, artifacts):
            if on_log:
                on_log(f"{kind} {key[:10]}: another worker took over the claim; its result is kept")
        return Cached(out.value, False, self.get_run(key) or {"key": key}, out.meta)

    def lookup(self, kind: str, config: dict, fmt: str) -> tuple[Any, dict, dict] | None:
        """(payload, meta, run) of a finished, intact result for ``config``; None otherwise (nothing computed)."""
        run = self.done_run(config_key(config))
        if run is None or run["kind"] != kind:
            return None
        try:
            payload, meta = self.decode(fmt, run)
        except CorruptArtifact:
            return None
        return payload, meta, run

    def put(self, kind: str, config: dict, value: Any, *, fmt: str, metrics: dict | None = None,
            timings: dict | None = None, meta: dict | None = None, replace: bool = False,
            config_override: dict | None = None) -> str:
        """Record a result computed outside :meth:`cached` (e.g. one model of a batch trained together).

        ``replace=True`` overwrites a finished result of the same key; ``config_override`` is stored in the row
        instead of ``config`` (which still gives the key), e.g. to note where an imported checkpoint came from.
        """
        key = config_key(config)
        existing = self.done_run(key)
        if existing is not None and not replace:
            try:
                self._read_verified(existing)
                return key  # an intact result is already there
            except CorruptArtifact:
                replace = True  # a corrupt one is overwritten
        token = self.claim(key, kind, config_override or config, wait=False, replace=replace)
        if token is None and replace:
            raise ConfigError(f"{kind} {key[:10]} is being computed by another worker right now; try again later.")
        if token is None:
            return key  # being computed by a live worker, whose result wins
        try:
            artifacts = self.encode(fmt, kind, key, value, meta or {})
        except BaseException as err:
            self.fail(key, token, f"{type(err).__name__}: {err}", fail_status(err))
            raise
        self.finish(key, token, metrics or {}, timings, artifacts)
        return key
