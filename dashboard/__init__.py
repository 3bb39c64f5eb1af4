"""Streamlit-side helpers of the forgetset dashboard (app.py and pages/ use them; unlearn_core never does)."""
