"""View-models: what each view of the page shows, computed as plain data.

Nothing here touches the browser, so every view is testable in CPython; the page
(`cnnlens.page`) hands these dictionaries and byte buffers to the JS renderers.
"""
