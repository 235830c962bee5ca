"""Training, evaluation and export entry scripts, with the helpers they share beside them."""
