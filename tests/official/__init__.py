"""Writers of checkpoints in the exact official layouts (wrapper keys, key names, shapes),
filled with random numbers. One module per official file."""
