"""An entry point whose module fails to import."""
raise ImportError("tinyplug.broken needs a library that is not installed")
