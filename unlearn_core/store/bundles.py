"""Moving finished runs between stores: a verified bundle of rows and artifact bytes (e.g. results a cluster
worker computed in its own store, shipped back to the driver's)."""
from __future__ import annotations

from ..io import config_key
from ..errors import ConfigError
from ..io import atomic_write_bytes, sha256_bytes
from .circumstances import CorruptArtifact


class Bundles:
    """Export and import of finished runs (a mixin of :class:`~unlearn_core.store.Store`)."""

    def export_runs(self, keys: list[str]) -> dict:
        """A self-contained bundle of finished runs (rows + artifact bytes, verified) to import elsewhere, e.g.
        results a cluster worker computed in its own store, shipped back to the driver's."""
        runs, blobs = [], {}
        for key in keys:
            run = self.done_run(key)
            if run is None:
                raise ConfigError(f"Cannot export run {key[:10]}: it is not finished.")
            for name, rec in (run.get("artifacts") or {}).items():
                blobs[rec["file"]] = self._read_verified(run, name)
            runs.append({k: run[k] for k in ("key", "kind", "config", "metrics", "timings", "artifacts", "created",
                                              "finished")})
        return {"format": "forgetset-runs/1", "runs": runs, "artifacts": blobs}

    def import_runs(self, bundle: dict) -> int:
        """Add a bundle's runs to this store (atomic per run, checksums verified; intact local results are kept).
        Returns the number of runs imported."""
        if not isinstance(bundle, dict) or bundle.get("format") != "forgetset-runs/1":
            raise ConfigError("Not a forgetset run bundle.")
        n = 0
        for run in bundle["runs"]:
            key = run["key"]
            if config_key(run["config"]) != key and run["kind"] != "original":
                raise CorruptArtifact(f"bundle run {key[:10]}: its key does not match its configuration")
            local = self.done_run(key)
            if local is not None:
                try:
                    self._read_verified(local)
                    continue
                except CorruptArtifact:
                    pass
            token = self.claim(key, run["kind"], run["config"], wait=False, replace=local is not None)
            if token is None:
                continue  # a live local worker is computing it; its result wins
            try:
                for name, rec in (run.get("artifacts") or {}).items():
                    data = bundle["artifacts"][rec["file"]]
                    if sha256_bytes(data) != rec["sha256"]:
                        raise CorruptArtifact(f"bundle artifact {rec['file']} fails its checksum")
                    atomic_write_bytes(self.root / rec["file"], data)
            except BaseException as err:
                self.fail(key, token, f"{type(err).__name__}: {err}")
                raise
            self.finish(key, token, run.get("metrics") or {}, run.get("timings"), run.get("artifacts"))
            n += 1
        return n
