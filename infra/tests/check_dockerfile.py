"""Static checks of the Dockerfile and .dockerignore (there is no Docker engine to build it here).

usage: check_dockerfile.py ROOT STRIPPED_BINARY_BYTES
"""
import os
import re
import sys

root, binary_bytes = sys.argv[1], int(sys.argv[2])
text = open(os.path.join(root, "Dockerfile")).read()
# Join continuation lines, drop comments.
logical = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
lines = [l.strip() for l in logical.splitlines() if l.strip()]
errors = []
stages = [l for l in lines if l.upper().startswith("FROM ")]
final = stages[-1] if stages else ""
final_idx = lines.index(final)
final_lines = lines[final_idx:]

if len(stages) < 2:
    errors.append("not a multi-stage build")
if "distroless/cc" not in final and "slim" not in final:
    errors.append(f"runtime base is not minimal: {final}")
if not any(re.search(r"cargo build --release --locked -p taylordash", l) for l in lines):
    errors.append("binary not built with `cargo build --release --locked` (CI's command)")
user = [l for l in final_lines if l.upper().startswith("USER ")]
if not user or user[-1].split()[1].split(":")[0] in ("0", "root"):
    errors.append("runtime does not switch to a non-root user")
hc = [l for l in final_lines if l.upper().startswith("HEALTHCHECK ")]
if not hc or "taylordash\", \"healthcheck" not in hc[-1]:
    errors.append("HEALTHCHECK does not run `taylordash healthcheck`")
if re.search(r"\b(curl|wget)\b", "\n".join(final_lines)):
    errors.append("runtime stage uses curl/wget")
labels = " ".join(l for l in final_lines if l.upper().startswith("LABEL "))
for key in ("title", "version", "revision", "source", "licenses", "created"):
    if f"org.opencontainers.image.{key}" not in labels:
        errors.append(f"OCI label org.opencontainers.image.{key} missing")
if "TAYLORDASH_BIND=0.0.0.0:8000" not in logical:
    errors.append("the server does not listen on all interfaces in the container")
# Every COPY source of the build context must exist and not be excluded by .dockerignore.
ignore = open(os.path.join(root, ".dockerignore")).read().split()
for l in lines:
    if l.upper().startswith("COPY ") and "--from" not in l:
        for src in l.split()[1:-1]:
            if src.startswith("--"):
                continue
            if not os.path.exists(os.path.join(root, src)):
                errors.append(f"COPY source {src} does not exist")
            if f"!{src}" not in ignore and f"!{src.rstrip('/')}/" not in ignore and f"!{src}/" not in ignore:
                errors.append(f"COPY source {src} is excluded by .dockerignore")
if "target" not in open(os.path.join(root, ".dockerignore")).read() and "*" not in ignore:
    errors.append(".dockerignore does not exclude target/")

# Size: distroless/cc-debian12 is about 24 MB unpacked; the target is 40 MB in all.
BASE_MB = 24
total = BASE_MB + binary_bytes / 1e6
print(f"image size estimate: {BASE_MB} MB base + {binary_bytes / 1e6:.1f} MB binary = {total:.1f} MB")
if total > 40:
    errors.append(f"image would be about {total:.1f} MB, over the 40 MB target")
for e in errors:
    print("FAIL:", e)
print(f"Dockerfile: {len(errors)} problem(s), {len(stages)} stages, runtime {final.split()[1]}")
sys.exit(1 if errors else 0)
