"""Kaari's reference device client, used by the tests, the benches and ``kaari client``.

The Matrix device (:mod:`client.matrix`: keys, Olm and Megolm on vodozemac, sync, rooms,
verification, key backup) and its encrypted local store (:mod:`client.keystore`), the
server's Kaari routes over HTTP (:mod:`client.api`), homework (:mod:`client.homework`),
calls (:mod:`client.call`, :mod:`client.rtc`) and the terminal commands (:mod:`client.cli`).
"""
