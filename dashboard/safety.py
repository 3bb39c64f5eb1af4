"""What a browser may make the server do: text shown as text, server paths limited to data roots, uploads kept
per session and cleaned up. No Streamlit calls here (tested directly).

- :func:`md_escape`: Streamlit renders ``st.error``/``st.markdown``/``st.toast``/captions as Markdown, so a data-set
  name such as ``npz:![x](http://evil/)`` would make the browser fetch a URL. Every user-supplied string goes
  through this before it is shown (images, links, autolinks, HTML and emphasis all come out as plain text).
- :func:`allowed_roots` / :func:`check_server_path`: a path typed in the browser (npz file, image folder,
  checkpoint, data root) is accepted only inside the configured data roots (``FORGETSET_DATA_ROOT``, several
  separated by ``:``; default ``./data``) and this server's upload folder. The check looks at the path's text
  (resolved) only — it never touches the file — so the answer for ``/etc/shadow`` and for a missing
  ``/nope/x.npz`` is the same sentence: nobody learns which server files exist.
- :func:`session_upload_dir` / :func:`clean_uploads`: an upload is written to ``<cache>/uploads/<session id>/``
  (two sessions uploading ``model.pt`` never collide) and session folders older than
  ``FORGETSET_UPLOAD_TTL_HOURS`` (default 24) are removed.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from unlearn_core.errors import ConfigError
from unlearn_core.limits import check_data_bytes, fmt_bytes

UPLOADS = "uploads"
DEFAULT_TTL_HOURS = 24.0
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=^\"'])")


def md_escape(text) -> str:
    """``text`` as literal Markdown text: every Markdown/HTML metacharacter backslash-escaped (so no image, link,
    autolink, HTML tag, emphasis or math), newlines kept as line breaks."""
    s = _MD_SPECIAL.sub(r"\\\1", str(text))
    # GFM autolinks 'www.x' / 'http://x' even when the punctuation is escaped: break the trigger words with a
    # zero-width joiner so they stay readable but are never turned into links.
    s = re.sub(r"(?i)(www|https?|ftp|mailto|file|data|javascript)(\\:)", "\\1\u200d\\2", s)
    s = re.sub(r"(?i)\bwww\\\.", "www\u200d\\.", s)
    return s.replace("\n", "  \n")


def code_span(text) -> str:
    """``text`` in an inline code span (shown literally); backticks inside are fenced safely."""
    s = str(text).replace("\n", " ")
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


# ---------------------------------------------------------------------------------------------- server paths
def allowed_roots(cache_root: str | os.PathLike) -> list[Path]:
    """Folders whose files the browser may name: the data roots and this server's upload folder."""
    env = os.environ.get("FORGETSET_DATA_ROOT", "").strip()
    roots = [p for p in env.split(os.pathsep) if p.strip()] if env else ["./data"]
    out = [Path(p).expanduser().resolve() for p in roots]
    out.append((Path(cache_root) / UPLOADS).resolve())
    return list(dict.fromkeys(out))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def check_server_path(text: str, cache_root: str | os.PathLike, what: str = "file") -> str:
    """The resolved path if ``text`` lies inside an allowed root; else a ConfigError that does not depend on
    whether the path exists (the check never opens, stats or lists it)."""
    roots = allowed_roots(cache_root)
    raw = str(text or "").strip()
    where = ", ".join(str(r) for r in roots)
    if not raw or "\x00" in raw:
        raise ConfigError(f"Enter the path of a {what} under the data root ({where}).")
    p = Path(raw).expanduser()
    if not p.is_absolute():
        p = roots[0] / p  # relative paths are relative to the (first) data root
    # os.path.realpath resolves symbolic links that exist, so a link inside a root pointing outside is refused;
    # for a path that does not exist it only normalises the text (no error either way).
    resolved = Path(os.path.realpath(p))
    if not any(_inside(resolved, r) for r in roots):
        raise ConfigError(f"Only {what}s under the data root can be used from the browser ({where}). Put the "
                          f"{what} there, or set FORGETSET_DATA_ROOT when starting the server.")
    return str(resolved)


def check_dataset_name(name: str, cache_root: str | os.PathLike) -> str:
    """A data-set name from the browser: a registered name, or npz:/folder: with a path inside the allowed roots
    (returned with the resolved path)."""
    from unlearn_core.data import DATASETS

    name = str(name or "").strip()
    if name.startswith(("npz:", "folder:")):
        kind, path = name.split(":", 1)
        return f"{kind}:{check_server_path(path, cache_root, 'npz file' if kind == 'npz' else 'image folder')}"
    if name not in DATASETS:
        raise ConfigError(f"Unknown data set {name[:60]!r}. Known: {', '.join(DATASETS)}, npz:PATH, folder:PATH.")
    return name


# ---------------------------------------------------------------------------------------------- uploads
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    base = Path(str(name)).name
    base = _SAFE_NAME.sub("_", base).lstrip(".") or "upload"
    return base[:120]


def session_upload_dir(cache_root: str | os.PathLike, session_id: str) -> Path:
    sid = _SAFE_NAME.sub("", str(session_id))[:40] or "anon"
    d = Path(cache_root) / UPLOADS / sid
    d.mkdir(parents=True, exist_ok=True)
    return d


def ttl_seconds() -> float:
    try:
        return 3600.0 * float(os.environ.get("FORGETSET_UPLOAD_TTL_HOURS", DEFAULT_TTL_HOURS))
    except ValueError:
        return 3600.0 * DEFAULT_TTL_HOURS


def clean_uploads(cache_root: str | os.PathLike, ttl_s: float | None = None, now: float | None = None,
                  keep: str | None = None) -> list[str]:
    """Remove per-session upload folders not touched for ``ttl_s`` seconds (except ``keep``); returns their names."""
    ttl_s = ttl_seconds() if ttl_s is None else ttl_s
    now = time.time() if now is None else now
    base = Path(cache_root) / UPLOADS
    removed = []
    if not base.is_dir():
        return removed
    for d in base.iterdir():
        if not d.is_dir() or d.name == keep:
            continue
        try:
            newest = max([d.stat().st_mtime] + [f.stat().st_mtime for f in d.iterdir()])
        except OSError:
            continue
        if now - newest > ttl_s:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


def save_upload(cache_root: str | os.PathLike, session_id: str, filename: str, data: bytes) -> str:
    """Write an uploaded file into the session's folder (old sessions' folders are cleaned first)."""
    check_data_bytes(f"The upload '{safe_filename(filename)}'", len(data))  # what reading it would allocate
    clean_uploads(cache_root, keep=_SAFE_NAME.sub("", str(session_id))[:40])
    dest = session_upload_dir(cache_root, session_id) / safe_filename(filename)
    tmp = dest.with_name(dest.name + ".part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        free = shutil.disk_usage(dest.parent).free if dest.parent.exists() else 0
        raise ConfigError(f"The upload ({fmt_bytes(len(data))}) cannot be stored on the server "
                          f"({err.strerror or err}; {fmt_bytes(free)} free). Free some space or ask the server's "
                          f"owner.") from None
    return str(dest)
