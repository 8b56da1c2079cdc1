"""Evidence: the tamper-evident integrity log (``log``: append; ``checkpoints``: signed
checkpoints; ``audit``: checking chains and exporting evidence bundles)."""
