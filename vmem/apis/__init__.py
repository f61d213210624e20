"""Using built models from Python: building one from a config, feeding it frames, timing it.

Submodules are imported on demand (``from vmem.apis.benchmark import ...``) so that
importing the package stays cheap.
"""
