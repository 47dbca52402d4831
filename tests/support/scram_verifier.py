#!/usr/bin/env python3
"""Prints the SCRAM-SHA-256 verifier of the password read from stdin (one
line), as psql's \\password computes it client-side (RFC 5802/7677, 4096
iterations, a random 16-byte salt):

  SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>   (Base64)

`ALTER ROLE r PASSWORD 'SCRAM-SHA-256$...'` stores a verifier as given, so
the password itself never reaches the server, nor its log under
log_statement = 'all'. The password comes on stdin, not in argv (which ps
shows). Passwords of the tests are ASCII: SASLprep leaves them unchanged.
"""
import base64
import hashlib
import hmac
import os
import sys


def verifier(password, salt, iterations=4096):
    salted = hashlib.pbkdf2_hmac('sha256', password, salt, iterations)
    client_key = hmac.new(salted, b'Client Key', hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b'Server Key', hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()
    return 'SCRAM-SHA-256$%d:%s$%s:%s' % (iterations, b64(salt), b64(stored_key), b64(server_key))


def main():
    password = sys.stdin.buffer.readline().rstrip(b'\r\n')
    if not password:
        print('scram_verifier.py: no password on stdin', file=sys.stderr)
        return 2
    if any(c >= 0x80 for c in password):
        print('scram_verifier.py: the password is not ASCII (SASLprep is not implemented here)', file=sys.stderr)
        return 2
    print(verifier(password, os.urandom(16)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
