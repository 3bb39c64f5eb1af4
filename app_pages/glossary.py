"""Glossary: every term the pages use, with its one-line definition, its formula and the paper it comes from."""
import streamlit as st

from dashboard import common, glossary

common.page_guard()
st.title("Glossary")
st.caption("Every term the pages use. The same one-line definitions appear when you hover a column title or the "
           "ⓘ next to a control. D = training set, D_f = forget set, D_r = D \\ D_f (retain set), D_t = test set, "
           "θ_u = the unlearned model, p_y = the model's probability of the true label, φ = θ_o's penultimate "
           "features.")
for term, entry in glossary.TERMS.items():
    with st.container(border=True):
        st.markdown(f"#### {term}")
        st.markdown(entry.line)
        st.latex(entry.formula)
        others = [a for a in entry.aliases if not any(ch in a for ch in "_@")]
        st.caption("Paper: " + glossary.PAPERS[entry.paper]
                   + (" · also shown as: " + ", ".join(others) if others else ""))
