"""Maps infra/prometheus/prometheus.yml onto loopback ports for a test run; everything else
(intervals, jobs, remote_write, rules) stays as committed.

usage: rewrite_prometheus.py IN OUT RULES_DIR TAYLORDASH_PORT[,PORT...] VM_PORT PROM_PORT
"""
import sys

import yaml

src, out, rules_dir, td_ports, vm_port, prom_port = sys.argv[1:7]
cfg = yaml.safe_load(open(src))
jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
assert set(jobs) == {"taylordash", "victoriametrics", "prometheus"}, jobs.keys()
td = jobs["taylordash"]
assert td["dns_sd_configs"][0]["names"] == ["taylordash"], "taylordash not found by DNS"
port = td["dns_sd_configs"][0]["port"]
assert port == 8000, port
del td["dns_sd_configs"]
td["static_configs"] = [{"targets": [f"127.0.0.1:{p}" for p in td_ports.split(",")]}]
jobs["victoriametrics"]["static_configs"] = [{"targets": [f"127.0.0.1:{vm_port}"]}]
jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{prom_port}"]}]
assert cfg["remote_write"][0]["url"] == "http://victoriametrics:8428/api/v1/write"
cfg["remote_write"][0]["url"] = f"http://127.0.0.1:{vm_port}/api/v1/write"
cfg["rule_files"] = [f"{rules_dir}/{r}" for r in cfg["rule_files"]]
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
