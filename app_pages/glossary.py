"""Glossary: every term the pages use, with its one-line definition, its formula and the paper it comes from."""
import streamlit as st

from dashboard import common, glossary

common.page_guard()
st.title("Glossary")
st.caption("Every term the pages use. The same one-line definitions appear when you hover a column title or the "
           "ⓘ next to a control. D = training set, D_f = forget set, D_r = D \\ D_f (retain set), D_t = test set, "
           "θ_u = the unlearned model, p_y = the model's probability of the true label, φ = θ_o's penultimate "
           "features.")
for term, (line, formula, paper) in glossary.GLOSSARY_ENTRIES.items():
    with st.container(border=True):
        st.markdown(f"#### {term}")
        st.markdown(line)
        st.latex(formula)
        st.caption("Paper: " + glossary.PAPERS[paper])
