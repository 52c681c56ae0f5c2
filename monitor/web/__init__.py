"""The reviewers' workspace (``emomon serve``): an ASGI app over :class:`monitor.api.Emomon`.

Needs the ``web`` extra (Starlette, uvicorn, argon2-cffi, itsdangerous, python-multipart).
"""
