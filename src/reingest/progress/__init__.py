"""progress component: base.py is the interface, one module per backend."""
