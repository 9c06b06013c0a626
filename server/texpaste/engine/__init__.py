"""The engine: image bytes to bare LaTeX (preprocessing, the model, decoding, post-processing).

Runs in the daemon, in ``texpaste recognize --no-daemon`` and in ``serve --engine in-process``;
torch is imported here and in :mod:`texpaste.model` only. Importing this package loads nothing:
import the module you need (:mod:`texpaste.engine.recognizer` loads torch).
"""
