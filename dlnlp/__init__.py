"""Helpers shared by the tutorials of "Deep Learning for NLP with PyTorch"."""
