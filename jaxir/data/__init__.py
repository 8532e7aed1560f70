"""Data layer: the -R (sentence-retrieval) QA format, TFDS builders, conversion and statistics."""
