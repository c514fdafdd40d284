"""cnnlens: an in-browser CNN explainer whose network math is pure Python + NumPy.

The engine (``onnx_reader`` → ``graph`` → ``forward``) runs unchanged in CPython and Pyodide.
"""

__version__ = "0.1.0"
