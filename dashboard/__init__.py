"""The Streamlit app's own code: page glue, Altair charts and the Train form.

Pages (``pages/``) import from here and from ``cre_core``; ``cre_core`` never imports this
package, streamlit or altair, so everything the app computes is also usable from the CLI.
"""
