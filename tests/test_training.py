"""The trainer: reproducible, batched augmentation, per-sample outputs from one pass."""
from __future__ import annotations

import torch

from unlearn_core.training import (augment_crop_flip, per_sample_loss, predict_logits, preset_for, train_model,
                                   with_overrides)


def test_training_is_seeded(digits):
    cfg = with_overrides(preset_for(digits), epochs=2)
    a = train_model("mlp", digits, torch.arange(300), cfg, seed=5)
    b = train_model("mlp", digits, torch.arange(300), cfg, seed=5)
    c = train_model("mlp", digits, torch.arange(300), cfg, seed=6)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, msg=k)
    assert not torch.equal(a.head.weight, c.head.weight)


def test_per_sample_outputs_match_single_forward(digits):
    model = train_model("cnn", digits, torch.arange(200), with_overrides(preset_for(digits), epochs=1), seed=0)
    idx = torch.tensor([5, 0, 17, 1000])
    logits = predict_logits(model, digits, "train", idx)
    one = predict_logits(model, digits, "train", idx[2:3])
    torch.testing.assert_close(logits[2:3], one, atol=1e-5, rtol=1e-5)
    loss = per_sample_loss(model, digits, "train", idx)
    assert loss.shape == (4,) and (loss >= 0).all()


def test_batched_crop_flip_keeps_content():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    out = augment_crop_flip(x, pad=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    # Every output pixel is either padding (0) or a pixel of the same image and channel.
    for b in range(2):
        for c in range(3):
            vals = set(out[b, c].flatten().tolist()) - {0.0}
            assert vals <= set(x[b, c].flatten().tolist())
