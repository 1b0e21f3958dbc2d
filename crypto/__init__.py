"""Kaari's device-side cryptography: the Matrix E2E formats on vodozemac (:mod:`crypto.matrix`)
and encrypted attachments (:mod:`crypto.attachments`).

No I/O and no imports from the rest of the project. The server imports only the pure
signature checks of :mod:`crypto.matrix` (signing, canonical JSON, their errors), which
need pynacl but not vodozemac.
"""
