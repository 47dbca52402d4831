#!/usr/bin/env python3
"""Scans a PostgreSQL server log and a plain pg_dump for secrets and full
resident ID numbers (issue 19, "Must show"); used by
tests/integration/secret_scan.sh and demo/demo.sh (DEMO_SCAN=1).

  secret_scan.py needles LABEL=KEYFILE... [--master FILE] [--text LABEL=FILE...]
      prints "label<TAB>needle" lines: of each private key what only the
      private key holds (PEM body lines, the private scalar or exponent in
      hex and Base64), the master key (hex, Base64), and text secrets.
  secret_scan.py preview-keys MASTER_KEY_FILE DUMP
      opens the preview keys' boxes of the dump with the master key and
      prints their needles (hex, Base64, Base64url): the scan then proves the
      key itself appears nowhere.
  secret_scan.py scan LOG DUMP NEEDLES IDS [--outside-app=APP,...] [--allowed-columns=FILE]
      LOG: the server log with log_line_prefix '%m [%p] app=%a user=%u '.
      Exit 1 if any needle is in the log or the dump, if a full ID number
      is in the log (except in the text of the statements the applications
      APP, the approval system or a department's own SQL client, wrote
      themselves: their SQL is outside our control, counted and printed
      apart; errors, parameters and everything else of theirs are scanned),
      or in a dump column not listed in
      --allowed-columns (schema.table.column lines: where a licence needs
      the full number by design).
      Files are looked into too: every ZIP (an OFD licence file) in the log
      or the dump, as bytea hex (\\x504b0304...) or Base64 (UEsDB...), is
      opened and each of its parts scanned for the needles and the full ID
      numbers; a number inside a file is a leak in any column (a clear
      original in elicense.sealed_file, say).
"""
import base64
import binascii
import collections
import io
import re
import struct
import subprocess
import sys
import zipfile
import zlib


def pem_body(path):
    return ''.join(l.strip() for l in open(path) if not l.startswith('-----'))


def openssl_text(path):
    return subprocess.run(['openssl', 'pkey', '-in', path, '-noout', '-text'], check=True,
                          capture_output=True, text=True).stdout


def hex_field(text, start, stops):
    """The hex of a field of `openssl pkey -text` (priv:, privateExponent:)."""
    out, on = [], False
    for line in text.splitlines():
        if line.startswith(start):
            on = True
            continue
        if on and (not line.startswith(' ') or any(line.startswith(s) for s in stops)):
            break
        if on:
            out.append(line.strip().replace(':', ''))
    return ''.join(out)


def b64_alignments(data):
    """Base64 of data at its three alignments, without the edge characters."""
    for pad in range(3):
        b = base64.b64encode(b'\0' * pad + data + b'\0\0').decode()
        yield b[4:-4]


def key_needles(path):
    text = openssl_text(path)
    body = pem_body(path)
    der = base64.b64decode(body)
    if 'privateExponent:' in text:  # RSA: no part of the private key file is public here
        # As an integer: openssl prints a leading 00 byte, and stripping '0'
        # characters instead left an odd number of digits for some keys.
        exponent = int(hex_field(text, 'privateExponent:', ['prime1:']), 16)
        secret = exponent.to_bytes((exponent.bit_length() + 7) // 8, 'big')
        lines = [l.strip() for l in open(path) if not l.startswith('-----') and len(l.strip()) >= 20]
        yield from lines
        yield secret.hex()[-64:]
        yield from (b[:64] for b in b64_alignments(secret))
        return
    # EC (SM2, P-256): the PEM also holds the public key, which the
    # certificate (logged and dumped by design) holds too: only what comes
    # from the scalar d alone, cut where the PEM breaks its lines.
    d = bytes.fromhex(hex_field(text, 'priv:', ['pub:'])[-64:].rjust(64, '0'))
    yield d.hex()
    yield from (b[:32] for b in b64_alignments(d))
    pos = der.find(d)
    assert pos >= 0, 'the private scalar is not in the DER of ' + path
    first, last = -(-8 * pos // 6), 8 * (pos + 32) // 6
    for line_start in range(0, len(body), 64):
        a, z = max(first, line_start), min(last, line_start + 64)
        if z - a >= 12:
            yield body[a:z]


def raw_needles(data):
    yield data.hex()
    yield base64.b64encode(data).decode()
    yield base64.urlsafe_b64encode(data).decode().rstrip('=')
    yield from (b[:24] for b in b64_alignments(data))


def master_key(path):
    data = open(path, 'rb').read()
    text = data.strip()
    if len(text) == 64 and re.fullmatch(rb'[0-9a-fA-F]{64}', text):
        return bytes.fromhex(text.decode())
    return data


def cmd_needles(args):
    for arg in args:
        if arg.startswith('--master='):
            for n in raw_needles(master_key(arg.split('=', 1)[1])):
                print('master key\t' + n)
        elif arg.startswith('--text='):
            label, path = arg.split('=', 1)[1].split('=', 1)
            value = open(path).read().strip()
            print(label + '\t' + value)
        else:
            label, path = arg.split('=', 1)
            for n in key_needles(path):
                print(label + '\t' + n)


def dump_rows(dump):
    """(schema.table, columns, row text) of each COPY row of a plain dump."""
    table, columns = None, []
    for line in open(dump, encoding='utf-8', errors='replace'):
        line = line.rstrip('\n')
        m = re.match(r'^COPY (\S+) \((.*)\) FROM stdin;$', line)
        if m:
            table, columns = m.group(1), [c.strip().strip('"') for c in m.group(2).split(',')]
            continue
        if table and line == '\\.':
            table = None
            continue
        yield table, columns, line


def cmd_preview_keys(master_path, dump):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # python3-cryptography (scripts/install-deps)
    aes = AESGCM(master_key(master_path))
    for table, columns, line in dump_rows(dump):
        if table != 'elicense.preview_key':
            continue
        box = bytes.fromhex(line.split('\t')[columns.index('secret_box')][3:])  # \\x...
        assert box[:4] == b'ESB1', 'preview_key.secret_box is not a box'
        key = aes.decrypt(box[12:24], box[24:], b'elicense preview key')
        for n in raw_needles(key):
            print('preview key\t' + n)


# A ZIP in text, where a run of hex digits or Base64 starts: bytea hex
# (\\x504b0304... as PostgreSQL prints it, in COPY, a literal; a hex
# parameter such as the gateway's decode($2, 'hex')) or Base64 (UEsDB...).
ZIP_HEX = re.compile(r'(?<![0-9a-fA-F])504b0304(?:[0-9a-fA-F]{2})+', re.IGNORECASE)
ZIP_BASE64 = re.compile(r'(?<![A-Za-z0-9+/])UEsDB[A-Za-z0-9+/]{20,}={0,2}')


def zip_parts(data):
    """(name, bytes) of each part of a ZIP. A whole one is read with zipfile;
    a cut one (a log line shortened, a dump cut) part by part from its local
    headers, each inflated as far as it goes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [(n, z.read(n)) for n in z.namelist()]
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError):
        pass
    parts, pos = [], data.find(b'PK\x03\x04')
    while pos >= 0 and pos + 30 <= len(data):
        method, _, size, _, name_len, extra_len = struct.unpack('<H4xIIIHH', data[pos + 8:pos + 30])
        start = pos + 30 + name_len + extra_len
        name = data[pos + 30:pos + 30 + name_len].decode('utf-8', 'replace')
        if method == 8:
            try:
                body = zlib.decompressobj(-15).decompress(data[start:])
            except zlib.error:
                body = b''
        else:
            body = data[start:start + size] if size else data[start:]
        parts.append((name, body))
        pos = data.find(b'PK\x03\x04', start)
    return parts


def files_in(text):
    """The parts of each ZIP found in the text."""
    for m in ZIP_HEX.finditer(text):
        yield zip_parts(binascii.unhexlify(m.group(0)))
    for m in ZIP_BASE64.finditer(text):
        b64 = m.group(0)
        b64 = b64[:len(b64) // 4 * 4]
        try:
            data = base64.b64decode(b64)
        except binascii.Error:
            continue
        yield zip_parts(data)


def file_leaks(where, text, needles, id_pattern):
    """Needles and full ID numbers inside the files of a text; and how many files."""
    leaks, count = [], 0
    for parts in files_in(text):
        count += 1
        for name, body in parts:
            content = body.decode('utf-8', 'replace')
            for label, n in needles:
                if n.lower() in content.lower():
                    leaks.append('%s in %s, inside a file (%s: %s...)' % (label, where, name, n[:6]))
            found = id_pattern.search(content) if id_pattern else None
            if found:
                leaks.append('full ID number %s...%s in %s, inside a file (%s)'
                             % (found.group(0)[:6], found.group(0)[-4:], where, name))
    return leaks, count


def log_entries(log):
    """(app, first line, text) of each log entry (continuation lines joined)."""
    prefix = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] app=(\S*) user=(\S*) ')
    entry = None
    for line in open(log, encoding='utf-8', errors='replace'):
        m = prefix.match(line)
        if m:
            if entry:
                yield entry
            entry = [m.group(1), line, line]
        elif entry:
            entry[2] += line
        else:
            entry = ['', line, line]
    if entry:
        yield entry


def cmd_scan(log, dump, needles_path, ids_path, outside_app, allowed_path):
    needles = [l.rstrip('\n').split('\t', 1) for l in open(needles_path) if '\t' in l]
    needles = [(label, n) for label, n in needles if len(n) >= 12]
    ids = sorted({l.strip() for l in open(ids_path) if l.strip()})
    allowed = {l.strip() for l in open(allowed_path) if l.strip() and not l.startswith('#')} if allowed_path else set()
    outside_apps = set(outside_app.split(',')) if outside_app else set()
    leaks, outside, allowed_seen = [], 0, collections.Counter()
    log_text = open(log, encoding='utf-8', errors='replace').read()
    dump_text = open(dump, encoding='utf-8', errors='replace').read()
    for label, n in needles:
        for name, text in (('server log', log_text), ('pg_dump', dump_text)):
            if n.lower() in text.lower():
                leaks.append('%s in the %s (%s...)' % (label, name, n[:6]))
    id_pattern = re.compile('|'.join(map(re.escape, ids))) if ids else None
    for app, first, text in log_entries(log):
        if not id_pattern or not id_pattern.search(text):
            continue
        if app in outside_apps and (' LOG:  statement: ' in first or ' STATEMENT:  ' in first):
            outside += 1
            continue
        found = id_pattern.search(text).group(0)
        leaks.append('full ID number %s...%s in the server log: %s' % (found[:6], found[-4:], first.strip()[:160]))
    for table, columns, line in dump_rows(dump):
        if not id_pattern or not table or not id_pattern.search(line):
            continue
        for column, value in zip(columns, line.split('\t')):
            if id_pattern.search(value):
                where = '%s.%s' % (table, column)
                if where in allowed:
                    allowed_seen[where] += 1
                else:
                    leaks.append('full ID number in the pg_dump, column %s' % where)
    files = 0
    for app, first, text in log_entries(log):
        found, n = file_leaks('the server log (%s)' % first.strip()[:80], text, needles, id_pattern)
        leaks += found
        files += n
    for table, columns, line in dump_rows(dump):
        if not table or '504b0304' not in line.lower() and 'UEsDB' not in line:
            continue
        for column, value in zip(columns, line.split('\t')):
            found, n = file_leaks('the pg_dump, column %s.%s' % (table, column), value, needles, id_pattern)
            leaks += found
            files += n
    print('looked inside %d files (ZIP/OFD) of the log and the dump' % files)
    for where, n in sorted(allowed_seen.items()):
        print('allowed by design: full ID numbers in %s (%d rows)' % (where, n))
    print('outside our control: %d statements with full ID numbers that %s wrote themselves'
          % (outside, ', '.join(sorted(outside_apps)) or 'no client'))
    for leak in sorted(set(leaks)):
        print('LEAK: ' + leak)
    print('scanned %d needles and %d full ID numbers in %d log and %d dump characters: %d leaks'
          % (len(needles), len(ids), len(log_text), len(dump_text), len(set(leaks))))
    return 1 if leaks else 0


def main(argv):
    if argv[:1] == ['needles']:
        cmd_needles(argv[1:])
        return 0
    if argv[:1] == ['preview-keys'] and len(argv) == 3:
        cmd_preview_keys(argv[1], argv[2])
        return 0
    if argv[:1] == ['scan'] and len(argv) >= 5:
        opts = dict(a.split('=', 1) for a in argv[5:])
        return cmd_scan(argv[1], argv[2], argv[3], argv[4], opts.get('--outside-app'), opts.get('--allowed-columns'))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
