"""Streamlit-side helpers of the forgetset dashboard (app.py and app_pages/ use them; unlearn_core never does)."""
