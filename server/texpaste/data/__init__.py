"""Training data: formula pools, rendering to images, augmentation and shard files."""
