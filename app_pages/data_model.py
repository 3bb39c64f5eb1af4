"""Data & model: choose the data set / model / training recipe, train or import θ_o, look at the data."""
from pathlib import Path

import numpy as np
import streamlit as st

from dashboard import charts, common
from unlearn_core import results as res
from unlearn_core.errors import ForgetsetError
from unlearn_core.models import MODELS
from unlearn_core.training import TRAIN_PRESETS

common.page_guard()
st.title("Data & model")
common.tour_banner("data")
s = common.setup()

# ------------------------------------------------------------------ choose the setup
with st.expander("Choose data set, model and training recipe", expanded=st.session_state.get("_setup_open", False)):
    with st.form("setup_form"):
        data_root = st.text_input("Data root for torchvision data sets", value=s.data_root or "",
                                  placeholder="./data (or $FORGETSET_DATA_ROOT)",
                                  help="Folder holding CIFAR-10/100, MNIST, Fashion-MNIST, SVHN or CelebA.")
        opts = res.dataset_options(data_root or None)
        available = [o["name"] for o in opts if o["available"]]
        choices = available + ["npz file…", "image folder…"]
        cur = s.dataset
        idx = choices.index(cur) if cur in choices else (choices.index("npz file…") if cur.startswith("npz:")
                                                         else choices.index("image folder…") if cur.startswith("folder:")
                                                         else 0)
        c1, c2 = st.columns(2)
        ds_choice = c1.selectbox("Data set", choices, index=idx,
                                 help="digits (default) ships with scikit-learn; others are listed when their files "
                                      "are found under the data root.")
        path = c2.text_input("Path (for npz file / image folder)",
                             value=cur.split(":", 1)[1] if cur.startswith(("npz:", "folder:")) else "",
                             help="npz with x_train (NHWC uint8), y_train, x_test, y_test[, classes]; or a folder "
                                  "with train/<class>/*.png and test/<class>/*.png.")
        missing = [o for o in opts if not o["available"]]
        if missing:
            st.caption("Not available here: " + ", ".join(f"{o['name']} ({o['note']})" for o in missing)
                       + ". Put the files under the data root, or fetch them with "
                         "`python -m unlearn_core train --dataset NAME --download`.")
        c1, c2, c3, c4 = st.columns(4)
        models = ["auto"] + list(MODELS)
        model = c1.selectbox("Model", models, index=models.index(s.model) if s.model in models else 0,
                             help="auto = MLP for 8×8 digits, small CNN for 28×28 gray, ResNet-18 otherwise.")
        presets = ["auto"] + list(TRAIN_PRESETS)
        preset = c2.selectbox("Training preset", presets,
                              index=presets.index(s.preset) if s.preset in presets else 0,
                              help=" · ".join(f"{k}: {v.epochs} ep, lr {v.lr}, bs {v.batch_size}"
                                              for k, v in TRAIN_PRESETS.items()))
        epochs = c3.number_input("Epochs (0 = preset)", min_value=0, max_value=1000,
                                 value=int(s.train.get("epochs") or 0))
        seed_v = c4.number_input("Seed", min_value=0, max_value=10_000, value=common.seed())
        applied = st.form_submit_button("Use this setup", type="primary")
    if applied:
        if data_root.strip() and not Path(data_root.strip()).is_dir():
            st.error(f"Data root '{data_root.strip()}' does not exist (or is not a folder). Create it and put the "
                     f"data set there, or leave the field empty for ./data.", icon=":material/error:")
            st.stop()
        if ds_choice in ("npz file…", "image folder…"):
            if not path.strip():
                st.error("Enter the path of the npz file / image folder.")
                st.stop()
            name = ("npz:" if ds_choice == "npz file…" else "folder:") + path.strip()
        else:
            name = ds_choice
        try:
            new = s.replace(dataset=name, model=None if model == "auto" else model, preset=preset,
                            train={"epochs": int(epochs)} if epochs else {}, data_root=data_root.strip() or None)
        except ForgetsetError as err:
            new, err_text = None, str(err)
        if new is not None:
            old = s
            common.use_setup(new, seed=int(seed_v))
            pipe, err_text = common.pipeline()
            if pipe is None:
                common.use_setup(old)
                new = None
        if new is None:
            st.session_state["_setup_open"] = True
            st.error(f"Cannot use this setup: {err_text}", icon=":material/error:")
        else:
            st.session_state["_setup_open"] = False
            st.rerun()

pipe = common.require_pipeline()
seed = common.seed()
ds = pipe.ds

# ------------------------------------------------------------------ the original model
st.subheader("Original model θ_o")
run = pipe.find_original(seed)
if run is not None:
    m = run.get("metrics") or {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Train accuracy", f"{m.get('train_acc', float('nan')):.2f}%")
    c2.metric("Test accuracy", f"{m.get('test_acc', float('nan')):.2f}%")
    c3.metric("Training time", f"{(run.get('timings') or {}).get('train_s', float('nan')):.1f}s"
              if (run.get("timings") or {}).get("train_s") else "imported")
    c4.metric("Seed", seed)
    with st.expander("Exact configuration and checkpoint"):
        st.json(run["config"], expanded=False)
        st.code(str(pipe.store.root / run["artifacts"]["main"]["file"]), language=None)
else:
    st.info(f"No original model for this setup and seed {seed} yet. Train it (a few seconds for digits) or import "
            "a checkpoint.", icon=":material/info:")

c1, c2 = st.columns(2)
with c1:
    st.markdown(f"**Train** `{pipe.model_name}` with {pipe.train_cfg.epochs} epochs, {pipe.train_cfg.optimizer} lr "
                f"{pipe.train_cfg.lr:g}, batch {pipe.train_cfg.batch_size}")
    if st.button("Train original model" if run is None else "Train again (uses the cache)", type="primary",
                 key="train_btn"):
        jid = common.submit("train_original", {"setup": common.setup_config(), "seed": seed})
        if jid:
            st.session_state["train_job"] = jid
            st.rerun()
with c2:
    st.markdown("**Import a checkpoint** (.safetensors or a .pt state dict) as θ_o")
    up = st.file_uploader("Checkpoint file", type=["safetensors", "pt", "pth"], key="ckpt_upload",
                          label_visibility="collapsed")
    ck_path = st.text_input("…or a path on the server", key="ckpt_path", placeholder="/path/to/model.safetensors")
    if st.button("Import checkpoint", key="import_btn"):
        target = None
        if up is not None:
            dest = Path(pipe.store.root) / "uploads" / Path(up.name).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(up.getvalue())
            target = str(dest)
        elif ck_path.strip():
            target = ck_path.strip()
        if target is None:
            st.error("Upload a checkpoint file or enter its path.")
        else:
            jid = common.submit("train_original", {"setup": common.setup_config(), "seed": seed,
                                                   "checkpoint": target})
            if jid:
                st.session_state["train_job"] = jid
                st.rerun()
common.watch_job(st.session_state.get("train_job"), "train", "θ_o is ready.")

# ------------------------------------------------------------------ the data
st.subheader(f"The data · {pipe.dataset_name}")
st.caption(f"{ds.description or pipe.dataset_name} · {ds.n_train} training and {ds.x_test.shape[0]} test images "
           f"· shape {tuple(ds.input_shape)} · {ds.num_classes} classes")
y = ds.y_train.cpu().numpy()
per_class = st.slider("Images per class", 1, 12, 6, key="imgs_per_class")
rng = np.random.default_rng(seed)
idx = np.concatenate([rng.choice(np.flatnonzero(y == c), size=min(per_class, int((y == c).sum())), replace=False)
                      for c in range(ds.num_classes) if (y == c).any()])
c1, c2 = st.columns([2, 1])
with c1:
    st.image(common.mosaic(idx, ncols=per_class * 2 if ds.num_classes > 2 else 12, size=48),
             caption=f"{per_class} random training images per class (rows ordered by class: "
                     f"{', '.join(ds.classes[:10])}{'…' if ds.num_classes > 10 else ''})")
with c2:
    st.plotly_chart(charts.class_counts(y, ds.classes), key="class_counts")
