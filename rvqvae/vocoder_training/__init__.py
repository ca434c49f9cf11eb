"""``python -m rvqvae.train_vocoder``: the data (a VQ-VAE run's files and split), the Lightning
module and the job that trains a :mod:`rvqvae.vocoder` generator for one VQ-VAE run."""
