"""Training and evaluation of texpaste's own models."""
