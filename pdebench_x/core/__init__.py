"""The lowest layer: facts and helpers every other package may use (errors, process groups,
plain config values). Imports nothing from pdebench_x's other packages."""
