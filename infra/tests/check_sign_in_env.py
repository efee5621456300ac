"""The sign-in variables of docs/operations.md, README.md and .env.example reach the taylordash
container through docker-compose.yml.

usage: check_sign_in_env.py values
         prints .env lines giving every known sign-in variable a test value
       check_sign_in_env.py check RENDERED.yml SECRETS_DIR VAR...
         checks that each documented VAR is in the rendered taylordash environment with its test
         value (a secret: as VAR_FILE naming a mounted secret); prints the environment with
         /run/secrets/ mapped to SECRETS_DIR, for the binary's `config check`
"""
import sys

import yaml

# A test value for every sign-in variable (valid, so the binary accepts them together). A new
# documented variable without one here fails the check: add it to docker-compose.yml too.
VALUES = {
    "TAYLORDASH_PUBLIC_URL": "https://dash.example.net",
    "TAYLORDASH_TRUSTED_PROXIES": "172.30.250.2",
    "TAYLORDASH_BREAK_GLASS_USERS": "breakglass",
    "TAYLORDASH_ADMIN_GROUPS": "lab-admins",
    "TAYLORDASH_EDITOR_GROUPS": "lab-editors",
    "TAYLORDASH_VIEWER_GROUPS": "lab-family",
    "TAYLORDASH_SSO_DEFAULT_ROLE": "editor",
    "TAYLORDASH_SSO_CREATE_USERS": "false",
    "TAYLORDASH_SSO_LINK_BY_USERNAME": "false",
    "TAYLORDASH_FORWARD_AUTH": "true",
    "TAYLORDASH_FORWARD_AUTH_USER_HEADER": "X-Test-User",
    "TAYLORDASH_FORWARD_AUTH_GROUPS_HEADER": "X-Test-Groups",
    "TAYLORDASH_FORWARD_AUTH_EMAIL_HEADER": "X-Test-Email",
    "TAYLORDASH_FORWARD_AUTH_LOGOUT_URL": "https://auth.example.net/logout",
    "TAYLORDASH_OIDC_ISSUER": "https://auth.example.net",
    "TAYLORDASH_OIDC_CLIENT_ID": "taylordash-test",
    "TAYLORDASH_OIDC_NAME": "TestIdP",
    "TAYLORDASH_OIDC_SCOPES": "openid,profile,groups",
    "TAYLORDASH_OIDC_USERNAME_CLAIM": "nickname",
    "TAYLORDASH_OIDC_GROUPS_CLAIM": "roles",
    "TAYLORDASH_OIDC_REDIRECT_URL": "https://dash.example.net/api/v1/auth/oidc/callback",
    "TAYLORDASH_OIDC_POST_LOGOUT_REDIRECT_URL": "https://dash.example.net/login",
}
# Secrets reach the container as files only (VAR_FILE from the secrets folder).
SECRETS = {"TAYLORDASH_OIDC_CLIENT_SECRET": "oidc_client_secret"}

if sys.argv[1] == "values":
    for k, v in VALUES.items():
        print(f"{k}={v}")
    sys.exit(0)

rendered, secrets_dir, documented = sys.argv[2], sys.argv[3], sys.argv[4:]
svc = yaml.safe_load(open(rendered))["services"]["taylordash"]
env = {k: "" if v is None else str(v) for k, v in (svc.get("environment") or {}).items()}
mounted = {x if isinstance(x, str) else x.get("source") for x in svc.get("secrets") or []}
errors = []
for var in documented:
    base = var[: -len("_FILE")] if var.endswith("_FILE") else var
    if base in SECRETS:
        want = f"/run/secrets/{SECRETS[base]}"
        if env.get(f"{base}_FILE") != want or SECRETS[base] not in mounted:
            errors.append(f"{base}_FILE is not {want} from a mounted secret")
        if base in env:
            errors.append(f"{base} is in the environment: secrets go in files")
    elif var not in VALUES:
        errors.append(f"{var} is documented but has no test value here (nor, likely, compose)")
    elif env.get(var) != VALUES[var]:
        errors.append(f"{var}={VALUES[var]} in .env does not reach taylordash (got {env.get(var)!r})")
for e in errors:
    print(e, file=sys.stderr)
if errors:
    sys.exit(1)
for k, v in env.items():
    print(f"{k}={v.replace('/run/secrets/', secrets_dir + '/')}")
