"""Maps infra/prometheus/prometheus.yml onto loopback ports for a test run; everything else
(intervals, jobs, remote_write, rules, alerting) stays as committed unless an option says so.

usage: rewrite_prometheus.py IN OUT RULES_DIR TAYLORDASH_PORT[,PORT...] VM_PORT PROM_PORT
           [--alertmanager PORT] [--interval DURATION] [--rules FILE...]
  --alertmanager  send alerts to Alertmanager on that port (without it: no Alertmanager)
  --interval      scrape and evaluation interval (a fast test; default: as committed)
  --rules         these rule files instead of the committed ones
"""
import argparse

import yaml

ap = argparse.ArgumentParser()
for name in ("src", "out", "rules_dir", "td_ports", "vm_port", "prom_port"):
    ap.add_argument(name)
ap.add_argument("--alertmanager")
ap.add_argument("--interval")
ap.add_argument("--rules", nargs="+")
a = ap.parse_args()

cfg = yaml.safe_load(open(a.src))
jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
assert set(jobs) == {"taylordash", "victoriametrics", "prometheus"}, jobs.keys()
td = jobs["taylordash"]
assert td["dns_sd_configs"][0]["names"] == ["taylordash"], "taylordash not found by DNS"
port = td["dns_sd_configs"][0]["port"]
assert port == 8000, port
del td["dns_sd_configs"]
td["static_configs"] = [{"targets": [f"127.0.0.1:{p}" for p in a.td_ports.split(",")]}]
jobs["victoriametrics"]["static_configs"] = [{"targets": [f"127.0.0.1:{a.vm_port}"]}]
jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{a.prom_port}"]}]
assert cfg["remote_write"][0]["url"] == "http://victoriametrics:8428/api/v1/write"
cfg["remote_write"][0]["url"] = f"http://127.0.0.1:{a.vm_port}/api/v1/write"
cfg["rule_files"] = a.rules or [f"{a.rules_dir}/{r}" for r in cfg["rule_files"]]
ams = cfg["alerting"]["alertmanagers"]
assert ams == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}], ams
if a.alertmanager:
    ams[0]["static_configs"][0]["targets"] = [f"127.0.0.1:{a.alertmanager}"]
else:
    del cfg["alerting"]
if a.interval:
    g = cfg["global"]
    g["scrape_interval"] = g["evaluation_interval"] = g["scrape_timeout"] = a.interval
yaml.safe_dump(cfg, open(a.out, "w"), sort_keys=False)
