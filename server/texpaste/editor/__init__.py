"""The language server editors start (``texpaste serve``) and the editor-facing text.

Never imports torch: recognition goes to a :mod:`texpaste.service.backend`.
"""
