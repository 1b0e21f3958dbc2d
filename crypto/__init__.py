"""Kaari end-to-end protocol library.

No I/O and no imports from the rest of the project. The server imports only the
pure verification functions (:mod:`crypto.signing`, :mod:`crypto.identity`,
:mod:`crypto.cross_signing`) and their errors (:mod:`crypto.errors`), which need
pynacl but not vodozemac.
"""
