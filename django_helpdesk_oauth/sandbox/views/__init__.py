"""HTTP views of the sandbox providers, one module per kind of endpoint."""
