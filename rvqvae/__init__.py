"""rvqvae."""
