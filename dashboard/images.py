"""Pictures of samples for the pages: upscaled thumbnails, mosaics with gaps, PNG data URIs (no computation)."""
from __future__ import annotations

import base64
import io

import numpy as np


def thumbnails(ds, idx, size: int = 64, split: str = "train") -> list[np.ndarray]:
    """uint8 images upscaled (nearest neighbour) to about ``size`` pixels, HWC (gray as HxW)."""
    imgs = ds.images_hwc(split, np.asarray(idx, dtype=np.int64))
    out = []
    for im in imgs:
        h = im.shape[0]
        f = max(1, int(round(size / max(h, 1))))
        big = im.repeat(f, 0).repeat(f, 1)
        out.append(big[:, :, 0] if big.shape[2] == 1 else big)
    return out


def png_data_uri(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_mosaic(ds, idx, ncols: int = 12, size: int = 48, pad: int = 2, split: str = "train") -> np.ndarray:
    """One RGB picture holding the given samples in a grid (white gaps)."""
    thumbs = thumbnails(ds, idx, size, split)
    if not thumbs:
        return np.full((size, size, 3), 255, np.uint8)
    thumbs = [np.stack([t] * 3, -1) if t.ndim == 2 else t for t in thumbs]
    h, w = thumbs[0].shape[:2]
    nrows = (len(thumbs) + ncols - 1) // ncols
    ncols = min(ncols, len(thumbs))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
    for i, t in enumerate(thumbs):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = t
    return out
