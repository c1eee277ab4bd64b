"""nnstudy: run, measure and report neural-network experiments."""
__version__ = "0.1.0"
