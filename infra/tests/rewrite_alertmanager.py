"""Maps infra/alertmanager/alertmanager.yml onto loopback for a test run: the receiver's URL to
TaylorDash's port, the token's file to a local one, and the grouping waits to seconds so the
test is fast. Routes, receivers, webhook options and inhibit rules stay as committed.

usage: rewrite_alertmanager.py IN OUT TAYLORDASH_PORT KEY_FILE
"""
import sys

import yaml

src, out, td_port, key_file = sys.argv[1:5]
cfg = yaml.safe_load(open(src))
route = cfg["route"]
assert route["receiver"] == "taylordash", route
route.update(group_wait="1s", group_interval="1s", repeat_interval="1h")
(receiver,) = [r for r in cfg["receivers"] if r["name"] == "taylordash"]
(hook,) = receiver["webhook_configs"]
assert hook["url"] == "http://taylordash:8000/api/v1/alerts/alertmanager", hook["url"]
assert hook["send_resolved"] is True, "resolved alerts are not sent"
auth = hook["http_config"]["authorization"]
assert auth == {"type": "Bearer", "credentials_file": "/run/secrets/alertmanager_token"}, auth
hook["url"] = f"http://127.0.0.1:{td_port}/api/v1/alerts/alertmanager"
auth["credentials_file"] = key_file
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
