"""Small shared kernel: the error tree and the OCI grammar. No models, no business rules."""
