"""Training: data snapshot, image cache, model, loss, loop, metrics, predictions."""
