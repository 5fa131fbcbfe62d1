"""Pure numerical kernels (numpy/scipy only: no pandas, no I/O)."""
