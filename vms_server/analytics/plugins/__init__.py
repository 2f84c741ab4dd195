"""One module per analytics model."""
