"""Workers shipped with stask (registered through stask's own ``stask.workers`` entry points)."""
