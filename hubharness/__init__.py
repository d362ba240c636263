"""hubharness: deploy JupyterHub with PySpark notebooks and prove that it works."""

__version__ = "0.1.0"
