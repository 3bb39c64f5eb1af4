"""Data & model: choose the data set / model / training recipe, train or import θ_o, look at the data."""
import numpy as np
import streamlit as st

from dashboard import charts, common, job_widgets, readers, safety, tour, widgets
from dashboard.safety import md_escape
from unlearn_core import results as res
from unlearn_core.errors import ForgetsetError
from unlearn_core.models import MODELS
from unlearn_core.training import TRAIN_PRESETS

common.page_guard()
st.title("Data & model")
tour.tour_banner("data")
s = common.setup()

# ------------------------------------------------------------------ choose the setup
with st.expander("Choose data set, model and training recipe", expanded=st.session_state.get("_setup_open", False)):
    with st.form("setup_form"):
        roots = safety.allowed_roots(common.cache_root())
        data_root = st.text_input("Data root for torchvision data sets", value=s.data_root or "",
                                  placeholder=str(roots[0]),
                                  help="Folder holding CIFAR-10/100, MNIST, Fashion-MNIST, SVHN or CelebA. From the "
                                       "browser only folders under the server's data root can be named "
                                       f"({', '.join(map(str, roots))}; set FORGETSET_DATA_ROOT when starting it).")
        try:
            root_ok = safety.check_server_path(data_root, common.cache_root(), "folder") if data_root.strip() else None
        except ForgetsetError:
            root_ok = None
        opts = res.dataset_options(root_ok)
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
                                  "with train/<class>/*.png and test/<class>/*.png. It must lie under the data "
                                  "root (paths relative to it are fine).")
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
        seed_v = c4.number_input("Seed", min_value=0, max_value=common.MAX_SEED, value=common.seed())
        applied = st.form_submit_button("Use this setup", type="primary")
    if applied:
        new, err_text = None, ""
        try:
            root = safety.check_server_path(data_root, common.cache_root(), "data folder") \
                if data_root.strip() else None
            if ds_choice in ("npz file…", "image folder…"):
                if not path.strip():
                    raise ForgetsetError("Enter the path of the npz file / image folder.")
                name = safety.check_dataset_name(("npz:" if ds_choice == "npz file…" else "folder:") + path.strip(),
                                                 common.cache_root())
            else:
                name = ds_choice
            new = s.replace(dataset=name, model=None if model == "auto" else model, preset=preset,
                            train={"epochs": int(epochs)} if epochs else {}, data_root=root)
        except ForgetsetError as err:
            new, err_text = None, str(err)
        if new is not None:
            old = s
            common.use_setup(new, seed=int(seed_v))
            pipe, err_text = readers.pipeline()
            if pipe is None:
                common.use_setup(old)
                new = None
        if new is None:
            st.session_state["_setup_open"] = True
            widgets.error(f"Cannot use this setup: {err_text}")
        else:
            st.session_state["_setup_open"] = False
            st.rerun()

pipe = readers.require_pipeline()
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
    if run["config"].get("imported_from") or m.get("imported"):
        st.caption("θ_o was imported from a checkpoint.")
else:
    st.info(f"No original model for this setup and seed {seed} yet. Train it (a few seconds for digits) or import "
            "a checkpoint.", icon=":material/info:")

c1, c2 = st.columns(2)
with c1:
    st.markdown(f"**Train** `{pipe.model_name}` with {pipe.train_cfg.epochs} epochs, {pipe.train_cfg.optimizer} lr "
                f"{pipe.train_cfg.lr:g}, batch {pipe.train_cfg.batch_size}")
    if st.button("Train original model" if run is None else "Train again (uses the cache)", type="primary",
                 key="train_btn"):
        jid = job_widgets.submit("train_original", {"setup": job_widgets.setup_config(), "seed": seed})
        if jid:
            st.session_state["train_job"] = jid
            st.rerun()
with c2:
    limit_mb = int(st.get_option("server.maxUploadSize"))
    st.markdown(f"**Import a checkpoint** (.safetensors or a .pt state dict, up to {limit_mb} MB) as θ_o")
    up = st.file_uploader("Checkpoint file", type=["safetensors", "pt", "pth"], key="ckpt_upload",
                          label_visibility="collapsed", help=f"Up to {limit_mb} MB (the server's upload limit). "
                          "Kept in a folder of this browser session only and deleted after "
                          f"{safety.ttl_seconds() / 3600:g} h.")
    ck_path = st.text_input("…or a path on the server (under the data root)", key="ckpt_path",
                            placeholder=str(safety.allowed_roots(common.cache_root())[0] / "model.safetensors"),
                            help="Only files under the server's data root can be named from the browser.")
    confirm = st.checkbox(f"I confirm this checkpoint was trained on {pipe.dataset_name}", key="ckpt_confirm",
                          help="Needed for a checkpoint that does not say which data set it was made for (e.g. a "
                               "plain PyTorch state dict). Checkpoints saved by forgetset carry that themselves.")
    if st.button("Import checkpoint", key="import_btn"):
        target, err_text = None, None
        try:
            if up is not None:
                target = safety.save_upload(common.cache_root(), common.session_id(), up.name, up.getvalue())
            elif ck_path.strip():
                target = safety.check_server_path(ck_path, common.cache_root(), "checkpoint file")
            else:
                err_text = "Upload a checkpoint file or enter its path."
        except ForgetsetError as err:
            err_text = str(err)
        if target is None:
            widgets.error(err_text or "Upload a checkpoint file or enter its path.")
        else:
            cfg = {"setup": job_widgets.setup_config(), "seed": seed, "checkpoint": target}
            if confirm:
                cfg["confirm_dataset"] = pipe.setup.dataset
            jid = job_widgets.submit("train_original", cfg)
            if jid:
                st.session_state["train_job"] = jid
                st.rerun()
job_widgets.watch_job(st.session_state.get("train_job"), "train", "θ_o is ready.")

# ------------------------------------------------------------------ the data
st.subheader(f"The data · {md_escape(pipe.dataset_name)}")
st.caption(f"{md_escape(ds.description or pipe.dataset_name)} · {ds.n_train} training and {ds.x_test.shape[0]} test "
           f"images · shape {tuple(ds.input_shape)} · {ds.num_classes} classes")
y = ds.y_train.cpu().numpy()
per_class = st.slider("Images per class", 1, 12, 6, key="imgs_per_class")
rng = np.random.default_rng(seed)
idx = np.concatenate([rng.choice(np.flatnonzero(y == c), size=min(per_class, int((y == c).sum())), replace=False)
                      for c in range(ds.num_classes) if (y == c).any()])
c1, c2 = st.columns([2, 1])
with c1:
    st.image(readers.mosaic(idx, ncols=per_class * 2 if ds.num_classes > 2 else 12, size=48),
             caption=f"{per_class} random training images per class, each labelled with its sample number and class")
with c2:
    widgets.plot(charts.class_counts(y, ds.classes), key="class_counts")
