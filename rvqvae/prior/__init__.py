"""Autoregressive priors over RVQ code grids: model, data, training, sampling, evaluation."""
