"""Worker plugins: the base class, discovery, the resolution cache and the built-in workers."""
