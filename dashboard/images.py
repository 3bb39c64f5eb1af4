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


def image_mosaic(ds, idx, ncols: int = 12, size: int = 48, pad: int = 6, split: str = "train",
                 labels: list[str] | None = None) -> np.ndarray:
    """One RGB picture holding the given samples in a grid, with white gaps between them and, when ``labels`` are
    given, a short caption (e.g. '#12 7') printed under each image (PIL's built-in bitmap font: works offline)."""
    thumbs = thumbnails(ds, idx, size, split)
    if not thumbs:
        return np.full((size, size, 3), 255, np.uint8)
    thumbs = [np.stack([t] * 3, -1) if t.ndim == 2 else t for t in thumbs]
    h, w = thumbs[0].shape[:2]
    ncols = max(1, min(ncols, len(thumbs)))
    nrows = (len(thumbs) + ncols - 1) // ncols
    font = _font(11) if labels is not None else None
    text_h = 14 if labels is not None else 0
    cell_w = max(w, max((_text_width(font, str(t)) for t in labels), default=0) + 4) if labels is not None else w
    out = np.full((nrows * (h + text_h + pad) + pad, ncols * (cell_w + pad) + pad, 3), 255, np.uint8)
    for i, t in enumerate(thumbs):
        r, c = divmod(i, ncols)
        y0, x0 = pad + r * (h + text_h + pad), pad + c * (cell_w + pad) + (cell_w - w) // 2
        out[y0:y0 + h, x0:x0 + w] = t
    if labels is not None:
        from PIL import Image, ImageDraw

        img = Image.fromarray(out)
        draw = ImageDraw.Draw(img)
        for i, text in enumerate(labels[:len(thumbs)]):
            r, c = divmod(i, ncols)
            tw = _text_width(font, str(text))
            x = pad + c * (cell_w + pad) + max(0, (cell_w - tw) / 2)
            draw.text((x, pad + r * (h + text_h + pad) + h + 1), str(text), fill=(30, 30, 30), font=font)
        out = np.asarray(img)
    return out


def _font(size: int):
    """PIL's built-in font at ``size`` px (a scalable one in Pillow >= 10.1; the old bitmap font otherwise)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def _text_width(font, text: str) -> int:
    from PIL import Image, ImageDraw

    return int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)) + 1


def app_icon(size: int = 64):
    """The page icon, drawn here (no font or CDN): a 4×4 grid of samples, the hardest-to-forget ones in vermillion."""
    from .style import OKABE_ITO

    def rgb(h: str) -> tuple[int, int, int]:
        return tuple(int(h.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))

    img = np.full((size, size, 3), 255, np.uint8)
    cell = size // 4
    hard = {(0, 3), (1, 2), (3, 1)}
    for r in range(4):
        for c in range(4):
            col = rgb(OKABE_ITO["vermillion"] if (r, c) in hard else OKABE_ITO["blue"])
            m = max(2, cell // 6)
            img[r * cell + m:(r + 1) * cell - m, c * cell + m:(c + 1) * cell - m] = col
    from PIL import Image

    return Image.fromarray(img)  # a PIL image (st.set_page_config does not take a numpy array)
